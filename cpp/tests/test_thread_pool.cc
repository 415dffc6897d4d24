// ThreadPool: every task runs exactly once for any task count / thread limit, nested calls run
// inline, concurrent callers are serialised, and resizing the pool keeps it working.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "runtime/thread_pool.h"
#include "test_framework.h"

using lowp::ThreadPool;

namespace {
void check_once(ThreadPool& pool, int n, int max_threads) {
  std::vector<std::atomic<int>> hits(n > 0 ? n : 1);
  for (auto& h : hits) h.store(0);
  std::atomic<int> bad_thread{0};
  pool.parallel_for(n, [&](int t, int thread) {
    hits[t].fetch_add(1);
    if (thread < 0 || thread >= pool.threads()) bad_thread.fetch_add(1);
  }, max_threads);
  int wrong = 0;
  for (int t = 0; t < n; ++t) wrong += hits[t].load() != 1;
  EXPECT_TRUE(wrong == 0, "n=" + std::to_string(n) + " max_threads=" + std::to_string(max_threads) +
                              ": tasks not run exactly once: " + std::to_string(wrong));
  EXPECT_TRUE(bad_thread.load() == 0, "thread index out of range");
}
}  // namespace

LOWP_TEST(thread_pool_each_task_once) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int n : {0, 1, 2, 3, 4, 7, 16, 33, 1000})
      for (int mt : {0, 1, 2, 3, 8}) check_once(pool, n, mt);
  }
}

