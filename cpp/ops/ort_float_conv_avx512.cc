// AVX-512 twin of ort_float_blocks_ref (ops/ort_float_conv.h): 16 output channels per vector, each lane
// the same FMA chain (vfmadd231ps rounds once, like std::fma) over K blocks, blocks added in order.
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "ops/ort_float_conv.h"
#include "ops/ort_float_direct_walk.h"
#include "ops/ort_float_quot_avx512.h"

namespace lowp {
namespace ops {

namespace {

// One K block [k0, k1) of 8 chains with the accumulators in registers (a fixed count: runtime-indexed
// arrays spill); y (8 x 16) = the block's sums (first block) or y + them (later blocks), as MLAS adds
// each K block's sums to C.
inline void blocks8(const float* wt, int Mp, int k0, int k1, bool first, const float* const* col, const int* m0,
                    float* y) {
  const float *x0 = col[0], *x1 = col[1], *x2 = col[2], *x3 = col[3], *x4 = col[4], *x5 = col[5], *x6 = col[6],
              *x7 = col[7];
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (int k = k0; k < k1; ++k) {
    const float* row = wt + static_cast<size_t>(k) * Mp;
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(row + m0[0]), _mm512_set1_ps(x0[k]), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(row + m0[1]), _mm512_set1_ps(x1[k]), a1);
    a2 = _mm512_fmadd_ps(_mm512_loadu_ps(row + m0[2]), _mm512_set1_ps(x2[k]), a2);
    a3 = _mm512_fmadd_ps(_mm512_loadu_ps(row + m0[3]), _mm512_set1_ps(x3[k]), a3);
    a4 = _mm512_fmadd_ps(_mm512_loadu_ps(row + m0[4]), _mm512_set1_ps(x4[k]), a4);
    a5 = _mm512_fmadd_ps(_mm512_loadu_ps(row + m0[5]), _mm512_set1_ps(x5[k]), a5);
    a6 = _mm512_fmadd_ps(_mm512_loadu_ps(row + m0[6]), _mm512_set1_ps(x6[k]), a6);
    a7 = _mm512_fmadd_ps(_mm512_loadu_ps(row + m0[7]), _mm512_set1_ps(x7[k]), a7);
  }
  const __m512 acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
  for (int i = 0; i < 8; ++i)
    _mm512_storeu_ps(y + 16 * i, first ? acc[i] : _mm512_add_ps(_mm512_loadu_ps(y + 16 * i), acc[i]));
}

}  // namespace

void ort_float_blocks_avx512(const OrtFloatConv& p, const float* const* columns, const int* m0, int nblocks,
                             float* y) {
  // K blocks outermost: one block's weight rows (stride_k x Mpad floats) stay in cache for all pairs.
  alignas(64) float tmp[128];
  for (int k0 = 0; k0 < p.K; k0 += p.stride_k) {
    const int k1 = std::min(p.K, k0 + p.stride_k);
    for (int b0 = 0; b0 < nblocks; b0 += 8) {
      const int nb = std::min(8, nblocks - b0);
      if (nb == 8) {
        blocks8(p.wt.data(), p.Mpad, k0, k1, k0 == 0, columns + b0, m0 + b0, y + 16 * b0);
        continue;
      }
      // a short tail: repeat its last pair to fill the 8 chains, keep the first nb results
      const float* col[8];
      int mm[8];
      for (int i = 0; i < 8; ++i) {
        col[i] = columns[b0 + std::min(i, nb - 1)];
        mm[i] = m0[b0 + std::min(i, nb - 1)];
      }
      if (k0 != 0) std::copy(y + 16 * b0, y + 16 * (b0 + nb), tmp);
      blocks8(p.wt.data(), p.Mpad, k0, k1, k0 == 0, col, mm, tmp);
      std::copy(tmp, tmp + 16 * nb, y + 16 * b0);
    }
  }
}

void ort_float_full_avx512(const OrtFloatConv& p, const float* const* columns, int ncols, float* y) {
  const int Mp = p.Mpad;
  const float* wt = p.wt.data();
  for (int k0 = 0; k0 < p.K; k0 += p.stride_k) {
    const int k1 = std::min(p.K, k0 + p.stride_k);
    const bool first = k0 == 0;
    for (int i0 = 0; i0 < ncols; i0 += 4) {
      const int ni = std::min(4, ncols - i0);
      const float* x0 = columns[i0];
      const float* x1 = columns[i0 + std::min(1, ni - 1)];
      const float* x2 = columns[i0 + std::min(2, ni - 1)];
      const float* x3 = columns[i0 + std::min(3, ni - 1)];
      for (int m0 = 0; m0 < Mp; m0 += 32) {
        __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
               a31 = a00;
        for (int k = k0; k < k1; ++k) {
          const float* row = wt + static_cast<size_t>(k) * Mp + m0;
          const __m512 w0 = _mm512_loadu_ps(row), w1 = _mm512_loadu_ps(row + 16);
          const __m512 b0 = _mm512_set1_ps(x0[k]), b1 = _mm512_set1_ps(x1[k]), b2 = _mm512_set1_ps(x2[k]),
                       b3 = _mm512_set1_ps(x3[k]);
          a00 = _mm512_fmadd_ps(w0, b0, a00);
          a01 = _mm512_fmadd_ps(w1, b0, a01);
          a10 = _mm512_fmadd_ps(w0, b1, a10);
          a11 = _mm512_fmadd_ps(w1, b1, a11);
          a20 = _mm512_fmadd_ps(w0, b2, a20);
          a21 = _mm512_fmadd_ps(w1, b2, a21);
          a30 = _mm512_fmadd_ps(w0, b3, a30);
          a31 = _mm512_fmadd_ps(w1, b3, a31);
        }
        const __m512 acc[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
        for (int i = 0; i < ni; ++i)
          for (int h = 0; h < 2; ++h) {
            float* dst = y + static_cast<size_t>(i0 + i) * Mp + m0 + 16 * h;
            _mm512_storeu_ps(dst, first ? acc[i][h] : _mm512_add_ps(_mm512_loadu_ps(dst), acc[i][h]));
          }
      }
    }
  }
}

namespace {

// The direct path's epilogue, fused into the register tile of a pixel panel's last K block: + bias, then
// onnxruntime's QuantizeLinear four vectors at a time (ort_quantize4_avx512), stored as bytes.
struct DirectEpi {
  const float* bias;  // p.bf + m0
  uint8_t* y;         // output of the panel's first pixel, channel m0 (8-bit, row stride M)
  int M, np;          // row stride; valid pixels of the panel
  __mmask16 mk[4];    // valid channels of the tile's 16-channel vectors
  __mmask64 mrow;     // valid bytes of a pixel's row (16 NV channels)
  const OrtQuantizeAvx512* q;
};

// A register tile: NP pixels x NV 16-channel vectors over one K block of kb values. Pixel i's k-th value of
// onnxruntime's K order (c, kh, kw) is px[i][off[k]] (px[i]: the pixel's top-left tap in the padded dequantized
// input); w: kb rows of 32 floats (a 32-channel weight tile; vectors 2 and 3 of NV = 4 from the next tile, tstride
// floats on). Each output an FMA chain from 0 in k order, as MLAS; yin (NP rows of 16 NV floats): the earlier
// blocks' sums, added to this block's (MLAS adds each K block's sums to C in order); then either yout (the running
// sums) or, for the last block, the fused epilogue.
// Pixel i of an evenly spaced panel (px[i] = px[0] + i step) at q + i step bytes, from odd multiples of the step
// held in registers and x86 index scales 1, 2, 4, 8: a panel of 12 needs 6 of them, not 12 pixel pointers.
struct Strides {
  int64_t s1, s3, s5, s7, s9, s11;  // bytes
};
template <int I>
inline const float* pixel_at(const char* q, const Strides& s) {
  static_assert(I >= 0 && I < 12, "panels of up to 12 pixels");
  switch (I) {
    case 0: return reinterpret_cast<const float*>(q);
    case 1: return reinterpret_cast<const float*>(q + s.s1);
    case 2: return reinterpret_cast<const float*>(q + 2 * s.s1);
    case 3: return reinterpret_cast<const float*>(q + s.s3);
    case 4: return reinterpret_cast<const float*>(q + 4 * s.s1);
    case 5: return reinterpret_cast<const float*>(q + s.s5);
    case 6: return reinterpret_cast<const float*>(q + 2 * s.s3);
    case 7: return reinterpret_cast<const float*>(q + s.s7);
    case 8: return reinterpret_cast<const float*>(q + 8 * s.s1);
    case 9: return reinterpret_cast<const float*>(q + s.s9);
    case 10: return reinterpret_cast<const float*>(q + 2 * s.s5);
    default: return reinterpret_cast<const float*>(q + s.s11);
  }
}

template <int NP, int NV, int I = 0>
inline void fma_pixels_uniform(const char* q, const Strides& s, const __m512* wv, __m512 (*acc)[NV]) {
  if constexpr (I < NP) {
    const __m512 b = _mm512_set1_ps(*pixel_at<I>(q, s));
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[I][v] = _mm512_fmadd_ps(wv[v], b, acc[I][v]);
    fma_pixels_uniform<NP, NV, I + 1>(q, s, wv, acc);
  }
}

// step > 0: the panel's pixels are evenly spaced, px[i] = px[0] + i step floats (checked by the caller).
template <int NP, int NV>
inline void tile(const float* const* px, const int32_t* off, const float* w, size_t tstride, int kb, const float* yin,
                 float* yout, const DirectEpi* e, int64_t step = 0) {
  static_assert(NV == 1 || NV == 2 || NV == 4, "1, 2 or 4 vectors");
  static_assert(NP % (4 / NV) == 0, "the epilogue packs 4 / NV pixels at a time");
  __m512 acc[NP][NV];
  const float* x[NP];
#pragma GCC unroll 16
  for (int i = 0; i < NP; ++i) {
    x[i] = px[i];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  }
  const float* w2 = w + tstride;
  if (NP <= 12 && step > 0) {
    const int64_t b = step * static_cast<int64_t>(sizeof(float));
    const Strides s{b, 3 * b, 5 * b, 7 * b, 9 * b, 11 * b};
    const char* x0 = reinterpret_cast<const char*>(x[0]);
    for (int k = 0; k < kb; ++k) {
      __m512 wv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) wv[v] = _mm512_loadu_ps((v < 2 ? w : w2) + 32 * k + 16 * (v & 1));
      fma_pixels_uniform<(NP <= 12 ? NP : 12), NV>(x0 + static_cast<int64_t>(off[k]) * 4, s, wv, acc);
    }
  } else {
    for (int k = 0; k < kb; ++k) {
      __m512 wv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) wv[v] = _mm512_loadu_ps((v < 2 ? w : w2) + 32 * k + 16 * (v & 1));
      const int o = off[k];
#pragma GCC unroll 16
      for (int i = 0; i < NP; ++i) {
        const __m512 b = _mm512_set1_ps(x[i][o]);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(wv[v], b, acc[i][v]);
      }
    }
  }
  if (yin) {
#pragma GCC unroll 16
    for (int i = 0; i < NP; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v)
        acc[i][v] = _mm512_add_ps(_mm512_loadu_ps(yin + 16 * (NV * i + v)), acc[i][v]);
  }
  if (!e) {
#pragma GCC unroll 16
    for (int i = 0; i < NP; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm512_storeu_ps(yout + 16 * (NV * i + v), acc[i][v]);
    return;
  }
  __m512 bias[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) bias[v] = _mm512_maskz_loadu_ps(e->mk[v], e->bias + 16 * v);
  if (NV == 4) {
#pragma GCC unroll 16
    for (int i = 0; i < NP; ++i) {
      if (i >= e->np) break;
      const __m512i r =
          ort_quantize4_avx512(*e->q, _mm512_add_ps(acc[i][0], bias[0]), _mm512_add_ps(acc[i][1 % NV], bias[1 % NV]),
                               _mm512_add_ps(acc[i][2 % NV], bias[2 % NV]), _mm512_add_ps(acc[i][3 % NV], bias[3 % NV]));
      _mm512_mask_storeu_epi8(e->y + static_cast<size_t>(i) * e->M, e->mrow, r);
    }
  } else if (NV == 2) {
    const __mmask32 m32 = static_cast<__mmask32>(e->mrow);
#pragma GCC unroll 8
    for (int i = 0; i < NP; i += 2) {
      if (i >= e->np) break;
      const __m512i r = ort_quantize4_avx512(
          *e->q, _mm512_add_ps(acc[i][0], bias[0]), _mm512_add_ps(acc[i][1 % NV], bias[1 % NV]),
          _mm512_add_ps(acc[(i + 1) % NP][0], bias[0]), _mm512_add_ps(acc[(i + 1) % NP][1 % NV], bias[1 % NV]));
      uint8_t* dst = e->y + static_cast<size_t>(i) * e->M;
      _mm256_mask_storeu_epi8(dst, m32, _mm512_castsi512_si256(r));
      if (i + 1 < e->np) _mm256_mask_storeu_epi8(dst + e->M, m32, _mm512_extracti64x4_epi64(r, 1));
    }
  } else {
    const __mmask16 m16 = static_cast<__mmask16>(e->mrow);
#pragma GCC unroll 4
    for (int i = 0; i < NP; i += 4) {
      if (i >= e->np) break;
      const __m512i r = ort_quantize4_avx512(
          *e->q, _mm512_add_ps(acc[i][0], bias[0]), _mm512_add_ps(acc[(i + 1) % NP][0], bias[0]),
          _mm512_add_ps(acc[(i + 2) % NP][0], bias[0]), _mm512_add_ps(acc[(i + 3) % NP][0], bias[0]));
      uint8_t* dst = e->y + static_cast<size_t>(i) * e->M;
      _mm_mask_storeu_epi8(dst, m16, _mm512_castsi512_si128(r));
      if (i + 1 < e->np) _mm_mask_storeu_epi8(dst + e->M, m16, _mm512_extracti32x4_epi32(r, 1));
      if (i + 2 < e->np) _mm_mask_storeu_epi8(dst + 2 * e->M, m16, _mm512_extracti32x4_epi32(r, 2));
      if (i + 3 < e->np) _mm_mask_storeu_epi8(dst + 3 * e->M, m16, _mm512_extracti32x4_epi32(r, 3));
    }
  }
}

}  // namespace

namespace {

// DequantizeLinear of len raw bytes: float(q - zx) * xs, one rounding (= p.xtab)
inline void dequant_run(const uint8_t* src, int64_t len, bool s8in, __m512i zx, __m512 xs, float* d) {
  int64_t c = 0;
  for (; c + 16 <= len; c += 16) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + c));
    const __m512i xi = s8in ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
    _mm512_storeu_ps(d + c, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(xi, zx)), xs));
  }
  if (c < len) {
    const __mmask16 m = static_cast<__mmask16>((1u << (len - c)) - 1);
    const __m128i b = _mm_maskz_loadu_epi8(m, src + c);
    const __m512i xi = s8in ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
    _mm512_mask_storeu_ps(d + c, m, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(xi, zx)), xs));
  }
}

}  // namespace

