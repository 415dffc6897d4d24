// AVX-512 VBMI channel gather for rows of at most 128 bytes: per pixel the row sits in two zmm
// registers and every 64 output bytes are one VPERMI2B with a precomputed index vector. Exact by
// construction (a byte gather); compared with gather_channels_ref in the tests. Called only where the
// CPU reports AVX512_VBMI (the check lives in portable layout.cc).
#include <immintrin.h>

#include "ops/layout.h"

namespace lowp {
namespace ops {

__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void gather_channels_vbmi(const uint8_t* x, int64_t c_in,
                                                                                   const int64_t* idx, int64_t c_out,
                                                                                   uint8_t* y, int64_t pixels) {
  // c_in <= 128 and c_out <= 256 (checked by the caller).
  alignas(64) uint8_t ib[256] = {};
  for (int64_t j = 0; j < c_out; ++j) ib[j] = static_cast<uint8_t>(idx[j]);
  const int nchunks = static_cast<int>((c_out + 63) / 64);
  __m512i iv[4];
  __mmask64 om[4];
  for (int k = 0; k < nchunks; ++k) {
    iv[k] = _mm512_load_si512(ib + 64 * k);
    const int64_t left = c_out - 64 * k;
    om[k] = left >= 64 ? ~__mmask64{0} : ((__mmask64{1} << left) - 1);
  }
  const __mmask64 m_lo = c_in >= 64 ? ~__mmask64{0} : ((__mmask64{1} << c_in) - 1);
  const __mmask64 m_hi = c_in <= 64 ? 0 : (c_in >= 128 ? ~__mmask64{0} : ((__mmask64{1} << (c_in - 64)) - 1));
  for (int64_t p = 0; p < pixels; ++p) {
    const uint8_t* xp = x + p * c_in;
    uint8_t* yp = y + p * c_out;
    const __m512i lo = _mm512_maskz_loadu_epi8(m_lo, xp);
    const __m512i hi = _mm512_maskz_loadu_epi8(m_hi, xp + 64);
    for (int k = 0; k < nchunks; ++k)
      _mm512_mask_storeu_epi8(yp + 64 * k, om[k], _mm512_permutex2var_epi8(lo, iv[k], hi));
  }
}

// Three-channel NCHW float32 -> NHWC 8-bit QuantizeLinear (the RGB graph input), 64 pixels per
// step. The reference's true division x / scale is the divider-bound part of the op; here each
// vector of 16 values is q = x * RN(1 / scale), clamped to [lo - zp - 0.75, hi - zp + 0.75], and
// divided for real only when q might round differently from RN(x / scale): inside that range
// |q| <= 257 and |q - RN(x / scale)| <= 257 * 3 * 2^-24 < 2^-14, and rne(clamp(.)) only changes
// at half-integers, so q is used where its distance to the nearest integer is below 0.5 - 2^-12.
// Clamping to +-0.75 beyond the bounds and letting the int16 / 8-bit packs saturate gives the
// reference's clamp to [lo - zp, hi - zp] (integers, which commute with rne); NaN -> the lower
// bound as MAXPS does. The caller checks that scale and 1 / scale are normal floats. The packs
// leave the 64 pixels of a channel in a fixed lane order, which the VPERMT2B (channels 0, 1) and
// masked VPERMB (channel 2) byte interleave undoes.
namespace {
__attribute__((target("avx512f,avx512bw"), always_inline)) inline __m512i quant16_i32(const float* p, __m512 r,
                                                                                    __m512 s, __m512 lo, __m512 hi,
                                                                                    __m512 tie) {
  const __m512 xv = _mm512_loadu_ps(p);
  __m512 q = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(xv, r), lo), hi);  // NaN -> lo
  __m512 rq = _mm512_roundscale_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 d = _mm512_abs_ps(_mm512_sub_ps(q, rq));
  if (_mm512_cmp_ps_mask(d, tie, _CMP_GE_OQ) != 0) {  // a lane near a tie: the true quotient
    q = _mm512_min_ps(_mm512_max_ps(_mm512_div_ps(xv, s), lo), hi);
    rq = _mm512_roundscale_ps(q, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  return _mm512_cvtps_epi32(rq);  // an integer in [lo - zp - 1, hi - zp + 1]
}
}  // namespace

__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void quantize3_nchw_to_nhwc_vbmi(
    const float* x, int64_t hw, uint8_t* y, int64_t pixels, float scale, int32_t zp, int32_t lo, int32_t hi) {
  // After packs(a, b), packs(c, d), pack(ab, cd) pixel i (vector m = i / 16, element i % 16) sits at
  // byte 16 * (i % 16 / 4) + 4 * m + i % 4.
  auto pos = [](int i) { return 16 * (i % 16 / 4) + 4 * (i / 16) + i % 4; };
  alignas(64) uint8_t i01[3][64], i2[3][64];
  __mmask64 m2[3] = {0, 0, 0};
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 64; ++j) {
      const int P = 64 * k + j, pix = P / 3, c = P % 3;
      i01[k][j] = static_cast<uint8_t>(c == 1 ? 64 + pos(pix) : pos(pix));
      i2[k][j] = static_cast<uint8_t>(pos(pix));
      if (c == 2) m2[k] |= __mmask64{1} << j;
    }
  __m512i v01[3], v2[3];
  for (int k = 0; k < 3; ++k) {
    v01[k] = _mm512_load_si512(i01[k]);
    v2[k] = _mm512_load_si512(i2[k]);
  }
  const __m512 s = _mm512_set1_ps(scale), r = _mm512_set1_ps(1.0f / scale);
  const __m512 flo = _mm512_set1_ps(static_cast<float>(lo - zp) - 0.75f);
  const __m512 fhi = _mm512_set1_ps(static_cast<float>(hi - zp) + 0.75f);
  const __m512 tie = _mm512_set1_ps(0.5f - 1.0f / 4096.0f);
  const __m512i z16 = _mm512_set1_epi16(static_cast<int16_t>(zp));
  const bool u8 = lo == 0;
  for (int64_t p = 0; p + 64 <= pixels; p += 64) {
    __m512i b[3];
    for (int c = 0; c < 3; ++c) {
      const float* xc = x + c * hw + p;
      const __m512i a0 = quant16_i32(xc, r, s, flo, fhi, tie), a1 = quant16_i32(xc + 16, r, s, flo, fhi, tie);
      const __m512i a2 = quant16_i32(xc + 32, r, s, flo, fhi, tie), a3 = quant16_i32(xc + 48, r, s, flo, fhi, tie);
      const __m512i w01 = _mm512_add_epi16(_mm512_packs_epi32(a0, a1), z16);  // |values| <= 2^15: no saturation
      const __m512i w23 = _mm512_add_epi16(_mm512_packs_epi32(a2, a3), z16);
      b[c] = u8 ? _mm512_packus_epi16(w01, w23) : _mm512_packs_epi16(w01, w23);  // saturation = the clamp
    }
    uint8_t* o = y + 3 * p;
    for (int k = 0; k < 3; ++k) {
      const __m512i t = _mm512_permutex2var_epi8(b[0], v01[k], b[1]);
      _mm512_storeu_si512(o + 64 * k, _mm512_mask_permutexvar_epi8(t, m2[k], v2[k], b[2]));
    }
  }
}

}  // namespace ops
}  // namespace lowp
