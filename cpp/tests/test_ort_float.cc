// onnxruntime float32 fallbacks (ops/ort_float_conv.h, ops/ort_float_eltwise.h): every dispatched SIMD
// kernel gives the scalar reference's bits, on data with many .5 ties (the recompute paths run), tails
// of 16-lane blocks, padding, groups and broadcasting. (Bit-exactness against onnxruntime itself is
// tested in tests/test_ort_float_conv.py.)
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "lowp/gemm.h"
#include "ops/conv.h"
#include "ops/ort_float_conv.h"
#include "ops/ort_float_eltwise.h"
#include "runtime/cpu.h"
#include "tests/test_framework.h"

using namespace lowp;

namespace {

struct TieConv {
  ops::OrtFloatConv p;
  std::vector<int8_t> w;  // M x KH x KW x Cg (OHWI, for PackedConv)
};

// y_scale = 2 x_scale w_scale: every odd exact sum is a .5 tie (see tests/test_ort_float_conv.py).
TieConv make_tie_conv(int M, int C, int KH, int KW, int stride, int pad, int group, int H, int W, int mode,
                      std::mt19937& rng) {
  TieConv t;
  ops::OrtFloatConv& p = t.p;
  const int Cg = C / group, K = Cg * KH * KW;
  std::uniform_int_distribution<int> wd(-3, 3), bd(-40, 40);
  t.w.resize(static_cast<size_t>(M) * K);
  for (auto& v : t.w) v = static_cast<int8_t>(wd(rng));
  const float xs = 0.0173f, ws = 0.0029f;
  p.M = M;
  p.K = K;
  p.H = H;
  p.W = W;
  p.C = C;
  p.KH = KH;
  p.KW = KW;
  p.sh = p.sw = stride;
  p.pt = p.pl = p.pb = p.pr = pad;
  p.group = group;
  p.mode = mode;
  p.x_type = DType::S8;
  p.y_type = DType::S8;
  p.zx = 3;
  p.xs = xs;
  p.ys = 2.f * (xs * ws);
  p.zy = -5;
  p.qmin = -128;
  p.qmax = 127;
  p.stride_k = 128;
  p.wf.resize(static_cast<size_t>(M) * K);
  p.bf.resize(M);
  for (int m = 0; m < M; ++m) {
    // OIHW order (c, kh, kw) for the float weights, from the OHWI integer ones
    for (int c = 0; c < Cg; ++c)
      for (int kh = 0; kh < KH; ++kh)
        for (int kw = 0; kw < KW; ++kw)
          p.wf[static_cast<size_t>(m) * K + (c * KH + kh) * KW + kw] =
              static_cast<float>(t.w[static_cast<size_t>(m) * K + (kh * KW + kw) * Cg + c]) * ws;
    p.bf[m] = static_cast<float>(bd(rng)) * (xs * ws);
  }
  p.finalize(std::vector<float>(M, ws));
  return t;
}

}  // namespace

