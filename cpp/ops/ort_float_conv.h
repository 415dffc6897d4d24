// onnxruntime's float32 fallback for a QDQ 1x1 convolution, reproduced bit for bit.
//
// Why: on x86 onnxruntime rewrites int8-activation Q -> DQ pairs to uint8 (QDQS8ToU8Transformer)
// only where the QuantizeLinear feeds exactly one DequantizeLinear with one consumer. A conv whose
// input and output end up with different types (one int8 tensor shared by several consumers, e.g.
// a residual branch, the other uint8) is not fused into QLinearConv: it runs DequantizeLinear ->
// float Conv -> QuantizeLinear. Its result is a float32 computation, not the exact integer sum
// requantized, and differs from it by one step where the float32 value lies within rounding error of
// a .5 boundary. See docs/PERFORMANCE.md "int8-activation exactness".
//
// What onnxruntime computes for such a conv (1x1, stride 1, no padding, group 1: MLAS's GemmDirect
// path, an SGEMM of the filter (M x K) and the NCHW input (K x pixels)):
//   xf[k] = float(x[k] - zx) * xs                    (DequantizeLinear, one rounding)
//   wf[m][k] = float(w[m][k] - zw[m]) * ws[m]        (per-channel DequantizeLinear)
//   bf[m] = float(bias[m]) * bias_scale[m]           (int32 DequantizeLinear)
//   c = for each K block of `stride_k` (MLAS SGEMM's K stride): a fused multiply-add chain over the
//       block from 0 in k order; the block sums added to c in order (first block: c = sum)
//   y = c + bf[m]                                    (MlasActivation's bias add, after the GEMM)
//   q = saturate(round_half_even(y / ys) + zy)       (MlasQuantizeLinear: a division, cvtps2dq)
// Measured: zero mismatches against onnxruntime 1.32 on all 1.4 M outputs of MobileNetV2-s8's
// fifteen float convs (its own inputs), 1 and 2 threads (MLAS splits M / N over threads, never K).
//
// How lowp computes it cheaply: the integer GEMM gives the exact sum acc = sum (x - zx)(w - zw), so
// the exact real value t = (acc * xs * ws[m] + bf[m]) / ys is known; onnxruntime's float32 result
// differs from t by at most a proven bound B (rounding of xf, wf, every FMA, the block adds, the bias
// add and the division: (K + blocks + 12) * 2^-24 * (sum |xf wf| + |bf|) / ys, with sum |xf wf|
// bounded by the per-pixel and per-channel L1 / max norms). Where t is farther than B from a .5
// boundary, round(t) is onnxruntime's answer; the rest (typically 0.1-4 % of outputs) is recomputed
// with the float32 chain above.
#pragma once
#include <cstdint>
#include <vector>

#include "lowp/types.h"

namespace lowp {
namespace ops {

struct OrtFloatConv {
  int M = 0, K = 0;            // output channels, input channels (1x1 kernel)
  int stride_k = 128;          // MLAS SGEMM K block (mlas_sgemm_stride_k)
  DType x_type = DType::U8, y_type = DType::U8;
  int32_t zx = 0;
  float xs = 1.f, ys = 1.f;
  int32_t zy = 0, qmin = 0, qmax = 255;  // output zero point, clamp range (type range or fused Relu/Clip)
  std::vector<float> wf;       // M x K: onnxruntime's dequantized weights
  std::vector<float> bf;       // M: onnxruntime's dequantized bias (0 without bias)
  // derived (finalize())
  std::vector<float> xtab;     // 256: dequantized input by raw byte
  std::vector<float> sc;       // M: xs * ws[m] / ys as float (check only)
  std::vector<float> bt;       // M: bf[m] / ys
  std::vector<float> l1w, maxw;  // M: sum_k |wf| / ys, max_k |wf| / ys (with xs folded in)
  std::vector<float> slack;    // M: bound term from |bf|
  float g = 0.f;               // relative bound coefficient
  void finalize(const std::vector<float>& ws);  // ws: M per-channel weight scales (for sc)
};

// MLAS SGEMM's K stride for an (M x K) * (K x N) product, NoTrans A (sgemm.cpp's rule).
int mlas_sgemm_stride_k(int64_t N, int64_t K);

// acc: pixels x M int32 exact sums (no bias); x: pixels x K raw 8-bit input; y: pixels x M 8-bit.
// Returns the number of outputs recomputed in float32 (for tests / reports).
int64_t ort_float_conv_finish(const OrtFloatConv& p, const int32_t* acc, const void* x, void* y, int64_t pixels,
                              int num_threads = 1);

// The float32 chain for one output (p's arithmetic above), returned as the quantized value.
int32_t ort_float_conv_one(const OrtFloatConv& p, const float* xrow_f, int m);

}  // namespace ops
}  // namespace lowp
