// Elementwise / pooling / LUT / softmax / quantize ops: the dispatched kernels against scalar
// references written here (integer definitions, and the float32 formulas spelled out again).
#include <algorithm>
#include <cmath>
#include <string>
#include <cstdint>
#include <random>
#include <vector>

#include "ops/eltwise.h"
#include "ops/pool.h"
#include "ops/quantize.h"
#include "ops/softmax.h"
#include "tests/test_framework.h"

using namespace lowp;

namespace {

// Every (a, b) byte pair through binary_op with the dispatched row kernels and with the scalar
// reference kernels; both must agree element for element.
void check_binary_pairs(DType t, ops::BinaryOp op, float sa, float sb, float sc, int za, int zb, int zc) {
  std::vector<uint8_t> a(256), b(256), c1(256 * 256), c2(256 * 256);
  for (int i = 0; i < 256; ++i) a[i] = b[i] = static_cast<uint8_t>(i);
  ops::BroadcastShape bs;
  bs.ndim = 2;
  bs.shape[0] = 256;
  bs.shape[1] = 256;
  bs.stride_a[0] = 1;  // a is a column, b a row: "A constant" spans
  bs.stride_a[1] = 0;
  bs.stride_b[0] = 0;
  bs.stride_b[1] = 1;
  ops::BinaryParams p;
  p.op = op;
  p.rounding = Rounding::HalfEven;
  p.scale_a = sa;
  p.scale_b = sb;
  p.scale_c = sc;
  p.zp_a = za;
  p.zp_b = zb;
  p.zp_c = zc;
  p.qmin = t == DType::U8 ? 0 : -128;
  p.qmax = t == DType::U8 ? 255 : 127;
  ops::binary_op(bs, a.data(), b.data(), c1.data(), t, p);
  ops::set_eltwise_simd(false);
  ops::binary_op(bs, a.data(), b.data(), c2.data(), t, p);
  ops::set_eltwise_simd(true);
  int bad = 0;
  for (size_t i = 0; i < c1.size(); ++i) bad += c1[i] != c2[i];
  EXPECT_TRUE(bad == 0, std::to_string(bad) + " SIMD/reference mismatches");
}

}  // namespace

LOWP_TEST(eltwise_simd_matches_reference) {
  for (DType t : {DType::U8, DType::S8}) {
    for (auto op : {ops::BinaryOp::Add, ops::BinaryOp::Sub, ops::BinaryOp::Mul}) {
      check_binary_pairs(t, op, 0.5f, 0.25f, 1.0f, 3, t == DType::U8 ? 250 : -5, 7);
      check_binary_pairs(t, op, 1e-3f, 2e-3f, 1e-7f, 0, 0, 0);
      check_binary_pairs(t, op, 0.0876729f, 0.013228908f, 0.0012737392f, 249 - (t == DType::S8) * 200, 52, 89);
    }
  }
}

LOWP_TEST(eltwise_add_half_even_formula) {
  // (F + b*rB) + a*rA with F = zc - (rA*za + rB*zb); the tie 1.5 rounds to 2.
  ops::BinaryParams p;
  p.scale_a = 0.5f;
  p.scale_b = 0.25f;
  p.scale_c = 1.0f;
  p.zp_a = 3;
  p.zp_b = 250;
  p.zp_c = 7;
  p.qmin = 0;
  p.qmax = 255;
  const ops::AddHalfEven k = ops::add_half_even_consts(p, false);
  EXPECT_TRUE(ops::add_he(0, 234, k) == 2, "tie must round half to even after the B term");
  EXPECT_TRUE(ops::add_he(0, 230, k) == 0, "0.5 rounds to 0");
}

LOWP_TEST(eltwise_tflite_add_identity) {
  // scales 1, zero points 0: TFLite ADD is exact integer addition (saturated)
  for (Rounding r : {Rounding::Gemmlowp, Rounding::Single}) {
    ops::BinaryParams p;
    p.rounding = r;
    p.left_shift = 20;
    p.mult_a = p.mult_b = 1 << 30;  // 0.5
    p.shift_a = p.shift_b = 0;
    p.mult_c = 1 << 30;  // 2 / 2^20 = 0.5 * 2^-18
    p.shift_c = -18;
    p.qmin = -128;
    p.qmax = 127;
    for (int a = -128; a < 128; a += 7)
      for (int b = -128; b < 128; b += 5) {
        const int want = std::min(127, std::max(-128, a + b));
        EXPECT_TRUE(ops::add_tflite(a, b, p) == want, "tflite add identity " + std::to_string(a) + "+" + std::to_string(b));
      }
  }
}

