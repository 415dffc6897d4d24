// Native executor (cpp/exec): arena planner, arena pool, Program building / running / errors,
// and the data-movement ops, against references written here.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "exec/ops.h"
#include "exec/program.h"
#include "gemm/kernel.h"
#include "tests/test_framework.h"

using namespace lowp;

namespace {

bool throws(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error&) {
    return true;
  }
  return false;
}

}  // namespace

LOWP_TEST(exec_plan_arena_no_overlap_random) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + static_cast<int>(rng() % 40), ops = 1 + static_cast<int>(rng() % 30);
    std::vector<size_t> sizes(n);
    std::vector<int> first(n), last(n);
    size_t sum = 0;
    for (int i = 0; i < n; ++i) {
      sizes[i] = rng() % 5000;
      first[i] = static_cast<int>(rng() % ops);
      last[i] = first[i] + static_cast<int>(rng() % 5);
      sum += (sizes[i] + 63) / 64 * 64;
    }
    const exec::ArenaPlan p = exec::plan_arena(sizes, first, last);
    EXPECT_TRUE(p.bytes <= sum, "the plan is larger than no reuse");
    for (int i = 0; i < n; ++i) {
      EXPECT_TRUE(p.offsets[i] % 64 == 0, "offset not 64-byte aligned");
      EXPECT_TRUE(p.offsets[i] + sizes[i] <= p.bytes, "tensor outside the arena");
      for (int j = i + 1; j < n; ++j) {
        const bool alive = first[i] <= last[j] && first[j] <= last[i];
        const bool overlap = p.offsets[i] < p.offsets[j] + sizes[j] && p.offsets[j] < p.offsets[i] + sizes[i];
        if (alive && sizes[i] && sizes[j]) EXPECT_TRUE(!overlap, "live tensors overlap");
      }
    }
  }
}

LOWP_TEST(exec_plan_arena_reuses_a_chain) {
  // A chain a -> b -> c -> d: only neighbours are alive together, so two slots suffice.
  const exec::ArenaPlan p = exec::plan_arena({1000, 1000, 1000, 1000}, {0, 1, 2, 3}, {1, 2, 3, 3});
  EXPECT_TRUE(p.bytes == 2 * 1024, "a chain needs exactly two 1024-byte slots, got " + std::to_string(p.bytes));
  EXPECT_TRUE(throws([] { exec::plan_arena({1}, {2}, {1}); }), "a lifetime ending before it starts is rejected");
  EXPECT_TRUE(throws([] { exec::plan_arena({1, 2}, {0}, {0}); }), "mismatched lengths are rejected");
}

