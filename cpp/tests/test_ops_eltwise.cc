// Elementwise / pooling / LUT / softmax / quantize ops: the dispatched kernels against scalar
// references written here (integer definitions, and the float32 formulas spelled out again).
#include <algorithm>
#include <cmath>
#include <string>
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "exec/ops.h"
#include "ops/eltwise.h"
#include "ops/float_glue.h"
#include "ops/layout.h"
#include "ops/pool.h"
#include "ops/quantize.h"
#include "ops/softmax.h"
#include "requant/requant.h"
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
  ops::set_eltwise_simd(false);
  ops::binary_op(bs, a.data(), b.data(), c2.data(), t, p);
  ops::set_eltwise_simd(true);
  for (const char* const* k = ops::eltwise_kernel_names(); *k; ++k) {
    ops::force_eltwise_kernel(*k);
    ops::binary_op(bs, a.data(), b.data(), c1.data(), t, p);
    ops::force_eltwise_kernel("");
    int bad = 0;
    for (size_t i = 0; i < c1.size(); ++i) bad += c1[i] != c2[i];
    EXPECT_TRUE(bad == 0, std::string(*k) + ": " + std::to_string(bad) + " SIMD/reference mismatches");
  }
}

// A 3-D broadcast over `dims`: sh[0..2] say whether a varies along each axis, sh[3..5] the same for b
// (contiguous along the axes that vary, stride 0 along the others).
ops::BroadcastShape broadcast3(const int sh[6], const int64_t dims[3]) {
  ops::BroadcastShape bs;
  bs.ndim = 3;
  int64_t sa = 1, sb = 1;
  for (int d = 2; d >= 0; --d) {
    bs.shape[d] = dims[d];
    bs.stride_a[d] = sh[d] ? sa : 0;
    bs.stride_b[d] = sh[3 + d] ? sb : 0;
    if (sh[d]) sa *= dims[d];
    if (sh[3 + d]) sb *= dims[d];
  }
  return bs;
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

namespace {

ops::BinaryParams he_params(DType t, ops::BinaryOp op, float sa, float sb, float sc, int za, int zb, int zc) {
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
  return p;
}

// binary_op with every row-kernel set this CPU runs against the scalar reference kernels;
// returns the number of differing output bytes summed over the kernel sets.
int binary_vs_ref(const ops::BroadcastShape& bs, const uint8_t* a, const uint8_t* b, size_t nout, DType t,
                  const ops::BinaryParams& p, std::string* which) {
  std::vector<uint8_t> want(nout + 64, 0x5A), got(nout + 64);
  ops::set_eltwise_simd(false);
  ops::binary_op(bs, a, b, want.data(), t, p);
  ops::set_eltwise_simd(true);
  int bad = 0;
  for (const char* const* k = ops::eltwise_kernel_names(); *k; ++k) {
    std::fill(got.begin(), got.end(), uint8_t{0x5A});  // guard bytes past nout must stay
    ops::force_eltwise_kernel(*k);
    ops::binary_op(bs, a, b, got.data(), t, p);
    ops::force_eltwise_kernel("");
    int nb = 0;
    for (size_t i = 0; i < got.size(); ++i) nb += got[i] != want[i];
    if (nb && which) *which += std::string(" ") + *k;
    bad += nb;
  }
  return bad;
}

// Scale sets: ordinary, tiny output scale, real-model-like, ratios that overflow int32 (the x86
// conversion gives INT32_MIN -> qmin) and NaN ratios (inf / inf).
struct ScaleSet {
  float sa, sb, sc;
};
const ScaleSet kScaleSets[] = {{0.5f, 0.25f, 1.0f},      {1e-3f, 2e-3f, 1e-7f},
                               {0.0876729f, 0.013228908f, 0.0012737392f},
                               {1.0f, 3.0f, 1e-30f},      {INFINITY, 0.5f, INFINITY},
                               {0.02f, 0.03f, 0.05f}};

}  // namespace

LOWP_TEST(eltwise_simd_all_pairs_every_span_kind) {
  // All 65536 (a, b) pairs as one contiguous row (span kind Both), and as a row x column
  // broadcast in both orientations (B constant / A constant, the latter swapped like ORT).
  std::vector<uint8_t> a(65536), b(65536), col(256);
  for (int i = 0; i < 65536; ++i) {
    a[i] = static_cast<uint8_t>(i >> 8);
    b[i] = static_cast<uint8_t>(i);
  }
  for (int i = 0; i < 256; ++i) col[i] = static_cast<uint8_t>(i);
  ops::BroadcastShape flat;
  flat.ndim = 1;
  flat.shape[0] = 65536;
  flat.stride_a[0] = flat.stride_b[0] = 1;
  ops::BroadcastShape rowcol;  // a varies along the last axis, b along the first
  rowcol.ndim = 2;
  rowcol.shape[0] = rowcol.shape[1] = 256;
  rowcol.stride_a[1] = 1;
  rowcol.stride_b[0] = 1;
  for (DType t : {DType::U8, DType::S8})
    for (auto op : {ops::BinaryOp::Add, ops::BinaryOp::Sub, ops::BinaryOp::Mul})
      for (int si = 0; si < static_cast<int>(sizeof(kScaleSets) / sizeof(kScaleSets[0])); ++si) {
        const ScaleSet& s = kScaleSets[si];
        const int za = t == DType::U8 ? 3 : -3, zb = t == DType::U8 ? 250 : 120, zc = t == DType::U8 ? 128 : 0;
        const ops::BinaryParams p = he_params(t, op, s.sa, s.sb, s.sc, za, zb, zc);
        std::string which;
        int bad = binary_vs_ref(flat, a.data(), b.data(), 65536, t, p, &which);
        bad += binary_vs_ref(rowcol, col.data(), col.data(), 65536, t, p, &which);
        EXPECT_TRUE(bad == 0, "op " + std::to_string(static_cast<int>(op)) + " scale set " + std::to_string(si) +
                                  ": " + std::to_string(bad) + " mismatches in" + which);
      }
}

LOWP_TEST(eltwise_simd_tails_and_broadcast_shapes) {
  std::mt19937 rng(11);
  std::vector<uint8_t> a(4096), b(4096);
  for (auto& v : a) v = static_cast<uint8_t>(rng());
  for (auto& v : b) v = static_cast<uint8_t>(rng());
  int bad = 0;
  std::string which;
  for (DType t : {DType::U8, DType::S8})
    for (auto op : {ops::BinaryOp::Add, ops::BinaryOp::Sub, ops::BinaryOp::Mul}) {
      const ops::BinaryParams p = he_params(t, op, 0.0876729f, 0.013228908f, 0.0012737392f, 7, -9 + 100 * (t == DType::U8), 5);
      // rows of every length 0..63 (and a few longer), three span kinds, unaligned starts
      for (int n = 0; n < 80; ++n)
        for (int kind = 0; kind < 3; ++kind) {
          ops::BroadcastShape bs;
          bs.ndim = 1;
          bs.shape[0] = n;
          bs.stride_a[0] = kind == 2 ? 0 : 1;
          bs.stride_b[0] = kind == 1 ? 0 : 1;
          bad += binary_vs_ref(bs, a.data() + 1 + n % 7, b.data() + 3, n, t, p, &which);
        }
      // broadcast shapes: out [3, 5, 37] from (a, b) shapes listed as per-axis "varies" flags
      const int shapes[][6] = {{1, 1, 1, 0, 1, 0}, {1, 0, 1, 1, 1, 1}, {0, 1, 1, 1, 0, 1},
                               {1, 1, 0, 0, 0, 1}, {0, 0, 1, 1, 1, 0}, {1, 1, 1, 1, 1, 1}};
      for (const auto& sh : shapes) {
        const int64_t dims[3] = {3, 5, 37};
        bad += binary_vs_ref(broadcast3(sh, dims), a.data(), b.data(), 3 * 5 * 37, t, p, &which);
      }
    }
  EXPECT_TRUE(bad == 0, std::to_string(bad) + " SIMD/reference mismatches in" + which);
}

// (rows, C) op (1, C) and (1, C) op (rows, C): the per-channel broadcast (squeeze-excitation gate on
// an NHWC tensor) goes through a tiled fast path; every element against add_he / mul_he directly.
LOWP_TEST(eltwise_channel_vector_broadcast_matches_formula) {
  std::mt19937 rng(21);
  int bad = 0;
  for (DType t : {DType::U8, DType::S8})
    for (auto op : {ops::BinaryOp::Add, ops::BinaryOp::Mul})
      for (int64_t C : {2, 3, 16, 24, 96, 1000, 1500})
        for (int64_t R : {2, 7, 300})
          for (int vec_first = 0; vec_first < 2; ++vec_first) {
            const ops::BinaryParams p = he_params(t, op, 0.031f, 0.0047f, 0.0123f, 3, -9 + 100 * (t == DType::U8), 5);
            std::vector<uint8_t> x(static_cast<size_t>(R * C)), v(static_cast<size_t>(C)), y(x.size());
            for (auto& e : x) e = static_cast<uint8_t>(rng());
            for (auto& e : v) e = static_cast<uint8_t>(rng());
            ops::BroadcastShape bs;
            bs.ndim = 2;
            bs.shape[0] = R;
            bs.shape[1] = C;
            bs.stride_a[0] = vec_first ? 0 : C;
            bs.stride_b[0] = vec_first ? C : 0;
            bs.stride_a[1] = bs.stride_b[1] = 1;
            const uint8_t* a = vec_first ? v.data() : x.data();
            const uint8_t* b = vec_first ? x.data() : v.data();
            ops::binary_op(bs, a, b, y.data(), t, p);
            const ops::AddHalfEven ka = ops::add_half_even_consts(p, false);
            const ops::MulHalfEven km = ops::mul_half_even_consts(p, false);
            for (int64_t r = 0; r < R; ++r)
              for (int64_t c = 0; c < C; ++c) {
                const uint8_t ea = vec_first ? v[c] : x[r * C + c], eb = vec_first ? x[r * C + c] : v[c];
                const int32_t ia = t == DType::S8 ? static_cast<int8_t>(ea) : ea;
                const int32_t ib = t == DType::S8 ? static_cast<int8_t>(eb) : eb;
                const int32_t want = op == ops::BinaryOp::Mul ? ops::mul_he(ia, ib, km) : ops::add_he(ia, ib, ka);
                bad += static_cast<uint8_t>(want) != y[r * C + c];
              }
          }
  EXPECT_TRUE(bad == 0, std::to_string(bad) + " mismatches in the channel-vector broadcast");
}

LOWP_TEST(copy_rows_matches_reference) {
  std::mt19937 rng(5);
  std::vector<uint8_t> src(64 * 400);
  for (auto& e : src) e = static_cast<uint8_t>(rng());
  int bad = 0;
  for (int64_t row : {1, 3, 8, 15, 16, 17, 24, 32, 40, 48, 64, 100, 255, 256, 300})
    for (int64_t extra_s : {0, 5, 64})
      for (int64_t extra_d : {0, 3, 48}) {
        const int64_t rows = 37, ss = row + extra_s, ds = row + extra_d;
        std::vector<uint8_t> want(static_cast<size_t>(ds * rows + 16), 0xA5), got(want);
        ops::copy_rows_ref(src.data() + 1, ss, want.data(), ds, row, rows);
        ops::copy_rows(src.data() + 1, ss, got.data(), ds, row, rows);
        bad += got != want;
      }
  EXPECT_TRUE(bad == 0, std::to_string(bad) + " copy_rows cases differ from the reference");
}

LOWP_TEST(gather_channels_matches_reference) {
  std::mt19937 rng(6);
  int bad = 0;
  for (int64_t c_in : {1, 16, 58, 63, 64, 65, 116, 128, 232}) {
    const int64_t pixels = 29;
    std::vector<uint8_t> x(static_cast<size_t>(c_in * pixels));
    for (auto& e : x) e = static_cast<uint8_t>(rng());
    std::vector<std::vector<int64_t>> idxs;
    std::vector<int64_t> shuffle(static_cast<size_t>(c_in)), range, rnd;
    for (int64_t j = 0; j < c_in; ++j) shuffle[j] = c_in % 2 ? j : (j % 2) * (c_in / 2) + j / 2;
    for (int64_t j = c_in / 3; j < c_in; ++j) range.push_back(j);
    for (int64_t j = 0; j < 2 * c_in + 3; ++j) rnd.push_back(static_cast<int64_t>(rng() % c_in));
    std::vector<int64_t> rnd_short(rnd.begin(), rnd.begin() + std::min<int64_t>(static_cast<int64_t>(rnd.size()), 70));
    idxs = {shuffle, range, rnd, rnd_short};
    for (const auto& idx : idxs) {
      const int64_t c_out = static_cast<int64_t>(idx.size());
      std::vector<uint8_t> want(static_cast<size_t>(c_out * pixels)), got(want.size());
      ops::gather_channels_ref(x.data(), c_in, idx.data(), c_out, want.data(), pixels);
      ops::gather_channels(x.data(), c_in, idx.data(), c_out, got.data(), pixels);
      bad += got != want;
      ops::set_gather_simd(false);
      std::fill(got.begin(), got.end(), uint8_t{0});
      ops::gather_channels(x.data(), c_in, idx.data(), c_out, got.data(), pixels);
      ops::set_gather_simd(true);
      bad += got != want;
    }
  }
  EXPECT_TRUE(bad == 0, std::to_string(bad) + " gather_channels cases differ from the reference");
}

// The executor's concat (short NHWC channel blocks: table pass + strided copies) and channel gather
// ops against plain loops.
LOWP_TEST(exec_concat_short_blocks_and_gather_channels) {
  std::mt19937 rng(8);
  int bad = 0;
  const int64_t outer = 37;
  const std::vector<int64_t> blk = {16, 3, 48, 300};
  std::vector<std::vector<uint8_t>> xs(blk.size()), tabs(blk.size());
  for (size_t i = 0; i < blk.size(); ++i) {
    xs[i].resize(static_cast<size_t>(outer * blk[i]));
    for (auto& e : xs[i]) e = static_cast<uint8_t>(rng());
    if (i % 2 == 0) {
      tabs[i].resize(256);
      for (auto& e : tabs[i]) e = static_cast<uint8_t>(rng());
    }
  }
  int64_t row = 0;
  for (int64_t b : blk) row += b;
  std::vector<uint8_t> want(static_cast<size_t>(outer * row)), got(want.size());
  for (int64_t o = 0, d = 0; o < outer; ++o)
    for (size_t i = 0; i < blk.size(); ++i)
      for (int64_t j = 0; j < blk[i]; ++j, ++d) {
        const uint8_t v = xs[i][static_cast<size_t>(o * blk[i] + j)];
        want[static_cast<size_t>(d)] = tabs[i].empty() ? v : tabs[i][v];
      }
  auto cat = exec::make_concat(outer, blk, tabs);
  std::vector<const void*> in;
  for (auto& x : xs) in.push_back(x.data());
  void* out[1] = {got.data()};
  cat->run(in.data(), out);
  bad += got != want;

  const int64_t c_in = 116, pixels = 45;
  std::vector<uint8_t> x(static_cast<size_t>(c_in * pixels));
  for (auto& e : x) e = static_cast<uint8_t>(rng());
  std::vector<int64_t> idx;
  for (int64_t j = 0; j < 58; ++j) idx.push_back((j % 2) * 58 + j / 2);
  std::vector<uint8_t> gw(static_cast<size_t>(58 * pixels)), gg(gw.size());
  for (int64_t p = 0; p < pixels; ++p)
    for (int64_t j = 0; j < 58; ++j) gw[static_cast<size_t>(p * 58 + j)] = x[static_cast<size_t>(p * c_in + idx[j])];
  auto gat = exec::make_gather_channels(c_in, idx, pixels);
  const void* gin[1] = {x.data()};
  void* gout[1] = {gg.data()};
  gat->run(gin, gout);
  bad += gg != gw;
  EXPECT_TRUE(bad == 0, std::to_string(bad) + " executor concat / gather mismatches");
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

LOWP_TEST(pool_saturate_round_defined_everywhere) {
  // Float average -> 8 bit: half to even, saturated, and NaN (0/0 of an empty window) defined.
  const float nan = std::nanf("");
  EXPECT_TRUE(ops::saturate_round<uint8_t>(nan) == 0 && ops::saturate_round<int8_t>(nan) == -128, "NaN -> low bound");
  EXPECT_TRUE(ops::saturate_round<uint8_t>(1e30f) == 255 && ops::saturate_round<int8_t>(-1e30f) == -128, "saturate");
  EXPECT_TRUE(ops::saturate_round<uint8_t>(INFINITY) == 255 && ops::saturate_round<int8_t>(-INFINITY) == -128, "inf");
  EXPECT_TRUE(ops::saturate_round<uint8_t>(2.5f) == 2 && ops::saturate_round<uint8_t>(3.5f) == 4, "half to even");
  EXPECT_TRUE(ops::saturate_round<int8_t>(-2.5f) == -2 && ops::saturate_round<int8_t>(127.5f) == 127, "int8");
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

// The native program's TFLite ADD / MUL: a 64 KiB table of every byte pair, applied with broadcasting,
// against binary_op's scalar add_tflite / mul_tflite on the same shapes (both span kinds, 3-D broadcasts),
// small and large enough to be split over 2 threads.
LOWP_TEST(eltwise_tflite_pair_table_matches_scalar) {
  std::mt19937 rng(31);
  constexpr size_t kBig = 64 * 33 * 16;  // split over 2 threads (>= 4K values a task)
  std::vector<uint8_t> a(kBig), b(kBig), c1(kBig), c2(kBig), table(65536);
  for (auto& v : a) v = static_cast<uint8_t>(rng());
  for (auto& v : b) v = static_cast<uint8_t>(rng());
  int bad = 0, cases = 0;
  for (DType t : {DType::U8, DType::S8})
    for (auto op : {ops::BinaryOp::Add, ops::BinaryOp::Mul})
      for (Rounding r : {Rounding::Gemmlowp, Rounding::Single}) {
        ops::BinaryParams p;
        p.op = op;
        p.rounding = r;
        p.zp_a = t == DType::U8 ? 131 : -7;
        p.zp_b = t == DType::U8 ? 90 : 12;
        p.zp_c = t == DType::U8 ? 120 : 3;
        p.qmin = t == DType::U8 ? 10 : -100;  // a fused activation range
        p.qmax = t == DType::U8 ? 250 : 120;
        if (op == ops::BinaryOp::Mul) {
          quantize_multiplier(0.013 * 0.02 / 0.004, &p.mult_c, &p.shift_c, r == Rounding::Single);
        } else {
          quantize_multiplier(0.5, &p.mult_a, &p.shift_a, r == Rounding::Single);
          quantize_multiplier(0.31, &p.mult_b, &p.shift_b, r == Rounding::Single);
          quantize_multiplier(2 * 0.05 / ((1 << 20) * 0.07), &p.mult_c, &p.shift_c, r == Rounding::Single);
        }
        ops::build_binary_table(t, p, table.data());
        const int shapes[][6] = {{1, 1, 1, 1, 1, 1}, {1, 1, 1, 0, 0, 1}, {0, 0, 1, 1, 1, 1},
                                 {1, 1, 1, 0, 1, 0}, {1, 0, 1, 1, 1, 0}, {0, 1, 0, 1, 0, 1}};
        for (const auto& sh : shapes)
          for (int big = 0; big < 2; ++big) {
            const int64_t dims[2][3] = {{4, 5, 37}, {64, 33, 16}};
            const ops::BroadcastShape bs = broadcast3(sh, dims[big]);
            std::fill(c1.begin(), c1.end(), 0);
            std::fill(c2.begin(), c2.end(), 1);
            ops::binary_op(bs, a.data(), b.data(), c1.data(), t, p);
            ops::binary_table(bs, a.data(), b.data(), c2.data(), table.data(), big ? 2 : 1);
            const int64_t n = dims[big][0] * dims[big][1] * dims[big][2];
            for (int64_t i = 0; i < n; ++i) bad += c1[i] != c2[i];
            ++cases;
          }
      }
  EXPECT_TRUE(cases == 96 && bad == 0, std::to_string(bad) + " table / scalar mismatches");
}

// TFLite MEAN over the middle axis: int8 / uint8, inner 1 (last-axis mean) and 37 (channels), with guard bytes
// after the output, against sums written out here and the same MultiplyByQuantizedMultiplier.
LOWP_TEST(mean_tflite_matches_definition) {
  std::mt19937 rng(41);
  int bad = 0;
  for (DType t : {DType::S8, DType::U8})
    for (int64_t inner : {int64_t{1}, int64_t{37}}) {
      const int64_t outer = 3, len = 11;
      std::vector<uint8_t> x(static_cast<size_t>(outer * len * inner)), y(static_cast<size_t>(outer * inner) + 8, 0xA5);
      for (auto& v : x) v = static_cast<uint8_t>(rng());
      const int32_t xz = t == DType::S8 ? -9 : 140, yz = t == DType::S8 ? 4 : 100;
      int32_t m;
      int sh;
      quantize_multiplier(0.037 / (11 * 0.021), &m, &sh, false);
      ops::mean_tflite(x.data(), y.data(), t, outer, len, inner, xz, m, sh, yz);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          int64_t sum = 0;
          for (int64_t l = 0; l < len; ++l) {
            const uint8_t b = x[static_cast<size_t>((o * len + l) * inner + i)];
            sum += (t == DType::S8 ? static_cast<int8_t>(b) : b) - xz;
          }
          const int32_t lo = t == DType::S8 ? -128 : 0, hi = t == DType::S8 ? 127 : 255;
          const int32_t want = std::min(hi, std::max(lo, requant::mul_gemmlowp(static_cast<int32_t>(sum), m, sh) + yz));
          const uint8_t got = y[static_cast<size_t>(o * inner + i)];
          bad += (t == DType::S8 ? static_cast<int8_t>(got) : got) != want;
        }
      for (size_t k = static_cast<size_t>(outer * inner); k < y.size(); ++k) bad += y[k] != 0xA5;
    }
  EXPECT_TRUE(bad == 0, "TFLite mean: " + std::to_string(bad) + " wrong values or guard bytes");
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

// TFLite QUANTIZE: the scalar function against its definition (round half away from zero of the float32
// quotient, in double as the reference writes it; NaN -> zp), and the dispatched rows against the scalar
// function on edge floats, ties and every length 0..79 with guard bytes.
LOWP_TEST(quantize_tflite_rounds_half_away_and_simd_matches) {
  std::mt19937 rng(23);
  std::normal_distribution<float> nd(0.f, 60.f);
  std::vector<float> x(512);
  for (auto& v : x) v = nd(rng);
  const float edges[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-45f, -1e-45f, 3.4e38f, -3.4e38f, 2.5f, -2.5f,
                         0.5f, -0.5f, 1.5f, -1.5f, 126.5f, -127.5f, 8388607.5f, 1e9f, -3e9f};
  for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); ++i) {
    x[i] = edges[i];
    x[100 + 3 * i] = edges[i];
  }
  for (int i = 200; i < 264; ++i) x[i] = 0.5f * static_cast<float>(i - 232) + 0.25f;  // ties at scale 0.5
  int defbad = 0, bad = 0;
  for (DType t : {DType::U8, DType::S8})
    for (float s : {0.5f, 0.37f, 1.0f, 1e-30f})
      for (int32_t zp : {0, 17, t == DType::U8 ? 255 : -128}) {
        const int32_t lo = t == DType::U8 ? 0 : -128, hi = t == DType::U8 ? 255 : 127;
        for (float v : x) {
          const float q = v / s;
          int32_t want = zp;
          if (q == q) {
            const double r = std::round(static_cast<double>(q)) + zp;  // std::round: ties away from zero
            want = static_cast<int32_t>(std::min<double>(hi, std::max<double>(lo, r)));
          }
          defbad += ops::quantize_one_tflite(v, s, zp, lo, hi) != want;
        }
        for (int n = 0; n < 80; ++n) {
          std::vector<uint8_t> want(n + 16, 0x5A), got(n + 16, 0x5A);
          ops::set_eltwise_simd(false);
          ops::quantize_tflite(x.data() + n % 5, want.data(), t, n, s, zp);
          ops::set_eltwise_simd(true);
          ops::quantize_tflite(x.data() + n % 5, got.data(), t, n, s, zp);
          bad += want != got;
        }
        std::vector<uint8_t> want(512), got(512);
        ops::set_eltwise_simd(false);
        ops::quantize_tflite(x.data(), want.data(), t, 512, s, zp);
        ops::set_eltwise_simd(true);
        ops::quantize_tflite(x.data(), got.data(), t, 512, s, zp);
        bad += want != got;
      }
  EXPECT_TRUE(defbad == 0, "TFLite quantize vs definition: " + std::to_string(defbad) + " values");
  EXPECT_TRUE(bad == 0, "TFLite quantize SIMD/reference: " + std::to_string(bad) + " differing rows");
}

LOWP_TEST(quantize_simd_matches_reference_edges_and_tails) {
  // The dispatched QuantizeLinear / DequantizeLinear rows (AVX2 / NEON) against the scalar
  // reference (SIMD switched off), byte for byte, guard bytes included: edge floats (NaN, +-inf,
  // +-0, subnormals, exact half ties), scales that overflow or divide by zero, every row length
  // 0..79 at unaligned starts, per-tensor and per-axis parameters.
  std::mt19937 rng(21);
  std::normal_distribution<float> nd(0.f, 60.f);
  std::vector<float> x(512);
  for (size_t i = 0; i < x.size(); ++i) x[i] = nd(rng);
  const float edges[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-45f, -1e-45f, 3.4e38f, -3.4e38f,
                         0.25f, 0.75f, -0.25f, -0.75f, 1.25f, -1.25f, 63.75f, -64.25f, 127.25f, 1e9f};
  for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); ++i) {
    x[i] = edges[i];
    x[100 + 3 * i] = edges[i];  // also inside the SIMD blocks at other lane positions
  }
  for (int i = 200; i < 264; ++i) x[i] = 0.5f * static_cast<float>(i - 232) + 0.25f;  // ties at scale 0.5
  const float scales[] = {0.5f, 0.37f, 1e-30f, 3e38f, 0.0f, 1.0f};
  struct TZ {
    DType t;
    int32_t zp;
    int isz;
  };
  const TZ types[] = {{DType::U8, 0, 1}, {DType::U8, 17, 1}, {DType::U8, 255, 1}, {DType::S8, -128, 1},
                      {DType::S8, 5, 1},  {DType::S16, 0, 2}, {DType::S16, -300, 2}};
  int bad = 0;
  for (const TZ& tz : types)
    for (float s : scales)
      for (int n = 0; n < 80; ++n) {
        const int off = n % 5;
        std::vector<uint8_t> want((n + 16) * tz.isz, 0x5A), got((n + 16) * tz.isz, 0x5A);
        ops::set_eltwise_simd(false);
        ops::quantize_linear(x.data() + off, want.data(), tz.t, 1, 1, n, &s, &tz.zp, 1);
        ops::set_eltwise_simd(true);
        ops::quantize_linear(x.data() + off, got.data(), tz.t, 1, 1, n, &s, &tz.zp, 1);
        bad += want != got;
      }
  EXPECT_TRUE(bad == 0, "quantize SIMD/reference: " + std::to_string(bad) + " differing rows");
  // per-axis: [2, 3, 37] with three (scale, zp) pairs along axis 1, over the whole edge array
  {
    const float s3[3] = {0.5f, 0.37f, 1e-30f};
    const int32_t z3[3] = {3, 200, 128};
    std::vector<uint8_t> want(2 * 3 * 37), got(2 * 3 * 37);
    ops::set_eltwise_simd(false);
    ops::quantize_linear(x.data(), want.data(), DType::U8, 2, 3, 37, s3, z3, 3);
    ops::set_eltwise_simd(true);
    ops::quantize_linear(x.data(), got.data(), DType::U8, 2, 3, 37, s3, z3, 3);
    EXPECT_TRUE(want == got, "per-axis quantize SIMD/reference");
  }
  // DequantizeLinear: all 256 byte values at every lane, lengths 0..79; compare float bits.
  std::vector<uint8_t> q(600);
  for (size_t i = 0; i < q.size(); ++i) q[i] = static_cast<uint8_t>(i * 37 + 11);
  int dbad = 0;
  for (DType t : {DType::U8, DType::S8})
    for (float s : {0.0123f, 1.0f, 3e38f, INFINITY, NAN})
      for (int32_t zp : {0, 100, -100}) {
        for (int n = 0; n < 80; ++n) {
          std::vector<float> want(n + 8, 7.f), got(n + 8, 7.f);
          ops::set_eltwise_simd(false);
          ops::dequantize_linear(q.data() + n % 3, t, want.data(), 1, 1, n, &s, &zp, 1);
          ops::set_eltwise_simd(true);
          ops::dequantize_linear(q.data() + n % 3, t, got.data(), 1, 1, n, &s, &zp, 1);
          dbad += std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) != 0;
        }
        std::vector<float> want(512), got(512);
        ops::set_eltwise_simd(false);
        ops::dequantize_linear(q.data(), t, want.data(), 1, 1, 512, &s, &zp, 1);
        ops::set_eltwise_simd(true);
        ops::dequantize_linear(q.data(), t, got.data(), 1, 1, 512, &s, &zp, 1);
        dbad += std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) != 0;
      }
  EXPECT_TRUE(dbad == 0, "dequantize SIMD/reference: " + std::to_string(dbad) + " differing rows");
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