LOWP_TEST(quantize_linear_matches_definition) {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 40.f);
  std::vector<float> x(1000);
  for (auto& v : x) v = nd(rng);
  x[0] = 0.5f;
  x[1] = 1.5f;
  x[2] = -2.5f;
  x[3] = std::nanf("");
  const float s = 0.37f;
  const int32_t z = 17;
  std::vector<uint8_t> y(x.size());
  ops::quantize_linear(x.data(), y.data(), DType::U8, 1, 1, static_cast<int64_t>(x.size()), &s, &z, 1);
  for (size_t i = 0; i < x.size(); ++i) {
    float v = x[i] / s;
    int32_t want;
    if (std::isnan(v)) want = 0;
    else want = static_cast<int32_t>(std::min(255.f, std::max(0.f, std::nearbyint(v) + 17.f)));
    EXPECT_TRUE(y[i] == want, "quantize " + std::to_string(x[i]));
  }
}

LOWP_TEST(lut_dispatch_matches_reference) {
  std::mt19937 rng(2);
  std::vector<uint8_t> t(256), x(1000), y1(1000), y2(1000);
  for (auto& v : t) v = static_cast<uint8_t>(rng());
  for (auto& v : x) v = static_cast<uint8_t>(rng());
  for (int n : {0, 1, 63, 64, 65, 1000}) {
    ops::lut_apply(x.data(), t.data(), y1.data(), n);
    ops::lut_apply_ref(x.data(), t.data(), y2.data(), n);
    for (int i = 0; i < n; ++i) EXPECT_TRUE(y1[i] == t[x[i]] && y2[i] == t[x[i]], "lut");
  }
}

LOWP_TEST(max_pool_nchw) {
  // 1x1x4x4 ramp, 2x2 stride 2: maxima of each block
  std::vector<uint8_t> x(16), y(4);
  for (int i = 0; i < 16; ++i) x[i] = static_cast<uint8_t>(i * 3);
  ops::Pool2D g;
  g.N = g.C = 1;
  g.H = g.W = 4;
  g.OH = g.OW = 2;
  g.xs[0] = 16; g.xs[1] = 16; g.xs[2] = 4; g.xs[3] = 1;
  g.ys[0] = 4; g.ys[1] = 4; g.ys[2] = 2; g.ys[3] = 1;
  g.kh = g.kw = 2;
  g.sh = g.sw = 2;
  ops::max_pool(g, x.data(), y.data(), DType::U8);
  const int want[4] = {15, 21, 39, 45};
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(y[i] == want[i], "max pool");
}

LOWP_TEST(avg_pool_int_rounds_half_away) {
  // int8 window {-1, -2} -> -1.5 -> -2; {1, 2} -> 1.5 -> 2
  std::vector<int8_t> x = {-1, -2, 1, 2}, y(2);
  ops::Pool2D g;
  g.N = g.C = 1;
  g.H = 1;
  g.W = 4;
  g.OH = 1;
  g.OW = 2;
  g.xs[0] = 4; g.xs[1] = 4; g.xs[2] = 4; g.xs[3] = 1;
  g.ys[0] = 2; g.ys[1] = 2; g.ys[2] = 2; g.ys[3] = 1;
  g.kh = 1;
  g.kw = 2;
  g.sh = 1;
  g.sw = 2;
  ops::avg_pool_int(g, x.data(), y.data(), DType::S8, 0, false, -128, 127);
  EXPECT_TRUE(y[0] == -2 && y[1] == 2, "TFLite average rounding");
}

LOWP_TEST(bad_pool_geometry_throws) {
  ops::Pool2D g;
  g.N = g.C = g.H = g.W = g.OH = g.OW = 1;
  g.kh = 0;
  uint8_t x = 0, y = 0;
  bool threw = false;
  try {
    ops::max_pool(g, &x, &y, DType::U8);
  } catch (const Error&) {
    threw = true;
  }
  EXPECT_TRUE(threw, "kernel 0 must throw lowp::Error");
}

LOWP_TEST(softmax_rows_sum_to_about_one) {
  std::vector<uint8_t> x(50), y(50);
  for (int i = 0; i < 50; ++i) x[i] = static_cast<uint8_t>(i * 5);
  float table[256];
  ops::softmax_ort_table(0.05f, 50, false, table);
  ops::qlinear_softmax_ort(x.data(), y.data(), DType::U8, 1, 50, table, 1.0f / 256, 0);
  int sum = 0;
  for (auto v : y) sum += v;
  EXPECT_TRUE(sum >= 250 && sum <= 262, "quantized softmax row sums to ~256, got " + std::to_string(sum));
  EXPECT_TRUE(y[49] >= y[48] && y[0] <= y[1], "softmax is monotone in x");
}
