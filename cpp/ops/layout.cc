#include "ops/layout.h"

#include <algorithm>
#include <vector>

#include "ops/quantize.h"

namespace lowp {
namespace ops {

void quantize_nchw_to_nhwc(const float* x, void* y, DType yt, int64_t N, int64_t C, int64_t HW, float scale,
                           int32_t zp) {
  LOWP_CHECK(yt == DType::U8 || yt == DType::S8, "quantize_nchw_to_nhwc: output must be uint8 or int8");
  LOWP_CHECK(N >= 0 && C >= 1 && HW >= 0, "quantize_nchw_to_nhwc: bad shape");
  constexpr int64_t kBlock = 512;  // pixels per block: C * kBlock bytes of buffer stay in L1
  std::vector<uint8_t> buf(static_cast<size_t>(C * kBlock));
  uint8_t* out = static_cast<uint8_t*>(y);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t p0 = 0; p0 < HW; p0 += kBlock) {
      const int64_t len = std::min(kBlock, HW - p0);
      for (int64_t c = 0; c < C; ++c)
        quantize_linear(x + (n * C + c) * HW + p0, buf.data() + c * kBlock, yt, 1, 1, len, &scale, &zp, 1);
      uint8_t* __restrict o = out + (n * HW + p0) * C;
      const uint8_t* __restrict b = buf.data();
      if (C == 3) {
        for (int64_t p = 0; p < len; ++p) {
          o[3 * p] = b[p];
          o[3 * p + 1] = b[kBlock + p];
          o[3 * p + 2] = b[2 * kBlock + p];
        }
      } else {
        for (int64_t p = 0; p < len; ++p)
          for (int64_t c = 0; c < C; ++c) o[p * C + c] = b[c * kBlock + p];
      }
    }
}

}  // namespace ops
}  // namespace lowp
