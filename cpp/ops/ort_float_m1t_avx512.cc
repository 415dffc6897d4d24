// AVX-512 twin of ort_float_conv_one for the one-pixel (N == 1, mode 2) convs: MlasSgemmKernelM1TransposeBAvx's
// eight lane sums (lane j: the products k = j mod 8 in k order, multiply then add) in one 8-float vector, then the
// same reduction tree as the reference (ops/ort_float_conv.cc sum_m1t), + bias, QuantizeLinear, the clamp. The
// squeeze-excite convs of EfficientNet-B0 (K = 1152, 48 rows) flag most outputs for this float32 chain.
#include <immintrin.h>

#include <algorithm>

#include "ops/ort_float_conv.h"
#include "ops/quantize.h"

namespace lowp {
namespace ops {

int32_t ort_float_conv_one_m1t_avx512(const OrtFloatConv& p, const float* xf, int m) {
  const int K = p.K;
  const float* w = p.wf.data() + static_cast<size_t>(m) * K;
  __m256 acc = _mm256_setzero_ps();
  int k = 0;
  for (; k + 8 <= K; k += 8) acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(w + k), _mm256_loadu_ps(xf + k)));
  if (k < K) {  // lanes past K add 0 * 0 (a zero's sign, which no later step can tell)
    const __mmask8 t = static_cast<__mmask8>((1u << (K - k)) - 1);
    acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_maskz_loadu_ps(t, w + k), _mm256_maskz_loadu_ps(t, xf + k)));
  }
  alignas(32) float a[8];
  _mm256_store_ps(a, acc);
  // rows of the group go 4 at a time, then a pair, then one
  const int Mg = p.M / p.group, r = m % Mg, full4 = Mg / 4 * 4;
  const int block = r < full4 ? 4 : ((Mg - full4) >= 2 && r < full4 + 2 ? 2 : 1);
  float c;
  if (block == 4)
    c = (((a[0] + a[1]) + a[2]) + a[3]) + (((a[4] + a[5]) + a[6]) + a[7]);
  else if (block == 2)
    c = ((a[0] + a[2]) + (a[4] + a[6])) + ((a[1] + a[3]) + (a[5] + a[7]));
  else
    c = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  const bool s8 = p.y_type == DType::S8;
  const int32_t q = quantize_one(c + p.bf[m], p.ys, p.zy, s8 ? -128 : 0, s8 ? 127 : 255);
  return std::min(std::max(q, p.qmin), p.qmax);
}

}  // namespace ops
}  // namespace lowp
