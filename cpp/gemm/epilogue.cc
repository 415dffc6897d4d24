// Scalar output stage: zero-point corrections, bias, requantization, clamp, store.
#include "gemm/kernel.h"
#include "requant/requant.h"

namespace lowp {

void epilogue_ref(const Tile& t, const Epilogue& ep, const int32_t* acc, int acc_stride) {
  for (int r = 0; r < t.m; ++r) {
    const int i = t.row0 + r;
    for (int c = 0; c < t.n; ++c) {
      const int j = t.col0 + c;
      uint32_t v = static_cast<uint32_t>(acc[r * acc_stride + c]) + static_cast<uint32_t>(ep.col_term[j]);
      if (ep.zb) v -= static_cast<uint32_t>(ep.zb[j]) * static_cast<uint32_t>(t.row_sums[r]);
      const int32_t x = static_cast<int32_t>(v);
      if (ep.out_type == DType::S32) {
        static_cast<int32_t*>(ep.c)[i * ep.ldc + j] = x;
        continue;
      }
      const int32_t q = ep.rounding == Rounding::HalfEven
                            ? requant::requant_half_even(x, ep.scale[j], ep.zp, ep.qmin, ep.qmax)
                            : requant::requantize_one(x, ep.rounding, ep.mult[j], ep.shift[j], 0.f, ep.zp, ep.qmin, ep.qmax);
      switch (ep.out_type) {
        case DType::U8:
          static_cast<uint8_t*>(ep.c)[i * ep.ldc + j] = static_cast<uint8_t>(q);
          break;
        case DType::S8:
          static_cast<int8_t*>(ep.c)[i * ep.ldc + j] = static_cast<int8_t>(q);
          break;
        default:
          break;
      }
    }
  }
}

}  // namespace lowp
