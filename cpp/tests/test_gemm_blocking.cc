// Large-shape blocking of the optimized kernels (run on every kernel the CPU supports): K around
// the AMX K-chunk boundaries (one chunk up to 768, or 1280 with 8-bit output and >= 8 B panels;
// chunks of < 8 blocks run panel by panel, longer ones pipelined across panels: 896 = 7 + 7) and
// k-block (64) boundaries, several B panels per A panel with a partial
// last one, full and partial A panels, uint8 A (read in place by AMX when the row stride allows)
// and int8 A (packed), row strides lda > K (odd and multiple of 512), per-column zero points (row
// sums), extreme values whose sums wrap int32 up to K = 65536, 1 and 2 threads, int32 and
// requantized outputs. Expected values: an int64 reference and the scalar requantizer.
#include <cmath>
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

struct Problem {
  int M, N, K;
  ptrdiff_t lda;
  DType at, bt;
  int32_t za;
  std::vector<int32_t> zb;   // 1 or N
  std::vector<uint8_t> a;    // exactly (M-1)*lda + K bytes: nothing past the last row
  std::vector<uint8_t> b;    // K x N
  std::vector<int32_t> acc;  // sum (a-za)(b-zb) wrapped to int32
};

int32_t val(uint8_t raw, DType t) { return t == DType::U8 ? raw : static_cast<int8_t>(raw); }

Problem make(std::mt19937& rng, int M, int N, int K, int lda_pad, DType at, DType bt, bool per_col, bool extreme) {
  Problem p{M, N, K, K + lda_pad, at, bt, 0, {}, {}, {}, {}};
  p.a.resize(static_cast<size_t>(M - 1) * p.lda + K);
  p.b.resize(static_cast<size_t>(K) * N);
  const int lo_a = at == DType::U8 ? 0 : -128, hi_a = at == DType::U8 ? 255 : 127;
  const int lo_b = bt == DType::U8 ? 0 : -128, hi_b = bt == DType::U8 ? 255 : 127;
  std::uniform_int_distribution<int> byte(0, 255);
  if (extreme) {
    for (auto& x : p.a) x = static_cast<uint8_t>(hi_a);
    for (auto& x : p.b) x = static_cast<uint8_t>(lo_b);
    p.za = lo_a;
    p.zb.assign(per_col ? N : 1, hi_b);
  } else {
    for (auto& x : p.a) x = static_cast<uint8_t>(byte(rng));
    for (auto& x : p.b) x = static_cast<uint8_t>(byte(rng));
    p.za = std::uniform_int_distribution<int>(lo_a, hi_a)(rng);
    p.zb.resize(per_col ? N : 1);
    for (auto& z : p.zb) z = std::uniform_int_distribution<int>(lo_b, hi_b)(rng);
  }
  p.acc.resize(static_cast<size_t>(M) * N);
  std::vector<int64_t> row(N);
  for (int i = 0; i < M; ++i) {
    std::fill(row.begin(), row.end(), 0);
    for (int k = 0; k < K; ++k) {
      const int64_t av = val(p.a[static_cast<size_t>(i) * p.lda + k], at) - p.za;
      const uint8_t* brow = &p.b[static_cast<size_t>(k) * N];
      for (int j = 0; j < N; ++j) row[j] += av * (val(brow[j], bt) - p.zb[per_col ? j : 0]);
    }
    for (int j = 0; j < N; ++j)
      p.acc[static_cast<size_t>(i) * N + j] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(row[j])));
  }
  return p;
}