LOWP_TEST(ort_float_conv_simd_matches_reference) {
  std::mt19937 rng(7);
  struct Shape {
    int M, C, KH, stride, pad, group, H;
  };
  for (const Shape& s : {Shape{24, 48, 1, 1, 0, 1, 9}, Shape{37, 20, 3, 1, 1, 1, 7}, Shape{20, 16, 3, 2, 1, 1, 9},
                         Shape{16, 32, 3, 1, 0, 2, 6}}) {
    TieConv t = make_tie_conv(s.M, s.C, s.KH, s.KH, s.stride, s.pad, s.group, s.H, s.H, 0, rng);
    const ops::OrtFloatConv& p = t.p;
    const int N = 2;
    std::vector<int8_t> x(static_cast<size_t>(N) * s.H * s.H * s.C);
    std::uniform_int_distribution<int> xd(1, 5);  // x - zx in -2..2
    for (auto& v : x) v = static_cast<int8_t>(xd(rng));
    const int32_t zw = 0;
    PackedConv w(t.w.data(), DType::S8, s.M, s.KH, s.KH, s.C / s.group, s.group, &zw, 1, "", "");
    ConvGeometry g;
    g.N = N;
    g.H = g.W = s.H;
    g.KH = g.KW = s.KH;
    g.sh = g.sw = s.stride;
    g.pt = g.pl = g.pb = g.pr = s.pad;
    const int64_t pixels = static_cast<int64_t>(N) * g.OH() * g.OW();
    EXPECT_TRUE(g.OH() == p.OH && g.OW() == p.OW, "geometry");
    std::vector<int32_t> acc(static_cast<size_t>(pixels) * s.M);
    OutputSpec spec;
    conv2d(w, g, x.data(), DType::S8, p.zx, acc.data(), spec, 1);
    std::vector<int8_t> ref(acc.size()), got(acc.size());
    const int64_t r0 = ops::ort_float_conv_finish(p, acc.data(), x.data(), ref.data(), pixels, 1,
                                                  ops::ort_float_blocks_ref, ops::ort_float_check_ref);
    const int64_t r1 = ops::ort_float_conv_finish(p, acc.data(), x.data(), got.data(), pixels, 1);
    EXPECT_TRUE(r0 > 0 && r0 == r1, "recompute counts");
    EXPECT_TRUE(ref == got, "dispatched kernels differ from the reference");
    if (s.KH == 1 && s.stride == 1 && s.group == 1) {
      std::vector<int8_t> fused(acc.size());
      ops::ort_float_conv_1x1(p, w, x.data(), fused.data(), pixels, 2);
      EXPECT_TRUE(fused == ref, "fused 1x1 path differs");
    }
  }
}

// The direct float32 path (dense single-group convs): the dispatched kernel (AVX-512, or its AVX2 twin under
// LOWP_MAX_ISA=avx2, as .ci/sanitizers.sh also runs) == the scalar reference, 1 and 2 threads; pointwise, 3x3
// padded and strided layers, output channels off the 16 / 32 multiples.
LOWP_TEST(ort_float_direct_simd_matches_reference) {
  std::mt19937 rng(10);
  struct Shape {
    int M, C, KH, stride, pad, H;
  };
  int direct = 0;
  for (const Shape& s : {Shape{24, 48, 1, 1, 0, 9}, Shape{37, 20, 3, 1, 1, 7}, Shape{20, 16, 3, 2, 1, 9},
                         Shape{70, 8, 3, 1, 1, 13}}) {
    TieConv t = make_tie_conv(s.M, s.C, s.KH, s.KH, s.stride, s.pad, 1, s.H, s.H, 0, rng);
    const ops::OrtFloatConv& p = t.p;
    direct += p.direct;
    const int N = 2;
    std::vector<int8_t> x(static_cast<size_t>(N) * s.H * s.H * s.C);
    std::uniform_int_distribution<int> xd(-128, 127);
    for (auto& v : x) v = static_cast<int8_t>(xd(rng));
    const int64_t pixels = static_cast<int64_t>(N) * p.OH * p.OW;
    std::vector<int8_t> ref(static_cast<size_t>(pixels) * s.M), got(ref.size()), got2(ref.size());
    ops::ort_float_direct(p, x.data(), ref.data(), pixels, 1, "ref");
    ops::ort_float_direct(p, x.data(), got.data(), pixels, 1);
    ops::ort_float_direct(p, x.data(), got2.data(), pixels, 2);
    EXPECT_TRUE(ref == got && ref == got2, "direct kernels differ from the reference");
  }
#if defined(__x86_64__)
  if (cpu::has_avx2()) EXPECT_TRUE(direct == 4, "a SIMD direct kernel exists, but the layers were not direct");
#endif
}

