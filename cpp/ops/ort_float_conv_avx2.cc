// AVX2 twins of ort_float_blocks_ref (ops/ort_float_conv.h): each 16-channel block as two 8-lane halves,
// each lane the same FMA chain (vfmadd231ps rounds once, like std::fma), blocks added in order; of
// ort_float_check_ref; and of ort_float_depthwise_ref (8 channels per vector).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "ops/ort_float_conv.h"

namespace lowp {
namespace ops {

void ort_float_blocks_avx2(const OrtFloatConv& p, const float* const* columns, const int* m0, int nblocks, float* y) {
  const int K = p.K, Mp = p.Mpad;
  const float* wt = p.wt.data();
  for (int b0 = 0; b0 < nblocks; b0 += 4) {
    const int nb = std::min(4, nblocks - b0);
    __m256 c[8], a[8];
    for (int k0 = 0; k0 < K; k0 += p.stride_k) {
      const int k1 = std::min(K, k0 + p.stride_k);
      for (int i = 0; i < 8; ++i) a[i] = _mm256_setzero_ps();
      const float* const* col = columns + b0;
      for (int k = k0; k < k1; ++k) {
        const float* row = wt + static_cast<size_t>(k) * Mp;
        for (int i = 0; i < nb; ++i) {
          const __m256 xb = _mm256_set1_ps(col[i][k]);
          a[2 * i] = _mm256_fmadd_ps(_mm256_loadu_ps(row + m0[b0 + i]), xb, a[2 * i]);
          a[2 * i + 1] = _mm256_fmadd_ps(_mm256_loadu_ps(row + m0[b0 + i] + 8), xb, a[2 * i + 1]);
        }
      }
      for (int i = 0; i < 2 * nb; ++i) c[i] = k0 == 0 ? a[i] : _mm256_add_ps(c[i], a[i]);
    }
    for (int i = 0; i < nb; ++i) {
      _mm256_storeu_ps(y + 16 * (b0 + i), c[2 * i]);
      _mm256_storeu_ps(y + 16 * (b0 + i) + 8, c[2 * i + 1]);
    }
  }
}

int ort_float_check_avx2(const OrtFloatConv& p, const int32_t* a, int m0, int m1, float fl1, float fmx, void* y_row,
                         int* flagged) {
  const bool s8out = p.y_type == DType::S8;
  const __m256 lo = _mm256_set1_ps(-4194304.f), hi = _mm256_set1_ps(4194304.f), magic = _mm256_set1_ps(12582912.f);
  const __m256 half = _mm256_set1_ps(0.5f), vg = _mm256_set1_ps(p.g), vl1 = _mm256_set1_ps(fl1),
               vmx = _mm256_set1_ps(fmx), absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i zy = _mm256_set1_epi32(p.zy), qmin = _mm256_set1_epi32(p.qmin), qmax = _mm256_set1_epi32(p.qmax),
                one = _mm256_set1_epi32(1);
  int nf = 0, m = m0;
  for (; m + 8 <= m1; m += 8) {
    __m256 t = _mm256_add_ps(
        _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + m))),
                      _mm256_loadu_ps(&p.sc[m])),
        _mm256_loadu_ps(&p.bt[m]));
    t = _mm256_min_ps(_mm256_max_ps(t, lo), hi);
    const __m256 rr = _mm256_sub_ps(_mm256_add_ps(t, magic), magic);
    const __m256 d = _mm256_and_ps(_mm256_sub_ps(t, rr), absmask);
    const __m256 S = _mm256_min_ps(_mm256_mul_ps(vl1, _mm256_loadu_ps(&p.maxw[m])),
                                   _mm256_mul_ps(vmx, _mm256_loadu_ps(&p.l1w[m])));
    const __m256 B = _mm256_add_ps(_mm256_mul_ps(vg, S), _mm256_loadu_ps(&p.slack[m]));
    const __m256i qr = _mm256_add_epi32(_mm256_cvtps_epi32(rr), zy);
    const __m256i q = _mm256_min_epi32(_mm256_max_epi32(qr, qmin), qmax);
    alignas(32) int32_t qs[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(qs), q);
    for (int i = 0; i < 8; ++i) {
      if (s8out)
        static_cast<int8_t*>(y_row)[m + i] = static_cast<int8_t>(qs[i]);
      else
        static_cast<uint8_t*>(y_row)[m + i] = static_cast<uint8_t>(qs[i]);
    }
    const int near = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_sub_ps(half, d), B, _CMP_LE_OQ));
    if (near == 0) continue;
    const __m256i cl = _mm256_or_si256(_mm256_cmpgt_epi32(qr, qmax),  // qr - 1 >= qmax
                                       _mm256_cmpgt_epi32(qmin, qr));  // qr + 1 <= qmin
    const int clamped = _mm256_movemask_ps(_mm256_cmp_ps(B, half, _CMP_LT_OQ)) & _mm256_movemask_ps(_mm256_castsi256_ps(cl));
    unsigned bits = static_cast<unsigned>(near & ~clamped);
    while (bits) {
      flagged[nf++] = m + __builtin_ctz(bits);
      bits &= bits - 1;
    }
  }
  (void)one;
  if (m < m1) nf += ort_float_check_ref(p, a, m, m1, fl1, fmx, y_row, flagged + nf);
  return nf;
}