LOWP_TEST(exec_arena_pool_reuses_buffers_across_threads) {
  exec::ArenaPool pool(4096, 8);  // keeps as many idle buffers as there are threads below
  uint8_t* a = pool.acquire();
  EXPECT_TRUE(reinterpret_cast<uintptr_t>(a) % 64 == 0, "arena not 64-byte aligned");
  pool.release(a);
  uint8_t* b = pool.acquire();
  EXPECT_TRUE(a == b && pool.allocations() == 1, "an idle buffer is reused");
  pool.release(b);
  std::vector<std::thread> ts;
  std::atomic<int> bad{0};
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&pool, &bad, t] {
      for (int i = 0; i < 200; ++i) {
        uint8_t* p = pool.acquire();
        std::memset(p, t, 4096);
        for (int k = 0; k < 4096; k += 512)
          if (p[k] != static_cast<uint8_t>(t)) bad++;  // nobody else wrote our buffer
        pool.release(p);
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_TRUE(bad == 0, "two threads shared an arena");
  EXPECT_TRUE(pool.allocations() <= 8, "at most one buffer per concurrent user");
  EXPECT_TRUE(pool.idle() <= 8, "idle buffers are bounded");
  exec::ArenaPool small(64, 1);
  uint8_t* p1 = small.acquire();
  uint8_t* p2 = small.acquire();
  small.release(p1);
  small.release(p2);  // beyond max_idle: freed
  EXPECT_TRUE(small.idle() == 1 && small.allocations() == 2, "at most max_idle buffers are kept");
}

namespace {

// x (2, 3, 4) uint8 -> transpose (0, 2, 1) -> t (2, 4, 3) -> lut -> u -> alias as (8, 3) ->
// concat with constant c (8, 1) along axis 1 -> y (8, 4); second output: copy runs of u.
struct Built {
  exec::Program p;
  uint8_t table[256];
  std::vector<uint8_t> c;
};

void build(Built& b) {
  for (int i = 0; i < 256; ++i) b.table[i] = static_cast<uint8_t>(255 - i);
  b.c.resize(8);
  for (int i = 0; i < 8; ++i) b.c[static_cast<size_t>(i)] = static_cast<uint8_t>(100 + i);
  exec::Program& p = b.p;
  const int x = p.add_input(24);
  const int c = p.add_const(b.c.data(), 8);
  const int t = p.add_tensor(24);
  const int u = p.add_tensor(24);
  const int ua = p.add_alias(u, 24);
  const int y = p.add_tensor(32);
  const int z = p.add_tensor(6);
  p.add_op(exec::make_transpose({2, 3, 4}, {0, 2, 1}, 1), {x}, {t}, "transpose");
  p.add_op(exec::make_lut(b.table, 24), {t}, {u}, "lut");
  p.add_op(exec::make_concat(8, {3, 1}, {{}, {}}), {ua, c}, {y}, "concat");
  // z = u[0, :, 0] and u[1, :, 2] (elements 0, 3, 6, 9 | 14 17): runs of single bytes
  p.add_op(exec::make_copy_runs({{{0, 0, 1}, {3, 1, 1}, {6, 2, 1}, {9, 3, 1}, {14, 4, 1}, {17, 5, 1}}}), {u}, {z},
           "runs");
  p.set_outputs({y, z});
  p.finalize();
}

void reference(const uint8_t* x, const Built& b, uint8_t* y, uint8_t* z) {
  uint8_t u[2][4][3];
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 3; ++j) u[n][i][j] = b.table[x[n * 12 + j * 4 + i]];
  const uint8_t* uf = &u[0][0][0];
  for (int r = 0; r < 8; ++r) {
    for (int k = 0; k < 3; ++k) y[r * 4 + k] = uf[r * 3 + k];
    y[r * 4 + 3] = b.c[static_cast<size_t>(r)];
  }
  const int idx[6] = {0, 3, 6, 9, 14, 17};
  for (int k = 0; k < 6; ++k) z[k] = uf[idx[k]];
}

}  // namespace

LOWP_TEST(exec_program_runs_ops_and_plans_arena) {
  Built b;
  build(b);
  EXPECT_TRUE(b.p.num_ops() == 4 && b.p.num_inputs() == 1 && b.p.num_outputs() == 2, "program shape");
  // t and u are the arena tensors (y, z are outputs): t dies when u is made, but both are alive at op 1.
  EXPECT_TRUE(b.p.arena_bytes() == 128, "arena holds t and u: " + std::to_string(b.p.arena_bytes()));
  std::mt19937 rng(3);
  for (int trial = 0; trial < 5; ++trial) {
    uint8_t x[24], y[32], z[6], ry[32], rz[6];
    for (auto& v : x) v = static_cast<uint8_t>(rng());
    const void* in[1] = {x};
    void* out[2] = {y, z};
    int64_t ns[4] = {-1, -1, -1, -1};
    b.p.run(in, out, trial ? nullptr : ns);
    reference(x, b, ry, rz);
    EXPECT_TRUE(std::memcmp(y, ry, 32) == 0 && std::memcmp(z, rz, 6) == 0, "program output differs from reference");
    if (!trial) EXPECT_TRUE(ns[0] >= 0 && ns[3] >= 0, "per-op times written");
  }
  EXPECT_TRUE(b.p.arena_allocations() == 1, "steady state reuses one arena");
}

