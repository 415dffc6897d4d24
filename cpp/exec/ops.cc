// Native executor ops (exec/ops.h): thin bound calls of the kernels in cpp/gemm and cpp/ops.
#include "exec/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "ops/float_glue.h"
#include "ops/layout.h"
#include "ops/pool.h"
#include "ops/quantize.h"
#include "ops/softmax.h"
#include "runtime/thread_pool.h"

namespace lowp {
namespace exec {

namespace {

class ConvOp final : public Op {
 public:
  // The output stage's column terms are fixed by the weights, zx and spec: built here, once.
  ConvOp(std::shared_ptr<const PackedConv> w, const ConvGeometry& g, DType xt, int32_t zx, OutputSpec spec, int nt)
      : w_(std::move(w)), g_(g), xt_(xt), zx_(zx), spec_(std::move(spec)), nt_(nt), terms_(*w_, xt_, zx_, spec_) {}
  void run(const void* const* in, void* const* out) const override {
    conv2d(*w_, g_, in[0], xt_, zx_, out[0], spec_, nt_, &terms_);
  }
  int threads() const override { return nt_; }

 private:
  std::shared_ptr<const PackedConv> w_;
  ConvGeometry g_;
  DType xt_;
  int32_t zx_;
  OutputSpec spec_;
  int nt_;
  ConvTerms terms_;
};

class OrtFloatConvFinishOp final : public Op {
 public:
  OrtFloatConvFinishOp(std::shared_ptr<const ops::OrtFloatConv> p, int64_t pixels, int nt)
      : p_(std::move(p)), pixels_(pixels), nt_(nt) {}
  void run(const void* const* in, void* const* out) const override {
    ops::ort_float_conv_finish(*p_, static_cast<const int32_t*>(in[0]), in[1], out[0], pixels_, nt_);
  }

 private:
  std::shared_ptr<const ops::OrtFloatConv> p_;
  int64_t pixels_;
  int nt_;
};

class OrtFloatConv1x1Op final : public Op {
 public:
  OrtFloatConv1x1Op(std::shared_ptr<const ops::OrtFloatConv> p, std::shared_ptr<const PackedConv> w, int64_t pixels,
                    int nt)
      : p_(std::move(p)), w_(std::move(w)), pixels_(pixels), nt_(nt) {}
  void run(const void* const* in, void* const* out) const override {
    ops::ort_float_conv_1x1(*p_, *w_, in[0], out[0], pixels_, nt_);
  }

 private:
  std::shared_ptr<const ops::OrtFloatConv> p_;
  std::shared_ptr<const PackedConv> w_;
  int64_t pixels_;
  int nt_;
};

class OrtFloatDepthwiseOp final : public Op {
 public:
  OrtFloatDepthwiseOp(std::shared_ptr<const ops::OrtFloatConv> p, int64_t pixels, int nt)
      : p_(std::move(p)), pixels_(pixels), nt_(nt) {}
  void run(const void* const* in, void* const* out) const override {
    ops::ort_float_depthwise(*p_, in[0], out[0], pixels_, nt_);
  }

 private:
  std::shared_ptr<const ops::OrtFloatConv> p_;
  int64_t pixels_;
  int nt_;
};

class OrtFloatDirectOp final : public Op {
 public:
  OrtFloatDirectOp(std::shared_ptr<const ops::OrtFloatConv> p, int64_t pixels, int nt)
      : p_(std::move(p)), pixels_(pixels), nt_(nt) {}
  void run(const void* const* in, void* const* out) const override {
    ops::ort_float_direct(*p_, in[0], out[0], pixels_, nt_);
  }

 private:
  std::shared_ptr<const ops::OrtFloatConv> p_;
  int64_t pixels_;
  int nt_;
};

class OrtFloatBinaryOp final : public Op {
 public:
  OrtFloatBinaryOp(std::vector<int64_t> as, std::vector<int64_t> bs, DType t, const ops::OrtFloatBinary& k, int nt)
      : as_(std::move(as)), bs_(std::move(bs)), t_(t), k_(k), nt_(nt) {}
  void run(const void* const* in, void* const* out) const override {
    ops::ort_float_binary(as_, bs_, in[0], in[1], out[0], t_, k_, "", nt_);
  }

 private:
  std::vector<int64_t> as_, bs_;
  DType t_;
  ops::OrtFloatBinary k_;
  int nt_;
};

class GemmOp final : public Op {
 public:
  // dynamic_za: the activation zero point is in[1] (one element of the activation type, computed at run time by
  // DynamicQuantizeLinear): the column terms, which depend on it, are then computed per call.
  GemmOp(std::shared_ptr<const PackedB> b, int M, DType at, int32_t za, OutputSpec spec, int nt, bool dynamic_za = false)
      : b_(std::move(b)), M_(M), at_(at), za_(za), spec_(std::move(spec)), nt_(nt), terms_(*b_, at_, za_, spec_),
        dynamic_za_(dynamic_za) {}
  void run(const void* const* in, void* const* out) const override {
    GemmArgs a;
    a.M = M_;
    a.a = in[0];
    a.a_type = at_;
    a.lda = b_->K();
    a.za = za_;
    a.c = out[0];
    a.ldc = b_->N();
    if (dynamic_za_) {
      a.za = at_ == DType::U8 ? int32_t{*static_cast<const uint8_t*>(in[1])} : int32_t{*static_cast<const int8_t*>(in[1])};
      gemm(a, *b_, spec_, nt_);
      return;
    }
    gemm(a, *b_, spec_, nt_, &terms_);
  }
  int threads() const override { return nt_; }

