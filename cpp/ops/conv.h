// Quantized 2-D convolution (NHWC) on the GEMM core, plus depthwise convolution with its own
// kernels (ops/depthwise.h).
//
//   y[n,oh,ow,oc] = sum_{kh,kw,c} (x[n, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw, g*Cg + c] - zx)
//                                 * (w[oc,kh,kw,c] - zw[oc])          (+ bias[oc], requantize)
// Out-of-image taps read zx, so padding is exact. Sums are int32 with wrap-around.
//
// Paths: depthwise (group == Cin > 1, Cg == 1) -> ops/depthwise kernels; 1x1 stride-1 unpadded ->
// lowp::gemm directly on the input (A = x viewed as (N*H*W, Cin), one GEMM per group);
// everything else -> im2col into a per-thread workspace (padding filled with zx) and lowp::gemm.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "lowp/gemm.h"
#include "lowp/types.h"

namespace lowp {

struct DwKernel;   // ops/depthwise.h
struct DwPacked;   // ops/depthwise.h

struct ConvGeometry {
  int N = 1, H = 0, W = 0;      // input batch and spatial size
  int KH = 1, KW = 1;           // kernel size (must match the PackedConv)
  int sh = 1, sw = 1;           // strides
  int dh = 1, dw = 1;           // dilations
  int pt = 0, pl = 0, pb = 0, pr = 0;  // pads (top, left, bottom, right)
  int OH() const;
  int OW() const;
};

// Weights prepacked once: per-group PackedB for the GEMM path, or the depthwise packing.
class PackedConv {
 public:
  // w: OHWI (Cout x KH x KW x Cg), uint8 or int8, contiguous. zw: 1 or Cout entries.
  // gemm_kernel / dw_kernel: "" = default (dispatch), else a forced kernel name.
  PackedConv(const void* w, DType w_type, int Cout, int KH, int KW, int Cg, int group, const int32_t* zw,
             int zw_count, const char* gemm_kernel, const char* dw_kernel);
  ~PackedConv();
  int Cout() const { return Cout_; }
  int Cin() const { return Cg_ * group_; }
  int Cg() const { return Cg_; }
  int KH() const { return KH_; }
  int KW() const { return KW_; }
  int group() const { return group_; }
  DType w_type() const { return w_type_; }
  bool depthwise() const { return dw_ != nullptr; }
  const char* kernel_name() const;  // GEMM or depthwise kernel used
  size_t packed_bytes() const;

  const PackedB& group_b(int g) const { return *b_[g]; }
  const DwPacked& dw() const { return *dw_; }
  const DwKernel& dw_kernel() const { return *dwk_; }

 private:
  int Cout_, KH_, KW_, Cg_, group_;
  DType w_type_;
  std::vector<std::unique_ptr<PackedB>> b_;
  const DwKernel* dwk_ = nullptr;
  std::unique_ptr<DwPacked> dw_;
};

struct DwTerms;  // ops/depthwise.h

// The output-stage terms of one conv step, fixed by the packed weights, the input type and zero
// point and the output spec: per group GemmTerms (and the group's slice of the spec), or the
// depthwise kernels' per-channel terms. conv2d() without them computes these on every call; a
// native program's conv step builds them once. A copy: later changes to `out` are not seen.
class ConvTerms {
 public:
  ConvTerms(const PackedConv& w, DType x_type, int32_t zx, const OutputSpec& out);
  ~ConvTerms();
  // Throws unless built for (w, x_type, zx) and an output spec shaped like out.
  void check(const PackedConv& w, DType x_type, int32_t zx, const OutputSpec& out) const;
  const GemmTerms& group(int g) const { return *gemm_[g]; }
  const OutputSpec& group_spec(int g) const { return specs_[g]; }  // G > 1 only
  const DwTerms& dw() const { return *dw_; }

 private:
  const PackedConv* w_;
  DType x_type_;
  int32_t zx_;
  DType out_type_;
  Rounding rounding_;
  size_t bias_n_, mult_n_, scale_n_;
  std::vector<OutputSpec> specs_;
  std::vector<std::unique_ptr<GemmTerms>> gemm_;
  std::unique_ptr<DwTerms> dw_;
};

// x: N x H x W x Cin (NHWC, contiguous), type x_type (U8/S8), zero point zx.
// y: N x OH x OW x Cout contiguous, type out.out_type (S32 = ConvInteger, no requantization).
// out: arrays of 1 or Cout entries (as OutputSpec for GEMM with N = Cout).
// terms: optional, built for (w, x_type, zx, out); same results, less work per call.
void conv2d(const PackedConv& w, const ConvGeometry& g, const void* x, DType x_type, int32_t zx, void* y,
            const OutputSpec& out, int num_threads = 0, const ConvTerms* terms = nullptr);

// Depthwise kernels this CPU can run, best first ("ref" last), and all compiled ones.
std::vector<std::string> depthwise_kernel_names(bool available_only);
std::string default_depthwise_kernel();

}  // namespace lowp
