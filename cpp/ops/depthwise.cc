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
  std::vector<int32_t> col_term, mult, shift;
  std::vector<float> scale;
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

void depthwise_conv(const PackedConv& w, const ConvGeometry& g, const void* x, DType x_type, int32_t zx, void* y,
                    const OutputSpec& out, int num_threads) {
  const DwPacked& P = w.dw();
  const DwKernel& K = w.dw_kernel();
  const int Cin = w.Cin(), C = w.Cout(), mult = C / Cin;
  const int KH = w.KH(), KW = w.KW(), taps = KH * KW;
  const int OH = g.OH(), OW = g.OW();
  const bool requant = out.out_type != DType::S32;

  DwCall& T = t_dwcall;
  T.col_term.resize(C);
  for (int c = 0; c < C; ++c) {
    uint32_t v = out.bias.empty() ? 0u : static_cast<uint32_t>(out.bias[c]);
    v -= static_cast<uint32_t>(zx) * static_cast<uint32_t>(P.wsum[c]);
    T.col_term[c] = static_cast<int32_t>(v);
  }
  DwEpilogue ep{};
  ep.out_type = out.out_type;
  ep.rounding = out.rounding;
  ep.zp = requant ? out.zero_point : 0;
  ep.qmin = requant ? out.qmin : 0;
  ep.qmax = requant ? out.qmax : 0;
  ep.col_term = T.col_term.data();
  if (requant) {
    if (out.rounding == Rounding::HalfEven) {
      T.scale.resize(C);
      bool small = true;
      for (int c = 0; c < C; ++c) {
        T.scale[c] = out.scale[out.scale.size() == 1 ? 0 : c];
        small = small && T.scale[c] < 0.5f && T.scale[c] > -0.5f;
      }
      ep.scale = T.scale.data();
      ep.scale_below_half = small;
    } else {
      T.mult.resize(C);
      T.shift.resize(C);
      for (int c = 0; c < C; ++c) {
        const size_t s = out.multiplier.size() == 1 ? 0 : c;
        T.mult[c] = out.multiplier[s];
        T.shift[c] = out.shift[s];
      }
      ep.mult = T.mult.data();
      ep.shift = T.shift.data();
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
  auto task = [&](int r, int /*thread*/) {
    DwScratch& S = t_dw;
    if (S.zrow.size() < static_cast<size_t>(C) || (C > 0 && S.zrow[0] != zbyte)) S.zrow.assign(std::max<size_t>(C, S.zrow.size()), static_cast<uint8_t>(zbyte));
    const uint8_t* zrow = S.zrow.data();
    if (S.ind.size() < static_cast<size_t>(OW) * taps) S.ind.resize(static_cast<size_t>(OW) * taps);
    const int n = r / OH, oh = r % OH;
    const uint8_t* ximg = xin + static_cast<size_t>(n) * g.H * g.W * C;
    if (use_rows) {
      const uint8_t* rp[64];
      for (int kh = 0; kh < KH; ++kh) {
        const int ih = oh * g.sh - g.pt + kh * g.dh;
        rp[kh] = ih >= 0 && ih < g.H ? ximg + static_cast<size_t>(ih) * g.W * C : nullptr;
      }
      DwRowArgs ra{rp, zrow, g.W, OW, g.sw, g.dw, g.pl, x_type,
                   static_cast<uint8_t*>(y) + static_cast<size_t>(r) * OW * C * osz};
      K.run_row(P, ra, ep);
      return;
    }
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
  pool.parallel_for(rows, task, threads);
}

}  // namespace lowp