 private:
  std::shared_ptr<const PackedB> b_;
  int M_;
  DType at_;
  int32_t za_;
  OutputSpec spec_;
  int nt_;
  GemmTerms terms_;
  bool dynamic_za_;
};

class BinaryOp final : public Op {
 public:
  BinaryOp(const ops::BroadcastShape& bs, std::vector<uint8_t> table, int nt)
      : bs_(bs), t_(DType::U8), nt_(nt), table_(std::move(table)) {}
  BinaryOp(const ops::BroadcastShape& bs, DType t, const ops::BinaryParams& p, int nt) : bs_(bs), t_(t), p_(p), nt_(nt) {
    if (p.rounding != Rounding::HalfEven) {
      // TFLite's fixed point costs ~8 ns an element in scalar code; a 64 KiB table of every pair of bytes,
      // built from the same functions, gives the same bits at a load and a store per element.
      table_.resize(65536);
      ops::build_binary_table(t, p, table_.data());
    }
  }
  void run(const void* const* in, void* const* out) const override {
    if (!table_.empty()) {
      ops::binary_table(bs_, in[0], in[1], out[0], table_.data(), nt_);
      return;
    }
    ops::binary_op(bs_, in[0], in[1], out[0], t_, p_, nt_);
  }
  int threads() const override { return nt_; }

 private:
  ops::BroadcastShape bs_;
  DType t_;
  ops::BinaryParams p_;
  int nt_;
  std::vector<uint8_t> table_;
};

class FloatBinaryOp final : public Op {
 public:
  FloatBinaryOp(const ops::BroadcastShape& bs, ops::FloatBinaryOp op) : bs_(bs), op_(op) {}
  void run(const void* const* in, void* const* out) const override {
    ops::float_binary(bs_, static_cast<const float*>(in[0]), static_cast<const float*>(in[1]),
                      static_cast<float*>(out[0]), op_);
  }

 private:
  ops::BroadcastShape bs_;
  ops::FloatBinaryOp op_;
};

class FloatMeanOp final : public Op {
 public:
  FloatMeanOp(int64_t outer, int64_t len, int64_t inner) : outer_(outer), len_(len), inner_(inner) {}
  void run(const void* const* in, void* const* out) const override {
    ops::float_mean_axis(static_cast<const float*>(in[0]), static_cast<float*>(out[0]), outer_, len_, inner_);
  }

 private:
  int64_t outer_, len_, inner_;
};

class LutOp final : public Op {
 public:
  LutOp(const uint8_t* t, int64_t n, int nt) : n_(n), nt_(nt) { std::memcpy(table_, t, 256); }
  void run(const void* const* in, void* const* out) const override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    // >= 256K bytes per task (~12 us: the VBMI kernel does ~20 bytes / ns; 188K bytes measured 3.8 us on one
    // thread, 8.2 us split in two: waking the other thread costs more); slices of whole 64-byte blocks
    constexpr int64_t kMin = 256 * 1024;
    const int nt = nt_ <= 0 ? ThreadPool::global().threads() : nt_;
    const int64_t units = (n_ + 63) / 64;
    const int tasks = static_cast<int>(std::min<int64_t>(2 * nt, n_ / kMin));
    if (nt <= 1 || tasks <= 1) return ops::lut_apply(x, table_, y, n_);
    ThreadPool::global().parallel_for(tasks, [&](int t, int) {
      const int64_t a = std::min(n_, units * t / tasks * 64), b = std::min(n_, units * (t + 1) / tasks * 64);
      if (b > a) ops::lut_apply(x + a, table_, y + a, b - a);
    }, nt);
  }

 private:
  alignas(64) uint8_t table_[256];
  int64_t n_;
  int nt_;
};

class LutChannelsOp final : public Op {
 public:
  LutChannelsOp(std::vector<uint8_t> tables, int64_t rows, int64_t C) : t_(std::move(tables)), rows_(rows), C_(C) {}
  void run(const void* const* in, void* const* out) const override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    uint8_t* y = static_cast<uint8_t*>(out[0]);
    for (int64_t r = 0; r < rows_; ++r, x += C_, y += C_)
      for (int64_t c = 0; c < C_; ++c) y[c] = t_[static_cast<size_t>(c) * 256 + x[c]];
  }

 private:
  std::vector<uint8_t> t_;
  int64_t rows_, C_;
};

class PoolOp final : public Op {
 public:
  PoolOp(const ops::Pool2D& g, DType t, PoolMode mode, const AvgPoolParams& p) : g_(g), t_(t), mode_(mode), p_(p) {}
  void run(const void* const* in, void* const* out) const override {
    switch (mode_) {
      case PoolMode::kMax: ops::max_pool(g_, in[0], out[0], t_); break;
      case PoolMode::kAverage:
        ops::avg_pool_float(g_, in[0], out[0], t_, p_.x_scale, p_.x_zp, p_.y_scale, p_.y_zp, p_.count_include_pad);
        break;
      case PoolMode::kGlobalMlas:
        ops::global_avg_pool_mlas(g_, in[0], out[0], t_, p_.x_scale, p_.x_zp, p_.y_scale, p_.y_zp);
        break;
      case PoolMode::kAverageInt:
        ops::avg_pool_int(g_, in[0], out[0], t_, p_.x_zp, p_.count_include_pad, p_.qmin, p_.qmax);
        break;
      case PoolMode::kAverageS8AsU8:  // int8 through onnxruntime's s8->u8 QDQ rewrite (ops/pool.h)
        ops::avg_pool_float(g_, in[0], out[0], t_, p_.x_scale, p_.x_zp, p_.y_scale, p_.y_zp, p_.count_include_pad,
                            true);
        break;
      case PoolMode::kOrtFloatRows:
      case PoolMode::kOrtFloatColumns:
      case PoolMode::kOrtFloatLanes4:
        ops::avg_pool_ort_float(g_, in[0], out[0], t_, p_.x_scale, p_.x_zp, p_.y_scale, p_.y_zp,
                                p_.count_include_pad, ort_float_order(mode_));
        break;
    }
  }
  static ops::PoolSumOrder ort_float_order(PoolMode m) {
    return m == PoolMode::kOrtFloatRows      ? ops::PoolSumOrder::kRows
           : m == PoolMode::kOrtFloatColumns ? ops::PoolSumOrder::kColumns
                                             : ops::PoolSumOrder::kLanes4;
  }

