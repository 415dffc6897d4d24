// AVX2 QuantizeLinear / DequantizeLinear rows: the same float32 operations as quantize_one /
// dequantize_t in the scalar reference (true division; MAXPS/MINPS clamp with NaN -> lower
// bound; cvtps2dq half to even), tested equal to it.
#include <immintrin.h>

#include <type_traits>

#include "ops/quantize.h"

namespace lowp {
namespace ops {

namespace {
template <typename T>
void quantize_row(const float* x, T* y, int64_t n, float scale, int32_t zp, int32_t lo, int32_t hi) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256 fl = _mm256_set1_ps(static_cast<float>(lo - zp)), fh = _mm256_set1_ps(static_cast<float>(hi - zp));
  const __m256i z = _mm256_set1_epi32(zp);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), s);
    v = _mm256_max_ps(v, fl);  // (v > fl) ? v : fl  -- NaN -> fl
    v = _mm256_min_ps(v, fh);  // (v < fh) ? v : fh
    const __m256i r = _mm256_add_epi32(_mm256_cvtps_epi32(v), z);
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    if (std::is_same<T, int16_t>::value) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), w);
    } else {
      const __m128i b = std::is_same<T, uint8_t>::value ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), b);
    }
  }
  for (; i < n; ++i) y[i] = static_cast<T>(quantize_one(x[i], scale, zp, lo, hi));
}
}  // namespace

void quantize_row_avx2(const float* x, void* y, DType t, int64_t n, float scale, int32_t zp) {
  switch (t) {
    case DType::U8: return quantize_row(x, static_cast<uint8_t*>(y), n, scale, zp, 0, 255);
    case DType::S8: return quantize_row(x, static_cast<int8_t*>(y), n, scale, zp, -128, 127);
    case DType::S16: return quantize_row(x, static_cast<int16_t*>(y), n, scale, zp, -32768, 32767);
    default: break;
  }
}

}  // namespace ops
}  // namespace lowp
