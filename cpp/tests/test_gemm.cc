// GEMM: every kernel this CPU can run, against a naive int64 reference (wrapped to int32).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>
#include <random>
#include <vector>

#include "gemm/kernel.h"
#include "lowp/gemm.h"
#include "requant/requant.h"
#include "tests/test_framework.h"

using namespace lowp;

namespace {

struct Problem {
  int M, N, K;
  DType at, bt;
  int za;
  std::vector<int32_t> zb;
  std::vector<uint8_t> a, b;  // raw bytes
};

int32_t val(const std::vector<uint8_t>& v, size_t i, DType t) {
  return t == DType::U8 ? static_cast<int32_t>(v[i]) : static_cast<int32_t>(static_cast<int8_t>(v[i]));
}

Problem make(std::mt19937& rng, int M, int N, int K, DType at, DType bt, bool per_col, int mode) {
  Problem p{M, N, K, at, bt, 0, {}, {}, {}};
  auto lo = [](DType t) { return t == DType::U8 ? 0 : -128; };
  auto hi = [](DType t) { return t == DType::U8 ? 255 : 127; };
  std::uniform_int_distribution<int> da(lo(at), hi(at)), db(lo(bt), hi(bt));
  p.a.resize(static_cast<size_t>(M) * K);
  p.b.resize(static_cast<size_t>(K) * N);
  for (auto& x : p.a) x = static_cast<uint8_t>(mode == 1 ? hi(at) : mode == 2 ? lo(at) : da(rng));
  for (auto& x : p.b) x = static_cast<uint8_t>(mode == 1 ? lo(bt) : mode == 2 ? lo(bt) : db(rng));
  p.za = mode == 0 ? da(rng) : (mode == 1 ? lo(at) : hi(at));
  p.zb.resize(per_col ? N : 1);
  for (auto& z : p.zb) z = mode == 0 ? db(rng) : (mode == 1 ? hi(bt) : hi(bt));
  return p;
}

std::vector<int32_t> reference(const Problem& p) {
  std::vector<int32_t> y(static_cast<size_t>(p.M) * p.N);
  for (int i = 0; i < p.M; ++i)
    for (int j = 0; j < p.N; ++j) {
      int64_t s = 0;
      const int32_t zb = p.zb[p.zb.size() == 1 ? 0 : j];
      for (int k = 0; k < p.K; ++k)
        s += int64_t{val(p.a, static_cast<size_t>(i) * p.K + k, p.at) - p.za} *
             (val(p.b, static_cast<size_t>(k) * p.N + j, p.bt) - zb);
      y[static_cast<size_t>(i) * p.N + j] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(s)));
    }
  return y;
}

void check_all_kernels(const Problem& p, const char* what) {
  const std::vector<int32_t> ref = reference(p);
  for (const GemmKernel* k : available_kernels()) {
    PackedB B(*k, p.b.data(), p.bt, p.K, p.N, p.N, p.zb.data(), static_cast<int>(p.zb.size()));
    for (int threads : {1, 2}) {
      std::vector<int32_t> y(ref.size(), 0x5a5a5a5a);
      GemmArgs args;
      args.M = p.M;
      args.a = p.a.data();
      args.a_type = p.at;
      args.lda = p.K;
      args.za = p.za;
      args.c = y.data();
      args.ldc = p.N;
      OutputSpec out;
      gemm(args, B, out, threads);
      size_t bad = 0;
      for (size_t i = 0; i < y.size(); ++i) bad += y[i] != ref[i];
      EXPECT_TRUE(bad == 0, std::string(k->name) + " " + what + " M=" + std::to_string(p.M) + " N=" + std::to_string(p.N) +
                                " K=" + std::to_string(p.K) + " mismatches=" + std::to_string(bad));
    }
  }
}

}  // namespace

LOWP_TEST(gemm_int32_random_shapes) {
  std::mt19937 rng(1);
  const int shapes[][3] = {{1, 1, 1}, {1, 17, 3}, {5, 1, 9}, {7, 33, 31}, {16, 64, 64}, {13, 45, 100}, {33, 7, 257}, {64, 96, 1}};
  for (auto& s : shapes)
    for (DType at : {DType::U8, DType::S8})
      for (DType bt : {DType::U8, DType::S8})
        for (bool pc : {false, true}) check_all_kernels(make(rng, s[0], s[1], s[2], at, bt, pc, 0), "random");
}