// Runs the GEMM (int32 output, or uint8/int8 with rounding r) and counts wrong elements,
// including any write into the ldc padding or past C.
// aoff < 0: A as built (exactly sized, malloc alignment); else A copied to a 64-byte boundary
// + aoff (aligned rows are read in place by the AMX kernel when lda allows).
size_t run(const GemmKernel& k, const PackedB& B, const Problem& p, bool requant, Rounding r, int threads, int aoff = -1) {
  std::vector<uint8_t> astore;
  const uint8_t* a = p.a.data();
  if (aoff >= 0) {
    astore.resize(p.a.size() + 128);
    uint8_t* base = astore.data() + ((64 - (reinterpret_cast<uintptr_t>(astore.data()) & 63)) & 63) + aoff;
    std::memcpy(base, p.a.data(), p.a.size());
    a = base;
  }
  const int M = p.M, N = p.N;
  const ptrdiff_t ldc = N + 3;
  const DType ot = requant ? (r == Rounding::Single ? DType::S8 : DType::U8) : DType::S32;
  const size_t esz = element_size(ot);
  const size_t total = (static_cast<size_t>(M) * ldc + 64) * esz;
  std::vector<uint8_t> buf(total, 0x5A);
  GemmArgs args;
  args.M = M;
  args.a = a;
  args.a_type = p.at;
  args.lda = p.lda;
  args.za = p.za;
  args.c = buf.data();
  args.ldc = ldc;
  OutputSpec out;
  out.out_type = ot;
  std::vector<int32_t> mult(N), shift(N);
  std::vector<float> scale(N);
  if (requant) {
    out.rounding = r;
    out.bias.resize(N);
    for (int j = 0; j < N; ++j) {
      out.bias[j] = (j * 7919) % 100001 - 50000;
      const double real = std::ldexp(0.5 + (j % 37) / 74.0, -12 - j % 9);
      requant::quantize_multiplier(real, &mult[j], &shift[j], r == Rounding::Single);
      scale[j] = static_cast<float>(real);
    }
    out.multiplier = mult;
    out.shift = shift;
    out.scale = scale;
    out.zero_point = ot == DType::U8 ? 100 : -5;
    out.qmin = ot == DType::U8 ? 3 : -120;
    out.qmax = ot == DType::U8 ? 250 : 126;
  }
  gemm(args, B, out, threads);
  size_t bad = 0;
  for (int i = 0; i < M; ++i)
    for (ptrdiff_t j = 0; j < ldc; ++j) {
      const size_t idx = static_cast<size_t>(i) * ldc + j;
      if (j >= N) {
        for (size_t e = 0; e < esz; ++e) bad += buf[idx * esz + e] != 0x5A;
        continue;
      }
      const int32_t acc = p.acc[static_cast<size_t>(i) * N + j];
      if (!requant) {
        int32_t got;
        std::memcpy(&got, &buf[idx * 4], 4);
        bad += got != acc;
        continue;
      }
      const int32_t x = static_cast<int32_t>(static_cast<uint32_t>(acc) + static_cast<uint32_t>(out.bias[j]));
      const int32_t want = requant::requantize_one(x, r, mult[j], shift[j], scale[j], out.zero_point, out.qmin, out.qmax);
      const int32_t got = ot == DType::U8 ? buf[idx] : static_cast<int8_t>(buf[idx]);
      bad += got != want;
    }
  for (size_t e = static_cast<size_t>(M) * ldc * esz; e < total; ++e) bad += buf[e] != 0x5A;
  return bad;
}

std::string where(const GemmKernel& k, const Problem& p, const std::string& what) {
  return std::string(k.name) + " " + what + " M=" + std::to_string(p.M) + " N=" + std::to_string(p.N) +
         " K=" + std::to_string(p.K) + " lda=" + std::to_string(p.lda) + (p.at == DType::U8 ? " u8" : " s8") +
         (p.zb.size() > 1 ? " per-col" : "");
}

}  // namespace