LOWP_TEST(lut_simd_every_length_and_offset) {
  // The dispatched kernel (NEON TBL/TBX on aarch64, VBMI where the CPU has it) against the
  // definition y[i] = t[x[i]] for every length 0..300 and unaligned starts; guard bytes past the
  // end must stay untouched. Every one of the 256 indices appears (x cycles through them).
#if defined(__aarch64__)
  EXPECT_TRUE(std::string(ops::lut_kernel_name()) == "neon", "aarch64 LUT kernel must be neon");
#endif
  std::mt19937 rng(5);
  std::vector<uint8_t> t(256), x(400), y(400);
  for (int rep = 0; rep < 3; ++rep) {
    for (auto& v : t) v = static_cast<uint8_t>(rng());
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>(rep == 0 ? i * 7 + 3 : rng());
    int bad = 0;
    for (int off = 0; off < 4; ++off)
      for (int n = 0; n <= 300; ++n) {
        std::fill(y.begin(), y.end(), uint8_t{0xA5});
        ops::lut_apply(x.data() + off, t.data(), y.data() + off, n);
        for (int i = 0; i < off; ++i) bad += y[i] != 0xA5;
        for (int i = 0; i < n; ++i) bad += y[off + i] != t[x[off + i]];
        for (int i = off + n; i < static_cast<int>(y.size()); ++i) bad += y[i] != 0xA5;
      }
    EXPECT_TRUE(bad == 0, "lut SIMD: " + std::to_string(bad) + " wrong bytes");
  }
  ops::set_lut_simd(false);
  EXPECT_TRUE(std::string(ops::lut_kernel_name()) == "ref", "set_lut_simd(false) selects ref");
  ops::set_lut_simd(true);
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

// The channels-last kernels (channel stride 1) against the generic strided loop on the same data
// read through NCHW strides: max pool with padding/stride/dilation, and the MLAS global pool.
// Channels-last global average pool (AVX2 int16 block sums where available) vs the per-channel
// plane sums of the NCHW path: channel counts around 32, pixel counts around the 128-pixel blocks,
// random data and the extremes that would overflow an int16 block sum if blocks were longer.
LOWP_TEST(global_pool_channels_last_sums) {
  std::mt19937 rng(31);
  int bad = 0;
  for (DType t : {DType::U8, DType::S8})
    for (int64_t C : {1, 31, 32, 33, 96, 200})
      for (int64_t P : {1, 127, 128, 129, 300})
        for (int fill = 0; fill < 3; ++fill) {
          std::vector<uint8_t> nhwc(static_cast<size_t>(P * C)), nchw(nhwc.size());
          for (int64_t p = 0; p < P; ++p)
            for (int64_t c = 0; c < C; ++c) {
              const uint8_t v = fill == 0 ? static_cast<uint8_t>(rng()) : fill == 1 ? uint8_t{255} : uint8_t{128};
              nhwc[static_cast<size_t>(p * C + c)] = v;
              nchw[static_cast<size_t>(c * P + p)] = v;
            }
          ops::Pool2D ql, qc;
          ql.N = qc.N = 1; ql.C = qc.C = C; ql.H = qc.H = 1; ql.W = qc.W = P;
          ql.OH = ql.OW = qc.OH = qc.OW = 1; ql.kh = qc.kh = 1; ql.kw = qc.kw = P;
          ql.xs[0] = P * C; ql.xs[1] = 1; ql.xs[2] = P * C; ql.xs[3] = C;
          ql.ys[0] = C; ql.ys[1] = 1; ql.ys[2] = C; ql.ys[3] = C;
          qc.xs[0] = C * P; qc.xs[1] = P; qc.xs[2] = P; qc.xs[3] = 1;
          qc.ys[0] = C; qc.ys[1] = 1; qc.ys[2] = 1; qc.ys[3] = 1;
          // x_scale == y_scale: the output is the channel mean minus the zero point (no saturation, so
          // a wrapped int16 block sum would show)
          std::vector<uint8_t> g1(static_cast<size_t>(C)), g2(g1.size()), g3(g1.size());
          const float xs = 0.01f, ys = 0.01f;
          ops::global_avg_pool_mlas(ql, nhwc.data(), g1.data(), t, xs, t == DType::U8 ? 3 : -3, ys, 0);
          ops::global_avg_pool_mlas(qc, nchw.data(), g2.data(), t, xs, t == DType::U8 ? 3 : -3, ys, 0);
          ops::set_eltwise_simd(false);
          ops::global_avg_pool_mlas(ql, nhwc.data(), g3.data(), t, xs, t == DType::U8 ? 3 : -3, ys, 0);
          ops::set_eltwise_simd(true);
          bad += (g1 != g2) + (g3 != g2);
        }
  EXPECT_TRUE(bad == 0, std::to_string(bad) + " channels-last global pool cases differ");
}

// The 64-value add rows (int16 clamp + saturating packs + lane permute): lengths around the
// 64 / 16 steps, both operands or a broadcast b, narrowed [qmin, qmax] (a fused ReLU-like clamp),
// scales that saturate both ends and overflow to INT32_MIN, against the scalar reference.
LOWP_TEST(eltwise_add_rows64_tails_and_clamps) {
  std::mt19937 rng(64);
  int bad = 0;
  std::string which;
  for (DType t : {DType::U8, DType::S8})
    for (int64_t n : {1, 15, 63, 64, 65, 127, 128, 130, 200, 1000})
      for (int v = 0; v < 4; ++v)
        for (bool bscalar : {false, true}) {
          std::vector<uint8_t> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
          for (auto& x : a) x = static_cast<uint8_t>(rng());
          for (auto& x : b) x = static_cast<uint8_t>(rng());
          const int tl = t == DType::U8 ? 0 : -128;
          ops::BinaryParams p = v == 2 ? he_params(t, ops::BinaryOp::Add, 1e30f, 1e30f, 1e-9f, 3, 5, 0)
                                       : he_params(t, v == 3 ? ops::BinaryOp::Sub : ops::BinaryOp::Add,
                                                   0.031f * (v + 1), 0.017f, 0.02f, tl + 17, tl + 140, tl + 100);
          if (v == 1) { p.qmin = tl + 100; p.qmax = tl + 200; }  // narrowed output range
          ops::BroadcastShape bs;
          bs.ndim = 1;
          bs.shape[0] = n;
          bs.stride_a[0] = 1;
          bs.stride_b[0] = bscalar ? 0 : 1;
          bad += binary_vs_ref(bs, a.data(), b.data(), static_cast<size_t>(n), t, p, &which);
        }
  EXPECT_TRUE(bad == 0, std::to_string(bad) + " mismatches:" + which);
}

// Channels-last global average pool output stage (AVX2 requant row where available) vs the
// formula spelled out here: rne(clamp(float(sum - x_zp * count) * (xs / (ys * count)))) + y_zp, with
// scales that put quotients on exact ties (count 2, odd sums), saturate at both ends, zero points
// at the type's ends, and channel counts with 1..7-channel tails.
LOWP_TEST(global_pool_channels_last_requant_row) {
  std::mt19937 rng(32);
  int bad = 0, cases = 0;
  for (DType t : {DType::U8, DType::S8})
    for (int64_t C : {1, 7, 8, 9, 23, 1280})
      for (int64_t P : {2, 49})
        for (int k = 0; k < 4; ++k) {
          const int32_t lo = t == DType::U8 ? 0 : -128, hi = t == DType::U8 ? 255 : 127;
          const float xs = k == 0 ? 0.5f : k == 1 ? 0.02f : 0.013f * (1 + k), ys = k == 0 ? 0.5f : 0.01f;
          const int32_t xz = k == 3 ? lo : static_cast<int32_t>(rng() % 256) + lo, yz = k == 2 ? hi : (k == 3 ? lo : 0);
          std::vector<uint8_t> x(static_cast<size_t>(P * C));
          for (auto& v : x) v = static_cast<uint8_t>(rng());
          ops::Pool2D g;
          g.N = 1; g.C = C; g.H = 1; g.W = P; g.OH = g.OW = 1; g.kh = 1; g.kw = P;
          g.xs[0] = P * C; g.xs[1] = 1; g.xs[2] = P * C; g.xs[3] = C;
          g.ys[0] = C; g.ys[1] = 1; g.ys[2] = C; g.ys[3] = C;
          std::vector<uint8_t> y(static_cast<size_t>(C)), yoff(y.size());
          ops::global_avg_pool_mlas(g, x.data(), y.data(), t, xs, xz, ys, yz);
          ops::set_eltwise_simd(false);
          ops::global_avg_pool_mlas(g, x.data(), yoff.data(), t, xs, xz, ys, yz);
          ops::set_eltwise_simd(true);
          const float sc = xs / (ys * static_cast<float>(P));
          for (int64_t c = 0; c < C; ++c) {
            int32_t sum = 0;
            for (int64_t p = 0; p < P; ++p) {
              const uint8_t b = x[static_cast<size_t>(p * C + c)];
              sum += t == DType::S8 ? static_cast<int32_t>(static_cast<int8_t>(b)) : static_cast<int32_t>(b);
            }
            float f = static_cast<float>(sum - xz * static_cast<int32_t>(P)) * sc;
            f = std::min(std::max(f, static_cast<float>(lo - yz)), static_cast<float>(hi - yz));
            const uint8_t want = static_cast<uint8_t>(static_cast<int32_t>(std::nearbyint(f)) + yz);
            bad += (y[static_cast<size_t>(c)] != want) + (yoff[static_cast<size_t>(c)] != want);
            ++cases;
          }
        }
  EXPECT_TRUE(bad == 0, std::to_string(bad) + " of " + std::to_string(cases) + " global pool outputs differ");
}

LOWP_TEST(pool_channels_last_matches_generic) {
  const int64_t N = 2, C = 37, H = 9, W = 8;
  std::mt19937 rng(21);
  std::vector<int8_t> nhwc(N * H * W * C), nchw(N * C * H * W);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w)
        for (int64_t c = 0; c < C; ++c) {
          const int8_t v = static_cast<int8_t>(static_cast<int>(rng() % 256) - 128);
          nhwc[((n * H + h) * W + w) * C + c] = v;
          nchw[((n * C + c) * H + h) * W + w] = v;
        }
  ops::Pool2D g;
  g.N = N; g.C = C; g.H = H; g.W = W;
  g.kh = 3; g.kw = 2; g.sh = 2; g.sw = 1; g.dh = 1; g.dw = 2; g.pad_top = 1; g.pad_left = 1;
  g.OH = (H + 2 - 3) / 2 + 1;
  g.OW = (W + 1 - 3) / 1 + 1;
  const int64_t OH = g.OH, OW = g.OW;
  std::vector<int8_t> y1(N * C * OH * OW), y2(N * C * OH * OW);
  ops::Pool2D gl = g, gc = g;  // channels last / NCHW
  gl.xs[0] = H * W * C; gl.xs[1] = 1; gl.xs[2] = W * C; gl.xs[3] = C;
  gl.ys[0] = OH * OW * C; gl.ys[1] = 1; gl.ys[2] = OW * C; gl.ys[3] = C;
  gc.xs[0] = C * H * W; gc.xs[1] = H * W; gc.xs[2] = W; gc.xs[3] = 1;
  gc.ys[0] = C * OH * OW; gc.ys[1] = OH * OW; gc.ys[2] = OW; gc.ys[3] = 1;
  ops::max_pool(gl, nhwc.data(), y1.data(), DType::S8);
  ops::max_pool(gc, nchw.data(), y2.data(), DType::S8);
  bool same = true;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < OH * OW; ++i) same &= y1[(n * OH * OW + i) * C + c] == y2[(n * C + c) * OH * OW + i];
  EXPECT_TRUE(same, "channels-last max pool == generic max pool");
  // TFLite integer average (padded windows, with and without the padding counted; and a whole-plane window):
  // the channels-last path against the generic per-window loop on the NCHW copy
  for (int variant = 0; variant < 3; ++variant) {
    ops::Pool2D al = gl, ac = gc;
    al.dh = al.dw = ac.dh = ac.dw = 1;
    if (variant == 2) {
      al.kh = ac.kh = H; al.kw = ac.kw = W; al.sh = al.sw = ac.sh = ac.sw = 1;
      al.pad_top = al.pad_left = ac.pad_top = ac.pad_left = 0;
      al.OH = al.OW = ac.OH = ac.OW = 1;
      al.ys[0] = C; al.ys[2] = al.ys[3] = C;
      ac.ys[0] = C; ac.ys[1] = 1; ac.ys[2] = ac.ys[3] = 1;
    } else {
      al.OW = ac.OW = W;  // kw 2, stride 1, pad_left 1, no right pad: windows start at -1 .. W - 2
      al.ys[0] = OH * al.OW * C; al.ys[2] = al.OW * C;
      ac.ys[0] = C * OH * ac.OW; ac.ys[1] = OH * ac.OW; ac.ys[2] = ac.OW;
    }
    const int64_t oh = al.OH, ow = al.OW;
    std::vector<int8_t> a1(N * C * oh * ow), a2(N * C * oh * ow);
    const bool cip = variant == 1;
    ops::avg_pool_int(al, nhwc.data(), a1.data(), DType::S8, -5, cip, -100, 120);
    ops::avg_pool_int(ac, nchw.data(), a2.data(), DType::S8, -5, cip, -100, 120);
    bool eq = true;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < oh * ow; ++i) eq &= a1[(n * oh * ow + i) * C + c] == a2[(n * C + c) * oh * ow + i];
    EXPECT_TRUE(eq, "channels-last integer average pool == generic, variant " + std::to_string(variant));
  }
  // global pool over the whole plane: channels-last view (N, C, 1, H*W) vs NCHW plane sums
  ops::Pool2D ql, qc;
  ql.N = qc.N = N; ql.C = qc.C = C; ql.H = 1; ql.W = H * W; qc.H = H; qc.W = W;
  ql.OH = ql.OW = qc.OH = qc.OW = 1;
  ql.kh = 1; ql.kw = H * W; qc.kh = H; qc.kw = W;
  ql.xs[0] = H * W * C; ql.xs[1] = 1; ql.xs[2] = H * W * C; ql.xs[3] = C;
  ql.ys[0] = C; ql.ys[1] = 1; ql.ys[2] = C; ql.ys[3] = C;
  qc.xs[0] = C * H * W; qc.xs[1] = H * W; qc.xs[2] = W; qc.xs[3] = 1;
  qc.ys[0] = C; qc.ys[1] = 1; qc.ys[2] = 1; qc.ys[3] = 1;
  std::vector<int8_t> g1(N * C), g2(N * C);
  ops::global_avg_pool_mlas(ql, nhwc.data(), g1.data(), DType::S8, 0.05f, -3, 0.02f, 7);
  ops::global_avg_pool_mlas(qc, nchw.data(), g2.data(), DType::S8, 0.05f, -3, 0.02f, 7);
  EXPECT_TRUE(g1 == g2, "channels-last global pool == per-channel global pool");
}

