// The small-depth AMX kernel "amx_smallk" (gemm_smallk_amx_avx512vnni.cc) and its packed
// half_even output stage (requant_pack_avx512.h), against an int64 reference and the scalar
// requantizer. The generic sweeps (test_gemm_sweep.cc, test_gemm_x86.cc) run it too, but their
// random scales mostly exceed 1 somewhere in a tile, which sends the tile to the per-vector
// output stage; here every scale is < 1 (the packed stage) unless a case says otherwise.
//
// Covered: every K in 1..72 (each k-group count of the single shortened tdpbusd step, and the
// first multi-step depths with a zero-padded partial B block), K up to 200 and 4100 (more
// B blocks than the kernel lists on its stack); last panels of 1, 2, 3, 4, 5, 15, 16, 17, 31,
// 32, 33, 127 and 128 rows; n tails 1..32 (both the 4-row and the 2-row narrowing); u8 and s8 outputs with
// zero points and clamps at both ends; accumulators over the whole int32 range (full-range bias)
// with scales just below 1 (the largest |f| the packed stage accepts); .5 ties; a scale >= 1 in
// one column (fallback tile next to packed tiles); int8 activations; uint8 weights (row sums);
// 1 and 2 threads; the default choice of kernel by depth; and switching tile configurations
// with "amx" and foreign code on the same thread.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gemm/kernel.h"
#include "lowp/gemm.h"
#include "requant/requant.h"
#include "tests/test_framework.h"

using namespace lowp;

namespace {

const GemmKernel* find_kernel(const char* name) {
  for (const GemmKernel* k : available_kernels())
    if (std::strcmp(k->name, name) == 0) return k;
  return nullptr;
}

struct Prob {
  int M, N, K;
  DType at, bt, ot;
  int32_t za, zp, qmin, qmax;
  std::vector<int32_t> zb, bias;
  std::vector<float> scale;
  std::vector<uint8_t> a, b;
};

int32_t val(uint8_t raw, DType t) { return t == DType::U8 ? raw : static_cast<int8_t>(raw); }

// scale_mode: 0 random in (0, 1), 1 just below 1 and tiny, 2 like 0 plus one column at 1.5.
Prob make(std::mt19937& rng, int M, int N, int K, DType at, DType bt, DType ot, int scale_mode, bool big_bias) {
  Prob p{M, N, K, at, bt, ot, 0, 0, 0, 0, {}, {}, {}, {}, {}};
  std::uniform_int_distribution<int> byte(0, 255);
  p.a.resize(static_cast<size_t>(M) * K);
  p.b.resize(static_cast<size_t>(K) * N);
  for (auto& x : p.a) x = static_cast<uint8_t>(byte(rng));
  for (auto& x : p.b) x = static_cast<uint8_t>(byte(rng));
  p.za = at == DType::U8 ? byte(rng) : byte(rng) - 128;
  p.zb.assign(1, bt == DType::U8 ? byte(rng) : 0);
  std::uniform_int_distribution<int32_t> full(INT32_MIN, INT32_MAX), small(-3000, 3000);
  p.bias.resize(N);
  for (auto& x : p.bias) x = big_bias ? full(rng) : small(rng);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  p.scale.resize(N);
  for (int j = 0; j < N; ++j) {
    float s = std::ldexp(0.5f + 0.5f * u(rng), -static_cast<int>(rng() % 12));
    if (scale_mode == 1) s = j % 2 ? 0.99999994f : std::ldexp(1.0f, -20 - static_cast<int>(j % 5));
    if (j % 7 == 3) s = 0.5f;  // exact ties for even accumulators
    p.scale[j] = std::min(s, 0.99999994f);
  }
  if (scale_mode == 2) p.scale[N / 2] = 1.5f;
  if (ot == DType::U8) {
    p.zp = byte(rng);
    p.qmin = byte(rng) % 64;
    p.qmax = 255 - byte(rng) % 64;
  } else {
    p.zp = byte(rng) - 128;
    p.qmin = -128 + byte(rng) % 64;
    p.qmax = 127 - byte(rng) % 64;
  }
  if (rng() % 3 == 0) {  // full range
    p.qmin = ot == DType::U8 ? 0 : -128;
    p.qmax = ot == DType::U8 ? 255 : 127;
  }
  return p;
}

// Runs the problem on kernel k, returns the number of wrong bytes (incl. ldc padding / tail).
size_t check(const GemmKernel& k, const Prob& p, int threads, int ldc_pad) {
  PackedB B(k, p.b.data(), p.bt, p.K, p.N, p.N, p.zb.data(), 1);
  const ptrdiff_t ldc = p.N + ldc_pad;
  std::vector<uint8_t> c(static_cast<size_t>(p.M) * ldc + 64, 0xA5);
  GemmArgs args;
  args.M = p.M;
  args.a = p.a.data();
  args.a_type = p.at;
  args.lda = p.K;
  args.za = p.za;
  args.c = c.data();
  args.ldc = ldc;
  OutputSpec out;
  out.out_type = p.ot;
  out.rounding = Rounding::HalfEven;
  out.bias = p.bias;
  out.scale = p.scale;
  out.zero_point = p.zp;
  out.qmin = p.qmin;
  out.qmax = p.qmax;
  gemm(args, B, out, threads);
  size_t bad = 0;
  std::vector<int64_t> row(p.N);
  for (int i = 0; i < p.M; ++i) {
    std::fill(row.begin(), row.end(), 0);
    for (int kk = 0; kk < p.K; ++kk) {
      const int64_t av = val(p.a[static_cast<size_t>(i) * p.K + kk], p.at) - p.za;
      for (int j = 0; j < p.N; ++j) row[j] += av * (val(p.b[static_cast<size_t>(kk) * p.N + j], p.bt) - p.zb[0]);
    }
    for (ptrdiff_t j = 0; j < ldc; ++j) {
      const uint8_t got = c[static_cast<size_t>(i) * ldc + j];
      if (j >= p.N) {
        bad += got != 0xA5;
        continue;
      }
      const int32_t x = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(row[j])) +
                                             static_cast<uint32_t>(p.bias[j]));
      const int32_t want = requant::requantize_one(x, Rounding::HalfEven, 0, 0, p.scale[j], p.zp, p.qmin, p.qmax);
      bad += (p.ot == DType::U8 ? static_cast<int32_t>(got) : static_cast<int32_t>(static_cast<int8_t>(got))) != want;
    }
  }
  for (size_t e = static_cast<size_t>(p.M) * ldc; e < c.size(); ++e) bad += c[e] != 0xA5;
  return bad;
}