 private:
  ops::Pool2D g_;
  DType t_;
  PoolMode mode_;
  AvgPoolParams p_;
};

class QuantizeNhwcOp final : public Op {
 public:
  QuantizeNhwcOp(int64_t N, int64_t C, int64_t HW, DType yt, float s, int32_t z, int nt)
      : N_(N), C_(C), HW_(HW), yt_(yt), s_(s), z_(z), nt_(nt) {}
  void run(const void* const* in, void* const* out) const override {
    ops::quantize_nchw_to_nhwc(static_cast<const float*>(in[0]), out[0], yt_, N_, C_, HW_, s_, z_, nt_);
  }
  int threads() const override { return nt_; }

 private:
  int64_t N_, C_, HW_;
  DType yt_;
  float s_;
  int32_t z_;
  int nt_;
};

class QuantizeOp final : public Op {
 public:
  QuantizeOp(bool dequant, int64_t outer, int64_t len, int64_t inner, DType t, std::vector<float> s,
             std::vector<int32_t> z)
      : dq_(dequant), outer_(outer), len_(len), inner_(inner), t_(t), s_(std::move(s)), z_(std::move(z)) {}
  void run(const void* const* in, void* const* out) const override {
    const int64_t cnt = static_cast<int64_t>(s_.size());
    if (dq_)
      ops::dequantize_linear(in[0], t_, static_cast<float*>(out[0]), outer_, len_, inner_, s_.data(), z_.data(), cnt);
    else
      ops::quantize_linear(static_cast<const float*>(in[0]), out[0], t_, outer_, len_, inner_, s_.data(), z_.data(),
                           cnt);
  }

 private:
  bool dq_;
  int64_t outer_, len_, inner_;
  DType t_;
  std::vector<float> s_;
  std::vector<int32_t> z_;
};

class TransposeOp final : public Op {
 public:
  // Output dims d (row-major) read the input with stride istride_[d] (elements).
  TransposeOp(const std::vector<int64_t>& shape, const std::vector<int>& perm, size_t esz) : esz_(esz) {
    const int nd = static_cast<int>(shape.size());
    std::vector<int64_t> in_stride(static_cast<size_t>(nd), 1);
    for (int d = nd - 2; d >= 0; --d) in_stride[static_cast<size_t>(d)] = in_stride[static_cast<size_t>(d + 1)] * shape[static_cast<size_t>(d + 1)];
    for (int d = 0; d < nd; ++d) {
      oshape_.push_back(shape[static_cast<size_t>(perm[static_cast<size_t>(d)])]);
      istride_.push_back(in_stride[static_cast<size_t>(perm[static_cast<size_t>(d)])]);
    }
    total_ = 1;
    for (int64_t v : oshape_) total_ *= v;
  }
  void run(const void* const* in, void* const* out) const override {
    switch (esz_) {
      case 1: go<uint8_t>(in[0], out[0]); break;
      case 2: go<uint16_t>(in[0], out[0]); break;
      case 4: go<uint32_t>(in[0], out[0]); break;
      default: go<uint64_t>(in[0], out[0]); break;
    }
  }

 private:
  template <typename T>
  void go(const void* x, void* y) const {
    const T* src = static_cast<const T*>(x);
    T* dst = static_cast<T*>(y);
    if (total_ == 0) return;
    const int nd = static_cast<int>(oshape_.size());
    if (nd == 0) {
      dst[0] = src[0];
      return;
    }
    int64_t idx[kMaxRank] = {};
    const int64_t inner = oshape_[static_cast<size_t>(nd - 1)], is = istride_[static_cast<size_t>(nd - 1)];
    const int64_t rows = total_ / inner;
    int64_t base = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const T* s = src + base;
      for (int64_t i = 0; i < inner; ++i) dst[i] = s[i * is];
      dst += inner;
      // advance the outer index (dims nd-2 .. 0)
      for (int d = nd - 2; d >= 0; --d) {
        const size_t du = static_cast<size_t>(d);
        base += istride_[du];
        if (++idx[d] < oshape_[du]) break;
        base -= istride_[du] * oshape_[du];
        idx[d] = 0;
      }
    }
  }
  static constexpr int kMaxRank = 8;
  std::vector<int64_t> oshape_, istride_;
  int64_t total_ = 0;
  size_t esz_;
};

class SoftmaxOp final : public Op {
 public:
  SoftmaxOp(int64_t rows, int64_t D, DType t, float xs, float ys, int32_t yz) : rows_(rows), D_(D), t_(t), ys_(ys), yz_(yz) {
    ops::softmax_ort_table(xs, D, t == DType::S8, table_);
  }
  void run(const void* const* in, void* const* out) const override {
    ops::qlinear_softmax_ort(in[0], out[0], t_, rows_, D_, table_, ys_, yz_);
  }

 private:
  int64_t rows_, D_;
  DType t_;
  float ys_;
  int32_t yz_;
  float table_[256];
};

class SoftmaxTfliteOp final : public Op {
 public:
  SoftmaxTfliteOp(int64_t rows, int64_t D, DType t, float xs, float beta, bool single)
      : rows_(rows), D_(D), t_(t), tables_(ops::tflite_softmax_tables(xs, beta, single)) {}
  void run(const void* const* in, void* const* out) const override {
    ops::tflite_softmax(in[0], out[0], t_, rows_, D_, tables_);
  }

