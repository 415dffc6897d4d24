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
  LOWP_CHECK(type_min(y_type) <= qmin && qmin <= qmax && qmax <= type_max(y_type), "ort float conv: bad clamp range");
  xtab.assign(256, 0.f);
  for (int v = 0; v < 256; ++v) {
    const int32_t q = x_type == DType::S8 ? static_cast<int8_t>(v) : v;
    xtab[v] = static_cast<float>(q - zx) * xs;  // DequantizeLinear: one float32 rounding
  }
  const int nb = (K + stride_k - 1) / stride_k;
  // |onnxruntime - exact| / ys <= (roundings + slack) * u * (sum |x w| + |b|) / ys, where the float
  // check below adds a few more roundings of its own; 1 % margin over the first-order bound.
  g = static_cast<float>((K + nb + 16) * kU * 1.01);
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

int32_t ort_float_conv_one(const OrtFloatConv& p, const float* xf, int m) {
  const float* w = p.wf.data() + static_cast<size_t>(m) * p.K;
  float c = 0.f;
  for (int k0 = 0; k0 < p.K; k0 += p.stride_k) {
    const int k1 = std::min(p.K, k0 + p.stride_k);
    float s = 0.f;
    for (int k = k0; k < k1; ++k) s = std::fma(w[k], xf[k], s);
    c = k0 == 0 ? s : c + s;
  }
  const float y = c + p.bf[m];
  const int32_t q = quantize_one(y, p.ys, p.zy, type_min(p.y_type), type_max(p.y_type));
  return std::min(std::max(q, p.qmin), p.qmax);
}

int64_t ort_float_conv_finish(const OrtFloatConv& p, const int32_t* acc, const void* x, void* y, int64_t pixels,
                              int num_threads) {
  const int M = p.M, K = p.K;
  const bool s8out = p.y_type == DType::S8;
  constexpr int64_t kChunk = 64;  // pixels per task
  const int64_t tasks = (pixels + kChunk - 1) / kChunk;
  std::vector<int64_t> recomputed(static_cast<size_t>(std::max<int64_t>(tasks, 1)), 0);
  auto body = [&](int task, int) {
    std::vector<int> flagged(M);
    std::vector<float> xf(K);
    const int64_t p0 = task * kChunk, p1 = std::min(pixels, p0 + kChunk);
    int64_t redo = 0;
    for (int64_t px = p0; px < p1; ++px) {
      const int64_t xo = px * K;
      int32_t l1 = 0, mx = 0;
      for (int k = 0; k < K; ++k) {
        const int32_t d = std::abs(raw(x, p.x_type, xo + k) - p.zx);
        l1 += d;
        mx = std::max(mx, d);
      }
      const float fl1 = static_cast<float>(l1), fmx = static_cast<float>(mx);
      const int32_t* a = acc + px * M;
      int nf = 0;
      for (int m = 0; m < M; ++m) {
        float t = static_cast<float>(a[m]) * p.sc[m] + p.bt[m];
        t = std::min(std::max(t, -4194304.f), 4194304.f);
        const float r = (t + 12582912.f) - 12582912.f;  // nearest integer, ties to even (|t| < 2^22)
        const float d = std::fabs(t - r);
        const float S = std::min(fl1 * p.maxw[m], fmx * p.l1w[m]);
        const float B = p.g * S + p.slack[m];
        const int32_t qr = static_cast<int32_t>(r) + p.zy;
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
      for (int k = 0; k < K; ++k) xf[k] = p.xtab[static_cast<uint8_t>(raw(x, p.x_type, xo + k))];
      for (int i = 0; i < nf; ++i) {
        const int m = flagged[i];
        const int32_t q = ort_float_conv_one(p, xf.data(), m);
        if (s8out)
          static_cast<int8_t*>(y)[px * M + m] = static_cast<int8_t>(q);
        else
          static_cast<uint8_t*>(y)[px * M + m] = static_cast<uint8_t>(q);
      }
      redo += nf;
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
