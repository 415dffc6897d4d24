// A small persistent thread pool. parallel_for(n, fn) runs fn(task, thread) for task in [0, n)
// on up to `threads` threads (the caller is thread 0) and returns when all are done.
// Tasks are split into one contiguous range per thread (thread i of `use` starts on tasks
// [n*i/use, n*(i+1)/use)) and a thread that finishes its own range claims the remaining tasks of
// the others' ranges one by one, so work must not depend on which thread runs a task. Contiguous
// ranges keep consecutive ops on the same rows on the same core (its L2 holds the rows it just
// wrote); stealing balances the load. The caller works too and never waits for a worker that has
// not joined the round yet: on a loaded machine a descheduled worker costs nothing, the caller
// just runs the worker's range as well.
#pragma once
#include <atomic>
#include <condition_variable>
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
  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // one parallel_for at a time
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  // Round state, written under mu_. A worker joins a round (inflight_++) only while it is open;
  // the caller closes it when it runs out of tasks and waits only for the workers that joined.
  const std::function<void(int, int)>* fn_ = nullptr;
  int n_ = 0, active_ = 0;
  bool open_ = false;
  std::atomic<int> generation_{0};  // polled by spinning workers
  std::atomic<int> inflight_{0};    // workers inside the current round, polled by the caller
  std::atomic<bool> sleeping_{false};  // some worker may be blocked on cv_
  // Per-thread task ranges of the current round: slot i holds [next, end) of thread i's range,
  // one cache line per slot so that claiming a task does not bounce the other threads' lines.
  struct alignas(64) Range {
    std::atomic<int> next{0};
    int end = 0;
  };
  std::vector<Range> ranges_;
  void run_tasks(int self, int use, int n, const std::function<void(int, int)>& fn, int thread_id);
  bool quit_ = false;
};

}  // namespace lowp
