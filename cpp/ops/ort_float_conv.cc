// onnxruntime's float32 1x1 conv fallback, exact (see ort_float_conv.h).
#include "ops/ort_float_conv.h"

#include <algorithm>
#include <functional>
#include <cmath>
#include <cstdlib>
#include <string>

#include "ops/conv.h"
#include "ops/quantize.h"
#include "runtime/cpu.h"
#include "runtime/thread_pool.h"

namespace lowp {
namespace ops {

namespace {

// sum and max of |x[c] - zx| over n bytes, added to l1 / maxed into mx (a loop the compiler vectorizes)
template <typename T>
inline void patch_norms(const T* xp, int n, int32_t zx, int32_t& l1, int32_t& mx) {
  int32_t s = 0, m = 0;
  for (int c = 0; c < n; ++c) {
    int32_t d = static_cast<int32_t>(xp[c]) - zx;
    d = d < 0 ? -d : d;
    s += d;
    m = m > d ? m : d;
  }
  l1 += s;
  mx = mx > m ? mx : m;
}


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
  LOWP_CHECK(type_min(y_type) <= zy && zy <= type_max(y_type), "ort float conv: output zero point out of the type range");
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
  wt.clear();
  Mpad = 0;
  wti.clear();
  if (ort_float_is_depthwise(*this)) {
    Mpad = (M + 15) / 16 * 16;
    wt.assign(static_cast<size_t>(K) * Mpad, 0.f);
    for (int m = 0; m < M; ++m)
      for (int k = 0; k < K; ++k) wt[static_cast<size_t>(k) * Mpad + m] = wf[static_cast<size_t>(m) * K + k];
    // the integer weights w - zw back from wf = RN((w - zw) ws) (exact for |w - zw| <= 255: the rounding error
    // u |w - zw| ws is far below ws / 2), kept only if every one maps back to wf bit for bit
    wti.assign(static_cast<size_t>(K) * Mpad, 0.f);
    bool ok = K <= 64;
    for (int m = 0; m < M && ok; ++m)
      for (int k = 0; k < K && ok; ++k) {
        const float w = wf[static_cast<size_t>(m) * K + k];
        const double n = ws[m] != 0.f ? std::nearbyint(static_cast<double>(w) / ws[m]) : 0.0;
        ok = std::fabs(n) <= 255 && static_cast<float>(n) * ws[m] == w;
        wti[static_cast<size_t>(k) * Mpad + m] = static_cast<float>(n);
      }
    if (!ok) wti.clear();
  } else if (mode == 0 && group == 1) {
    Mpad = (M + 31) / 32 * 32;  // whole 32-channel tiles for ort_float_full_*
    wt.assign(static_cast<size_t>(K) * Mpad, 0.f);
    for (int m = 0; m < M; ++m)
      for (int k = 0; k < K; ++k) wt[static_cast<size_t>(k) * Mpad + m] = wf[static_cast<size_t>(m) * K + k];
  }
  direct = ort_float_use_direct(*this);
  wpk.clear();
  koff.clear();
  if (direct) {
    const int taps = KH * KW, Wp = W + pl + pr;
    koff.resize(K);
    for (int k = 0; k < K; ++k) {
      const int c = k / taps, kh = (k % taps) / KW, kw = k % KW;
      koff[k] = (kh * dh * Wp + kw * dw) * C + c;
    }
    // tile t (channels 32t .. 32t + 31): K rows of 32 floats, zero past M
    wpk.assign(static_cast<size_t>(K) * Mpad, 0.f);
    for (int m = 0; m < M; ++m)
      for (int k = 0; k < K; ++k)
        wpk[(static_cast<size_t>(m / 32) * K + k) * 32 + (m % 32)] = wf[static_cast<size_t>(m) * K + k];
  }
}

bool ort_float_use_direct(const OrtFloatConv& p) {
  if (p.mode != 0 || p.group != 1 || p.Mpad == 0) return false;
#if defined(__x86_64__) || defined(_M_X64)
  if (!cpu::has_avx512bw() && !cpu::has_avx2()) return false;  // ort_float_direct_avx512 / _avx2
  // ort_quantize4_avx512's error bound needs 1 / ys a normal float (no overflow, no subnormal precision loss)
  if (!(p.ys >= 0x1p-120f && p.ys <= 0x1p120f)) return false;
  // koff (int32): the farthest tap of the padded input from a pixel's top-left one
  const int64_t reach = ((static_cast<int64_t>(p.KH - 1) * p.dh * (p.W + p.pl + p.pr) + static_cast<int64_t>(p.KW - 1) * p.dw) + 1) * p.C;
  if (reach >= INT32_MAX) return false;
  long min_k = 1;
  if (const char* e = std::getenv("LOWP_ORT_FLOAT_DIRECT_K")) min_k = std::strtol(e, nullptr, 10);
  return min_k > 0 && p.K >= min_k;
#else
  return false;
#endif
}

void ort_float_direct_ref(const OrtFloatConv& p, const void* x, void* y, int64_t p0, int64_t p1) {
  const int C = p.C, taps = p.KH * p.KW, K = p.K;
  const int64_t opix = static_cast<int64_t>(p.OH) * p.OW;
  std::vector<float> col(K);
  for (int64_t px = p0; px < p1; ++px) {
    const int64_t n = px / opix, r = px % opix, oh = r / p.OW, ow = r % p.OW;
    for (int kh = 0; kh < p.KH; ++kh)
      for (int kw = 0; kw < p.KW; ++kw) {
        const int64_t ih = oh * p.sh - p.pt + static_cast<int64_t>(kh) * p.dh;
        const int64_t iw = ow * p.sw - p.pl + static_cast<int64_t>(kw) * p.dw;
        const bool in = ih >= 0 && ih < p.H && iw >= 0 && iw < p.W;
        for (int c = 0; c < C; ++c)
          col[c * taps + kh * p.KW + kw] =
              in ? p.xtab[static_cast<uint8_t>(raw(x, p.x_type, ((n * p.H + ih) * p.W + iw) * C + c))] : 0.f;
      }
    for (int m = 0; m < p.M; ++m) {
      const int32_t q = ort_float_conv_one(p, col.data(), m);
      if (p.y_type == DType::S8)
        static_cast<int8_t*>(y)[px * p.M + m] = static_cast<int8_t>(q);
      else
        static_cast<uint8_t*>(y)[px * p.M + m] = static_cast<uint8_t>(q);
    }
  }
}

bool ort_float_direct_pointwise(const OrtFloatConv& p) {
  return p.KH == 1 && p.KW == 1 && p.pt == 0 && p.pl == 0 && p.pb == 0 && p.pr == 0;
}

void ort_float_direct(const OrtFloatConv& p, const void* x, void* y, int64_t pixels, int num_threads,
                      const char* kernel) {
  LOWP_CHECK(p.mode == 0 && p.group == 1, "ort float conv: the direct path is for mode 0 single-group convs");
  const std::string k = kernel ? kernel : "";
  if (!k.empty() && k != "ref" && k != "avx512" && k != "avx512bands" && k != "avx512whole" && k != "avx2")
    throw Error("lowp: unknown ort float direct kernel '" + k + "'");
  bool simd = false;
#if defined(__x86_64__) || defined(_M_X64)
  // the AVX-512 kernels ("avx512*"), else their AVX2 twins ("avx2"); the same orchestration below
  const bool avx2 = k == "avx2" || (k.empty() && !cpu::has_avx512bw());
  simd = k != "ref" && !p.wpk.empty() && (avx2 ? cpu::has_avx2() : cpu::has_avx512bw());
  auto dequant_rows = [avx2](const OrtFloatConv& q, const void* xs, int64_t r0, int64_t r1, float* xpad,
                             int64_t row0 = 0) {
    (avx2 ? ort_float_dequant_padded_rows_avx2 : ort_float_dequant_padded_rows_avx512)(q, xs, r0, r1, xpad, row0);
  };
  auto direct_rows = [avx2](const OrtFloatConv& q, const float* xpad, const void* xs, void* ys, int64_t p0, int64_t p1,
                            int t0 = 0, int t1 = -1, int64_t row0 = 0) {
    (avx2 ? ort_float_direct_avx2 : ort_float_direct_avx512)(q, xpad, xs, ys, p0, p1, t0, t1, row0);
  };
#endif
  if (!k.empty() && k != "ref" && !simd)
    throw Error("lowp: ort float direct kernel '" + k + "' is not available here (AVX-512 or AVX2, and a direct layer)");
  const int64_t opix = static_cast<int64_t>(p.OH) * p.OW;
  LOWP_CHECK(pixels % opix == 0, "ort float conv: pixels is not a whole number of images");
  const bool par = num_threads != 1 && pixels > 0;
  // threads the pool will use (num_threads <= 0: all of them); sizes the tasks only
  const int64_t nt = std::max(1, num_threads > 0 ? std::min(num_threads, ThreadPool::global().threads())
                                                 : ThreadPool::global().threads());
  (void)nt;  // read by the AVX-512 task sizing only (unused in aarch64 builds)
  auto run = [&](int64_t tasks, const std::function<void(int, int)>& body) {
    if (tasks <= 1 || !par) {
      for (int64_t t = 0; t < tasks; ++t) body(static_cast<int>(t), 0);
    } else {
      ThreadPool::global().parallel_for(static_cast<int>(tasks), body, num_threads);
    }
  };
  if (!simd) {
    constexpr int64_t kChunk = 64;
    run((pixels + kChunk - 1) / kChunk, [&](int task, int) {
      ort_float_direct_ref(p, x, y, task * kChunk, std::min(pixels, (task + 1) * kChunk));
    });
    return;
  }
#if defined(__x86_64__) || defined(_M_X64)
  const int64_t images = pixels / opix, Wp = p.W + p.pl + p.pr, Hp = p.H + p.pt + p.pb, rows = images * Hp;
  const bool pointwise = ort_float_direct_pointwise(p);
  const bool bands = !pointwise && k != "avx512whole" &&
                     (k == "avx512bands" || rows * Wp * p.C > (int64_t{1} << 18) || (par && pixels >= 1600));
  if (bands) {
    // large inputs (> 1 MB as floats), or >= 1600 output pixels with threads (one parallel round instead of a
    // dequantization round and a conv round: 80 x 80 x 16 -> 16 at 2 threads 124 -> 111 us): tasks of B output rows
    // of one image, each dequantizing the padded input rows it reads into its own buffer just before use (cache-hot;
    // rows shared by two bands are dequantized twice, B keeps that <= 25 % where the rows allow)
    const int64_t span = static_cast<int64_t>(p.KH - 1) * p.dh + 1;  // input rows of one output row
    // >= 480 pixels a band (the last 48-pixel chunk of a band is partly idle)
    int64_t B = std::max<int64_t>((480 + p.OW - 1) / p.OW, (4 * std::max<int64_t>(0, span - p.sh) + p.sh - 1) / p.sh);
    // with threads, >= 4 bands a thread (40 x 40 outputs: 8 bands of 5 rows at 2 threads, not 4 of 12 / 12 / 12 / 4)
    if (par) B = std::min<int64_t>(B, (images * p.OH + 4 * nt - 1) / (4 * nt));
    B = k == "avx512bands" ? 1 : std::max<int64_t>(1, std::min<int64_t>(B, p.OH));
    const int64_t per_image = (p.OH + B - 1) / B;
    run(images * per_image, [&](int task, int) {
      const int64_t n = task / per_image, oh0 = (task % per_image) * B, oh1 = std::min<int64_t>(p.OH, oh0 + B);
      const int64_t r0 = n * Hp + oh0 * p.sh, r1 = n * Hp + (oh1 - 1) * p.sh + span;
      thread_local std::vector<float> band;
      band.resize(static_cast<size_t>((r1 - r0) * Wp * p.C));
      dequant_rows(p, x, r0, r1, band.data(), r0);
      direct_rows(p, band.data(), x, y, n * opix + oh0 * p.OW, n * opix + oh1 * p.OW, 0, -1, r0);
    });
    return;
  }
  // the input dequantized with its zero padding, in row bands (in parallel with more than one thread); pointwise
  // convs dequantize each chunk's pixels in the kernel instead
  thread_local std::vector<float> xpad;
  float* xp = nullptr;
  if (!pointwise) {
    xpad.resize(static_cast<size_t>(rows * Wp * p.C));
    xp = xpad.data();
    const int64_t band = std::max<int64_t>(1, (16384 + Wp * p.C - 1) / (Wp * p.C));  // rows of >= 16 K values
    run(par ? (rows + band - 1) / band : 1, [&](int task, int) {
      if (!par) return dequant_rows(p, x, 0, rows, xp);
      dequant_rows(p, x, task * band, std::min(rows, (task + 1) * band), xp);
    });
  }
  // tasks: chunks of <= kOrtFloatDirectChunk pixels; with threads, chunks of even size (a multiple of the 6-pixel
  // panel: 100 pixels as 36 + 36 + 28, not 48 + 48 + 4) so that tasks are alike, smaller ones where that leaves
  // fewer than 2 tasks a thread (3 a thread then: 10x10 outputs at 2 threads as 6 chunks of 18 / 10 pixels; were
  // tile groups, which re-read the chunk's input per group: 10x10x128 -> 128 90 -> 86 us, 20x20x128 -> 128 s2 94 ->
  // 80 us, pointwise 10x10 / 20x20 layers 4-8 % faster); groups of >= 2 32-channel weight tiles (the 64-channel
  // register tile needs a pair) only where the pixels are too few even so (< 12 a thread)
  if (!par) return direct_rows(p, xp, x, y, 0, pixels);
  int64_t chunks = (pixels + kOrtFloatDirectChunk - 1) / kOrtFloatDirectChunk;
  int64_t kChunk = std::min<int64_t>(kOrtFloatDirectChunk, ((pixels + chunks - 1) / chunks + 5) / 6 * 6);
  chunks = (pixels + kChunk - 1) / kChunk;
  if (chunks < 2 * nt) {
    const int64_t want = 3 * nt;
    kChunk = std::min(kChunk, std::max<int64_t>(6, ((pixels + want - 1) / want + 5) / 6 * 6));
    chunks = (pixels + kChunk - 1) / kChunk;
  }
  const int tiles = (p.M + 31) / 32;
  int groups = 1;
  if (chunks < 2 * nt) groups = static_cast<int>(std::min<int64_t>(std::max(1, tiles / 2), (3 * nt + chunks - 1) / chunks));
  run(chunks * groups, [&](int task, int) {
    const int64_t c = task / groups;
    const int g = task % groups;
    direct_rows(p, xp, x, y, c * kChunk, std::min(pixels, (c + 1) * kChunk), g * tiles / groups,
                            (g + 1) * tiles / groups);
  });
#endif
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

void ort_float_blocks_ref(const OrtFloatConv& p, const float* const* columns, const int* m0, int nblocks, float* y) {
  for (int i = 0; i < nblocks; ++i)
    for (int l = 0; l < 16; ++l) {
      const int m = m0[i] + l;
      y[16 * i + l] =
          m < p.M ? sum_fma(p.wf.data() + static_cast<size_t>(m) * p.K, columns[i], p.K, p.stride_k) : 0.f;
    }
}

int ort_float_check_ref(const OrtFloatConv& p, const int32_t* a, int m0, int m1, float fl1, float fmx, void* y_row,
                        int* flagged) {
  const bool s8out = p.y_type == DType::S8;
  int nf = 0;
  for (int m = m0; m < m1; ++m) {
    float t = static_cast<float>(a[m]) * p.sc[m] + p.bt[m];
    t = std::min(std::max(t, -4194304.f), 4194304.f);
    const float rr = (t + 12582912.f) - 12582912.f;  // nearest integer, ties to even (|t| < 2^22)
    const float d = std::fabs(t - rr);
    const float S = std::min(fl1 * p.maxw[m], fmx * p.l1w[m]);
    const float B = p.g * S + p.slack[m];
    const int32_t qr = static_cast<int32_t>(rr) + p.zy;
    const int32_t q = std::min(std::max(qr, p.qmin), p.qmax);
    if (s8out)
      static_cast<int8_t*>(y_row)[m] = static_cast<int8_t>(q);
    else
      static_cast<uint8_t*>(y_row)[m] = static_cast<uint8_t>(q);
    // Within B of a .5 boundary: onnxruntime may round to qr - 1 or qr + 1 instead, unless the clamp
    // maps qr - 1 .. qr + 1 to one value anyway (B < 0.5 keeps its result within them).
    const bool clamped = B < 0.5f && (qr - 1 >= p.qmax || qr + 1 <= p.qmin);
    flagged[nf] = m;
    nf += (0.5f - d <= B && !clamped) ? 1 : 0;
  }
  return nf;
}

void ort_float_full_ref(const OrtFloatConv& p, const float* const* columns, int ncols, float* y) {
  for (int i = 0; i < ncols; ++i)
    for (int m = 0; m < p.Mpad; ++m)
      y[static_cast<size_t>(i) * p.Mpad + m] =
          m < p.M ? sum_fma(p.wf.data() + static_cast<size_t>(m) * p.K, columns[i], p.K, p.stride_k) : 0.f;
}

void ort_float_norms_ref(const void* x, DType t, int n, int32_t zx, int32_t& l1, int32_t& mx) {
  if (t == DType::S8)
    patch_norms(static_cast<const int8_t*>(x), n, zx, l1, mx);
  else
    patch_norms(static_cast<const uint8_t*>(x), n, zx, l1, mx);
}

OrtFloatNormsFn ort_float_norms_kernel() {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu::has_avx512bw()) return ort_float_norms_avx512;
#endif
  return ort_float_norms_ref;
}

OrtFloatCheckFn ort_float_check_kernel() {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu::has_avx512bw()) return ort_float_check_avx512;
  if (cpu::has_avx2()) return ort_float_check_avx2;
#endif
  return ort_float_check_ref;
}

OrtFloatFullFn ort_float_full_kernel() {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu::has_avx512bw()) return ort_float_full_avx512;
#endif
  return nullptr;  // the blocks kernels only
}

