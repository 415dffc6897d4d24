// Exhaustive tile sweep for every kernel this CPU runs (written for the ARM kernels, run on
// every architecture): every partial tile m in 1..mr, n in 1..nr, many depths K, uint8/int8 A
// and B, per-tensor and per-column B zero points, extreme values, int32 output and all three
// requantization families with uint8/int8 output and clamps. Expected values come from an
// int64 reference in this file (wrapped to int32) followed by the scalar requantizers of
// requant/requant.h. Every output buffer has padding columns and a guard row that must stay
// untouched.
//
// kernels_detected prints the kernel set and, given --expect-kernels=a,b,c (or the env var
// LOWP_EXPECT_KERNELS), asserts that exactly that set is available on this CPU.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gemm/kernel.h"
#include "lowp/gemm.h"
#include "requant/requant.h"
#include "tests/test_framework.h"

using namespace lowp;

namespace {

int32_t lo_of(DType t) { return t == DType::U8 ? 0 : -128; }
int32_t hi_of(DType t) { return t == DType::U8 ? 255 : 127; }

// Data modes.
enum Mode { kRandom = 0, kMaxMin = 1, kMinMin = 2, kExtremeMix = 3, kNumModes = 4 };

struct Prob {
  int M, N, K;
  DType at, bt;
  int32_t za;
  std::vector<int32_t> zb;  // 1 or N
  std::vector<uint8_t> a, b;
};

int32_t elem(const std::vector<uint8_t>& v, size_t i, DType t) {
  return t == DType::U8 ? static_cast<int32_t>(v[i]) : static_cast<int32_t>(static_cast<int8_t>(v[i]));
}

Prob make_prob(std::mt19937& rng, int M, int N, int K, DType at, DType bt, bool per_col, int mode) {
  Prob p{M, N, K, at, bt, 0, {}, {}, {}};
  std::uniform_int_distribution<int> da(lo_of(at), hi_of(at)), db(lo_of(bt), hi_of(bt)), coin(0, 1);
  p.a.resize(static_cast<size_t>(M) * K);
  p.b.resize(static_cast<size_t>(K) * N);
  p.zb.resize(per_col ? N : 1);
  switch (mode) {
    case kRandom:
      for (auto& x : p.a) x = static_cast<uint8_t>(da(rng));
      for (auto& x : p.b) x = static_cast<uint8_t>(db(rng));
      p.za = da(rng);
      for (auto& z : p.zb) z = db(rng);
      break;
    case kMaxMin:  // every term (max - min) * (min - max): largest negative products
      for (auto& x : p.a) x = static_cast<uint8_t>(hi_of(at));
      for (auto& x : p.b) x = static_cast<uint8_t>(lo_of(bt));
      p.za = lo_of(at);
      for (auto& z : p.zb) z = hi_of(bt);
      break;
    case kMinMin:  // every term (min - max) * (min - max): largest positive products
      for (auto& x : p.a) x = static_cast<uint8_t>(lo_of(at));
      for (auto& x : p.b) x = static_cast<uint8_t>(lo_of(bt));
      p.za = hi_of(at);
      for (auto& z : p.zb) z = hi_of(bt);
      break;
    default:  // only the extreme values, random mix (all 0/255 or -128/127)
      for (auto& x : p.a) x = static_cast<uint8_t>(coin(rng) ? hi_of(at) : lo_of(at));
      for (auto& x : p.b) x = static_cast<uint8_t>(coin(rng) ? hi_of(bt) : lo_of(bt));
      p.za = coin(rng) ? hi_of(at) : lo_of(at);
      for (auto& z : p.zb) z = coin(rng) ? hi_of(bt) : lo_of(bt);
      break;
  }
  return p;
}

// sum_k (a - za)(b - zb[j]) in int64, wrapped to int32.
std::vector<int32_t> reference(const Prob& p) {
  std::vector<int32_t> y(static_cast<size_t>(p.M) * p.N);
  std::vector<int64_t> row(p.N);
  for (int i = 0; i < p.M; ++i) {
    std::fill(row.begin(), row.end(), 0);
    for (int k = 0; k < p.K; ++k) {
      const int64_t av = elem(p.a, static_cast<size_t>(i) * p.K + k, p.at) - p.za;
      const size_t bo = static_cast<size_t>(k) * p.N;
      for (int j = 0; j < p.N; ++j) row[j] += av * (elem(p.b, bo + j, p.bt) - p.zb[p.zb.size() == 1 ? 0 : j]);
    }
    for (int j = 0; j < p.N; ++j)
      y[static_cast<size_t>(i) * p.N + j] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(row[j])));
  }
  return y;
}

