// ThreadPool: every task runs exactly once for any task count / thread limit, nested calls run
// inline, concurrent callers are serialised, and resizing the pool keeps it working.
#include <atomic>
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
