// Portable driver of the peak probes (peak_probe.h): checks the CPU, times the ISA loops.
#include "runtime/peak_probe.h"

#include <chrono>
#include <thread>

#include "lowp/types.h"
#include "runtime/cpu.h"

namespace lowp {
namespace bench {

namespace {

using LoopFn = uint64_t (*)(uint64_t);

LoopFn find_loop(const std::string& isa) {
  if (isa == "amx") return peak_amx_supported() ? &peak_loop_amx : nullptr;
#if defined(__x86_64__) || defined(_M_X64)
  if (isa == "avx512vnni") return cpu::has_avx512vnni() ? &peak_loop_avx512vnni : nullptr;
  if (isa == "avx2") return cpu::has_avx2() ? &peak_loop_avx2 : nullptr;
#endif
  return nullptr;
}

// Calls `loop` in chunks of ~5 ms until `seconds` have passed; returns the best chunk's GOP/s.
double time_loop(LoopFn loop, double seconds) {
  using clock = std::chrono::steady_clock;
  uint64_t iters = 1024;
  loop(iters);  // warm-up (also wakes the vector units up to full width)
  // Grow the chunk until one takes at least ~5 ms.
  for (;;) {
    const auto t0 = clock::now();
    loop(iters);
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    if (dt >= 5e-3 || iters >= (uint64_t(1) << 40)) break;
    iters *= 2;
  }
  // The machine may be shared: a chunk can only be slowed down by other work, never sped up,
  // so the fastest chunk is the best estimate of what the core can retire.
  double best = 0.0;
  const auto start = clock::now();
  do {
    const auto t0 = clock::now();
    const uint64_t ops = loop(iters);
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    if (dt > 0.0 && static_cast<double>(ops) / dt > best) best = static_cast<double>(ops) / dt;
  } while (std::chrono::duration<double>(clock::now() - start).count() < seconds);
  return best * 1e-9;
}

}  // namespace

std::vector<std::string> peak_probe_isas() {
  std::vector<std::string> v;
  for (const char* isa : {"amx", "avx512vnni", "avx2"})
    if (find_loop(isa)) v.emplace_back(isa);
  return v;
}

double peak_probe(const std::string& isa, double seconds, int threads) {
  LOWP_CHECK(isa == "amx" || isa == "avx512vnni" || isa == "avx2",
             "unknown peak-probe ISA '" + isa + "' (expected 'amx', 'avx512vnni' or 'avx2')");
  const LoopFn loop = find_loop(isa);
  LOWP_CHECK(loop != nullptr, "this CPU (or build) does not support the '" + isa + "' peak probe");
  LOWP_CHECK(seconds > 0.0 && seconds <= 60.0, "seconds must be in (0, 60]");
  LOWP_CHECK(threads >= 1 && threads <= 1024, "threads must be in [1, 1024]");
  if (threads == 1) return time_loop(loop, seconds);
  std::vector<double> rates(static_cast<size_t>(threads), 0.0);
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&rates, t, loop, seconds] { rates[static_cast<size_t>(t)] = time_loop(loop, seconds); });
  for (auto& th : pool) th.join();
  double sum = 0.0;
  for (double r : rates) sum += r;
  return sum;
}

}  // namespace bench
}  // namespace lowp
