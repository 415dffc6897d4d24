// x86 AVX2 depthwise kernel: 16 channels per block widened to int16, tap pairs multiplied with
// vpmaddwd (exact), HalfEven requantization in SIMD; the fixed-point families and channel tails
// (C % 16) go through the scalar helpers of depthwise_ref.cc, so they are bit-exact by construction.
#include <immintrin.h>

#include "ops/depthwise.h"
#include "runtime/cpu.h"

namespace lowp {
namespace {

constexpr int kCb = 16;

template <bool kU8>
inline __m256i load_x(const uint8_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return kU8 ? _mm256_cvtepu8_epi16(v) : _mm256_cvtepi8_epi16(v);
}

inline __m256i half_even8(__m256i acc, const float* scale, const DwEpilogue& ep) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(scale));
  f = _mm256_max_ps(f, _mm256_set1_ps(static_cast<float>(ep.qmin - ep.zp)));
  f = _mm256_min_ps(f, _mm256_set1_ps(static_cast<float>(ep.qmax - ep.zp)));
  return _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_set1_epi32(ep.zp));  // MXCSR: nearest even
}

template <bool kU8, int kTaps>
void run_t(const DwPacked& p, const void* const* ind, int pixels, DType x_type, void* y, ptrdiff_t y_stride,
           const DwEpilogue& ep) {
  const int taps = kTaps > 0 ? kTaps : p.taps;
  const int pairs = (taps + 1) / 2;
  const int C = p.C;
  const int Cfull = C / kCb * kCb;
  const size_t osz = ep.out_type == DType::S32 ? 4 : 1;
  const bool simd_requant = ep.out_type != DType::S32 && ep.rounding == Rounding::HalfEven;
  alignas(32) int32_t tmp[kCb];
  for (int px = 0; px < pixels; ++px) {
    const void* const* Iv = ind + static_cast<size_t>(px) * taps;
    const uint8_t* const* I = reinterpret_cast<const uint8_t* const*>(Iv);
    void* yp = static_cast<uint8_t*>(y) + static_cast<size_t>(px) * y_stride * osz;
    const int16_t* w = p.wp.data();
    for (int c0 = 0; c0 < Cfull; c0 += kCb) {
      __m256i acc_lo = _mm256_setzero_si256(), acc_hi = _mm256_setzero_si256();
      for (int pr = 0; pr < pairs; ++pr) {
        const int t0 = 2 * pr;
        const int t1 = t0 + 1 < taps ? t0 + 1 : t0;
        const __m256i a = load_x<kU8>(I[t0] + c0);
        const __m256i b = load_x<kU8>(I[t1] + c0);
        acc_lo = _mm256_add_epi32(acc_lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b),
                                                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w))));
        acc_hi = _mm256_add_epi32(acc_hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b),
                                                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + kCb))));
        w += 2 * kCb;
      }
      __m256i r0 = _mm256_permute2x128_si256(acc_lo, acc_hi, 0x20);  // channels c0 .. c0+7
      __m256i r1 = _mm256_permute2x128_si256(acc_lo, acc_hi, 0x31);  // channels c0+8 .. c0+15
      r0 = _mm256_add_epi32(r0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ep.col_term + c0)));
      r1 = _mm256_add_epi32(r1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ep.col_term + c0 + 8)));
      if (simd_requant) {
        r0 = half_even8(r0, ep.scale + c0, ep);
        r1 = half_even8(r1, ep.scale + c0 + 8, ep);
        __m256i p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(r0, r1), 0xD8);  // 16 x int16 in order
        __m256i p8 = ep.out_type == DType::U8 ? _mm256_packus_epi16(p16, p16) : _mm256_packs_epi16(p16, p16);
        const __m128i v = _mm_unpacklo_epi64(_mm256_castsi256_si128(p8), _mm256_extracti128_si256(p8, 1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint8_t*>(yp) + c0), v);
      } else if (ep.out_type == DType::S32) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(static_cast<int32_t*>(yp) + c0), r0);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(static_cast<int32_t*>(yp) + c0 + 8), r1);
      } else {
        // Fixed-point families: accumulators already include col_term; scalar requantization.
        _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), r0);
        _mm256_store_si256(reinterpret_cast<__m256i*>(tmp + 8), r1);
        dw_store_ref(tmp, c0, kCb, ep, yp);
      }
    }
    if (Cfull < C) dw_pixel_ref(p, Iv, Cfull, C, x_type, yp, ep);
  }
}

template <bool kU8>
void run_x(const DwPacked& p, const void* const* ind, int pixels, DType xt, void* y, ptrdiff_t ys, const DwEpilogue& ep) {
  switch (p.taps) {
    case 9: return run_t<kU8, 9>(p, ind, pixels, xt, y, ys, ep);
    case 25: return run_t<kU8, 25>(p, ind, pixels, xt, y, ys, ep);
    default: return run_t<kU8, 0>(p, ind, pixels, xt, y, ys, ep);
  }
}

void run(const DwPacked& p, const void* const* ind, int pixels, DType x_type, void* y, ptrdiff_t y_stride,
         const DwEpilogue& ep) {
  if (x_type == DType::U8)
    run_x<true>(p, ind, pixels, x_type, y, y_stride, ep);
  else
    run_x<false>(p, ind, pixels, x_type, y, y_stride, ep);
}

void pack(DwPacked& p) { dw_pack_pairs(p, kCb); }

}  // namespace

extern const DwKernel kDwAvx2 = {"avx2", cpu::has_avx2, pack, run, 10};

}  // namespace lowp
