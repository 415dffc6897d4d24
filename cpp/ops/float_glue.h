// Float glue of dynamic-quantized transformers (onnxruntime's quantize_dynamic leaves attention, LayerNorm, Softmax
// and Gelu in float32 around its integer MatMuls). These are lowp's definitions, not onnxruntime's bits (its MLAS
// kernels sum and approximate in their own orders): the Python steps (passes/float_ops.py) call these same
// functions, so the native executor and the Python steps agree bit for bit, and the tests bound their distance to
// onnxruntime. Rows are contiguous; every function checks its sizes.
#pragma once
#include <cstdint>

namespace lowp {
namespace ops {

// Softmax over each of `rows` rows of `len` float32 values: max, exp(x - max) (std::exp, float32), the row sum in
// order (float32), each exp divided by it.
void float_softmax_rows(const float* x, float* y, int64_t rows, int64_t len);

// LayerNormalization over each row of `len` values: mean and population variance in double (sums in order),
// inv = 1 / sqrt(var + eps), y = (x - mean) * inv * scale[j] (+ bias[j]) in double, rounded to float32.
// bias, mean_out, inv_out may be null.
void float_layer_norm_rows(const float* x, float* y, int64_t rows, int64_t len, const float* scale,
                           const float* bias, double eps, float* mean_out, float* inv_out);

// Gelu: x * Phi(x) as 0.5 x erfc(-x / sqrt 2) in double (std::erfc), or the tanh approximation in double;
// rounded to float32.
void float_gelu(const float* x, float* y, int64_t n, bool tanh_form);

// c (M x N) = a (M x K) b (K x N), float32: each sum over k in order from 0.0f (products rounded to float32; no
// fused multiply-add).
void float_matmul(const float* a, const float* b, float* c, int64_t M, int64_t K, int64_t N);

}  // namespace ops
}  // namespace lowp
