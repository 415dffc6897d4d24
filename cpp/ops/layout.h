// Layout changes at the graph boundary: NCHW float32 -> NHWC 8-bit in one call.
#pragma once
#include <cstdint>

#include "lowp/types.h"

namespace lowp {
namespace ops {

// y[n, p, c] = QuantizeLinear(x[n, c, p]) for x contiguous (N, C, HW) float32 and y contiguous
// (N, HW, C) of `yt` (U8 or S8); per-tensor scale / zero point, onnxruntime's arithmetic
// (quantize_linear of the same values, bit for bit). Each channel's run of pixels is quantized by
// the dispatched quantize_linear kernel into a small buffer, then interleaved. Blocks of pixels
// are split over up to num_threads threads of the pool (<= 0: all) when the tensor is large.
void quantize_nchw_to_nhwc(const float* x, void* y, DType yt, int64_t N, int64_t C, int64_t HW, float scale,
                           int32_t zp, int num_threads = 1);

}  // namespace ops
}  // namespace lowp
