// onnxruntime's QuantizeLinear + the fused clamp on 8 lanes, for the AVX2 ort_float kernels (include only from
// *_avx2.cc files): v = y / ys (a true division, as quantize_one in ops/quantize.h), clamped to
// [qmin - zy, qmax - zy] (NaN to the lower end, as MAXPS; one clamp is the same as quantize_one's type-range
// clamp followed by [qmin, qmax]: rounding is monotone and the bounds are integers), cvtps2dq (half to even),
// + zy. And 8 results (in the output type's range) stored as bytes.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace lowp {
namespace ops {

struct OrtQuantizeAvx2 {
  __m256 ys, flo, fhi;
  __m256i zy;
  OrtQuantizeAvx2(float y_scale, int32_t y_zp, int32_t qmin, int32_t qmax)
      : ys(_mm256_set1_ps(y_scale)),
        flo(_mm256_set1_ps(static_cast<float>(qmin - y_zp))),
        fhi(_mm256_set1_ps(static_cast<float>(qmax - y_zp))),
        zy(_mm256_set1_epi32(y_zp)) {}
  __m256i operator()(__m256 y) const {
    const __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_div_ps(y, ys), flo), fhi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(v), zy);
  }
};

// q within the int8 (s8) or uint8 range: the saturating packs are exact.
inline void ort_store8_avx2(uint8_t* p, __m256i q, bool s8) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), s8 ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w));
}

}  // namespace ops
}  // namespace lowp
