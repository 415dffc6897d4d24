// NEON output stage shared by the ARM kernels (gemm_neon.cc, gemm_neondot.cc, gemm_i8mm.cc).
// Uses only baseline AArch64 Advanced SIMD, so each kernel file can inline it under its own
// -march flags. Everything lives in an unnamed namespace: each translation unit gets its own
// copy, so no ODR merging across files compiled for different ISA levels.
//
// Bit-exact with the scalar reference (gemm/epilogue.cc + requant/requant.h):
//   Gemmlowp: x << left (wrapping, SSHL), SQRDMULH (== gemmlowp SRDHM, including the
//             INT32_MIN*INT32_MIN saturation and ties), then RoundingDivideByPOT as
//             "add -1 to negative x, rounding shift right" (SQADD + SRSHL fixup trick);
//   Single:   64-bit product (SMULL), rounding shift right by 31-shift (SRSHL on int64,
//             computed without overflow), saturating narrow to int32 (SQXTN);
//   HalfEven: SCVTF (round to nearest, like static_cast<float>), FMUL, clamp to
//             [qmin-zp, qmax-zp] in float, FCVTNS (round half to even), + zp.
// The zero point is added with saturation (SQADD) and clamped; since qmin/qmax lie inside the
// output type this equals the reference's int64 add + clamp.
#pragma once
#include <arm_neon.h>

#include <cstring>

#include "gemm/kernel.h"

