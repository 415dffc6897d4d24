// onnxruntime's float32 1x1 conv fallback, exact (see ort_float_conv.h).
#include "ops/ort_float_conv.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "ops/quantize.h"
#include "runtime/thread_pool.h"

namespace lowp {
namespace ops {

namespace {

constexpr double kU = 1.0 / 16777216.0;  // 2^-24, float32 unit roundoff

int32_t type_min(DType t) { return t == DType::S8 ? -128 : 0; }
int32_t type_max(DType t) { return t == DType::S8 ? 127 : 255; }

inline int32_t raw(const void* x, DType t, int64_t i) {
  return t == DType::S8 ? static_cast<const int8_t*>(x)[i] : static_cast<const uint8_t*>(x)[i];
}

}  // namespace

int mlas_sgemm_stride_k(int64_t N, int64_t K) {
  // MLAS sgemm.cpp: StrideN = StrideK = 128; trade N for K (N >= K) or K for N (N < K, A not transposed).
  int64_t sn = 128, sk = 128;
  if (N >= K) {
    while (sk / 2 >= K) { sn *= 2; sk /= 2; }
  } else {
    while (sn > 16 && sn / 2 >= N) { sk *= 2; sn /= 2; }
  }
  return static_cast<int>(sk);
}

void OrtFloatConv::finalize(const std::vector<float>& ws) {
  LOWP_CHECK(M >= 1 && K >= 1, "ort float conv: empty weights");
  LOWP_CHECK(wf.size() == static_cast<size_t>(M) * K && bf.size() == static_cast<size_t>(M) &&
                 ws.size() == static_cast<size_t>(M),
             "ort float conv: weights / bias / scales do not match M x K");
  LOWP_CHECK(x_type == DType::U8 || x_type == DType::S8, "ort float conv: input must be uint8 or int8");
  LOWP_CHECK(y_type == DType::U8 || y_type == DType::S8, "ort float conv: output must be uint8 or int8");
  LOWP_CHECK(std::isfinite(xs) && xs > 0.f && std::isfinite(ys) && ys > 0.f, "ort float conv: bad scales");
  LOWP_CHECK(stride_k >= 1, "ort float conv: bad K stride");
  LOWP_CHECK(mode >= 0 && mode <= 2, "ort float conv: bad kernel mode");
  LOWP_CHECK(type_min(y_type) <= qmin && qmin <= qmax && qmax <= type_max(y_type), "ort float conv: bad clamp range");
  LOWP_CHECK(group >= 1 && C >= group && C % group == 0 && M % group == 0 && H >= 1 && W >= 1 && KH >= 1 && KW >= 1 &&
                 sh >= 1 && sw >= 1 && dh >= 1 && dw >= 1 && pt >= 0 && pl >= 0 && pb >= 0 && pr >= 0,
             "ort float conv: bad geometry");
  LOWP_CHECK(static_cast<int64_t>(C / group) * KH * KW == K, "ort float conv: K is not C/group * KH * KW");
  const int64_t oh = (static_cast<int64_t>(H) + pt + pb - static_cast<int64_t>(dh) * (KH - 1) - 1);
  const int64_t ow = (static_cast<int64_t>(W) + pl + pr - static_cast<int64_t>(dw) * (KW - 1) - 1);
  LOWP_CHECK(oh >= 0 && ow >= 0, "ort float conv: kernel larger than the padded input");
  OH = static_cast<int>(oh / sh + 1);
  OW = static_cast<int>(ow / sw + 1);
  xtab.assign(256, 0.f);
  for (int v = 0; v < 256; ++v) {
    const int32_t q = x_type == DType::S8 ? static_cast<int8_t>(v) : v;
    xtab[v] = static_cast<float>(q - zx) * xs;  // DequantizeLinear: one float32 rounding
  }
  const int nb = (K + stride_k - 1) / stride_k;
  // |onnxruntime - exact| / ys <= (roundings + slack) * u * (sum |x w| + |b|) / ys, where the float
  // check below adds a few more roundings of its own; 1 % margin over the first-order bound.
  // FMA chains round once per term; the M == 1 / N == 1 kernels round each product and each add.
  g = static_cast<float>(((mode == 0 ? 1.0 : 2.0) * K + nb + 16) * kU * 1.01);
  sc.resize(M);
  bt.resize(M);
  l1w.resize(M);
  maxw.resize(M);
  slack.resize(M);
  for (int m = 0; m < M; ++m) {
    LOWP_CHECK(std::isfinite(ws[m]) && std::isfinite(bf[m]), "ort float conv: non-finite weight scale or bias");
    double l1 = 0, mx = 0;
    for (int k = 0; k < K; ++k) {
      const double a = std::fabs(static_cast<double>(wf[static_cast<size_t>(m) * K + k]));
      l1 += a;
      mx = std::max(mx, a);
    }
    // |wf| >= |w - zw| ws (1 - u): inflate so that xs |w - zw| ws / ys <= the stored value.
    const double up = (1.0 + 8 * kU) * xs / ys;
    l1w[m] = static_cast<float>(l1 * up * (1.0 + 1e-6));
    maxw[m] = static_cast<float>(mx * up * (1.0 + 1e-6));
    sc[m] = static_cast<float>(static_cast<double>(xs) * ws[m] / ys);
    bt[m] = static_cast<float>(static_cast<double>(bf[m]) / ys);
    slack[m] = static_cast<float>(g * std::fabs(static_cast<double>(bf[m])) / ys + 1e-30);
  }
}

namespace {

// MlasGemmFloatKernel (FMA): per K block an FMA chain from 0, blocks added in order.
float sum_fma(const float* w, const float* xf, int K, int stride_k) {
  float c = 0.f;
  for (int k0 = 0; k0 < K; k0 += stride_k) {
    const int k1 = std::min(K, k0 + stride_k);
    float s = 0.f;
    for (int k = k0; k < k1; ++k) s = std::fma(w[k], xf[k], s);
    c = k0 == 0 ? s : c + s;
  }
  return c;
}

// MlasSgemmKernelM1Avx (M == 1): per K chunk, ((p0 + p1) + p2) + p3 per group of four, added to the
// running sum; the chunk's remainder as a pair then a single product.
float sum_m1(const float* w, const float* xf, int K, int chunk) {
  float c = 0.f;
  for (int k0 = 0; k0 < K; k0 += chunk) {
    const int k1 = std::min(K, k0 + chunk);
    int k = k0;
    for (; k + 4 <= k1; k += 4) {
      float t = w[k] * xf[k];
      t = t + w[k + 1] * xf[k + 1];
      t = t + w[k + 2] * xf[k + 2];
      t = t + w[k + 3] * xf[k + 3];
      c = t + c;
    }
    if (k1 - k >= 2) {
      const float t = w[k] * xf[k] + w[k + 1] * xf[k + 1];
      c = t + c;
      k += 2;
    }
    if (k < k1) c = w[k] * xf[k] + c;
  }
  return c;
}

// MlasSgemmKernelM1TransposeBAvx (N == 1): eight lane sums, reduced per row-block size (4, 2 or 1).
float sum_m1t(const float* w, const float* xf, int K, int block) {
  float a[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  for (int k = 0; k < K; ++k) a[k & 7] = a[k & 7] + w[k] * xf[k];
  if (block == 4) return (((a[0] + a[1]) + a[2]) + a[3]) + (((a[4] + a[5]) + a[6]) + a[7]);
  if (block == 2) return ((a[0] + a[2]) + (a[4] + a[6])) + ((a[1] + a[3]) + (a[5] + a[7]));
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

}  // namespace

int32_t ort_float_conv_one(const OrtFloatConv& p, const float* xf, int m) {
  const float* w = p.wf.data() + static_cast<size_t>(m) * p.K;
  float c;
  if (p.mode == 1) {
    c = sum_m1(w, xf, p.K, p.stride_k);
  } else if (p.mode == 2) {
    // rows of the group go 4 at a time, then a pair, then one
    const int Mg = p.M / p.group, r = m % Mg, full4 = Mg / 4 * 4;
    const int block = r < full4 ? 4 : ((Mg - full4) >= 2 && r < full4 + 2 ? 2 : 1);
    c = sum_m1t(w, xf, p.K, block);
  } else {
    c = sum_fma(w, xf, p.K, p.stride_k);
  }
  const float y = c + p.bf[m];
  const int32_t q = quantize_one(y, p.ys, p.zy, type_min(p.y_type), type_max(p.y_type));
  return std::min(std::max(q, p.qmin), p.qmax);
}

int64_t ort_float_conv_finish(const OrtFloatConv& p, const int32_t* acc, const void* x, void* y, int64_t pixels,
                              int num_threads) {
  const int M = p.M, K = p.K, C = p.C, G = p.group, Cg = C / G, Mg = M / G, taps = p.KH * p.KW;
  const bool s8out = p.y_type == DType::S8;
  const int64_t opix = static_cast<int64_t>(p.OH) * p.OW;
  constexpr int64_t kChunk = 32;  // pixels per task
  const int64_t tasks = (pixels + kChunk - 1) / kChunk;
  std::vector<int64_t> recomputed(static_cast<size_t>(std::max<int64_t>(tasks, 1)), 0);
  auto body = [&](int task, int) {
    std::vector<int> flagged(Mg);
    std::vector<float> col(K);
    std::vector<int64_t> tap(taps);  // input offset of each (kh, kw) tap, -1 in the padding
    const int64_t p0 = task * kChunk, p1 = std::min(pixels, p0 + kChunk);
    int64_t redo = 0;
    for (int64_t px = p0; px < p1; ++px) {
      const int64_t n = px / opix, r = px % opix, oh = r / p.OW, ow = r % p.OW;
      for (int kh = 0; kh < p.KH; ++kh)
        for (int kw = 0; kw < p.KW; ++kw) {
          const int64_t ih = oh * p.sh - p.pt + static_cast<int64_t>(kh) * p.dh;
          const int64_t iw = ow * p.sw - p.pl + static_cast<int64_t>(kw) * p.dw;
          tap[kh * p.KW + kw] = (ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) ? ((n * p.H + ih) * p.W + iw) * C : -1;
        }
      for (int gi = 0; gi < G; ++gi) {
        // per-pixel norms of the patch (x - zx), padding 0
        int32_t l1 = 0, mx = 0;
        for (int t = 0; t < taps; ++t) {
          if (tap[t] < 0) continue;
          const int64_t base = tap[t] + static_cast<int64_t>(gi) * Cg;
          for (int c = 0; c < Cg; ++c) {
            const int32_t d = std::abs(raw(x, p.x_type, base + c) - p.zx);
            l1 += d;
            mx = std::max(mx, d);
          }
        }
        const float fl1 = static_cast<float>(l1), fmx = static_cast<float>(mx);
        const int32_t* a = acc + px * M;
        int nf = 0;
        for (int m = gi * Mg; m < (gi + 1) * Mg; ++m) {
          float t = static_cast<float>(a[m]) * p.sc[m] + p.bt[m];
          t = std::min(std::max(t, -4194304.f), 4194304.f);
          const float rr = (t + 12582912.f) - 12582912.f;  // nearest integer, ties to even (|t| < 2^22)
          const float d = std::fabs(t - rr);
          const float S = std::min(fl1 * p.maxw[m], fmx * p.l1w[m]);
          const float B = p.g * S + p.slack[m];
          const int32_t qr = static_cast<int32_t>(rr) + p.zy;
          const int32_t q = std::min(std::max(qr, p.qmin), p.qmax);
          if (s8out)
            static_cast<int8_t*>(y)[px * M + m] = static_cast<int8_t>(q);
          else
            static_cast<uint8_t*>(y)[px * M + m] = static_cast<uint8_t>(q);
          // Within B of a .5 boundary: onnxruntime may round to qr - 1 or qr + 1 instead, unless the
          // clamp maps qr - 1 .. qr + 1 to one value anyway (B < 0.5 keeps its result within them).
          const bool clamped = B < 0.5f && (qr - 1 >= p.qmax || qr + 1 <= p.qmin);
          flagged[nf] = m;
          nf += (0.5f - d <= B && !clamped) ? 1 : 0;
        }
        if (nf == 0) continue;
        // the im2col column of this pixel and group in onnxruntime's K order (c, kh, kw)
        for (int c = 0; c < Cg; ++c)
          for (int t = 0; t < taps; ++t)
            col[c * taps + t] = tap[t] < 0 ? 0.f
                                           : p.xtab[static_cast<uint8_t>(raw(x, p.x_type, tap[t] + gi * Cg + c))];
        for (int i = 0; i < nf; ++i) {
          const int m = flagged[i];
          const int32_t q = ort_float_conv_one(p, col.data(), m);
          if (s8out)
            static_cast<int8_t*>(y)[px * M + m] = static_cast<int8_t>(q);
          else
            static_cast<uint8_t*>(y)[px * M + m] = static_cast<uint8_t>(q);
        }
        redo += nf;
      }
    }
    recomputed[task] = redo;
  };
  if (tasks <= 1 || num_threads == 1) {
    for (int64_t t = 0; t < tasks; ++t) body(static_cast<int>(t), 0);
  } else {
    ThreadPool::global().parallel_for(static_cast<int>(tasks), body, num_threads);
  }
  int64_t total = 0;
  for (int64_t r : recomputed) total += r;
  return total;
}

}  // namespace ops
}  // namespace lowp
