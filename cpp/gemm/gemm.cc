// GEMM driver: prepacking of B, blocking, threading, per-call epilogue terms.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#if defined(__has_include)
#if __has_include(<unistd.h>)
#include <unistd.h>
#endif
#endif

#include "gemm/gemv.h"
#include "gemm/kernel.h"
#include "requant/requant.h"
#include "runtime/thread_pool.h"

namespace lowp {

namespace {
constexpr size_t kAlign = 64;
// Zero bytes kept after the last packed B panel: the AMX kernel's K-tail step loads a whole
// 16-row B tile (2 KiB at kr = 4, nr = 32) from the last, partial k-block of a panel; the rows past
// the panel's valid k-groups meet zero A bytes, but must be readable memory.
constexpr size_t kBSlackBytes = 2048;
// B block kept hot in L2 while the A panels stream through it: half the L2 (512 KB when the size
// is unknown, clamped to 256 KB..2 MB). 256x256x2304 on AMX (2 MB L2): B (590 KB) fits in one
// block at 1 MB, so each A panel is loaded/packed once instead of twice: 121 -> 105 us.
size_t b_block_bytes() {
  long l2 = 0;
#if defined(_SC_LEVEL2_CACHE_SIZE)
  l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
  if (l2 <= 0) return 512 * 1024;
  return std::min<size_t>(2u << 20, std::max<size_t>(256u << 10, static_cast<size_t>(l2) / 2));
}
const size_t kBBlockBytes = b_block_bytes();

int32_t type_min(DType t) { return t == DType::U8 ? 0 : (t == DType::S8 ? -128 : INT32_MIN); }
int32_t type_max(DType t) { return t == DType::U8 ? 255 : (t == DType::S8 ? 127 : INT32_MAX); }

// Per-thread scratch that only grows: no allocation in steady state.
struct Scratch {
  std::vector<uint8_t> a_panel;
  std::vector<int32_t> row_sums;
  uint64_t call = 0;  // which gemm() call and A panel the scratch holds (see "reuse" below)
  int panel = -1;
  uint8_t* aligned_a(size_t bytes) {
    if (a_panel.size() < bytes + kAlign) a_panel.resize(bytes + kAlign);
    const uintptr_t p = reinterpret_cast<uintptr_t>(a_panel.data());
    return reinterpret_cast<uint8_t*>((p + kAlign - 1) & ~(uintptr_t)(kAlign - 1));
  }
};
thread_local Scratch t_scratch;
std::atomic<uint64_t> g_calls{0};

// Threaded split for kernels with a panel kernel (AMX, GemmKernel::panel_kernel). Each task is
// one A panel against one block of B panels. Such a kernel packs A per task (one 512-k chunk at a
// time) and its tile pipeline drains at the end of each task, so each extra task costs about as
// much as packing its A panel plus ~0.5 us: "8 tasks per thread" (the rule for the other kernels)
// made 64x1024x1024 (two A panels, 16 tasks of 4 B panels) scale 1.38x at 2 threads; two tasks of
// one A panel against all of B scale 1.6x (the rest is the per-call AMX warm-up stall of each
// core, see docs/PERFORMANCE.md). So tasks are as large as the B block allows, and N is split
// further only when that shortens the makespan of the tasks list-scheduled in order (as the pool
// runs them: contiguous ranges, then stealing), e.g. 7 A panels on 2 threads (4 : 3 panels) split
// N in two (7 : 7 half panels). Costs are in 16x32x64 tile steps; a panel of <= 16 valid rows
// takes half the steps of a full one (one row of tiles). Returns the number of N blocks
// (>= n_blocks0, the L2-sized blocking).
int panel_split_n_blocks(int M, int mr, int n_panels, int n_blocks0, int kblocks, int threads) {
  const int m_panels = static_cast<int>(ceil_div(M, mr));
  // Many tasks already: the last one is a small part of each thread's share (and the search
  // below would cost more than it could save).
  if (static_cast<int64_t>(m_panels) * n_blocks0 >= 8 * threads) return n_blocks0;
  const double per_task = 2.0 * kblocks + 16.0;  // A chunk packing + pipeline drain / task start
  auto makespan = [&](int n_blocks) {
    const int nc = static_cast<int>(ceil_div(n_panels, n_blocks));
    n_blocks = static_cast<int>(ceil_div(n_panels, nc));
    // List scheduling of the tasks in driver order (A panel major) on `threads` threads.
    double free_at[64] = {};
    const int th = std::min(threads, 64);
    for (int mp = 0; mp < m_panels; ++mp) {
      const int rows = std::min(mr, M - mp * mr);
      const double steps = static_cast<double>(ceil_div(rows, 16));
      for (int nb = 0; nb < n_blocks; ++nb) {
        const int panels = std::min(nc, n_panels - nb * nc);
        double* t = std::min_element(free_at, free_at + th);
        *t += steps * panels * kblocks + per_task;
      }
    }
    return *std::max_element(free_at, free_at + th);
  };
  int best = n_blocks0;
  double best_time = makespan(n_blocks0);
  // Candidates: the L2 blocking split 2..16 times further, keeping >= 2 B panels per task.
  for (int f = 2; f <= 16; ++f) {
    const int nb = n_blocks0 * f;
    if (ceil_div(n_panels, nb) < 2 || static_cast<int64_t>(m_panels) * nb > 16 * threads) break;
    const double t = makespan(nb);
    if (t < best_time * 0.99) {  // a clearly shorter makespan: fewer tasks win ties
      best = nb;
      best_time = t;
    }
  }
  return best;
}

// Column terms (N entries): bias[j] - za'*colsum'[j] + K*za'*zb'[j], wrapping. One straight loop
// (vectorized; a per-element bias test kept it scalar, ~1 us at N = 960).
void fill_col_terms(const PackedB& B, const int32_t* bias, int32_t za_dom, int32_t* ct) {
  const int N = B.N(), K = B.K();
  const int32_t* colsum = B.colsum_domain();
  const int32_t* zb = B.zb_domain();
  const uint32_t uza = static_cast<uint32_t>(za_dom), kza = static_cast<uint32_t>(K) * uza;
  for (int j = 0; j < N; ++j) {
    const uint32_t b = bias ? static_cast<uint32_t>(bias[j]) : 0u;
    ct[j] = static_cast<int32_t>(b - uza * static_cast<uint32_t>(colsum[j]) + kza * static_cast<uint32_t>(zb[j]));
  }
}

// Checks an output spec for N columns (gemm() without precomputed terms, and GemmTerms).
void check_output_spec(const OutputSpec& out, int N) {
  LOWP_CHECK(out.out_type == DType::S32 || out.out_type == DType::U8 || out.out_type == DType::S8,
             "output type must be int32, uint8 or int8");
  LOWP_CHECK(out.bias.empty() || out.bias.size() == static_cast<size_t>(N), "bias must have N entries");
  if (out.out_type == DType::S32) return;
  LOWP_CHECK(out.qmin >= type_min(out.out_type) && out.qmax <= type_max(out.out_type) && out.qmin <= out.qmax,
             "activation range must lie inside the output type and have min <= max");
  LOWP_CHECK(out.zero_point >= type_min(out.out_type) && out.zero_point <= type_max(out.out_type),
             "output zero point out of range for the output type");
  if (out.rounding == Rounding::HalfEven) {
    LOWP_CHECK(out.scale.size() == 1 || out.scale.size() == static_cast<size_t>(N), "scale must have 1 or N entries");
  } else {
    LOWP_CHECK(out.multiplier.size() == out.shift.size() &&
                   (out.multiplier.size() == 1 || out.multiplier.size() == static_cast<size_t>(N)),
               "multiplier and shift must both have 1 or N entries");
    for (size_t i = 0; i < out.multiplier.size(); ++i) {
      LOWP_CHECK(out.multiplier[i] >= 0, "multiplier must be >= 0");
      LOWP_CHECK(out.shift[i] >= -31 && out.shift[i] <= 30, "shift must be in [-31, 30]");
    }
  }
}

// Per-call column terms (Epilogue arrays, N entries), when the caller passed no GemmTerms. Each
// thread that runs tasks of a call fills its own copy before its first task: arrays written by the
// calling thread on every call were read by the other threads' output stages from the caller's
// cache (~2-3 us of a 2-thread AMX 64x1024x1024, 27 us), and the workers no longer wait for the
// caller to fill them.
struct CallTerms {
  std::vector<int32_t> col_term, mult, shift;
  std::vector<float> scale;
  uint64_t call = 0;  // the gemm() call they were filled for
  // Fills the arrays for this call and points ep at them.
  void fill(uint64_t c, const PackedB& B, const OutputSpec& out, int32_t za_dom, Epilogue& ep) {
    const int N = B.N();
    if (call != c) {
      call = c;
      col_term.resize(N);
      fill_col_terms(B, out.bias.empty() ? nullptr : out.bias.data(), za_dom, col_term.data());
      // Per-tensor parameters are broadcast to N entries; per-column ones are read in place below
      // (the OutputSpec's arrays are never written, so every core keeps its own clean copy).
      if (out.out_type != DType::S32) {
        if (out.rounding == Rounding::HalfEven) {
          if (out.scale.size() == 1) scale.assign(N, out.scale[0]);
        } else if (out.multiplier.size() == 1) {
          mult.assign(N, out.multiplier[0]);
          shift.assign(N, out.shift[0]);
        }
      }
    }
    ep.col_term = col_term.data();
    if (out.out_type != DType::S32) {
      if (out.rounding == Rounding::HalfEven) {
        ep.scale = out.scale.size() == 1 ? scale.data() : out.scale.data();
      } else if (out.multiplier.size() == 1) {
        ep.mult = mult.data();
        ep.shift = shift.data();
      } else {
        ep.mult = out.multiplier.data();
        ep.shift = out.shift.data();
      }
    }
  }
};
thread_local CallTerms t_terms;
}  // namespace

PackedB::PackedB(const GemmKernel& kernel, const void* b, DType b_type, int K, int N, ptrdiff_t ldb,
                 const int32_t* zb, int zb_count, bool b_transposed)
    : kernel_(&kernel), K_(K), N_(N), b_type_(b_type) {
  LOWP_CHECK(b_type == DType::U8 || b_type == DType::S8, "B must be uint8 or int8");
  LOWP_CHECK(K >= 1 && N >= 1, "B must have K >= 1 and N >= 1");
  LOWP_CHECK(ldb >= (b_transposed ? K : N), b_transposed ? "B^T row stride must be >= K" : "B row stride must be >= N");
  LOWP_CHECK(b != nullptr, "B is null");
  LOWP_CHECK(zb_count == 1 || zb_count == N, "B zero point must have 1 or N entries");
  const int32_t lo = type_min(b_type), hi = type_max(b_type);
  for (int i = 0; i < zb_count; ++i)
    LOWP_CHECK(zb[i] >= lo && zb[i] <= hi, std::string("B zero point out of range for ") + dtype_name(b_type));
  Kp_ = static_cast<int>(round_up(K, kernel.kr));
  const int panels = static_cast<int>(ceil_div(N, kernel.nr));
  const size_t panel_bytes = static_cast<size_t>(Kp_) * kernel.nr * element_size(kernel.b_domain);
  bytes_ = panel_bytes * panels;
  storage_.reset(new uint8_t[bytes_ + kAlign + kBSlackBytes]);
  data_ = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(storage_.get()) + kAlign - 1) & ~(uintptr_t)(kAlign - 1));
  std::memset(data_ + bytes_, 0, kBSlackBytes);
  colsum_.assign(static_cast<size_t>(panels) * kernel.nr, 0);
  const int32_t shift = domain_shift(b_type, kernel.b_domain);
  zb_dom_.resize(N);
  for (int j = 0; j < N; ++j) {
    zb_dom_[j] = zb[zb_count == 1 ? 0 : j] + shift;
    if (zb_dom_[j] != 0) zb_nonzero_ = true;
  }
  const size_t esz = element_size(b_type);
  for (int p = 0; p < panels; ++p) {
    const int j0 = p * kernel.nr;
    const int ncols = std::min(kernel.nr, N - j0);
    if (b_transposed)
      pack_bt_panel(kernel, static_cast<const uint8_t*>(b) + j0 * ldb * esz, b_type, K, ncols, ldb,
                    data_ + p * panel_bytes, colsum_.data() + j0);
    else
      pack_b_panel(kernel, static_cast<const uint8_t*>(b) + j0 * esz, b_type, K, ncols, ldb, data_ + p * panel_bytes,
                   colsum_.data() + j0);
  }
  colsum_.resize(N);
}