// NCHW float -> NHWC 8-bit in one call against quantize_one per element (C = 3 interleave and the
// generic one; 1100 pixels = two full 512-pixel blocks and a partial one).
LOWP_TEST(quantize_nchw_to_nhwc_matches_quantize_one) {
  std::mt19937 rng(22);
  std::normal_distribution<float> nd(0.f, 40.f);
  for (int64_t C : {3, 4}) {
    const int64_t N = 2, HW = 1100;
    std::vector<float> x(N * C * HW);
    for (auto& v : x) v = nd(rng);
    x[1] = 0.5f;
    x[2] = -1.5f;
    std::vector<uint8_t> y(N * HW * C);
    std::vector<int8_t> ys(N * HW * C);
    ops::quantize_nchw_to_nhwc(x.data(), y.data(), DType::U8, N, C, HW, 0.25f, 131);
    ops::quantize_nchw_to_nhwc(x.data(), ys.data(), DType::S8, N, C, HW, 0.25f, -7);
    bool same = true;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t p = 0; p < HW; ++p) {
          const float v = x[(n * C + c) * HW + p];
          same &= y[(n * HW + p) * C + c] == ops::quantize_one(v, 0.25f, 131, 0, 255);
          same &= ys[(n * HW + p) * C + c] == ops::quantize_one(v, 0.25f, -7, -128, 127);
        }
    EXPECT_TRUE(same, "quantize_nchw_to_nhwc == quantize_one transposed");
  }
}