std::string where(const Prob& p, const char* what) {
  return std::string("amx_smallk ") + what + " M=" + std::to_string(p.M) + " N=" + std::to_string(p.N) +
         " K=" + std::to_string(p.K) + (p.ot == DType::U8 ? " u8" : " s8") + " zp=" + std::to_string(p.zp) +
         " q=[" + std::to_string(p.qmin) + "," + std::to_string(p.qmax) + "]";
}

}  // namespace

// Every K 1..72 (and a few deeper, up to 3 k-blocks and a K > 4096 forced run) x last-panel sizes x n tails, packed output stage, u8 and s8.
LOWP_TEST(gemm_smallk_every_k_and_tail) {
  const GemmKernel* k = find_kernel("amx_smallk");
  if (!k) return;  // CPU without AMX
  std::mt19937 rng(4001);
  const int last_rows[] = {1, 2, 3, 4, 5, 15, 16, 17, 31, 32, 33, 127, 128};
  const int ns[] = {1, 2, 3, 5, 8, 15, 16, 17, 24, 31, 32, 33, 48, 70, 96};
  int it = 0;
  std::vector<int> Ks;
  for (int K = 1; K <= 72; ++K) Ks.push_back(K);
  for (int K : {96, 100, 127, 128, 129, 144, 192, 200, 4100}) Ks.push_back(K);  // 2, 3 and 65 k-blocks
  for (int K : Ks)
    for (int rep = 0; rep < (K > 1000 ? 1 : 3); ++rep, ++it) {
      const int M = K > 1000 ? 130 : (it % 3) * 128 + last_rows[it % 13];
      const int N = K > 1000 ? 33 : ns[(it * 7) % 15];
      const DType ot = it % 2 ? DType::S8 : DType::U8;
      const DType at = it % 5 == 4 ? DType::S8 : DType::U8;
      const Prob p = make(rng, M, N, K, at, DType::S8, ot, it % 4 == 1 ? 1 : 0, it % 3 == 2);
      const size_t bad = check(*k, p, 1, it % 3);
      EXPECT_TRUE(bad == 0, where(p, "packed") + " bad=" + std::to_string(bad));
    }
}

// Accumulators over the whole int32 range with scales just below 1, and ties; 2 threads.
LOWP_TEST(gemm_smallk_extreme_accumulators) {
  const GemmKernel* k = find_kernel("amx_smallk");
  if (!k) return;
  std::mt19937 rng(4002);
  for (int it = 0; it < 24; ++it) {
    const Prob p = make(rng, 300 + it, 32 + it % 9, 1 + (it * 5) % 64, DType::U8, DType::S8,
                        it % 2 ? DType::S8 : DType::U8, 1, true);
    const size_t bad = check(*k, p, 1 + it % 2, 1);
    EXPECT_TRUE(bad == 0, where(p, "extreme") + " bad=" + std::to_string(bad));
  }
}