const void* PackedB::panel(int j0) const {
  const size_t panel_bytes = static_cast<size_t>(Kp_) * kernel_->nr * element_size(kernel_->b_domain);
  return data_ + (j0 / kernel_->nr) * panel_bytes;
}

GemmTerms::GemmTerms(const PackedB& b, DType a_type, int32_t za, const OutputSpec& out)
    : b_(&b), a_type_(a_type), za_(za), out_type_(out.out_type), rounding_(out.rounding), bias_n_(out.bias.size()),
      mult_n_(out.multiplier.size()), scale_n_(out.scale.size()) {
  const int N = b.N();
  LOWP_CHECK(a_type == DType::U8 || a_type == DType::S8, "A must be uint8 or int8");
  LOWP_CHECK(za >= type_min(a_type) && za <= type_max(a_type), std::string("A zero point out of range for ") + dtype_name(a_type));
  check_output_spec(out, N);
  col_term_.resize(N);
  fill_col_terms(b, out.bias.empty() ? nullptr : out.bias.data(), za + domain_shift(a_type, b.kernel().a_domain),
                 col_term_.data());
  if (out.out_type != DType::S32) {
    if (out.rounding == Rounding::HalfEven) {
      scale_ = out.scale.size() == 1 ? std::vector<float>(N, out.scale[0]) : out.scale;
    } else {
      mult_ = out.multiplier.size() == 1 ? std::vector<int32_t>(N, out.multiplier[0]) : out.multiplier;
      shift_ = out.shift.size() == 1 ? std::vector<int32_t>(N, out.shift[0]) : out.shift;
    }
  }
  const int32_t* zb = b.zb_domain();
  zb_uniform_ = b.zb_nonzero() && std::all_of(zb, zb + N, [&](int32_t z) { return z == zb[0]; });
}

