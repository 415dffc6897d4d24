// A small persistent thread pool. parallel_for(n, fn) runs fn(task, thread) for task in [0, n)
// on up to `threads` threads (the caller is thread 0) and returns when all are done.
// Tasks are split into one contiguous range per thread (thread i of `use` starts on tasks
// [n*i/use, n*(i+1)/use)) and a thread that finishes its own range claims the remaining tasks of
// the others' ranges one by one, so work must not depend on which thread runs a task. Contiguous
// ranges keep consecutive ops on the same rows on the same core (its L2 holds the rows it just
// wrote); stealing balances the load. The caller works too and waits only for tasks that have
// been claimed: a worker that wakes late (or is descheduled on a loaded machine) before claiming
// a task costs nothing, the caller just runs the worker's range as well.
//
// Rounds are lock-free on the hot path: the caller publishes a round word (generation, thread
// count) after the task ranges; each range's claim counter carries the generation, so a worker
// that wakes up late for an old round cannot claim (or run) a task of a newer one. Completion is a
// count of finished tasks. Mutex + condition variables only for threads that stopped polling.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lowp {

class ThreadPool {
 public:
  static ThreadPool& global();
  explicit ThreadPool(int threads);
  ~ThreadPool();
  void set_threads(int threads);
  int threads() const { return threads_; }
  // Runs fn on at most max_threads threads (<=0: all). Safe to call from several Python threads:
  // calls are serialised on the pool, and a call made from inside a task runs inline.
  void parallel_for(int n, const std::function<void(int task, int thread)>& fn, int max_threads = 0);

 private:
  void start(int threads);
  void stop();
  void worker(int id);
  // Claims and runs tasks (own range first, then the others'); returns how many it ran.
  int run_tasks(int self, int use, uint32_t gen, const std::function<void(int, int)>& fn, int thread_id);
  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // one parallel_for at a time

  // Per-thread task ranges of the current round, one cache line each: claim = (generation << 32 |
  // next task), advanced by compare-exchange; end is written before the round is published.
  struct alignas(64) Range {
    std::atomic<uint64_t> claim{0};
    std::atomic<int> end{0};
  };
  std::vector<Range> ranges_;
  alignas(64) std::atomic<uint64_t> round_{0};  // generation << 8 | threads used; polled by workers
  std::atomic<const std::function<void(int, int)>*> fn_{nullptr};
  alignas(64) std::atomic<int> done_{0};  // tasks finished in the current round; polled by the caller
  uint32_t gen_ = 0;                      // caller side (under run_mu_)

  // Blocking, only after polling for a while.
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::atomic<int> sleepers_{0};         // workers blocked (or about to block) on cv_
  std::atomic<bool> caller_waiting_{false};  // caller blocked (or about to block) on done_cv_
  std::atomic<bool> quit_{false};
};

}  // namespace lowp
