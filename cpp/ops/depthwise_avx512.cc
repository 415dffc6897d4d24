// x86 AVX-512 (F/BW/VL) depthwise kernel: 32 channels per block widened to int16, tap pairs
// multiplied with vpmaddwd (exact: no saturating instruction), fused requantization of all three
// families in SIMD, bit-exact with requant/requant.h. Tails use masked loads and stores.
#include <immintrin.h>

#include "ops/depthwise.h"
#include "runtime/cpu.h"

namespace lowp {
namespace {

constexpr int kCb = 32;

template <bool kU8>
inline __m512i load_x(const void* p, __mmask32 m) {
  const __m256i v = _mm256_maskz_loadu_epi8(m, p);
  return kU8 ? _mm512_cvtepu8_epi16(v) : _mm512_cvtepi8_epi16(v);
}

// Rounded (a * b) / 2^31 of the 64-bit products in each 64-bit lane (gemmlowp SRDHM without the
// saturating case, which needs b == INT32_MIN and multipliers are >= 0).
inline __m512i srdhm64(__m512i ab) {
  const __mmask8 neg = _mm512_cmplt_epi64_mask(ab, _mm512_setzero_si512());
  const __m512i nudge = _mm512_mask_blend_epi64(neg, _mm512_set1_epi64(int64_t{1} << 30),
                                                _mm512_set1_epi64(1 - (int64_t{1} << 30)));
  __m512i s = _mm512_add_epi64(ab, nudge);
  // Division truncating toward zero: add 2^31 - 1 to negative values before the shift.
  const __mmask8 sneg = _mm512_cmplt_epi64_mask(s, _mm512_setzero_si512());
  s = _mm512_mask_add_epi64(s, sneg, s, _mm512_set1_epi64((int64_t{1} << 31) - 1));
  return _mm512_srai_epi64(s, 31);
}

// Requantizes 16 int32 accumulators of channels c..c+15 (masked by m), result in [qmin, qmax].
inline __m512i requant16(__m512i acc, int c, __mmask16 m, const DwEpilogue& ep) {
  const __m512i zp = _mm512_set1_epi32(ep.zp);
  if (ep.rounding == Rounding::HalfEven) {
    const __m512 s = _mm512_maskz_loadu_ps(m, ep.scale + c);
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), s);
    f = _mm512_max_ps(f, _mm512_set1_ps(static_cast<float>(ep.qmin - ep.zp)));
    f = _mm512_min_ps(f, _mm512_set1_ps(static_cast<float>(ep.qmax - ep.zp)));
    return _mm512_add_epi32(_mm512_cvt_roundps_epi32(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zp);
  }
  const __m512i mult = _mm512_maskz_loadu_epi32(m, ep.mult + c);
  const __m512i shift = _mm512_maskz_loadu_epi32(m, ep.shift + c);
  const __m512i lo = _mm512_set1_epi32(ep.qmin - ep.zp), hi = _mm512_set1_epi32(ep.qmax - ep.zp);
  __m512i r;
  if (ep.rounding == Rounding::Gemmlowp) {
    const __m512i zero = _mm512_setzero_si512();
    const __m512i left = _mm512_max_epi32(shift, zero);
    const __m512i right = _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero);
    const __m512i xs = _mm512_sllv_epi32(acc, left);
    const __m512i ev = srdhm64(_mm512_mul_epi32(xs, mult));
    const __m512i od = srdhm64(_mm512_mul_epi32(_mm512_srli_epi64(xs, 32), _mm512_srli_epi64(mult, 32)));
    const __m512i h = _mm512_mask_blend_epi32(0xAAAA, ev, _mm512_slli_epi64(od, 32));
    // RoundingDivideByPOT(h, right)
    const __m512i mask = _mm512_sub_epi32(_mm512_sllv_epi32(_mm512_set1_epi32(1), right), _mm512_set1_epi32(1));
    const __m512i rem = _mm512_and_si512(h, mask);
    const __m512i thr = _mm512_sub_epi32(_mm512_srai_epi32(mask, 1), _mm512_srai_epi32(h, 31));
    r = _mm512_srav_epi32(h, right);
    r = _mm512_mask_add_epi32(r, _mm512_cmpgt_epi32_mask(rem, thr), r, _mm512_set1_epi32(1));
    r = _mm512_min_epi32(_mm512_max_epi32(r, lo), hi);
  } else {  // Single: (x*m + 2^(total-1)) >> total, total = 31 - shift, clamped in 64 bits
    const __m512i total = _mm512_sub_epi32(_mm512_set1_epi32(31), shift);
    const __m512i tev = _mm512_and_si512(total, _mm512_set1_epi64(0xffffffff));
    const __m512i tod = _mm512_srli_epi64(total, 32);
    const __m512i one = _mm512_set1_epi64(1);
    const __m512i lo64 = _mm512_set1_epi64(ep.qmin - ep.zp), hi64 = _mm512_set1_epi64(ep.qmax - ep.zp);
    auto rnd = [&](__m512i prod, __m512i t) {
      const __m512i round = _mm512_sllv_epi64(one, _mm512_sub_epi64(t, one));
      __m512i v = _mm512_srav_epi64(_mm512_add_epi64(prod, round), t);
      return _mm512_min_epi64(_mm512_max_epi64(v, lo64), hi64);
    };
    const __m512i ev = rnd(_mm512_mul_epi32(acc, mult), tev);
    const __m512i od = rnd(_mm512_mul_epi32(_mm512_srli_epi64(acc, 32), _mm512_srli_epi64(mult, 32)), tod);
    r = _mm512_mask_blend_epi32(0xAAAA, ev, _mm512_slli_epi64(od, 32));
  }
  return _mm512_add_epi32(r, zp);
}

