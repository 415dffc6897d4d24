// ARM NEON GEMM kernel (armv8-a baseline): int16 domain, exact widening multiply-accumulate.
//
// Tile 8x8, kr=1. Per k: one 8 x int16 load of A (8 rows), one of B (8 columns), then for each
// row r: acc[r][0..3] += B[0..3] * A[r] (SMLAL by lane), acc[r][4..7] += B[4..7] * A[r] (SMLAL2).
// 16 int32x4 accumulators, 16 widening MACs per 2 loads. Products of int16-domain values
// (|v| <= 255) are exact in int32; the sum wraps modulo 2^32 like every other kernel.
#include <arm_neon.h>

#include <cstring>

#include "gemm/kernels/epilogue_neon.h"
#include "runtime/cpu.h"

namespace lowp {
namespace {

constexpr int kMR = 8, kNR = 8;

void ukernel_neon_8x8(const Tile& t, const Epilogue& ep) {
  const int16_t* a = static_cast<const int16_t*>(t.a);
  const int16_t* b = static_cast<const int16_t*>(t.b);
  int32x4_t acc[kMR][2];
  for (int r = 0; r < kMR; ++r) acc[r][0] = acc[r][1] = vdupq_n_s32(0);
  for (int g = 0; g < t.kgroups; ++g) {
    const int16x8_t va = vld1q_s16(a);
    const int16x8_t vb = vld1q_s16(b);
    const int16x4_t vbl = vget_low_s16(vb);
#define LOWP_NEON_ROW(r)                                      \
  acc[r][0] = vmlal_laneq_s16(acc[r][0], vbl, va, r);        \
  acc[r][1] = vmlal_high_laneq_s16(acc[r][1], vb, va, r);
    LOWP_NEON_ROW(0)
    LOWP_NEON_ROW(1)
    LOWP_NEON_ROW(2)
    LOWP_NEON_ROW(3)
    LOWP_NEON_ROW(4)
    LOWP_NEON_ROW(5)
    LOWP_NEON_ROW(6)
    LOWP_NEON_ROW(7)
#undef LOWP_NEON_ROW
    a += kMR;
    b += kNR;
  }
  neon_epilogue<kMR>(t, ep, acc);
}

// A-panel packer (contract of pack_a_panel in gemm/kernel.h): int16 domain, kr=1, so the panel
// is K vectors of 8 int16 (rows 0..7 at one k). 8 k at a time: 8-byte load per row, widen
// (uint8 and int8 both keep their value), 8x8 int16 transpose (TRN1/TRN2 at 16, 32, 64 bits).
// Rows >= mrows are zero; reads only A[r][0..K-1]; row sums by SADALP on the widened rows.
void pack_a_neon(const void* a, DType a_type, int mrows, int K, ptrdiff_t lda, void* dst, int32_t* row_sums) {
  const uint8_t* src = static_cast<const uint8_t*>(a);
  int16_t* out = static_cast<int16_t*>(dst);
  const bool is_u8 = a_type == DType::U8;
  int32x4_t sums[kMR];
  for (int r = 0; r < kMR; ++r) sums[r] = vdupq_n_s32(0);
  for (int k = 0; k < K; k += 8) {
    const int cnt = K - k < 8 ? K - k : 8;
    int16x8_t v[kMR];
#pragma GCC unroll 8
    for (int r = 0; r < kMR; ++r) {
      if (r < mrows) {
        uint8x8_t bytes;
        if (cnt == 8) {
          bytes = vld1_u8(src + r * lda + k);
        } else {
          uint8_t tmp[8] = {};
          std::memcpy(tmp, src + r * lda + k, static_cast<size_t>(cnt));
          bytes = vld1_u8(tmp);
        }
        v[r] = is_u8 ? vreinterpretq_s16_u16(vmovl_u8(bytes)) : vmovl_s8(vreinterpret_s8_u8(bytes));
      } else {
        v[r] = vdupq_n_s16(0);
      }
      sums[r] = vpadalq_s16(sums[r], v[r]);
    }
    // 16-bit stage: pairs of rows.
    int16x8_t t[8];
    for (int p = 0; p < 4; ++p) {
      t[2 * p] = vtrn1q_s16(v[2 * p], v[2 * p + 1]);      // k even
      t[2 * p + 1] = vtrn2q_s16(v[2 * p], v[2 * p + 1]);  // k odd
    }
    // 32-bit stage: rows 0-3 and rows 4-7.
    int32x4_t u[8];
    for (int h = 0; h < 2; ++h)
      for (int odd = 0; odd < 2; ++odd) {
        const int32x4_t x = vreinterpretq_s32_s16(t[4 * h + odd]), y = vreinterpretq_s32_s16(t[4 * h + 2 + odd]);
        u[4 * h + odd] = vtrn1q_s32(x, y);      // k = odd, odd + 4
        u[4 * h + 2 + odd] = vtrn2q_s32(x, y);  // k = odd + 2, odd + 6
      }
    // 64-bit stage: column k = rows 0-3 from u[j], rows 4-7 from u[4 + j].
    int16x8_t col[8];
    for (int j = 0; j < 4; ++j) {
      const int64x2_t lo = vreinterpretq_s64_s32(u[j]), hi = vreinterpretq_s64_s32(u[4 + j]);
      const int kk = (j & 1) + 2 * (j >> 1);  // u[j] holds k = kk (low half) and kk + 4 (high half)
      col[kk] = vreinterpretq_s16_s64(vtrn1q_s64(lo, hi));
      col[kk + 4] = vreinterpretq_s16_s64(vtrn2q_s64(lo, hi));
    }
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c)
      if (c < cnt) vst1q_s16(out + c * kMR, col[c]);
    out += cnt * kMR;
  }
  if (row_sums)
    for (int r = 0; r < mrows; ++r) row_sums[r] = vaddvq_s32(sums[r]);
}

}  // namespace

extern const GemmKernel kGemmNeon = {
    "neon", kMR, kNR, 1, DType::S16, DType::S16, cpu::has_neon, ukernel_neon_8x8, 10, pack_a_neon,
};

}  // namespace lowp
