// AVX-512 depthwise convs with onnxruntime's float32 results (ops/ort_float_conv.h), row-streamed, 16 channels per
// lane vector, 8 output pixels of a row at a time. Two kernels, the same bits as ort_float_depthwise_ref:
// * ort_float_depthwise_rows_avx512: MlasSgemmKernelM1Avx's chain per output (per K chunk groups of four products,
//   multiply then add, summed left to right and added to the running sum; then a pair, then one product; + bias;
//   QuantizeLinear).
// * ort_float_depthwise_int_avx512 (the default where p.wti exists): the exact sums sum (w - zw)(x - zx) by FMAs on
//   integer-valued floats (exact: < 2^24), t = acc sc + bt rounded as ort_float_check_ref does, with the bound B
//   taken at the input type's largest |x - zx| (a per-channel constant: 1-9 % of the 16-channel vectors of the
//   test models have a lane within B of a .5 boundary); those vectors take the chain above. Stride 1: a sliding
//   window loads each row vector once for its KW taps (the integer sums may go in any order).
//
// Input rows are dequantized (float(x - zx) * xs, one rounding = p.xtab; the integer kernel: float(x - zx)) once
// each into a 64-byte-aligned ring of (KH - 1) dh + 1 rows of (W + pl + pr) x Cs floats, for a slice of Cs channels
// (a multiple of 16) small enough that the ring stays in L1 (zero columns for the left / right padding; lanes past
// C hold finite values that meet zero weights): the working set is a few rows instead of the whole padded image,
// and the inner loops need no masks. Padding rows point at a zero row. A padding tap's product w * 0.0f is a
// signed zero, as MLAS's im2col padding gives; no later step can tell its sign apart.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ops/ort_float_conv.h"
#include "ops/ort_float_depthwise_ring.h"
#include "ops/ort_float_quot_avx512.h"