LOWP_TEST(thread_pool_many_rounds_and_uneven_tasks) {
  // Rounds back to back (workers still spinning) and after a pause (workers asleep), with tasks of
  // very different length so that stealing from the other ranges happens.
  ThreadPool pool(3);
  for (int round = 0; round < 200; ++round) {
    const int n = 1 + round % 37;
    std::vector<std::atomic<int>> hits(n);
    for (auto& h : hits) h.store(0);
    pool.parallel_for(n, [&](int t, int) {
      if (t == 0) {
        volatile int s = 0;
        for (int i = 0; i < 20000; ++i) s = s + i;
      }
      hits[t].fetch_add(1);
    });
    int wrong = 0;
    for (int t = 0; t < n; ++t) wrong += hits[t].load() != 1;
    EXPECT_TRUE(wrong == 0, "round " + std::to_string(round));
    if (round % 50 == 49) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

LOWP_TEST(thread_pool_nested_and_concurrent_callers) {
  ThreadPool pool(2);
  std::atomic<int> total{0};
  auto job = [&] {
    for (int i = 0; i < 50; ++i)
      pool.parallel_for(8, [&](int, int) {
        pool.parallel_for(4, [&](int, int) { total.fetch_add(1); });  // nested: runs inline
      });
  };
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c) callers.emplace_back(job);
  for (auto& t : callers) t.join();
  EXPECT_TRUE(total.load() == 3 * 50 * 8 * 4, "total=" + std::to_string(total.load()));
}

LOWP_TEST(thread_pool_resize) {
  ThreadPool pool(1);
  for (int threads : {2, 4, 1, 3}) {
    pool.set_threads(threads);
    EXPECT_TRUE(pool.threads() == threads, "threads() after set_threads");
    check_once(pool, 50, 0);
  }
}

// ---- ops split over the pool: the same bytes for 1 and 3 threads -------------------------------
#include <random>

#include "ops/eltwise.h"
#include "ops/layout.h"

LOWP_TEST(eltwise_and_quantize_threads_identical) {
  using namespace lowp;
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> d(0, 255);
  // (512 x 256) column (+) row broadcast, a same-shape run of 100003 elements, (600 x 200) (+) row
  for (int kind = 0; kind < 3; ++kind) {
    const int64_t R = kind == 0 ? 512 : (kind == 1 ? 1 : 600), C = kind == 0 ? 256 : (kind == 1 ? 100003 : 200);
    std::vector<uint8_t> a(kind == 0 ? R : R * C), b(kind != 1 ? C : R * C), c1(R * C), c3(R * C);
    for (auto& v : a) v = static_cast<uint8_t>(d(rng));
    for (auto& v : b) v = static_cast<uint8_t>(d(rng));
    ops::BroadcastShape bs;
    bs.ndim = 2;
    bs.shape[0] = R;
    bs.shape[1] = C;
    bs.stride_a[0] = kind == 0 ? 1 : C;
    bs.stride_a[1] = kind == 0 ? 0 : 1;
    bs.stride_b[0] = kind == 1 ? C : 0;
    bs.stride_b[1] = 1;
    for (ops::BinaryOp op : {ops::BinaryOp::Add, ops::BinaryOp::Mul}) {
      ops::BinaryParams p;
      p.op = op;
      p.scale_a = 0.05f;
      p.scale_b = 0.03f;
      p.scale_c = 0.07f;
      p.zp_a = 120;
      p.zp_b = 131;
      p.zp_c = 128;
      ops::binary_op(bs, a.data(), b.data(), c1.data(), DType::U8, p, 1);
      ops::binary_op(bs, a.data(), b.data(), c3.data(), DType::U8, p, 3);
      EXPECT_TRUE(c1 == c3, "binary_op: 3 threads differ from 1, kind " + std::to_string(kind));
    }
  }
  std::normal_distribution<float> nd(0.f, 3.f);
  std::vector<float> x(2 * 5 * 150 * 149);
  for (auto& v : x) v = nd(rng);
  std::vector<uint8_t> y1(x.size()), y3(x.size());
  ops::quantize_nchw_to_nhwc(x.data(), y1.data(), DType::U8, 2, 5, 150 * 149, 0.037f, 131, 1);
  ops::quantize_nchw_to_nhwc(x.data(), y3.data(), DType::U8, 2, 5, 150 * 149, 0.037f, 131, 3);
  EXPECT_TRUE(y1 == y3, "quantize_nchw_to_nhwc: 3 threads differ from 1");
  // the RGB (C == 3) path: 2 x 3 x 150 x 149 = 134100 values, above the threading cut
  std::vector<uint8_t> r1(2 * 3 * 150 * 149), r3(r1.size());
  ops::quantize_nchw_to_nhwc(x.data(), r1.data(), DType::S8, 2, 3, 150 * 149, 0.037f, -5, 1);
  ops::quantize_nchw_to_nhwc(x.data(), r3.data(), DType::S8, 2, 3, 150 * 149, 0.037f, -5, 3);
  EXPECT_TRUE(r1 == r3, "quantize_nchw_to_nhwc (C == 3): 3 threads differ from 1");
  // a 28 x 28 x 32 residual add (25088 values: split since the 16K-value cut)
  std::vector<uint8_t> a(25088), b(25088), c1(a.size()), c3(a.size());
  for (auto& v : a) v = static_cast<uint8_t>(d(rng));
  for (auto& v : b) v = static_cast<uint8_t>(d(rng));
  ops::BroadcastShape bs;
  bs.ndim = 1;
  bs.shape[0] = 25088;
  bs.stride_a[0] = bs.stride_b[0] = 1;
  ops::BinaryParams p;
  p.scale_a = 0.05f;
  p.scale_b = 0.03f;
  p.scale_c = 0.07f;
  p.zp_a = 120;
  p.zp_b = 131;
  p.zp_c = 128;
  ops::binary_op(bs, a.data(), b.data(), c1.data(), DType::U8, p, 1);
  ops::binary_op(bs, a.data(), b.data(), c3.data(), DType::U8, p, 3);
  EXPECT_TRUE(c1 == c3, "binary_op (25088 values): 3 threads differ from 1");
}

LOWP_TEST(thread_pool_wake_and_rounds_after_sleep) {
  // Workers blocked after idling (> the spin time) come back for rounds, whether woken by wake()
  // first or by the round itself; wake() with nobody asleep, and repeated, is harmless; rounds
  // that use fewer threads than the pool leave the other workers' lines alone.
  ThreadPool pool(3);
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3));  // workers block
    if (i % 2 == 0) pool.wake();
    if (i % 3 == 0) pool.wake();
    for (int n : {1, 2, 5, 64}) {
      check_once(pool, n, 0);
      check_once(pool, n, 2);
    }
  }
  // A worker that idled through rounds it was not used in (then blocked) still joins the next
  // round that uses it: 3 tasks on 3 threads, each task waits (up to 5 s) until three different
  // threads hold one, so the third task can only be run by worker 2.
  for (int i = 0; i < 200; ++i) check_once(pool, 8, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  std::atomic<int> present{0}, mask{0};
  pool.parallel_for(3, [&](int, int thread) {
    mask.fetch_or(1 << thread);
    present.fetch_add(1);
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (present.load() < 3 && std::chrono::steady_clock::now() < end) std::this_thread::yield();
  });
  EXPECT_TRUE(mask.load() == 7, "three threads did not run the three tasks: mask " + std::to_string(mask.load()));
}
