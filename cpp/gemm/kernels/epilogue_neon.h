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

// Stores the first n of NV*4 bytes of a row.
template <int NV>
inline void neon_store_row_bytes(void* dst, int n, const uint8x8_t (&bytes)[NV / 2]) {
  if (n == NV * 4) {
    for (int p = 0; p < NV / 2; ++p) vst1_u8(static_cast<uint8_t*>(dst) + 8 * p, bytes[p]);
  } else {
    uint8_t tmp[NV * 4];
    for (int p = 0; p < NV / 2; ++p) vst1_u8(tmp + 8 * p, bytes[p]);
    std::memcpy(dst, tmp, static_cast<size_t>(n));
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

// acc[r][v] holds sum a'b' for row r, columns 4v..4v+3 of the tile (wrapping int32).
template <int MR, int NV>
inline void neon_epilogue(const Tile& t, const Epilogue& ep, int32x4_t (&acc)[MR][NV]) {
  static_assert(NV % 2 == 0, "row width must be a multiple of 8 columns");
  const int m = t.m, n = t.n, j0 = t.col0;
  // Zero-point corrections and bias: acc + col_term[j] - zb'[j] * rowsum'(i), wrapping.
  {
    int32x4_t ct[NV];
    neon_load_cols<NV>(ep.col_term + j0, n, ct);
    if (ep.zb) {
      int32x4_t zb[NV];
      neon_load_cols<NV>(ep.zb + j0, n, zb);
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        if (r >= m) break;
        const int32x4_t rs = vdupq_n_s32(t.row_sums[r]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[r][v] = neon_wrap_add_mls(acc[r][v], ct[v], zb[v], rs);
      }
    } else {
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[r][v] = neon_wrap_add(acc[r][v], ct[v]);
      }
    }
  }

  if (ep.out_type == DType::S32) {
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      if (r >= m) break;
      int32_t* crow = static_cast<int32_t*>(ep.c) + (t.row0 + r) * ep.ldc + j0;
      if (n == NV * 4) {
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) vst1q_s32(crow + 4 * v, acc[r][v]);
      } else {
        int32_t tmp[NV * 4];
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) vst1q_s32(tmp + 4 * v, acc[r][v]);
        std::memcpy(crow, tmp, sizeof(int32_t) * static_cast<size_t>(n));
      }
    }
    return;
  }

  // Requantize in place (results already clamped to [qmin, qmax], zero point added).
  const int32x4_t vzp = vdupq_n_s32(ep.zp), vqmin = vdupq_n_s32(ep.qmin), vqmax = vdupq_n_s32(ep.qmax);
  switch (ep.rounding) {
    case Rounding::Gemmlowp: {
      int32x4_t mult[NV], shift[NV], left[NV], neg_right[NV];
      neon_load_cols<NV>(ep.mult + j0, n, mult);
      neon_load_cols<NV>(ep.shift + j0, n, shift);
      const int32x4_t zero = vdupq_n_s32(0);
      for (int v = 0; v < NV; ++v) {
        left[v] = vmaxq_s32(shift[v], zero);
        neg_right[v] = vminq_s32(shift[v], zero);
      }
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        if (r >= m) break;
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
          const int32x4_t q = vqaddq_s32(neon_mul_gemmlowp(acc[r][v], mult[v], left[v], neg_right[v]), vzp);
          acc[r][v] = vminq_s32(vmaxq_s32(q, vqmin), vqmax);
        }
      }
      break;
    }
    case Rounding::Single: {
      int32x4_t mult[NV], shift[NV];
      int64x2_t sh_lo[NV], sh_hi[NV];
      neon_load_cols<NV>(ep.mult + j0, n, mult);
      neon_load_cols<NV>(ep.shift + j0, n, shift);
      const int32x4_t k31 = vdupq_n_s32(31);
      for (int v = 0; v < NV; ++v) {
        const int32x4_t s = vsubq_s32(shift[v], k31);
        sh_lo[v] = vmovl_s32(vget_low_s32(s));
        sh_hi[v] = vmovl_high_s32(s);
      }
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        if (r >= m) break;
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
          const int32x4_t q = vqaddq_s32(neon_mul_single(acc[r][v], mult[v], sh_lo[v], sh_hi[v]), vzp);
          acc[r][v] = vminq_s32(vmaxq_s32(q, vqmin), vqmax);
        }
      }
      break;
    }
    case Rounding::HalfEven: {
      float32x4_t scale[NV];
      neon_load_cols<NV>(ep.scale + j0, n, scale);
      const float32x4_t lo = vdupq_n_f32(static_cast<float>(ep.qmin - ep.zp));
      const float32x4_t hi = vdupq_n_f32(static_cast<float>(ep.qmax - ep.zp));
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        if (r >= m) break;
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
          float32x4_t f = vmulq_f32(vcvtq_f32_s32(acc[r][v]), scale[v]);
          f = vminq_f32(vmaxq_f32(f, lo), hi);
          acc[r][v] = vaddq_s32(vcvtnq_s32_f32(f), vzp);
        }
      }
      break;
    }
  }

  // Saturating narrow to 8 bits and store.
  const bool is_u8 = ep.out_type == DType::U8;
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    if (r >= m) break;
    uint8x8_t bytes[NV / 2];
#pragma GCC unroll 8
    for (int p = 0; p < NV / 2; ++p) {
      const int16x8_t h = vqmovn_high_s32(vqmovn_s32(acc[r][2 * p]), acc[r][2 * p + 1]);
      bytes[p] = is_u8 ? vqmovun_s16(h) : vreinterpret_u8_s8(vqmovn_s16(h));
    }
    uint8_t* crow = static_cast<uint8_t*>(ep.c) + (t.row0 + r) * ep.ldc + j0;
    neon_store_row_bytes<NV>(crow, n, bytes);
  }
}

}  // namespace
}  // namespace lowp
