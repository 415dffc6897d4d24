// ARM NEON dotprod GEMM kernel (SDOT, -march=armv8.2-a+dotprod): s8 x s8 domain, kr=4.
//
// Tile 8x8. Per k-group of 4: A is 8 rows x 4 bytes (two 16-byte loads: rows 0-3, rows 4-7),
// B is 8 columns x 4 bytes (two loads: columns 0-3, 4-7). acc[r][h] (row r, columns 4h..4h+3)
// += SDOT(B_h, A row r broadcast by lane). 16 int32x4 accumulators, 16 SDOT per 4 loads.
// uint8 inputs arrive shifted by -128 (packing); the driver folds the correction terms.
#include <arm_neon.h>

#include "gemm/kernels/epilogue_neon.h"
#include "gemm/kernels/pack_neondot.h"
#include "runtime/cpu.h"

namespace lowp {
namespace {

constexpr int kMR = 8, kNR = 8, kKR = 4;

void ukernel_neondot_8x8(const Tile& t, const Epilogue& ep) {
  const int8_t* a = static_cast<const int8_t*>(t.a);
  const int8_t* b = static_cast<const int8_t*>(t.b);
  int32x4_t acc[kMR][2];
  for (int r = 0; r < kMR; ++r) acc[r][0] = acc[r][1] = vdupq_n_s32(0);
  for (int g = 0; g < t.kgroups; ++g) {
    const int8x16_t va0 = vld1q_s8(a), va1 = vld1q_s8(a + 16);
    const int8x16_t vb0 = vld1q_s8(b), vb1 = vld1q_s8(b + 16);
#define LOWP_DOT_ROW(r, va, lane)                             \
  acc[r][0] = vdotq_laneq_s32(acc[r][0], vb0, va, lane);     \
  acc[r][1] = vdotq_laneq_s32(acc[r][1], vb1, va, lane);
    LOWP_DOT_ROW(0, va0, 0)
    LOWP_DOT_ROW(1, va0, 1)
    LOWP_DOT_ROW(2, va0, 2)
    LOWP_DOT_ROW(3, va0, 3)
    LOWP_DOT_ROW(4, va1, 0)
    LOWP_DOT_ROW(5, va1, 1)
    LOWP_DOT_ROW(6, va1, 2)
    LOWP_DOT_ROW(7, va1, 3)
#undef LOWP_DOT_ROW
    a += kMR * kKR;
    b += kNR * kKR;
  }
  neon_epilogue<kMR>(t, ep, acc);
}

}  // namespace

extern const GemmKernel kGemmNeonDot = {
    "neondot", kMR, kNR, kKR, DType::S8, DType::S8, cpu::has_neondot, ukernel_neondot_8x8, 20, neon_pack_a_s8_8rows<kKR>,
};

}  // namespace lowp
