#include "ops/float_glue.h"

#include <cmath>
#include <vector>

#include "lowp/types.h"

namespace lowp {
namespace ops {

void float_softmax_rows(const float* x, float* y, int64_t rows, int64_t len) {
  LOWP_CHECK(rows >= 0 && len >= 1, "float_softmax: bad rows x len");
  for (int64_t r = 0; r < rows; ++r, x += len, y += len) {
    float m = x[0];
    for (int64_t j = 1; j < len; ++j) m = x[j] > m ? x[j] : m;
    float sum = 0.0f;
    for (int64_t j = 0; j < len; ++j) {
      y[j] = std::exp(x[j] - m);
      sum += y[j];
    }
    for (int64_t j = 0; j < len; ++j) y[j] = y[j] / sum;
  }
}

void float_layer_norm_rows(const float* x, float* y, int64_t rows, int64_t len, const float* scale,
                           const float* bias, double eps, float* mean_out, float* inv_out) {
  LOWP_CHECK(rows >= 0 && len >= 1 && scale != nullptr, "float_layer_norm: bad arguments");
  for (int64_t r = 0; r < rows; ++r, x += len, y += len) {
    double s = 0.0;
    for (int64_t j = 0; j < len; ++j) s += x[j];
    const double mean = s / static_cast<double>(len);
    double v = 0.0;
    for (int64_t j = 0; j < len; ++j) v += (x[j] - mean) * (x[j] - mean);
    const double inv = 1.0 / std::sqrt(v / static_cast<double>(len) + eps);
    for (int64_t j = 0; j < len; ++j) {
      double t = (x[j] - mean) * inv * static_cast<double>(scale[j]);
      if (bias) t += static_cast<double>(bias[j]);
      y[j] = static_cast<float>(t);
    }
    if (mean_out) mean_out[r] = static_cast<float>(mean);
    if (inv_out) inv_out[r] = static_cast<float>(inv);
  }
}

void float_gelu(const float* x, float* y, int64_t n, bool tanh_form) {
  LOWP_CHECK(n >= 0, "float_gelu: bad size");
  const double k = std::sqrt(2.0 / 3.14159265358979323846), r2 = std::sqrt(2.0);
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    const double t = tanh_form ? 0.5 * v * (1.0 + std::tanh(k * (v + 0.044715 * v * v * v))) : 0.5 * v * std::erfc(-v / r2);
    y[i] = static_cast<float>(t);
  }
}

void float_matmul(const float* a, const float* b, float* c, int64_t M, int64_t K, int64_t N) {
  LOWP_CHECK(M >= 0 && K >= 0 && N >= 0, "float_matmul: bad sizes");
  for (int64_t i = 0; i < M; ++i) {
    float* ci = c + i * N;
    for (int64_t j = 0; j < N; ++j) ci[j] = 0.0f;
    for (int64_t k = 0; k < K; ++k) {
      const float av = a[i * K + k];
      const float* bk = b + k * N;
      for (int64_t j = 0; j < N; ++j) ci[j] += av * bk[j];
    }
  }
}

}  // namespace ops
}  // namespace lowp