// Tiles that cannot use the packed stage, next to tiles that do: a column with scale 1.5 (its
// 32-column tile falls back), uint8 weights (row-sum term), int32 output.
LOWP_TEST(gemm_smallk_fallback_tiles) {
  const GemmKernel* k = find_kernel("amx_smallk");
  if (!k) return;
  std::mt19937 rng(4003);
  for (int it = 0; it < 12; ++it) {
    const int K = 1 + (it * 11) % 64;
    Prob p = make(rng, 200 + it, 70, K, DType::U8, DType::S8, it % 2 ? DType::S8 : DType::U8, 2, it % 3 == 0);
    size_t bad = check(*k, p, 1, 0);
    EXPECT_TRUE(bad == 0, where(p, "scale>=1 column") + " bad=" + std::to_string(bad));
    p = make(rng, 150 + it, 40, K, it % 2 ? DType::S8 : DType::U8, DType::U8, DType::U8, 0, false);
    p.zb[0] = 1 + static_cast<int>(rng() % 255);
    bad = check(*k, p, 2, 1);
    EXPECT_TRUE(bad == 0, where(p, "uint8 weights") + " bad=" + std::to_string(bad));
  }
}

// The same packed half_even output stage in the "amx" kernel (gemm_amx_avx512vnni.cc), which
// adds the column terms to the tile sums itself: K with and without a vpdpbusd tail (the tail
// takes the per-vector stage), one and two 512-k chunks, A in place and packed (int8 A, 1-2 row
// panels), last panels of 1..33 rows, n tails, u8/s8 with and without clamps, scales just below
// 1 with full-range accumulators, a scale >= 1 column (its tile falls back), 1 and 2 threads.
LOWP_TEST(gemm_amx_packed_output) {
  const GemmKernel* k = find_kernel("amx");
  if (!k) return;
  std::mt19937 rng(4005);
  const int Ks[] = {64, 100, 128, 320, 576, 1024, 1088, 1600};
  const int last_rows[] = {1, 2, 3, 4, 15, 16, 17, 31, 32, 33};
  const int ns[] = {1, 5, 16, 17, 31, 32, 33, 48, 70, 100};
  int it = 0;
  for (int K : Ks)
    for (int rep = 0; rep < 3; ++rep, ++it) {
      const int M = (it % 3) * 32 + last_rows[it % 10];
      const int N = ns[(it * 7) % 10];
      const DType ot = it % 2 ? DType::S8 : DType::U8;
      const DType at = it % 5 == 4 ? DType::S8 : DType::U8;
      const int scale_mode = it % 6 == 5 ? 2 : (it % 4 == 1 ? 1 : 0);
      const Prob p = make(rng, M, N, K, at, DType::S8, ot, scale_mode, it % 3 == 2);
      const size_t bad = check(*k, p, 1 + it % 2, it % 3);
      EXPECT_TRUE(bad == 0, where(p, "packed, kernel amx:") + " bad=" + std::to_string(bad));
    }
}

// Default dispatch picks amx_smallk for K <= 64 where amx is the best kernel, never when forced.
LOWP_TEST(gemm_smallk_default_choice) {
  const GemmKernel* k = find_kernel("amx_smallk");
  if (!k) return;
  if (std::getenv("LOWP_KERNEL")) return;  // a forced kernel disables shape rules
  const GemmKernel& best = select_kernel(nullptr);
  if (std::strcmp(best.name, "amx") != 0) return;
  EXPECT_TRUE(&select_kernel_for(nullptr, 16) == k, "K=16 should default to amx_smallk");
  EXPECT_TRUE(&select_kernel_for("", 64) == k, "K=64 should default to amx_smallk");
  EXPECT_TRUE(&select_kernel_for(nullptr, 65) == &best, "K=65 should default to amx");
  EXPECT_TRUE(&select_kernel_for(nullptr, 128) == &best, "K=128 should default to amx");
  EXPECT_TRUE(&select_kernel_for("amx", 16) == &best, "a forced amx must stay amx");
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("amx-tile"))) static void load_other_tile_config() {
  alignas(64) uint8_t cfg[64] = {};
  cfg[0] = 1;
  for (int i = 0; i < 8; ++i) {
    cfg[16 + 2 * i] = 32;
    cfg[48 + i] = 8;
  }
  __asm__ volatile("" ::: "memory");
  _tile_loadconfig(cfg);
}

// amx_smallk, amx (K > 64) and foreign code alternate on one thread: each reloads its config.
LOWP_TEST(gemm_smallk_tile_config_switching) {
  const GemmKernel* k = find_kernel("amx_smallk");
  const GemmKernel* amx = find_kernel("amx");
  if (!k || !amx) return;
  std::mt19937 rng(4004);
  for (int it = 0; it < 10; ++it) {
    const Prob small = make(rng, 140, 48, 4 + it * 6, DType::U8, DType::S8, DType::U8, 0, false);
    const Prob big = make(rng, 70, 40, 100 + it, DType::U8, DType::S8, DType::U8, 0, false);
    if (it % 3 == 0) load_other_tile_config();
    size_t bad = check(*k, small, 1, 0);
    EXPECT_TRUE(bad == 0, where(small, "switching") + " bad=" + std::to_string(bad));
    bad = check(*amx, big, 1, 0);
    EXPECT_TRUE(bad == 0, where(big, "amx after smallk") + " bad=" + std::to_string(bad));
    bad = check(*k, big, 1, 0);
    EXPECT_TRUE(bad == 0, where(big, "smallk K>64") + " bad=" + std::to_string(bad));
  }
}
#endif