LOWP_TEST(ort_float_depthwise_simd_matches_reference) {
  std::mt19937 rng(8);
  for (int C : {24, 40}) {
    TieConv t = make_tie_conv(C, C, 3, 3, 1, 1, C, 7, 7, 1, rng);
    std::vector<int8_t> x(static_cast<size_t>(2) * 7 * 7 * C);
    std::uniform_int_distribution<int> xd(-128, 127);
    for (auto& v : x) v = static_cast<int8_t>(xd(rng));
    const int64_t pixels = 2 * 7 * 7;
    std::vector<int8_t> ref(static_cast<size_t>(pixels) * C), got(ref.size());
    ops::ort_float_depthwise(t.p, x.data(), ref.data(), pixels, 1, "ref");
    ops::ort_float_depthwise(t.p, x.data(), got.data(), pixels, 2);
    EXPECT_TRUE(ref == got, "depthwise kernels differ from the reference");
  }
}

LOWP_TEST(ort_float_binary_simd_matches_reference) {
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> d(-128, 127);
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> shapes = {
      {{2, 5, 7, 19}, {2, 5, 7, 19}}, {{1, 4, 4, 24}, {1, 1, 1, 24}}, {{3, 37}, {37}}, {{1, 24, 1, 1}, {1, 24, 3, 3}}};
  for (const auto& sh : shapes) {
    const std::vector<int64_t> out = ops::broadcast_out_shape(sh.first, sh.second);
    auto numel = [](const std::vector<int64_t>& s) {
      int64_t n = 1;
      for (int64_t v : s) n *= v;
      return static_cast<size_t>(n);
    };
    std::vector<int8_t> a(numel(sh.first)), b(numel(sh.second)), ref(numel(out)), got(numel(out));
    for (auto& v : a) v = static_cast<int8_t>(d(rng));
    for (auto& v : b) v = static_cast<int8_t>(d(rng));
    for (const char* op : {"add", "mul"}) {
      const ops::OrtFloatBinary k =
          ops::ort_float_binary_params(op, DType::S8, 0.0173f, 3, 0.031f, -2, 0.043f, 5, -120, 127);
      ops::ort_float_binary(sh.first, sh.second, a.data(), b.data(), ref.data(), DType::S8, k, "ref");
      ops::ort_float_binary(sh.first, sh.second, a.data(), b.data(), got.data(), DType::S8, k);
      EXPECT_TRUE(ref == got, std::string("binary ") + op + " differs from the reference");
    }
  }
}

#if defined(__x86_64__) || defined(_M_X64)
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/cpu.h"
namespace {

// y values at, beside and between the .5 boundaries of y / ys for quotients in [-lim, lim], random ones, and
// the special cases (zeros, denormals, huge, infinities, NaN).
std::vector<float> quotient_cases(float ys, int lim, std::mt19937& rng) {
  std::vector<float> y;
  for (int k = -lim; k <= lim; ++k) {
    const float c = static_cast<float>((k + 0.5) * static_cast<double>(ys));
    uint32_t b;
    std::memcpy(&b, &c, 4);
    for (int d = -64; d <= 64; ++d) {
      const uint32_t bb = b + static_cast<uint32_t>(d);
      float v;
      std::memcpy(&v, &bb, 4);
      y.push_back(v);
    }
  }
  std::uniform_real_distribution<float> ud(-1.5f * lim, 1.5f * lim);
  for (int i = 0; i < 20000; ++i) y.push_back(ud(rng) * ys);
  for (float v : {0.f, -0.f, 1e-40f, -1e-40f, 3e38f, -3e38f, 1e6f, -1e6f, 2147483648.f, -2147483648.f, 4.3e9f,
                  -4.3e9f, 1e12f, -1e12f, std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                  -std::numeric_limits<float>::quiet_NaN()})
    y.push_back(v);
  return y;
}

// onnxruntime's MlasQuantizeLinear for one value: the true float32 division, vmaxps / vminps against
// [tlo - zy, thi - zy] (a NaN gives the lower bound: fmax returns the other operand), round half to even, + zy;
// then a fused clamp [qmin, qmax].
int32_t ort_quantize_ref(float y, float ys, int32_t zy, int32_t tlo, int32_t thi, int32_t qmin, int32_t qmax) {
  volatile float qv = y / ys;
  float v = std::fmax(static_cast<float>(qv), static_cast<float>(tlo - zy));
  v = std::fmin(v, static_cast<float>(thi - zy));
  const int32_t q = static_cast<int32_t>(std::nearbyint(v)) + zy;
  return std::min(std::max(q, qmin), qmax);
}

}  // namespace

