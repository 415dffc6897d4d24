// GEMV driver (see gemm/gemv.h): per-call scalars, row sums, column split across threads.
#include "gemm/gemv.h"

#include <algorithm>
#include <atomic>

#include "runtime/thread_pool.h"

namespace lowp {

namespace {
std::atomic<bool> g_gemv_enabled{true};

// Below this many packed weight bytes a GEMV takes a few microseconds on one core: waking a
// second thread costs about as much as it saves. Above it, columns are split across threads
// (each streams its own share of B, so the bandwidth of both cores' caches adds up).
constexpr size_t kGemvParallelBytes = 512 * 1024;

template <typename T>
int32_t row_sum(const T* a, int K, int32_t shift) {
  uint32_t s = 0;
  for (int k = 0; k < K; ++k) s += static_cast<uint32_t>(static_cast<int32_t>(a[k]));
  return static_cast<int32_t>(s + static_cast<uint32_t>(K) * static_cast<uint32_t>(shift));
}
}  // namespace

const uint8_t* PackedB::gemv_layout(size_t bytes, void (*build)(const PackedB&, uint8_t*)) const {
  std::call_once(*gemv_once_, [&] {
    gemv_storage_.reset(new uint8_t[bytes + 64]);
    gemv_data_ = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(gemv_storage_.get()) + 63) & ~uintptr_t{63});
    build(*this, gemv_data_);
  });
  return gemv_data_;
}

void set_gemv_enabled(bool on) { g_gemv_enabled.store(on, std::memory_order_relaxed); }
bool gemv_enabled() { return g_gemv_enabled.load(std::memory_order_relaxed); }

bool gemv(const GemmArgs& args, const PackedB& B, const OutputSpec& out, int num_threads) {
  if (args.M < 1 || args.M > kGemvMaxM || !gemv_enabled()) return false;
  const GemmKernel& k = B.kernel();
  const GemvKernel* gk = gemv_kernel_for(k);
  if (gk == nullptr) return false;

  GemvCall g{};
  g.m = args.M;
  g.a = args.a;
  g.a_type = args.a_type;
  g.lda = args.lda;
  const int32_t a_shift = domain_shift(args.a_type, k.a_domain);
  g.za_dom = args.za + a_shift;
  g.K = B.K();
  g.N = B.N();
  g.kgroups = B.Kp() / k.kr;
  g.B = &B;
  g.layout = gk->build_layout ? B.gemv_layout(gk->layout_bytes(B), gk->build_layout) : nullptr;
  g.colsum = B.colsum_domain();
  g.zb = B.zb_nonzero() ? B.zb_domain() : nullptr;
  int32_t row_sums[kGemvMaxM] = {};
  if (g.zb) {
    for (int r = 0; r < g.m; ++r) {
      const void* row = static_cast<const uint8_t*>(args.a) + static_cast<size_t>(r) * args.lda;  // 1-byte A
      row_sums[r] = args.a_type == DType::U8 ? row_sum(static_cast<const uint8_t*>(row), g.K, a_shift)
                                             : row_sum(static_cast<const int8_t*>(row), g.K, a_shift);
    }
  }
  g.row_sums = row_sums;
  g.bias = out.bias.empty() ? nullptr : out.bias.data();
  g.out_type = out.out_type;
  g.rounding = out.rounding;
  if (out.out_type != DType::S32) {
    if (out.rounding == Rounding::HalfEven) {
      g.scale = out.scale.data();
      g.per_col = out.scale.size() > 1;
    } else {
      g.mult = out.multiplier.data();
      g.shift = out.shift.data();
      g.per_col = out.multiplier.size() > 1;
    }
    g.zp = out.zero_point;
    g.qmin = out.qmin;
    g.qmax = out.qmax;
  }
  g.c = args.c;
  g.ldc = args.ldc;

  const int n_panels = static_cast<int>(ceil_div(g.N, k.nr));
  ThreadPool& pool = ThreadPool::global();
  int threads = 1;
  if (B.packed_bytes() >= kGemvParallelBytes && n_panels > 1)
    threads = std::max(1, std::min({num_threads > 0 ? num_threads : pool.threads(), pool.threads(), n_panels}));
  if (threads == 1) {
    gk->run(g, 0, n_panels);
    return true;
  }
  // Contiguous runs of panels (each task streams one piece of B), a few per thread so that a
  // thread slowed down by the machine does not hold the others up.
  const int tasks = std::min(n_panels, threads * 4);
  const int per = static_cast<int>(ceil_div(n_panels, tasks));
  const int ntasks = static_cast<int>(ceil_div(n_panels, per));
  pool.parallel_for(
      ntasks, [&](int t, int) { gk->run(g, t * per, std::min(n_panels, (t + 1) * per)); }, threads);
  return true;
}

}  // namespace lowp
