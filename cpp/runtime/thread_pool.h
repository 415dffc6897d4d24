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
// Rounds are lock-free on the hot path. Each thread's range is one cache line holding its claim
// counter (generation << 32 | next task), its end, the round's thread count and function; the
// caller fills the line and publishes it with the claim's new generation. A polling worker watches
// only its own line, so starting a round costs it one cache-line transfer, and a thread not used
// by a round is not disturbed. Claims carry the generation: a worker that wakes up late for an old
// round cannot claim (or run) a task of a newer one. Completion is a running count of finished tasks.
// Mutex + condition variables only for threads that stopped polling; wake() gets them polling
// again ahead of a burst of rounds (the native executor calls it when a program run starts).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lowp {

// Start of part i of `parts` nearly equal shares of n items (part i = [split_point(n, i, parts),
// split_point(n, i + 1, parts))): e.g. the output rows each thread of a small depthwise layer
// takes (ops/depthwise.cc), the same image rows the 1x1 convs around it give that thread.
inline int64_t split_point(int64_t n, int i, int parts) { return (n * i + parts / 2) / parts; }

class ThreadPool {
 public:
  static ThreadPool& global();
  explicit ThreadPool(int threads);
  ~ThreadPool();
  void set_threads(int threads);
  int threads() const { return threads_; }
  // A non-owning reference to a callable void(int task, int thread): what a round hands to the
  // workers (no std::function: no heap allocation per round for lambdas with many captures, and a
  // worker finds the callable's address in its own range line instead of behind a std::function).
  struct TaskFn {
    const void* obj;
    void (*call)(const void* obj, int task, int thread);
    void operator()(int task, int thread) const { call(obj, task, thread); }
  };
  // Runs fn(task, thread) on at most max_threads threads (<=0: all). Safe to call from several
  // Python threads: calls are serialised on the pool, and a call made from inside a task (or with
  // one thread) runs inline.
  template <typename F>
  void parallel_for(int n, const F& fn, int max_threads = 0) {
    if (n <= 0) return;
    if (inline_round(n, max_threads)) {
      for (int t = 0; t < n; ++t) fn(t, 0);
      return;
    }
    run_round(n, TaskFn{&fn, [](const void* o, int t, int th) { (*static_cast<const F*>(o))(t, th); }}, max_threads);
  }
  // Wakes workers that are blocked (idle for a while) so that they poll again: call it shortly
  // before a series of parallel_for (waking a blocked thread takes tens of microseconds on a VM).
  // Cheap when no worker sleeps; a woken worker polls for the usual spin time, then blocks again.
  void wake();

 private:
  void start(int threads);
  void stop();
  void worker(int id);
  // True when a round of n tasks runs inline on the calling thread (one thread, or inside a task).
  bool inline_round(int n, int max_threads) const;
  void run_round(int n, const TaskFn& fn, int max_threads);
  // Claims and runs tasks (own range first, then the others'); returns how many it ran.
  int run_tasks(int self, int use, uint32_t gen, const TaskFn& fn, int thread_id);
  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // one parallel_for at a time

  // Per-thread task ranges of the current round, one cache line each: claim = (generation << 32 |
  // next task), advanced by compare-exchange; end, use and fn are written before the claim
  // publishes the round (release), so a worker polling its claim reads them from the same line.
  struct alignas(64) Range {
    std::atomic<uint64_t> claim{0};
    std::atomic<uint64_t> end{0};  // generation << 32 | end of the range
    std::atomic<int> use{0};  // threads used by the round
    std::atomic<const void*> fn_obj{nullptr};
    std::atomic<void (*)(const void*, int, int)> fn_call{nullptr};
  };
  std::vector<Range> ranges_;
  // Tasks finished, counted across rounds (wrapping): a round of n tasks is over when it reaches
  // done_target_ = the previous target + n. Never reset, so starting a round does not write
  // (and first fetch) this line; polled by the caller.
  alignas(64) std::atomic<uint32_t> done_{0};
  uint32_t done_target_ = 0;  // caller side (under run_mu_)
  uint32_t gen_ = 0;                      // caller side (under run_mu_)

  // Blocking, only after polling for a while.
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::atomic<int> sleepers_{0};         // workers blocked (or about to block) on cv_
  std::atomic<bool> caller_waiting_{false};  // caller blocked (or about to block) on done_cv_
  std::atomic<bool> quit_{false};
  std::atomic<uint32_t> wakes_{0};           // wake() calls: a blocked worker's wait ends on a change
};

}  // namespace lowp