OrtFloatBlocksFn ort_float_blocks_kernel() {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu::has_avx512bw()) return ort_float_blocks_avx512;
  if (cpu::has_avx2()) return ort_float_blocks_avx2;
#endif
  return ort_float_blocks_ref;
}

bool ort_float_is_depthwise(const OrtFloatConv& p) {
  return p.mode == 1 && p.group == p.C && p.group == p.M && p.group > 1;
}

void ort_float_depthwise_ref(const OrtFloatConv& p, const void* x, void* y, int64_t p0, int64_t p1) {
  const int C = p.C, taps = p.KH * p.KW;
  const int64_t opix = static_cast<int64_t>(p.OH) * p.OW;
  std::vector<float> col(taps);
  std::vector<int64_t> tap(taps);
  for (int64_t px = p0; px < p1; ++px) {
    const int64_t r = px % opix;
    ort_float_pixel_taps(p, px / opix, r / p.OW, r % p.OW, tap.data());
    for (int c = 0; c < C; ++c) {
      for (int t = 0; t < taps; ++t)
        col[t] = tap[t] >= 0 ? p.xtab[static_cast<uint8_t>(raw(x, p.x_type, tap[t] + c))] : 0.f;
      const int32_t q = ort_float_conv_one(p, col.data(), c);
      if (p.y_type == DType::S8)
        static_cast<int8_t*>(y)[px * C + c] = static_cast<int8_t>(q);
      else
        static_cast<uint8_t*>(y)[px * C + c] = static_cast<uint8_t>(q);
    }
  }
}

