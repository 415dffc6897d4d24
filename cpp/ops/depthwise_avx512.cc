// x86 AVX-512 (F/BW/VL) depthwise kernel: 32 channels per block widened to int16, tap pairs
// multiplied with vpmaddwd (exact: no saturating instruction), fused requantization of all three
// families in SIMD, bit-exact with requant/requant.h. Tails use masked loads and stores.
#include <immintrin.h>

#include "ops/depthwise.h"
#include "ops/depthwise_avx512_requant.h"
#include "runtime/cpu.h"

namespace lowp {
namespace {

constexpr int kCb = 32;

template <bool kU8>
inline __m512i load_x(const void* p, __mmask32 m) {
  const __m256i v = _mm256_maskz_loadu_epi8(m, p);
  return kU8 ? _mm512_cvtepu8_epi16(v) : _mm512_cvtepi8_epi16(v);
}

inline void store16(__m512i acc, int c, __mmask16 m, const DwEpilogue& ep, void* y) {
  acc = _mm512_add_epi32(acc, _mm512_maskz_loadu_epi32(m, ep.col_term + c));
  if (ep.out_type == DType::S32) {
    _mm512_mask_storeu_epi32(static_cast<int32_t*>(y) + c, m, acc);
    return;
  }
  const __m512i q = dw512::requant16(acc, c, m, ep);
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

}  // namespace

void dw_run_avx512(const DwPacked& p, const void* const* ind, int pixels, DType x_type, void* y, ptrdiff_t y_stride,
                   const DwEpilogue& ep) {
  if (x_type == DType::U8)
    run_x<true>(p, ind, pixels, y, y_stride, ep);
  else
    run_x<false>(p, ind, pixels, y, y_stride, ep);
}

void dw_pack_avx512(DwPacked& p) { dw_pack_pairs(p, kCb); }

extern const DwKernel kDwAvx512 = {"avx512", cpu::has_avx512bw, dw_pack_avx512, dw_run_avx512, 20};

}  // namespace lowp