void ort_float_dequant_padded_rows_avx512(const OrtFloatConv& p, const void* x, int64_t r0, int64_t r1, float* xpad,
                                          int64_t row0) {
  const bool s8in = p.x_type == DType::S8;
  const __m512i zx = _mm512_set1_epi32(p.zx);
  const __m512 xs = _mm512_set1_ps(p.xs);
  dequant_padded_rows(p, x, r0, r1, xpad, row0,
                      [&](const uint8_t* src, int64_t len, float* dst) { dequant_run(src, len, s8in, zx, xs, dst); });
}

void ort_float_direct_avx512(const OrtFloatConv& p, const float* xpad, const void* x, void* y, int64_t p0, int64_t p1,
                             int t0, int t1, int64_t row0) {
  constexpr int kChunk = kOrtFloatDirectChunk;  // pixels: panels of 6 (4-vector tiles) or 12 (2- and 1-vector)
  const int K = p.K, C = p.C, sk = p.stride_k;
  const int64_t sw = p.sw;
  const int tiles = (p.M + 31) / 32;
  if (t1 < 0 || t1 > tiles) t1 = tiles;
  alignas(64) float ybuf[kChunk * 64];  // running sums of the K blocks before the last, per panel row
  const float* px[kChunk];
  // pointwise convs without xpad: each chunk's pixels dequantized here (cache-hot), px[i] = xc + i C
  thread_local std::vector<float> xcbuf;
  float* xc = nullptr;
  if (!xpad) {
    LOWP_CHECK(ort_float_direct_pointwise(p), "ort float direct: no dequantized input for a padded or KxK conv");
    xcbuf.resize(static_cast<size_t>(kChunk) * C);
    xc = xcbuf.data();
  }
  const bool s8in = p.x_type == DType::S8;
  const __m512i zx = _mm512_set1_epi32(p.zx);
  const __m512 xs = _mm512_set1_ps(p.xs);
  const OrtQuantizeAvx512 quant(p.ys, p.zy, p.y_type == DType::S8, p.qmin, p.qmax);
  DirectEpi ep{};
  ep.M = p.M;
  ep.q = &quant;
  DirectPixelWalk walk(p, p0);
  for (int64_t q0 = p0; q0 < p1; q0 += kChunk) {
    const int np = static_cast<int>(std::min<int64_t>(p1 - q0, kChunk));
    walk.next<kChunk>(p, xpad, x, xc, row0, np, px,
                      [&](const uint8_t* src, int64_t len, float* dst) { dequant_run(src, len, s8in, zx, xs, dst); });
    for (int t = t0; t < t1;) {
      // 64 channels (two weight tiles) where both are in range, else 32, else 16 (the last tile's)
      const int m0 = 32 * t, left = p.M - m0;
      const int nv = (t + 1 < t1 && left > 48) ? 4 : (left > 16 ? 2 : 1);
      const float* w = p.wpk.data() + static_cast<size_t>(t) * K * 32;
      ep.bias = p.bf.data() + m0;
      for (int v = 0; v < 4; ++v) {
        const int r = std::max(0, std::min(16, left - 16 * v));
        ep.mk[v] = static_cast<__mmask16>((1u << r) - 1);
      }
      const int width = std::min(left, 16 * nv);
      ep.mrow = width >= 64 ? ~__mmask64{0} : ((__mmask64{1} << width) - 1);
      const size_t tstride = static_cast<size_t>(K) * 32;
      const int64_t pstep = xc ? C : sw * C;  // floats between horizontally adjacent output pixels
      for (int k0 = 0; k0 < K; k0 += sk) {
        const int k1 = std::min(K, k0 + sk);
        const bool first = k0 == 0, last = k1 == K;
        const int32_t* off = p.koff.data() + k0;
        const float* wk = w + static_cast<size_t>(k0) * 32;
        const int NP = nv == 4 ? 6 : 12;
        for (int j = 0; j * NP < np; ++j) {
          float* yb = ybuf + 16 * nv * NP * j;
          ep.y = static_cast<uint8_t*>(y) + (q0 + NP * j) * p.M + m0;
          ep.np = std::min(NP, np - NP * j);
          const float* yin = first ? nullptr : yb;
          const DirectEpi* e = last ? &ep : nullptr;
          if (nv == 4) {
            tile<6, 4>(px + 6 * j, off, wk, tstride, k1 - k0, yin, yb, e);
            continue;
          }
          const float* const* pj = px + 12 * j;
          bool even = true;  // evenly spaced by the pixel step: 6 stride registers instead of 12 pointers
          for (int i = 1; i < 12; ++i) even = even && pj[i] == pj[0] + i * pstep;
          if (nv == 2)
            tile<12, 2>(pj, off, wk, tstride, k1 - k0, yin, yb, e, even ? pstep : 0);
          else
            tile<12, 1>(pj, off, wk, tstride, k1 - k0, yin, yb, e, even ? pstep : 0);
        }
      }
      t += nv == 4 ? 2 : 1;
    }
  }
}