void ort_float_depthwise(const OrtFloatConv& p, const void* x, void* y, int64_t pixels, int num_threads,
                         const char* kernel) {
  LOWP_CHECK(ort_float_is_depthwise(p), "ort float conv: not a depthwise conv");
  const std::string k = kernel ? kernel : "";
  bool rows = false;    // input rows dequantized into a ring as needed (ort_float_depthwise_rows_avx512)
  bool irows = false;   // the same with integer sums + check (ort_float_depthwise_int_avx512)
  bool rows2 = false;   // the float32 chain on the row ring, 8 lanes (ort_float_depthwise_rows_avx2)
#if defined(__x86_64__) || defined(_M_X64)
  // the SIMD kernels' division-free QuantizeLinear needs 1 / ys a normal float (ops/ort_float_quot_avx512.h)
  const bool ok = cpu::has_avx512bw() && p.KH * p.KW <= 64 && p.ys >= 0x1p-120f && p.ys <= 0x1p120f;
  if ((k.empty() || k == "avx512int") && ok && !p.wti.empty()) irows = true;
  if ((k == "avx512" || (k.empty() && !irows)) && ok) rows = true;
  if ((k == "avx2" || (k.empty() && !rows && !irows)) && cpu::has_avx2() && p.KH * p.KW <= 64) rows2 = true;
#endif
  OrtFloatDepthwiseFn pixels_fn = ort_float_depthwise_ref;  // when no row-ring kernel runs
#if defined(__x86_64__) || defined(_M_X64)
  if ((k.empty() || k == "avx2" || k == "avx2pixels") && cpu::has_avx2()) pixels_fn = ort_float_depthwise_avx2;
#endif
  if (!k.empty() && k != "ref" && !rows && !irows && !rows2 && pixels_fn == ort_float_depthwise_ref)
    throw Error("lowp: ort float depthwise kernel '" + k + "' is not available on this machine");
  const int64_t opix = static_cast<int64_t>(p.OH) * p.OW;
  LOWP_CHECK(pixels % opix == 0, "ort float conv: pixels is not a whole number of images");
#if defined(__x86_64__) || defined(_M_X64)
  if (rows || irows || rows2) {
    // tasks (~4 per thread, one per image on one thread): bands of output rows x slices of channels of one image.
    // A band dequantizes its input rows once (those it shares with the band above a second time: (KH - 1) dh
    // + 1 - sh rows), a channel slice only its channels; so tall layers split rows, short ones (7 x 7, 14 x 14:
    // few rows, many channels) split channels.
    const int64_t images = pixels / opix;
    const int nt = num_threads <= 0 ? ThreadPool::global().threads() : num_threads;  // <= 0: the whole pool
    const int target = nt <= 1 ? 1 : 4 * nt, nvec = (p.C + 15) / 16;
    const int slices = p.OH >= 4 * target ? 1 : std::min(nvec, target);
    const int nb = std::min(p.OH, (target + slices - 1) / slices);
    const int band = (p.OH + nb - 1) / nb, bands = (p.OH + band - 1) / band;
    const int per = (nvec + slices - 1) / slices * 16;  // channels per slice
    const int64_t tasks = images * bands * slices;
    auto body = [&](int task, int) {
      const int64_t n = task / (bands * slices);
      const int r = static_cast<int>(task % (bands * slices)), b0 = r / slices * band, c0 = r % slices * per;
      (irows ? ort_float_depthwise_int_avx512 : rows ? ort_float_depthwise_rows_avx512 : ort_float_depthwise_rows_avx2)(
          p, x, y, n, b0, std::min(p.OH, b0 + band), c0, c0 + per);
    };
    if (tasks <= 1 || num_threads == 1) {
      for (int64_t t = 0; t < tasks; ++t) body(static_cast<int>(t), 0);
    } else {
      ThreadPool::global().parallel_for(static_cast<int>(tasks), body, num_threads);
    }
    return;
  }
#endif
  constexpr int64_t kChunk = 16;  // pixels per task: the scalar reference, or its AVX2 twin
  const int64_t tasks = (pixels + kChunk - 1) / kChunk;
  auto body = [&](int task, int) { pixels_fn(p, x, y, task * kChunk, std::min(pixels, (task + 1) * kChunk)); };
  if (tasks <= 1 || num_threads == 1) {
    for (int64_t t = 0; t < tasks; ++t) body(static_cast<int>(t), 0);
  } else {
    ThreadPool::global().parallel_for(static_cast<int>(tasks), body, num_threads);
  }
}

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

