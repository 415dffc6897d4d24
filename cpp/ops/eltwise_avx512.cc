// AVX-512 row kernels for the half_even (onnxruntime) elementwise add / mul: the algorithm of
// eltwise_rows_simd.h on 16 float32 lanes (tested bit-exact against the scalar reference in
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

struct Avx512 {
  using F = __m512;
  using I = __m512i;
  static constexpr int kN = 16;
  static F set1(float v) { return _mm512_set1_ps(v); }
  static I set1i(int32_t v) { return _mm512_set1_epi32(v); }
  template <typename T>
  static I load_epi32(const T* p) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return std::is_same<T, uint8_t>::value ? _mm512_cvtepu8_epi32(b) : _mm512_cvtepi8_epi32(b);
  }
  template <typename T>
  static F load_ps(const T* p) { return _mm512_cvtepi32_ps(load_epi32(p)); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static I sub_i(I a, I b) { return _mm512_sub_epi32(a, b); }
  static I mullo(I a, I b) { return _mm512_mullo_epi32(a, b); }
  static F to_float(I v) { return _mm512_cvtepi32_ps(v); }
  // cvtps2dq: round half to even, INT32_MIN on overflow / NaN, like the scalar cvt_rne.
  static I clamp(F v, I lo, I hi) { return _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(v), lo), hi); }
  // 16 int32 (already clamped into the 8-bit range) -> 16 bytes (truncation is exact here).
  template <typename T>
  static void store(T* p, I v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(v)); }
};

const EltwiseRowKernels kAvx512 = simd_rows::row_kernels<Avx512>("avx512");

}  // namespace

const EltwiseRowKernels& eltwise_avx512_kernels() { return kAvx512; }

}  // namespace ops
}  // namespace lowp
