// Elementwise binary ops: broadcast driver, scalar reference kernels, TFLite arithmetic.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")  // exactness: never fuse a*b+c (aarch64 would)
#endif
#include "ops/eltwise.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "requant/requant.h"
#include "runtime/thread_pool.h"
#include "runtime/cpu.h"

namespace lowp {
namespace ops {

AddHalfEven add_half_even_consts(const BinaryParams& p, bool swapped) {
  const float sA = swapped ? p.scale_b : p.scale_a, sB = swapped ? p.scale_a : p.scale_b;
  const int32_t zA = swapped ? p.zp_b : p.zp_a, zB = swapped ? p.zp_a : p.zp_b;
  float rA = sA / p.scale_c, rB = sB / p.scale_c;
  if (p.op == BinaryOp::Sub) {
    if (swapped) rA = -rA;
    else rB = -rB;
  }
  AddHalfEven k;
  k.rA = rA;
  k.rB = rB;
  k.fixed = static_cast<float>(p.zp_c) - (rA * static_cast<float>(zA) + rB * static_cast<float>(zB));
  k.lo = p.qmin;
  k.hi = p.qmax;
  return k;
}

MulHalfEven mul_half_even_consts(const BinaryParams& p, bool swapped) {
  MulHalfEven k;
  const float sA = swapped ? p.scale_b : p.scale_a, sB = swapped ? p.scale_a : p.scale_b;
  k.ratio = sA * sB / p.scale_c;
  k.zc = static_cast<float>(p.zp_c);
  k.za = swapped ? p.zp_b : p.zp_a;
  k.zb = swapped ? p.zp_a : p.zp_b;
  k.lo = p.qmin;
  k.hi = p.qmax;
  return k;
}

namespace {

template <typename T>
void add_row_ref(const T* a, const T* b, T* c, int64_t n, bool b_scalar, const AddHalfEven& k) {
  for (int64_t i = 0; i < n; ++i) c[i] = static_cast<T>(add_he(a[i], b_scalar ? b[0] : b[i], k));
}

template <typename T>
void mul_row_ref(const T* a, const T* b, T* c, int64_t n, bool b_scalar, const MulHalfEven& k) {
  for (int64_t i = 0; i < n; ++i) c[i] = static_cast<T>(mul_he(a[i], b_scalar ? b[0] : b[i], k));
}

const EltwiseRowKernels kRef = {"ref", add_row_ref<uint8_t>, add_row_ref<int8_t>, mul_row_ref<uint8_t>,
                                mul_row_ref<int8_t>};
std::atomic<bool> g_simd{true};

}  // namespace

const EltwiseRowKernels& eltwise_ref_kernels() { return kRef; }
void set_eltwise_simd(bool on) { g_simd.store(on); }
bool eltwise_simd_enabled() { return g_simd.load(); }

namespace {
std::atomic<int> g_forced{-1};  // -1 automatic, 0 ref, 1 avx2, 2 avx512, 3 neon
}

const char* const* eltwise_kernel_names() {
#if defined(__x86_64__) || defined(_M_X64)
  static const char* names[4] = {nullptr, nullptr, nullptr, nullptr};
  static const bool init = [] {
    int i = 0;
    if (cpu::has_avx512bw()) names[i++] = "avx512";
    if (cpu::has_avx2()) names[i++] = "avx2";
    names[i++] = "ref";
    return true;
  }();
  (void)init;
  return names;
#elif defined(__aarch64__)
  static const char* names[3] = {"neon", "ref", nullptr};  // NEON is baseline on aarch64
  return names;
#else
  static const char* names[2] = {"ref", nullptr};
  return names;
#endif
}

void force_eltwise_kernel(const char* name) {
  const std::string n = name ? name : "";
  if (n.empty()) return g_forced.store(-1);
  for (const char* const* p = eltwise_kernel_names(); *p; ++p)
    if (n == *p) return g_forced.store(n == "ref" ? 0 : n == "avx2" ? 1 : n == "avx512" ? 2 : 3);
  throw Error("lowp: elementwise kernel '" + n + "' is not available on this CPU");
}

const EltwiseRowKernels& eltwise_kernels() {
  const int forced = g_forced.load();
  if (forced == 0 || !g_simd.load()) return kRef;
#if defined(__x86_64__) || defined(_M_X64)
  static const bool avx2 = cpu::has_avx2(), avx512 = cpu::has_avx512bw();
  if (forced == 1) return eltwise_avx2_kernels();
  if (forced == 2) return eltwise_avx512_kernels();
  if (avx512) return eltwise_avx512_kernels();
  if (avx2) return eltwise_avx2_kernels();
#elif defined(__aarch64__)
  return eltwise_neon_kernels();
#endif
  return kRef;
}

SpanKind span_kind(const BroadcastShape& bs) {
  for (int d = bs.ndim - 1; d >= 0; --d) {
    if (bs.shape[d] == 1) continue;
    const bool va = bs.stride_a[d] != 0, vb = bs.stride_b[d] != 0;
    if (va && vb) return SpanKind::Both;
    if (va) return SpanKind::ScalarB;
    if (vb) return SpanKind::ScalarA;
    // neither varies along this axis: keep looking further out
  }
  return SpanKind::ScalarA;  // a single element: onnxruntime tests input 0 for "scalar" first
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

namespace {

// Calls row(pa, pb, pc, inner, ia, ib) for every contiguous output row (last axis).
template <typename T, typename Row>
void for_each_row(const BroadcastShape& bs, const T* a, const T* b, T* c, Row row) {
  const int nd = bs.ndim;
  if (nd == 0) {
    row(a, b, c, 1, 1, 1);
    return;
  }
  const int64_t inner = bs.shape[nd - 1];
  const int64_t ia = bs.stride_a[nd - 1], ib = bs.stride_b[nd - 1];
  int64_t outer = 1;
  for (int d = 0; d < nd - 1; ++d) outer *= bs.shape[d];
  if (inner == 0 || outer == 0) return;
  int64_t idx[kMaxDims] = {};
  int64_t off_a = 0, off_b = 0;
  for (int64_t o = 0; o < outer; ++o) {
    row(a + off_a, b + off_b, c + o * inner, inner, ia, ib);
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
struct RowFns;
template <>
struct RowFns<uint8_t> {
  static auto add(const EltwiseRowKernels& k) { return k.add_u8; }
  static auto mul(const EltwiseRowKernels& k) { return k.mul_u8; }
};
template <>
struct RowFns<int8_t> {
  static auto add(const EltwiseRowKernels& k) { return k.add_s8; }
  static auto mul(const EltwiseRowKernels& k) { return k.mul_s8; }
};

// Drops size-1 axes and merges adjacent axes both inputs walk contiguously (the output is
// contiguous), so rows are as long as possible. Leaves span_kind() unchanged.
BroadcastShape coalesce(const BroadcastShape& in) {
  BroadcastShape out;
  int n = 0;
  for (int d = 0; d < in.ndim; ++d) {
    if (in.shape[d] == 1) continue;
    if (n > 0 && out.stride_a[n - 1] == in.stride_a[d] * in.shape[d] &&
        out.stride_b[n - 1] == in.stride_b[d] * in.shape[d]) {
      out.shape[n - 1] *= in.shape[d];
      out.stride_a[n - 1] = in.stride_a[d];
      out.stride_b[n - 1] = in.stride_b[d];
      continue;
    }
    out.shape[n] = in.shape[d];
    out.stride_a[n] = in.stride_a[d];
    out.stride_b[n] = in.stride_b[d];
    ++n;
  }
  out.ndim = n;
  return out;
}

// Runs body(sub, a, b, c) over slices of bs's outermost axis on up to `threads` threads when
// the op is large enough to pay for waking a thread (each output element depends only on its
// inputs, so the split changes nothing); else body(bs, a, b, c).
// kMinElems: >= ~1 us of work per task (AVX-512 rows: ~8 values / ns): MobileNetV2's 28x28x32 / 14x14x96
// residual adds 4.0 -> 3.3 / 2.9 -> 2.0 us at 2 threads (they were single-threaded below 64K values).
template <typename T, typename Body>
void split_outer(const BroadcastShape& bs, const T* a, const T* b, T* c, int threads, Body body,
                 int64_t kMinElems = 8 * 1024) {
  int64_t total = 1;
  for (int d = 0; d < bs.ndim; ++d) total *= bs.shape[d];
  if (threads > 1 && bs.ndim >= 1 && total >= 2 * kMinElems && bs.shape[0] >= 2) {
    const int64_t inner = total / bs.shape[0];
    // 1-D: slices on multiples of 64 elements (whole SIMD rows)
    const int64_t unit = bs.ndim == 1 ? 64 : 1, units = (bs.shape[0] + unit - 1) / unit;
    const int tasks = static_cast<int>(std::min<int64_t>({threads * 2, units, total / kMinElems}));
    if (tasks > 1) {
      ThreadPool::global().parallel_for(tasks, [&](int t, int /*thread*/) {
        const int64_t d0 = std::min(bs.shape[0], units * t / tasks * unit);
        const int64_t d1 = std::min(bs.shape[0], units * (t + 1) / tasks * unit);
        if (d1 <= d0) return;
        BroadcastShape sub = bs;
        sub.shape[0] = d1 - d0;
        body(sub, a + d0 * bs.stride_a[0], b + d0 * bs.stride_b[0], c + d0 * inner);
      }, threads);
      return;
    }
  }
  body(bs, a, b, c);
}

template <typename T>
void half_even_t(const BroadcastShape& bs_raw, const T* a, const T* b, T* c, const BinaryParams& p, int threads) {
  const BroadcastShape bs_in = coalesce(bs_raw);
  const SpanKind kind = span_kind(bs_in);
  // onnxruntime's kernels see "B constant" spans; when A is the constant one, swap.
  const bool swapped = kind == SpanKind::ScalarA;
  BroadcastShape bs = bs_in;
  if (swapped) {
    for (int d = 0; d < bs.ndim; ++d) std::swap(bs.stride_a[d], bs.stride_b[d]);
    std::swap(a, b);
  }
  const EltwiseRowKernels& rk = eltwise_kernels();
  // (rows, C) op (1, C): an NHWC tensor times a per-channel vector (the squeeze-excitation gate).
  // Rows of C elements are too short for the vector kernels, so tile the vector into a buffer of
  // many rows and run the row kernel over long spans (elementwise: the same values, fewer calls).
  if (bs.ndim == 2 && bs.shape[1] < 1024 && bs.shape[0] > 1 && bs.stride_a[1] == 1 && bs.stride_b[1] == 1 &&
      ((bs.stride_a[0] == bs.shape[1] && bs.stride_b[0] == 0) || (bs.stride_a[0] == 0 && bs.stride_b[0] == bs.shape[1]))) {
    const int64_t C = bs.shape[1], R = bs.shape[0];
    const int64_t reps = std::max<int64_t>(1, 4096 / C);
    const bool a_rep = bs.stride_a[0] == 0;
    alignas(64) T tile[4096];  // C * reps <= 4096 (C < 1024): on the stack, no allocation per call
    for (int64_t r = 0; r < reps; ++r) std::memcpy(tile + r * C, a_rep ? a : b, static_cast<size_t>(C) * sizeof(T));
    auto blocks = [&](int64_t b0, int64_t b1) {
      BroadcastShape flat;
      for (int64_t r0 = b0 * reps; r0 < std::min(R, b1 * reps); r0 += reps) {
        const int64_t n = std::min(reps, R - r0) * C;
        const T* pa = a_rep ? tile : a + r0 * C;
        const T* pb = a_rep ? b + r0 * C : tile;
        flat.ndim = 1;
        flat.shape[0] = n;
        flat.stride_a[0] = flat.stride_b[0] = 1;
        half_even_t(flat, pa, pb, c + r0 * C, p, 1);
      }
    };
    const int64_t nb = (R + reps - 1) / reps;
    const int tasks = static_cast<int>(std::min<int64_t>({threads * 2, nb, R * C / (32 * 1024)}));
    if (tasks > 1) {
      ThreadPool::global().parallel_for(tasks, [&](int t, int /*thread*/) { blocks(nb * t / tasks, nb * (t + 1) / tasks); },
                                        threads);
    } else {
      blocks(0, nb);
    }
    return;
  }
  if (p.op == BinaryOp::Mul) {
    const MulHalfEven k = mul_half_even_consts(p, swapped);
    auto fast = RowFns<T>::mul(rk);
    auto row = [&](const T* pa, const T* pb, T* pc, int64_t n, int64_t ia, int64_t ib) {
      if (ia == 1 && (ib == 1 || ib == 0) && n > 1) return fast(pa, pb, pc, n, ib == 0, k);
      for (int64_t i = 0; i < n; ++i) pc[i] = static_cast<T>(mul_he(pa[i * ia], pb[i * ib], k));
    };
    split_outer(bs, a, b, c, threads, [&](const BroadcastShape& s, const T* sa, const T* sb, T* sc) {
      for_each_row(s, sa, sb, sc, row);
    });
  } else {
    const AddHalfEven k = add_half_even_consts(p, swapped);
    auto fast = RowFns<T>::add(rk);
    auto row = [&](const T* pa, const T* pb, T* pc, int64_t n, int64_t ia, int64_t ib) {
      if (ia == 1 && (ib == 1 || ib == 0) && n > 1) return fast(pa, pb, pc, n, ib == 0, k);
      for (int64_t i = 0; i < n; ++i) pc[i] = static_cast<T>(add_he(pa[i * ia], pb[i * ib], k));
    };
    split_outer(bs, a, b, c, threads, [&](const BroadcastShape& s, const T* sa, const T* sb, T* sc) {
      for_each_row(s, sa, sb, sc, row);
    });
  }
}

template <typename T>
void tflite_t(const BroadcastShape& bs_raw, const T* a, const T* b, T* c, const BinaryParams& p) {
  const BroadcastShape bs = coalesce(bs_raw);
  const bool mul = p.op == BinaryOp::Mul;
  for_each_row(bs, a, b, c, [&](const T* pa, const T* pb, T* pc, int64_t n, int64_t ia, int64_t ib) {
    if (mul)
      for (int64_t i = 0; i < n; ++i) pc[i] = static_cast<T>(mul_tflite(pa[i * ia], pb[i * ib], p));
    else
      for (int64_t i = 0; i < n; ++i) pc[i] = static_cast<T>(add_tflite(pa[i * ia], pb[i * ib], p));
  });
}

}  // namespace

void build_binary_table(DType t, const BinaryParams& p, uint8_t* table) {
  LOWP_CHECK(t == DType::U8 || t == DType::S8, "a binary table takes uint8 or int8");
  LOWP_CHECK(p.rounding != Rounding::HalfEven, "binary tables are for TFLite arithmetic");
  LOWP_CHECK(p.left_shift >= 0 && p.left_shift <= 20, "left_shift must be in [0, 20]");
  for (int s : {p.shift_a, p.shift_b, p.shift_c}) LOWP_CHECK(s >= -31 && s <= 30, "shift must be in [-31, 30]");
  const bool mul = p.op == BinaryOp::Mul;
  for (int ua = 0; ua < 256; ++ua) {
    const int32_t va = t == DType::S8 ? static_cast<int8_t>(ua) : ua;
    for (int ub = 0; ub < 256; ++ub) {
      const int32_t vb = t == DType::S8 ? static_cast<int8_t>(ub) : ub;
      table[ua << 8 | ub] = static_cast<uint8_t>(mul ? mul_tflite(va, vb, p) : add_tflite(va, vb, p));
    }
  }
}

void binary_table(const BroadcastShape& bs_raw, const void* a, const void* b, void* c, const uint8_t* table,
                  int num_threads) {
  ThreadPool& pool = ThreadPool::global();
  const int threads = std::min(num_threads > 0 ? num_threads : pool.threads(), pool.threads());
  auto body = [&](const BroadcastShape& bs, const uint8_t* a0, const uint8_t* b0, uint8_t* c0) {
    for_each_row(bs, a0, b0, c0, [&](const uint8_t* pa, const uint8_t* pb, uint8_t* pc, int64_t n, int64_t ia, int64_t ib) {
      if (ia == 1 && ib == 1) {
        for (int64_t i = 0; i < n; ++i) pc[i] = table[pa[i] << 8 | pb[i]];
      } else if (ia == 0) {
        const uint8_t* row = table + (pa[0] << 8);  // a constant along the row: one 256-entry row
        for (int64_t i = 0; i < n; ++i) pc[i] = row[pb[i * ib]];
      } else {
        for (int64_t i = 0; i < n; ++i) pc[i] = table[pa[i * ia] << 8 | pb[i * ib]];
      }
    });
  };
  // A lookup is ~0.45 ns: >= 4K values (~2 us) per task. The slices are contiguous output ranges, so
  // thread i reads (about) the rows thread i of the convs before it wrote.
  split_outer(coalesce(bs_raw), static_cast<const uint8_t*>(a), static_cast<const uint8_t*>(b), static_cast<uint8_t*>(c),
              threads, body, 4 * 1024);
}

void float_binary(const BroadcastShape& bs_raw, const float* a, const float* b, float* c, FloatBinaryOp op) {
  LOWP_CHECK(bs_raw.ndim >= 0 && bs_raw.ndim <= kMaxDims, "too many dimensions for a broadcast op (max 8)");
  auto run = [&](auto f) {
    for_each_row(coalesce(bs_raw), a, b, c, [&](const float* pa, const float* pb, float* pc, int64_t n, int64_t ia,
                                               int64_t ib) {
      if (ia == 1 && ib == 1) {
        for (int64_t i = 0; i < n; ++i) pc[i] = f(pa[i], pb[i]);
      } else {
        for (int64_t i = 0; i < n; ++i) pc[i] = f(pa[i * ia], pb[i * ib]);
      }
    });
  };
  switch (op) {
    case FloatBinaryOp::Add: run([](float x, float y) { return x + y; }); break;
    case FloatBinaryOp::Sub: run([](float x, float y) { return x - y; }); break;
    case FloatBinaryOp::Mul: run([](float x, float y) { return x * y; }); break;
    case FloatBinaryOp::Div: run([](float x, float y) { return x / y; }); break;
    default: throw Error("lowp: unknown float binary op");
  }
}

void float_mean_axis(const float* x, float* y, int64_t outer, int64_t len, int64_t inner) {
  LOWP_CHECK(outer >= 0 && len >= 1 && inner > 1 && len < (int64_t{1} << 24), "float_mean_axis: bad [outer, len, inner]");
  const float n = static_cast<float>(len);
  for (int64_t o = 0; o < outer; ++o) {
    const float* xo = x + o * len * inner;
    float* yo = y + o * inner;
    for (int64_t j = 0; j < inner; ++j) yo[j] = 0.0f;
    for (int64_t i = 0; i < len; ++i)
      for (int64_t j = 0; j < inner; ++j) yo[j] += xo[i * inner + j];
    for (int64_t j = 0; j < inner; ++j) yo[j] /= n;
  }
}

void binary_op(const BroadcastShape& bs, const void* a, const void* b, void* c, DType t, const BinaryParams& p,
               int num_threads) {
  LOWP_CHECK(bs.ndim >= 0 && bs.ndim <= kMaxDims, "too many dimensions for a broadcast op (max 8)");
  if (p.rounding != Rounding::HalfEven) {
    LOWP_CHECK(p.left_shift >= 0 && p.left_shift <= 20, "left_shift must be in [0, 20]");
    for (int s : {p.shift_a, p.shift_b, p.shift_c}) LOWP_CHECK(s >= -31 && s <= 30, "shift must be in [-31, 30]");
  }
  const bool he = p.rounding == Rounding::HalfEven;
  ThreadPool& pool = ThreadPool::global();
  const int threads = std::min(num_threads > 0 ? num_threads : pool.threads(), pool.threads());
  if (t == DType::U8) {
    auto pa = static_cast<const uint8_t*>(a);
    auto pb = static_cast<const uint8_t*>(b);
    auto pc = static_cast<uint8_t*>(c);
    he ? half_even_t(bs, pa, pb, pc, p, threads) : tflite_t(bs, pa, pb, pc, p);
  } else if (t == DType::S8) {
    auto pa = static_cast<const int8_t*>(a);
    auto pb = static_cast<const int8_t*>(b);
    auto pc = static_cast<int8_t*>(c);
    he ? half_even_t(bs, pa, pb, pc, p, threads) : tflite_t(bs, pa, pb, pc, p);
  } else {
    throw Error("lowp: elementwise ops take uint8 or int8");
  }
}

}  // namespace ops
}  // namespace lowp
