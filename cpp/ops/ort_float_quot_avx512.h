// y / ys for onnxruntime's QuantizeLinear (a true division, then cvtps2dq) without vdivps where that
// provably gives the same integer; included by *_avx512.cc files only.
//
// q0 = y * inv (inv = RN(1 / ys)) differs from the exact quotient Q = y / ys by at most |Q| (2u + u^2)
// (u = 2^-24), and RN(Q) (vdivps) from Q by u |Q|: |q0 - RN(Q)| <= 3.0001 u |q0|. Where q0 is farther
// than 16 u |q0| from the nearest half-integer, q0 and RN(Q) lie strictly inside the same interval
// between consecutive half-integers, so round-half-even (cvtps2dq), also after a clamp to integer bounds,
// gives the same integer. Other lanes (near a .5 boundary, NaN / inf, huge |q0|) take vdivps. Underflow
// only adds an absolute error far below the distance 0.5 - |q0| of such tiny quotients.
#pragma once
#include <immintrin.h>

namespace lowp {
namespace ops {

// A float whose cvtps2dq (after an optional clamp to integer-valued bounds) equals that of y / ys.
inline __m512 ort_quot_avx512(__m512 y, __m512 ys, __m512 inv) {
  const __m512 q0 = _mm512_mul_ps(y, inv);
  const __m512 r = _mm512_roundscale_ps(q0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 d = _mm512_sub_ps(_mm512_set1_ps(0.5f), _mm512_abs_ps(_mm512_sub_ps(q0, r)));
  const __m512 lim = _mm512_mul_ps(_mm512_abs_ps(q0), _mm512_set1_ps(0x1p-20f));  // 16 u |q0|, exact
  const __mmask16 safe = _mm512_cmp_ps_mask(d, lim, _CMP_GT_OQ);
  if (safe == 0xffff) return q0;
  return _mm512_mask_div_ps(q0, static_cast<__mmask16>(~safe), y, ys);
}

// QuantizeLinear's quotient and clamp in one step: a float whose cvtps2dq equals that of
// min(max(y / ys, flo), fhi) (onnxruntime's order: the true division, vmaxps, vminps; a NaN quotient gives flo
// there and here, vmaxps returning its second operand). flo, fhi: integer-valued, |flo|, |fhi| <= 512.
//
// q0 = y * inv is clamped first (round(clamp(v)) = clamp(round(v)) for integer bounds): a clamped lane is an
// integer, and so is its division twin's cvtps2dq (if q0 < flo then RN(Q) < flo + 0.5: |q0 - RN(Q)| <=
// 3.0001 u |q0| < 0.5 for |q0| < 2^20, and RN(Q) <= q0 (1 - 3.0001 u) < flo beyond). An unclamped lane has
// |q0| <= 512, so |q0 - RN(Q)| <= 3.0001 u 512 < 2^-13: where q0's distance to the nearest half-integer is
// more than 2^-13 (|q0 - RN(q0)| < 0.5 - 2^-13, vreduceps: exact), q0 and RN(Q) round to the same integer,
// which lies in [flo, fhi]. The other lanes (about 2^-12 of them) take vdivps. NaN and infinities are
// clamped to a bound like the division's result. 8 uops a vector (mul, max, min, reduce, and, cmp; the
// mask test) instead of ort_quot_avx512's 11 plus the clamp.
inline __m512 ort_quot_clamp_avx512(__m512 y, __m512 ys, __m512 inv, __m512 flo, __m512 fhi) {
  const __m512 qc = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(y, inv), flo), fhi);
  const __m512 d = _mm512_reduce_ps(qc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);  // qc - RN(qc), exact
  const __mmask16 near = _mm512_cmp_ps_mask(_mm512_abs_ps(d), _mm512_set1_ps(0.5f - 0x1p-13f), _CMP_GE_OQ);
  if (near == 0) return qc;
  return _mm512_mask_min_ps(qc, near, _mm512_max_ps(_mm512_div_ps(y, ys), flo), fhi);
}

}  // namespace ops
}  // namespace lowp
