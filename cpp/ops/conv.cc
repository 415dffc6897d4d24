// Conv2D driver: weight prepacking, path selection (depthwise / direct 1x1 GEMM / im2col GEMM),
// groups as GEMMs over channel slices, per-thread workspace that only grows.
#include "ops/conv.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "gemm/kernel.h"
#include "ops/depthwise.h"
#include "ops/im2col.h"
#include "runtime/thread_pool.h"

namespace lowp {

namespace {
constexpr int64_t kIm2colChunkBytes = 1 << 20;  // im2col rows per GEMM call: ~1 MiB of A

int32_t type_min(DType t) { return t == DType::U8 ? 0 : (t == DType::S8 ? -128 : INT32_MIN); }
int32_t type_max(DType t) { return t == DType::U8 ? 255 : (t == DType::S8 ? 127 : INT32_MAX); }

struct ConvScratch {
  std::vector<uint8_t> cols;
};
thread_local ConvScratch t_conv;

int out_size(int in, int k, int s, int d, int p0, int p1) {
  const int64_t eff = static_cast<int64_t>(d) * (k - 1) + 1;
  const int64_t span = static_cast<int64_t>(in) + p0 + p1 - eff;
  if (span < 0) return 0;
  return static_cast<int>(span / s + 1);
}

std::vector<int32_t> slice_i(const std::vector<int32_t>& v, size_t n, size_t off, size_t len) {
  if (v.size() != n) return v;  // empty or per-tensor
  return std::vector<int32_t>(v.begin() + off, v.begin() + off + len);
}
std::vector<float> slice_f(const std::vector<float>& v, size_t n, size_t off, size_t len) {
  if (v.size() != n) return v;
  return std::vector<float>(v.begin() + off, v.begin() + off + len);
}
}  // namespace

int ConvGeometry::OH() const { return out_size(H, KH, sh, dh, pt, pb); }
int ConvGeometry::OW() const { return out_size(W, KW, sw, dw, pl, pr); }

PackedConv::PackedConv(const void* w, DType w_type, int Cout, int KH, int KW, int Cg, int group, const int32_t* zw,
                       int zw_count, const char* gemm_kernel, const char* dw_kernel)
    : Cout_(Cout), KH_(KH), KW_(KW), Cg_(Cg), group_(group), w_type_(w_type) {
  LOWP_CHECK(w_type == DType::U8 || w_type == DType::S8, "conv weights must be uint8 or int8");
  LOWP_CHECK(w != nullptr, "conv weights are null");
  LOWP_CHECK(Cout >= 1 && KH >= 1 && KW >= 1 && Cg >= 1, "conv weights must have positive dimensions");
  LOWP_CHECK(group >= 1, "group must be >= 1");
  LOWP_CHECK(Cout % group == 0, "output channels (" + std::to_string(Cout) + ") must be divisible by group (" +
                                    std::to_string(group) + ")");
  LOWP_CHECK(zw_count == 1 || zw_count == Cout, "weight zero point must have 1 or Cout entries");
  LOWP_CHECK(static_cast<int64_t>(KH) * KW * Cg <= INT32_MAX / 2, "conv reduction is too large");
  for (int i = 0; i < zw_count; ++i)
    LOWP_CHECK(zw[i] >= type_min(w_type) && zw[i] <= type_max(w_type),
               std::string("weight zero point out of range for ") + dtype_name(w_type));
  const int OCg = Cout / group;
  if (Cg == 1 && group > 1) {
    // Depthwise (group == Cin), any channel multiplier OCg.
    dwk_ = &select_dw_kernel(dw_kernel);
    dw_.reset(new DwPacked());
    dw_prepare(*dw_, w, w_type, Cout, KH * KW, zw, zw_count);
    dw_->KH = KH;
    dw_->KW = KW;
    dwk_->pack(*dw_);
    return;
  }
  const int Kg = KH * KW * Cg;
  const GemmKernel& k = select_kernel_for(gemm_kernel, Kg);
  std::vector<uint8_t> bt(static_cast<size_t>(Kg) * OCg);
  std::vector<int32_t> zg(OCg);
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  for (int g = 0; g < group; ++g) {
    // B[k][o] = w[g*OCg + o][k] (OHWI rows are the K columns of B).
    for (int o = 0; o < OCg; ++o) {
      const uint8_t* src = wb + static_cast<size_t>(g * OCg + o) * Kg;
      for (int kk = 0; kk < Kg; ++kk) bt[static_cast<size_t>(kk) * OCg + o] = src[kk];
      zg[o] = zw[zw_count == 1 ? 0 : g * OCg + o];
    }
    b_.emplace_back(new PackedB(k, bt.data(), w_type, Kg, OCg, OCg, zg.data(), OCg));
  }
}

PackedConv::~PackedConv() = default;

const char* PackedConv::kernel_name() const { return dw_ ? dwk_->name : b_[0]->kernel().name; }

size_t PackedConv::packed_bytes() const {
  if (dw_) return (dw_->wn.size() + dw_->wp.size()) * 2 + dw_->wsum.size() * 4;
  size_t s = 0;
  for (const auto& b : b_) s += b->packed_bytes();
  return s;
}

namespace {
// The slice of `out` for group gi of G (OCg columns each).
OutputSpec group_slice(const OutputSpec& out, int Cout, int G, int gi) {
  const int OCg = Cout / G;
  OutputSpec sg;
  sg.out_type = out.out_type;
  sg.rounding = out.rounding;
  sg.zero_point = out.zero_point;
  sg.qmin = out.qmin;
  sg.qmax = out.qmax;
  sg.bias = slice_i(out.bias, Cout, static_cast<size_t>(gi) * OCg, OCg);
  sg.multiplier = slice_i(out.multiplier, Cout, static_cast<size_t>(gi) * OCg, OCg);
  sg.shift = slice_i(out.shift, Cout, static_cast<size_t>(gi) * OCg, OCg);
  sg.scale = slice_f(out.scale, Cout, static_cast<size_t>(gi) * OCg, OCg);
  return sg;
}
// The per-channel parameter vectors of a requantizing spec have 1 or Cout entries (multiplier and shift alike).
void check_param_sizes(const OutputSpec& out, int Cout) {
  if (out.rounding == Rounding::HalfEven) {
    LOWP_CHECK(out.scale.size() == 1 || out.scale.size() == static_cast<size_t>(Cout),
               "scale must have 1 or Cout entries");
  } else {
    LOWP_CHECK(out.multiplier.size() == out.shift.size() &&
                   (out.multiplier.size() == 1 || out.multiplier.size() == static_cast<size_t>(Cout)),
               "multiplier and shift must both have 1 or Cout entries");
  }
}
}  // namespace

ConvTerms::ConvTerms(const PackedConv& w, DType x_type, int32_t zx, const OutputSpec& out)
    : w_(&w), x_type_(x_type), zx_(zx), out_type_(out.out_type), rounding_(out.rounding), bias_n_(out.bias.size()),
      mult_n_(out.multiplier.size()), scale_n_(out.scale.size()) {
  const int Cout = w.Cout(), G = w.group();
  LOWP_CHECK(x_type == DType::U8 || x_type == DType::S8, "conv input must be uint8 or int8");
  LOWP_CHECK(zx >= type_min(x_type) && zx <= type_max(x_type),
             std::string("input zero point out of range for ") + dtype_name(x_type));
  LOWP_CHECK(out.bias.empty() || out.bias.size() == static_cast<size_t>(Cout), "bias must have Cout entries");
  if (out.out_type != DType::S32) check_param_sizes(out, Cout);
  if (w.depthwise()) {
    dw_.reset(new DwTerms());
    dw_fill_terms(w.dw(), zx, out, *dw_);
    return;
  }
  if (G > 1)
    for (int gi = 0; gi < G; ++gi) specs_.push_back(group_slice(out, Cout, G, gi));
  for (int gi = 0; gi < G; ++gi)
    gemm_.emplace_back(new GemmTerms(w.group_b(gi), x_type, zx, G > 1 ? specs_[gi] : out));
}

ConvTerms::~ConvTerms() = default;

void ConvTerms::check(const PackedConv& w, DType x_type, int32_t zx, const OutputSpec& out) const {
  LOWP_CHECK(&w == w_ && x_type == x_type_ && zx == zx_, "conv terms were built for other weights, input type or zero point");
  LOWP_CHECK(out.out_type == out_type_ && out.rounding == rounding_ && out.bias.size() == bias_n_ &&
                 out.multiplier.size() == mult_n_ && out.scale.size() == scale_n_,
             "conv terms were built for another output spec");
}

void conv2d(const PackedConv& w, const ConvGeometry& g, const void* x, DType x_type, int32_t zx, void* y,
            const OutputSpec& out, int num_threads, const ConvTerms* terms) {
  const int Cout = w.Cout(), Cin = w.Cin(), Cg = w.Cg(), G = w.group(), OCg = Cout / G;
  LOWP_CHECK(x_type == DType::U8 || x_type == DType::S8, "conv input must be uint8 or int8");
  LOWP_CHECK(zx >= type_min(x_type) && zx <= type_max(x_type),
             std::string("input zero point out of range for ") + dtype_name(x_type));
  LOWP_CHECK(g.KH == w.KH() && g.KW == w.KW(), "kernel shape does not match the packed weights");
  LOWP_CHECK(g.N >= 1 && g.H >= 1 && g.W >= 1, "conv input must have N, H, W >= 1");
  LOWP_CHECK(g.sh >= 1 && g.sw >= 1, "strides must be >= 1");
  LOWP_CHECK(g.dh >= 1 && g.dw >= 1, "dilations must be >= 1");
  LOWP_CHECK(g.pt >= 0 && g.pl >= 0 && g.pb >= 0 && g.pr >= 0, "pads must be >= 0");
  const int OH = g.OH(), OW = g.OW();
  LOWP_CHECK(OH >= 1 && OW >= 1, "the (dilated) kernel is larger than the padded input: empty output");
  LOWP_CHECK(x != nullptr && y != nullptr, "conv input/output is null");
  LOWP_CHECK(out.out_type == DType::S32 || out.out_type == DType::U8 || out.out_type == DType::S8,
             "output type must be int32, uint8 or int8");
  LOWP_CHECK(out.bias.empty() || out.bias.size() == static_cast<size_t>(Cout), "bias must have Cout entries");
  const bool requant = out.out_type != DType::S32;
  if (requant) {
    LOWP_CHECK(out.qmin >= type_min(out.out_type) && out.qmax <= type_max(out.out_type) && out.qmin <= out.qmax,
               "activation range must lie inside the output type and have min <= max");
    LOWP_CHECK(out.zero_point >= type_min(out.out_type) && out.zero_point <= type_max(out.out_type),
               "output zero point out of range for the output type");
    check_param_sizes(out, Cout);
    if (out.rounding != Rounding::HalfEven) {
      for (size_t i = 0; i < out.multiplier.size(); ++i) {
        LOWP_CHECK(out.multiplier[i] >= 0, "multiplier must be >= 0");
        LOWP_CHECK(out.shift[i] >= -31 && out.shift[i] <= 30, "shift must be in [-31, 30]");
      }
    }
  }
  if (terms != nullptr) terms->check(w, x_type, zx, out);
  if (w.depthwise()) {
    depthwise_conv(w, g, x, x_type, zx, y, out, num_threads, terms ? &terms->dw() : nullptr);
    return;
  }
  const int64_t M = static_cast<int64_t>(g.N) * OH * OW;
  LOWP_CHECK(M <= INT32_MAX, "conv output is too large");
  const size_t osz = requant ? 1 : 4;
  const bool direct = w.KH() == 1 && w.KW() == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 &&
                      g.pb == 0 && g.pr == 0;
  const int Kg = w.KH() * w.KW() * Cg;
  ThreadPool& pool = ThreadPool::global();
  const int threads = std::max(1, std::min(num_threads > 0 ? num_threads : pool.threads(), pool.threads()));
  for (int gi = 0; gi < G; ++gi) {
    OutputSpec sg;
    const OutputSpec* spec = &out;
    if (G > 1) {
      if (terms != nullptr) {
        spec = &terms->group_spec(gi);
      } else {
        sg = group_slice(out, Cout, G, gi);
        spec = &sg;
      }
    }
    const GemmTerms* gt = terms ? &terms->group(gi) : nullptr;
    GemmArgs a;
    a.a_type = x_type;
    a.za = zx;
    a.ldc = Cout;
    uint8_t* yg = static_cast<uint8_t*>(y) + static_cast<size_t>(gi) * OCg * osz;
    if (direct) {
      a.M = static_cast<int>(M);
      a.a = static_cast<const uint8_t*>(x) + static_cast<size_t>(gi) * Cg;
      a.lda = Cin;
      a.c = yg;
      gemm(a, w.group_b(gi), *spec, num_threads, gt);
      continue;
    }
    int64_t mc = std::max<int64_t>(16, kIm2colChunkBytes / Kg);
    mc = std::min(mc, M);
    const int mr = w.group_b(gi).kernel().mr;
    if (threads > 1 && M >= static_cast<int64_t>(threads) * 8 * mr) {
      // Enough rows for every thread: one task = im2col of a block of rows into the thread's own
      // buffer + the single-threaded GEMM of those rows. One pool round instead of two per chunk,
      // and the im2col rows are consumed from the cache of the core that wrote them.
      const int64_t want = static_cast<int64_t>(threads) * 8;  // blocks differ by < 1/8 of a thread's share
      int64_t rb = (M + want - 1) / want;
      rb = std::min(mc, (rb + mr - 1) / mr * mr);
      const int tasks = static_cast<int>((M + rb - 1) / rb);
      pool.parallel_for(tasks, [&](int t, int /*thread*/) {
        const int64_t r0 = rb * t, m = std::min(rb, M - r0);
        ConvScratch& S = t_conv;
        if (S.cols.size() < static_cast<size_t>(m * Kg)) S.cols.resize(static_cast<size_t>(m * Kg));
        im2col_nhwc(static_cast<const uint8_t*>(x), g, Cin, gi * Cg, Cg, w.KH(), w.KW(), static_cast<uint8_t>(zx & 0xff),
                    r0, m, S.cols.data(), Kg);
        GemmArgs at = a;
        at.M = static_cast<int>(m);
        at.a = S.cols.data();
        at.lda = Kg;
        at.c = yg + static_cast<size_t>(r0) * Cout * osz;
        gemm(at, w.group_b(gi), *spec, 1, gt);
      }, threads);
      continue;
    }
    ConvScratch& S = t_conv;
    if (S.cols.size() < static_cast<size_t>(mc * Kg)) S.cols.resize(static_cast<size_t>(mc * Kg));
    for (int64_t m0 = 0; m0 < M; m0 += mc) {
      const int64_t m = std::min(mc, M - m0);
      if (threads > 1 && m >= 64) {
        // Split the im2col rows over the pool (the GEMM below is threaded too).
        const int tasks = threads * 2;
        uint8_t* cols = S.cols.data();
        pool.parallel_for(tasks, [&](int t, int /*thread*/) {
          const int64_t r0 = m * t / tasks, r1 = m * (t + 1) / tasks;
          if (r1 > r0)
            im2col_nhwc(static_cast<const uint8_t*>(x), g, Cin, gi * Cg, Cg, w.KH(), w.KW(),
                        static_cast<uint8_t>(zx & 0xff), m0 + r0, r1 - r0, cols + r0 * Kg, Kg);
        }, threads);
      } else {
        im2col_nhwc(static_cast<const uint8_t*>(x), g, Cin, gi * Cg, Cg, w.KH(), w.KW(), static_cast<uint8_t>(zx & 0xff),
                    m0, m, S.cols.data(), Kg);
      }
      a.M = static_cast<int>(m);
      a.a = S.cols.data();
      a.lda = Kg;
      a.c = yg + static_cast<size_t>(m0) * Cout * osz;
      gemm(a, w.group_b(gi), *spec, num_threads, gt);
    }
  }
}

}  // namespace lowp