// Random requantization spec for accumulators of magnitude up to about 2^acc_bits.
OutputSpec make_spec(std::mt19937& rng, Rounding r, DType ot, int N, bool per_col, int acc_bits) {
  OutputSpec o;
  o.out_type = ot;
  o.rounding = r;
  std::uniform_int_distribution<int> pct(0, 99);
  const int cnt = per_col ? N : 1;
  // Bias: mostly moderate, sometimes near the int32 limits (the sum wraps).
  if (pct(rng) < 80) {
    o.bias.resize(N);
    std::uniform_int_distribution<int32_t> small(-(1 << 16), 1 << 16), any(INT32_MIN, INT32_MAX);
    const bool huge = pct(rng) < 15;
    for (auto& x : o.bias) x = huge ? any(rng) : small(rng);
  }
  // Exponent chosen so outputs spread over the 8-bit range, with occasional extremes.
  std::uniform_int_distribution<int> jitter(-4, 3);
  std::uniform_real_distribution<double> frac(0.5, 1.0);
  for (int c = 0; c < cnt; ++c) {
    int e = -(acc_bits - 7) + jitter(rng);
    const int x = pct(rng);
    if (x < 4) e = -31;
    else if (x < 7) e = 30;
    else if (x < 12) e = 1;
    e = std::max(-31, std::min(30, e));
    if (r == Rounding::HalfEven) {
      // Powers of two make exact .5 ties frequent.
      const double s = pct(rng) < 40 ? std::ldexp(1.0, e - 1) : std::ldexp(frac(rng), e);
      o.scale.push_back(static_cast<float>(s));
    } else {
      const int y = pct(rng);
      int32_t m = y < 10 ? INT32_MAX : y < 20 ? (1 << 30) : static_cast<int32_t>(std::ldexp(frac(rng), 31));
      if (m < (1 << 30)) m = 1 << 30;
      o.multiplier.push_back(m);
      o.shift.push_back(e);
    }
  }
  std::uniform_int_distribution<int> dz(lo_of(ot), hi_of(ot));
  o.zero_point = dz(rng);
  if (pct(rng) < 50) {
    o.qmin = lo_of(ot);
    o.qmax = hi_of(ot);
  } else {
    int a = dz(rng), b = dz(rng);
    o.qmin = std::min(a, b);
    o.qmax = std::max(a, b);
  }
  return o;
}

int32_t expected_out(const OutputSpec& o, int32_t acc, int j) {
  const uint32_t bias = o.bias.empty() ? 0u : static_cast<uint32_t>(o.bias[j]);
  const int32_t x = static_cast<int32_t>(static_cast<uint32_t>(acc) + bias);
  if (o.out_type == DType::S32) return x;
  if (o.rounding == Rounding::HalfEven)
    return requant::requant_half_even(x, o.scale[o.scale.size() == 1 ? 0 : j], o.zero_point, o.qmin, o.qmax);
  const size_t s = o.multiplier.size() == 1 ? 0 : j;
  return requant::requantize_one(x, o.rounding, o.multiplier[s], o.shift[s], 0.f, o.zero_point, o.qmin, o.qmax);
}

struct Stats {
  long runs = 0, values = 0;
};

