// aarch64 NEON depthwise kernel: 8 channels per step, inputs widened to int16 and multiplied
// with vmlal_s16 into int32 lanes (exact, wrapping like every int32 accumulator). HalfEven
// requantization in NEON (vcvtnq: round to nearest even); the fixed-point families and channel
// tails use the scalar helpers of depthwise_ref.cc.
#include <arm_neon.h>

#include "ops/depthwise.h"
#include "runtime/cpu.h"

namespace lowp {
namespace {

template <bool kU8>
void run_t(const DwPacked& p, const void* const* ind, int pixels, DType x_type, void* y, ptrdiff_t y_stride,
           const DwEpilogue& ep) {
  const int taps = p.taps, C = p.C, Cfull = C / 8 * 8;
  const size_t osz = ep.out_type == DType::S32 ? 4 : 1;
  const bool simd_requant = ep.out_type != DType::S32 && ep.rounding == Rounding::HalfEven;
  const float32x4_t lo = vdupq_n_f32(static_cast<float>(ep.qmin - ep.zp));
  const float32x4_t hi = vdupq_n_f32(static_cast<float>(ep.qmax - ep.zp));
  const int32x4_t zp = vdupq_n_s32(ep.zp);
  int32_t tmp[8];
  for (int px = 0; px < pixels; ++px) {
    const void* const* I = ind + static_cast<size_t>(px) * taps;
    uint8_t* yp = static_cast<uint8_t*>(y) + static_cast<size_t>(px) * y_stride * osz;
    for (int c0 = 0; c0 < Cfull; c0 += 8) {
      int32x4_t a0 = vld1q_s32(ep.col_term + c0), a1 = vld1q_s32(ep.col_term + c0 + 4);
      const int16_t* w = p.wn.data() + c0;
      for (int t = 0; t < taps; ++t, w += C) {
        int16x8_t xv;
        if (kU8)
          xv = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(static_cast<const uint8_t*>(I[t]) + c0)));
        else
          xv = vmovl_s8(vld1_s8(static_cast<const int8_t*>(I[t]) + c0));
        const int16x8_t wv = vld1q_s16(w);
        a0 = vmlal_s16(a0, vget_low_s16(xv), vget_low_s16(wv));
        a1 = vmlal_high_s16(a1, xv, wv);
      }
      if (simd_requant) {
        float32x4_t f0 = vmulq_f32(vcvtq_f32_s32(a0), vld1q_f32(ep.scale + c0));
        float32x4_t f1 = vmulq_f32(vcvtq_f32_s32(a1), vld1q_f32(ep.scale + c0 + 4));
        f0 = vminq_f32(vmaxq_f32(f0, lo), hi);
        f1 = vminq_f32(vmaxq_f32(f1, lo), hi);
        const int32x4_t q0 = vaddq_s32(vcvtnq_s32_f32(f0), zp), q1 = vaddq_s32(vcvtnq_s32_f32(f1), zp);
        const int16x8_t q16 = vcombine_s16(vmovn_s32(q0), vmovn_s32(q1));  // in [qmin, qmax]: exact
        if (ep.out_type == DType::U8)
          vst1_u8(yp + c0, vmovn_u16(vreinterpretq_u16_s16(q16)));
        else
          vst1_s8(reinterpret_cast<int8_t*>(yp) + c0, vmovn_s16(q16));
      } else if (ep.out_type == DType::S32) {
        vst1q_s32(reinterpret_cast<int32_t*>(yp) + c0, a0);
        vst1q_s32(reinterpret_cast<int32_t*>(yp) + c0 + 4, a1);
      } else {
        vst1q_s32(tmp, a0);
        vst1q_s32(tmp + 4, a1);
        dw_store_ref(tmp, c0, 8, ep, yp);
      }
    }
    if (Cfull < C) dw_pixel_ref(p, I, Cfull, C, x_type, yp, ep);
  }
}

void run(const DwPacked& p, const void* const* ind, int pixels, DType x_type, void* y, ptrdiff_t y_stride,
         const DwEpilogue& ep) {
  if (x_type == DType::U8)
    run_t<true>(p, ind, pixels, x_type, y, y_stride, ep);
  else
    run_t<false>(p, ind, pixels, x_type, y, y_stride, ep);
}

void pack(DwPacked& p) { p.wp.clear(); }  // uses the natural layout p.wn

}  // namespace

extern const DwKernel kDwNeon = {"neon", cpu::has_neon, pack, run, 10};

}  // namespace lowp