void ort_float_norms_avx512(const void* x, DType t, int n, int32_t zx, int32_t& l1, int32_t& mx) {
  // |x - zx| = max(x, zx) - min(x, zx) in bytes (signed or unsigned order), 0..255 as unsigned
  const bool s8 = t == DType::S8;
  const __m512i z = _mm512_set1_epi8(static_cast<char>(zx));
  __m512i sum = _mm512_setzero_si512(), mxv = _mm512_setzero_si512();
  const uint8_t* p = static_cast<const uint8_t*>(x);
  for (int i = 0; i < n; i += 64) {
    const __mmask64 m = n - i >= 64 ? ~static_cast<__mmask64>(0) : ((static_cast<__mmask64>(1) << (n - i)) - 1);
    const __m512i v = _mm512_mask_loadu_epi8(z, m, p + i);  // masked-off lanes = zx: |zx - zx| = 0
    const __m512i d = s8 ? _mm512_sub_epi8(_mm512_max_epi8(v, z), _mm512_min_epi8(v, z))
                         : _mm512_sub_epi8(_mm512_max_epu8(v, z), _mm512_min_epu8(v, z));
    sum = _mm512_add_epi64(sum, _mm512_sad_epu8(d, _mm512_setzero_si512()));
    mxv = _mm512_max_epu8(mxv, d);
  }
  l1 += static_cast<int32_t>(_mm512_reduce_add_epi64(sum));
  const __m256i a = _mm256_max_epu8(_mm512_castsi512_si256(mxv), _mm512_extracti64x4_epi64(mxv, 1));
  __m128i b = _mm_max_epu8(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  b = _mm_max_epu8(b, _mm_srli_si128(b, 8));
  b = _mm_max_epu8(b, _mm_srli_si128(b, 4));
  b = _mm_max_epu8(b, _mm_srli_si128(b, 2));
  b = _mm_max_epu8(b, _mm_srli_si128(b, 1));
  const int32_t m8 = _mm_cvtsi128_si32(b) & 0xff;
  mx = mx > m8 ? mx : m8;
}

int ort_float_check_avx512(const OrtFloatConv& p, const int32_t* a, int m0, int m1, float fl1, float fmx, void* y_row,
                           int* flagged) {
  const bool s8out = p.y_type == DType::S8;
  const __m512 lo = _mm512_set1_ps(-4194304.f), hi = _mm512_set1_ps(4194304.f), magic = _mm512_set1_ps(12582912.f);
  const __m512 half = _mm512_set1_ps(0.5f), vg = _mm512_set1_ps(p.g), vl1 = _mm512_set1_ps(fl1),
               vmx = _mm512_set1_ps(fmx);
  const __m512i zy = _mm512_set1_epi32(p.zy), qmin = _mm512_set1_epi32(p.qmin), qmax = _mm512_set1_epi32(p.qmax),
                one = _mm512_set1_epi32(1);
  int nf = 0;
  for (int m = m0; m < m1; m += 16) {
    const __mmask16 k = m + 16 <= m1 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (m1 - m)) - 1);
    __m512 t = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(k, a + m)), _mm512_maskz_loadu_ps(k, &p.sc[m])),
                             _mm512_maskz_loadu_ps(k, &p.bt[m]));
    t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);
    const __m512 rr = _mm512_sub_ps(_mm512_add_ps(t, magic), magic);
    const __m512 d = _mm512_abs_ps(_mm512_sub_ps(t, rr));
    const __m512 S = _mm512_min_ps(_mm512_mul_ps(vl1, _mm512_maskz_loadu_ps(k, &p.maxw[m])),
                                   _mm512_mul_ps(vmx, _mm512_maskz_loadu_ps(k, &p.l1w[m])));
    const __m512 B = _mm512_add_ps(_mm512_mul_ps(vg, S), _mm512_maskz_loadu_ps(k, &p.slack[m]));
    const __m512i qr = _mm512_add_epi32(_mm512_cvtps_epi32(rr), zy);
    const __m512i q = _mm512_min_epi32(_mm512_max_epi32(qr, qmin), qmax);
    const __m128i qb = _mm512_cvtepi32_epi8(q);
    if (s8out)
      _mm_mask_storeu_epi8(static_cast<int8_t*>(y_row) + m, k, qb);
    else
      _mm_mask_storeu_epi8(static_cast<uint8_t*>(y_row) + m, k, qb);
    const __mmask16 near = k & _mm512_cmp_ps_mask(_mm512_sub_ps(half, d), B, _CMP_LE_OQ);
    if (near == 0) continue;
    const __mmask16 clamped = _mm512_cmp_ps_mask(B, half, _CMP_LT_OQ) &
                              (_mm512_cmpge_epi32_mask(_mm512_sub_epi32(qr, one), qmax) |
                               _mm512_cmple_epi32_mask(_mm512_add_epi32(qr, one), qmin));
    unsigned bits = static_cast<unsigned>(near & static_cast<__mmask16>(~clamped));
    while (bits) {
      flagged[nf++] = m + __builtin_ctz(bits);
      bits &= bits - 1;
    }
  }
  return nf;
}

}  // namespace ops
}  // namespace lowp

