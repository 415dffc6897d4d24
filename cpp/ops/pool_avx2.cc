// AVX2 channels-last max pool (x and y channel stride 1): for each output pixel the in-bounds tap
// offsets are listed once, then 32 channels at a time are reduced with vpmaxub / vpmaxsb in a
// register (one load per tap, one store). The channel tail (< 32) uses the scalar loop. Exact:
// a max of the same integers as the reference (pool.cc, max_pool_t).
#include <immintrin.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "ops/pool.h"

namespace lowp {
namespace ops {

namespace {

template <typename T>
void max_pool_channels_last_avx2_t(const Pool2D& g, const T* x, T* y) {
  constexpr bool kSigned = std::numeric_limits<T>::is_signed;
  const int64_t C = g.C;
  const __m256i lowest = _mm256_set1_epi8(static_cast<char>(std::numeric_limits<T>::lowest()));
  std::vector<int64_t> offs(static_cast<size_t>(g.kh * g.kw));
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t h0 = oh * g.sh - g.pad_top, w0 = ow * g.sw - g.pad_left;
        size_t nt = 0;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t h = h0 + i * g.dh;
          if (h < 0 || h >= g.H) continue;
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t w = w0 + j * g.dw;
            if (w < 0 || w >= g.W) continue;
            offs[nt++] = n * g.xs[0] + h * g.xs[2] + w * g.xs[3];
          }
        }
        T* yp = y + n * g.ys[0] + oh * g.ys[2] + ow * g.ys[3];
        int64_t c = 0;
        for (; c + 32 <= C; c += 32) {
          __m256i m = lowest;
          for (size_t t = 0; t < nt; ++t) {
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + offs[t] + c));
            m = kSigned ? _mm256_max_epi8(m, v) : _mm256_max_epu8(m, v);
          }
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(yp + c), m);
        }
        for (; c < C; ++c) {
          T m = std::numeric_limits<T>::lowest();
          for (size_t t = 0; t < nt; ++t) m = x[offs[t] + c] > m ? x[offs[t] + c] : m;
          yp[c] = m;
        }
      }
}

}  // namespace

void max_pool_channels_last_avx2(const Pool2D& g, const void* x, void* y, DType t) {
  if (t == DType::U8)
    max_pool_channels_last_avx2_t(g, static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y));
  else
    max_pool_channels_last_avx2_t(g, static_cast<const int8_t*>(x), static_cast<int8_t*>(y));
}

}  // namespace ops
}  // namespace lowp
