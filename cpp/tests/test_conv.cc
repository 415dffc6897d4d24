// Conv2D and depthwise: every depthwise kernel and GEMM kernel this CPU runs (also under qemu on
// aarch64), against a naive int64 reference with the scalar requantization of requant.h.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "lowp/gemm.h"
#include "ops/conv.h"
#include "requant/requant.h"
#include "tests/test_framework.h"

using namespace lowp;

namespace {

struct ConvCase {
  int N, H, W, Cg, group, OCg, KH, KW, sh, sw, dh, dw, pt, pl, pb, pr;
  DType xt, wt, ot;
  Rounding rounding;
};

int32_t v(const std::vector<uint8_t>& a, size_t i, DType t) {
  return t == DType::U8 ? int32_t{a[i]} : int32_t{static_cast<int8_t>(a[i])};
}

// Every case runs twice per kernel: conv2d computing its output-stage terms per call, and with
// ConvTerms built once (as a native program's conv step does). per_tensor: one scale / multiplier
// for all channels and no bias (else per-channel parameters and a bias).
void run_case(const ConvCase& c, std::mt19937& rng, bool small_w, int threads = 1, bool per_tensor = false) {
  const int Cin = c.Cg * c.group, Cout = c.OCg * c.group;
  ConvGeometry g;
  g.N = c.N; g.H = c.H; g.W = c.W; g.KH = c.KH; g.KW = c.KW;
  g.sh = c.sh; g.sw = c.sw; g.dh = c.dh; g.dw = c.dw; g.pt = c.pt; g.pl = c.pl; g.pb = c.pb; g.pr = c.pr;
  const int OH = g.OH(), OW = g.OW();
  auto lo = [](DType t) { return t == DType::U8 ? 0 : -128; };
  auto hi = [](DType t) { return t == DType::U8 ? 255 : 127; };
  std::uniform_int_distribution<int> dx(lo(c.xt), hi(c.xt)), dwt(lo(c.wt), hi(c.wt));
  std::vector<uint8_t> x(static_cast<size_t>(c.N) * c.H * c.W * Cin), w(static_cast<size_t>(Cout) * c.KH * c.KW * c.Cg);
  for (auto& e : x) e = static_cast<uint8_t>(dx(rng));
  const int zx = dx(rng);
  std::vector<int32_t> zw(Cout);
  for (auto& z : zw) z = small_w ? (c.wt == DType::U8 ? 128 : 0) : dwt(rng);
  std::uniform_int_distribution<int> dsmall(-100, 100);
  for (size_t i = 0; i < w.size(); ++i) {
    const int oc = static_cast<int>(i / (static_cast<size_t>(c.KH) * c.KW * c.Cg));
    w[i] = static_cast<uint8_t>(small_w ? zw[oc] + dsmall(rng) : dwt(rng));
  }
  OutputSpec out;
  out.out_type = c.ot;
  out.rounding = c.rounding;
  std::uniform_int_distribution<int> db(-3000, 3000);
  if (!per_tensor)
    for (int o = 0; o < Cout; ++o) out.bias.push_back(db(rng));
  std::uniform_real_distribution<float> ds(0.0005f, 0.01f);
  for (int o = 0; o < (per_tensor ? 1 : Cout); ++o) {
    const float s = ds(rng);
    out.scale.push_back(s);
    int32_t m;
    int sh;
    requant::quantize_multiplier(s, &m, &sh, c.rounding == Rounding::Single);
    out.multiplier.push_back(m);
    out.shift.push_back(sh);
  }
  if (c.ot != DType::S32) {
    out.zero_point = (lo(c.ot) + hi(c.ot)) / 2 + 3;
    out.qmin = lo(c.ot) + 5;
    out.qmax = hi(c.ot) - 2;
  }
  // reference
  std::vector<int32_t> ref(static_cast<size_t>(c.N) * OH * OW * Cout);
  for (int n = 0; n < c.N; ++n)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow)
        for (int oc = 0; oc < Cout; ++oc) {
          const int gi = oc / c.OCg;
          int64_t s = per_tensor ? 0 : out.bias[oc];
          const int pi = per_tensor ? 0 : oc;
          for (int kh = 0; kh < c.KH; ++kh)
            for (int kw = 0; kw < c.KW; ++kw)
              for (int ci = 0; ci < c.Cg; ++ci) {
                const int ih = oh * c.sh - c.pt + kh * c.dh, iw = ow * c.sw - c.pl + kw * c.dw;
                const int32_t xv = (ih >= 0 && ih < c.H && iw >= 0 && iw < c.W)
                                       ? v(x, ((static_cast<size_t>(n) * c.H + ih) * c.W + iw) * Cin + gi * c.Cg + ci, c.xt)
                                       : zx;
                const int32_t wv = v(w, ((static_cast<size_t>(oc) * c.KH + kh) * c.KW + kw) * c.Cg + ci, c.wt);
                s += int64_t{xv - zx} * (wv - zw[oc]);
              }
          const int32_t acc = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(s)));
          ref[((static_cast<size_t>(n) * OH + oh) * OW + ow) * Cout + oc] =
              c.ot == DType::S32 ? acc
                                 : requant::requantize_one(acc, c.rounding, out.multiplier[pi], out.shift[pi],
                                                           out.scale[pi], out.zero_point, out.qmin, out.qmax);
        }
  const bool dwise = c.Cg == 1 && c.group > 1;
  std::vector<std::string> names;
  if (dwise)
    names = depthwise_kernel_names(true);
  else
    for (const GemmKernel* k : available_kernels()) names.push_back(kernel_name(*k));
  for (const std::string& name : names) {
    PackedConv pc(w.data(), c.wt, Cout, c.KH, c.KW, c.Cg, c.group, zw.data(), Cout, dwise ? "" : name.c_str(),
                  dwise ? name.c_str() : "");
    const size_t osz = c.ot == DType::S32 ? 4 : 1;
    const ConvTerms terms(pc, c.xt, zx, out);
    for (const ConvTerms* t : {static_cast<const ConvTerms*>(nullptr), &terms}) {
      std::vector<uint8_t> y(ref.size() * osz, 0xAB);
      conv2d(pc, g, x.data(), c.xt, zx, y.data(), out, threads, t);
      int bad = 0;
      for (size_t i = 0; i < ref.size(); ++i) {
        int32_t got;
        if (c.ot == DType::S32) got = reinterpret_cast<const int32_t*>(y.data())[i];
        else got = c.ot == DType::U8 ? int32_t{y[i]} : int32_t{static_cast<int8_t>(y[i])};
        if (got != ref[i] && bad++ < 3)
          EXPECT_TRUE(false, "kernel " + name + (t ? " (precomputed terms)" : "") + " index " + std::to_string(i) +
                                 ": got " + std::to_string(got) + " expected " + std::to_string(ref[i]));
      }
    }
  }
}

}  // namespace