// K at and around the chunk/block boundaries, several full and partial panels. Each problem
// (and its int64 reference) is built once and run on every kernel.
LOWP_TEST(gemm_blocking_k_chunks) {
  std::mt19937 rng(41);
  const int Ks[] = {511, 512, 513, 575, 576, 577, 768, 769, 896, 1024, 1089, 1280, 1281, 1344, 1345, 1600, 2304, 4163};
  const int Ms[] = {32, 64, 47, 113};  // full panels; last panel 15 / 17 rows
  const int pads[] = {0, 13, 512};     // lda = K, K+13, and K+512 (a multiple of 512 when K is)
  const Rounding rs[] = {Rounding::HalfEven, Rounding::Gemmlowp, Rounding::Single};
  int it = 0;
  for (int K : Ks) {
    const int M = Ms[it % 4], N = it % 2 ? 3 * 32 + 5 : 8 * 32;
    const int pad = K % 512 == 0 ? pads[it % 3] : pads[it % 2];
    const DType at = it % 3 == 2 ? DType::S8 : DType::U8, bt = it % 4 == 1 ? DType::U8 : DType::S8;
    const Problem p = make(rng, M, N, K, pad, at, bt, it % 2 == 0, false);
    for (const GemmKernel* k : available_kernels()) {
      if (std::strcmp(k->name, "ref") == 0) continue;
      PackedB B(*k, p.b.data(), bt, K, N, N, p.zb.data(), static_cast<int>(p.zb.size()));
      size_t bad = run(*k, B, p, false, Rounding::HalfEven, 1 + it % 2);
      EXPECT_TRUE(bad == 0, where(*k, p, "int32") + " bad=" + std::to_string(bad));
      for (int aoff : {0, 16}) {
        bad = run(*k, B, p, false, Rounding::HalfEven, 1, aoff);
        EXPECT_TRUE(bad == 0, where(*k, p, "int32 A at 64-byte boundary +" + std::to_string(aoff)) + " bad=" + std::to_string(bad));
      }
      bad = run(*k, B, p, true, rs[it % 3], 1);
      EXPECT_TRUE(bad == 0, where(*k, p, "requant") + " bad=" + std::to_string(bad));
    }
    ++it;
  }
}

// uint8 A with 64-byte-multiple row strides (not multiples of 512) and 64-byte-aligned rows: the
// AMX kernel's in-place tile loads, deep K with and without a K tail.
LOWP_TEST(gemm_blocking_aligned_rows) {
  std::mt19937 rng(43);
  const int shapes[][4] = {{64, 101, 1600, 0}, {96, 64, 4160, 0}, {32, 256, 2304, 0}, {64, 40, 1000, 88}, {33, 70, 576, 0}};
  int it = 0;
  for (const auto& sh : shapes) {
    const Problem p = make(rng, sh[0], sh[1], sh[2], sh[3], DType::U8, DType::S8, it % 2 == 0, false);
    for (const GemmKernel* k : available_kernels()) {
      if (std::strcmp(k->name, "ref") == 0) continue;
      PackedB B(*k, p.b.data(), DType::S8, p.K, p.N, p.N, p.zb.data(), static_cast<int>(p.zb.size()));
      for (int aoff : {0, 64}) {
        size_t bad = run(*k, B, p, false, Rounding::HalfEven, 1, aoff);
        EXPECT_TRUE(bad == 0, where(*k, p, "int32 aligned") + " bad=" + std::to_string(bad));
        bad = run(*k, B, p, true, it % 2 ? Rounding::Gemmlowp : Rounding::HalfEven, 2, aoff);
        EXPECT_TRUE(bad == 0, where(*k, p, "requant aligned") + " bad=" + std::to_string(bad));
      }
    }
    ++it;
  }
}

// Extreme values: sums wrap int32 (K = 65536 at the ends of the ranges) on full A panels (read in
// place and packed), per-tensor and per-column zero points, 1 and 2 threads.
LOWP_TEST(gemm_blocking_extreme_deep_k) {
  std::mt19937 rng(42);
  int it = 0;
  for (int K : {4096 + 64 * 3 + 5, 65536})
    for (DType at : {DType::U8, DType::S8}) {
      const Problem p = make(rng, 64, 40, K, it % 2 ? 0 : 7, at, DType::S8, it % 2 == 0, true);
      for (const GemmKernel* k : available_kernels()) {
        if (std::strcmp(k->name, "ref") == 0) continue;
        PackedB B(*k, p.b.data(), DType::S8, K, p.N, p.N, p.zb.data(), static_cast<int>(p.zb.size()));
        for (int threads : {1, 2}) {
          const size_t bad = run(*k, B, p, false, Rounding::HalfEven, threads, threads == 1 ? 0 : -1);
          EXPECT_TRUE(bad == 0, where(*k, p, "extreme int32") + " t=" + std::to_string(threads) + " bad=" + std::to_string(bad));
        }
      }
      ++it;
    }
}