LOWP_TEST(gemm_int32_extremes) {
  std::mt19937 rng(2);
  for (int mode : {1, 2})
    for (DType at : {DType::U8, DType::S8})
      for (DType bt : {DType::U8, DType::S8}) check_all_kernels(make(rng, 9, 19, 4099, at, bt, mode == 1, mode), "extreme");
}

LOWP_TEST(gemm_requant_matches_scalar) {
  // The fused epilogue of every kernel equals int32 GEMM followed by the scalar requantizer.
  std::mt19937 rng(3);
  const Problem p = make(rng, 11, 29, 77, DType::U8, DType::S8, true, 0);
  const std::vector<int32_t> acc = reference(p);
  std::vector<int32_t> bias(p.N), mult(p.N), shift(p.N);
  std::vector<float> scale(p.N);
  std::uniform_int_distribution<int> db(-100000, 100000);
  for (int j = 0; j < p.N; ++j) {
    bias[j] = db(rng);
    const double real = std::ldexp(0.5 + (j % 7) / 14.0, -8 - (j % 5));
    requant::quantize_multiplier(real, &mult[j], &shift[j], false);
    scale[j] = static_cast<float>(real);
  }
  for (const GemmKernel* k : available_kernels()) {
    PackedB B(*k, p.b.data(), p.bt, p.K, p.N, p.N, p.zb.data(), static_cast<int>(p.zb.size()));
    for (Rounding r : {Rounding::Gemmlowp, Rounding::Single, Rounding::HalfEven})
      for (DType ot : {DType::U8, DType::S8}) {
        OutputSpec out;
        out.out_type = ot;
        out.rounding = r;
        out.bias = bias;
        out.multiplier = mult;
        out.shift = shift;
        out.scale = scale;
        out.zero_point = ot == DType::U8 ? 3 : -5;
        out.qmin = ot == DType::U8 ? 0 : -128;
        out.qmax = ot == DType::U8 ? 250 : 100;
        std::vector<uint8_t> y(acc.size());
        GemmArgs args;
        args.M = p.M;
        args.a = p.a.data();
        args.a_type = p.at;
        args.lda = p.K;
        args.za = p.za;
        args.c = y.data();
        args.ldc = p.N;
        gemm(args, B, out, 1);
        size_t bad = 0;
        for (int i = 0; i < p.M; ++i)
          for (int j = 0; j < p.N; ++j) {
            const int32_t x = static_cast<int32_t>(static_cast<uint32_t>(acc[i * p.N + j]) + static_cast<uint32_t>(bias[j]));
            const int32_t q = requant::requantize_one(x, r, mult[j], shift[j], scale[j], out.zero_point, out.qmin, out.qmax);
            const int32_t got = ot == DType::U8 ? y[i * p.N + j] : static_cast<int8_t>(y[i * p.N + j]);
            bad += got != q;
          }
        EXPECT_TRUE(bad == 0, std::string(k->name) + " rounding=" + std::to_string(int(r)) + " mismatches=" + std::to_string(bad));
      }
  }
}

LOWP_TEST(requant_srdhm_rdbpot_edges) {
  EXPECT_TRUE(requant::srdhm(INT32_MIN, INT32_MIN) == INT32_MAX, "saturation");
  EXPECT_TRUE(requant::rdbpot(5, 1) == 3 && requant::rdbpot(-5, 1) == -3, "ties away from zero");
  EXPECT_TRUE(requant::mul_single(3, 1 << 30, -1) == 1, "single: 0.75 rounds to 1");
  EXPECT_TRUE(requant::mul_single(-3, 1 << 30, -1) == -1, "single: -0.75 rounds to -1");
  EXPECT_TRUE(requant::mul_single(-1, 1 << 30, 0) == 0, "single: -0.5 rounds upward to 0");
  // SRDHM's nudge makes an exact -0.5 round to 0 (ties upward in its first rounding) ...
  EXPECT_TRUE(requant::mul_gemmlowp(-1, 1 << 30, 0) == 0, "gemmlowp SRDHM: -0.5 -> 0");
  // ... while RoundingDivideByPOT rounds ties away from zero: -3 * 0.5 / 2 = -0.75 -> -1.5 -> -1 -> -1.
  EXPECT_TRUE(requant::mul_gemmlowp(-3, 1 << 30, -1) == -1, "gemmlowp: -0.75 -> -1");
  EXPECT_TRUE(requant::rdbpot(-6, 2) == -2, "rdbpot: -1.5 -> -2");
  EXPECT_TRUE(requant::requant_half_even(5, 0.5f, 0, -128, 127) == 2, "half even 2.5 -> 2");
  EXPECT_TRUE(requant::requant_half_even(7, 0.5f, 0, -128, 127) == 4, "half even 3.5 -> 4");
}