void GemmTerms::check(const PackedB& b, DType a_type, int32_t za, const OutputSpec& out) const {
  LOWP_CHECK(&b == b_ && a_type == a_type_ && za == za_,
             "GEMM terms were built for other weights, activation type or zero point");
  LOWP_CHECK(out.out_type == out_type_ && out.rounding == rounding_ && out.bias.size() == bias_n_ &&
                 out.multiplier.size() == mult_n_ && out.scale.size() == scale_n_,
             "GEMM terms were built for another output spec");
}

void gemm(const GemmArgs& args, const PackedB& B, const OutputSpec& out, int num_threads, const GemmTerms* terms) {
  const GemmKernel& k = B.kernel();
  const int M = args.M, N = B.N(), K = B.K(), Kp = B.Kp();
  LOWP_CHECK(M >= 0, "M must be >= 0");
  LOWP_CHECK(args.a_type == DType::U8 || args.a_type == DType::S8, "A must be uint8 or int8");
  LOWP_CHECK(M == 0 || args.a != nullptr, "A is null");
  LOWP_CHECK(M == 0 || args.c != nullptr, "C is null");
  LOWP_CHECK(args.lda >= K, "A row stride must be >= K");
  LOWP_CHECK(args.ldc >= N, "C row stride must be >= N");
  LOWP_CHECK(args.za >= type_min(args.a_type) && args.za <= type_max(args.a_type),
             std::string("A zero point out of range for ") + dtype_name(args.a_type));
  const bool requant = out.out_type != DType::S32;
  if (terms != nullptr) {
    // The spec's arrays were checked when the terms were built; its scalars are checked here.
    terms->check(B, args.a_type, args.za, out);
    if (requant) {
      LOWP_CHECK(out.qmin >= type_min(out.out_type) && out.qmax <= type_max(out.out_type) && out.qmin <= out.qmax,
                 "activation range must lie inside the output type and have min <= max");
      LOWP_CHECK(out.zero_point >= type_min(out.out_type) && out.zero_point <= type_max(out.out_type),
                 "output zero point out of range for the output type");
    }
  } else {
    check_output_spec(out, N);
  }
  if (M == 0) return;
  // Few rows (M <= kGemvMaxM): the streaming GEMV path of gemm/gemv.cc, when the kernel has one.
  if (gemv(args, B, out, num_threads)) return;

  // Column terms: precomputed (terms), or filled by each thread that runs tasks, before its first
  // task (see CallTerms).
  const int32_t za_dom = args.za + domain_shift(args.a_type, k.a_domain);
  const int32_t* zb = B.zb_domain();
  Epilogue ep_call{};
  ep_call.out_type = out.out_type;
  ep_call.rounding = out.rounding;
  ep_call.zp = out.zero_point;
  ep_call.qmin = requant ? out.qmin : 0;
  ep_call.qmax = requant ? out.qmax : 0;
  ep_call.zb = B.zb_nonzero() ? zb : nullptr;
  if (terms != nullptr) {
    // Precomputed terms: every thread reads the same arrays, written once at build time (clean
    // lines each core keeps in its own cache).
    ep_call.zb_uniform = terms->zb_uniform();
    ep_call.col_term = terms->col_term();
    ep_call.mult = terms->mult();
    ep_call.shift = terms->shift();
    ep_call.scale = terms->scale();
  } else {
    ep_call.zb_uniform =
        ep_call.zb != nullptr && std::all_of(zb, zb + N, [&](int32_t z) { return z == zb[0]; });
  }
  ep_call.c = args.c;
  ep_call.ldc = args.ldc;

  // Blocking.
  ThreadPool& pool = ThreadPool::global();
  // Threads by task size: each thread's share must pay for handing it over (~1-2 us to a spinning
  // worker, tens of us to a sleeping one): ~1M multiply-adds of the kernel's padded tiles (a few
  // microseconds), or, for few rows and a large B (the classifier's 1 x 1280 x 1000, bound by
  // streaming B from memory at ~10 GB/s per core), ~128 KiB of B. Do not judge this cut by
  // isolated GEMMs: on their own, AMX GEMMs of 49-196 rows under ~8M multiply-adds gain nothing
  // from a second thread, yet keeping them threaded inside MobileNetV2 is worth ~25 % at 2 threads
  // (1.33 -> 1.74 ms when they ran on one thread): each op then reads rows its own core wrote.
  const size_t b_esz = element_size(k.b_domain);
  const int n_panels = static_cast<int>(ceil_div(N, k.nr));
  int m_panels = static_cast<int>(ceil_div(M, k.mr));
  constexpr double kMinShareMacs = 1024.0 * 1024, kMinShareBBytes = 128.0 * 1024;
  const double padded_macs = static_cast<double>(m_panels) * k.mr * n_panels * k.nr * Kp;
  const double b_bytes = static_cast<double>(Kp) * N * b_esz;
  const double shares = std::max(padded_macs / kMinShareMacs, b_bytes / kMinShareBBytes);
  const int want_threads = std::min(num_threads > 0 ? num_threads : pool.threads(), pool.threads());
  const int threads = std::max(1, std::min(want_threads, static_cast<int>(std::min(shares, 1024.0))));
  // Rows per A panel of a task: the kernel's mr, except for tall-panel kernels without a panel
  // kernel (amx_smallk, 128 rows) on few rows: 196 rows were 128 + 68 (the second thread idle for
  // a third of the op, or stealing and re-packing the first panel); panels of
  // round_up(M / threads, 16) rows (112 + 84) balance them. The kernels take any m <= mr. When
  // M / threads rows fit one panel, each thread gets one panel of ceil(M / threads) rows (98 + 98)
  // and all of N (one task per thread, below): at K <= 64 the time goes to the output stage, which
  // scales with the real rows, and each extra task costs its start (~0.1-0.2 us), the worker's
  // first task more (its A rows and column terms come from the other core's cache). 2 threads
  // 196x384x64 in MobileNetV2: ~9 -> ~8 us (12 tasks of 112 / 84 rows x 64 columns before).
  int mr_task = k.mr;
  bool panel_per_thread = false;
  if (threads > 1 && !k.panel_kernel && k.mr >= 64 && M < 2 * threads * k.mr) {
    const int even = static_cast<int>(ceil_div(M, threads));
    panel_per_thread = even <= k.mr;
    mr_task = panel_per_thread ? even : std::min(k.mr, static_cast<int>(round_up(even, 16)));
    m_panels = static_cast<int>(ceil_div(M, mr_task));
  }
  // A B block of ~kBBlockBytes stays in L2 while up to 256 rows of A panels stream through it.
  const size_t b_panel_bytes = static_cast<size_t>(Kp) * k.nr * b_esz;
  int n_blocks = static_cast<int>(ceil_div(n_panels, std::max<size_t>(1, kBBlockBytes / b_panel_bytes)));
  int m_blocks = static_cast<int>(ceil_div(m_panels, std::max(1, 256 / mr_task)));
  if (threads > 1 && k.panel_kernel && !k.generic_split) {
    // Kernels with a panel kernel (AMX): one A panel per task, N split only as far as it pays.
    m_blocks = m_panels;
    n_blocks = panel_split_n_blocks(M, k.mr, n_panels, n_blocks, static_cast<int>(ceil_div(Kp, a_group(k))), threads);
    // At most one A panel per thread and a wide B (MobileNetV2's 7x7 layers: 49 rows = 32 + 17,
    // N = 320..1280): every thread takes all rows and a 1 / threads share of the columns. Each
    // thread's 16-row tile steps are the same (2 row tiles x all B panels, or 4 x half of them),
    // but the output stage and the A chunks are balanced, where a 32 / 17 row split is not: 2 threads, 49x960x320 17.6 -> 13.1 us, 49x320x1280
    // 21.9 -> 16.8 us, the 49x160x960 expansions ~1-1.5 us faster (per-op medians in the model).
    if (m_panels <= threads && n_panels >= 4 * threads) {
      m_blocks = 1;
      n_blocks = static_cast<int>(round_up(std::max(n_blocks, threads), threads));
    } else if (m_panels == threads && M % k.mr != 0) {
      // One A panel per thread, the last partial (49 rows, B of < 4 panels per thread: 32 + 17):
      // panels of ceil(M / threads) rows (25 + 24) when that takes no more 16-row tile steps,
      // so that the output stage and A chunks are balanced too. 2 threads, MobileNetV2's
      // 49x960x160 projections ~0.3-0.5 us faster (per-op medians).
      const int even = static_cast<int>(ceil_div(M, m_panels));
      auto steps = [&](int rows) {
        int s = 0;
        for (int i0 = 0; i0 < M; i0 += rows) s += static_cast<int>(ceil_div(std::min(rows, M - i0), 16));
        return s;
      };
      if (steps(even) <= steps(k.mr)) mr_task = even;
    }
  } else if (threads > 1) {
    // Tasks are claimed dynamically. With >= 8 tasks per thread of (nearly) equal size, every
    // thread finishes within a small fraction of the others. Split M first (B blocks stay
    // shared by neighbouring tasks), then N.
    const int want = threads * 8;
    if (m_blocks * n_blocks < want) m_blocks = std::min(m_panels, static_cast<int>(ceil_div(want, n_blocks)));
    if (m_blocks * n_blocks < want) n_blocks = std::min(n_panels, static_cast<int>(ceil_div(want, m_blocks)));
    if (panel_per_thread) {
      m_blocks = m_panels;
      n_blocks = 1;
    }
  }
  // Equal-sized blocks (they differ by at most one panel).
  const int mc_panels = static_cast<int>(ceil_div(m_panels, m_blocks));
  const int nc_panels = static_cast<int>(ceil_div(n_panels, n_blocks));
  m_blocks = static_cast<int>(ceil_div(m_panels, mc_panels));
  n_blocks = static_cast<int>(ceil_div(n_panels, nc_panels));
  const size_t a_bytes = a_panel_bytes(k, K);
  const size_t a_in_esz = element_size(args.a_type);
  const bool need_row_sums = ep_call.zb != nullptr;

  // Reuse: when every task covers a single A panel (e.g. GEMV, M <= mr), a thread that runs
  // several tasks of the same panel packs it once per call instead of once per task.
  const uint64_t call = ++g_calls;
  const bool reuse = mc_panels == 1;
  // Task order: neighbouring tasks share a B block (each thread starts on a contiguous range of
  // tasks), or, when a thread reuses its packed A panel across tasks, the same A panel.
  auto task = [&](int t, int /*thread*/) {
    Epilogue ep = ep_call;
    if (terms == nullptr) t_terms.fill(call, B, out, za_dom, ep);
    const int nb = reuse ? t % n_blocks : t / m_blocks, mb = reuse ? t / n_blocks : t % m_blocks;
    Scratch& S = t_scratch;
    uint8_t* apack = S.aligned_a(a_bytes);
    if (S.row_sums.size() < static_cast<size_t>(k.mr)) S.row_sums.resize(k.mr);
    const int p_end = std::min(n_panels, (nb + 1) * nc_panels);
    const int mp_end = std::min(m_panels, (mb + 1) * mc_panels);
    for (int mp = mb * mc_panels; mp < mp_end; ++mp) {
      const int i0 = mp * mr_task;
      const int m = std::min(mr_task, M - i0);
      const uint8_t* a_src = static_cast<const uint8_t*>(args.a) + static_cast<size_t>(i0) * args.lda * a_in_esz;
      bool in_place = false;
      if (!(reuse && S.call == call && S.panel == mp)) {
        int32_t* rs = need_row_sums ? S.row_sums.data() : nullptr;
        in_place = k.in_place_a && k.in_place_a(a_src, args.a_type, m, K, args.lda, apack, rs);
        if (!in_place) pack_a_panel(k, a_src, args.a_type, m, K, args.lda, apack, rs);
        S.call = call;
        S.panel = in_place ? -1 : mp;
      }
      const int p_begin = nb * nc_panels;
      if (k.panel_kernel && p_end > p_begin) {
        const int j0 = p_begin * k.nr;
        Tile tile{m, std::min(k.nr, N - j0), Kp / k.kr, apack, B.panel(j0), S.row_sums.data(), i0, j0};
        if (in_place) {
          tile.a_src = a_src;
          tile.a_lda = args.lda;
          tile.a_type = args.a_type;
          if (mp + 1 < mp_end) {
            tile.a_next = a_src + static_cast<size_t>(k.mr) * args.lda * a_in_esz;
            tile.a_next_rows = std::min(k.mr, M - (i0 + k.mr));
          }
        }
        k.panel_kernel(tile, p_end - p_begin, static_cast<ptrdiff_t>(b_panel_bytes), std::min(N, p_end * k.nr) - j0, ep);
        continue;
      }
      for (int p = p_begin; p < p_end; ++p) {
        const int j0 = p * k.nr;
        Tile tile{m, std::min(k.nr, N - j0), Kp / k.kr, apack, B.panel(j0), S.row_sums.data(), i0, j0};
        if (in_place) {
          tile.a_src = a_src;
          tile.a_lda = args.lda;
          tile.a_type = args.a_type;
        }
        k.ukernel(tile, ep);
      }
    }
  };
  pool.parallel_for(m_blocks * n_blocks, task, threads);
}

void quantize_multiplier(double real, int32_t* multiplier, int* shift, bool single_rounding) {
  requant::quantize_multiplier(real, multiplier, shift, single_rounding);
}

void set_num_threads(int n) { ThreadPool::global().set_threads(n); }
int get_num_threads() { return ThreadPool::global().threads(); }

}  // namespace lowp
