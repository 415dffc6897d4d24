// AVX2 row kernels for the half_even (onnxruntime) elementwise add / mul. Same float32
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
inline __m256 load8_ps(const T* p);
template <>
inline __m256 load8_ps<uint8_t>(const uint8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
template <>
inline __m256 load8_ps<int8_t>(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
template <typename T>
inline __m256i load8_epi32(const T* p);
template <>
inline __m256i load8_epi32<uint8_t>(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}
template <>
inline __m256i load8_epi32<int8_t>(const int8_t* p) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// 8 int32 (already clamped into the 8-bit range) -> 8 bytes.
template <typename T>
inline void store8(T* p, __m256i v) {
  const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
  const __m128i w = _mm_packs_epi32(lo, hi);  // exact: values fit int16
  const __m128i b = std::is_same<T, uint8_t>::value ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), b);
}

inline __m256i clamp8(__m256 v, __m256i lo, __m256i hi) {
  // cvtps2dq: round half to even, INT32_MIN on overflow / NaN, like the scalar cvt_rne.
  const __m256i r = _mm256_cvtps_epi32(v);
  return _mm256_min_epi32(_mm256_max_epi32(r, lo), hi);
}

template <typename T>
void add_row_avx2(const T* a, const T* b, T* c, int64_t n, bool b_scalar, const AddHalfEven& k) {
  const __m256 rA = _mm256_set1_ps(k.rA), rB = _mm256_set1_ps(k.rB);
  const __m256i lo = _mm256_set1_epi32(k.lo), hi = _mm256_set1_epi32(k.hi);
  int64_t i = 0;
  if (b_scalar) {
    // F' = F + float(b) * rB, once per span (the scalar does the same computation per element)
    const float f2 = k.fixed + static_cast<float>(b[0]) * k.rB;
    const __m256 F2 = _mm256_set1_ps(f2);
    for (; i + 8 <= n; i += 8) {
      const __m256 va = load8_ps(a + i);
      store8(c + i, clamp8(_mm256_add_ps(F2, _mm256_mul_ps(va, rA)), lo, hi));
    }
    for (; i < n; ++i) c[i] = static_cast<T>(add_he(a[i], b[0], k));
  } else {
    const __m256 F = _mm256_set1_ps(k.fixed);
    for (; i + 8 <= n; i += 8) {
      const __m256 va = load8_ps(a + i), vb = load8_ps(b + i);
      const __m256 t = _mm256_add_ps(F, _mm256_mul_ps(vb, rB));
      store8(c + i, clamp8(_mm256_add_ps(t, _mm256_mul_ps(va, rA)), lo, hi));
    }
    for (; i < n; ++i) c[i] = static_cast<T>(add_he(a[i], b[i], k));
  }
}

template <typename T>
void mul_row_avx2(const T* a, const T* b, T* c, int64_t n, bool b_scalar, const MulHalfEven& k) {
  const __m256 ratio = _mm256_set1_ps(k.ratio), zc = _mm256_set1_ps(k.zc);
  const __m256i za = _mm256_set1_epi32(k.za), zb = _mm256_set1_epi32(k.zb);
  const __m256i lo = _mm256_set1_epi32(k.lo), hi = _mm256_set1_epi32(k.hi);
  const __m256i bs = _mm256_set1_epi32(static_cast<int32_t>(b[0]) - k.zb);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i va = _mm256_sub_epi32(load8_epi32(a + i), za);
    const __m256i vb = b_scalar ? bs : _mm256_sub_epi32(load8_epi32(b + i), zb);
    const __m256 prod = _mm256_cvtepi32_ps(_mm256_mullo_epi32(va, vb));
    store8(c + i, clamp8(_mm256_add_ps(_mm256_mul_ps(prod, ratio), zc), lo, hi));
  }
  for (; i < n; ++i) c[i] = static_cast<T>(mul_he(a[i], b_scalar ? b[0] : b[i], k));
}

const EltwiseRowKernels kAvx2 = {"avx2", add_row_avx2<uint8_t>, add_row_avx2<int8_t>, mul_row_avx2<uint8_t>,
                                 mul_row_avx2<int8_t>};

}  // namespace

const EltwiseRowKernels& eltwise_avx2_kernels() { return kAvx2; }

}  // namespace ops
}  // namespace lowp
