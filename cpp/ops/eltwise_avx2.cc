// AVX2 row kernels for the half_even (onnxruntime) elementwise add / mul: the algorithm of
// eltwise_rows_simd.h on 8 float32 lanes (tested bit-exact against the scalar reference in
// eltwise.h); FMA contraction is disabled so a*b+c stays two roundings.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <immintrin.h>

#include <type_traits>

#include "ops/eltwise_rows_simd.h"

namespace lowp {
namespace ops {

namespace {

struct Avx2 {
  using F = __m256;
  using I = __m256i;
  static constexpr int kN = 8;
  static F set1(float v) { return _mm256_set1_ps(v); }
  static I set1i(int32_t v) { return _mm256_set1_epi32(v); }
  template <typename T>
  static I load_epi32(const T* p) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return std::is_same<T, uint8_t>::value ? _mm256_cvtepu8_epi32(b) : _mm256_cvtepi8_epi32(b);
  }
  template <typename T>
  static F load_ps(const T* p) { return _mm256_cvtepi32_ps(load_epi32(p)); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static I sub_i(I a, I b) { return _mm256_sub_epi32(a, b); }
  static I mullo(I a, I b) { return _mm256_mullo_epi32(a, b); }
  static F to_float(I v) { return _mm256_cvtepi32_ps(v); }
  // cvtps2dq: round half to even, INT32_MIN on overflow / NaN, like the scalar cvt_rne.
  static I clamp(F v, I lo, I hi) { return _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(v), lo), hi); }
  // 8 int32 (already clamped into the 8-bit range) -> 8 bytes.
  template <typename T>
  static void store(T* p, I v) {
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));  // fits int16
    const __m128i b = std::is_same<T, uint8_t>::value ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), b);
  }
};

const EltwiseRowKernels kAvx2 = simd_rows::row_kernels<Avx2>("avx2");

}  // namespace

const EltwiseRowKernels& eltwise_avx2_kernels() { return kAvx2; }

}  // namespace ops
}  // namespace lowp
