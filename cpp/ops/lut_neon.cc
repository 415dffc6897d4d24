// aarch64 NEON lookup-table kernel: the 256-entry table lives in 16 q registers as four
// 64-byte quarters; TBL on the first quarter (indices >= 64 give 0) then TBX on the other three
// with the index shifted down by 64 each time (TBX leaves lanes whose index is >= 64 alone, and
// the shifted index wraps above 64 for the earlier quarters). 64 bytes per step. Exact by
// construction (a byte gather); compared with the scalar lut_apply_ref in the tests.
#include <arm_neon.h>

#include <cstring>

#include "ops/quantize.h"

namespace lowp {
namespace ops {

namespace {
struct Quarters {
  uint8x16x4_t q[4];
};
inline uint8x16_t lookup16(const Quarters& t, uint8x16_t idx) {
  const uint8x16_t k64 = vdupq_n_u8(64);
  uint8x16_t r = vqtbl4q_u8(t.q[0], idx);
  idx = vsubq_u8(idx, k64);
  r = vqtbx4q_u8(r, t.q[1], idx);
  idx = vsubq_u8(idx, k64);
  r = vqtbx4q_u8(r, t.q[2], idx);
  idx = vsubq_u8(idx, k64);
  return vqtbx4q_u8(r, t.q[3], idx);
}
}  // namespace

void lut_apply_neon(const uint8_t* x, const uint8_t* table, uint8_t* y, int64_t n) {
  Quarters t;
  for (int j = 0; j < 4; ++j) t.q[j] = vld1q_u8_x4(table + 64 * j);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const uint8x16x4_t v = vld1q_u8_x4(x + i);
    uint8x16x4_t r;
    r.val[0] = lookup16(t, v.val[0]);
    r.val[1] = lookup16(t, v.val[1]);
    r.val[2] = lookup16(t, v.val[2]);
    r.val[3] = lookup16(t, v.val[3]);
    vst1q_u8_x4(y + i, r);
  }
  for (; i + 16 <= n; i += 16) vst1q_u8(y + i, lookup16(t, vld1q_u8(x + i)));
  if (i < n) {  // 1..15 left: through a 16-byte buffer (no read or write past the arrays)
    uint8_t buf[16] = {};
    const size_t m = static_cast<size_t>(n - i);
    std::memcpy(buf, x + i, m);
    vst1q_u8(buf, lookup16(t, vld1q_u8(buf)));
    std::memcpy(y + i, buf, m);
  }
}

}  // namespace ops
}  // namespace lowp
