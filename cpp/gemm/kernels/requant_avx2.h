// AVX2 output-stage building blocks shared by the x86 AVX2 kernels (gemm_avx2.cc, gemv_avx2.cc):
// 8-column requantization in the three families, bit-exact with requant/requant.h (the AVX2
// twin of vnni_avx512.h). Included only from files compiled with AVX2 flags.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace lowp {
namespace avx2 {

inline __m256i lane_mask(int nn) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(nn), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline __m256i load_cols(const int32_t* p, int nn, __m256i m) {
  return nn == 8 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)) : _mm256_maskload_epi32(p, m);
}

struct ColParams {
  __m256i ct, zb;
  __m256i mult, mult_odd, left, right;
  __m256i ts_even, ts_odd, rnd_even, rnd_odd;
  __m256 scale, flo, fhi;
  __m256i lo, hi, zp, lo64, hi64;
};

inline __m256i requant_gemmlowp(__m256i x, const ColParams& p) {
  const __m256i xs = _mm256_sllv_epi32(x, p.left);
  const __m256i half = _mm256_set1_epi64x(int64_t{1} << 30);
  const __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(xs, p.mult), half);
  const __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(xs, 32), p.mult_odd), half);
  // SRDHM = (x*m + 2^30) >> 31: bits 31..62 of the 64-bit sums.
  const __m256i r = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, p.right), one);
  const __m256i rem = _mm256_and_si256(r, mask);
  const __m256i thr = _mm256_sub_epi32(_mm256_srai_epi32(mask, 1), _mm256_srai_epi32(r, 31));
  __m256i q = _mm256_srav_epi32(r, p.right);
  q = _mm256_sub_epi32(q, _mm256_cmpgt_epi32(rem, thr));  // +1 where rem > thr
  q = _mm256_min_epi32(_mm256_max_epi32(q, p.lo), p.hi);
  return _mm256_add_epi32(q, p.zp);
}

// Arithmetic right shift of 64-bit lanes by per-lane counts (AVX2 has only the logical one).
inline __m256i srav_epi64(__m256i v, __m256i s) {
  const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);
  return _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(v, sign), s), sign);
}
inline __m256i clamp_epi64(__m256i v, __m256i lo, __m256i hi) {
  v = _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
  return _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
}

inline __m256i requant_single(__m256i x, const ColParams& p) {
  __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(x, p.mult), p.rnd_even);
  __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), p.mult_odd), p.rnd_odd);
  pe = clamp_epi64(srav_epi64(pe, p.ts_even), p.lo64, p.hi64);
  po = clamp_epi64(srav_epi64(po, p.ts_odd), p.lo64, p.hi64);
  const __m256i q = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
  return _mm256_add_epi32(q, p.zp);
}

inline __m256i requant_half_even(__m256i x, const ColParams& p) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(x), p.scale);
  f = _mm256_min_ps(_mm256_max_ps(f, p.flo), p.fhi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(f), p.zp);
}

}  // namespace avx2
}  // namespace lowp