namespace {

// Dequantized input of 8 channels at byte offset off (tap < 0: the zero padding), as xtab holds it:
// float(q - zx) * xs, one rounding (q - zx is exact in float).
inline __m256 dq8(const uint8_t* x, int64_t off, bool s8, __m256i zx, __m256 xs) {
  if (off < 0) return _mm256_setzero_ps();
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + off));
  const __m256i q = s8 ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, zx)), xs);
}

}  // namespace

void ort_float_depthwise_avx2(const OrtFloatConv& p, const void* x, void* y, int64_t p0, int64_t p1) {
  const int C = p.C, taps = p.KH * p.KW, chunk = p.stride_k, Mp = p.Mpad;
  const int64_t opix = static_cast<int64_t>(p.OH) * p.OW;
  const bool s8 = p.x_type == DType::S8, s8out = p.y_type == DType::S8;
  const uint8_t* xb = static_cast<const uint8_t*>(x);
  const __m256i zx = _mm256_set1_epi32(p.zx), zy = _mm256_set1_epi32(p.zy);
  const __m256i qmin = _mm256_set1_epi32(p.qmin), qmax = _mm256_set1_epi32(p.qmax);
  const __m256 xs = _mm256_set1_ps(p.xs), ys = _mm256_set1_ps(p.ys);
  // QuantizeLinear's clamp to the output type less the zero point (quantize_one), then [qmin, qmax].
  const int32_t tmin = s8out ? -128 : 0, tmax = s8out ? 127 : 255;
  const __m256 fl = _mm256_set1_ps(static_cast<float>(tmin - p.zy)), fh = _mm256_set1_ps(static_cast<float>(tmax - p.zy));
  const int full = C / 8 * 8;  // channels in whole vectors; the rest through the scalar reference
  thread_local std::vector<int64_t> tap;
  tap.resize(taps);
  for (int64_t px = p0; px < p1; ++px) {
    const int64_t r = px % opix;
    ort_float_pixel_taps(p, px / opix, r / p.OW, r % p.OW, tap.data());
    for (int c = 0; c < full; c += 8) {
      // sum_m1 (ops/ort_float_conv.cc) in every lane: K chunks; in each, products 4 at a time summed
      // left to right into t, then t + c; then a pair; then one product + c.
      __m256 acc = _mm256_setzero_ps();
      auto prod = [&](int k) {
        return _mm256_mul_ps(_mm256_loadu_ps(p.wt.data() + static_cast<size_t>(k) * Mp + c),
                             dq8(xb, tap[k] < 0 ? -1 : tap[k] + c, s8, zx, xs));
      };
      for (int k0 = 0; k0 < taps; k0 += chunk) {
        const int k1 = std::min(taps, k0 + chunk);
        int k = k0;
        for (; k + 4 <= k1; k += 4) {
          __m256 t = prod(k);
          t = _mm256_add_ps(t, prod(k + 1));
          t = _mm256_add_ps(t, prod(k + 2));
          t = _mm256_add_ps(t, prod(k + 3));
          acc = _mm256_add_ps(t, acc);
        }
        if (k1 - k >= 2) {
          acc = _mm256_add_ps(_mm256_add_ps(prod(k), prod(k + 1)), acc);
          k += 2;
        }
        if (k < k1) acc = _mm256_add_ps(prod(k), acc);
      }
      // + bias, / ys, max / min against the clamp bounds (NaN -> the lower one, as MAXPS), cvtps2dq
      // (half to even), + zy, then the fused activation's range.
      __m256 v = _mm256_div_ps(_mm256_add_ps(acc, _mm256_loadu_ps(p.bf.data() + c)), ys);
      v = _mm256_min_ps(_mm256_max_ps(v, fl), fh);
      __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(v), zy);
      q = _mm256_min_epi32(_mm256_max_epi32(q, qmin), qmax);
      // q lies in the output type's range: the saturating packs are exact.
      const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
      const __m128i bytes = s8out ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(static_cast<uint8_t*>(y) + px * C + c), bytes);
    }
    if (full < C) {
      std::vector<float> col(taps);
      for (int c = full; c < C; ++c) {
        for (int t = 0; t < taps; ++t) col[t] = tap[t] >= 0 ? p.xtab[xb[tap[t] + c]] : 0.f;
        const int32_t q = ort_float_conv_one(p, col.data(), c);
        if (s8out)
          static_cast<int8_t*>(y)[px * C + c] = static_cast<int8_t>(q);
        else
          static_cast<uint8_t*>(y)[px * C + c] = static_cast<uint8_t>(q);
      }
    }
  }
}

}  // namespace ops
}  // namespace lowp