LOWP_TEST(exec_program_concurrent_runs) {
  Built b;
  build(b);
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&b, &bad, t] {
      std::mt19937 rng(100 + t);
      for (int i = 0; i < 300; ++i) {
        uint8_t x[24], y[32], z[6], ry[32], rz[6];
        for (auto& v : x) v = static_cast<uint8_t>(rng());
        const void* in[1] = {x};
        void* out[2] = {y, z};
        b.p.run(in, out);
        reference(x, b, ry, rz);
        if (std::memcmp(y, ry, 32) || std::memcmp(z, rz, 6)) bad++;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_TRUE(bad == 0, "concurrent runs gave wrong results");
  EXPECT_TRUE(b.p.arena_allocations() <= 8, "one arena per concurrent run at most");
}

LOWP_TEST(exec_program_build_errors) {
  EXPECT_TRUE(throws([] {
    exec::Program p;
    const int x = p.add_input(4), t = p.add_tensor(4), y = p.add_tensor(4);
    p.add_op(exec::make_copy(4), {t}, {y}, "reads t before it is written");
    p.add_op(exec::make_copy(4), {x}, {t}, "late");
    p.set_outputs({y});
    p.finalize();
  }), "reading a tensor before it is written");
  EXPECT_TRUE(throws([] {
    exec::Program p;
    const int x = p.add_input(4);
    p.add_op(exec::make_copy(4), {x}, {x}, "writes an input");
  }), "writing a program input");
  EXPECT_TRUE(throws([] {
    exec::Program p;
    const int x = p.add_input(4), t = p.add_tensor(4);
    p.add_op(exec::make_copy(4), {x}, {t}, "copy");
    p.set_outputs({p.add_alias(t, 4)});
    p.finalize();
  }), "an alias as program output");
  EXPECT_TRUE(throws([] {
    exec::Program p;
    const int x = p.add_input(4);
    p.add_alias(x, 8);
  }), "an alias larger than its tensor");
  EXPECT_TRUE(throws([] { exec::make_transpose({2, 3}, {0, 0}, 1); }), "a bad permutation");
  EXPECT_TRUE(throws([] {
    exec::Program p;
    const int x = p.add_input(4), t = p.add_tensor(4);
    p.add_op(exec::make_copy(4), {x}, {t}, "copy");
    p.set_outputs({t});
    p.finalize();
    p.add_tensor(4);
  }), "building after finalize");
}

LOWP_TEST(exec_transpose_matches_reference) {
  // NCHW <-> NHWC on several shapes and element sizes, through a 1-op program.
  std::mt19937 rng(11);
  const int64_t shapes[][4] = {{1, 3, 5, 7}, {2, 16, 4, 4}, {1, 1, 9, 2}, {3, 5, 1, 1}};
  for (const auto& s : shapes)
    for (size_t esz : {size_t{1}, size_t{4}}) {
      const int64_t N = s[0], C = s[1], H = s[2], W = s[3], n = N * C * H * W;
      std::vector<uint8_t> x(static_cast<size_t>(n) * esz), y(x.size()), r(x.size());
      for (auto& v : x) v = static_cast<uint8_t>(rng());
      auto op = exec::make_transpose({N, C, H, W}, {0, 2, 3, 1}, esz);
      const void* in[1] = {x.data()};
      void* out[1] = {y.data()};
      op->run(in, out);
      for (int64_t a = 0; a < N; ++a)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t h = 0; h < H; ++h)
            for (int64_t w = 0; w < W; ++w)
              std::memcpy(&r[static_cast<size_t>((((a * H + h) * W + w) * C + c)) * esz],
                          &x[static_cast<size_t>((((a * C + c) * H + h) * W + w)) * esz], esz);
      EXPECT_TRUE(y == r, "NCHW -> NHWC transpose differs, shape " + std::to_string(N) + "x" + std::to_string(C) +
                              "x" + std::to_string(H) + "x" + std::to_string(W));
    }
}

LOWP_TEST(exec_gather_channels_op) {
  // 5 pixels x 7 channels -> channels {6, 0, 3, 3} (a permutation with a repeat), through a program.
  exec::Program p;
  const int x = p.add_input(35);
  const int y = p.add_tensor(20);
  p.add_op(exec::make_gather_channels(7, {6, 0, 3, 3}, 5), {x}, {y}, "gather");
  p.set_outputs({y});
  p.finalize();
  uint8_t in[35], out[20];
  for (int i = 0; i < 35; ++i) in[i] = static_cast<uint8_t>(i * 7 + 1);
  const void* ins[1] = {in};
  void* outs[1] = {out};
  p.run(ins, outs);
  const int idx[4] = {6, 0, 3, 3};
  bool ok = true;
  for (int px = 0; px < 5; ++px)
    for (int j = 0; j < 4; ++j) ok = ok && out[px * 4 + j] == in[px * 7 + idx[j]];
  EXPECT_TRUE(ok, "gathered channels");
  bool threw = false;
  try {
    exec::make_gather_channels(7, {7}, 5);
  } catch (const Error&) {
    threw = true;
  }
  EXPECT_TRUE(threw, "an index >= c_in is rejected");
}