 private:
  int64_t rows_, D_;
  DType t_;
  ops::TfliteSoftmaxTables tables_;
};

class MeanTfliteOp final : public Op {
 public:
  MeanTfliteOp(int64_t outer, int64_t len, int64_t inner, DType t, int32_t xz, int32_t m, int sh, int32_t yz)
      : outer_(outer), len_(len), inner_(inner), t_(t), xz_(xz), m_(m), sh_(sh), yz_(yz) {}
  void run(const void* const* in, void* const* out) const override {
    ops::mean_tflite(in[0], out[0], t_, outer_, len_, inner_, xz_, m_, sh_, yz_);
  }

 private:
  int64_t outer_, len_, inner_;
  DType t_;
  int32_t xz_, m_;
  int sh_;
  int32_t yz_;
};

class BatchMatMulOp final : public Op {
 public:
  BatchMatMulOp(const GemmKernel& k, BatchMatMulParams p, OutputSpec spec, int nt)
      : k_(k), p_(std::move(p)), spec_(std::move(spec)), nt_(nt) {}
  void run(const void* const* in, void* const* out) const override {
    const int M = p_.M, K = p_.K, N = p_.N;
    const auto* lhs = static_cast<const uint8_t*>(in[0]);
    const auto* rhs = static_cast<const uint8_t*>(in[1]);
    auto* y = static_cast<uint8_t*>(out[0]);
    const size_t osz = spec_.out_type == DType::S32 ? 4 : 1;
    std::vector<uint8_t> at(p_.adj_x ? static_cast<size_t>(M) * K : 0);
    for (size_t b = 0; b < p_.lhs_index.size(); ++b) {
      const uint8_t* A = lhs + p_.lhs_index[b] * M * K;
      if (p_.adj_x) {  // K x M -> M x K
        for (int k = 0; k < K; ++k)
          for (int i = 0; i < M; ++i) at[static_cast<size_t>(i) * K + k] = A[static_cast<size_t>(k) * M + i];
        A = at.data();
      }
      // adj_y: the block is N x K, B^T, packed as such
      const PackedB pb(k_, rhs + p_.rhs_index[b] * K * N, p_.b_type, K, N, p_.adj_y ? K : N, &p_.zb, 1, p_.adj_y);
      GemmArgs a;
      a.M = M;
      a.a = A;
      a.a_type = p_.a_type;
      a.lda = K;
      a.za = p_.za;
      a.c = y + b * static_cast<size_t>(M) * N * osz;
      a.ldc = N;
      gemm(a, pb, spec_, nt_);
    }
  }
  int threads() const override { return nt_; }

 private:
  const GemmKernel& k_;
  BatchMatMulParams p_;
  OutputSpec spec_;
  int nt_;
};

class DynamicQuantizeOp final : public Op {
 public:
  explicit DynamicQuantizeOp(int64_t n) : n_(n) {}
  void run(const void* const* in, void* const* out) const override {
    ops::dynamic_quantize_linear(static_cast<const float*>(in[0]), n_, static_cast<uint8_t*>(out[0]),
                                 static_cast<float*>(out[1]), static_cast<uint8_t*>(out[2]));
  }

 private:
  int64_t n_;
};

class GatherRowsOp final : public Op {
 public:
  GatherRowsOp(int64_t outer, int64_t n, int64_t inner, int64_t n_idx, bool idx64)
      : outer_(outer), n_(n), inner_(inner), n_idx_(n_idx), idx64_(idx64) {}
  void run(const void* const* in, void* const* out) const override {
    const auto* p = static_cast<const uint8_t*>(in[0]);
    auto* y = static_cast<uint8_t*>(out[0]);
    for (int64_t k = 0; k < n_idx_; ++k) {  // every index checked before any copy
      const int64_t i = index(in[1], k);
      if (i < 0 || i >= n_)
        throw Error("lowp: GATHER index " + std::to_string(i) + " is out of range [0, " + std::to_string(n_) + ")");
    }
    for (int64_t o = 0; o < outer_; ++o)
      for (int64_t k = 0; k < n_idx_; ++k)
        std::memcpy(y + (o * n_idx_ + k) * inner_, p + (o * n_ + index(in[1], k)) * inner_, static_cast<size_t>(inner_));
  }

 private:
  int64_t index(const void* idx, int64_t k) const {
    return idx64_ ? static_cast<const int64_t*>(idx)[k] : int64_t{static_cast<const int32_t*>(idx)[k]};
  }
  int64_t outer_, n_, inner_, n_idx_;
  bool idx64_;
};

class CastToFloatOp final : public Op {
 public:
  CastToFloatOp(int64_t n, DType from) : n_(n), from_(from) {}
  void run(const void* const* in, void* const* out) const override {
    float* y = static_cast<float*>(out[0]);
    if (from_ == DType::S32) {
      const int32_t* x = static_cast<const int32_t*>(in[0]);
      for (int64_t i = 0; i < n_; ++i) y[i] = static_cast<float>(x[i]);
    } else if (from_ == DType::U8) {
      const uint8_t* x = static_cast<const uint8_t*>(in[0]);
      for (int64_t i = 0; i < n_; ++i) y[i] = static_cast<float>(x[i]);
    } else {
      const int8_t* x = static_cast<const int8_t*>(in[0]);
      for (int64_t i = 0; i < n_; ++i) y[i] = static_cast<float>(x[i]);
    }
  }

 private:
  int64_t n_;
  DType from_;
};

