// The half_even (onnxruntime) add / mul row kernels, written once over a vector-traits type V and
// instantiated by each x86 ISA file (eltwise_avx2.cc: 8 lanes, eltwise_avx512.cc: 16 lanes). Same
// float32 operations in the same order as the scalar reference in eltwise.h. Includers compile with
// FMA contraction off (their fp-contract pragma precedes this include), so a*b+c stays two roundings.
//
// V provides: F / I (float / int32 vectors), kN (lanes), set1(float), set1i(int32),
// load_ps<T>(p) / load_epi32<T>(p) (kN 8-bit values widened), add, mul, sub_i, mullo, to_float,
// clamp(F, lo, hi) (round half to even, then clamp as int32) and store<T>(p, I) (kN clamped int32
// -> kN bytes).
#pragma once
#include <cstdint>

#include "ops/eltwise.h"

namespace lowp {
namespace ops {
namespace simd_rows {

template <class V, typename T>
void add_row(const T* a, const T* b, T* c, int64_t n, bool b_scalar, const AddHalfEven& k) {
  const typename V::F rA = V::set1(k.rA), rB = V::set1(k.rB);
  const typename V::I lo = V::set1i(k.lo), hi = V::set1i(k.hi);
  int64_t i = 0;
  if (b_scalar) {
    // F' = F + float(b) * rB, once per span (the scalar does the same computation per element)
    const typename V::F F2 = V::set1(k.fixed + static_cast<float>(b[0]) * k.rB);
    for (; i + V::kN <= n; i += V::kN)
      V::store(c + i, V::clamp(V::add(F2, V::mul(V::load_ps(a + i), rA)), lo, hi));
    for (; i < n; ++i) c[i] = static_cast<T>(add_he(a[i], b[0], k));
  } else {
    const typename V::F F = V::set1(k.fixed);
    for (; i + V::kN <= n; i += V::kN) {
      const typename V::F t = V::add(F, V::mul(V::load_ps(b + i), rB));
      V::store(c + i, V::clamp(V::add(t, V::mul(V::load_ps(a + i), rA)), lo, hi));
    }
    for (; i < n; ++i) c[i] = static_cast<T>(add_he(a[i], b[i], k));
  }
}

template <class V, typename T>
void mul_row(const T* a, const T* b, T* c, int64_t n, bool b_scalar, const MulHalfEven& k) {
  const typename V::F ratio = V::set1(k.ratio), zc = V::set1(k.zc);
  const typename V::I za = V::set1i(k.za), zb = V::set1i(k.zb), lo = V::set1i(k.lo), hi = V::set1i(k.hi);
  const typename V::I bs = V::set1i(static_cast<int32_t>(b[0]) - k.zb);
  int64_t i = 0;
  for (; i + V::kN <= n; i += V::kN) {
    const typename V::I va = V::sub_i(V::load_epi32(a + i), za);
    const typename V::I vb = b_scalar ? bs : V::sub_i(V::load_epi32(b + i), zb);
    const typename V::F prod = V::to_float(V::mullo(va, vb));
    V::store(c + i, V::clamp(V::add(V::mul(prod, ratio), zc), lo, hi));
  }
  for (; i < n; ++i) c[i] = static_cast<T>(mul_he(a[i], b_scalar ? b[0] : b[i], k));
}

template <class V>
EltwiseRowKernels row_kernels(const char* name) {
  return {name, add_row<V, uint8_t>, add_row<V, int8_t>, mul_row<V, uint8_t>, mul_row<V, int8_t>};
}

}  // namespace simd_rows
}  // namespace ops
}  // namespace lowp