namespace {
// A pool over N x C x H x W contiguous NCHW or NHWC data: square k x k windows, stride s,
// dilation d, `pad` on every side (output size as ONNX computes it; < 1 when the window does not fit).
ops::Pool2D contiguous_pool(int N, int C, int H, int W, int k, int s, int d, int pad, bool nhwc) {
  ops::Pool2D g;
  g.N = N;
  g.C = C;
  g.H = H;
  g.W = W;
  g.OH = (H + 2 * pad - d * (k - 1) - 1) / s + 1;
  g.OW = (W + 2 * pad - d * (k - 1) - 1) / s + 1;
  const int64_t OH = g.OH, OW = g.OW;
  if (nhwc) {
    g.xs[0] = int64_t{H} * W * C; g.xs[1] = 1; g.xs[2] = int64_t{W} * C; g.xs[3] = C;
    g.ys[0] = OH * OW * C; g.ys[1] = 1; g.ys[2] = OW * C; g.ys[3] = C;
  } else {
    g.xs[0] = int64_t{C} * H * W; g.xs[1] = int64_t{H} * W; g.xs[2] = W; g.xs[3] = 1;
    g.ys[0] = C * OH * OW; g.ys[1] = OH * OW; g.ys[2] = OW; g.ys[3] = 1;
  }
  g.kh = g.kw = k;
  g.sh = g.sw = s;
  g.dh = g.dw = d;
  g.pad_top = g.pad_left = pad;
  return g;
}
}  // namespace

