#include "runtime/thread_pool.h"

#include <cstdlib>

namespace lowp {

namespace {
thread_local bool t_in_pool_task = false;

int default_threads() {
  if (const char* s = std::getenv("LOWP_NUM_THREADS")) {
    const int n = std::atoi(s);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}
}  // namespace

ThreadPool& ThreadPool::global() {
  static ThreadPool* pool = new ThreadPool(default_threads());  // intentionally leaked: no exit-order issues
  return *pool;
}

ThreadPool::ThreadPool(int threads) { start(threads < 1 ? 1 : threads); }

ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::start(int threads) {
  threads_ = threads;
  quit_ = false;
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
}

void ThreadPool::set_threads(int threads) {
  if (threads < 1) threads = 1;
  std::lock_guard<std::mutex> run(run_mu_);
  if (threads == threads_) return;
  stop();
  start(threads);
}

void ThreadPool::worker(int id) {
  int seen = 0;
  for (;;) {
    const std::function<void(int, int)>* fn;
    int n;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return quit_ || (generation_ != seen && id < active_); });
      if (quit_) return;
      seen = generation_;
      fn = fn_;
      n = n_;
    }
    t_in_pool_task = true;
    for (int t; (t = next_.fetch_add(1)) < n;) (*fn)(t, id);
    t_in_pool_task = false;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int n, const std::function<void(int, int)>& fn, int max_threads) {
  if (n <= 0) return;
  int use = max_threads > 0 && max_threads < threads_ ? max_threads : threads_;
  if (use > n) use = n;
  if (use <= 1 || t_in_pool_task) {
    for (int t = 0; t < n; ++t) fn(t, 0);
    return;
  }
  std::lock_guard<std::mutex> run(run_mu_);
  if (use > threads_) use = threads_;
  {
    std::lock_guard<std::mutex> lk(mu_);
    fn_ = &fn;
    n_ = n;
    active_ = use;
    pending_ = use - 1;
    next_.store(0);
    ++generation_;
  }
  cv_.notify_all();
  t_in_pool_task = true;
  for (int t; (t = next_.fetch_add(1)) < n;) fn(t, 0);
  t_in_pool_task = false;
  std::unique_lock<std::mutex> lk(mu_);
  done_cv_.wait(lk, [&] { return pending_ == 0; });
}

}  // namespace lowp