LOWP_TEST(conv_depthwise_every_kernel) {
  std::mt19937 rng(42);
  const DType types[] = {DType::U8, DType::S8};
  const Rounding rs[] = {Rounding::HalfEven, Rounding::Gemmlowp, Rounding::Single};
  int i = 0;
  for (int k : {3, 5, 2}) {
    for (int s : {1, 2}) {
      for (int C : {8, 19, 64, 70}) {
        for (int mult : {1, 2}) {
          const DType xt = types[i % 2], wt = types[(i / 2) % 2];
          const DType ot = i % 4 == 3 ? DType::S32 : xt;
          ConvCase c{1 + i % 2, 7 + i % 3, 9, 1, C, mult, k, k, s, s, 1 + (i % 5 == 4), 1, k / 2, k / 2, (k - 1) / 2,
                     k / 2, xt, wt, ot, rs[i % 3]};
          run_case(c, rng, i % 2 == 0);
          ++i;
        }
      }
    }
  }
}

// Wide rows: the VNNI row kernel builds its column quads per strip of 16 output pixels, so
// rows of 17..60 outputs (several strips, partial last strip, strip edges inside the padding),
// stride 1 pairs and stride 2, 3x3 and 5x5, dilation 2, 64-channel blocks with a tail.
LOWP_TEST(conv_depthwise_wide_rows_every_kernel) {
  std::mt19937 rng(43);
  const Rounding rs[] = {Rounding::HalfEven, Rounding::Gemmlowp, Rounding::Single};
  int i = 0;
  for (int W : {17, 33, 50, 61}) {
    for (int s : {1, 2}) {
      for (int k : {3, 5}) {
        const int C = i % 2 ? 70 : 32;
        const DType xt = i % 3 == 1 ? DType::S8 : DType::U8;
        const int d = i % 5 == 3 ? 2 : 1;
        ConvCase c{1, 5 + i % 3, W, 1, C, 1, k, k, s, s, d, d, k / 2 * d, k / 2 * d, (k - 1) / 2 * d, k / 2 * d,
                   xt, DType::S8, xt, rs[i % 3]};
        run_case(c, rng, i % 2 == 0);
        ++i;
      }
    }
  }
}