namespace {

// Pixels [p0, p1) of the output; acc points at pixel p0's sums.
int64_t finish_range(const OrtFloatConv& p, const int32_t* acc, const void* x, void* y, int64_t p0, int64_t p1,
                     OrtFloatBlocksFn blocks_fn, OrtFloatCheckFn check_fn, OrtFloatFullFn full_fn) {
  const int M = p.M, K = p.K, C = p.C, G = p.group, Cg = C / G, Mg = M / G, taps = p.KH * p.KW;
  const bool vec = !p.wt.empty();  // mode 0, group 1: redo 16-channel blocks with SIMD, batched over pixels
  const OrtFloatNormsFn norms_fn = check_fn == ort_float_check_ref ? ort_float_norms_ref : ort_float_norms_kernel();
  const bool s8out = p.y_type == DType::S8;
  // the float32 chain of one output: the scalar reference, or (mode 2, SIMD kernels in use) its AVX-512 twin
  int32_t (*one_fn)(const OrtFloatConv&, const float*, int) = ort_float_conv_one;
#if defined(__x86_64__) || defined(_M_X64)
  if (p.mode == 2 && blocks_fn != ort_float_blocks_ref && cpu::has_avx512bw()) one_fn = ort_float_conv_one_m1t_avx512;
#endif
  const int64_t opix = static_cast<int64_t>(p.OH) * p.OW;
  const int kSlots = static_cast<int>(std::max<int64_t>(16, std::min<int64_t>(64, (1 << 20) / (4 * K))));  // <= 64
  struct Redo {
    int64_t px;
    int m, pair, slot;
  };
  thread_local std::vector<int> flagged, pm0;
  thread_local std::vector<float> col, ybl;
  thread_local std::vector<const float*> pcol;
  thread_local std::vector<Redo> redos;
  thread_local std::vector<int64_t> tap;  // input offset of each (kh, kw) tap, -1 in the padding
  flagged.resize(Mg);
  col.resize(static_cast<size_t>(vec ? kSlots : 1) * K);
  tap.resize(taps);
  pcol.clear();
  pm0.clear();
  redos.clear();
  int slots = 0;
  auto store = [&](int64_t px, int m, int32_t q) {
    if (s8out)
      static_cast<int8_t*>(y)[px * M + m] = static_cast<int8_t>(q);
    else
      static_cast<uint8_t*>(y)[px * M + m] = static_cast<uint8_t>(q);
  };
  auto flush = [&]() {
    if (pm0.empty()) return;
    // most blocks of the batch flagged: every channel of its pixels in 4 x 32 register tiles
    const bool full = full_fn != nullptr && pm0.size() * 2 > static_cast<size_t>(slots) * (p.Mpad / 16);
    if (full) {
      const float* cols[64 + 1];
      for (int i = 0; i < slots; ++i) cols[i] = col.data() + static_cast<size_t>(i) * K;
      ybl.resize(static_cast<size_t>(slots) * p.Mpad);
      full_fn(p, cols, slots, ybl.data());
    } else {
      ybl.resize(pm0.size() * 16);
      blocks_fn(p, pcol.data(), pm0.data(), static_cast<int>(pm0.size()), ybl.data());
    }
    for (const Redo& r : redos) {
      const float v = full ? ybl[static_cast<size_t>(r.slot) * p.Mpad + r.m] : ybl[16 * r.pair + (r.m & 15)];
      const int32_t q = quantize_one(v + p.bf[r.m], p.ys, p.zy, type_min(p.y_type), type_max(p.y_type));
      store(r.px, r.m, std::min(std::max(q, p.qmin), p.qmax));
    }
    pcol.clear();
    pm0.clear();
    redos.clear();
    slots = 0;
  };
  int64_t redo = 0;
  const bool pointwise = taps == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 && p.pl == 0 && p.pb == 0 && p.pr == 0;
  int64_t n = p0 / opix, oh = (p0 % opix) / p.OW, ow = (p0 % opix) % p.OW;  // pixel p0, then stepped
  for (int64_t px = p0; px < p1; ++px) {
    if (pointwise) {
      tap[0] = px * C;
    } else {
      ort_float_pixel_taps(p, n, oh, ow, tap.data());
      ort_float_next_pixel(p, n, oh, ow);
    }
    void* yrow = s8out ? static_cast<void*>(static_cast<int8_t*>(y) + px * M)
                       : static_cast<void*>(static_cast<uint8_t*>(y) + px * M);
    for (int gi = 0; gi < G; ++gi) {
      // per-pixel norms of the patch (x - zx), padding 0
      int32_t l1 = 0, mx = 0;
      for (int t = 0; t < taps; ++t) {
        if (tap[t] < 0) continue;
        const int64_t base = tap[t] + static_cast<int64_t>(gi) * Cg;
        norms_fn(p.x_type == DType::S8 ? static_cast<const void*>(static_cast<const int8_t*>(x) + base)
                                       : static_cast<const void*>(static_cast<const uint8_t*>(x) + base),
                 p.x_type, Cg, p.zx, l1, mx);
      }
      const int nf = check_fn(p, acc + (px - p0) * M, gi * Mg, (gi + 1) * Mg, static_cast<float>(l1),
                              static_cast<float>(mx), yrow, flagged.data());
      if (nf == 0) continue;
      redo += nf;
      if (vec && slots == kSlots) flush();
      // the im2col column of this pixel and group in onnxruntime's K order (c, kh, kw)
      float* cl = col.data() + static_cast<size_t>(vec ? slots : 0) * K;
      for (int c = 0; c < Cg; ++c)
        for (int t = 0; t < taps; ++t)
          cl[c * taps + t] = tap[t] < 0 ? 0.f : p.xtab[static_cast<uint8_t>(raw(x, p.x_type, tap[t] + gi * Cg + c))];
      if (!vec) {
        for (int i = 0; i < nf; ++i) store(px, flagged[i], one_fn(p, cl, flagged[i]));
        continue;
      }
      ++slots;
      for (int i = 0; i < nf; ++i) {
        const int m = flagged[i], b = m & ~15;  // flagged is ascending
        if (pm0.empty() || pcol.back() != cl || pm0.back() != b) {
          pcol.push_back(cl);
          pm0.push_back(b);
        }
        redos.push_back(Redo{px, m, static_cast<int>(pm0.size()) - 1, slots - 1});
      }
    }
  }
  flush();
  return redo;
}

}  // namespace