// Runs one GEMM and checks every output value plus the untouched padding and guard row.
// Every other run reads A with a row stride lda = K + 7 whose padding holds garbage; the A
// buffer ends exactly at the last element, so over-reads past it are caught by ASan.
// Returns false (after recording a failure) on any mismatch.
bool run_check(const GemmKernel& k, const PackedB& B, const Prob& p, const std::vector<int32_t>& ref,
               const OutputSpec& o, const std::string& what, Stats& st) {
  const size_t esz = o.out_type == DType::S32 ? 4 : 1;
  const int pad = 3;
  const ptrdiff_t ldc = p.N + pad;
  std::vector<uint8_t> buf(static_cast<size_t>(p.M + 1) * ldc * esz, 0xA5);
  const ptrdiff_t lda = p.K + (st.runs % 2 ? 7 : 0);
  std::vector<uint8_t> abuf(static_cast<size_t>(p.M - 1) * lda + p.K, 0x5C);
  for (int i = 0; i < p.M; ++i) std::memcpy(&abuf[i * lda], &p.a[static_cast<size_t>(i) * p.K], p.K);
  GemmArgs args;
  args.M = p.M;
  args.a = abuf.data();
  args.a_type = p.at;
  args.lda = lda;
  args.za = p.za;
  args.c = buf.data();
  args.ldc = ldc;
  gemm(args, B, o, 1);
  ++st.runs;
  size_t bad = 0, guard = 0;
  std::string first;
  for (int i = 0; i <= p.M; ++i)
    for (int j = 0; j < ldc; ++j) {
      const size_t off = (static_cast<size_t>(i) * ldc + j) * esz;
      if (i < p.M && j < p.N) {
        int32_t got;
        if (esz == 4) std::memcpy(&got, &buf[off], 4);
        else got = o.out_type == DType::U8 ? buf[off] : static_cast<int8_t>(buf[off]);
        const int32_t want = expected_out(o, ref[static_cast<size_t>(i) * p.N + j], j);
        ++st.values;
        if (got != want) {
          if (bad == 0)
            first = " first at (" + std::to_string(i) + "," + std::to_string(j) + "): got " + std::to_string(got) +
                    " want " + std::to_string(want);
          ++bad;
        }
      } else {
        for (size_t e = 0; e < esz; ++e) guard += buf[off + e] != 0xA5;
      }
    }
  if (bad || guard) {
    std::ostringstream msg;
    msg << k.name << " " << what << " M=" << p.M << " N=" << p.N << " K=" << p.K << " A=" << dtype_name(p.at)
        << " B=" << dtype_name(p.bt) << " zb=" << (p.zb.size() == 1 ? "tensor" : "column") << " out=" << dtype_name(o.out_type)
        << " rounding=" << int(o.rounding) << " mismatches=" << bad << " guard_writes=" << guard << first;
    EXPECT_TRUE(false, msg.str());
    return false;
  }
  return true;
}

const Rounding kRound[3] = {Rounding::Gemmlowp, Rounding::Single, Rounding::HalfEven};

int acc_bits_for(int K) {
  int b = 16;  // one product |(a-za)(b-zb)| < 2^16
  while ((1 << (b - 16)) < K && b < 40) ++b;
  return b;
}

// One problem on one kernel: int32 output, then `nreq` requantized outputs chosen by rotation.
void check_problem(const GemmKernel& k, std::mt19937& rng, const Prob& p, int& rot, int nreq, Stats& st, int& fails) {
  if (fails > 3) return;  // keep the log short once a kernel is known broken
  const std::vector<int32_t> ref = reference(p);
  PackedB B(k, p.b.data(), p.bt, p.K, p.N, p.N, p.zb.data(), static_cast<int>(p.zb.size()));
  OutputSpec s32;
  if (rot % 2) {
    s32.bias.resize(p.N);
    for (int j = 0; j < p.N; ++j) s32.bias[j] = static_cast<int32_t>(rng());
  }
  if (!run_check(k, B, p, ref, s32, "int32", st)) ++fails;
  for (int q = 0; q < nreq; ++q, ++rot) {
    const Rounding r = kRound[rot % 3];
    const DType ot = (rot / 3) % 2 ? DType::S8 : DType::U8;
    const bool per_col = (rot / 6) % 2 == 0;
    const OutputSpec o = make_spec(rng, r, ot, p.N, per_col, acc_bits_for(p.K));
    if (!run_check(k, B, p, ref, o, "requant", st)) ++fails;
  }
}

const DType kTypes[2] = {DType::U8, DType::S8};

}  // namespace

LOWP_TEST(kernels_detected) {
  std::string avail, compiled;
  std::set<std::string> have;
  for (const GemmKernel* k : available_kernels()) {
    avail += (avail.empty() ? "" : ",") + std::string(k->name);
    have.insert(k->name);
  }
  for (const GemmKernel* k : compiled_kernels()) compiled += (compiled.empty() ? "" : ",") + std::string(k->name);
  std::printf("kernels: %s (compiled: %s)\n", avail.c_str(), compiled.c_str());
  const char* expect = lowp_test::option("expect-kernels");
  if (!expect) expect = std::getenv("LOWP_EXPECT_KERNELS");
  if (expect && expect[0]) {
    std::set<std::string> want;
    std::stringstream ss(expect);
    for (std::string item; std::getline(ss, item, ',');)
      if (!item.empty()) want.insert(item);
    EXPECT_TRUE(want == have, std::string("expected kernels ") + expect + ", available " + avail);
  }
  EXPECT_TRUE(!have.empty() && available_kernels().back()->name == std::string("ref"), "ref must be available and last");
}

