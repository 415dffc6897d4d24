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

// Add rows 64 elements per step: the same float32 operations per lane as simd_rows::add_row, but
// the four int32 results go to bytes through saturating packs (int32 -> int16 -> 8-bit) with the
// [lo, hi] clamp applied to the int16 values (lo, hi lie inside the 8-bit range, so the clamp and
// the packs' saturation give clamp(cvt(v), lo, hi) exactly, INT32_MIN included) and one dword
// permute to undo the packs' lane interleave: ~12 fewer port-5 uops per 64 values than four
// max / min / VPMOVDB stores. The tail (< 64) runs the 16-lane row.
template <typename T>
void add_row64(const T* a, const T* b, T* c, int64_t n, bool b_scalar, const AddHalfEven& k) {
  const __m512 rA = _mm512_set1_ps(k.rA), rB = _mm512_set1_ps(k.rB);
  const __m512 F = b_scalar ? _mm512_set1_ps(k.fixed + static_cast<float>(b[0]) * k.rB) : _mm512_set1_ps(k.fixed);
  const __m512i lo = _mm512_set1_epi16(static_cast<int16_t>(k.lo)), hi = _mm512_set1_epi16(static_cast<int16_t>(k.hi));
  // after packs(r0, r1), packs(r2, r3), pack(., .): dword 4 * l + m holds r_m's dword l
  const __m512i perm = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512i r[4];
    for (int q = 0; q < 4; ++q) {
      const __m512 t = b_scalar ? F : _mm512_add_ps(F, _mm512_mul_ps(Avx512::load_ps(b + i + 16 * q), rB));
      r[q] = _mm512_cvtps_epi32(_mm512_add_ps(t, _mm512_mul_ps(Avx512::load_ps(a + i + 16 * q), rA)));
    }
    const __m512i w01 = _mm512_min_epi16(_mm512_max_epi16(_mm512_packs_epi32(r[0], r[1]), lo), hi);
    const __m512i w23 = _mm512_min_epi16(_mm512_max_epi16(_mm512_packs_epi32(r[2], r[3]), lo), hi);
    const __m512i v = std::is_same<T, uint8_t>::value ? _mm512_packus_epi16(w01, w23) : _mm512_packs_epi16(w01, w23);
    _mm512_storeu_si512(c + i, _mm512_permutexvar_epi32(perm, v));
  }
  if (i < n) simd_rows::add_row<Avx512, T>(a + i, b_scalar ? b : b + i, c + i, n - i, b_scalar, k);
}

EltwiseRowKernels make_avx512_kernels() {
  EltwiseRowKernels k = simd_rows::row_kernels<Avx512>("avx512");
  k.add_u8 = add_row64<uint8_t>;
  k.add_s8 = add_row64<int8_t>;
  return k;
}

const EltwiseRowKernels kAvx512 = make_avx512_kernels();

}  // namespace

const EltwiseRowKernels& eltwise_avx512_kernels() { return kAvx512; }

}  // namespace ops
}  // namespace lowp