LOWP_TEST(max_pool_simd_matches_reference) {
  // The dispatched max_pool (NEON on aarch64) against the scalar reference (SIMD off) on NCHW
  // and NHWC contiguous views over channel counts, widths, kernels, strides, dilations and
  // head paddings; guard bytes past the output must stay untouched.
  std::mt19937 rng(31);
  int bad = 0, runs = 0;
  for (DType t : {DType::U8, DType::S8})
    for (int nhwc = 0; nhwc < 2; ++nhwc)
      for (int C : {3, 17, 35})
        for (auto hw : {std::pair<int, int>{5, 40}, std::pair<int, int>{7, 67}})
          for (int k : {2, 3})
            for (int s : {1, 2, 3})
              for (int d : {1, 2})
                for (int pad : {0, 1}) {
                  const int H = hw.first, W = hw.second;
                  const ops::Pool2D g = contiguous_pool(2, C, H, W, k, s, d, pad, nhwc != 0);
                  const int64_t OH = g.OH, OW = g.OW;
                  if (OH < 1 || OW < 1) continue;
                  std::vector<uint8_t> x(static_cast<size_t>(2) * C * H * W);
                  for (auto& v : x) v = static_cast<uint8_t>(rng());
                  const size_t ny = static_cast<size_t>(2) * C * OH * OW;
                  std::vector<uint8_t> want(ny + 32, 0x5A), got(ny + 32, 0x5A);
                  ops::set_eltwise_simd(false);
                  ops::max_pool(g, x.data(), want.data(), t);
                  ops::set_eltwise_simd(true);
                  ops::max_pool(g, x.data(), got.data(), t);
                  bad += want != got;
                  ++runs;
                }
  EXPECT_TRUE(runs > 500, "max pool sweep ran " + std::to_string(runs) + " cases");
  EXPECT_TRUE(bad == 0, "max pool SIMD/reference: " + std::to_string(bad) + " differing cases");
}

