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
  threads_ = threads > 255 ? 255 : threads;  // the round word has 8 bits for it
  quit_.store(false);
  ranges_ = std::vector<Range>(threads_);
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

void ThreadPool::stop() {
  quit_.store(true);
  { std::lock_guard<std::mutex> lk(mu_); }  // a worker about to block sees quit_ under mu_
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

int ThreadPool::run_tasks(int self, int use, uint32_t gen, const TaskFn& fn, int thread_id) {
  int ran = 0;
  for (int k = 0; k < use; ++k) {
    Range& r = ranges_[(self + k) % use];
    uint64_t c = r.claim.load(std::memory_order_acquire);
    for (;;) {
      if (static_cast<uint32_t>(c >> 32) != gen) break;  // the range belongs to another round
      const int t = static_cast<int>(static_cast<uint32_t>(c));
      // end carries its round too: a thread late from round `gen` whose range is exhausted may read
      // the end the caller already wrote for the next round while the claim word still holds this
      // round's exhausted value; comparing against that end would let the CAS below run a task of
      // a finished round (with its dead fn) and over-count done_.
      const uint64_t e = r.end.load(std::memory_order_acquire);
      if (static_cast<uint32_t>(e >> 32) != gen || t >= static_cast<int>(static_cast<uint32_t>(e))) break;
      if (r.claim.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        fn(t, thread_id);
        ++ran;
        ++c;
      }
    }
  }
  return ran;
}

void ThreadPool::worker(int id) {
  Range& mine = ranges_[id];
  uint32_t seen = static_cast<uint32_t>(mine.claim.load() >> 32);
  for (;;) {
    uint64_t c = 0;
    auto fresh = [&] {
      c = mine.claim.load(std::memory_order_acquire);
      return static_cast<uint32_t>(c >> 32) != seen || quit_.load(std::memory_order_relaxed);
    };
    if (!spin_until(fresh)) {
      std::unique_lock<std::mutex> lk(mu_);
      const uint32_t w = wakes_.load();
      sleepers_.fetch_add(1);
      cv_.wait(lk, [&] { return fresh() || wakes_.load() != w; });
      sleepers_.fetch_sub(1);
      if (!fresh()) continue;  // wake(): poll again for the spin time
    }
    if (quit_.load()) return;
    const uint32_t gen = static_cast<uint32_t>(c >> 32);
    seen = gen;
    // use and fn were written before the claim that published this generation; if a newer round
    // has overwritten them meanwhile, this one is over and every claim below fails (the ranges
    // carry the newer generation), so fn is never called.
    const int use = mine.use.load(std::memory_order_relaxed);
    const TaskFn fn{mine.fn_obj.load(std::memory_order_relaxed), mine.fn_call.load(std::memory_order_relaxed)};
    if (id >= use || fn.call == nullptr) continue;
    t_in_pool_task = true;
    const int ran = run_tasks(id, use, gen, fn, id);
    t_in_pool_task = false;
    if (ran > 0) {
      done_.fetch_add(static_cast<uint32_t>(ran));
      if (caller_waiting_.load()) {
        std::lock_guard<std::mutex> lk(mu_);
        done_cv_.notify_one();
      }
    }
  }
}

void ThreadPool::wake() {
  if (sleepers_.load(std::memory_order_relaxed) == 0) return;
  {
    std::lock_guard<std::mutex> lk(mu_);
    wakes_.fetch_add(1);
  }
  cv_.notify_all();
}

bool ThreadPool::inline_round(int n, int max_threads) const {
  int use = max_threads > 0 && max_threads < threads_ ? max_threads : threads_;
  if (use > n) use = n;
  return use <= 1 || t_in_pool_task;
}

void ThreadPool::run_round(int n, const TaskFn& fn, int max_threads) {
  int use = max_threads > 0 && max_threads < threads_ ? max_threads : threads_;
  if (use > n) use = n;
  std::lock_guard<std::mutex> run(run_mu_);
  if (use > threads_) use = threads_;
  const uint32_t gen = ++gen_;
  const uint32_t target = done_target_ += static_cast<uint32_t>(n);
  for (int i = 0; i < use; ++i) {
    Range& r = ranges_[i];
    r.end.store(static_cast<uint64_t>(gen) << 32 | static_cast<uint64_t>(static_cast<int64_t>(n) * (i + 1) / use),
                std::memory_order_relaxed);
    r.use.store(use, std::memory_order_relaxed);
    r.fn_obj.store(fn.obj, std::memory_order_relaxed);
    r.fn_call.store(fn.call, std::memory_order_relaxed);
    r.claim.store(static_cast<uint64_t>(gen) << 32 | static_cast<uint64_t>(static_cast<int64_t>(n) * i / use),
                  std::memory_order_release);  // publishes the round to thread i
  }
  // The claims above must be visible before sleepers_ is read (a worker increments sleepers_ and
  // then checks its claim): otherwise both could miss the other and the worker sleep through the
  // round (harmless, the caller would run its tasks, but slow).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> lk(mu_); }
    cv_.notify_all();  // polling workers see the new round by themselves
  }
  t_in_pool_task = true;
  const int ran = run_tasks(0, use, gen, fn, 0);
  t_in_pool_task = false;
  // Wait for the tasks the workers claimed (none may still be unclaimed: this thread ran out).
  if (done_.fetch_add(static_cast<uint32_t>(ran)) + static_cast<uint32_t>(ran) == target) return;
  if (!spin_until([&] { return done_.load(std::memory_order_acquire) == target; })) {
    std::unique_lock<std::mutex> lk(mu_);
    caller_waiting_.store(true);
    done_cv_.wait(lk, [&] { return done_.load() == target; });
    caller_waiting_.store(false);
  }
}

}  // namespace lowp
