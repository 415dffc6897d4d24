// QuantizeLinear's y / ys (onnxruntime: a true division, vmaxps / vminps against the type range less zy, cvtps2dq)
// without vdivps where that provably gives the same integer; included by *_avx512.cc files only.
//
// q0 = y * inv (inv = RN(1 / ys)) differs from the exact quotient Q = y / ys by at most |Q| (2u + u^2)
// (u = 2^-24), and RN(Q) (vdivps) from Q by u |Q|: |q0 - RN(Q)| <= 3.0001 u |q0|. Where q0 is farther than that
// from the nearest half-integer, q0 and RN(Q) lie strictly inside the same interval between consecutive
// half-integers, so round-half-even (cvtps2dq), also after a clamp to integer bounds, gives the same integer.
// Lanes near a .5 boundary take vdivps. Underflow only adds an absolute error far below the distance 0.5 - |q0|
// of such tiny quotients.
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace lowp {
namespace ops {

// Precondition of the functions below: inv = RN(1 / ys) is a normal float (2^-120 <= ys <= 2^120 is enough);
// the error bounds assume it.
//
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
// mask test).
inline __m512 ort_quot_clamp_avx512(__m512 y, __m512 ys, __m512 inv, __m512 flo, __m512 fhi) {
  const __m512 qc = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(y, inv), flo), fhi);
  const __m512 d = _mm512_reduce_ps(qc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);  // qc - RN(qc), exact
  const __mmask16 near = _mm512_cmp_ps_mask(_mm512_abs_ps(d), _mm512_set1_ps(0.5f - 0x1p-13f), _CMP_GE_OQ);
  if (near == 0) return qc;
  return _mm512_mask_min_ps(qc, near, _mm512_max_ps(_mm512_div_ps(y, ys), flo), fhi);
}