// Tile edges to sweep for a kernel dimension of r rows/columns. Fine (the small-K sweep): all of
// 1..r for r <= 32; for the tall AMX panels (r = 128) 1..17, both sides of every 16-row tile
// boundary, and r - 1, r. Coarse (the deep-K sweeps, whose cost is m * n * K per problem): all
// of 1..r for r <= 8, else 1..3, both sides of the first two 16-row boundaries, r/2 and r - 1, r.
static std::vector<int> edge_sizes(int r, bool coarse = false) {
  std::vector<int> v;
  for (int i = 1; i <= r; ++i) {
    const bool fine = r <= 32 || i <= 17 || i % 16 <= 1 || i % 16 == 15 || i >= r - 1;
    const bool rough = r <= 8 || i <= 3 || (i >= 15 && i <= 17) || (i >= 31 && i <= 33) || i == r / 2 ||
                       i == r / 2 + 1 || i >= r - 1;
    if (coarse ? rough : fine) v.push_back(i);
  }
  return v;
}

// Every partial tile at small depths (K=1..9, 15, 16, 17), every data mode, all A/B types.
LOWP_TEST(gemm_sweep_tiles_small_k) {
  std::mt19937 rng(11);
  for (const GemmKernel* k : available_kernels()) {
    Stats st;
    int rot = 0, fails = 0, idx = 0;
    for (int m : edge_sizes(k->mr))
      for (int n = 1; n <= k->nr; ++n)
        for (int K : {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17})
          for (DType at : kTypes)
            for (DType bt : kTypes)
              for (bool pc : {false, true}) {
                const int mode = (idx++ / 3) % kNumModes;
                check_problem(*k, rng, make_prob(rng, m, n, K, at, bt, pc, mode), rot, 1, st, fails);
              }
    std::printf("  %s: %ld gemm runs, %ld values checked\n", k->name, st.runs, st.values);
  }
}

// Partial tiles (edge_sizes coarse rows) at K=255 and 1000, all A/B types, zb per tensor and per column, random and extreme data.
LOWP_TEST(gemm_sweep_tiles_medium_k) {
  std::mt19937 rng(12);
  for (const GemmKernel* k : available_kernels()) {
    Stats st;
    int rot = 0, fails = 0, idx = 0;
    for (int K : {255, 1000})
      for (int m : edge_sizes(k->mr, true))
        for (int n = 1; n <= k->nr; ++n)
          for (DType at : kTypes)
            for (DType bt : kTypes) {
              const int i = idx++;
              check_problem(*k, rng, make_prob(rng, m, n, K, at, bt, i % 2 == 0, (i / 2) % kNumModes), rot, 1, st, fails);
            }
    std::printf("  %s: %ld gemm runs, %ld values checked\n", k->name, st.runs, st.values);
  }
}

// Deep K: partial tiles (edge_sizes coarse rows) at K=4099 (A/B types rotating), a few tiles at K=65536 with
// extreme data whose sums wrap int32; all three families on each.
LOWP_TEST(gemm_sweep_large_k) {
  std::mt19937 rng(13);
  for (const GemmKernel* k : available_kernels()) {
    Stats st;
    int rot = 0, fails = 0, idx = 0;
    for (int m : edge_sizes(k->mr, true))
      for (int n = 1; n <= k->nr; ++n) {
        const int i = idx++;
        check_problem(*k, rng, make_prob(rng, m, n, 4099, kTypes[i % 2], kTypes[(i / 2) % 2], (i / 4) % 2 == 0, i % kNumModes),
                      rot, 3, st, fails);
      }
    const std::pair<int, int> deep[] = {{k->mr, k->nr}, {1, 1}, {k->mr > 1 ? k->mr - 1 : 1, 3}};
    for (auto [m, n] : deep)
      for (DType at : kTypes)
        for (DType bt : kTypes) {
          const int i = idx++;
          check_problem(*k, rng, make_prob(rng, m, n, 65536, at, bt, i % 2 == 1, 1 + i % 3), rot, 3, st, fails);
        }
    std::printf("  %s: %ld gemm runs, %ld values checked\n", k->name, st.runs, st.values);
  }
}

