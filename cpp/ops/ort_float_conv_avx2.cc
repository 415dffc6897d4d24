// AVX2 twins of ort_float_blocks_ref (ops/ort_float_conv.h): each 16-channel block as two 8-lane halves,
// each lane the same FMA chain (vfmadd231ps rounds once, like std::fma), blocks added in order; of
// ort_float_check_ref; and of ort_float_depthwise_ref (8 channels per vector).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "ops/ort_float_conv.h"
#include "ops/ort_float_direct_walk.h"
#include "ops/ort_float_quant_avx2.h"
#include "lowp/types.h"

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
  const __m256i zx = _mm256_set1_epi32(p.zx);
  const __m256 xs = _mm256_set1_ps(p.xs);
  const OrtQuantizeAvx2 quant(p.ys, p.zy, p.qmin, p.qmax);
  const int full = C / 8 * 8;  // channels in whole vectors; the rest through the scalar reference
  thread_local std::vector<int64_t> tap;
  thread_local std::vector<float> col;  // the scalar tail's column
  tap.resize(taps);
  col.resize(taps);
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
      // + bias, then QuantizeLinear and the fused activation's range
      ort_store8_avx2(static_cast<uint8_t*>(y) + px * C + c, quant(_mm256_add_ps(acc, _mm256_loadu_ps(p.bf.data() + c))),
                      s8out);
    }
    if (full < C) {
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

namespace {

// DequantizeLinear of len raw bytes: float(q - zx) * xs (= p.xtab), 8 at a time, the tail from xtab.
inline void dequant_run8(const OrtFloatConv& p, const uint8_t* src, int64_t len, float* d) {
  const bool s8 = p.x_type == DType::S8;
  const __m256i zx = _mm256_set1_epi32(p.zx);
  const __m256 xs = _mm256_set1_ps(p.xs);
  int64_t c = 0;
  for (; c + 8 <= len; c += 8) _mm256_storeu_ps(d + c, dq8(src, c, s8, zx, xs));
  for (; c < len; ++c) d[c] = p.xtab[src[c]];
}

// One panel of NP (<= 6) pixels x 16 channels over K values [k0, k1): FMA chains from 0 in k order; yin: the
// earlier blocks' sums (added), yout: this panel's running sums, or (e != nullptr) the last block's epilogue.
struct DirectEpi2 {
  const float* bias;  // 16 floats (zero past M)
  uint8_t* y;         // output of the panel's first pixel, its first channel (row stride M)
  int M, np, width;   // row stride, valid pixels, valid channels (<= 16)
  bool s8out;
  const OrtQuantizeAvx2* quant;
};

template <int NP>
inline void tile2(const float* const* px, const int32_t* off, const float* w, int kb, const float* yin, float* yout,
                  const DirectEpi2* e) {
  __m256 acc[NP][2];
  for (int i = 0; i < NP; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int k = 0; k < kb; ++k) {
    const __m256 w0 = _mm256_loadu_ps(w + 32 * k), w1 = _mm256_loadu_ps(w + 32 * k + 8);
    const int o = off[k];
    for (int i = 0; i < NP; ++i) {
      const __m256 b = _mm256_broadcast_ss(px[i] + o);
      acc[i][0] = _mm256_fmadd_ps(w0, b, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(w1, b, acc[i][1]);
    }
  }
  if (yin)
    for (int i = 0; i < NP; ++i) {
      acc[i][0] = _mm256_add_ps(_mm256_loadu_ps(yin + 16 * i), acc[i][0]);
      acc[i][1] = _mm256_add_ps(_mm256_loadu_ps(yin + 16 * i + 8), acc[i][1]);
    }
  if (!e) {
    for (int i = 0; i < NP; ++i) {
      _mm256_storeu_ps(yout + 16 * i, acc[i][0]);
      _mm256_storeu_ps(yout + 16 * i + 8, acc[i][1]);
    }
    return;
  }
  const __m256 b0 = _mm256_loadu_ps(e->bias), b1 = _mm256_loadu_ps(e->bias + 8);
  for (int i = 0; i < NP && i < e->np; ++i) {
    uint8_t* dst = e->y + static_cast<size_t>(i) * e->M;
    alignas(16) uint8_t tmp[16];
    uint8_t* out = e->width == 16 ? dst : tmp;
    ort_store8_avx2(out, (*e->quant)(_mm256_add_ps(acc[i][0], b0)), e->s8out);
    ort_store8_avx2(out + 8, (*e->quant)(_mm256_add_ps(acc[i][1], b1)), e->s8out);
    if (out == tmp) std::memcpy(dst, tmp, static_cast<size_t>(e->width));
  }
}

}  // namespace

void ort_float_dequant_padded_rows_avx2(const OrtFloatConv& p, const void* x, int64_t r0, int64_t r1, float* xpad,
                                        int64_t row0) {
  dequant_padded_rows(p, x, r0, r1, xpad, row0,
                      [&](const uint8_t* src, int64_t len, float* dst) { dequant_run8(p, src, len, dst); });
}

void ort_float_direct_avx2(const OrtFloatConv& p, const float* xpad, const void* x, void* y, int64_t p0, int64_t p1,
                           int t0, int t1, int64_t row0) {
  constexpr int kChunk = kOrtFloatDirectChunk, NP = 6;
  static_assert(kChunk % NP == 0, "whole panels per chunk");
  const int K = p.K, C = p.C, sk = p.stride_k;
  const int tiles = (p.M + 31) / 32;
  if (t1 < 0 || t1 > tiles) t1 = tiles;
  alignas(32) float ybuf[kChunk * 16];  // running sums of the K blocks before the last, per panel row
  alignas(32) float bias[16];
  const float* px[kChunk];
  thread_local std::vector<float> xcbuf;  // pointwise convs without xpad: each chunk's pixels dequantized here
  float* xc = nullptr;
  if (!xpad) {
    LOWP_CHECK(ort_float_direct_pointwise(p), "ort float direct: no dequantized input for a padded or KxK conv");
    xcbuf.resize(static_cast<size_t>(kChunk) * C);
    xc = xcbuf.data();
  }
  DirectEpi2 ep{};
  ep.M = p.M;
  ep.s8out = p.y_type == DType::S8;
  const OrtQuantizeAvx2 quant(p.ys, p.zy, p.qmin, p.qmax);
  ep.quant = &quant;
  DirectPixelWalk walk(p, p0);
  for (int64_t q0 = p0; q0 < p1; q0 += kChunk) {
    const int np = static_cast<int>(std::min<int64_t>(p1 - q0, kChunk));
    walk.next<kChunk>(p, xpad, x, xc, row0, np, px,
                      [&](const uint8_t* src, int64_t len, float* dst) { dequant_run8(p, src, len, dst); });
    for (int t = t0; t < t1; ++t) {
      for (int h = 0; h < 2; ++h) {
        const int m0 = 32 * t + 16 * h;
        if (m0 >= p.M) break;
        const int width = std::min(16, p.M - m0);
        for (int c = 0; c < 16; ++c) bias[c] = c < width ? p.bf[static_cast<size_t>(m0 + c)] : 0.f;
        ep.bias = bias;
        ep.width = width;
        const float* w = p.wpk.data() + static_cast<size_t>(t) * K * 32 + 16 * h;
        for (int k0 = 0; k0 < K; k0 += sk) {
          const int k1 = std::min(K, k0 + sk);
          const bool first = k0 == 0, last = k1 == K;
          for (int j = 0; j * NP < np; ++j) {
            float* yb = ybuf + 16 * NP * j;
            ep.y = static_cast<uint8_t*>(y) + (q0 + NP * j) * p.M + m0;
            ep.np = std::min(NP, np - NP * j);
            tile2<NP>(px + NP * j, p.koff.data() + k0, w + static_cast<size_t>(k0) * 32, k1 - k0, first ? nullptr : yb,
                      yb, last ? &ep : nullptr);
          }
        }
      }
    }
  }
}

}  // namespace ops
}  // namespace lowp