LOWP_TEST(avg_pool_float_simd_matches_reference) {
  // onnxruntime-arithmetic average pool: dispatched (NEON on aarch64) vs scalar reference on NCHW
  // and NHWC contiguous views, count_include_pad both ways, two scale sets, guard bytes.
  std::mt19937 rng(41);
  int bad = 0, runs = 0;
  for (DType t : {DType::U8, DType::S8})
    for (int nhwc = 0; nhwc < 2; ++nhwc)
      for (int C : {3, 8, 19})
        for (auto hw : {std::pair<int, int>{5, 30}, std::pair<int, int>{6, 67}})
          for (int k : {2, 3})
            for (int s : {1, 2})
              for (int pad : {0, 1})
                for (int cip = 0; cip < 2; ++cip) {
                  const int H = hw.first, W = hw.second;
                  const ops::Pool2D g = contiguous_pool(2, C, H, W, k, s, 1, pad, nhwc != 0);
                  const int64_t OH = g.OH, OW = g.OW;
                  std::vector<uint8_t> x(static_cast<size_t>(2) * C * H * W);
                  for (auto& v : x) v = static_cast<uint8_t>(rng());
                  const size_t ny = static_cast<size_t>(2) * C * OH * OW;
                  // set 2: inexact 0.1 products whose average sits on .5 ties often (catches a
                  // fused multiply-add, which rounds the sum differently)
                  for (int ss = 0; ss < 3; ++ss) {
                    const float xs = ss == 2 ? 0.1f : ss ? 0.0876729f : 0.5f;
                    const float ys = ss == 2 ? 0.1f : ss ? 0.0312f : 0.25f;
                    const int32_t xz = ss == 1 ? 7 : 0, yz = t == DType::U8 ? (ss == 2 ? 0 : 100) : -3;
                    std::vector<uint8_t> want(ny + 32, 0x5A), got(ny + 32, 0x5A);
                    ops::set_eltwise_simd(false);
                    ops::avg_pool_float(g, x.data(), want.data(), t, xs, xz, ys, yz, cip != 0);
                    ops::set_eltwise_simd(true);
                    ops::avg_pool_float(g, x.data(), got.data(), t, xs, xz, ys, yz, cip != 0);
                    bad += want != got;
                    ++runs;
                  }
                }
  EXPECT_TRUE(runs > 500, "avg pool sweep ran " + std::to_string(runs) + " cases");
  EXPECT_TRUE(bad == 0, "avg pool SIMD/reference: " + std::to_string(bad) + " differing cases");
}