LOWP_TEST(conv_gemm_paths_every_kernel) {
  std::mt19937 rng(7);
  const ConvCase cases[] = {
      {2, 6, 7, 5, 1, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, DType::U8, DType::S8, DType::U8, Rounding::HalfEven},
      {1, 8, 8, 16, 1, 20, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, DType::S8, DType::S8, DType::S8, Rounding::Gemmlowp},
      {1, 9, 7, 3, 2, 4, 3, 2, 2, 1, 2, 1, 2, 0, 1, 1, DType::U8, DType::U8, DType::S32, Rounding::HalfEven},
      {1, 11, 10, 3, 1, 8, 7, 7, 3, 3, 1, 1, 3, 3, 3, 3, DType::U8, DType::S8, DType::U8, Rounding::Single},
  };
  for (const ConvCase& c : cases) run_case(c, rng, false);
}

LOWP_TEST(conv_rejects_bad_arguments) {
  std::vector<uint8_t> w(4 * 3 * 3 * 2, 1);
  int32_t zw = 0;
  bool threw = false;
  try {
    PackedConv pc(w.data(), DType::S8, 4, 3, 3, 2, 3, &zw, 1, "", "");  // 4 % 3 != 0
  } catch (const Error&) {
    threw = true;
  }
  EXPECT_TRUE(threw, "Cout not divisible by group must throw");
  PackedConv pc(w.data(), DType::S8, 4, 3, 3, 2, 1, &zw, 1, "", "");
  ConvGeometry g;
  g.N = 1; g.H = 2; g.W = 2; g.KH = 3; g.KW = 3;
  std::vector<uint8_t> x(8), y(64);
  OutputSpec out;
  out.out_type = DType::S32;
  threw = false;
  try {
    conv2d(pc, g, x.data(), DType::U8, 0, y.data(), out, 1);  // 3x3 kernel on 2x2 unpadded input
  } catch (const Error&) {
    threw = true;
  }
  EXPECT_TRUE(threw, "empty output must throw");
}

LOWP_TEST(conv_threads_every_kernel) {
  // Multi-threaded paths: im2col row blocks (>= 8 * mr rows per thread), im2col chunks with a
  // threaded GEMM, the direct 1x1 GEMM, depthwise rows and row pairs; 2 and 3 threads.
  std::mt19937 rng(11);
  const ConvCase cases[] = {
      {1, 48, 50, 3, 1, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, DType::U8, DType::S8, DType::U8, Rounding::HalfEven},
      {2, 30, 31, 3, 1, 8, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, DType::U8, DType::S8, DType::S32, Rounding::HalfEven},
      {1, 9, 9, 24, 1, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, DType::S8, DType::S8, DType::S8, Rounding::Gemmlowp},
      {1, 40, 40, 16, 1, 24, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, DType::U8, DType::S8, DType::U8, Rounding::HalfEven},
      {1, 21, 20, 1, 40, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, DType::U8, DType::S8, DType::U8, Rounding::HalfEven},
      {2, 15, 15, 1, 24, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, DType::U8, DType::S8, DType::U8, Rounding::HalfEven},
  };
  for (int threads : {2, 3})
    for (const ConvCase& c : cases) run_case(c, rng, false, threads);
}

// Depthwise layers with few output rows (MobileNetV2's 14x14 and 7x7): the row kernels split
// channels in blocks of 64 over the tasks too. Odd channel counts (last block partial), batch 2,
// row pairs (stride 1), single rows (stride 2), 3x3 and 5x5; 1, 2 and 3 threads.
LOWP_TEST(conv_depthwise_channel_split_threads) {
  std::mt19937 rng(12);
  const Rounding rs[] = {Rounding::HalfEven, Rounding::Gemmlowp, Rounding::Single};
  int i = 0;
  for (int threads : {1, 2, 3}) {
    for (int HW : {7, 14}) {
      for (int s : {1, 2}) {
        for (int C : {131, 200, 577}) {
          const int k = i % 4 == 3 ? 5 : 3;
          const DType xt = i % 3 == 1 ? DType::S8 : DType::U8;
          ConvCase c{1 + (i % 5 == 2), HW, HW, 1, C, 1, k, k, s, s, 1, 1, k / 2, k / 2, (k - 1) / 2, k / 2,
                     xt, DType::S8, i % 7 == 6 ? DType::S32 : xt, rs[i % 3]};
          run_case(c, rng, i % 2 == 0, threads);
          ++i;
        }
      }
    }
  }
}