namespace lowp {
namespace ops {

void ort_float_quot_clamp_round_avx512(const float* y, int64_t n, float ys, float flo, float fhi, int32_t* q) {
  const __m512 vys = _mm512_set1_ps(ys), inv = _mm512_set1_ps(1.f / ys), lo = _mm512_set1_ps(flo),
               hi = _mm512_set1_ps(fhi);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_epi32(q + i, m, _mm512_cvtps_epi32(ort_quot_clamp_avx512(_mm512_maskz_loadu_ps(m, y + i), vys, inv, lo, hi)));
  }
}

void ort_float_quantize_avx512(const float* y, int64_t n, float ys, int32_t zy, DType t, int32_t qmin, int32_t qmax,
                               void* q) {
  const OrtQuantizeAvx512 quant(ys, zy, t == DType::S8, qmin, qmax);
  for (int64_t i = 0; i < n; i += 64) {
    __m512 v[4];
    for (int j = 0; j < 4; ++j) {
      const int64_t r = std::max<int64_t>(0, std::min<int64_t>(16, n - i - 16 * j));
      v[j] = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << r) - 1), y + i + 16 * j);
    }
    const __m512i b = ort_quantize4_avx512(quant, v[0], v[1], v[2], v[3]);
    const int64_t r = std::min<int64_t>(64, n - i);
    _mm512_mask_storeu_epi8(static_cast<uint8_t*>(q) + i, r >= 64 ? ~__mmask64{0} : ((__mmask64{1} << r) - 1), b);
  }
}

}  // namespace ops
}  // namespace lowp