LOWP_TEST(avg_pool_float_as_uint8_is_the_shifted_uint8_pool) {
  // as_uint8 (onnxruntime's QDQ s8->u8 rewrite): int8 x pooled as the uint8 op on x + 128 with both
  // zero points + 128, shifted back. Same scale in and out, 2x2 windows: averages on .5 ties, where
  // adding y_zp vs y_zp + 128 in float32 rounds differently (the plain int8 result must differ
  // somewhere, or this sweep would not exercise the difference).
  std::mt19937 rng(43);
  int bad = 0, differ = 0, runs = 0;
  for (int nhwc = 0; nhwc < 2; ++nhwc)
    for (int k : {2, 3})
      for (int pad : {0, 1})
        for (int cip = 0; cip < 2; ++cip) {
          const int C = 5, H = 9, W = 11, s = 2;
          const ops::Pool2D g = contiguous_pool(2, C, H, W, k, s, 1, pad, nhwc != 0);
          const int64_t OH = g.OH, OW = g.OW;
          const size_t nx = static_cast<size_t>(2) * C * H * W, ny = static_cast<size_t>(2) * C * OH * OW;
          for (int trial = 0; trial < 8; ++trial) {
            std::vector<int8_t> x(nx), y(ny), plain(ny);
            std::vector<uint8_t> xu(nx), yu(ny);
            for (size_t i = 0; i < nx; ++i) {
              x[i] = static_cast<int8_t>(static_cast<uint8_t>(rng()));
              xu[i] = static_cast<uint8_t>(static_cast<int32_t>(x[i]) + 128);
            }
            const float xs = trial % 2 ? 0.0437f : 0.1f, ys = trial % 4 < 2 ? xs : 0.0391f;
            const int32_t xz = static_cast<int32_t>(rng() % 41) - 20, yz = static_cast<int32_t>(rng() % 41) - 20;
            ops::avg_pool_float(g, x.data(), y.data(), DType::S8, xs, xz, ys, yz, cip != 0, true);
            ops::avg_pool_float(g, x.data(), plain.data(), DType::S8, xs, xz, ys, yz, cip != 0);
            ops::avg_pool_float(g, xu.data(), yu.data(), DType::U8, xs, xz + 128, ys, yz + 128, cip != 0);
            for (size_t i = 0; i < ny; ++i) {
              bad += static_cast<int32_t>(y[i]) != static_cast<int32_t>(yu[i]) - 128;
              differ += y[i] != plain[i];
            }
            ++runs;
          }
        }
  EXPECT_TRUE(runs == 128, "as_uint8 sweep ran " + std::to_string(runs) + " cases");
  EXPECT_TRUE(bad == 0, "as_uint8 vs shifted uint8 pool: " + std::to_string(bad) + " differing outputs");
  EXPECT_TRUE(differ > 0, "as_uint8 never differed from the plain int8 arithmetic");
  // uint8 data has no uint8 rewrite
  std::vector<uint8_t> u(4), v(1);
  ops::Pool2D g1;
  g1.N = g1.C = 1;
  g1.H = g1.W = 2;
  g1.OH = g1.OW = 1;
  g1.xs[0] = 4; g1.xs[1] = 4; g1.xs[2] = 2; g1.xs[3] = 1;
  g1.ys[0] = 1; g1.ys[1] = 1; g1.ys[2] = 1; g1.ys[3] = 1;
  g1.kh = g1.kw = 2;
  bool threw = false;
  try {
    ops::avg_pool_float(g1, u.data(), v.data(), DType::U8, 1.f, 0, 1.f, 0, false, true);
  } catch (const Error&) {
    threw = true;
  }
  EXPECT_TRUE(threw, "as_uint8 on uint8 data must throw lowp::Error");
}

LOWP_TEST(avg_pool_ort_float_orders) {
  // onnxruntime's DQ -> float AveragePool -> Q chain. With a power-of-two x_scale every partial sum is
  // exact, so the three MLAS summation orders agree with an exact long-double mean quantized as
  // QuantizeLinear does (rne(avg / y_scale), then + y_zp); with x_scale 0.1 and 2x2 windows (means on
  // .5 ties) row-first and column-first sums do differ somewhere.
  std::mt19937 rng(47);
  int bad = 0, differ = 0;
  ops::Pool2D g;
  g.N = 1;
  g.C = 3;
  g.H = 6;
  g.W = 8;
  g.kh = g.kw = 2;
  g.sh = g.sw = 2;
  g.OH = 3;
  g.OW = 4;
  g.xs[0] = 3 * 48; g.xs[1] = 48; g.xs[2] = 8; g.xs[3] = 1;
  g.ys[0] = 3 * 12; g.ys[1] = 12; g.ys[2] = 4; g.ys[3] = 1;
  ops::Pool2D whole = g;
  whole.kh = 6;
  whole.kw = 8;
  whole.sh = whole.sw = 1;
  whole.OH = whole.OW = 1;
  whole.ys[0] = 3; whole.ys[1] = 1; whole.ys[2] = 1; whole.ys[3] = 1;
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<int8_t> x(144);
    for (auto& v : x) v = static_cast<int8_t>(static_cast<uint8_t>(rng()));
    const int32_t xz = static_cast<int32_t>(rng() % 21) - 10, yz = static_cast<int32_t>(rng() % 21) - 10;
    // exact sums: each order equals the long-double mean
    for (const ops::Pool2D* gp : {&g, &whole}) {
      const size_t ny = static_cast<size_t>(gp->C * gp->OH * gp->OW);
      for (int o = 0; o < 3; ++o) {
        if (o == 2 && gp == &g) continue;  // the 4-lane order is the whole-plane window's
        std::vector<int8_t> y(ny);
        ops::avg_pool_ort_float(*gp, x.data(), y.data(), DType::S8, 0.25f, xz, 0.5f, yz, true,
                                static_cast<ops::PoolSumOrder>(o));
        for (int64_t c = 0; c < gp->C; ++c)
          for (int64_t oh = 0; oh < gp->OH; ++oh)
            for (int64_t ow = 0; ow < gp->OW; ++ow) {
              long double sum = 0;
              for (int64_t i = 0; i < gp->kh; ++i)
                for (int64_t j = 0; j < gp->kw; ++j)
                  sum += 0.25L * (x[c * 48 + (oh * gp->sh + i) * 8 + ow * gp->sw + j] - xz);
              const float v = static_cast<float>(sum / (gp->kh * gp->kw)) / 0.5f;
              int32_t q = static_cast<int32_t>(std::nearbyint(v)) + yz;
              q = q < -128 ? -128 : (q > 127 ? 127 : q);
              bad += y[c * gp->OH * gp->OW + oh * gp->OW + ow] != q;
            }
      }
    }
    // inexact sums: rows vs columns
    std::vector<int8_t> r(36), cl(36);
    ops::avg_pool_ort_float(g, x.data(), r.data(), DType::S8, 0.1f, xz, 0.1f, yz, true, ops::PoolSumOrder::kRows);
    ops::avg_pool_ort_float(g, x.data(), cl.data(), DType::S8, 0.1f, xz, 0.1f, yz, true, ops::PoolSumOrder::kColumns);
    for (size_t i = 0; i < 36; ++i) differ += r[i] != cl[i];
  }
  EXPECT_TRUE(bad == 0, "float-pool orders vs exact mean: " + std::to_string(bad) + " differing outputs");
  EXPECT_TRUE(differ > 0, "row and column sums never differed");
  bool threw = false;
  try {
    std::vector<int8_t> x(144), y(36);
    ops::avg_pool_ort_float(g, x.data(), y.data(), DType::S8, 1.f, 0, 1.f, 0, true, ops::PoolSumOrder::kLanes4);
  } catch (const Error&) {
    threw = true;
  }
  EXPECT_TRUE(threw, "the 4-lane order on a non-global window must throw lowp::Error");
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

