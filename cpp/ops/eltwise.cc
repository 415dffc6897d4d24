#include "ops/eltwise.h"

#include "ops/quantize.h"
#include "requant/requant.h"

namespace lowp {
namespace ops {

// onnxruntime QLinearAdd (MLAS SSE2 kernel, the one onnxruntime 1.32 runs on x86-64; checked
// bit-exact): with rA = sA / sC, rB = sB / sC and F = float(zC) - (rA * zA + rB * zB) in float32,
//   both inputs vary along the span:  r = cvt((F + float(a) * rA) + float(b) * rB)
//   B is a scalar for the span:      F' = F + float(b) * rB;  r = cvt(F' + float(a) * rA)
// and when A is the scalar onnxruntime swaps the operands (A <-> B, parameters included).
// cvt rounds half to even (INT32_MIN on overflow); the result saturates to the output type.
// Sub (not an onnxruntime op) is the same arithmetic with rB negated.
int32_t add_half_even(int32_t a, int32_t b, const BinaryParams& p, SpanKind kind) {
  const bool swap = kind == SpanKind::ScalarA;
  const float sA = swap ? p.scale_b : p.scale_a, sB = swap ? p.scale_a : p.scale_b;
  const int32_t zA = swap ? p.zp_b : p.zp_a, zB = swap ? p.zp_a : p.zp_b;
  const int32_t vA = swap ? b : a, vB = swap ? a : b;
  const float neg = p.op == BinaryOp::Sub ? -1.0f : 1.0f;
  float rA = sA / p.scale_c, rB = sB / p.scale_c;
  if (swap) rA *= neg; else rB *= neg;
  const float fixed = static_cast<float>(p.zp_c) - (rA * static_cast<float>(zA) + rB * static_cast<float>(zB));
  float v;
  if (kind == SpanKind::Both) {
    const float t = fixed + static_cast<float>(vA) * rA;
    v = t + static_cast<float>(vB) * rB;
  } else {
    const float f2 = fixed + static_cast<float>(vB) * rB;
    v = f2 + static_cast<float>(vA) * rA;
  }
  int32_t r = cvt_rne(v);
  r = r < p.qmin ? p.qmin : (r > p.qmax ? p.qmax : r);
  return r;
}

// onnxruntime QLinearMul (MLAS SSE2 kernel on x86):
//   ratio = sa * sb / sc (float32, in that order); v = float((a - za) * (b - zb)) * ratio + float(zc);
//   cvtps2dq (half to even), then saturating packs to int16 and to the 8-bit type.
int32_t mul_half_even(int32_t a, int32_t b, const BinaryParams& p) {
  const float ratio = p.scale_a * p.scale_b / p.scale_c;
  const int32_t prod = (a - p.zp_a) * (b - p.zp_b);
  const float v = static_cast<float>(prod) * ratio + static_cast<float>(p.zp_c);
  const int32_t r = cvt_rne(v);
  return r < p.qmin ? p.qmin : (r > p.qmax ? p.qmax : r);
}

namespace {
inline int32_t mul_by_q(int32_t x, int32_t m, int shift, Rounding r) {
  return r == Rounding::Single ? requant::mul_single(x, m, shift) : requant::mul_gemmlowp(x, m, shift);
}
}  // namespace

// TFLite reference ADD/SUB for 8-bit (SUB = ADD with the second input multiplier negated,
// which the caller puts in mult_b).
int32_t add_tflite(int32_t a, int32_t b, const BinaryParams& p) {
  const int32_t va = (a - p.zp_a) * (1 << p.left_shift);
  const int32_t vb = (b - p.zp_b) * (1 << p.left_shift);
  const int32_t sa = mul_by_q(va, p.mult_a, p.shift_a, p.rounding);
  const int32_t sb = mul_by_q(vb, p.mult_b, p.shift_b, p.rounding);
  const int32_t raw = static_cast<int32_t>(static_cast<uint32_t>(sa) + static_cast<uint32_t>(sb));
  const int64_t out = int64_t{mul_by_q(raw, p.mult_c, p.shift_c, p.rounding)} + p.zp_c;
  return static_cast<int32_t>(out < p.qmin ? p.qmin : (out > p.qmax ? p.qmax : out));
}

// TFLite reference MUL for 8-bit: zc + MultiplyByQuantizedMultiplier((a - za) * (b - zb), m, s).
int32_t mul_tflite(int32_t a, int32_t b, const BinaryParams& p) {
  const int32_t prod = (a - p.zp_a) * (b - p.zp_b);
  const int64_t out = int64_t{mul_by_q(prod, p.mult_c, p.shift_c, p.rounding)} + p.zp_c;
  return static_cast<int32_t>(out < p.qmin ? p.qmin : (out > p.qmax ? p.qmax : out));
}

SpanKind span_kind(const BroadcastShape& bs) {
  // onnxruntime's broadcaster hands its kernels spans along the innermost output axis of size
  // > 1; which input is constant along it decides the kernel variant.
  for (int d = bs.ndim - 1; d >= 0; --d) {
    if (bs.shape[d] == 1) continue;
    const bool va = bs.stride_a[d] != 0, vb = bs.stride_b[d] != 0;
    if (va && vb) return SpanKind::Both;
    if (va) return SpanKind::ScalarB;
    if (vb) return SpanKind::ScalarA;
    // neither varies along this axis: keep looking further out
  }
  return SpanKind::ScalarA;  // a single element: onnxruntime tests input 0 for scalar first
}

namespace {

template <typename T, typename F>
void broadcast_loop(const BroadcastShape& bs, const T* a, const T* b, T* c, F f) {
  const int nd = bs.ndim;
  if (nd == 0) {
    c[0] = static_cast<T>(f(a[0], b[0], SpanKind::ScalarA));
    return;
  }
  const int64_t inner = bs.shape[nd - 1];
  const int64_t ia = bs.stride_a[nd - 1], ib = bs.stride_b[nd - 1];
  const SpanKind kind = span_kind(bs);
  int64_t outer = 1;
  for (int d = 0; d < nd - 1; ++d) outer *= bs.shape[d];
  if (inner == 0) return;
  int64_t idx[kMaxDims] = {};
  int64_t off_a = 0, off_b = 0;
  for (int64_t o = 0; o < outer; ++o) {
    const T* pa = a + off_a;
    const T* pb = b + off_b;
    T* pc = c + o * inner;
    if (ia == 1 && ib == 1) {
      for (int64_t i = 0; i < inner; ++i) pc[i] = static_cast<T>(f(pa[i], pb[i], kind));
    } else if (ia == 1 && ib == 0) {
      const int32_t vb = pb[0];
      for (int64_t i = 0; i < inner; ++i) pc[i] = static_cast<T>(f(pa[i], vb, kind));
    } else {
      for (int64_t i = 0; i < inner; ++i) pc[i] = static_cast<T>(f(pa[i * ia], pb[i * ib], kind));
    }
    // advance the multi-index over the outer dims
    for (int d = nd - 2; d >= 0; --d) {
      ++idx[d];
      off_a += bs.stride_a[d];
      off_b += bs.stride_b[d];
      if (idx[d] < bs.shape[d]) break;
      off_a -= bs.stride_a[d] * bs.shape[d];
      off_b -= bs.stride_b[d] * bs.shape[d];
      idx[d] = 0;
    }
  }
}

template <typename T>
void binary_t(const BroadcastShape& bs, const T* a, const T* b, T* c, const BinaryParams& p) {
  if (p.rounding == Rounding::HalfEven) {
    if (p.op == BinaryOp::Mul)
      broadcast_loop(bs, a, b, c, [&p](int32_t x, int32_t y, SpanKind) { return mul_half_even(x, y, p); });
    else
      broadcast_loop(bs, a, b, c, [&p](int32_t x, int32_t y, SpanKind k) { return add_half_even(x, y, p, k); });
  } else {
    if (p.op == BinaryOp::Mul)
      broadcast_loop(bs, a, b, c, [&p](int32_t x, int32_t y, SpanKind) { return mul_tflite(x, y, p); });
    else
      broadcast_loop(bs, a, b, c, [&p](int32_t x, int32_t y, SpanKind) { return add_tflite(x, y, p); });
  }
}

}  // namespace

void binary_op(const BroadcastShape& bs, const void* a, const void* b, void* c, DType t, const BinaryParams& p) {
  LOWP_CHECK(bs.ndim >= 0 && bs.ndim <= kMaxDims, "too many dimensions for a broadcast op (max 8)");
  if (p.rounding != Rounding::HalfEven) {
    LOWP_CHECK(p.left_shift >= 0 && p.left_shift <= 20, "left_shift must be in [0, 20]");
    for (int s : {p.shift_a, p.shift_b, p.shift_c}) LOWP_CHECK(s >= -31 && s <= 30, "shift must be in [-31, 30]");
  }
  if (t == DType::U8)
    binary_t(bs, static_cast<const uint8_t*>(a), static_cast<const uint8_t*>(b), static_cast<uint8_t*>(c), p);
  else if (t == DType::S8)
    binary_t(bs, static_cast<const int8_t*>(a), static_cast<const int8_t*>(b), static_cast<int8_t*>(c), p);
  else
    throw Error("lowp: elementwise ops take uint8 or int8");
}

}  // namespace ops
}  // namespace lowp