inline void store16(__m512i acc, int c, __mmask16 m, const DwEpilogue& ep, void* y) {
  acc = _mm512_add_epi32(acc, _mm512_maskz_loadu_epi32(m, ep.col_term + c));
  if (ep.out_type == DType::S32) {
    _mm512_mask_storeu_epi32(static_cast<int32_t*>(y) + c, m, acc);
    return;
  }
  const __m512i q = requant16(acc, c, m, ep);
  _mm512_mask_cvtepi32_storeu_epi8(static_cast<uint8_t*>(y) + c, m, q);
}

template <bool kU8, int kTaps>
void run_t(const DwPacked& p, const void* const* ind, int pixels, void* y, ptrdiff_t y_stride, const DwEpilogue& ep) {
  const int taps = kTaps > 0 ? kTaps : p.taps;
  const int pairs = (taps + 1) / 2;
  const int C = p.C;
  const size_t osz = ep.out_type == DType::S32 ? 4 : 1;
  const __m512i idx0 = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i idx1 = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  for (int px = 0; px < pixels; ++px) {
    const uint8_t* const* I = reinterpret_cast<const uint8_t* const*>(ind + static_cast<size_t>(px) * taps);
    void* yp = static_cast<uint8_t*>(y) + static_cast<size_t>(px) * y_stride * osz;
    const int16_t* w = p.wp.data();
    for (int c0 = 0; c0 < C; c0 += kCb) {
      const int n = C - c0 < kCb ? C - c0 : kCb;
      const __mmask32 m = n == kCb ? ~__mmask32{0} : ((__mmask32{1} << n) - 1);
      __m512i acc_lo = _mm512_setzero_si512(), acc_hi = _mm512_setzero_si512();
      for (int pr = 0; pr < pairs; ++pr) {
        const int t0 = 2 * pr;
        const int t1 = t0 + 1 < taps ? t0 + 1 : t0;  // odd taps: zero-weight partner
        const __m512i a = load_x<kU8>(I[t0] + c0, m);
        const __m512i b = load_x<kU8>(I[t1] + c0, m);
        acc_lo = _mm512_add_epi32(acc_lo, _mm512_madd_epi16(_mm512_unpacklo_epi16(a, b), _mm512_loadu_si512(w)));
        acc_hi = _mm512_add_epi32(acc_hi, _mm512_madd_epi16(_mm512_unpackhi_epi16(a, b), _mm512_loadu_si512(w + kCb)));
        w += 2 * kCb;
      }
      const __m512i r0 = _mm512_permutex2var_epi32(acc_lo, idx0, acc_hi);  // channels c0 .. c0+15
      const __m512i r1 = _mm512_permutex2var_epi32(acc_lo, idx1, acc_hi);  // channels c0+16 .. c0+31
      store16(r0, c0, static_cast<__mmask16>(m), ep, yp);
      if (n > 16) store16(r1, c0 + 16, static_cast<__mmask16>(m >> 16), ep, yp);
    }
  }
}

template <bool kU8>
void run_x(const DwPacked& p, const void* const* ind, int pixels, void* y, ptrdiff_t ys, const DwEpilogue& ep) {
  switch (p.taps) {
    case 9: return run_t<kU8, 9>(p, ind, pixels, y, ys, ep);    // 3x3 fast path
    case 25: return run_t<kU8, 25>(p, ind, pixels, y, ys, ep);  // 5x5 fast path
    default: return run_t<kU8, 0>(p, ind, pixels, y, ys, ep);
  }
}

void run(const DwPacked& p, const void* const* ind, int pixels, DType x_type, void* y, ptrdiff_t y_stride,
         const DwEpilogue& ep) {
  if (x_type == DType::U8)
    run_x<true>(p, ind, pixels, y, y_stride, ep);
  else
    run_x<false>(p, ind, pixels, y, y_stride, ep);
}

void pack(DwPacked& p) { dw_pack_pairs(p, kCb); }

}  // namespace

extern const DwKernel kDwAvx512 = {"avx512", cpu::has_avx512bw, pack, run, 20};

}  // namespace lowp