LOWP_TEST(exec_batch_matmul_matches_reference) {
  // TFLite BATCH_MATMUL's op: int32 sums with zero points for each output block, adj_x / adj_y, broadcast block
  // indices, on every kernel this CPU runs; against int64 sums written here.
  std::mt19937 rng(13);
  for (const GemmKernel* kern : available_kernels())
    for (int adj = 0; adj < 4; ++adj) {
      const int M = 1 + static_cast<int>(rng() % 9), K = 1 + static_cast<int>(rng() % 40), N = 1 + static_cast<int>(rng() % 11);
      exec::BatchMatMulParams p;
      p.M = M, p.K = K, p.N = N, p.adj_x = adj & 1, p.adj_y = adj & 2;
      p.a_type = DType::S8, p.b_type = DType::S8;
      p.za = static_cast<int32_t>(rng() % 256) - 128, p.zb = static_cast<int32_t>(rng() % 256) - 128;
      p.lhs_index = {0, 1, 0, 1, 0, 1}, p.rhs_index = {0, 0, 1, 1, 2, 2};  // [2] x [3] blocks broadcast to [3, 2]
      std::vector<int8_t> a(2 * M * K), b(3 * K * N);
      for (auto& v : a) v = static_cast<int8_t>(rng());
      for (auto& v : b) v = static_cast<int8_t>(rng());
      if (adj == 0) a[0] = -128, b[0] = -128;  // extreme values
      OutputSpec spec;  // S32: the sums
      auto op = exec::make_batch_matmul(*kern, p, spec, 1);
      std::vector<int32_t> y(6 * M * N);
      const void* in[2] = {a.data(), b.data()};
      void* out[1] = {y.data()};
      op->run(in, out);
      bool ok = true;
      for (int o = 0; o < 6; ++o)
        for (int i = 0; i < M; ++i)
          for (int j = 0; j < N; ++j) {
            int64_t s = 0;
            for (int k = 0; k < K; ++k) {
              const int8_t* A = a.data() + p.lhs_index[o] * M * K;
              const int8_t* B = b.data() + p.rhs_index[o] * K * N;
              const int av = p.adj_x ? A[k * M + i] : A[i * K + k], bv = p.adj_y ? B[j * K + k] : B[k * N + j];
              s += static_cast<int64_t>(av - p.za) * (bv - p.zb);
            }
            ok = ok && y[(o * M + i) * N + j] == s;
          }
      EXPECT_TRUE(ok, std::string("batch_matmul sums, kernel ") + kern->name + ", adj " + std::to_string(adj));
    }
  exec::BatchMatMulParams bad;
  EXPECT_TRUE(throws([&] { exec::make_batch_matmul(*available_kernels().front(), bad, OutputSpec{}, 1); }),
              "M = K = N = 0 is rejected");
}

LOWP_TEST(exec_lut_channels_op) {
  // 5 rows x 3 channels through a table per channel; C x 256 entries required.
  std::vector<uint8_t> tables(3 * 256);
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) tables[c * 256 + v] = static_cast<uint8_t>(v * (c + 1) + 7 * c);
  auto op = exec::make_lut_channels(tables, 5, 3);
  uint8_t x[15], y[15];
  for (int i = 0; i < 15; ++i) x[i] = static_cast<uint8_t>(i * 37 + 250);
  const void* in[1] = {x};
  void* out[1] = {y};
  op->run(in, out);
  bool ok = true;
  for (int i = 0; i < 15; ++i) ok = ok && y[i] == tables[(i % 3) * 256 + x[i]];
  EXPECT_TRUE(ok, "per-channel lookups");
  EXPECT_TRUE(throws([] { exec::make_lut_channels(std::vector<uint8_t>(255), 1, 1); }), "a short table is rejected");
}

