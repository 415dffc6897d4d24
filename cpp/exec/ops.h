// Native ops of the executor (exec/program.h): each binds one call of an existing kernel in
// cpp/gemm or cpp/ops to its parameters (shapes fixed, weights prepacked and shared, output stage
// precomputed). Tensors are contiguous; 4-D activations are NHWC unless noted.
#pragma once
#include <array>
#include <memory>
#include <vector>

#include "exec/program.h"
#include "lowp/gemm.h"
#include "ops/conv.h"
#include "ops/eltwise.h"
#include "ops/ort_float_conv.h"
#include "ops/ort_float_eltwise.h"
#include "ops/pool.h"

namespace lowp {
namespace exec {

// conv2d(*w, g, x, x_type, zx, y, spec): x N x H x W x Cin -> y N x OH x OW x Cout.
std::unique_ptr<Op> make_conv(std::shared_ptr<const PackedConv> w, const ConvGeometry& g, DType x_type, int32_t zx,
                              OutputSpec spec, int num_threads);
// onnxruntime's float32 1x1 conv (ops/ort_float_conv.h) from the exact int32 sums: in[0] acc
// (pixels x M int32), in[1] x (pixels x K 8-bit) -> out[0] y (pixels x M 8-bit).
std::unique_ptr<Op> make_ort_float_conv_finish(std::shared_ptr<const ops::OrtFloatConv> p, int64_t pixels,
                                               int num_threads);
// The same for a 1x1 stride-1 unpadded single-group conv in one op (ops::ort_float_conv_1x1):
// in[0] x (pixels x K 8-bit) -> out[0] y (pixels x M 8-bit), int32 sums per chunk in a thread buffer.
std::unique_ptr<Op> make_ort_float_conv_1x1(std::shared_ptr<const ops::OrtFloatConv> p,
                                            std::shared_ptr<const PackedConv> w, int64_t pixels, int num_threads);
// A depthwise conv onnxruntime runs in float32, wholly in float32 (ops::ort_float_depthwise):
// in[0] x (N x H x W x C 8-bit) -> out[0] y (pixels x C 8-bit).
std::unique_ptr<Op> make_ort_float_depthwise(std::shared_ptr<const ops::OrtFloatConv> p, int64_t pixels,
                                             int num_threads);
// A mode-0 single-group conv wholly in float32 (ops::ort_float_direct, where p->direct):
// in[0] x (N x H x W x C 8-bit) -> out[0] y (pixels x M 8-bit).
std::unique_ptr<Op> make_ort_float_direct(std::shared_ptr<const ops::OrtFloatConv> p, int64_t pixels,
                                          int num_threads);
// onnxruntime's float32 QDQ Add / Mul (ops/ort_float_eltwise.h): in[0] a, in[1] b (contiguous, numpy
// broadcasting) -> out[0] c (contiguous, the broadcast shape); large ones on up to num_threads threads.
std::unique_ptr<Op> make_ort_float_binary(std::vector<int64_t> a_shape, std::vector<int64_t> b_shape, DType t,
                                          const ops::OrtFloatBinary& k, int num_threads = 1);
// gemm: x M x K (K = b->K()) -> y M x N.
std::unique_ptr<Op> make_gemm(std::shared_ptr<const PackedB> b, int M, DType a_type, int32_t za, OutputSpec spec,
                              int num_threads);
// binary_op on contiguous a, b with the broadcast strides in `bs` (output contiguous).
std::unique_ptr<Op> make_binary(const ops::BroadcastShape& bs, DType t, const ops::BinaryParams& p,
                                int num_threads = 1);
// The same with a given 64 KiB table of every byte pair (table[ua << 8 | ub]; ops::binary_table).
std::unique_ptr<Op> make_binary_table(const ops::BroadcastShape& bs, std::vector<uint8_t> table65536,
                                      int num_threads = 1);
// float32 a op b with numpy broadcasting (ops::float_binary).
std::unique_ptr<Op> make_float_binary(const ops::BroadcastShape& bs, ops::FloatBinaryOp op);
// numpy's float32 mean over the middle axis of [outer, len, inner], inner > 1 (ops::float_mean_axis).
std::unique_ptr<Op> make_float_mean(int64_t outer, int64_t len, int64_t inner);
// A table per channel: y[r * C + c] = tables[c * 256 + x[r * C + c]] over rows x C bytes (channels last;
// TFLite PRELU with a per-channel alpha).
std::unique_ptr<Op> make_lut_channels(std::vector<uint8_t> tables, int64_t rows, int64_t C);
// y[i] = table[x[i]] for n bytes; large ones on up to num_threads threads (<= 0: the whole pool).
std::unique_ptr<Op> make_lut(const uint8_t* table256, int64_t n, int num_threads = 1);
// Pooling through element strides (Pool2D), by mode (Python: _lowp.PoolMode, same names in
// lower case without the k).
enum class PoolMode : int {
  kMax = 0,
  kAverage = 1,         // float average, onnxruntime's QLinearAveragePool arithmetic
  kGlobalMlas = 2,      // whole-plane average in MLAS's summation order
  kAverageInt = 3,      // integer average (TFLite)
  kAverageS8AsU8 = 4,   // float average of int8 data through onnxruntime's s8->u8 QDQ rewrite
  // onnxruntime's float32 fallback (DQ -> MLAS AveragePool -> Q), by ops::PoolSumOrder:
  kOrtFloatRows = 5,
  kOrtFloatColumns = 6,
  kOrtFloatLanes4 = 7,
};
struct AvgPoolParams {
  float x_scale = 1.f, y_scale = 1.f;
  int32_t x_zp = 0, y_zp = 0, qmin = 0, qmax = 255;
  bool count_include_pad = false;
};
std::unique_ptr<Op> make_pool(const ops::Pool2D& g, DType t, PoolMode mode, const AvgPoolParams& p);
// float32 NCHW -> 8-bit NHWC, per-tensor scale / zero point.
std::unique_ptr<Op> make_quantize_nchw_to_nhwc(int64_t N, int64_t C, int64_t HW, DType yt, float scale, int32_t zp,
                                               int num_threads = 1);
// QuantizeLinear / DequantizeLinear over [outer, len, inner] with 1 or len scales.
std::unique_ptr<Op> make_quantize(int64_t outer, int64_t len, int64_t inner, DType yt, std::vector<float> scale,
                                  std::vector<int32_t> zp);
std::unique_ptr<Op> make_dequantize(int64_t outer, int64_t len, int64_t inner, DType xt, std::vector<float> scale,
                                    std::vector<int32_t> zp);
// y = x.transpose(perm) (contiguous in, contiguous out), elements of elem_size bytes, rank <= 8.
std::unique_ptr<Op> make_transpose(const std::vector<int64_t>& shape, const std::vector<int>& perm, size_t elem_size);
// Pure data movement (slice, split, gather, expand, ...): output k is written by its runs
// {src byte offset, dst byte offset, bytes}, copied from the one input.
struct CopyRun {
  int64_t src, dst, len;
};
std::unique_ptr<Op> make_copy_runs(std::vector<std::vector<CopyRun>> runs);
// y[p, j] = x[p, idx[j]]: an NHWC channel gather over `pixels` rows of c_in bytes (ops::gather_channels).
std::unique_ptr<Op> make_gather_channels(int64_t c_in, std::vector<int64_t> idx, int64_t pixels);
// onnxruntime QLinearSoftmax along the last axis: rows x D 8-bit -> rows x D 8-bit (its exp table
// built once here from x_scale and D).
std::unique_ptr<Op> make_softmax(int64_t rows, int64_t D, DType t, float x_scale, float y_scale, int32_t y_zp);
// TFLite's reference SOFTMAX (gemmlowp fixed point, ops::tflite_softmax): rows x D 8-bit -> rows x D 8-bit,
// output scale 1/256 with zero point 0 (uint8) / -128 (int8).
std::unique_ptr<Op> make_softmax_tflite(int64_t rows, int64_t D, DType t, float x_scale, float beta, bool single);
// TFLite MEAN over the middle axis of a contiguous [outer, len, inner] 8-bit tensor (ops::mean_tflite).
std::unique_ptr<Op> make_mean_tflite(int64_t outer, int64_t len, int64_t inner, DType t, int32_t x_zp,
                                     int32_t multiplier, int shift, int32_t y_zp);
// A batch of GEMMs of two activations (TFLite BATCH_MATMUL): output matrix b (M x N, contiguous, type spec.out_type)
// is lhs block lhs_index[b] (M x K; K x M when adj_x) times rhs block rhs_index[b] (K x N; N x K when adj_y), exact
// int32 sums with zero points za / zb, then `spec` (S32: the sums). The rhs block is packed for `kernel` on every run.
struct BatchMatMulParams {
  int M = 0, K = 0, N = 0;
  bool adj_x = false, adj_y = false;
  DType a_type = DType::S8, b_type = DType::S8;
  int32_t za = 0, zb = 0;
  std::vector<int64_t> lhs_index, rhs_index;  // one entry per output matrix
};
std::unique_ptr<Op> make_batch_matmul(const GemmKernel& kernel, BatchMatMulParams p, OutputSpec spec, int num_threads);
// ONNX DynamicQuantizeLinear over n float32 values (ops::dynamic_quantize_linear): out[0] y (n uint8), out[1] the
// float32 scale, out[2] the uint8 zero point.
std::unique_ptr<Op> make_dynamic_quantize(int64_t n);
// MatMulInteger with a zero point computed at run time: in[0] x (M x K 8-bit), in[1] its zero point (one element of
// x's type) -> out[0] M x N int32 sums.
std::unique_ptr<Op> make_gemm_dynamic_zero_point(std::shared_ptr<const PackedB> b, int M, DType a_type,
                                                 int num_threads);
// Gather with indices given at run time (TFLite GATHER): in[0] params [outer, n, inner_bytes], in[1] n_idx indices
// (int32, or int64 when idx64) -> out[0] [outer, n_idx, inner_bytes]; an index outside [0, n) throws, naming it.
std::unique_ptr<Op> make_gather_rows(int64_t outer, int64_t n, int64_t inner_bytes, int64_t n_idx, bool idx64);
// float32 <- int32 / uint8 / int8, n values (ONNX Cast).
std::unique_ptr<Op> make_cast_to_float(int64_t n, DType from);
// Float glue (ops/float_glue.h): softmax over rows x len; LayerNormalization over rows x len (in[0] x; out[0] y,
// out[1] / out[2] the row means / inverse deviations when `stats`); Gelu over n values; MatMul of float32 blocks
// (output b = lhs block lhs_index[b] (M x K) times rhs block rhs_index[b] (K x N)).
std::unique_ptr<Op> make_float_softmax(int64_t rows, int64_t len);
std::unique_ptr<Op> make_float_layer_norm(int64_t rows, int64_t len, std::vector<float> scale, std::vector<float> bias,
                                          double eps, bool stats);
std::unique_ptr<Op> make_float_gelu(int64_t n, bool tanh_form);
std::unique_ptr<Op> make_float_matmul(std::vector<int64_t> lhs_index, std::vector<int64_t> rhs_index, int64_t M,
                                      int64_t K, int64_t N);
// TFLite QUANTIZE float32 -> 8-bit over n values (ops::quantize_tflite: ties away from zero).
std::unique_ptr<Op> make_quantize_tflite(int64_t n, DType yt, float scale, int32_t zp);
// memcpy of `bytes`.
std::unique_ptr<Op> make_copy(size_t bytes);
// Concatenate inputs along an axis: per outer index, input i contributes block_bytes[i] bytes,
// through tables[i] (256 entries, 8-bit data) when given, else copied.
std::unique_ptr<Op> make_concat(int64_t outer, std::vector<int64_t> block_bytes,
                                std::vector<std::vector<uint8_t>> tables);

}  // namespace exec
}  // namespace lowp