class FloatGlueOp final : public Op {
 public:
  enum Kind { kSoftmax, kLayerNorm, kGelu, kMatMul };
  FloatGlueOp(Kind k, int64_t a, int64_t b, int64_t c = 0) : k_(k), a_(a), b_(b), c_(c) {}
  std::vector<float> scale_, bias_;
  std::vector<int64_t> li_, ri_;
  double eps_ = 0;
  bool flag_ = false;  // LayerNorm: the statistics outputs; Gelu: the tanh form
  void run(const void* const* in, void* const* out) const override {
    const float* x = static_cast<const float*>(in[0]);
    float* y = static_cast<float*>(out[0]);
    switch (k_) {
      case kSoftmax: ops::float_softmax_rows(x, y, a_, b_); break;
      case kLayerNorm:
        ops::float_layer_norm_rows(x, y, a_, b_, scale_.data(), bias_.empty() ? nullptr : bias_.data(), eps_,
                                   flag_ ? static_cast<float*>(out[1]) : nullptr,
                                   flag_ ? static_cast<float*>(out[2]) : nullptr);
        break;
      case kGelu: ops::float_gelu(x, y, a_, flag_); break;
      case kMatMul: {  // a_ = M, b_ = K, c_ = N
        const float* rhs = static_cast<const float*>(in[1]);
        for (size_t i = 0; i < li_.size(); ++i)
          ops::float_matmul(x + li_[i] * a_ * b_, rhs + ri_[i] * b_ * c_, y + static_cast<int64_t>(i) * a_ * c_, a_,
                            b_, c_);
        break;
      }
    }
  }

 private:
  Kind k_;
  int64_t a_, b_, c_;
};

class QuantizeTfliteOp final : public Op {
 public:
  QuantizeTfliteOp(int64_t n, DType yt, float scale, int32_t zp) : n_(n), yt_(yt), scale_(scale), zp_(zp) {}
  void run(const void* const* in, void* const* out) const override {
    ops::quantize_tflite(static_cast<const float*>(in[0]), out[0], yt_, n_, scale_, zp_);
  }

 private:
  int64_t n_;
  DType yt_;
  float scale_;
  int32_t zp_;
};

class CopyOp final : public Op {
 public:
  explicit CopyOp(size_t n) : n_(n) {}
  void run(const void* const* in, void* const* out) const override {
    if (n_) std::memcpy(out[0], in[0], n_);
  }

 private:
  size_t n_;
};

class CopyRunsOp final : public Op {
 public:
  explicit CopyRunsOp(std::vector<std::vector<CopyRun>> runs) : runs_(std::move(runs)) {}
  void run(const void* const* in, void* const* out) const override {
    const uint8_t* x = static_cast<const uint8_t*>(in[0]);
    for (size_t k = 0; k < runs_.size(); ++k) {
      uint8_t* y = static_cast<uint8_t*>(out[k]);
      for (const CopyRun& r : runs_[k]) std::memcpy(y + r.dst, x + r.src, static_cast<size_t>(r.len));
    }
  }

 private:
  std::vector<std::vector<CopyRun>> runs_;
};

class GatherChannelsOp final : public Op {
 public:
  GatherChannelsOp(int64_t c_in, std::vector<int64_t> idx, int64_t pixels)
      : c_in_(c_in), idx_(std::move(idx)), pixels_(pixels) {}
  void run(const void* const* in, void* const* out) const override {
    ops::gather_channels(static_cast<const uint8_t*>(in[0]), c_in_, idx_.data(), static_cast<int64_t>(idx_.size()),
                         static_cast<uint8_t*>(out[0]), pixels_);
  }

 private:
  int64_t c_in_;
  std::vector<int64_t> idx_;
  int64_t pixels_;
};

class ConcatOp final : public Op {
 public:
  ConcatOp(int64_t outer, std::vector<int64_t> blk, std::vector<std::vector<uint8_t>> tables)
      : outer_(outer), blk_(std::move(blk)), tables_(std::move(tables)) {}
  void run(const void* const* in, void* const* out) const override {
    uint8_t* dst = static_cast<uint8_t*>(out[0]);
    if (outer_ > 1 && *std::min_element(blk_.begin(), blk_.end()) < 256) {
      // Short blocks (an NHWC channel concat): each input requantized in one contiguous table pass
      // (per-call scratch: the op may run on several threads at once), then strided row copies.
      int64_t row = 0, off = 0;
      for (int64_t b : blk_) row += b;
      std::vector<uint8_t> tmp;
      for (size_t i = 0; i < blk_.size(); ++i) {
        const uint8_t* s = static_cast<const uint8_t*>(in[i]);
        if (!tables_[i].empty()) {
          tmp.resize(static_cast<size_t>(outer_ * blk_[i]));
          ops::lut_apply(s, tables_[i].data(), tmp.data(), outer_ * blk_[i]);
          s = tmp.data();
        }
        ops::copy_rows(s, blk_[i], dst + off, row, blk_[i], outer_);
        off += blk_[i];
      }
      return;
    }
    for (int64_t o = 0; o < outer_; ++o)
      for (size_t i = 0; i < blk_.size(); ++i) {
        const uint8_t* s = static_cast<const uint8_t*>(in[i]) + o * blk_[i];
        if (!tables_[i].empty()) ops::lut_apply(s, tables_[i].data(), dst, blk_[i]);
        else if (blk_[i]) std::memcpy(dst, s, static_cast<size_t>(blk_[i]));
        dst += blk_[i];
      }
  }

 private:
  int64_t outer_;
  std::vector<int64_t> blk_;
  std::vector<std::vector<uint8_t>> tables_;
};

}  // namespace

std::unique_ptr<Op> make_conv(std::shared_ptr<const PackedConv> w, const ConvGeometry& g, DType x_type, int32_t zx,
                              OutputSpec spec, int num_threads) {
  LOWP_CHECK(w != nullptr, "conv op without weights");
  LOWP_CHECK(x_type == DType::U8 || x_type == DType::S8, "conv input must be uint8 or int8");
  LOWP_CHECK(g.KH == w->KH() && g.KW == w->KW(), "conv geometry does not match the packed weights");
  LOWP_CHECK(g.N >= 1 && g.H >= 1 && g.W >= 1 && g.OH() >= 1 && g.OW() >= 1, "conv geometry gives an empty output");
  return std::unique_ptr<Op>(new ConvOp(std::move(w), g, x_type, zx, std::move(spec), num_threads));
}