// ConvTerms with per-tensor output parameters and no bias (the cases above are per channel with a
// bias): depthwise, grouped and dense im2col, direct 1x1; every kernel, 1 and 2 threads.
LOWP_TEST(conv_terms_per_tensor_every_path) {
  std::mt19937 rng(13);
  const ConvCase cases[] = {
      {1, 14, 14, 1, 70, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, DType::U8, DType::S8, DType::U8, Rounding::HalfEven},
      {1, 9, 9, 1, 40, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, DType::S8, DType::S8, DType::S8, Rounding::Gemmlowp},
      {1, 7, 7, 1, 64, 1, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, DType::U8, DType::U8, DType::U8, Rounding::Single},
      {1, 9, 7, 3, 2, 4, 3, 2, 2, 1, 2, 1, 2, 0, 1, 1, DType::U8, DType::U8, DType::U8, Rounding::HalfEven},
      {1, 8, 8, 16, 1, 20, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, DType::S8, DType::S8, DType::S8, Rounding::Single},
      {1, 20, 20, 8, 1, 24, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, DType::U8, DType::S8, DType::U8, Rounding::Gemmlowp},
      {1, 10, 10, 4, 1, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, DType::U8, DType::S8, DType::S32, Rounding::HalfEven},
  };
  for (int threads : {1, 2})
    for (const ConvCase& c : cases) run_case(c, rng, false, threads, true);
}

// ConvTerms are bound to the weights, input type / zero point and spec shape they were built for.
LOWP_TEST(conv_terms_reject_other_arguments) {
  std::vector<uint8_t> w(8 * 1 * 1 * 4, 3), x(4 * 4 * 4, 1), y(4 * 4 * 8 * 4);
  int32_t zw = 0;
  PackedConv pc(w.data(), DType::S8, 8, 1, 1, 4, 1, &zw, 1, "", "");
  PackedConv pc2(w.data(), DType::S8, 8, 1, 1, 4, 1, &zw, 1, "", "");
  ConvGeometry g;
  g.N = 1; g.H = 4; g.W = 4;
  OutputSpec out;
  out.out_type = DType::S32;
  const ConvTerms terms(pc, DType::U8, 5, out);
  auto throws = [&](const PackedConv& p, DType xt, int32_t zx, const OutputSpec& o) {
    try {
      conv2d(p, g, x.data(), xt, zx, y.data(), o, 1, &terms);
    } catch (const Error&) {
      return true;
    }
    return false;
  };
  EXPECT_TRUE(!throws(pc, DType::U8, 5, out), "matching arguments must run");
  EXPECT_TRUE(throws(pc2, DType::U8, 5, out), "other weights must throw");
  EXPECT_TRUE(throws(pc, DType::U8, 6, out), "other zero point must throw");
  EXPECT_TRUE(throws(pc, DType::S8, 5, out), "other input type must throw");
  OutputSpec o2 = out;
  o2.bias.assign(8, 1);
  EXPECT_TRUE(throws(pc, DType::U8, 5, o2), "a spec with a bias (terms built without) must throw");
}

// Depthwise row blocks (one image, few output rows, more than one channel block): each thread
// takes the output rows split_point(OH, i, threads) .. as row pairs (3x3 stride 1) plus a single
// last row, or as single rows. Odd and uneven splits: 3..14 rows on 2, 3 and 4 threads (blocks
// of 1 row, blocks with and without a pair remainder), stride 1 and 2, 3x3 and 5x5, per-channel
// and per-tensor parameters; against the reference, per-call and precomputed terms.
LOWP_TEST(conv_depthwise_row_blocks_threads) {
  const int saved = get_num_threads();
  set_num_threads(4);
  std::mt19937 rng(14);
  const Rounding rs[] = {Rounding::HalfEven, Rounding::Gemmlowp, Rounding::Single};
  int i = 0;
  for (int threads : {2, 3, 4}) {
    for (int HW : {3, 5, 7, 9, 14}) {
      for (int s : {1, 2}) {
        const int k = i % 3 == 2 ? 5 : 3;
        const int C = i % 2 ? 70 : 131;
        const DType xt = i % 4 == 1 ? DType::S8 : DType::U8;
        ConvCase c{1, HW, HW + 1, 1, C, 1, k, k, s, s, 1, 1, k / 2, k / 2, k / 2, k / 2, xt, DType::S8, xt, rs[i % 3]};
        run_case(c, rng, i % 2 == 0, threads, i % 5 == 3);
        ++i;
      }
    }
  }
  set_num_threads(saved);
}
