// Depthwise convolution: the one kernel table, weight preparation, and the driver (indirection
// rows per output row, channel-multiplier expansion, threads over output rows).
#include <algorithm>
#include <cstring>
#include <string>

#include "ops/conv.h"
#include "ops/depthwise.h"
#include "requant/requant.h"
#include "runtime/thread_pool.h"

namespace lowp {

extern const DwKernel kDwRef;
#if defined(__x86_64__) || defined(_M_X64)
extern const DwKernel kDwAvx2;
extern const DwKernel kDwAvx512;
extern const DwKernel kDwAvx512Vnni;
#endif
#if defined(__aarch64__)
extern const DwKernel kDwNeon;
#endif

namespace {
const DwKernel* const kDwTable[] = {
#if defined(__x86_64__) || defined(_M_X64)
    &kDwAvx512Vnni, &kDwAvx512, &kDwAvx2,
#endif
#if defined(__aarch64__)
    &kDwNeon,
#endif
    &kDwRef,
};

struct DwScratch {
  std::vector<const void*> ind;
  std::vector<uint8_t> zrow;
};
thread_local DwScratch t_dw;

struct DwCall {
  DwTerms terms;              // per-call terms when the caller passed none
  std::vector<uint8_t> xexp;  // channel-multiplier expansion of the input
};
thread_local DwCall t_dwcall;
}  // namespace

std::vector<const DwKernel*> dw_kernels(bool available_only) {
  std::vector<const DwKernel*> v;
  for (const DwKernel* k : kDwTable)
    if (!available_only || k->cpu_supported()) v.push_back(k);
  std::stable_sort(v.begin(), v.end(), [](const DwKernel* a, const DwKernel* b) { return a->priority > b->priority; });
  return v;
}

const DwKernel& select_dw_kernel(const char* name) {
  if (name == nullptr || name[0] == '\0') {
    static const char* env = std::getenv("LOWP_DW_KERNEL");
    if (env && env[0] != '\0') name = env;
  }
  if (name == nullptr || name[0] == '\0') return *dw_kernels(true).front();
  std::string names;
  for (const DwKernel* k : dw_kernels(false)) {
    if (std::strcmp(k->name, name) == 0) {
      LOWP_CHECK(k->cpu_supported(), std::string("depthwise kernel '") + name + "' is not supported by this CPU");
      return *k;
    }
    names += names.empty() ? k->name : std::string(", ") + k->name;
  }
  throw Error(std::string("lowp: unknown depthwise kernel '") + name + "' (compiled: " + names + ")");
}

std::vector<std::string> depthwise_kernel_names(bool available_only) {
  std::vector<std::string> v;
  for (const DwKernel* k : dw_kernels(available_only)) v.emplace_back(k->name);
  return v;
}
std::string default_depthwise_kernel() { return select_dw_kernel(nullptr).name; }

void dw_prepare(DwPacked& p, const void* w, DType w_type, int Cout, int taps, const int32_t* zw, int zw_count) {
  p.C = Cout;
  p.taps = taps;
  p.row_ok = false;
  p.wq.clear();
  p.wn.assign(static_cast<size_t>(taps) * Cout, 0);
  p.wsum.assign(Cout, 0);
  for (int c = 0; c < Cout; ++c) {
    const int32_t z = zw[zw_count == 1 ? 0 : c];
    int32_t s = 0;
    for (int t = 0; t < taps; ++t) {
      const size_t i = static_cast<size_t>(c) * taps + t;  // OHWI with Cg == 1: [c][t]
      const int32_t v = w_type == DType::U8 ? int32_t{static_cast<const uint8_t*>(w)[i]}
                                            : int32_t{static_cast<const int8_t*>(w)[i]};
      p.wn[static_cast<size_t>(t) * Cout + c] = static_cast<int16_t>(v - z);
      s += v - z;
    }
    p.wsum[c] = s;
  }
}

// Straight loops the compiler vectorizes (with a branchy copy the per-call terms took ~1.5 ns per
// channel, 1.8 us of a 7x7x960 layer).
void dw_fill_terms(const DwPacked& P, int32_t zx, const OutputSpec& out, DwTerms& T) {
  const int C = P.C;
  T.col_term.resize(C);
  {
    int32_t* ct = T.col_term.data();
    const int32_t* ws = P.wsum.data();
    const uint32_t uzx = static_cast<uint32_t>(zx);
    if (out.bias.empty()) {
      for (int c = 0; c < C; ++c) ct[c] = static_cast<int32_t>(0u - uzx * static_cast<uint32_t>(ws[c]));
    } else {
      const int32_t* b = out.bias.data();
      for (int c = 0; c < C; ++c)
        ct[c] = static_cast<int32_t>(static_cast<uint32_t>(b[c]) - uzx * static_cast<uint32_t>(ws[c]));
    }
  }
  T.scale.clear();
  T.mult.clear();
  T.shift.clear();
  T.scale_below_half = false;
  if (out.out_type == DType::S32) return;
  if (out.rounding == Rounding::HalfEven) {
    if (out.scale.size() == 1) {
      T.scale.assign(C, out.scale[0]);
    } else {
      T.scale.assign(out.scale.begin(), out.scale.end());
    }
    // |scale| < 0.5 for every channel, on the bits (NaN fails too): an integer loop that
    // vectorizes (a float compare reduction does not without -ffast-math).
    int32_t big = 0;
    const float* sc = T.scale.data();
    for (int c = 0; c < C; ++c) {
      uint32_t b;
      std::memcpy(&b, sc + c, 4);
      big |= static_cast<int32_t>(b & 0x7fffffffu) >= 0x3f000000 ? 1 : 0;  // 0x3f000000 = 0.5f
    }
    T.scale_below_half = big == 0;
  } else if (out.multiplier.size() == 1) {
    T.mult.assign(C, out.multiplier[0]);
    T.shift.assign(C, out.shift[0]);
  } else {
    T.mult.assign(out.multiplier.begin(), out.multiplier.end());
    T.shift.assign(out.shift.begin(), out.shift.end());
  }
}

void depthwise_conv(const PackedConv& w, const ConvGeometry& g, const void* x, DType x_type, int32_t zx, void* y,
                    const OutputSpec& out, int num_threads, const DwTerms* terms) {
  const DwPacked& P = w.dw();
  const DwKernel& K = w.dw_kernel();
  const int Cin = w.Cin(), C = w.Cout(), mult = C / Cin;
  const int KH = w.KH(), KW = w.KW(), taps = KH * KW;
  const int OH = g.OH(), OW = g.OW();
  const bool requant = out.out_type != DType::S32;

  DwCall& T = t_dwcall;
  if (terms == nullptr) {
    dw_fill_terms(P, zx, out, T.terms);
    terms = &T.terms;
  }
  LOWP_CHECK(terms->col_term.size() == static_cast<size_t>(C), "depthwise terms were built for other weights");
  DwEpilogue ep{};
  ep.out_type = out.out_type;
  ep.rounding = out.rounding;
  ep.zp = requant ? out.zero_point : 0;
  ep.qmin = requant ? out.qmin : 0;
  ep.qmax = requant ? out.qmax : 0;
  ep.col_term = terms->col_term.data();
  if (requant) {
    if (out.rounding == Rounding::HalfEven) {
      LOWP_CHECK(terms->scale.size() == static_cast<size_t>(C), "depthwise terms were built for another output spec");
      ep.scale = terms->scale.data();
      ep.scale_below_half = terms->scale_below_half;
    } else {
      LOWP_CHECK(terms->mult.size() == static_cast<size_t>(C) && terms->shift.size() == static_cast<size_t>(C),
                 "depthwise terms were built for another output spec");
      ep.mult = terms->mult.data();
      ep.shift = terms->shift.data();
    }
  }

  // Channel multiplier: expand x so that output channel c reads input channel c (c / mult).
  const size_t xsz = element_size(x_type);  // 1
  const uint8_t* xin = static_cast<const uint8_t*>(x);
  if (mult > 1) {
    const size_t pixels = static_cast<size_t>(g.N) * g.H * g.W;
    if (T.xexp.size() < pixels * C) T.xexp.resize(pixels * C);
    for (size_t p = 0; p < pixels; ++p) {
      const uint8_t* s = xin + p * Cin;
      uint8_t* d = T.xexp.data() + p * C;
      for (int c = 0; c < Cin; ++c) std::memset(d + static_cast<size_t>(c) * mult, s[c], mult);
    }
    xin = T.xexp.data();
  }
  (void)xsz;

  const size_t osz = out.out_type == DType::S32 ? 4 : 1;
  const int rows = g.N * OH;
  ThreadPool& pool = ThreadPool::global();
  const int threads = std::max(1, std::min(num_threads > 0 ? num_threads : pool.threads(), pool.threads()));
  const int zbyte = zx & 0xff;
  const bool use_rows = K.run_row != nullptr && P.row_ok && KH <= 64;
  const bool use_pairs = use_rows && P.pair_ok && KH == 3 && KW == 3 && g.sh == 1 && g.dh == 1;
  const int half = (OH + 1) / 2;  // row pairs per image
  // Tasks: output rows (or row pairs) x channel groups. Small layers (14x14, 7x7) have too few
  // rows for the threads to finish together (7 row pairs on 2 threads: 4 vs 3), so the row
  // kernels also split channels, in blocks of kDwRowChannelBlock, until there are >= 4 tasks per
  // thread (more tasks cost more than the balance gains here: ~0.1 us each). Row-major task
  // order: each thread starts on a contiguous band of rows, as before. Isolated 2-thread
  // 14x14x576 stride-1 layer: 12.8 -> 12.0 us; whole MobileNetV2: within noise.
  const int row_tasks = use_pairs ? g.N * half : rows;
  const int cblocks = static_cast<int>(ceil_div(C, kDwRowChannelBlock));
  int cgroups = 1;
  if (use_rows && threads > 1 && row_tasks < threads * 4)
    cgroups = std::min(cblocks, static_cast<int>(ceil_div(threads * 4, row_tasks)));
  // Row blocks instead, for one image: thread i gets the output rows split_point(OH, i, threads)
  // .. (runtime/thread_pool.h) with all channels, as row pairs plus a last single row (14x14:
  // rows 0-6 and 7-13; 7x7: 0-3 and 4-6). The 1x1 convs around it split the same pixel rows
  // between the threads (nearly: their row panels), so each core reads mostly input rows it wrote
  // itself, where a channel split made each core read part of every row from the other core.
  // Tasks: threads x rb_tasks, block major (the pool's contiguous ranges give thread i block i).
  // MobileNetV2, 2 threads, per-op medians: the 14x14 / 7x7 depthwise layers 0.1-0.6 us faster
  // each, ~9 us per run in all with the 1x1 convs after them.
  constexpr int kMaxRowBlockThreads = 16;
  int rb_tasks = 0;
  int rb_start[kMaxRowBlockThreads + 1] = {};
  if (cgroups > 1 && g.N == 1 && threads <= kMaxRowBlockThreads && OH >= threads) {
    for (int b = 0; b <= threads; ++b) rb_start[b] = static_cast<int>(split_point(OH, b, threads));
    for (int b = 0; b < threads; ++b) {
      const int len = rb_start[b + 1] - rb_start[b];
      rb_tasks = std::max(rb_tasks, use_pairs ? (len + 1) / 2 : len);
    }
    cgroups = 1;
  }
  // Output rows oh0 and, when two, oh0 + 1 of image n (row-pair kernels), channels [cb, ce).
  auto run_pair = [&](int n, int oh0, bool two, int cb, int ce, const uint8_t* zrow) {
    const uint8_t* img = xin + static_cast<size_t>(n) * g.H * g.W * C;
    const uint8_t* rp[4];
    for (int k = 0; k < 4; ++k) {
      const int ih = oh0 - g.pt + k;
      rp[k] = ih >= 0 && ih < g.H ? img + static_cast<size_t>(ih) * g.W * C : nullptr;
    }
    uint8_t* y0 = static_cast<uint8_t*>(y) + (static_cast<size_t>(n) * OH + oh0) * OW * C * osz;
    DwRowArgs ra{rp, two ? 4 : KH, zrow, g.W, OW, g.sw, g.dw, g.pl, x_type, y0,
                 two ? y0 + static_cast<size_t>(OW) * C * osz : nullptr, cb, ce};
    K.run_row(P, ra, ep);
  };
  // Output row r (= n * OH + oh) with the row kernel, channels [cb, ce).
  auto run_one_row = [&](int r, int cb, int ce, const uint8_t* zrow) {
    const int n = r / OH, oh = r % OH;
    const uint8_t* ximg = xin + static_cast<size_t>(n) * g.H * g.W * C;
    const uint8_t* rp[64];
    for (int kh = 0; kh < KH; ++kh) {
      const int ih = oh * g.sh - g.pt + kh * g.dh;
      rp[kh] = ih >= 0 && ih < g.H ? ximg + static_cast<size_t>(ih) * g.W * C : nullptr;
    }
    DwRowArgs ra{rp, KH, zrow, g.W, OW, g.sw, g.dw, g.pl, x_type,
                 static_cast<uint8_t*>(y) + static_cast<size_t>(r) * OW * C * osz, nullptr, cb, ce};
    K.run_row(P, ra, ep);
  };
  auto task = [&](int t, int /*thread*/) {
    DwScratch& S = t_dw;
    if (S.zrow.size() < static_cast<size_t>(C) || (C > 0 && S.zrow[0] != zbyte)) S.zrow.assign(std::max<size_t>(C, S.zrow.size()), static_cast<uint8_t>(zbyte));
    const uint8_t* zrow = S.zrow.data();
    if (rb_tasks > 0) {
      const int b = t / rb_tasks, j = t % rb_tasks, end = rb_start[b + 1];
      if (use_pairs) {
        const int oh0 = rb_start[b] + 2 * j;
        if (oh0 < end) run_pair(0, oh0, oh0 + 1 < end, 0, C, zrow);
      } else {
        const int oh = rb_start[b] + j;
        if (oh < end) run_one_row(oh, 0, C, zrow);
      }
      return;
    }
    const int r = t / cgroups, cg = t % cgroups;
    const int c_begin = cblocks * cg / cgroups * kDwRowChannelBlock;
    const int c_end = std::min(C, cblocks * (cg + 1) / cgroups * kDwRowChannelBlock);
    if (use_pairs) {
      // task r covers output rows 2*(r % half) and the next one of image r / half
      const int oh0 = 2 * (r % half);
      run_pair(r / half, oh0, oh0 + 1 < OH, c_begin, c_end, zrow);
      return;
    }
    if (use_rows) {
      run_one_row(r, c_begin, c_end, zrow);
      return;
    }
    (void)c_end;  // cgroups == 1 without row kernels: c_begin == 0, c_end == C
    if (S.ind.size() < static_cast<size_t>(OW) * taps) S.ind.resize(static_cast<size_t>(OW) * taps);
    const int n = r / OH, oh = r % OH;
    const uint8_t* ximg = xin + static_cast<size_t>(n) * g.H * g.W * C;
    const void** ind = S.ind.data();
    for (int ow = 0; ow < OW; ++ow) {
      for (int kh = 0; kh < KH; ++kh) {
        const int ih = oh * g.sh - g.pt + kh * g.dh;
        for (int kw = 0; kw < KW; ++kw) {
          const int iw = ow * g.sw - g.pl + kw * g.dw;
          const bool inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
          *ind++ = inside ? static_cast<const void*>(ximg + (static_cast<size_t>(ih) * g.W + iw) * C) : zrow;
        }
      }
    }
    uint8_t* yrow = static_cast<uint8_t*>(y) + static_cast<size_t>(r) * OW * C * osz;
    K.run(P, S.ind.data(), OW, x_type, yrow, C, ep);
  };
  pool.parallel_for(rb_tasks > 0 ? threads * rb_tasks : row_tasks * cgroups, task, threads);
}

}  // namespace lowp