std::unique_ptr<Op> make_ort_float_conv_finish(std::shared_ptr<const ops::OrtFloatConv> p, int64_t pixels,
                                               int num_threads) {
  LOWP_CHECK(p != nullptr && pixels >= 1, "ort float conv op without parameters or pixels");
  return std::unique_ptr<Op>(new OrtFloatConvFinishOp(std::move(p), pixels, num_threads));
}

std::unique_ptr<Op> make_ort_float_conv_1x1(std::shared_ptr<const ops::OrtFloatConv> p,
                                            std::shared_ptr<const PackedConv> w, int64_t pixels, int num_threads) {
  LOWP_CHECK(p != nullptr && w != nullptr && pixels >= 1, "ort float 1x1 conv op without parameters or pixels");
  return std::unique_ptr<Op>(new OrtFloatConv1x1Op(std::move(p), std::move(w), pixels, num_threads));
}

std::unique_ptr<Op> make_ort_float_depthwise(std::shared_ptr<const ops::OrtFloatConv> p, int64_t pixels,
                                             int num_threads) {
  LOWP_CHECK(p != nullptr && pixels >= 1 && ops::ort_float_is_depthwise(*p), "ort float depthwise op: bad parameters");
  return std::unique_ptr<Op>(new OrtFloatDepthwiseOp(std::move(p), pixels, num_threads));
}

std::unique_ptr<Op> make_ort_float_direct(std::shared_ptr<const ops::OrtFloatConv> p, int64_t pixels,
                                          int num_threads) {
  LOWP_CHECK(p != nullptr && pixels >= 1 && p->mode == 0 && p->group == 1, "ort float direct op: bad parameters");
  return std::unique_ptr<Op>(new OrtFloatDirectOp(std::move(p), pixels, num_threads));
}

std::unique_ptr<Op> make_ort_float_binary(std::vector<int64_t> a_shape, std::vector<int64_t> b_shape, DType t,
                                          const ops::OrtFloatBinary& k, int num_threads) {
  LOWP_CHECK(t == DType::U8 || t == DType::S8, "ort float binary op on uint8 or int8 only");
  ops::broadcast_out_shape(a_shape, b_shape);  // checks
  return std::unique_ptr<Op>(new OrtFloatBinaryOp(std::move(a_shape), std::move(b_shape), t, k, num_threads));
}

std::unique_ptr<Op> make_gemm(std::shared_ptr<const PackedB> b, int M, DType a_type, int32_t za, OutputSpec spec,
                              int num_threads) {
  LOWP_CHECK(b != nullptr, "gemm op without weights");
  LOWP_CHECK(M >= 1, "gemm op needs M >= 1");
  LOWP_CHECK(a_type == DType::U8 || a_type == DType::S8, "gemm input must be uint8 or int8");
  return std::unique_ptr<Op>(new GemmOp(std::move(b), M, a_type, za, std::move(spec), num_threads));
}

std::unique_ptr<Op> make_binary(const ops::BroadcastShape& bs, DType t, const ops::BinaryParams& p,
                                int num_threads) {
  LOWP_CHECK(t == DType::U8 || t == DType::S8, "binary op on uint8 or int8 only");
  return std::unique_ptr<Op>(new BinaryOp(bs, t, p, num_threads));
}

std::unique_ptr<Op> make_float_binary(const ops::BroadcastShape& bs, ops::FloatBinaryOp op) {
  LOWP_CHECK(static_cast<int>(op) >= 0 && static_cast<int>(op) <= 3, "float_binary: unknown op");
  return std::make_unique<FloatBinaryOp>(bs, op);
}

std::unique_ptr<Op> make_float_mean(int64_t outer, int64_t len, int64_t inner) {
  LOWP_CHECK(outer >= 0 && len >= 1 && inner > 1 && len < (int64_t{1} << 24), "float_mean: bad [outer, len, inner]");
  return std::make_unique<FloatMeanOp>(outer, len, inner);
}

std::unique_ptr<Op> make_lut_channels(std::vector<uint8_t> tables, int64_t rows, int64_t C) {
  LOWP_CHECK(rows >= 0 && C >= 1 && tables.size() == static_cast<size_t>(C) * 256, "lut_channels: C x 256 tables");
  return std::make_unique<LutChannelsOp>(std::move(tables), rows, C);
}

std::unique_ptr<Op> make_binary_table(const ops::BroadcastShape& bs, std::vector<uint8_t> table65536, int num_threads) {
  LOWP_CHECK(table65536.size() == 65536, "binary_table: the table must have 65536 entries");
  return std::unique_ptr<Op>(new BinaryOp(bs, std::move(table65536), num_threads));
}

std::unique_ptr<Op> make_softmax_tflite(int64_t rows, int64_t D, DType t, float x_scale, float beta, bool single) {
  LOWP_CHECK(t == DType::U8 || t == DType::S8, "softmax on uint8 or int8 only");
  LOWP_CHECK(rows >= 0 && D >= 1, "softmax: bad rows x D");
  LOWP_CHECK(std::isfinite(x_scale) && x_scale > 0.f && std::isfinite(beta) && beta > 0.f,
             "softmax: x_scale and beta must be finite and > 0");
  return std::unique_ptr<Op>(new SoftmaxTfliteOp(rows, D, t, x_scale, beta, single));
}

