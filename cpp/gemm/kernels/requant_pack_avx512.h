// AVX-512 "half_even" output stage that narrows four int32 vectors at once with saturating
// packs (instead of a clamp per vector and one vpmovdb per vector). Shared by the AMX kernels,
// whose output stage runs on blocks of whole rows of int32 sums parked in memory
// (gemm_smallk_amx_avx512vnni.cc, gemm_amx_avx512vnni.cc). With 512-bit vectors only two ports
// execute vector ALU work, and the per-vector stage takes ~10 such uops per 16 outputs against
// ~5 here: for "amx" at K = 320 it was ~40 % of the time.
//
// For accumulators x (column terms already added) and per-column float32 scales s:
//   out = clamp(rne(float(x) * s) + zp, qmin, qmax)                    (ORT / MLAS, bit-exact)
// computed as
//   r   = cvtps2dq(float(x) * s)          (round half to even; no float clamp)
//   w   = packs_epi32(r)                  saturate to int16
//   w   = adds_epi16(w, zp)               saturating int16 add
//   b   = packus_epi16(w) / packs_epi16(w) saturate to the 8-bit output type
//   out = min(max(b, qmin), qmax)
// Exactness: every step after the rounding is a monotone saturation to a range that contains
// [qmin - zp, qmax - zp] (int16 vs 8-bit ranges), so composing them with the final clamp gives
// exactly clamp(r + zp, qmin, qmax); and clamping before or after rounding to an integer bound
// is the same. The one condition is that cvtps2dq does not overflow (it returns INT32_MIN for
// |f| >= 2^31): |float(x)| <= 2^31 and |s| < 1 give |f| <= 2^31 - 128. Callers check |s| < 1
// (scales_below_one) and otherwise use the per-vector output stage (vnni_avx512.h).
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace lowp {
namespace rqpack {

// True when every scale[0..n) (n <= 16 per call) has |s| < 1 (NaN fails).
inline bool scales_below_one(const float* scale, int n) {
  const __mmask16 km = n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
  const __m512 s = _mm512_maskz_loadu_ps(km, scale);
  const __m512 a = _mm512_abs_ps(s);
  return (_mm512_cmp_ps_mask(a, _mm512_set1_ps(1.0f), _CMP_LT_OQ) & km) == km;
}

inline __m512i round_scaled(__m512i x, __m512 s) { return _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(x), s)); }

struct Params {
  __m512i zp16;      // output zero point, 32 x int16
  __m512i lo8, hi8;  // qmin / qmax, 64 x 8-bit
  __m512i perm;      // dword order after the in-lane packs
};

inline Params make_params(int32_t zp, int32_t qmin, int32_t qmax) {
  Params p;
  p.zp16 = _mm512_set1_epi16(static_cast<int16_t>(zp));
  p.lo8 = _mm512_set1_epi8(static_cast<char>(qmin));
  p.hi8 = _mm512_set1_epi8(static_cast<char>(qmax));
  // After packs of (v0, v1) and (v2, v3), 128-bit lane L holds dwords
  // [v0 cols 4L..4L+3, v1 .., v2 .., v3 ..]; gather each vector's 4 dwords back together.
  p.perm = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return p;
}

// Four rounded int32 vectors -> 64 bytes [v0 | v1 | v2 | v3] (16 outputs each), clamped.
// kClamp = false when [qmin, qmax] is the whole output type (the packs already saturate to it).
template <bool kSigned, bool kClamp = true>
inline __m512i narrow4(__m512i r0, __m512i r1, __m512i r2, __m512i r3, const Params& p) {
  const __m512i w01 = _mm512_adds_epi16(_mm512_packs_epi32(r0, r1), p.zp16);
  const __m512i w23 = _mm512_adds_epi16(_mm512_packs_epi32(r2, r3), p.zp16);
  __m512i b = kSigned ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23);
  b = _mm512_permutexvar_epi32(p.perm, b);
  if (!kClamp) return b;
  if (kSigned) return _mm512_min_epi8(_mm512_max_epi8(b, p.lo8), p.hi8);
  return _mm512_min_epu8(_mm512_max_epu8(b, p.lo8), p.hi8);
}

inline __mmask32 mask32(int n) { return n >= 32 ? ~__mmask32{0} : ((__mmask32{1} << n) - 1); }
inline __mmask16 mask16(int n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1); }

// Half_even output stage of `rows` rows x n (<= 32) columns of int32 sums at buf (row stride
// `bs` int32, 32 columns readable; rows are read in groups of 2 (n > 16) or 4 (n <= 16), so
// round_up(rows, 4) rows must be readable) to 8-bit C rows ldc bytes apart. s0 / s1: the
// scales of columns 0..15 / 16..31 (all |s| < 1). kAddCt: add the column terms ct0 / ct1 first
// (otherwise buf already holds them).
template <bool kSigned, bool kClamp, bool kAddCt = false>
inline __attribute__((always_inline)) void store_rows_packed(const int32_t* buf, int bs, int rows, int n, uint8_t* c,
                                                             ptrdiff_t ldc, __m512 s0, __m512 s1, const Params& p,
                                                             __m512i ct0 = _mm512_setzero_si512(),
                                                             __m512i ct1 = _mm512_setzero_si512()) {
  auto ld = [&](const int32_t* q, __m512i ct) {
    const __m512i x = _mm512_load_si512(q);
    return kAddCt ? _mm512_add_epi32(x, ct) : x;
  };
  if (n > 16) {
    const __mmask32 km = mask32(n);
    for (int r = 0; r < rows; r += 2) {
      const int32_t* q = buf + r * bs;
      const __m512i v = narrow4<kSigned, kClamp>(round_scaled(ld(q, ct0), s0), round_scaled(ld(q + 16, ct1), s1),
                                                 round_scaled(ld(q + bs, ct0), s0),
                                                 round_scaled(ld(q + bs + 16, ct1), s1), p);
      uint8_t* d = c + r * ldc;
      if (n == 32) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), _mm512_castsi512_si256(v));
        if (r + 1 < rows) _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + ldc), _mm512_extracti64x4_epi64(v, 1));
      } else {
        _mm256_mask_storeu_epi8(d, km, _mm512_castsi512_si256(v));
        if (r + 1 < rows) _mm256_mask_storeu_epi8(d + ldc, km, _mm512_extracti64x4_epi64(v, 1));
      }
    }
  } else {
    const __mmask16 km = mask16(n);
    for (int r = 0; r < rows; r += 4) {
      const int32_t* q = buf + r * bs;
      const __m512i v = narrow4<kSigned, kClamp>(round_scaled(ld(q, ct0), s0), round_scaled(ld(q + bs, ct0), s0),
                                                 round_scaled(ld(q + 2 * bs, ct0), s0),
                                                 round_scaled(ld(q + 3 * bs, ct0), s0), p);
      const __m128i x[4] = {_mm512_castsi512_si128(v), _mm512_extracti32x4_epi32(v, 1),
                            _mm512_extracti32x4_epi32(v, 2), _mm512_extracti32x4_epi32(v, 3)};
      const int nr = std::min(4, rows - r);
      for (int i = 0; i < nr; ++i) {
        uint8_t* d = c + (r + i) * ldc;
        if (n == 16)
          _mm_storeu_si128(reinterpret_cast<__m128i*>(d), x[i]);
        else
          _mm_mask_storeu_epi8(d, km, x[i]);
      }
    }
  }
}

}  // namespace rqpack
}  // namespace lowp
