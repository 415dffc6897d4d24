// GemmTerms (column terms built once, as a native program's steps do) against gemm() computing
// them per call: every kernel, both activation and weight types, weight zero points per tensor,
// per column and all zero, activation zero points at both ends of the range and in between, bias
// or none, int32 output and each rounding family with per-tensor and per-column parameters, 1 and
// 2 threads. int32 outputs are also checked against a naive int64 reference.
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gemm/kernel.h"
#include "lowp/gemm.h"
#include "requant/requant.h"
#include "tests/test_framework.h"

using namespace lowp;

namespace {

int32_t val(const std::vector<uint8_t>& v, size_t i, DType t) {
  return t == DType::U8 ? static_cast<int32_t>(v[i]) : static_cast<int32_t>(static_cast<int8_t>(v[i]));
}

// Output specs: int32, then {Gemmlowp, Single, HalfEven} x {u8, s8} x {per tensor, per column}.
std::vector<OutputSpec> specs(int N, bool bias, std::mt19937& rng) {
  std::vector<OutputSpec> v;
  std::uniform_int_distribution<int> db(-50000, 50000);
  std::vector<int32_t> b(N);
  for (auto& x : b) x = db(rng);
  OutputSpec s32;
  if (bias) s32.bias = b;
  v.push_back(s32);
  for (Rounding r : {Rounding::Gemmlowp, Rounding::Single, Rounding::HalfEven})
    for (DType ot : {DType::U8, DType::S8})
      for (bool pc : {false, true}) {
        OutputSpec o;
        o.out_type = ot;
        o.rounding = r;
        if (bias) o.bias = b;
        for (int j = 0; j < (pc ? N : 1); ++j) {
          const double real = std::ldexp(0.5 + (j % 7) / 14.0, -9 - (j % 4));
          int32_t m;
          int sh;
          requant::quantize_multiplier(real, &m, &sh, r == Rounding::Single);
          o.multiplier.push_back(m);
          o.shift.push_back(sh);
          o.scale.push_back(static_cast<float>(real));
        }
        o.zero_point = ot == DType::U8 ? 7 : -3;
        o.qmin = ot == DType::U8 ? 2 : -120;
        o.qmax = ot == DType::U8 ? 250 : 126;
        v.push_back(o);
      }
  return v;
}

}  // namespace