std::unique_ptr<Op> make_batch_matmul(const GemmKernel& kernel, BatchMatMulParams p, OutputSpec spec, int num_threads) {
  LOWP_CHECK(p.M >= 1 && p.K >= 1 && p.N >= 1, "batch_matmul: M, K, N must be >= 1");
  LOWP_CHECK((p.a_type == DType::U8 || p.a_type == DType::S8) && (p.b_type == DType::U8 || p.b_type == DType::S8),
             "batch_matmul: 8-bit operands only");
  LOWP_CHECK(p.lhs_index.size() == p.rhs_index.size(), "batch_matmul: one lhs and one rhs block per output");
  LOWP_CHECK(spec.out_type == DType::S32 || spec.out_type == DType::U8 || spec.out_type == DType::S8,
             "batch_matmul: int32 or 8-bit output");
  return std::make_unique<BatchMatMulOp>(kernel, std::move(p), std::move(spec), num_threads);
}

std::unique_ptr<Op> make_dynamic_quantize(int64_t n) {
  LOWP_CHECK(n >= 1, "dynamic_quantize: needs at least one value");
  return std::make_unique<DynamicQuantizeOp>(n);
}

std::unique_ptr<Op> make_gemm_dynamic_zero_point(std::shared_ptr<const PackedB> b, int M, DType a_type,
                                                 int num_threads) {
  LOWP_CHECK(b && M >= 1 && (a_type == DType::U8 || a_type == DType::S8), "gemm_dynamic_zero_point: bad arguments");
  return std::make_unique<GemmOp>(std::move(b), M, a_type, 0, OutputSpec{}, num_threads, true);
}

std::unique_ptr<Op> make_gather_rows(int64_t outer, int64_t n, int64_t inner_bytes, int64_t n_idx, bool idx64) {
  LOWP_CHECK(outer >= 0 && n >= 1 && inner_bytes >= 1 && n_idx >= 0, "gather_rows: bad sizes");
  return std::make_unique<GatherRowsOp>(outer, n, inner_bytes, n_idx, idx64);
}

std::unique_ptr<Op> make_cast_to_float(int64_t n, DType from) {
  LOWP_CHECK(n >= 0 && (from == DType::S32 || from == DType::U8 || from == DType::S8), "cast_to_float: bad type");
  return std::make_unique<CastToFloatOp>(n, from);
}

std::unique_ptr<Op> make_float_softmax(int64_t rows, int64_t len) {
  LOWP_CHECK(rows >= 0 && len >= 1, "float_softmax: bad rows x len");
  return std::make_unique<FloatGlueOp>(FloatGlueOp::kSoftmax, rows, len);
}

std::unique_ptr<Op> make_float_layer_norm(int64_t rows, int64_t len, std::vector<float> scale, std::vector<float> bias,
                                          double eps, bool stats) {
  LOWP_CHECK(rows >= 0 && len >= 1 && scale.size() == static_cast<size_t>(len) &&
                 (bias.empty() || bias.size() == static_cast<size_t>(len)),
             "float_layer_norm: scale / bias of len values");
  auto op = std::make_unique<FloatGlueOp>(FloatGlueOp::kLayerNorm, rows, len);
  op->scale_ = std::move(scale), op->bias_ = std::move(bias), op->eps_ = eps, op->flag_ = stats;
  return op;
}

std::unique_ptr<Op> make_float_gelu(int64_t n, bool tanh_form) {
  LOWP_CHECK(n >= 0, "float_gelu: bad size");
  auto op = std::make_unique<FloatGlueOp>(FloatGlueOp::kGelu, n, 0);
  op->flag_ = tanh_form;
  return op;
}

std::unique_ptr<Op> make_float_matmul(std::vector<int64_t> lhs_index, std::vector<int64_t> rhs_index, int64_t M,
                                      int64_t K, int64_t N) {
  LOWP_CHECK(M >= 0 && K >= 0 && N >= 0 && lhs_index.size() == rhs_index.size(), "float_matmul: bad sizes");
  auto op = std::make_unique<FloatGlueOp>(FloatGlueOp::kMatMul, M, K, N);
  op->li_ = std::move(lhs_index), op->ri_ = std::move(rhs_index);
  return op;
}

std::unique_ptr<Op> make_mean_tflite(int64_t outer, int64_t len, int64_t inner, DType t, int32_t x_zp,
                                     int32_t multiplier, int shift, int32_t y_zp) {
  LOWP_CHECK(t == DType::U8 || t == DType::S8, "mean on uint8 or int8 only");
  LOWP_CHECK(outer >= 0 && len >= 1 && len < (int64_t{1} << 23) && inner >= 0, "mean: bad [outer, len, inner]");
  LOWP_CHECK(multiplier >= 0 && shift >= -31 && shift <= 30, "mean: multiplier / shift out of range");
  const int32_t lo = t == DType::U8 ? 0 : -128, hi = t == DType::U8 ? 255 : 127;
  LOWP_CHECK(x_zp >= lo && x_zp <= hi && y_zp >= lo && y_zp <= hi, "mean: zero point out of range");
  return std::unique_ptr<Op>(new MeanTfliteOp(outer, len, inner, t, x_zp, multiplier, shift, y_zp));
}

std::unique_ptr<Op> make_quantize_tflite(int64_t n, DType yt, float scale, int32_t zp) {
  LOWP_CHECK(yt == DType::U8 || yt == DType::S8, "TFLite QUANTIZE output must be uint8 or int8");
  LOWP_CHECK(n >= 0 && std::isfinite(scale) && scale > 0.f, "TFLite QUANTIZE needs n >= 0 and a finite scale > 0");
  LOWP_CHECK(zp >= (yt == DType::U8 ? 0 : -128) && zp <= (yt == DType::U8 ? 255 : 127), "zero point out of range");
  return std::unique_ptr<Op>(new QuantizeTfliteOp(n, yt, scale, zp));
}

std::unique_ptr<Op> make_lut(const uint8_t* table256, int64_t n, int num_threads) {
  return std::unique_ptr<Op>(new LutOp(table256, n, num_threads));
}

