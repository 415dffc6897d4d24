// im2col_nhwc (ops/im2col.cc) against a direct per-element reference: channel counts 1..8, 11,
// 16, 32 and 64, kernels 1x1..7x7 (and 1x9), strides 1..3, dilations 1..2, asymmetric pads, channel slices
// (groups), batch 2, arbitrary row ranges [m0, m0+mc) (as the conv driver and its threads split
// them), row strides ld = Kg and ld > Kg. The short-run fast path copies 16/32-byte blocks that
// overshoot the run; the test checks every byte of the destination rows and that nothing is
// written before the first row or after the last row's Kg bytes (the gaps between rows when
// ld > Kg are scratch: the GEMM never reads them).
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ops/conv.h"
#include "ops/im2col.h"
#include "tests/test_framework.h"

using namespace lowp;

namespace {

constexpr uint8_t kCanary = 0xC3;

uint8_t ref_at(const std::vector<uint8_t>& x, const ConvGeometry& g, int Cin, int c0, int Cg, int KW, uint8_t zx,
               int64_t m, int k) {
  const int OH = g.OH(), OW = g.OW();
  const int64_t n = m / (static_cast<int64_t>(OH) * OW);
  const int oh = static_cast<int>((m / OW) % OH), ow = static_cast<int>(m % OW);
  const int kh = k / (KW * Cg), kw = (k / Cg) % KW, c = k % Cg;
  const int ih = oh * g.sh - g.pt + kh * g.dh, iw = ow * g.sw - g.pl + kw * g.dw;
  if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) return zx;
  return x[((n * g.H + ih) * g.W + iw) * Cin + c0 + c];
}

}  // namespace

LOWP_TEST(im2col_matches_reference_and_stays_in_bounds) {
  std::mt19937 rng(777);
  int cases = 0;
  for (int it = 0; it < 600; ++it) {
    ConvGeometry g;
    g.N = 1 + it % 2;
    // 11..64 channels: runs of KW * Cin > 32 bytes (inline 32-byte blocks, overlapping tails)
    const int cin_opts[] = {1, 2, 3, 4, 5, 8, 16, 3, 11, 32, 64};
    const int Cin = cin_opts[it % 11];
    const bool grouped = Cin % 2 == 0 && it % 5 == 0;
    const int Cg = grouped ? Cin / 2 : Cin, c0 = grouped && it % 2 ? Cg : 0;
    const int ks[][2] = {{1, 1}, {3, 3}, {5, 5}, {7, 7}, {1, 9}, {3, 1}, {2, 2}};
    g.KH = ks[it % 7][0];
    g.KW = ks[it % 7][1];
    g.sh = 1 + static_cast<int>(rng() % 3);
    g.sw = 1 + static_cast<int>(rng() % 3);
    g.dh = it % 9 == 4 ? 2 : 1;
    g.dw = it % 11 == 5 ? 2 : 1;
    g.pt = static_cast<int>(rng() % 4);
    g.pb = static_cast<int>(rng() % 4);
    g.pl = static_cast<int>(rng() % 4);
    g.pr = static_cast<int>(rng() % 4);
    g.H = 1 + static_cast<int>(rng() % 20);
    g.W = 1 + static_cast<int>(rng() % 20);
    if (g.OH() < 1 || g.OW() < 1) continue;
    const int64_t M = static_cast<int64_t>(g.N) * g.OH() * g.OW();
    const int Kg = g.KH * g.KW * Cg;
    const int64_t ld = Kg + (it % 3 == 0 ? static_cast<int>(rng() % 9) : 0);
    // Input exactly sized (ASan catches reads past it; the fast path must check).
    std::vector<uint8_t> x(static_cast<size_t>(g.N) * g.H * g.W * Cin);
    for (auto& v : x) v = static_cast<uint8_t>(rng());
    const uint8_t zx = static_cast<uint8_t>(rng());
    const int64_t m0 = static_cast<int64_t>(rng() % M);
    const int64_t mc = 1 + static_cast<int64_t>(rng() % (M - m0));
    // Destination: a canary margin before and after the rows.
    const size_t margin = 64, body = static_cast<size_t>((mc - 1) * ld + Kg);
    std::vector<uint8_t> buf(margin + body + margin, kCanary);
    im2col_nhwc(x.data(), g, Cin, c0, Cg, g.KH, g.KW, zx, m0, mc, buf.data() + margin, ld);
    size_t bad = 0, stray = 0;
    for (size_t i = 0; i < margin; ++i) stray += (buf[i] != kCanary) + (buf[margin + body + i] != kCanary);
    for (int64_t r = 0; r < mc; ++r) {
      const uint8_t* row = buf.data() + margin + r * ld;
      for (int k = 0; k < Kg; ++k) bad += row[k] != ref_at(x, g, Cin, c0, Cg, g.KW, zx, m0 + r, k);
    }
    EXPECT_TRUE(bad == 0 && stray == 0,
                "im2col Cin=" + std::to_string(Cin) + " Cg=" + std::to_string(Cg) + " c0=" + std::to_string(c0) +
                    " k=" + std::to_string(g.KH) + "x" + std::to_string(g.KW) + " s=" + std::to_string(g.sh) + "," +
                    std::to_string(g.sw) + " HxW=" + std::to_string(g.H) + "x" + std::to_string(g.W) +
                    " m0=" + std::to_string(m0) + " mc=" + std::to_string(mc) + " ld=" + std::to_string(ld) +
                    " bad=" + std::to_string(bad) + " stray=" + std::to_string(stray));
    ++cases;
  }
  EXPECT_TRUE(cases > 450, "too few valid geometries: " + std::to_string(cases));
}
