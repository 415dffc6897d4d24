// ARM i8mm GEMM kernel (SMMLA, -march=armv8.6-a+i8mm): s8 x s8 domain, kr=8, 2x2 blocks.
//
// Tile 8x8. Per k-group of 8: A is 8 rows x 8 bytes = four 16-byte loads, each a 2x8 row pair
// (rows 2p, 2p+1); B likewise four column pairs. SMMLA(mm[p][q], A_p, B_q) accumulates the 2x2
// block [r2p c2q, r2p c2q+1, r2p+1 c2q, r2p+1 c2q+1]. 16 accumulators, 16 SMMLA (each 32 MACs)
// per 8 loads. The 2x2 blocks are unzipped into row vectors (ZIP1/ZIP2 on 64-bit lanes) once
// per tile, before the shared NEON epilogue.
#include <arm_neon.h>

#include "gemm/kernels/epilogue_neon.h"
#include "gemm/kernels/pack_neondot.h"
#include "runtime/cpu.h"

namespace lowp {
namespace {

constexpr int kMR = 8, kNR = 8, kKR = 8;

void ukernel_i8mm_8x8(const Tile& t, const Epilogue& ep) {
  const int8_t* a = static_cast<const int8_t*>(t.a);
  const int8_t* b = static_cast<const int8_t*>(t.b);
  int32x4_t mm[4][4];
  for (int p = 0; p < 4; ++p)
    for (int q = 0; q < 4; ++q) mm[p][q] = vdupq_n_s32(0);
  for (int g = 0; g < t.kgroups; ++g) {
    int8x16_t va[4], vb[4];
    for (int p = 0; p < 4; ++p) va[p] = vld1q_s8(a + 16 * p);
    for (int q = 0; q < 4; ++q) vb[q] = vld1q_s8(b + 16 * q);
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p)
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) mm[p][q] = vmmlaq_s32(mm[p][q], va[p], vb[q]);
    a += kMR * kKR;
    b += kNR * kKR;
  }
  int32x4_t acc[kMR][2];
  for (int p = 0; p < 4; ++p)
    for (int h = 0; h < 2; ++h) {
      const int64x2_t x = vreinterpretq_s64_s32(mm[p][2 * h]), y = vreinterpretq_s64_s32(mm[p][2 * h + 1]);
      acc[2 * p][h] = vreinterpretq_s32_s64(vzip1q_s64(x, y));
      acc[2 * p + 1][h] = vreinterpretq_s32_s64(vzip2q_s64(x, y));
    }
  neon_epilogue<kMR>(t, ep, acc);
}

}  // namespace

extern const GemmKernel kGemmI8mm = {
    "i8mm", kMR, kNR, kKR, DType::S8, DType::S8, cpu::has_i8mm, ukernel_i8mm_8x8, 30, neon_pack_a_s8_8rows<kKR>,
};

}  // namespace lowp
