// GEMV path (gemm/gemv.h, M <= kGemvMaxM) on every kernel this CPU runs: against an int64
// reference (wrapped to int32) and the scalar requantizers, and against the tiled path of the
// same kernel (GEMV switched off). A sits at the very end of its heap block, rows of exactly K
// bytes, so that a kernel reading past A is caught by ASan (the sanitizer job builds this
// runner); C has a guard row and padding columns that must stay untouched.
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "gemm/gemv.h"
#include "gemm/kernel.h"
#include "lowp/gemm.h"
#include "requant/requant.h"
#include "tests/test_framework.h"

using namespace lowp;

namespace {

struct GemvOff {
  GemvOff() { set_gemv_enabled(false); }
  ~GemvOff() { set_gemv_enabled(true); }
};

int32_t val(const uint8_t* p, DType t) { return t == DType::U8 ? *p : static_cast<int8_t>(*p); }

void check(const GemmKernel& k, std::mt19937& rng, int M, int N, int K, DType at, DType bt, bool per_col, DType ot,
           Rounding rnd, int& fails) {
  std::uniform_int_distribution<int> byte(0, 255), coin(0, 3);
  // A: M rows of K bytes, ending exactly at the end of the allocation.
  std::unique_ptr<uint8_t[]> a(new uint8_t[static_cast<size_t>(M) * K]);
  std::vector<uint8_t> b(static_cast<size_t>(K) * N);
  const bool extreme = coin(rng) == 0;
  for (size_t i = 0; i < static_cast<size_t>(M) * K; ++i) a[i] = static_cast<uint8_t>(extreme ? (coin(rng) & 1) * 255 : byte(rng));
  for (auto& x : b) x = static_cast<uint8_t>(extreme ? (coin(rng) & 1) * 255 : byte(rng));
  const int32_t alo = at == DType::U8 ? 0 : -128, blo = bt == DType::U8 ? 0 : -128;
  const int32_t za = alo + (extreme ? (coin(rng) & 1) * 255 : byte(rng));
  std::vector<int32_t> zb(per_col ? N : 1);
  for (auto& z : zb) z = blo + (extreme ? (coin(rng) & 1) * 255 : byte(rng));
  PackedB B(k, b.data(), bt, K, N, N, zb.data(), static_cast<int>(zb.size()));

  OutputSpec spec;
  spec.out_type = ot;
  spec.rounding = rnd;
  if (coin(rng) & 1) {
    spec.bias.resize(N);
    for (auto& x : spec.bias) x = static_cast<int32_t>(rng()) >> 12;
  }
  const int nparam = per_col ? N : 1;
  if (ot != DType::S32) {
    std::uniform_real_distribution<double> lg(-16.0, -4.0);
    for (int j = 0; j < nparam; ++j) {
      const double real = std::exp2(lg(rng));
      if (rnd == Rounding::HalfEven) {
        spec.scale.push_back(static_cast<float>(real));
      } else {
        int32_t q;
        int s;
        quantize_multiplier(real, &q, &s, rnd == Rounding::Single);
        spec.multiplier.push_back(q);
        spec.shift.push_back(s);
      }
    }
    spec.qmin = ot == DType::U8 ? 3 : -120;
    spec.qmax = ot == DType::U8 ? 250 : 127;
    spec.zero_point = ot == DType::U8 ? 200 : -7;
  }
  const size_t esz = ot == DType::S32 ? 4 : 1;
  const int ldc = N + 3;
  const uint8_t kGuard = 0xA5;
  std::vector<uint8_t> c1((M + 1) * ldc * esz, kGuard), c0 = c1;
  GemmArgs args;
  args.M = M;
  args.a = a.get();
  args.a_type = at;
  args.lda = K;
  args.za = za;
  args.ldc = ldc;
  args.c = c1.data();
  gemm(args, B, spec, 1);
  {
    GemvOff off;
    args.c = c0.data();
    gemm(args, B, spec, 1);
  }
  for (int i = 0; i < M && fails < 5; ++i) {
    for (int j = 0; j < N; ++j) {
      int64_t s = 0;
      for (int kk = 0; kk < K; ++kk)
        s += (val(&a[static_cast<size_t>(i) * K + kk], at) - za) * (val(&b[static_cast<size_t>(kk) * N + j], bt) - zb[per_col ? j : 0]);
      if (!spec.bias.empty()) s += spec.bias[j];
      const int32_t acc = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(s)));
      int32_t want = acc, got, tile;
      const size_t idx = static_cast<size_t>(i) * ldc + j;
      if (ot == DType::S32) {
        got = reinterpret_cast<const int32_t*>(c1.data())[idx];
        tile = reinterpret_cast<const int32_t*>(c0.data())[idx];
      } else {
        const int p = per_col ? j : 0;
        want = rnd == Rounding::HalfEven
                   ? requant::requant_half_even(acc, spec.scale[p], spec.zero_point, spec.qmin, spec.qmax)
                   : requant::requantize_one(acc, rnd, spec.multiplier[p], spec.shift[p], 0.f, spec.zero_point, spec.qmin,
                                             spec.qmax);
        got = ot == DType::U8 ? c1[idx] : static_cast<int8_t>(c1[idx]);
        tile = ot == DType::U8 ? c0[idx] : static_cast<int8_t>(c0[idx]);
      }
      if (got != want || tile != want) {
        EXPECT_TRUE(false, std::string(k.name) + " M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" +
                               std::to_string(K) + " at (" + std::to_string(i) + "," + std::to_string(j) + "): gemv " +
                               std::to_string(got) + " tile " + std::to_string(tile) + " want " + std::to_string(want));
        ++fails;
        break;
      }
    }
  }
  // Padding columns and the guard row are untouched.
  for (int i = 0; i <= M; ++i)
    for (int j = i < M ? N : 0; j < ldc; ++j)
      for (size_t e = 0; e < esz; ++e)
        if (c1[(static_cast<size_t>(i) * ldc + j) * esz + e] != kGuard) {
          EXPECT_TRUE(false, std::string(k.name) + ": GEMV wrote outside C");
          return;
        }
}

}  // namespace

LOWP_TEST(gemv_every_kernel_vs_reference_and_tiles) {
  std::mt19937 rng(1234);
  const DType ty[2] = {DType::U8, DType::S8};
  const DType outs[3] = {DType::S32, DType::U8, DType::S8};
  const Rounding rs[3] = {Rounding::Gemmlowp, Rounding::Single, Rounding::HalfEven};
  const int Ks[] = {1, 2, 3, 4, 5, 7, 15, 16, 17, 63, 64, 65, 131, 1027};
  const int Ns[] = {1, 7, 15, 16, 17, 31, 32, 33, 48, 65, 100};
  for (const GemmKernel* k : available_kernels()) {
    int fails = 0, rot = 0;
    for (int M = 1; M <= kGemvMaxM + 1; ++M)
      for (int K : Ks)
        for (int N : Ns) {
          if ((K * 7 + N * 3 + M) % 3 != 0 && K != 1027) continue;  // a third of the grid, all K tails
          ++rot;
          check(*k, rng, M, N, K, ty[rot % 2], ty[(rot / 2) % 2], (rot / 9) % 2 == 0, outs[rot % 3], rs[(rot / 3) % 3], fails);
        }
    EXPECT_TRUE(gemv_kernel_for(*k) != nullptr || std::string(k->name) != "ref", "ref has a GEMV twin");
  }
}