namespace lowp {
namespace {

// Loads NV*4 per-column int32 values from p; columns past n are zero. Never reads past p[n-1].
template <int NV>
inline void neon_load_cols(const int32_t* p, int n, int32x4_t (&out)[NV]) {
  if (n == NV * 4) {
    for (int v = 0; v < NV; ++v) out[v] = vld1q_s32(p + 4 * v);
  } else {
    int32_t tmp[NV * 4] = {};
    std::memcpy(tmp, p, sizeof(int32_t) * static_cast<size_t>(n));
    for (int v = 0; v < NV; ++v) out[v] = vld1q_s32(tmp + 4 * v);
  }
}

template <int NV>
inline void neon_load_cols(const float* p, int n, float32x4_t (&out)[NV]) {
  if (n == NV * 4) {
    for (int v = 0; v < NV; ++v) out[v] = vld1q_f32(p + 4 * v);
  } else {
    float tmp[NV * 4] = {};
    std::memcpy(tmp, p, sizeof(float) * static_cast<size_t>(n));
    for (int v = 0; v < NV; ++v) out[v] = vld1q_f32(tmp + 4 * v);
  }
}

// gemmlowp MultiplyByQuantizedMultiplier on 4 lanes. left = max(shift, 0), neg_right = min(shift, 0).
inline int32x4_t neon_mul_gemmlowp(int32x4_t x, int32x4_t mult, int32x4_t left, int32x4_t neg_right) {
  const int32x4_t xs = vshlq_s32(x, left);  // wrapping left shift
  const int32x4_t hi = vqrdmulhq_s32(xs, mult);
  // RoundingDivideByPOT: ties away from zero = subtract 1 from negatives (only when shifting),
  // then round half up.
  const int32x4_t fixup = vshrq_n_s32(vandq_s32(hi, neg_right), 31);
  return vrshlq_s32(vqaddq_s32(hi, fixup), neg_right);
}

// TFLITE_SINGLE_ROUNDING on 4 lanes. sh_lo/sh_hi = shift - 31 (negative: right shift) as int64.
inline int32x4_t neon_mul_single(int32x4_t x, int32x4_t mult, int64x2_t sh_lo, int64x2_t sh_hi) {
  const int64x2_t p_lo = vrshlq_s64(vmull_s32(vget_low_s32(x), vget_low_s32(mult)), sh_lo);
  const int64x2_t p_hi = vrshlq_s64(vmull_high_s32(x, mult), sh_hi);
  return vqmovn_high_s64(vqmovn_s64(p_lo), p_hi);
}

// Wrapping int32 arithmetic done on unsigned lanes: GCC implements vaddq_s32/vmlsq_s32 with
// signed vector operators, whose overflow would be undefined behaviour.
inline int32x4_t neon_wrap_add(int32x4_t a, int32x4_t b) {
  return vreinterpretq_s32_u32(vaddq_u32(vreinterpretq_u32_s32(a), vreinterpretq_u32_s32(b)));
}
inline int32x4_t neon_wrap_add_mls(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {  // a + b - c*d
  return vreinterpretq_s32_u32(vmlsq_u32(vaddq_u32(vreinterpretq_u32_s32(a), vreinterpretq_u32_s32(b)),
                                         vreinterpretq_u32_s32(c), vreinterpretq_u32_s32(d)));
}

// Stores the first n (1..8) bytes of a row: no library call, no byte past dst[n-1].
inline void neon_store_u8x8(uint8_t* dst, int n, uint8x8_t v) {
  if (n == 8) {
    vst1_u8(dst, v);
    return;
  }
  if (n & 4) {
    const uint32_t w = vget_lane_u32(vreinterpret_u32_u8(v), 0);
    std::memcpy(dst, &w, 4);
    dst += 4;
    v = vext_u8(v, v, 4);
  }
  if (n & 2) {
    const uint16_t w = vget_lane_u16(vreinterpret_u16_u8(v), 0);
    std::memcpy(dst, &w, 2);
    dst += 2;
    v = vext_u8(v, v, 2);
  }
  if (n & 1) vst1_lane_u8(dst, v, 0);
}

// Stores the first n (1..8) int32 values of a row held in y0 (columns 0-3), y1 (4-7).
inline void neon_store_s32x8(int32_t* dst, int n, int32x4_t y0, int32x4_t y1) {
  if (n == 8) {
    vst1q_s32(dst, y0);
    vst1q_s32(dst + 4, y1);
    return;
  }
  if (n & 4) {
    vst1q_s32(dst, y0);
    dst += 4;
    y0 = y1;
  }
  if (n & 2) {
    vst1_s32(dst, vget_low_s32(y0));
    dst += 2;
    y0 = vextq_s32(y0, y0, 2);
  }
  if (n & 1) vst1q_lane_s32(dst, y0, 0);
}

inline uint8x8_t neon_narrow_row(int32x4_t y0, int32x4_t y1, bool is_u8) {
  const int16x8_t h = vqmovn_high_s32(vqmovn_s32(y0), y1);
  return is_u8 ? vqmovun_s16(h) : vreinterpret_u8_s8(vqmovn_s16(h));
}

// Calls fn(r, acc[r][0], acc[r][1]) for each valid row, fully unrolled so accumulators stay in
// registers.
template <int MR, typename Fn>
inline void neon_for_rows(int m, const int32x4_t (&acc)[MR][2], Fn&& fn) {
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
    if (r < m) fn(r, acc[r][0], acc[r][1]);
}

// Output stage for an MR x 8 tile. acc[r][h] holds sum a'b' for row r, columns 4h..4h+3
// (wrapping int32). One fused pass per row: corrections, requantization, narrowing, store.
template <int MR>
inline void neon_epilogue(const Tile& t, const Epilogue& ep, const int32x4_t (&acc)[MR][2]) {
  const int m = t.m, n = t.n, j0 = t.col0;
  int32x4_t ct[2], zb[2] = {vdupq_n_s32(0), vdupq_n_s32(0)};
  neon_load_cols<2>(ep.col_term + j0, n, ct);
  // Zero-point corrections and bias: acc + col_term[j] - zb'[j] * rowsum'(i), wrapping. With no
  // zb the row sums are not computed by the driver and zb stays zero.
  const bool has_zb = ep.zb != nullptr;
  if (has_zb) neon_load_cols<2>(ep.zb + j0, n, zb);
  const int32_t* row_sums = t.row_sums;
  auto corrected = [&](int r, int32x4_t x, int h) {
    return has_zb ? neon_wrap_add_mls(x, ct[h], zb[h], vdupq_n_s32(row_sums[r])) : neon_wrap_add(x, ct[h]);
  };

  if (ep.out_type == DType::S32) {
    int32_t* c = static_cast<int32_t*>(ep.c) + t.row0 * ep.ldc + j0;
    neon_for_rows<MR>(m, acc, [&](int r, int32x4_t x0, int32x4_t x1) {
      neon_store_s32x8(c + r * ep.ldc, n, corrected(r, x0, 0), corrected(r, x1, 1));
    });
    return;
  }

  // Requantize (zero point added with saturation, clamped to [qmin, qmax]), narrow, store.
  const int32x4_t vzp = vdupq_n_s32(ep.zp), vqmin = vdupq_n_s32(ep.qmin), vqmax = vdupq_n_s32(ep.qmax);
  const bool is_u8 = ep.out_type == DType::U8;
  uint8_t* c = static_cast<uint8_t*>(ep.c) + t.row0 * ep.ldc + j0;
  auto finish = [&](int r, int32x4_t q0, int32x4_t q1) {
    q0 = vminq_s32(vmaxq_s32(vqaddq_s32(q0, vzp), vqmin), vqmax);
    q1 = vminq_s32(vmaxq_s32(vqaddq_s32(q1, vzp), vqmin), vqmax);
    neon_store_u8x8(c + r * ep.ldc, n, neon_narrow_row(q0, q1, is_u8));
  };
  switch (ep.rounding) {
    case Rounding::Gemmlowp: {
      int32x4_t mult[2], shift[2], left[2], neg_right[2];
      neon_load_cols<2>(ep.mult + j0, n, mult);
      neon_load_cols<2>(ep.shift + j0, n, shift);
      const int32x4_t zero = vdupq_n_s32(0);
      for (int h = 0; h < 2; ++h) {
        left[h] = vmaxq_s32(shift[h], zero);
        neg_right[h] = vminq_s32(shift[h], zero);
      }
      neon_for_rows<MR>(m, acc, [&](int r, int32x4_t x0, int32x4_t x1) {
        finish(r, neon_mul_gemmlowp(corrected(r, x0, 0), mult[0], left[0], neg_right[0]),
               neon_mul_gemmlowp(corrected(r, x1, 1), mult[1], left[1], neg_right[1]));
      });
      break;
    }
    case Rounding::Single: {
      int32x4_t mult[2], shift[2];
      int64x2_t sh_lo[2], sh_hi[2];
      neon_load_cols<2>(ep.mult + j0, n, mult);
      neon_load_cols<2>(ep.shift + j0, n, shift);
      const int32x4_t k31 = vdupq_n_s32(31);
      for (int h = 0; h < 2; ++h) {
        const int32x4_t s = vsubq_s32(shift[h], k31);  // -(31 - shift): rounding right shift
        sh_lo[h] = vmovl_s32(vget_low_s32(s));
        sh_hi[h] = vmovl_high_s32(s);
      }
      neon_for_rows<MR>(m, acc, [&](int r, int32x4_t x0, int32x4_t x1) {
        finish(r, neon_mul_single(corrected(r, x0, 0), mult[0], sh_lo[0], sh_hi[0]),
               neon_mul_single(corrected(r, x1, 1), mult[1], sh_lo[1], sh_hi[1]));
      });
      break;
    }
    case Rounding::HalfEven: {
      float32x4_t scale[2];
      neon_load_cols<2>(ep.scale + j0, n, scale);
      const float32x4_t lo = vdupq_n_f32(static_cast<float>(ep.qmin - ep.zp));
      const float32x4_t hi = vdupq_n_f32(static_cast<float>(ep.qmax - ep.zp));
      auto he = [&](int32x4_t x, float32x4_t s) {
        const float32x4_t f = vminq_f32(vmaxq_f32(vmulq_f32(vcvtq_f32_s32(x), s), lo), hi);
        return vcvtnq_s32_f32(f);  // in [qmin - zp, qmax - zp]: finish() adds zp, clamps (no-op)
      };
      neon_for_rows<MR>(m, acc, [&](int r, int32x4_t x0, int32x4_t x1) {
        finish(r, he(corrected(r, x0, 0), scale[0]), he(corrected(r, x1, 1), scale[1]));
      });
      break;
    }
  }
}

}  // namespace
}  // namespace lowp
