// aarch64 NEON row kernels for the half_even (onnxruntime) elementwise add / mul: the same
// float32 operations in the same order as the scalar reference in eltwise.h (separate multiply
// and add, never FMLA; contraction is off for this file), 16 elements per step.
// Conversion: vcvtnq_s32_f32 rounds half to even like cvtps2dq but saturates (and gives 0 for
// NaN); the reference's cvt_rne gives INT32_MIN for NaN and |v| >= 2^31, so lanes outside that
// range are replaced by INT32_MIN before the clamp (cvt_x86 below). Tested bit-exact against
// the scalar reference, including overflowing and NaN ratios.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <arm_neon.h>

#include <cstdint>
#include <type_traits>

#include "ops/eltwise.h"

namespace lowp {
namespace ops {

namespace {

// x86 cvtps2dq semantics: round half to even, INT32_MIN for NaN or |v| >= 2^31.
inline int32x4_t cvt_x86(float32x4_t v) {
  const uint32x4_t ok = vcaltq_f32(v, vdupq_n_f32(2147483648.0f));  // |v| < 2^31; false for NaN
  return vbslq_s32(ok, vcvtnq_s32_f32(v), vdupq_n_s32(INT32_MIN));
}

// 16 bytes -> four int32x4 (elements 0-3, 4-7, 8-11, 12-15).
struct I32x16 {
  int32x4_t v[4];
};
inline I32x16 widen16(const uint8_t* p) {
  const uint8x16_t x = vld1q_u8(p);
  const int16x8_t lo = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(x)));
  const int16x8_t hi = vreinterpretq_s16_u16(vmovl_u8(vget_high_u8(x)));
  return {{vmovl_s16(vget_low_s16(lo)), vmovl_s16(vget_high_s16(lo)), vmovl_s16(vget_low_s16(hi)),
           vmovl_s16(vget_high_s16(hi))}};
}
inline I32x16 widen16(const int8_t* p) {
  const int8x16_t x = vld1q_s8(p);
  const int16x8_t lo = vmovl_s8(vget_low_s8(x)), hi = vmovl_s8(vget_high_s8(x));
  return {{vmovl_s16(vget_low_s16(lo)), vmovl_s16(vget_high_s16(lo)), vmovl_s16(vget_low_s16(hi)),
           vmovl_s16(vget_high_s16(hi))}};
}

// Four int32x4 already clamped into the 8-bit range -> 16 bytes (narrowing is exact).
inline void store16(uint8_t* p, const I32x16& r) {
  const int16x8_t lo = vcombine_s16(vmovn_s32(r.v[0]), vmovn_s32(r.v[1]));
  const int16x8_t hi = vcombine_s16(vmovn_s32(r.v[2]), vmovn_s32(r.v[3]));
  vst1q_u8(p, vcombine_u8(vqmovun_s16(lo), vqmovun_s16(hi)));
}
inline void store16(int8_t* p, const I32x16& r) {
  const int16x8_t lo = vcombine_s16(vmovn_s32(r.v[0]), vmovn_s32(r.v[1]));
  const int16x8_t hi = vcombine_s16(vmovn_s32(r.v[2]), vmovn_s32(r.v[3]));
  vst1q_s8(p, vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi)));
}

inline int32x4_t clamp(int32x4_t v, int32x4_t lo, int32x4_t hi) { return vminq_s32(vmaxq_s32(v, lo), hi); }

template <typename T>
void add_row_neon(const T* a, const T* b, T* c, int64_t n, bool b_scalar, const AddHalfEven& k) {
  const float32x4_t rA = vdupq_n_f32(k.rA), rB = vdupq_n_f32(k.rB);
  const int32x4_t lo = vdupq_n_s32(k.lo), hi = vdupq_n_s32(k.hi);
  int64_t i = 0;
  if (b_scalar) {
    // F' = F + float(b) * rB once per span (the scalar computes the same value per element)
    const float32x4_t F2 = vdupq_n_f32(k.fixed + static_cast<float>(b[0]) * k.rB);
    for (; i + 16 <= n; i += 16) {
      const I32x16 va = widen16(a + i);
      I32x16 r;
      for (int j = 0; j < 4; ++j)
        r.v[j] = clamp(cvt_x86(vaddq_f32(F2, vmulq_f32(vcvtq_f32_s32(va.v[j]), rA))), lo, hi);
      store16(c + i, r);
    }
    for (; i < n; ++i) c[i] = static_cast<T>(add_he(a[i], b[0], k));
  } else {
    const float32x4_t F = vdupq_n_f32(k.fixed);
    for (; i + 16 <= n; i += 16) {
      const I32x16 va = widen16(a + i), vb = widen16(b + i);
      I32x16 r;
      for (int j = 0; j < 4; ++j) {
        const float32x4_t t = vaddq_f32(F, vmulq_f32(vcvtq_f32_s32(vb.v[j]), rB));
        r.v[j] = clamp(cvt_x86(vaddq_f32(t, vmulq_f32(vcvtq_f32_s32(va.v[j]), rA))), lo, hi);
      }
      store16(c + i, r);
    }
    for (; i < n; ++i) c[i] = static_cast<T>(add_he(a[i], b[i], k));
  }
}

template <typename T>
void mul_row_neon(const T* a, const T* b, T* c, int64_t n, bool b_scalar, const MulHalfEven& k) {
  const float32x4_t ratio = vdupq_n_f32(k.ratio), zc = vdupq_n_f32(k.zc);
  const int32x4_t za = vdupq_n_s32(k.za), zb = vdupq_n_s32(k.zb);
  const int32x4_t lo = vdupq_n_s32(k.lo), hi = vdupq_n_s32(k.hi);
  const int32x4_t bs = vdupq_n_s32(static_cast<int32_t>(b[0]) - k.zb);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const I32x16 va = widen16(a + i);
    I32x16 vb;
    if (!b_scalar) vb = widen16(b + i);
    I32x16 r;
    for (int j = 0; j < 4; ++j) {
      const int32x4_t x = vsubq_s32(va.v[j], za), y = b_scalar ? bs : vsubq_s32(vb.v[j], zb);
      const float32x4_t prod = vcvtq_f32_s32(vmulq_s32(x, y));
      r.v[j] = clamp(cvt_x86(vaddq_f32(vmulq_f32(prod, ratio), zc)), lo, hi);
    }
    store16(c + i, r);
  }
  for (; i < n; ++i) c[i] = static_cast<T>(mul_he(a[i], b_scalar ? b[0] : b[i], k));
}

const EltwiseRowKernels kNeon = {"neon", add_row_neon<uint8_t>, add_row_neon<int8_t>, mul_row_neon<uint8_t>,
                                 mul_row_neon<int8_t>};

}  // namespace

const EltwiseRowKernels& eltwise_neon_kernels() { return kNeon; }

}  // namespace ops
}  // namespace lowp
