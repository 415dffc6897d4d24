// The direct float32 conv kernels' input side (ort_float_conv_avx2.cc, ort_float_conv_avx512.cc; include only from
// such *_avx2 / *_avx512 files): the padded rows they read, and their walk over a chunk of output pixels. It has internal linkage (an unnamed
// namespace): each ISA file compiles its own copy with its own flags, so the linker can never hand the AVX2 file a
// copy built with AVX-512 instructions.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "ops/ort_float_conv.h"

namespace lowp {
namespace ops {
namespace {

// Padded input rows [r0, r1) (over all images, Hp = H + pt + pb each) into xpad from row row0 on, Wp x C floats a
// row: the padding zero, the rest dequantized by dq(src, len, dst).
template <typename Dq>
void dequant_padded_rows(const OrtFloatConv& p, const void* x, int64_t r0, int64_t r1, float* xpad, int64_t row0,
                         Dq dq) {
  const int64_t C = p.C, Hp = p.H + p.pt + p.pb, Wp = p.W + p.pl + p.pr;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t n = r / Hp, ih = r % Hp - p.pt;
    float* dst = xpad + (r - row0) * Wp * C;
    if (ih < 0 || ih >= p.H) {
      std::fill(dst, dst + Wp * C, 0.f);
      continue;
    }
    std::fill(dst, dst + p.pl * C, 0.f);
    std::fill(dst + (p.pl + p.W) * C, dst + Wp * C, 0.f);
    dq(static_cast<const uint8_t*>(x) + (n * p.H + ih) * p.W * C, p.W * C, dst + p.pl * C);
  }
}

// Output pixels in order from p0 (image n, row oh, column ow), a chunk at a time.
struct DirectPixelWalk {
  int64_t n, oh, ow;  // the next output pixel
  DirectPixelWalk(const OrtFloatConv& p, int64_t p0) {
    const int64_t opix = static_cast<int64_t>(p.OH) * p.OW;
    n = p0 / opix;
    oh = (p0 % opix) / p.OW;
    ow = (p0 % opix) % p.OW;
  }
  // px[i] (i < np): pixel i's top-left tap, in xpad (padded rows from row0: Hp x Wp x C floats per image) or, for a
  // pointwise conv without xpad, its C input values dequantized into xc + i C by dq(src, len, dst) (the rest of a
  // row at stride 1 as one run). px[np .. kChunk): the last pixel again (its results are dropped).
  template <int kChunk, typename Dq>
  void next(const OrtFloatConv& p, const float* xpad, const void* x, float* xc, int64_t row0, int np, const float** px,
            Dq dq) {
    const int64_t C = p.C, Hp = p.H + p.pt + p.pb, Wp = p.W + p.pl + p.pr, sh = p.sh, sw = p.sw;
    for (int i = 0; i < np; ++i) {
      if (xc) {
        const uint8_t* src = static_cast<const uint8_t*>(x) + ((n * p.H + oh * sh) * p.W + ow * sw) * C;
        if (sw == 1 && ow + (np - i) <= p.OW) {  // the rest of the chunk in this output row: one contiguous run
          const int run = np - i;
          dq(src, run * C, xc + i * C);
          for (int j = 0; j < run; ++j) px[i + j] = xc + (i + j) * C;
          ow += run - 1;
          i += run - 1;
        } else {
          dq(src, C, xc + i * C);
          px[i] = xc + i * C;
        }
      } else {
        px[i] = xpad + ((n * Hp + oh * sh - row0) * Wp + ow * sw) * C;
      }
      if (++ow == p.OW) {
        ow = 0;
        if (++oh == p.OH) {
          oh = 0;
          ++n;
        }
      }
    }
    for (int i = np; i < kChunk; ++i) px[i] = px[np - 1];
  }
};

}  // namespace
}  // namespace ops
}  // namespace lowp