// Threaded splits (gemm.cc: panel_split_n_blocks for the AMX panel kernel, 8 tasks per thread
// for the others) on 1, 2 and 3 threads: few A panels (N split), an odd number of A panels with a
// short last one, last panels of 1 and 4 rows (the AMX kernel's packed and half-tile paths), N
// with partial last panels, A read in place (64-byte rows) and packed. Every result must equal
// the int64 reference whatever the thread count (so they are identical across thread counts).
LOWP_TEST(gemm_blocking_thread_splits) {
  std::mt19937 rng(47);
  const int saved = get_num_threads();
  set_num_threads(3);
  // M, N, K, lda pad, per-column zero points
  const int shapes[][5] = {{64, 1000, 1024, 0, 0}, {196, 1297, 320, 0, 1}, {33, 515, 576, 0, 0},
                           {17, 2049, 128, 5, 1},  {97, 96, 2304, 0, 0},   {228, 70, 640, 64, 1}};
  int it = 0;
  for (const auto& sh : shapes) {
    const DType at = it % 3 == 1 ? DType::S8 : DType::U8;
    const Problem p = make(rng, sh[0], sh[1], sh[2], sh[3], at, DType::S8, sh[4] != 0, false);
    for (const GemmKernel* k : available_kernels()) {
      if (std::strcmp(k->name, "ref") == 0) continue;
      PackedB B(*k, p.b.data(), DType::S8, p.K, p.N, p.N, p.zb.data(), static_cast<int>(p.zb.size()));
      for (int threads : {1, 2, 3}) {
        size_t bad = run(*k, B, p, false, Rounding::HalfEven, threads, threads == 2 ? 0 : -1);
        EXPECT_TRUE(bad == 0, where(*k, p, "int32") + " t=" + std::to_string(threads) + " bad=" + std::to_string(bad));
        bad = run(*k, B, p, true, threads == 3 ? Rounding::Gemmlowp : Rounding::HalfEven, threads);
        EXPECT_TRUE(bad == 0, where(*k, p, "requant") + " t=" + std::to_string(threads) + " bad=" + std::to_string(bad));
      }
    }
    ++it;
  }
  set_num_threads(saved);
}

// Tall-panel kernels without a panel kernel (amx_smallk: 128-row panels) split few rows into
// panels of round_up(M / threads, 16) rows over the threads: MobileNetV2's 196-row and 49-row
// small-K 1x1 convs, and row counts around the 16-row and thread boundaries; 1, 2 and 3 threads.
LOWP_TEST(gemm_blocking_tall_panel_row_split) {
  std::mt19937 rng(48);
  const int saved = get_num_threads();
  set_num_threads(3);
  const int shapes[][3] = {{196, 384, 64}, {196, 583, 96}, {49, 960, 160}, {255, 200, 64},
                           {17, 515, 96},  {100, 64, 32},  {300, 96, 64},  {129, 320, 128}};
  int it = 0;
  for (const auto& sh : shapes) {
    const DType at = it % 3 == 1 ? DType::S8 : DType::U8;
    const Problem p = make(rng, sh[0], sh[1], sh[2], 0, at, DType::S8, it % 2 == 1, false);
    for (const GemmKernel* k : available_kernels()) {
      if (k->mr < 64) continue;  // the tall-panel kernels only (the others keep their panels)
      PackedB B(*k, p.b.data(), DType::S8, p.K, p.N, p.N, p.zb.data(), static_cast<int>(p.zb.size()));
      for (int threads : {1, 2, 3}) {
        size_t bad = run(*k, B, p, false, Rounding::HalfEven, threads);
        EXPECT_TRUE(bad == 0, where(*k, p, "int32") + " t=" + std::to_string(threads) + " bad=" + std::to_string(bad));
        bad = run(*k, B, p, true, threads == 3 ? Rounding::Gemmlowp : Rounding::HalfEven, threads);
        EXPECT_TRUE(bad == 0, where(*k, p, "requant") + " t=" + std::to_string(threads) + " bad=" + std::to_string(bad));
      }
    }
    ++it;
  }
  set_num_threads(saved);
}
