#include "runtime/thread_pool.h"

#include <chrono>
#include <cstdlib>
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace lowp {

namespace {
thread_local bool t_in_pool_task = false;

// Waking a sleeping thread costs tens of microseconds on a VM, more than many GEMMs take. Workers
// and the caller therefore poll for a short while before blocking (like ruy / pthreadpool).
constexpr auto kSpin = std::chrono::microseconds(200);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

template <typename Pred>
bool spin_until(Pred pred) {
  const auto end = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (pred()) return true;
    if (i < 1024) {
      cpu_relax();
    } else {
      std::this_thread::yield();  // let a descheduled peer (or anyone) run on an oversubscribed CPU
    }
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > end) return false;
  }
}

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
  ranges_ = std::vector<Range>(threads);
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
    spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
    const std::function<void(int, int)>* fn;
    int n, use;
    {
      std::unique_lock<std::mutex> lk(mu_);
      if (generation_.load(std::memory_order_relaxed) == seen && !quit_) {
        sleeping_.store(true, std::memory_order_relaxed);
        cv_.wait(lk, [&] { return quit_ || generation_.load(std::memory_order_relaxed) != seen; });
      }
      if (quit_) return;
      seen = generation_.load(std::memory_order_relaxed);
      if (!open_ || id >= active_) continue;  // too late for this round, or not used by it
      inflight_.fetch_add(1, std::memory_order_relaxed);
      fn = fn_;
      n = n_;
      use = active_;
    }
    t_in_pool_task = true;
    run_tasks(id, use, n, *fn, id);
    t_in_pool_task = false;
    if (inflight_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lk(mu_);
      done_cv_.notify_one();
    }
  }
}

// Own range first, then the others' leftovers (each task is claimed once, by the fetch_add that
// returns it below its range's end). Ranges are written under mu_ before the round opens.
void ThreadPool::run_tasks(int self, int use, int n, const std::function<void(int, int)>& fn, int thread_id) {
  (void)n;
  for (int k = 0; k < use; ++k) {
    Range& r = ranges_[(self + k) % use];
    for (int t; (t = r.next.fetch_add(1, std::memory_order_relaxed)) < r.end;) fn(t, thread_id);
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
  bool wake;
  {
    std::lock_guard<std::mutex> lk(mu_);
    fn_ = &fn;
    n_ = n;
    active_ = use;
    open_ = true;
    for (int i = 0; i < use; ++i) {
      ranges_[i].next.store(static_cast<int>(static_cast<int64_t>(n) * i / use), std::memory_order_relaxed);
      ranges_[i].end = static_cast<int>(static_cast<int64_t>(n) * (i + 1) / use);
    }
    generation_.fetch_add(1, std::memory_order_release);
    wake = sleeping_.exchange(false, std::memory_order_relaxed);
  }
  if (wake) cv_.notify_all();  // spinning workers see the new generation by themselves
  t_in_pool_task = true;
  run_tasks(0, use, n, fn, 0);
  t_in_pool_task = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    open_ = false;  // from here on no worker joins; wait only for those inside
  }
  if (!spin_until([&] { return inflight_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return inflight_.load(std::memory_order_acquire) == 0; });
  }
}

}  // namespace lowp
