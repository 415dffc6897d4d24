// MlasSgemmKernelM1Avx's summation order (onnxruntime's depthwise / M == 1 SGEMM, see ops/ort_float_conv.h) for
// 16 lanes at a time; included by *_avx512.cc files only.
#pragma once
#include <immintrin.h>

#include <algorithm>

namespace lowp {
namespace ops {

// The M1 chain of one output vector over the taps: per K chunk of stride_k taps, groups of four products
// (multiply, then add: no FMA) summed left to right and added to the running sum, then a pair, then a single product;
// prod(k) is tap k's product vector.
template <typename Prod>
inline __m512 m1_chain(int taps, int stride_k, Prod prod) {
  __m512 acc = _mm512_setzero_ps();
  for (int k0 = 0; k0 < taps; k0 += stride_k) {
    const int k1 = std::min(taps, k0 + stride_k);
    int k = k0;
    for (; k + 4 <= k1; k += 4) {
      __m512 t = _mm512_add_ps(prod(k), prod(k + 1));
      t = _mm512_add_ps(t, prod(k + 2));
      t = _mm512_add_ps(t, prod(k + 3));
      acc = _mm512_add_ps(t, acc);
    }
    if (k1 - k >= 2) {
      acc = _mm512_add_ps(_mm512_add_ps(prod(k), prod(k + 1)), acc);
      k += 2;
    }
    if (k < k1) acc = _mm512_add_ps(prod(k), acc);
  }
  return acc;
}

}  // namespace ops
}  // namespace lowp