int64_t ort_float_conv_finish(const OrtFloatConv& p, const int32_t* acc, const void* x, void* y, int64_t pixels,
                              int num_threads, OrtFloatBlocksFn blocks_fn, OrtFloatCheckFn check_fn) {
  if (blocks_fn == nullptr) blocks_fn = ort_float_blocks_kernel();
  if (check_fn == nullptr) check_fn = ort_float_check_kernel();
  const OrtFloatFullFn full_fn = blocks_fn == ort_float_blocks_ref ? ort_float_full_ref : ort_float_full_kernel();
  constexpr int64_t kChunk = 64;  // pixels per task
  const int64_t tasks = (pixels + kChunk - 1) / kChunk;
  std::vector<int64_t> recomputed(static_cast<size_t>(std::max<int64_t>(tasks, 1)), 0);
  auto body = [&](int task, int) {
    const int64_t p0 = task * kChunk, p1 = std::min(pixels, p0 + kChunk);
    recomputed[task] = finish_range(p, acc + p0 * p.M, x, y, p0, p1, blocks_fn, check_fn, full_fn);
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

int64_t ort_float_conv_1x1(const OrtFloatConv& p, const PackedConv& w, const void* x, void* y, int64_t pixels,
                           int num_threads) {
  LOWP_CHECK(p.KH == 1 && p.KW == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 && p.pl == 0 && p.pb == 0 && p.pr == 0 &&
                 p.group == 1 && w.KH() == 1 && w.KW() == 1 && w.Cin() == p.C && w.Cout() == p.M,
             "ort float conv: the fused path is for 1x1 stride-1 unpadded single-group convs");
  const OrtFloatBlocksFn blocks_fn = ort_float_blocks_kernel();
  const OrtFloatCheckFn check_fn = ort_float_check_kernel();
  const OrtFloatFullFn full_fn = ort_float_full_kernel();
  // Pixel rows are independent: the int32 sums of a chunk stay in cache until its finish pass.
  const int64_t chunk = std::max<int64_t>(16, std::min<int64_t>(512, (64 * 1024) / std::max(1, p.M)));
  const int64_t tasks = (pixels + chunk - 1) / chunk;
  std::vector<int64_t> recomputed(static_cast<size_t>(std::max<int64_t>(tasks, 1)), 0);
  auto body = [&](int task, int) {
    const int64_t p0 = task * chunk, p1 = std::min(pixels, p0 + chunk);
    thread_local std::vector<int32_t> acc;
    acc.resize(static_cast<size_t>(p1 - p0) * p.M);
    ConvGeometry g;
    g.N = 1;
    g.H = 1;
    g.W = static_cast<int>(p1 - p0);
    const size_t xo = static_cast<size_t>(p0) * p.C;
    const void* xp = p.x_type == DType::S8 ? static_cast<const void*>(static_cast<const int8_t*>(x) + xo)
                                           : static_cast<const void*>(static_cast<const uint8_t*>(x) + xo);
    OutputSpec spec;  // int32, no bias
    conv2d(w, g, xp, p.x_type, p.zx, acc.data(), spec, 1);
    recomputed[task] = finish_range(p, acc.data(), x, y, p0, p1, blocks_fn, check_fn, full_fn);
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
