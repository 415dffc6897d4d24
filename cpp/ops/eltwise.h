// Quantized elementwise binary ops with numpy broadcasting: add, sub, mul.
//  "half_even": onnxruntime com.microsoft QLinearAdd / QLinearMul arithmetic (float32, see eltwise.cc)
//  "gemmlowp" / "single": TFLite ADD / SUB / MUL reference integer arithmetic (left_shift 20,
//  per-input Q31 multipliers, output multiplier), with the rounding of requant.h.
#pragma once
#include <cstdint>

#include "lowp/types.h"

namespace lowp {
namespace ops {

enum class BinaryOp : uint8_t { Add = 0, Sub = 1, Mul = 2 };

constexpr int kMaxDims = 8;

// Broadcast iteration: the output is contiguous with `shape`; a and b are read with their own
// element strides (0 along broadcast axes).
struct BroadcastShape {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride_a[kMaxDims] = {};
  int64_t stride_b[kMaxDims] = {};
};

struct BinaryParams {
  BinaryOp op = BinaryOp::Add;
  Rounding rounding = Rounding::HalfEven;
  // real quantization parameters (used by "half_even")
  float scale_a = 1.f, scale_b = 1.f, scale_c = 1.f;
  int32_t zp_a = 0, zp_b = 0, zp_c = 0;
  // TFLite fixed-point parameters (used by "gemmlowp" / "single"); for Mul only the output ones.
  int left_shift = 20;
  int32_t mult_a = 0, mult_b = 0, mult_c = 0;
  int shift_a = 0, shift_b = 0, shift_c = 0;
  // output activation range (inside the output type)
  int32_t qmin = 0, qmax = 255;
};

// Which input is constant along the innermost varying axis (onnxruntime's span variants).
enum class SpanKind : uint8_t { Both = 0, ScalarA = 1, ScalarB = 2 };
SpanKind span_kind(const BroadcastShape& bs);

// a, b, c all of type `t` (uint8 or int8).
void binary_op(const BroadcastShape& bs, const void* a, const void* b, void* c, DType t, const BinaryParams& p);

// The scalar element functions (exposed for the C++ tests).
int32_t add_half_even(int32_t a, int32_t b, const BinaryParams& p, SpanKind kind);
int32_t mul_half_even(int32_t a, int32_t b, const BinaryParams& p);
int32_t add_tflite(int32_t a, int32_t b, const BinaryParams& p);
int32_t mul_tflite(int32_t a, int32_t b, const BinaryParams& p);

}  // namespace ops
}  // namespace lowp