// ort_quot_clamp_avx512 rounded half to even: an integer-valued float in [flo, fhi] (cvtps2dq and + zy give
// QuantizeLinear's output followed by the clamp to [zy + flo, zy + fhi]); the depthwise and Add / Mul kernels.
inline __m512 ort_round_clamped_avx512(__m512 y, __m512 ys, __m512 inv, __m512 flo, __m512 fhi) {
  return _mm512_roundscale_ps(ort_quot_clamp_avx512(y, ys, inv, flo, fhi), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// onnxruntime's whole QuantizeLinear of four vectors of float32 values y (q = saturate(round_half_even(y / ys) +
// zy) to the 8-bit type, then clamped to [qmin, qmax] (a fused Relu / Clip; qmin, qmax in the type range)) as 64
// bytes: y0's 16 values, then y1's, y2's, y3's. onnxruntime computes v = RN(y / ys), clamps it to
// [tlo - zy, thi - zy] (vmaxps then vminps: NaN gives tlo - zy), cvtps2dq, + zy, then [qmin, qmax].
//
// Here q0 = y * inv (inv = RN(1 / ys)), c = vminps(2^30, q0) (keeps a NaN), d = c - RN(c) (vreduceps, exact);
// the four |d| are merged by vrangeps (max of magnitudes) and tested once: lanes with |d| >= 0.5 - 2^-13 or a
// NaN (then per vector, lane by lane) take c = vminps(2^30, y / ys) instead (vdivps: onnxruntime's quotient).
// Then n = cvtps2dq(c) (INT_MIN for NaN, -inf, < -2^31), packed with signed saturation to 16 bits, + zy with
// saturation, packed with saturation to the 8-bit type (vpacksswb / vpackuswb), clamped to [qmin, qmax] in bytes.
// Same integer as onnxruntime, lane by lane (u = 2^-24, Q = y / ys, |q0 - RN(Q)| <= 3.0001 u |q0|):
//  - |q0| <= 512 and not flagged: |q0 - RN(Q)| < 2^-13 and q0 is farther than that from every half-integer, so
//    n = round(q0) = round(RN(Q)); saturating n + zy (|n| <= 512) to the type = clamping n to [tlo - zy, thi - zy]
//    (integer bounds) then adding zy: onnxruntime's value.
//  - q0 > 512 (also +inf, or c = 2^30): RN(Q) > 511 > thi - zy + 0.5 (zy in the type range: |tlo - zy|, |thi - zy| <= 255), so
//    onnxruntime gives thi; here n >= 512 saturates to thi. q0 < -512 or -inf: tlo on both sides (n <= -512 or
//    INT_MIN). NaN: tlo on both sides.
//  - flagged lanes: c is RN(Q) itself, and the same steps give onnxruntime's value.
struct OrtQuantizeAvx512 {
  __m512 ys, inv;
  __m512i zy16, qmin8, qmax8;
  bool s8 = false, clamp = false;  // int8 output; [qmin, qmax] narrower than the type range
  OrtQuantizeAvx512(float y_scale, int32_t zy, bool s8_out, int32_t qmin, int32_t qmax)
      : ys(_mm512_set1_ps(y_scale)),
        inv(_mm512_set1_ps(1.f / y_scale)),
        zy16(_mm512_set1_epi16(static_cast<int16_t>(zy))),
        qmin8(_mm512_set1_epi8(static_cast<char>(qmin))),
        qmax8(_mm512_set1_epi8(static_cast<char>(qmax))),
        s8(s8_out),
        clamp(qmin != (s8_out ? -128 : 0) || qmax != (s8_out ? 127 : 255)) {}
};

inline __m512i ort_quantize4_avx512(const OrtQuantizeAvx512& q, __m512 y0, __m512 y1, __m512 y2, __m512 y3) {
  const __m512 big = _mm512_set1_ps(0x1p30f), lim = _mm512_set1_ps(0.5f - 0x1p-13f);
  __m512 c0 = _mm512_min_ps(big, _mm512_mul_ps(y0, q.inv)), c1 = _mm512_min_ps(big, _mm512_mul_ps(y1, q.inv)),
         c2 = _mm512_min_ps(big, _mm512_mul_ps(y2, q.inv)), c3 = _mm512_min_ps(big, _mm512_mul_ps(y3, q.inv));
  constexpr int kRne = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m512 d0 = _mm512_reduce_ps(c0, kRne), d1 = _mm512_reduce_ps(c1, kRne), d2 = _mm512_reduce_ps(c2, kRne),
               d3 = _mm512_reduce_ps(c3, kRne);
  // imm 0x0b: the larger magnitude, sign cleared
  const __m512 dm = _mm512_range_ps(_mm512_range_ps(d0, d1, 0x0b), _mm512_range_ps(d2, d3, 0x0b), 0x0b);
  if (_mm512_cmp_ps_mask(dm, lim, _CMP_NLT_UQ) != 0) {
    auto fix = [&](__m512& c, __m512 d, __m512 y) {
      const __mmask16 k = _mm512_cmp_ps_mask(_mm512_abs_ps(d), lim, _CMP_NLT_UQ);
      if (k) c = _mm512_mask_min_ps(c, k, big, _mm512_div_ps(y, q.ys));
    };
    fix(c0, d0, y0);
    fix(c1, d1, y1);
    fix(c2, d2, y2);
    fix(c3, d3, y3);
  }
  const __m512i a = _mm512_adds_epi16(_mm512_packs_epi32(_mm512_cvtps_epi32(c0), _mm512_cvtps_epi32(c1)), q.zy16);
  const __m512i b = _mm512_adds_epi16(_mm512_packs_epi32(_mm512_cvtps_epi32(c2), _mm512_cvtps_epi32(c3)), q.zy16);
  // 128-bit lane j: dwords (y0, y1, y2, y3) of elements 4j .. 4j + 3
  __m512i r = q.s8 ? _mm512_packs_epi16(a, b) : _mm512_packus_epi16(a, b);
  if (q.clamp)
    r = q.s8 ? _mm512_min_epi8(_mm512_max_epi8(r, q.qmin8), q.qmax8)
             : _mm512_min_epu8(_mm512_max_epu8(r, q.qmin8), q.qmax8);
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), r);
}

}  // namespace ops
}  // namespace lowp
