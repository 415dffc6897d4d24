// aarch64 NEON QuantizeLinear / DequantizeLinear rows: the same float32 operations as
// quantize_one / dequantize_t in the scalar reference: a true division (FDIV), the clamp written
// as the reference's selects ((v > lo) ? v : lo, then (v < hi) ? v : hi: NaN -> lower bound,
// signed zeros as the reference), FCVTNS (half to even; in range after the clamp), + zp.
// Tested equal to the scalar reference, edge values included.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <arm_neon.h>

#include <type_traits>

#include "ops/quantize.h"

namespace lowp {
namespace ops {

namespace {

inline int32x4_t quantize4(float32x4_t x, float32x4_t s, float32x4_t fl, float32x4_t fh, int32x4_t z) {
  float32x4_t v = vdivq_f32(x, s);
  v = vbslq_f32(vcgtq_f32(v, fl), v, fl);  // (v > fl) ? v : fl   (NaN -> fl)
  v = vbslq_f32(vcltq_f32(v, fh), v, fh);  // (v < fh) ? v : fh
  return vaddq_s32(vcvtnq_s32_f32(v), z);
}

template <typename T>
void quantize_row(const float* x, T* y, int64_t n, float scale, int32_t zp, int32_t lo, int32_t hi) {
  const float32x4_t s = vdupq_n_f32(scale);
  const float32x4_t fl = vdupq_n_f32(static_cast<float>(lo - zp)), fh = vdupq_n_f32(static_cast<float>(hi - zp));
  const int32x4_t z = vdupq_n_s32(zp);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    // results lie in [lo, hi]: the narrowing steps are exact
    const int16x8_t w0 = vcombine_s16(vmovn_s32(quantize4(vld1q_f32(x + i), s, fl, fh, z)),
                                      vmovn_s32(quantize4(vld1q_f32(x + i + 4), s, fl, fh, z)));
    const int16x8_t w1 = vcombine_s16(vmovn_s32(quantize4(vld1q_f32(x + i + 8), s, fl, fh, z)),
                                      vmovn_s32(quantize4(vld1q_f32(x + i + 12), s, fl, fh, z)));
    if (std::is_same<T, int16_t>::value) {
      vst1q_s16(reinterpret_cast<int16_t*>(y + i), w0);
      vst1q_s16(reinterpret_cast<int16_t*>(y + i + 8), w1);
    } else if (std::is_same<T, uint8_t>::value) {
      vst1q_u8(reinterpret_cast<uint8_t*>(y + i), vcombine_u8(vqmovun_s16(w0), vqmovun_s16(w1)));
    } else {
      vst1q_s8(reinterpret_cast<int8_t*>(y + i), vcombine_s8(vqmovn_s16(w0), vqmovn_s16(w1)));
    }
  }
  for (; i < n; ++i) y[i] = static_cast<T>(quantize_one(x[i], scale, zp, lo, hi));
}

template <typename T>
void dequantize_row(const T* x, float* y, int64_t n, float scale, int32_t zp) {
  const float32x4_t s = vdupq_n_f32(scale);
  const int32x4_t z = vdupq_n_s32(zp);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    int16x8_t w;
    if (std::is_same<T, uint8_t>::value)
      w = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(reinterpret_cast<const uint8_t*>(x + i))));
    else
      w = vmovl_s8(vld1_s8(reinterpret_cast<const int8_t*>(x + i)));
    const int32x4_t a = vsubq_s32(vmovl_s16(vget_low_s16(w)), z), b = vsubq_s32(vmovl_s16(vget_high_s16(w)), z);
    vst1q_f32(y + i, vmulq_f32(vcvtq_f32_s32(a), s));
    vst1q_f32(y + i + 4, vmulq_f32(vcvtq_f32_s32(b), s));
  }
  for (; i < n; ++i) y[i] = static_cast<float>(static_cast<int32_t>(x[i]) - zp) * scale;
}

}  // namespace

void quantize_row_neon(const float* x, void* y, DType t, int64_t n, float scale, int32_t zp) {
  switch (t) {
    case DType::U8: return quantize_row(x, static_cast<uint8_t*>(y), n, scale, zp, 0, 255);
    case DType::S8: return quantize_row(x, static_cast<int8_t*>(y), n, scale, zp, -128, 127);
    case DType::S16: return quantize_row(x, static_cast<int16_t*>(y), n, scale, zp, -32768, 32767);
    default: break;
  }
}

void dequantize_row_neon(const void* x, DType t, float* y, int64_t n, float scale, int32_t zp) {
  if (t == DType::U8) dequantize_row(static_cast<const uint8_t*>(x), y, n, scale, zp);
  else dequantize_row(static_cast<const int8_t*>(x), y, n, scale, zp);
}

}  // namespace ops
}  // namespace lowp
