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

}  // namespace ops
}  // namespace lowp
