// Quantized elementwise binary ops with numpy broadcasting: add, sub, mul.
//  "half_even": onnxruntime com.microsoft QLinearAdd / QLinearMul arithmetic (float32, see below)
//  "gemmlowp" / "single": TFLite ADD / SUB / MUL reference integer arithmetic (left_shift 20,
//  per-input Q31 multipliers, output multiplier), with the rounding of requant.h.
// The scalar element functions here are the reference; eltwise_avx2.cc vectorises the
// contiguous rows of the half_even family with the same float32 operations in the same order
// (eltwise_avx512.cc and eltwise_neon.cc likewise).
#pragma once
#include <cstdint>

#include "lowp/types.h"
#include "ops/quantize.h"

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

// Which input is constant along the innermost output axis of size > 1: onnxruntime's
// broadcaster hands its kernels such spans, and when A is the constant one it swaps the
// operands (and their parameters) so that the kernel always sees "B scalar".
enum class SpanKind : uint8_t { Both = 0, ScalarA = 1, ScalarB = 2 };
SpanKind span_kind(const BroadcastShape& bs);

// ---- half_even (onnxruntime MLAS SSE2 kernels, the ones onnxruntime 1.32 runs on x86-64) ----
// QLinearAdd: rA = sA / sC, rB = sB / sC, F = float(zC) - (rA * zA + rB * zB) (float32);
//   r = cvt((F + float(b) * rB) + float(a) * rA)   (the B term first, for every span kind:
//   measured on 367k random elements, the A-first order disagrees with onnxruntime 1.32)
// (a, b raw stored values, not minus their zero points); cvt rounds half to even (INT32_MIN on
// overflow, as cvtps2dq); the result saturates to the type. Sub (not an onnxruntime op) is the
// same arithmetic with rB negated.
struct AddHalfEven {
  float rA, rB, fixed;
  int32_t lo, hi;
};
// QLinearMul: ratio = sA * sB / sC; r = cvt(float((a - zA) * (b - zB)) * ratio + float(zC)).
struct MulHalfEven {
  float ratio, zc;
  int32_t za, zb, lo, hi;
};
// Constants for operands in onnxruntime's (A, B) order; `swapped` = A is the caller's b.
AddHalfEven add_half_even_consts(const BinaryParams& p, bool swapped);
MulHalfEven mul_half_even_consts(const BinaryParams& p, bool swapped);

inline int32_t clamp_i32(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }
inline int32_t add_he(int32_t a, int32_t b, const AddHalfEven& k) {
  const float f2 = k.fixed + static_cast<float>(b) * k.rB;
  return clamp_i32(cvt_rne(f2 + static_cast<float>(a) * k.rA), k.lo, k.hi);
}
inline int32_t mul_he(int32_t a, int32_t b, const MulHalfEven& k) {
  const int32_t prod = (a - k.za) * (b - k.zb);
  return clamp_i32(cvt_rne(static_cast<float>(prod) * k.ratio + k.zc), k.lo, k.hi);
}

// Contiguous row kernels: c[i] = f(a[i], b_scalar ? b[0] : b[i]) for i < n.
struct EltwiseRowKernels {
  const char* name;
  void (*add_u8)(const uint8_t*, const uint8_t*, uint8_t*, int64_t, bool, const AddHalfEven&);
  void (*add_s8)(const int8_t*, const int8_t*, int8_t*, int64_t, bool, const AddHalfEven&);
  void (*mul_u8)(const uint8_t*, const uint8_t*, uint8_t*, int64_t, bool, const MulHalfEven&);
  void (*mul_s8)(const int8_t*, const int8_t*, int8_t*, int64_t, bool, const MulHalfEven&);
};
const EltwiseRowKernels& eltwise_ref_kernels();
#if defined(__x86_64__) || defined(_M_X64)
const EltwiseRowKernels& eltwise_avx2_kernels();    // eltwise_avx2.cc
const EltwiseRowKernels& eltwise_avx512_kernels();  // eltwise_avx512.cc
#endif
#if defined(__aarch64__)
const EltwiseRowKernels& eltwise_neon_kernels();  // eltwise_neon.cc
#endif
// Testing hook: force one row-kernel set by name ("" = automatic). Unknown or unsupported
// names throw lowp::Error.
void force_eltwise_kernel(const char* name);
const char* const* eltwise_kernel_names();  // null-terminated, those this CPU can run
// The row kernels binary_op uses: the best the CPU supports, or the scalar reference when
// SIMD is switched off (tests compare the two).
const EltwiseRowKernels& eltwise_kernels();
void set_eltwise_simd(bool on);

// ---- TFLite ("gemmlowp" / "single") ----
int32_t add_tflite(int32_t a, int32_t b, const BinaryParams& p);
int32_t mul_tflite(int32_t a, int32_t b, const BinaryParams& p);

// TFLite ADD / SUB / MUL of two 8-bit tensors as one 64 KiB table: table[(ua << 8) | ub] is the result
// for the stored bytes ua, ub (int8 read as uint8), built from add_tflite / mul_tflite (so the same bits
// by construction). binary_table applies it with the broadcasting of binary_op, splitting large ops over
// up to num_threads threads (<= 0: the pool's) in contiguous slices of the outermost axis.
void build_binary_table(DType t, const BinaryParams& p, uint8_t* table65536);
void binary_table(const BroadcastShape& bs, const void* a, const void* b, void* c, const uint8_t* table65536,
                  int num_threads = 1);

// Float32 c = a op b with numpy broadcasting (the float glue between quantized ops, e.g. a bias Add onnxruntime
// leaves in float): one IEEE operation per element, so numpy's float32 result bit for bit.
enum class FloatBinaryOp : int { Add = 0, Sub = 1, Mul = 2, Div = 3 };
void float_binary(const BroadcastShape& bs, const float* a, const float* b, float* c, FloatBinaryOp op);

// numpy's float32 mean over the middle axis of a contiguous [outer, len, inner] tensor with inner > 1: numpy sums a
// non-innermost axis in order, from 0.0f, for each output element, then divides by float(len).
void float_mean_axis(const float* x, float* y, int64_t outer, int64_t len, int64_t inner);

// a, b, c all of type `t` (uint8 or int8). Large half-to-even ops are split over up to
// num_threads threads of the pool (<= 0: all) along the outermost axis; same bits for any count.
void binary_op(const BroadcastShape& bs, const void* a, const void* b, void* c, DType t, const BinaryParams& p,
               int num_threads = 1);

}  // namespace ops
}  // namespace lowp