LOWP_TEST(gemm_rejects_bad_arguments) {
  const std::vector<uint8_t> b(12, 1);
  const int32_t zb = 0;
  bool threw = false;
  try {
    PackedB B(*available_kernels().back(), b.data(), DType::S32, 3, 4, 4, &zb, 1);
  } catch (const Error&) {
    threw = true;
  }
  EXPECT_TRUE(threw, "int32 B must be rejected");
  threw = false;
  const int32_t bad_zb = 300;
  try {
    PackedB B(*available_kernels().back(), b.data(), DType::U8, 3, 4, 4, &bad_zb, 1);
  } catch (const Error&) {
    threw = true;
  }
  EXPECT_TRUE(threw, "zero point out of range must be rejected");
}

LOWP_TEST(gemm_threads_identical_on_large_shapes) {
  // Big enough (> 2M MACs) that the driver really splits the work; every thread count must give
  // the reference bits, for int32 and requantized outputs.
  std::mt19937 rng(11);
  const Problem p = make(rng, 301, 203, 197, DType::S8, DType::U8, true, 0);
  const std::vector<int32_t> ref = reference(p);
  for (const GemmKernel* k : available_kernels()) {
    if (std::string(k->name) == "ref") continue;  // slow and single-path; covered elsewhere
    PackedB B(*k, p.b.data(), p.bt, p.K, p.N, p.N, p.zb.data(), static_cast<int>(p.zb.size()));
    for (int threads : {1, 2, 3}) {
      for (int rep = 0; rep < 3; ++rep) {
        std::vector<int32_t> y(ref.size(), 0);
        GemmArgs args;
        args.M = p.M;
        args.a = p.a.data();
        args.a_type = p.at;
        args.lda = p.K;
        args.za = p.za;
        args.c = y.data();
        args.ldc = p.N;
        gemm(args, B, OutputSpec{}, threads);
        size_t bad = 0;
        for (size_t i = 0; i < y.size(); ++i) bad += y[i] != ref[i];
        EXPECT_TRUE(bad == 0, std::string(k->name) + " threads=" + std::to_string(threads) + " mismatches=" + std::to_string(bad));
      }
    }
  }
}

LOWP_TEST(packed_b_from_transposed_source_is_the_same) {
  // PackedB from B^T (N rows of K, row stride >= K) packs the same panels and column sums as from B, on every
  // kernel, for per-tensor and per-column zero points; a B^T row stride below K is rejected.
  std::mt19937 rng(17);
  for (const GemmKernel* k : available_kernels())
    for (const auto& [K, N] : {std::pair<int, int>{1, 1}, {5, 3}, {33, 17}, {64, 70}, {130, 9}}) {
      const int ldbt = K + 3;
      std::vector<int8_t> b(static_cast<size_t>(K) * N), bt(static_cast<size_t>(N) * ldbt, 0);
      std::vector<int32_t> zb(N);
      for (int i = 0; i < K; ++i)
        for (int j = 0; j < N; ++j) bt[static_cast<size_t>(j) * ldbt + i] = b[static_cast<size_t>(i) * N + j] =
                                        static_cast<int8_t>(rng());
      for (auto& z : zb) z = static_cast<int32_t>(rng() % 256) - 128;
      for (int zc : {1, N}) {
        const PackedB p1(*k, b.data(), DType::S8, K, N, N, zb.data(), zc);
        const PackedB p2(*k, bt.data(), DType::S8, K, N, ldbt, zb.data(), zc, true);
        bool same = p1.packed_bytes() == p2.packed_bytes() &&
                    std::memcmp(p1.panel(0), p2.panel(0), p1.packed_bytes()) == 0;
        for (int j = 0; j < N; ++j)
          same = same && p1.colsum_domain()[j] == p2.colsum_domain()[j] && p1.zb_domain()[j] == p2.zb_domain()[j];
        EXPECT_TRUE(same, std::string("B^T packing, kernel ") + k->name + " K=" + std::to_string(K) + " N=" +
                              std::to_string(N));
      }
    }
  bool threw = false;
  const std::vector<int8_t> b(12, 1);
  const int32_t zb = 0;
  try {
    PackedB B(*available_kernels().back(), b.data(), DType::S8, 4, 3, 3, &zb, 1, true);
  } catch (const Error&) {
    threw = true;
  }
  EXPECT_TRUE(threw, "a B^T row stride below K must be rejected");
}