LOWP_TEST(exec_dynamic_quantize_and_gemm_with_its_zero_point) {
  // DynamicQuantizeLinear -> MatMulInteger reading the zero point it computed, against the formulas in int64 / float
  // written here; a NaN input is refused.
  std::mt19937 rng(19);
  const int M = 5, K = 37, N = 11;
  std::vector<float> x(M * K);
  for (auto& v : x) v = std::ldexp(static_cast<float>(static_cast<int>(rng() % 4001) - 1500), -9);
  std::vector<uint8_t> y(M * K);
  float scale = 0;
  uint8_t zp = 0;
  auto dq = exec::make_dynamic_quantize(M * K);
  const void* in1[1] = {x.data()};
  void* out1[3] = {y.data(), &scale, &zp};
  dq->run(in1, out1);
  float lo = 0, hi = 0;
  for (float v : x) lo = std::min(lo, v), hi = std::max(hi, v);
  const float s = (hi - lo) / 255.0f;
  const float z = std::min(255.0f, std::max(0.0f, std::nearbyint(0.0f - lo / s)));
  bool ok = scale == s && zp == static_cast<uint8_t>(z);
  for (int i = 0; i < M * K; ++i)
    ok = ok && y[i] == static_cast<uint8_t>(std::min(255.0f, std::max(0.0f, std::nearbyint(x[i] / s) + z)));
  EXPECT_TRUE(ok, "dynamic quantization: scale, zero point, values");
  std::vector<int8_t> w(K * N);
  for (auto& v : w) v = static_cast<int8_t>(rng());
  const int32_t wz = 3;
  auto pb = std::make_shared<PackedB>(*available_kernels().front(), w.data(), DType::S8, K, N, N, &wz, 1);
  auto mm = exec::make_gemm_dynamic_zero_point(pb, M, DType::U8, 1);
  std::vector<int32_t> acc(M * N);
  const void* in2[2] = {y.data(), &zp};
  void* out2[1] = {acc.data()};
  mm->run(in2, out2);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      int64_t r = 0;
      for (int k = 0; k < K; ++k) r += (int64_t{y[i * K + k]} - zp) * (int64_t{w[k * N + j]} - wz);
      ok = ok && acc[i * N + j] == r;
    }
  EXPECT_TRUE(ok, "MatMulInteger with the run-time zero point");
  // exact ties: scale 2 (range [-255, 255]), x / s = +-0.5, 1.5, 2.5, 253.5 round half to even
  const float tie_x[8] = {-255.0f, 255.0f, 1.0f, 3.0f, 5.0f, -1.0f, -3.0f, 507.0f / 2.0f};
  uint8_t tie_y[8];
  float tie_s = 0;
  uint8_t tie_z = 0;
  auto dq8 = exec::make_dynamic_quantize(8);
  const void* tin[1] = {tie_x};
  void* tout[3] = {tie_y, &tie_s, &tie_z};
  dq8->run(tin, tout);
  const int want[8] = {0, 255, 128, 130, 130, 128, 126, 255};  // zp 128 (0 - (-255) / 2 = 127.5 -> 128)
  bool ties = tie_s == 2.0f && tie_z == 128;
  for (int i = 0; i < 8; ++i) ties = ties && tie_y[i] == want[i];
  EXPECT_TRUE(ties, "dynamic quantization rounds ties half to even");
  x[7] = NAN;
  EXPECT_TRUE(throws([&] { dq->run(in1, out1); }), "a NaN input is refused");
}

LOWP_TEST(exec_gather_rows_op) {
  // [2, 4, 3 bytes] gathered along the middle axis by int32 and int64 indices; an index out of range throws.
  uint8_t p[24], y[2 * 3 * 3];
  for (int i = 0; i < 24; ++i) p[i] = static_cast<uint8_t>(i * 11);
  const int32_t i32[3] = {3, 0, 3};
  const int64_t i64[3] = {3, 0, 3};
  for (int w = 0; w < 2; ++w) {
    auto op = exec::make_gather_rows(2, 4, 3, 3, w == 1);
    const void* in[2] = {p, w ? static_cast<const void*>(i64) : static_cast<const void*>(i32)};
    void* out[1] = {y};
    op->run(in, out);
    bool ok = true;
    for (int o = 0; o < 2; ++o)
      for (int k = 0; k < 3; ++k)
        for (int b = 0; b < 3; ++b) ok = ok && y[(o * 3 + k) * 3 + b] == p[(o * 4 + i32[k]) * 3 + b];
    EXPECT_TRUE(ok, w ? "gather rows, int64 indices" : "gather rows, int32 indices");
  }
  const int32_t bad[3] = {0, 4, 1};
  auto op = exec::make_gather_rows(2, 4, 3, 3, false);
  const void* in[2] = {p, bad};
  void* out[1] = {y};
  EXPECT_TRUE(throws([&] { op->run(in, out); }), "index 4 of 4 rows is refused");
}