namespace lowp {
namespace ops {

namespace {

struct V512 {  // lane vector for ops/ort_float_depthwise_ring.h
  using reg = __m512;
  static __m512 zero() { return _mm512_setzero_ps(); }
  static __m512 add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
  static __m512 mul(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
};

// Channels [cb, cb + Cs) of row ih of image n dequantized into dst (Wp x Cs floats, padding columns zero):
// float(x - zx) * xs, one rounding (= p.xtab). cb % 16 == 0; Cs a multiple of 16 (lanes past C: see the tail).
// kInt: float(x - zx) only (exact integers, for the integer sums of ort_float_depthwise_int_avx512).
template <bool kInt>
void dequant_row(const OrtFloatConv& p, const void* x, int64_t n, int ih, int cb, int Cs, float* dst) {
  const int C = p.C, W = p.W, Cp = Cs;
  const bool s8 = p.x_type == DType::S8;
  const __m512i zx = _mm512_set1_epi32(p.zx);
  const __m512 xs = _mm512_set1_ps(p.xs);
  auto cvt = [&](__m128i b) {
    const __m512i v = s8 ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
    const __m512 d = _mm512_cvtepi32_ps(_mm512_sub_epi32(v, zx));
    return kInt ? d : _mm512_mul_ps(d, xs);
  };
  auto load = [](const int8_t* s) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(s)); };
  std::memset(dst, 0, sizeof(float) * static_cast<size_t>(p.pl) * Cp);
  std::memset(dst + static_cast<size_t>(p.pl + W) * Cp, 0, sizeof(float) * static_cast<size_t>(p.pr) * Cp);
  const int8_t* src = static_cast<const int8_t*>(x) + (n * p.H + ih) * static_cast<int64_t>(W) * C + cb;
  float* d = dst + static_cast<size_t>(p.pl) * Cp;
  if (C == Cp) {  // whole vectors: the row is W * C contiguous bytes -> floats
    const int64_t len = static_cast<int64_t>(W) * C;
    int64_t i = 0;
    for (; i + 64 <= len; i += 64)
      for (int j = 0; j < 64; j += 16) _mm512_storeu_ps(d + i + j, cvt(load(src + i + j)));
    for (; i < len; i += 16) _mm512_storeu_ps(d + i, cvt(load(src + i)));
    return;
  }
  // per pixel: whole 16-channel vectors, then the tail past C if the slice ends there (its lanes past C get
  // finite values, times 0 weights)
  const int full = std::min(Cs, (C - cb) / 16 * 16);
  const __mmask16 mt = static_cast<__mmask16>((1u << std::min(16, C - cb - full)) - 1);
  for (int w = 0; w < W; ++w) {
    const int8_t* s = src + static_cast<int64_t>(w) * C;
    float* o = d + static_cast<size_t>(w) * Cp;
    for (int c0 = 0; c0 < full; c0 += 16) _mm512_storeu_ps(o + c0, cvt(load(s + c0)));
    if (full < Cs) _mm512_storeu_ps(o + full, cvt(_mm_maskz_loadu_epi8(mt, s + full)));
  }
}


template <bool kInt>
void depthwise_slice(const OrtFloatConv& p, const void* x, void* y, int64_t n, int oh0, int oh1, int cb, int ce) {
  constexpr int kP = 8;
  // the slice's channels cb .. ce - 1, in whole 16-lane vectors (Cp: its row stride in the ring)
  const int C = p.C, Cp = (ce - cb + 15) / 16 * 16, taps = p.KH * p.KW, Mp = p.Mpad;
  // + 8 pixels after the zero row: the sliding window below reads up to 7 pixels past a row's end
  DwRowRing ring(p, Cp, static_cast<size_t>(kP) * Cp);
  const float* rp[64];  // per tap: its row's dequantized data + kw dw Cp
  auto fill = [&](int ih, float* slot) { dequant_row<kInt>(p, x, n, ih, cb, Cp, slot); };

  const bool s8out = p.y_type == DType::S8;
  (void)s8out;  // both 8-bit types store the low byte of the clamped int32
  const __m512i zy = _mm512_set1_epi32(p.zy);
  const __m512 ys = _mm512_set1_ps(p.ys), inv = _mm512_set1_ps(1.f / p.ys);
  const __m512 flo = _mm512_set1_ps(static_cast<float>(p.qmin - p.zy)),
               fhi = _mm512_set1_ps(static_cast<float>(p.qmax - p.zy));
  const int64_t ps = static_cast<int64_t>(p.sw) * Cp;  // next output pixel of the row, in floats
  const __m512 xsv = _mm512_set1_ps(p.xs);
  // the integer kernel's sliding window: stride 1, no dilation, <= 5 taps wide (a stride-2 window of 2 x 8 + KW - 2
  // vectors measured slower: 112x112x16 3x3 25 -> 32 us)
  const bool slide = p.sw == 1 && p.dw == 1 && p.KW <= 5;
  int64_t pstep[kP];  // pixel i of a block: i * ps (the row's offsets by adds, not vpmullq)
  for (int i = 0; i < kP; ++i) pstep[i] = i * ps;
  // the largest |x - zx| of the input type
  const int32_t tlo = p.x_type == DType::S8 ? -128 : 0;
  const __m512 mx = _mm512_set1_ps(static_cast<float>(std::max(p.zx - tlo, tlo + 255 - p.zx)));
  uint8_t* yb = static_cast<uint8_t*>(y);

  for (int oh = oh0; oh < oh1; ++oh) {
    ring.rows_for(oh, fill, rp);

    uint8_t* yrow = yb + ((n * p.OH + oh) * static_cast<int64_t>(p.OW)) * C + cb;
    for (int c0 = 0; c0 < Cp; c0 += 16) {  // c0: in the slice (channel cb + c0)
      const int left = ce - cb - c0;
      const __mmask16 m = left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
      const float* wc = p.wt.data() + cb + c0;
      const __m512 b = _mm512_maskz_loadu_ps(m, &p.bf[cb + c0]);
      if (kInt) {
        // t = acc sc + bt (the exact value / ys) and the bound B on |onnxruntime's value - t| for any patch
        // (ort_float_check_ref with the patch max |x - zx| at its largest, mx); flagged lanes: within B of a .5
        const float* wi = p.wti.data() + cb + c0;
        const __m512 sc = _mm512_maskz_loadu_ps(m, &p.sc[cb + c0]), bt = _mm512_maskz_loadu_ps(m, &p.bt[cb + c0]);
        const __m512 S = _mm512_mul_ps(mx, _mm512_maskz_loadu_ps(m, &p.l1w[cb + c0]));
        const __m512 B = _mm512_fmadd_ps(_mm512_set1_ps(p.g), S, _mm512_maskz_loadu_ps(m, &p.slack[cb + c0]));
        const __m512 thr = _mm512_sub_ps(_mm512_set1_ps(0.5f), B);  // flagged: d >= 0.5 - B
        const __m512 magic = _mm512_set1_ps(12582912.f);                 // 1.5 * 2^23 = 0x4B400000
        const __m512i zym = _mm512_set1_epi32(p.zy - 0x4B400000);
        for (int ow0 = 0; ow0 < p.OW; ow0 += kP) {
          const int np = std::min(kP, p.OW - ow0);
          int64_t po[kP];
          const int64_t pb = static_cast<int64_t>(ow0) * ps + c0;
          for (int i = 0; i < kP; ++i) po[i] = pb + pstep[std::min(i, np - 1)];
          __m512 acc[kP];
          for (int i = 0; i < kP; ++i) acc[i] = _mm512_setzero_ps();
          // exact integer sums sum (w - zw)(x - zx) (|terms| <= 255^2, <= 64 taps: < 2^24, any order): even and
          // odd taps in two accumulators per pixel (16 FMA chains: the FMA latency is hidden)
          __m512 acc2[kP];
          for (int i = 0; i < kP; ++i) acc2[i] = _mm512_setzero_ps();
          int k = 0;
          if (slide) {
            // stride 1, no dilation: pixel i's tap (kh, kw) is the row's vector ow0 + i + kw: load each of the
            // 8 + KW - 1 vectors of a row once for its KW taps (past the row's end: the padded ring, dropped)
            const int64_t o0 = static_cast<int64_t>(ow0) * Cp + c0;
            for (int kh = 0; kh < p.KH; ++kh) {
              const float* r = rp[kh * p.KW] + o0;
              __m512 v[kP + 4];
              const int nv = kP + p.KW - 1;
              for (int j = 0; j < kP + 4; ++j)
                if (j < nv) v[j] = _mm512_load_ps(r + static_cast<int64_t>(j) * Cp);
              for (int kw = 0; kw < p.KW; ++kw) {
                const __m512 w0 = _mm512_loadu_ps(wi + static_cast<size_t>(kh * p.KW + kw) * Mp);
                if (kw & 1)
                  for (int i = 0; i < kP; ++i) acc2[i] = _mm512_fmadd_ps(w0, v[i + kw], acc2[i]);
                else
                  for (int i = 0; i < kP; ++i) acc[i] = _mm512_fmadd_ps(w0, v[i + kw], acc[i]);
              }
            }
            k = taps;
          }
          for (; k + 2 <= taps; k += 2) {
            const __m512 w0 = _mm512_loadu_ps(wi + static_cast<size_t>(k) * Mp),
                         w1 = _mm512_loadu_ps(wi + static_cast<size_t>(k + 1) * Mp);
            const float *r0 = rp[k], *r1 = rp[k + 1];
            for (int i = 0; i < kP; ++i) {
              acc[i] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(r0 + po[i]), acc[i]);
              acc2[i] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(r1 + po[i]), acc2[i]);
            }
          }
          if (k < taps) {
            const __m512 w0 = _mm512_loadu_ps(wi + static_cast<size_t>(k) * Mp);
            const float* r0 = rp[k];
            for (int i = 0; i < kP; ++i) acc[i] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(r0 + po[i]), acc[i]);
          }
          // rounded t (clamped first, as ort_round_clamped_avx512), stored for all 8 pixels (constant indices: acc
          // stays in registers; pixels past the row's end: an empty store mask); then the flagged pixels again
          uint8_t* yb0 = yrow + static_cast<int64_t>(ow0) * C + c0;
          unsigned near_any = 0;
          for (int i = 0; i < kP; ++i) {
            const __m512 t =
                _mm512_min_ps(_mm512_max_ps(_mm512_fmadd_ps(_mm512_add_ps(acc[i], acc2[i]), sc, bt), flo), fhi);
            // round half to even by the 1.5 * 2^23 trick (|t| <= 255), as ort_float_check_ref: c = M + round(t),
            // whose bits are those of M plus round(t)
            const __m512 c = _mm512_add_ps(t, magic);
            const __m512 r = _mm512_sub_ps(c, magic);
            const __mmask16 near = m & _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(t, r)), thr, _CMP_GE_OQ);
            near_any |= (near != 0 ? 1u : 0u) << i;
            const __mmask16 sm = i < np ? m : static_cast<__mmask16>(0);
            _mm_mask_storeu_epi8(yb0 + static_cast<int64_t>(i) * C, sm,
                                 _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_castps_si512(c), zym)));
          }
          near_any &= (1u << np) - 1;
          while (near_any) {  // onnxruntime's float32 chain for a flagged pixel's 16 channels
            const int i = __builtin_ctz(near_any);
            near_any &= near_any - 1;
            const int64_t o = po[i];
            __m512 yv[1];
            dw_m1_chain<V512, 1>(
                taps, p.stride_k, [&](int k) { return _mm512_loadu_ps(wc + static_cast<size_t>(k) * Mp); },
                [&](int k, int) { return _mm512_mul_ps(_mm512_loadu_ps(rp[k] + o), xsv); },  // = p.xtab: one rounding
                yv);
            const __m512 r = ort_round_clamped_avx512(_mm512_add_ps(yv[0], b), ys, inv, flo, fhi);
            _mm_mask_storeu_epi8(yb0 + static_cast<int64_t>(i) * C, m,
                                 _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(r), zy)));
          }
        }
        continue;
      }
      for (int ow0 = 0; ow0 < p.OW; ow0 += kP) {
        const int np = std::min(kP, p.OW - ow0);
        int64_t po[kP];  // pixel offsets in the row (past the row's end: repeat the last pixel, dropped)
        const int64_t pb = static_cast<int64_t>(ow0) * ps + c0;
        for (int i = 0; i < kP; ++i) po[i] = pb + pstep[std::min(i, np - 1)];
        __m512 acc[kP];
        dw_m1_chain<V512, kP>(
            taps, p.stride_k, [&](int k) { return _mm512_loadu_ps(wc + static_cast<size_t>(k) * Mp); },
            [&](int k, int i) { return _mm512_loadu_ps(rp[k] + po[i]); }, acc);
        for (int i = 0; i < np; ++i) {
          const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(ort_round_clamped_avx512(_mm512_add_ps(acc[i], b), ys, inv, flo, fhi)), zy);
          _mm_mask_storeu_epi8(yrow + static_cast<int64_t>(ow0 + i) * C + c0, m, _mm512_cvtepi32_epi8(q));
        }
      }
    }
  }
}

template <bool kInt>
void depthwise_rows(const OrtFloatConv& p, const void* x, void* y, int64_t n, int oh0, int oh1, int cb, int ce) {
  if (oh0 >= oh1) return;
  dw_slices(p, cb, ce, 16, [&](int s0, int s1) { depthwise_slice<kInt>(p, x, y, n, oh0, oh1, s0, s1); });
}

}  // namespace

void ort_float_depthwise_rows_avx512(const OrtFloatConv& p, const void* x, void* y, int64_t n, int oh0, int oh1,
                                     int cb, int ce) {
  depthwise_rows<false>(p, x, y, n, oh0, oh1, cb, ce);
}

void ort_float_depthwise_int_avx512(const OrtFloatConv& p, const void* x, void* y, int64_t n, int oh0, int oh1,
                                    int cb, int ce) {
  LOWP_CHECK(!p.wti.empty(), "ort float depthwise: no integer weights for the integer kernel");
  depthwise_rows<true>(p, x, y, n, oh0, oh1, cb, ce);
}

}  // namespace ops
}  // namespace lowp
