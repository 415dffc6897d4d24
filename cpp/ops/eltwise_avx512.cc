// AVX-512 row kernels for the half_even (onnxruntime) elementwise add / mul. Same float32
// operations in the same order as the scalar reference in eltwise.h (tested bit-exact against
// it); FMA contraction is disabled so a*b+c stays two roundings.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <immintrin.h>

#include <type_traits>

#include "ops/eltwise.h"

namespace lowp {
namespace ops {

namespace {

template <typename T>
inline __m512 load16_ps(const T* p);
template <>
inline __m512 load16_ps<uint8_t>(const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
template <>
inline __m512 load16_ps<int8_t>(const int8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
template <typename T>
inline __m512i load16_epi32(const T* p);
template <>
inline __m512i load16_epi32<uint8_t>(const uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
template <>
inline __m512i load16_epi32<int8_t>(const int8_t* p) {
  return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// 16 int32 (already clamped into the 8-bit range) -> 16 bytes (truncation is exact here).
template <typename T>
inline void store16(T* p, __m512i v) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(v));
}

inline __m512i clamp16(__m512 v, __m512i lo, __m512i hi) {
  // cvtps2dq: round half to even, INT32_MIN on overflow / NaN, like the scalar cvt_rne.
  const __m512i r = _mm512_cvtps_epi32(v);
  return _mm512_min_epi32(_mm512_max_epi32(r, lo), hi);
}

template <typename T>
void add_row_avx512(const T* a, const T* b, T* c, int64_t n, bool b_scalar, const AddHalfEven& k) {
  const __m512 rA = _mm512_set1_ps(k.rA), rB = _mm512_set1_ps(k.rB);
  const __m512i lo = _mm512_set1_epi32(k.lo), hi = _mm512_set1_epi32(k.hi);
  int64_t i = 0;
  if (b_scalar) {
    // F' = F + float(b) * rB, once per span (the scalar does the same computation per element)
    const float f2 = k.fixed + static_cast<float>(b[0]) * k.rB;
    const __m512 F2 = _mm512_set1_ps(f2);
    for (; i + 16 <= n; i += 16) {
      const __m512 va = load16_ps(a + i);
      store16(c + i, clamp16(_mm512_add_ps(F2, _mm512_mul_ps(va, rA)), lo, hi));
    }
    for (; i < n; ++i) c[i] = static_cast<T>(add_he(a[i], b[0], k));
  } else {
    const __m512 F = _mm512_set1_ps(k.fixed);
    for (; i + 16 <= n; i += 16) {
      const __m512 va = load16_ps(a + i), vb = load16_ps(b + i);
      const __m512 t = _mm512_add_ps(F, _mm512_mul_ps(vb, rB));
      store16(c + i, clamp16(_mm512_add_ps(t, _mm512_mul_ps(va, rA)), lo, hi));
    }
    for (; i < n; ++i) c[i] = static_cast<T>(add_he(a[i], b[i], k));
  }
}

template <typename T>
void mul_row_avx512(const T* a, const T* b, T* c, int64_t n, bool b_scalar, const MulHalfEven& k) {
  const __m512 ratio = _mm512_set1_ps(k.ratio), zc = _mm512_set1_ps(k.zc);
  const __m512i za = _mm512_set1_epi32(k.za), zb = _mm512_set1_epi32(k.zb);
  const __m512i lo = _mm512_set1_epi32(k.lo), hi = _mm512_set1_epi32(k.hi);
  const __m512i bs = _mm512_set1_epi32(static_cast<int32_t>(b[0]) - k.zb);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i va = _mm512_sub_epi32(load16_epi32(a + i), za);
    const __m512i vb = b_scalar ? bs : _mm512_sub_epi32(load16_epi32(b + i), zb);
    const __m512 prod = _mm512_cvtepi32_ps(_mm512_mullo_epi32(va, vb));
    store16(c + i, clamp16(_mm512_add_ps(_mm512_mul_ps(prod, ratio), zc), lo, hi));
  }
  for (; i < n; ++i) c[i] = static_cast<T>(mul_he(a[i], b_scalar ? b[0] : b[i], k));
}

const EltwiseRowKernels kAvx2 = {"avx512", add_row_avx512<uint8_t>, add_row_avx512<int8_t>, mul_row_avx512<uint8_t>,
                                 mul_row_avx512<int8_t>};

}  // namespace

const EltwiseRowKernels& eltwise_avx512_kernels() { return kAvx2; }

}  // namespace ops
}  // namespace lowp