// Several tiles in both directions, ending in partial tiles, through the same checks.
LOWP_TEST(gemm_sweep_multi_tile) {
  std::mt19937 rng(14);
  for (const GemmKernel* k : available_kernels()) {
    Stats st;
    int rot = 0, fails = 0, idx = 0;
    for (int dm : {0, 1, k->mr - 1})
      for (int dn : {0, 1, k->nr - 1})
        for (int K : {7, 64})
          for (DType at : kTypes)
            for (DType bt : kTypes) {
              const int i = idx++;
              check_problem(*k, rng, make_prob(rng, 2 * k->mr + dm, 3 * k->nr + dn, K, at, bt, i % 2 == 0, i % kNumModes),
                            rot, 2, st, fails);
            }
    std::printf("  %s: %ld gemm runs, %ld values checked\n", k->name, st.runs, st.values);
  }
}

// Edge cases of the vector requantizers, fed through a K=1 GEMM so that the accumulator is an
// exact chosen value: a = x, za = 0, b = 1, zb = 0 -> acc = x; bias moves it anywhere in int32.
LOWP_TEST(gemm_requant_edge_values) {
  std::vector<int32_t> accs;
  for (int64_t v : {int64_t{INT32_MIN}, int64_t{INT32_MIN} + 1, int64_t{INT32_MAX}, int64_t{INT32_MAX} - 1, int64_t{0},
                    int64_t{1}, int64_t{-1}, int64_t{2}, int64_t{-2}, int64_t{3}, int64_t{-3}, int64_t{-5}, int64_t{5},
                    int64_t{1} << 20, -(int64_t{1} << 20), (int64_t{1} << 30) + 1, -(int64_t{1} << 30) - 1})
    accs.push_back(static_cast<int32_t>(v));
  for (int e = 1; e < 31; ++e) {  // exact halves at every shift, both signs
    accs.push_back((1 << e) + (1 << (e - 1)));
    accs.push_back(-((1 << e) + (1 << (e - 1))));
    accs.push_back(1 << (e - 1));
    accs.push_back(-(1 << (e - 1)));
  }
  const int N = static_cast<int>(accs.size());
  const std::vector<uint8_t> a(1, 1);
  const std::vector<uint8_t> bmat(N, 1);
  const int32_t zb0 = 0;
  std::vector<int32_t> ref(N, 1);  // acc before bias
  Prob p{1, N, 1, DType::U8, DType::U8, 0, {0}, a, bmat};
  std::vector<int32_t> bias(N);
  for (int j = 0; j < N; ++j) bias[j] = static_cast<int32_t>(static_cast<uint32_t>(accs[j]) - 1u);
  struct MS {
    int32_t m;
    int s;
  };
  std::vector<MS> ms;
  for (int s = -31; s <= 30; ++s)
    for (int32_t m : {INT32_MAX, 1 << 30, 1518500250}) ms.push_back({m, s});
  ms.push_back({0, 0});
  for (const GemmKernel* k : available_kernels()) {
    Stats st;
    PackedB B(*k, bmat.data(), DType::U8, 1, N, N, &zb0, 1);
    for (DType ot : kTypes)
      for (Rounding r : kRound) {
        if (r == Rounding::HalfEven) {
          for (float s : {0.5f, 0.25f, 1.0f, 3.0f, 1e-9f, 0.0f, 2.0f / 3.0f}) {
            OutputSpec o;
            o.out_type = ot;
            o.rounding = r;
            o.bias = bias;
            o.scale = {s};
            o.zero_point = ot == DType::U8 ? 128 : 0;
            o.qmin = lo_of(ot);
            o.qmax = hi_of(ot);
            run_check(*k, B, p, ref, o, "edge", st);
          }
        } else {
          for (const MS& x : ms) {
            OutputSpec o;
            o.out_type = ot;
            o.rounding = r;
            o.bias = bias;
            o.multiplier = {x.m};
            o.shift = {x.s};
            o.zero_point = ot == DType::U8 ? 128 : 0;
            o.qmin = lo_of(ot);
            o.qmax = hi_of(ot);
            run_check(*k, B, p, ref, o, "edge", st);
          }
        }
      }
  }
}
