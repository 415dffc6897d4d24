// A-panel packer for the 8-row s8-domain ARM kernels (gemm_neondot.cc: kr=4, gemm_i8mm.cc:
// kr=8). Needs dotprod (SDOT computes the row sums); both including files are compiled with it.
// Unnamed namespace: one private copy per translation unit.
//
// Contract (gemm/kernel.h, pack_a_panel): rows 0..mrows-1 of A (uint8 or int8, row stride
// lda), shifted into the s8 domain (uint8: a - 128, i.e. a ^ 0x80), laid out [g][r][kk] for
// Kp = round_up(K, KR); rows >= mrows and k >= K are zero; row_sums (if not null) receives the
// sum of each valid row in the domain. Reads only A[r][0..K-1], writes only the Kp*8 panel bytes.
//
// 16 k at a time: one 16-byte load per row, then a 32-bit (KR=4) or 64-bit (KR=8) transpose
// across rows writes the k-groups.
#pragma once
#include <arm_neon.h>

#include <cstring>

#include "gemm/kernel.h"

namespace lowp {
namespace {

template <int KR>
inline void neon_store_groups_8rows(int8_t* out, const int8x16_t (&v)[8], int groups) {
  static_assert(KR == 4 || KR == 8, "kr must be 4 or 8");
  if (KR == 4) {
    // Per half (rows 0-3, rows 4-7): 4x4 transpose of 32-bit chunks; group g -> out[g*32 + half*16].
    for (int half = 0; half < 2; ++half) {
      const uint32x4_t r0 = vreinterpretq_u32_s8(v[4 * half]), r1 = vreinterpretq_u32_s8(v[4 * half + 1]);
      const uint32x4_t r2 = vreinterpretq_u32_s8(v[4 * half + 2]), r3 = vreinterpretq_u32_s8(v[4 * half + 3]);
      const uint64x2_t t0 = vreinterpretq_u64_u32(vtrn1q_u32(r0, r1)), t1 = vreinterpretq_u64_u32(vtrn2q_u32(r0, r1));
      const uint64x2_t t2 = vreinterpretq_u64_u32(vtrn1q_u32(r2, r3)), t3 = vreinterpretq_u64_u32(vtrn2q_u32(r2, r3));
      const uint64x2_t g[4] = {vtrn1q_u64(t0, t2), vtrn1q_u64(t1, t3), vtrn2q_u64(t0, t2), vtrn2q_u64(t1, t3)};
      for (int i = 0; i < 4; ++i)
        if (i < groups) vst1q_u8(reinterpret_cast<uint8_t*>(out + i * 32 + half * 16), vreinterpretq_u8_u64(g[i]));
    }
  } else {
    // Row pair p: group 0 = low 8 bytes of rows 2p, 2p+1; group 1 = high 8 bytes.
    for (int p = 0; p < 4; ++p) {
      const uint64x2_t x = vreinterpretq_u64_s8(v[2 * p]), y = vreinterpretq_u64_s8(v[2 * p + 1]);
      vst1q_u8(reinterpret_cast<uint8_t*>(out + p * 16), vreinterpretq_u8_u64(vtrn1q_u64(x, y)));
      if (groups > 1) vst1q_u8(reinterpret_cast<uint8_t*>(out + 64 + p * 16), vreinterpretq_u8_u64(vtrn2q_u64(x, y)));
    }
  }
}

template <int KR>
void neon_pack_a_s8_8rows(const void* a, DType a_type, int mrows, int K, ptrdiff_t lda, void* dst, int32_t* row_sums) {
  const uint8_t* src = static_cast<const uint8_t*>(a);
  int8_t* out = static_cast<int8_t*>(dst);
  const uint8x16_t flip = vdupq_n_u8(a_type == DType::U8 ? 0x80 : 0x00);
  const int8x16_t ones = vdupq_n_s8(1);
  int32x4_t sums[8];
  for (int r = 0; r < 8; ++r) sums[r] = vdupq_n_s32(0);
  int8x16_t v[8];
  int k = 0;
  for (; k + 16 <= K; k += 16) {
#pragma GCC unroll 8
    for (int r = 0; r < 8; ++r)
      v[r] = r < mrows ? vreinterpretq_s8_u8(veorq_u8(vld1q_u8(src + r * lda + k), flip)) : vdupq_n_s8(0);
    if (row_sums) {
#pragma GCC unroll 8
      for (int r = 0; r < 8; ++r) sums[r] = vdotq_s32(sums[r], v[r], ones);
    }
    neon_store_groups_8rows<KR>(out, v, 16 / KR);
    out += 16 * 8;
  }
  if (k < K) {
    // Tail of rem < 16 k: zero-padded copy; flip only the valid lanes so padding stays 0.
    const int rem = K - k;
    static const uint8_t kIota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const uint8x16_t f = vandq_u8(flip, vcltq_u8(vld1q_u8(kIota), vdupq_n_u8(static_cast<uint8_t>(rem))));
    for (int r = 0; r < 8; ++r) {
      if (r < mrows) {
        uint8_t tmp[16] = {};
        std::memcpy(tmp, src + r * lda + k, static_cast<size_t>(rem));
        v[r] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(tmp), f));
      } else {
        v[r] = vdupq_n_s8(0);
      }
      sums[r] = vdotq_s32(sums[r], v[r], ones);
    }
    neon_store_groups_8rows<KR>(out, v, (rem + KR - 1) / KR);
  }
  if (row_sums)
    for (int r = 0; r < mrows; ++r) row_sums[r] = vaddvq_s32(sums[r]);
}

}  // namespace
}  // namespace lowp