LOWP_TEST(gemm_terms_match_per_call_terms) {
  std::mt19937 rng(21);
  // (M, N, K): GEMV rows (terms unused there), one panel, several panels with column tails, the
  // 14x14 K = 64 expansion shape of MobileNetV2 (amx_smallk one panel per thread at 2 threads),
  // few rows and a wide B (amx: columns split per thread), few rows and a narrow B (amx: one
  // panel of 25 / 24 rows per thread).
  const int shapes[][3] = {{3, 20, 33}, {9, 37, 64}, {45, 70, 131}, {196, 48, 64}, {49, 512, 96}, {49, 100, 512}};
  size_t checked = 0;
  int case_no = 0;
  for (const GemmKernel* k : available_kernels())
    for (const auto& sh : shapes)
      for (DType at : {DType::U8, DType::S8})
        for (DType bt : {DType::U8, DType::S8})
          for (int zmode = 0; zmode < 3; ++zmode) {  // zb: per tensor, per column, all zero
            const int M = sh[0], N = sh[1], K = sh[2];
            const bool small = static_cast<int64_t>(M) * N * K <= 100000;
            // The larger (threaded) shapes: not on the scalar kernel (slow under the sanitizers).
            if (!small && std::string(k->name) == "ref") continue;
            const int lo_a = at == DType::U8 ? 0 : -128, hi_a = at == DType::U8 ? 255 : 127;
            const int lo_b = bt == DType::U8 ? 0 : -128, hi_b = bt == DType::U8 ? 255 : 127;
            std::uniform_int_distribution<int> da(lo_a, hi_a), dbv(lo_b, hi_b);
            std::vector<uint8_t> a(static_cast<size_t>(M) * K), b(static_cast<size_t>(K) * N);
            for (auto& x : a) x = static_cast<uint8_t>(da(rng));
            for (auto& x : b) x = static_cast<uint8_t>(dbv(rng));
            std::vector<int32_t> zb(zmode == 1 ? N : 1);
            for (auto& z : zb) z = zmode == 2 ? 0 : dbv(rng);
            const int za_choices[] = {lo_a, hi_a, da(rng)};
            const int za = za_choices[case_no++ % 3];
            PackedB B(*k, b.data(), bt, K, N, N, zb.data(), static_cast<int>(zb.size()));
            // int64 reference of the int32 sums (no bias)
            std::vector<int32_t> ref(static_cast<size_t>(M) * N);
            for (int i = 0; i < M; ++i)
              for (int j = 0; j < N; ++j) {
                int64_t s = 0;
                const int32_t z = zb[zb.size() == 1 ? 0 : j];
                for (int kk = 0; kk < K; ++kk)
                  s += int64_t{val(a, static_cast<size_t>(i) * K + kk, at) - za} * (val(b, static_cast<size_t>(kk) * N + j, bt) - z);
                ref[static_cast<size_t>(i) * N + j] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(s)));
              }
            const bool bias = case_no % 2 == 0;
            const std::vector<OutputSpec> all = specs(N, bias, rng);
            for (size_t si = 0; si < all.size(); ++si) {
              // Larger shapes: int32 and one spec of each rounding family (output type and
              // per-tensor / per-column parameters rotating with the case), all specs otherwise.
              if (!small && si != 0 && (si - 1) % 4 != static_cast<size_t>(case_no % 4)) continue;
              const OutputSpec& out = all[si];
              const GemmTerms terms(B, at, za, out);
              const size_t osz = out.out_type == DType::S32 ? 4 : 1;
              for (int threads : {1, 2}) {
                std::vector<uint8_t> y0(static_cast<size_t>(M) * N * osz, 0x11), y1(y0.size(), 0x22);
                GemmArgs args;
                args.M = M;
                args.a = a.data();
                args.a_type = at;
                args.lda = K;
                args.za = za;
                args.ldc = N;
                args.c = y0.data();
                gemm(args, B, out, threads);
                args.c = y1.data();
                gemm(args, B, out, threads, &terms);
                const std::string what = std::string(k->name) + " M=" + std::to_string(M) + " N=" + std::to_string(N) +
                                         " K=" + std::to_string(K) + " za=" + std::to_string(za) + " zmode=" +
                                         std::to_string(zmode) + " out=" + dtype_name(out.out_type) + " rounding=" +
                                         std::to_string(static_cast<int>(out.rounding)) + " params=" +
                                         std::to_string(out.scale.size()) + " bias=" + std::to_string(bias) +
                                         " threads=" + std::to_string(threads);
                EXPECT_TRUE(y0 == y1, "precomputed terms differ from per-call terms: " + what);
                if (out.out_type == DType::S32) {
                  size_t bad = 0;
                  const int32_t* y = reinterpret_cast<const int32_t*>(y1.data());
                  for (int i = 0; i < M; ++i)
                    for (int j = 0; j < N; ++j) {
                      const uint32_t e = static_cast<uint32_t>(ref[static_cast<size_t>(i) * N + j]) +
                                         static_cast<uint32_t>(bias ? out.bias[j] : 0);
                      bad += y[static_cast<size_t>(i) * N + j] != static_cast<int32_t>(e);
                    }
                  EXPECT_TRUE(bad == 0, "int32 result differs from the int64 reference: " + what);
                }
                ++checked;
              }
            }
          }
  EXPECT_TRUE(checked > 0, "no case ran");
}

// The terms are bound to what they were built for: other weights, activation type, zero point or
// output spec shape make gemm() throw instead of computing with the wrong terms.
LOWP_TEST(gemm_terms_reject_other_arguments) {
  const GemmKernel& k = *available_kernels().front();
  std::vector<uint8_t> b(16 * 8, 3), a(5 * 16, 1), c(5 * 8 * 4);
  int32_t zb = 1;
  PackedB B(k, b.data(), DType::S8, 16, 8, 8, &zb, 1), B2(k, b.data(), DType::S8, 16, 8, 8, &zb, 1);
  OutputSpec out;  // int32
  const GemmTerms terms(B, DType::U8, 9, out);
  auto throws = [&](const PackedB& bb, DType at, int32_t za, const OutputSpec& o) {
    GemmArgs args;
    args.M = 5;
    args.a = a.data();
    args.a_type = at;
    args.lda = 16;
    args.za = za;
    args.c = c.data();
    args.ldc = 8;
    try {
      gemm(args, bb, o, 1, &terms);
    } catch (const Error&) {
      return true;
    }
    return false;
  };
  EXPECT_TRUE(!throws(B, DType::U8, 9, out), "matching arguments must run");
  EXPECT_TRUE(throws(B2, DType::U8, 9, out), "other weights must throw");
  EXPECT_TRUE(throws(B, DType::U8, 8, out), "other zero point must throw");
  EXPECT_TRUE(throws(B, DType::S8, 9, out), "other activation type must throw");
  OutputSpec o2 = out;
  o2.bias.assign(8, 4);
  EXPECT_TRUE(throws(B, DType::U8, 9, o2), "a spec with a bias (terms built without) must throw");
  OutputSpec o3;
  o3.out_type = DType::U8;
  o3.scale = {0.01f};
  o3.qmax = 255;
  EXPECT_TRUE(throws(B, DType::U8, 9, o3), "another output type must throw");
}