std::unique_ptr<Op> make_pool(const ops::Pool2D& g, DType t, PoolMode mode, const AvgPoolParams& p) {
  LOWP_CHECK(t == DType::U8 || t == DType::S8, "pooling on uint8 or int8 only");
  LOWP_CHECK(static_cast<int>(mode) >= 0 && static_cast<int>(mode) <= 7, "unknown pooling mode");
  if (mode == PoolMode::kOrtFloatLanes4)
    LOWP_CHECK(g.OH == 1 && g.OW == 1 && g.kh == g.H && g.kw == g.W && g.pad_top == 0 && g.pad_left == 0,
               "pooling mode ort_float_lanes4 (4-lane float average) takes the whole-plane window");
  if (mode == PoolMode::kAverageS8AsU8)
    LOWP_CHECK(t == DType::S8, "pooling mode average_s8_as_u8 (uint8-rewrite average) takes int8");
  if (mode == PoolMode::kGlobalMlas)
    LOWP_CHECK(g.OH == 1 && g.OW == 1 && g.kh == g.H && g.kw == g.W, "global pooling geometry expected");
  return std::unique_ptr<Op>(new PoolOp(g, t, mode, p));
}

std::unique_ptr<Op> make_quantize_nchw_to_nhwc(int64_t N, int64_t C, int64_t HW, DType yt, float scale, int32_t zp,
                                               int num_threads) {
  LOWP_CHECK(yt == DType::U8 || yt == DType::S8, "quantize_nchw_to_nhwc output must be uint8 or int8");
  return std::unique_ptr<Op>(new QuantizeNhwcOp(N, C, HW, yt, scale, zp, num_threads));
}

std::unique_ptr<Op> make_quantize(int64_t outer, int64_t len, int64_t inner, DType yt, std::vector<float> scale,
                                  std::vector<int32_t> zp) {
  LOWP_CHECK(scale.size() == zp.size() && (scale.size() == 1 || static_cast<int64_t>(scale.size()) == len),
             "quantize: bad scale / zero point length");
  return std::unique_ptr<Op>(new QuantizeOp(false, outer, len, inner, yt, std::move(scale), std::move(zp)));
}

std::unique_ptr<Op> make_dequantize(int64_t outer, int64_t len, int64_t inner, DType xt, std::vector<float> scale,
                                    std::vector<int32_t> zp) {
  LOWP_CHECK(scale.size() == zp.size() && (scale.size() == 1 || static_cast<int64_t>(scale.size()) == len),
             "dequantize: bad scale / zero point length");
  return std::unique_ptr<Op>(new QuantizeOp(true, outer, len, inner, xt, std::move(scale), std::move(zp)));
}

std::unique_ptr<Op> make_transpose(const std::vector<int64_t>& shape, const std::vector<int>& perm, size_t elem_size) {
  LOWP_CHECK(shape.size() == perm.size() && shape.size() <= 8, "transpose: rank <= 8 and one perm entry per axis");
  std::vector<bool> seen(shape.size(), false);
  for (int p : perm) {
    LOWP_CHECK(p >= 0 && static_cast<size_t>(p) < shape.size() && !seen[static_cast<size_t>(p)], "transpose: bad perm");
    seen[static_cast<size_t>(p)] = true;
  }
  for (int64_t d : shape) LOWP_CHECK(d >= 0, "transpose: negative dimension");
  LOWP_CHECK(elem_size == 1 || elem_size == 2 || elem_size == 4 || elem_size == 8, "transpose: element size 1/2/4/8");
  return std::unique_ptr<Op>(new TransposeOp(shape, perm, elem_size));
}

std::unique_ptr<Op> make_copy_runs(std::vector<std::vector<CopyRun>> runs) {
  for (const auto& v : runs)
    for (const CopyRun& r : v) LOWP_CHECK(r.src >= 0 && r.dst >= 0 && r.len >= 0, "copy runs: negative offset");
  return std::unique_ptr<Op>(new CopyRunsOp(std::move(runs)));
}

std::unique_ptr<Op> make_gather_channels(int64_t c_in, std::vector<int64_t> idx, int64_t pixels) {
  LOWP_CHECK(c_in >= 1 && pixels >= 0, "gather_channels: bad geometry");
  for (int64_t v : idx) LOWP_CHECK(v >= 0 && v < c_in, "gather_channels: index out of range");
  return std::unique_ptr<Op>(new GatherChannelsOp(c_in, std::move(idx), pixels));
}

std::unique_ptr<Op> make_softmax(int64_t rows, int64_t D, DType t, float x_scale, float y_scale, int32_t y_zp) {
  LOWP_CHECK(t == DType::U8 || t == DType::S8, "softmax on uint8 or int8 only");
  LOWP_CHECK(rows >= 0 && D >= 1, "softmax: bad shape");
  return std::unique_ptr<Op>(new SoftmaxOp(rows, D, t, x_scale, y_scale, y_zp));
}

std::unique_ptr<Op> make_copy(size_t bytes) { return std::unique_ptr<Op>(new CopyOp(bytes)); }

std::unique_ptr<Op> make_concat(int64_t outer, std::vector<int64_t> block_bytes,
                                std::vector<std::vector<uint8_t>> tables) {
  LOWP_CHECK(!block_bytes.empty() && tables.size() == block_bytes.size(), "concat: one table slot per input");
  for (const auto& t : tables) LOWP_CHECK(t.empty() || t.size() == 256, "concat: tables have 256 entries");
  for (int64_t b : block_bytes) LOWP_CHECK(b >= 0, "concat: negative block");
  return std::unique_ptr<Op>(new ConcatOp(outer, std::move(block_bytes), std::move(tables)));
}

}  // namespace exec
}  // namespace lowp
