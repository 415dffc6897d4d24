// A small persistent thread pool. parallel_for(n, fn) runs fn(task, thread) for task in [0, n)
// on up to `threads` threads (the caller is thread 0) and returns when all are done.
// Tasks are claimed dynamically, so work must not depend on which thread runs a task.
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
  const std::function<void(int, int)>* fn_ = nullptr;
  int n_ = 0, active_ = 0;
  // Published with release stores so spinning workers/callers can poll them without the mutex.
  std::atomic<int> generation_{0}, pending_{0};
  std::atomic<bool> sleeping_{false};  // some worker may be blocked on cv_
  std::atomic<int> next_{0};
  bool quit_ = false;
};

}  // namespace lowp
