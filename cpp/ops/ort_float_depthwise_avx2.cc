// AVX2 twin of ort_float_depthwise_rows_avx512 (ops/ort_float_depthwise_avx512.cc) for CPUs without AVX-512:
// depthwise convs with onnxruntime's float32 results, input rows dequantized once each into a ring of (KH - 1) dh + 1
// rows held in L1, 8 channels per lane vector, 8 output pixels of a row at a time. Each lane computes
// ort_float_depthwise_ref's chain: per K chunk of stride_k taps, groups of four products (multiply, then add: no
// FMA) summed left to right and added to the running sum, then a pair, then one product; + bias; QuantizeLinear
// by a true division (ops/ort_float_quant_avx2.h) and the clamp. Before it, ort_float_depthwise_avx2 dequantized
// every tap of every output pixel from the bytes (KH * KW times per input value).
//
// The ring (ops/ort_float_depthwise_ring.h, shared with the AVX-512 kernels, as the chain) holds float(x - zx) * xs
// (one rounding = p.xtab) for a slice of Cs channels (a multiple of 8), Wp = W + pl + pr pixels a row (zero columns
// for the padding; lanes past C are zero and meet zero weights); padding rows point at a zero row. A padding tap's product w * 0.0f is a signed zero, as MLAS's im2col padding gives; no later
// step can tell its sign apart.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ops/ort_float_conv.h"
#include "ops/ort_float_depthwise_ring.h"
#include "ops/ort_float_quant_avx2.h"

namespace lowp {
namespace ops {

namespace {

constexpr int kP = 8;  // output pixels per step

struct V256 {  // lane vector for ops/ort_float_depthwise_ring.h
  using reg = __m256;
  static __m256 zero() { return _mm256_setzero_ps(); }
  static __m256 add(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
  static __m256 mul(__m256 a, __m256 b) { return _mm256_mul_ps(a, b); }
};

// Channels [cb, cb + Cs) of row ih of image n into dst (Wp x Cs floats): cb % 8 == 0, Cs % 8 == 0.
void dequant_row(const OrtFloatConv& p, const void* x, int64_t n, int ih, int cb, int Cs, float* dst) {
  const int C = p.C, W = p.W;
  const bool s8 = p.x_type == DType::S8;
  const __m256i zx = _mm256_set1_epi32(p.zx);
  const __m256 xs = _mm256_set1_ps(p.xs);
  auto cvt = [&](const uint8_t* s) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s));
    const __m256i v = s8 ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v, zx)), xs);
  };
  std::memset(dst, 0, sizeof(float) * static_cast<size_t>(p.pl) * Cs);
  std::memset(dst + static_cast<size_t>(p.pl + W) * Cs, 0, sizeof(float) * static_cast<size_t>(p.pr) * Cs);
  const uint8_t* src = static_cast<const uint8_t*>(x) + (n * p.H + ih) * static_cast<int64_t>(W) * C + cb;
  float* d = dst + static_cast<size_t>(p.pl) * Cs;
  if (C == Cs) {  // whole vectors: the row is W * C contiguous bytes -> floats
    const int64_t len = static_cast<int64_t>(W) * C;
    for (int64_t i = 0; i < len; i += 8) _mm256_storeu_ps(d + i, cvt(src + i));
    return;
  }
  // per pixel: whole 8-channel vectors, then the slice's tail past C (from xtab; lanes past C zero)
  const int full = std::min(Cs, (C - cb) / 8 * 8), tail = std::min(Cs, C - cb) - full;
  for (int w = 0; w < W; ++w) {
    const uint8_t* s = src + static_cast<int64_t>(w) * C;
    float* o = d + static_cast<size_t>(w) * Cs;
    for (int c0 = 0; c0 < full; c0 += 8) _mm256_storeu_ps(o + c0, cvt(s + c0));
    if (full < Cs) {
      alignas(32) float t[8] = {};
      for (int i = 0; i < tail; ++i) t[i] = p.xtab[s[full + i]];
      _mm256_storeu_ps(o + full, _mm256_load_ps(t));
    }
  }
}

void depthwise_slice(const OrtFloatConv& p, const void* x, void* y, int64_t n, int oh0, int oh1, int cb, int ce) {
  // the slice's channels cb .. ce - 1, in whole 8-lane vectors (Cp: its row stride in the ring)
  const int C = p.C, Cp = (ce - cb + 7) / 8 * 8, taps = p.KH * p.KW, Mp = p.Mpad;
  DwRowRing ring(p, Cp, 0);
  const float* rp[64];  // per tap: its row's dequantized data + kw dw Cp (taps <= 64: the caller)
  auto fill = [&](int ih, float* slot) { dequant_row(p, x, n, ih, cb, Cp, slot); };
  const bool s8out = p.y_type == DType::S8;
  const OrtQuantizeAvx2 quant(p.ys, p.zy, p.qmin, p.qmax);
  const int64_t ps = static_cast<int64_t>(p.sw) * Cp;  // next output pixel of the row, in floats
  uint8_t* yb = static_cast<uint8_t*>(y);

  for (int oh = oh0; oh < oh1; ++oh) {
    ring.rows_for(oh, fill, rp);
    uint8_t* yrow = yb + ((n * p.OH + oh) * static_cast<int64_t>(p.OW)) * C + cb;
    for (int c0 = 0; c0 < Cp; c0 += 8) {  // c0: in the slice (channel cb + c0)
      const int left = std::min(8, ce - cb - c0);
      const float* wc = p.wt.data() + cb + c0;
      alignas(32) float bias[8] = {};
      std::copy(p.bf.begin() + cb + c0, p.bf.begin() + cb + c0 + left, bias);
      const __m256 b = _mm256_load_ps(bias);
      for (int ow0 = 0; ow0 < p.OW; ow0 += kP) {
        const int np = std::min(kP, p.OW - ow0);
        int64_t po[kP];  // pixel offsets in the row (past the row's end: repeat the last pixel, dropped)
        const int64_t pb = static_cast<int64_t>(ow0) * ps + c0;
        for (int i = 0; i < kP; ++i) po[i] = pb + std::min(i, np - 1) * ps;
        __m256 acc[kP];
        dw_m1_chain<V256, kP>(
            taps, p.stride_k, [&](int k) { return _mm256_loadu_ps(wc + static_cast<size_t>(k) * Mp); },
            [&](int k, int i) { return _mm256_loadu_ps(rp[k] + po[i]); }, acc);
        for (int i = 0; i < np; ++i) {
          uint8_t* d = yrow + static_cast<int64_t>(ow0 + i) * C + c0;
          const __m256i q = quant(_mm256_add_ps(acc[i], b));
          if (left == 8) {
            ort_store8_avx2(d, q, s8out);
          } else {
            uint8_t t[8];
            ort_store8_avx2(t, q, s8out);
            std::memcpy(d, t, static_cast<size_t>(left));
          }
        }
      }
    }
  }
}

}  // namespace

void ort_float_depthwise_rows_avx2(const OrtFloatConv& p, const void* x, void* y, int64_t n, int oh0, int oh1, int cb,
                                   int ce) {
  LOWP_CHECK(p.KH * p.KW <= 64 && cb % 8 == 0, "ort float depthwise rows (avx2): more than 64 taps or unaligned slice");
  if (oh0 >= oh1) return;
  dw_slices(p, cb, ce, 8, [&](int s0, int s1) { depthwise_slice(p, x, y, n, oh0, oh1, s0, s1); });
}

}  // namespace ops
}  // namespace lowp