LOWP_TEST(float_binary_matches_scalar_ieee) {
  // [2, 3, 4] op [3, 1] (numpy broadcasting) and the swapped operands, with zeros, infinities, NaN, denormals:
  // every output bit equals the one float operation on the broadcast operands.
  std::mt19937 rng(31);
  std::vector<float> a(24), b(3);
  const float special[] = {0.f, -0.f, INFINITY, -INFINITY, NAN, 1e-40f, -3e-39f, 1.f, 3.f};
  for (auto& v : a) v = rng() % 3 == 0 ? special[rng() % 9] : std::ldexp(static_cast<float>(rng() % 20001) - 10000.f, -7);
  for (auto& v : b) v = std::ldexp(static_cast<float>(rng() % 2001) - 1000.f, -5);
  b[1] = 0.f;
  for (int swap = 0; swap < 2; ++swap)
    for (int op = 0; op < 4; ++op) {
      ops::BroadcastShape bs;
      bs.ndim = 3;
      const int64_t shp[3] = {2, 3, 4}, sa[3] = {12, 4, 1}, sb[3] = {0, 1, 0};
      for (int d = 0; d < 3; ++d) {
        bs.shape[d] = shp[d];
        bs.stride_a[d] = swap ? sb[d] : sa[d];
        bs.stride_b[d] = swap ? sa[d] : sb[d];
      }
      std::vector<float> c(24);
      ops::float_binary(bs, swap ? b.data() : a.data(), swap ? a.data() : b.data(), c.data(), ops::FloatBinaryOp(op));
      bool ok = true;
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j)
          for (int k = 0; k < 4; ++k) {
            const float x = a[(i * 3 + j) * 4 + k], y = b[j];
            const float l = swap ? y : x, r = swap ? x : y;
            const volatile float want = op == 0 ? l + r : op == 1 ? l - r : op == 2 ? l * r : l / r;
            const float w = want;
            ok = ok && std::memcmp(&w, &c[(i * 3 + j) * 4 + k], 4) == 0;
          }
      EXPECT_TRUE(ok, "float_binary op " + std::to_string(op) + (swap ? " (swapped)" : ""));
    }
}

LOWP_TEST(float_glue_matches_its_definitions) {
  // ops/float_glue.h against the same formulas written here with long double: softmax rows sum to 1 and follow
  // exp(x - max) within float rounding; LayerNorm / Gelu within 1 float ulp; MatMul equal to in-order float sums.
  std::mt19937 rng(41);
  const int rows = 3, len = 37;
  std::vector<float> x(rows * len), y(x.size()), sc(len), bi(len), mean(rows), inv(rows);
  for (auto& v : x) v = std::ldexp(static_cast<float>(static_cast<int>(rng() % 20001) - 10000), -11);
  for (auto& v : sc) v = 0.5f + static_cast<float>(rng() % 1000) / 1000.0f;
  for (auto& v : bi) v = static_cast<float>(static_cast<int>(rng() % 200) - 100) / 64.0f;
  auto ulp_close = [](float a, long double b) {
    return std::fabs(static_cast<long double>(a) - b) <= 1.0L * std::fabs(std::nextafter(a, INFINITY) - a) + 1e-30L;
  };
  bool ok = true;
  ops::float_softmax_rows(x.data(), y.data(), rows, len);
  for (int r = 0; r < rows; ++r) {
    long double m = x[r * len], s = 0;
    for (int j = 0; j < len; ++j) m = std::max<long double>(m, x[r * len + j]);
    for (int j = 0; j < len; ++j) s += std::exp(static_cast<long double>(x[r * len + j]) - m);
    for (int j = 0; j < len; ++j)
      ok = ok && std::fabs(y[r * len + j] - std::exp(static_cast<long double>(x[r * len + j]) - m) / s) < 1e-6L;
  }
  EXPECT_TRUE(ok, "float softmax");
  ops::float_layer_norm_rows(x.data(), y.data(), rows, len, sc.data(), bi.data(), 1e-5, mean.data(), inv.data());
  for (int r = 0; r < rows; ++r) {
    long double mu = 0, var = 0;
    for (int j = 0; j < len; ++j) mu += x[r * len + j];
    mu /= len;
    for (int j = 0; j < len; ++j) var += (x[r * len + j] - mu) * (x[r * len + j] - mu);
    const long double iv = 1.0L / std::sqrt(var / len + 1e-5L);
    for (int j = 0; j < len; ++j) ok = ok && ulp_close(y[r * len + j], (x[r * len + j] - mu) * iv * sc[j] + bi[j]);
    ok = ok && ulp_close(mean[r], mu) && ulp_close(inv[r], iv);
  }
  EXPECT_TRUE(ok, "float layer norm");
  for (int tanh_form = 0; tanh_form < 2; ++tanh_form) {
    ops::float_gelu(x.data(), y.data(), rows * len, tanh_form);
    for (int i = 0; i < rows * len; ++i) {
      const long double v = x[i];
      const long double want = tanh_form ? 0.5L * v * (1 + std::tanh(std::sqrt(2.0L / 3.14159265358979323846L) *
                                                                      (v + 0.044715L * v * v * v)))
                                         : 0.5L * v * std::erfc(-v / std::sqrt(2.0L));
      ok = ok && ulp_close(y[i], want);
    }
    EXPECT_TRUE(ok, tanh_form ? "float gelu (tanh)" : "float gelu (erf)");
  }
  const int M = 4, K = 9, N = 5;
  std::vector<float> c(M * N);
  ops::float_matmul(x.data(), x.data() + M * K, c.data(), M, K, N);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float s = 0.0f;
      for (int k = 0; k < K; ++k) {
        const volatile float p = x[i * K + k] * x[M * K + k * N + j];
        s += p;
      }
      ok = ok && c[i * N + j] == s;
    }
  EXPECT_TRUE(ok, "float matmul: in-order float32 sums");
}

LOWP_TEST(tflite_softmax_simd_rows_match_scalar) {
  // The AVX-512 row loops (when this CPU runs them) against the scalar ones: int8 and uint8, row lengths with
  // tails, input scales that give every output shift, rows with many dropped differences.
  std::mt19937 rng(43);
  for (int trial = 0; trial < 60; ++trial) {
    const int64_t D = std::vector<int64_t>{1, 5, 16, 17, 33, 64, 300}[trial % 7], rows = 1 + trial % 5;
    const float xs = std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000.0f, -static_cast<int>(rng() % 9));
    const float beta = trial % 3 == 0 ? 1.0f : 0.5f + static_cast<float>(rng() % 100) / 50.0f;
    for (int s8 = 0; s8 < 2; ++s8) {
      std::vector<uint8_t> x(rows * D), a(x.size()), b(x.size());
      for (auto& v : x) v = static_cast<uint8_t>(rng());
      const DType t = s8 ? DType::S8 : DType::U8;
      const auto tab = ops::tflite_softmax_tables(xs, beta, trial % 2 == 1);
      const bool prev = ops::set_softmax_simd(false);
      ops::tflite_softmax(x.data(), a.data(), t, rows, D, tab);
      ops::set_softmax_simd(true);
      ops::tflite_softmax(x.data(), b.data(), t, rows, D, tab);
      ops::set_softmax_simd(prev);
      EXPECT_TRUE(a == b, "softmax rows, D " + std::to_string(D) + (s8 ? " int8" : " uint8"));
    }
  }
}
