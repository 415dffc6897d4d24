// onnxruntime's float32 fallback for an int8-activation QDQ Add / Mul, reproduced bit for bit.
//
// onnxruntime (x86) fuses DQ -> Add/Mul -> Q into QLinearAdd / QLinearMul only when both inputs and the
// output have the same 8-bit type after its s8->u8 rewrite (python/lowp/passes/qdq.py ort_runs_float);
// otherwise (a residual Add whose skip branch is an int8 tensor shared by two consumers, ...) it runs
//   fa = float(a - za) * sa,  fb = float(b - zb) * sb      (DequantizeLinear)
//   y = fa + fb  or  fa * fb                               (float32 Add / Mul, numpy broadcasting)
//   c = saturate(round_half_even(y / sc) + zc)             (MlasQuantizeLinear: a division)
// which differs from the QLinearAdd / QLinearMul arithmetic (ops/eltwise.h "half_even") on a few of the
// 65536 input pairs of a typical node. This op computes exactly that chain (then the optional clamp of a
// fused Relu/Clip), with SIMD twins doing the same float32 operations lane by lane.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "lowp/types.h"

namespace lowp {
namespace ops {

struct OrtFloatBinary {
  bool mul = false;  // Add or Mul
  float sa = 1.f, sb = 1.f, sc = 1.f;
  int32_t za = 0, zb = 0, zc = 0;
  int32_t lo = -128, hi = 127;      // output type range (saturation)
  int32_t qmin = -128, qmax = 127;  // clamp (fused Relu/Clip), inside [lo, hi]
};

// Checked parameters: op "add" or "mul", t uint8 / int8, clamp [qmin, qmax] inside the type.
OrtFloatBinary ort_float_binary_params(const std::string& op, DType t, float sa, int32_t za, float sb, int32_t zb,
                                       float sc, int32_t zc, int32_t qmin, int32_t qmax);

// Row kernel: c[i] = f(a[a_scalar ? 0 : i], b[b_scalar ? 0 : i]) for i < n; T = int8_t or uint8_t.
using OrtFloatRowS8 = void (*)(const int8_t*, bool, const int8_t*, bool, int8_t*, int64_t, const OrtFloatBinary&);
using OrtFloatRowU8 = void (*)(const uint8_t*, bool, const uint8_t*, bool, uint8_t*, int64_t, const OrtFloatBinary&);
// Row kernel with b already dequantized: c[i] = f(float(a[i] - za) * sa, fb[i]) for i < n (fb[i] = float(b - zb) *
// sb, the same rounding): an NHWC tensor times a per-channel vector (the squeeze-excitation gate), whose b row
// is dequantized once per op instead of once per pixel.
using OrtFloatRowFS8 = void (*)(const int8_t*, const float*, int8_t*, int64_t, const OrtFloatBinary&);
using OrtFloatRowFU8 = void (*)(const uint8_t*, const float*, uint8_t*, int64_t, const OrtFloatBinary&);
struct OrtFloatRowKernels {
  const char* name;
  OrtFloatRowS8 s8;
  OrtFloatRowU8 u8;
  OrtFloatRowFS8 s8f;
  OrtFloatRowFU8 u8f;
};
const OrtFloatRowKernels& ort_float_rows_ref();
#if defined(__x86_64__) || defined(_M_X64)
const OrtFloatRowKernels& ort_float_rows_avx512();
const OrtFloatRowKernels& ort_float_rows_avx2();  // ops/ort_float_eltwise_avx2.cc
#endif
// The kernels by name ("" = best supported); throws if not available.
const OrtFloatRowKernels& ort_float_rows(const char* name = "");

// c (contiguous, shape `out`) = f(a, b) with numpy broadcasting: a and b are contiguous with shapes
// a_shape / b_shape (right-aligned, size-1 or equal dims). t: uint8 or int8.
std::vector<int64_t> broadcast_out_shape(const std::vector<int64_t>& a_shape, const std::vector<int64_t>& b_shape);
// Large ops run on up to num_threads threads (each output depends only on its inputs: the split changes nothing).
void ort_float_binary(const std::vector<int64_t>& a_shape, const std::vector<int64_t>& b_shape, const void* a,
                      const void* b, void* c, DType t, const OrtFloatBinary& k, const char* kernel = "",
                      int num_threads = 1);

#if defined(__x86_64__) || defined(_M_X64)
// Test hook for ops/ort_float_quot_avx512.h ort_round_clamped_avx512 (cpp/tests/test_ort_float.cc) (the QuantizeLinear + clamp of the depthwise and Add / Mul kernels):
// q[i] = cvtps2dq(ort_round_clamped_avx512(y[i])) + zy with the clamp [qmin, qmax] (8-bit values); must equal
// min(max(round_half_even(y[i] / ys) + zy, qmin), qmax) with the true float32 division.
void ort_float_round_clamped_avx512(const float* y, int64_t n, float ys, int32_t zy, int32_t qmin, int32_t qmax,
                                    int32_t* q);
#endif

}  // namespace ops
}  // namespace lowp
