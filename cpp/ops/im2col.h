// im2col for NHWC convolution (internal to ops/conv.cc).
#pragma once
#include <cstdint>

#include "ops/conv.h"

namespace lowp {
// Writes rows [m0, m0+mc) of the im2col matrix of image-batch x (N x H x W x Cin, 1-byte
// elements) for channel slice [c0, c0+Cg): row m = (n, oh, ow), column k = (kh, kw, c).
// Out-of-image taps are filled with zx (so padding is exact). dst row stride = ld bytes.
void im2col_nhwc(const uint8_t* x, const ConvGeometry& g, int Cin, int c0, int Cg, int KH, int KW, uint8_t zx,
                 int64_t m0, int64_t mc, uint8_t* dst, int64_t ld);
}  // namespace lowp
