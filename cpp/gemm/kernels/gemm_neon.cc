// ARM NEON GEMM kernel (armv8-a baseline): int16 domain, exact widening multiply-accumulate.
//
// Tile 8x8, kr=1. Per k: one 8 x int16 load of A (8 rows), one of B (8 columns), then for each
// row r: acc[r][0..3] += B[0..3] * A[r] (SMLAL by lane), acc[r][4..7] += B[4..7] * A[r] (SMLAL2).
// 16 int32x4 accumulators, 16 widening MACs per 2 loads. Products of int16-domain values
// (|v| <= 255) are exact in int32; the sum wraps modulo 2^32 like every other kernel.
#include <arm_neon.h>

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
  neon_epilogue<kMR, 2>(t, ep, acc);
}

}  // namespace

extern const GemmKernel kGemmNeon = {
    "neon", kMR, kNR, 1, DType::S16, DType::S16, cpu::has_neon, ukernel_neon_8x8, 10,
};

}  // namespace lowp
