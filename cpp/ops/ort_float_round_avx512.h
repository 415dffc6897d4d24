// onnxruntime's QuantizeLinear of y followed by a clamp, in one step without vdivps where that provably gives the
// same integer (included by *_avx512.cc files only; cf. ort_float_quot_avx512.h).
//
// QuantizeLinear then the clamp to [qmin, qmax] = round(clamp(RN(y / ys), a, b)) + zy with a = qmin - zy,
// b = qmax - zy (integers: the clamp commutes with round-half-even, and covers the type's saturation).
// q0 = y * RN(1 / ys) is within 3.0001 u |q0| of RN(y / ys) (u = 2^-24). Clamped to [a - 1/4, b + 1/4]
// (|v| <= 255.25 for 8-bit types: within 2^-14 of the clamped quotient while inside; past a bound the quotient
// rounds past it too), v rounds like the quotient wherever it is farther than 2^-12 from a half-integer; the other
// lanes take the division.
#pragma once
#include <immintrin.h>

namespace lowp {
namespace ops {

// lo = a - 1/4, hi = b + 1/4. Returns the rounded value as a float (an integer in [a, b]: cvtps2dq and + zy give
// the output).
inline __m512 ort_round_clamped_avx512(__m512 y, __m512 ys, __m512 inv, __m512 lo, __m512 hi) {
  const __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(y, inv), lo), hi);
  __m512 r = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __mmask16 near =
      _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, r)), _mm512_set1_ps(0.5f - 0x1p-12f), _CMP_GE_OQ);
  if (near) {
    const __m512 vq = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(y, ys), lo), hi);
    r = _mm512_mask_roundscale_ps(r, near, vq, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  return r;
}

}  // namespace ops
}  // namespace lowp