// ort_quot_clamp_avx512, ort_round_clamped_avx512 and ort_quantize4_avx512 (ops/ort_float_quot_avx512.h):
// onnxruntime's QuantizeLinear
// bit for bit on .5 boundaries and their neighbours, saturation, fused clamps, zero points at the ends of the
// range and non-finite values.
LOWP_TEST(ort_float_quantize_matches_division) {
  if (!cpu::has_avx512bw()) return;
  std::mt19937 rng(12);
  const float scales[] = {2.f * (0.0173f * 0.0029f), 0.0173f, 0.1f, 0.0235294122f, 3.0f, 1.f / 255.f, 7.3e-6f};
  struct Out {
    DType t;
    int32_t zy, qmin, qmax;
  };
  const Out outs[] = {{DType::S8, -5, -128, 127},  {DType::S8, -128, -128, 127}, {DType::S8, 127, -128, 127},
                      {DType::S8, 3, 3, 127},      {DType::S8, 0, -100, 90},     {DType::U8, 0, 0, 255},
                      {DType::U8, 131, 0, 255},    {DType::U8, 255, 0, 255},     {DType::U8, 17, 17, 200}};
  for (float ys : scales) {
    const std::vector<float> y = quotient_cases(ys, 300, rng);
    const int64_t n = static_cast<int64_t>(y.size());
    for (const Out& o : outs) {
      const int32_t tlo = o.t == DType::S8 ? -128 : 0, thi = o.t == DType::S8 ? 127 : 255;
      std::vector<uint8_t> got(y.size());
      ops::ort_float_quantize_avx512(y.data(), n, ys, o.zy, o.t, o.qmin, o.qmax, got.data());
      int bad = 0;
      for (int64_t i = 0; i < n; ++i) {
        const int32_t ref = ort_quantize_ref(y[i], ys, o.zy, tlo, thi, o.qmin, o.qmax);
        const int32_t g = o.t == DType::S8 ? static_cast<int32_t>(static_cast<int8_t>(got[i])) : got[i];
        bad += ref != g;
      }
      EXPECT_TRUE(bad == 0, "ort_quantize4_avx512 differs from onnxruntime's QuantizeLinear");
      // the one-vector quotient with a clamp to [qmin - zy, qmax - zy] (integer bounds, |bound| <= 512)
      std::vector<int32_t> q(y.size());
      const float flo = static_cast<float>(o.qmin - o.zy), fhi = static_cast<float>(o.qmax - o.zy);
      ops::ort_float_quot_clamp_round_avx512(y.data(), n, ys, flo, fhi, q.data());
      bad = 0;
      for (int64_t i = 0; i < n; ++i)
        bad += q[i] + o.zy != ort_quantize_ref(y[i], ys, o.zy, tlo, thi, o.qmin, o.qmax);
      EXPECT_TRUE(bad == 0, "ort_quot_clamp_avx512 differs from onnxruntime's QuantizeLinear");
      // the same rounded (ort_round_clamped_avx512: the depthwise and Add / Mul kernels)
      ops::ort_float_round_clamped_avx512(y.data(), n, ys, o.zy, o.qmin, o.qmax, q.data());
      bad = 0;
      for (int64_t i = 0; i < n; ++i) bad += q[i] != ort_quantize_ref(y[i], ys, o.zy, tlo, thi, o.qmin, o.qmax);
      EXPECT_TRUE(bad == 0, "ort_round_clamped_avx512 differs from onnxruntime's QuantizeLinear");
    }
  }
}
#endif

