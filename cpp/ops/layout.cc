#include "ops/layout.h"

#include <cstring>

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

void copy_rows_ref(const uint8_t* src, int64_t src_stride, uint8_t* dst, int64_t dst_stride, int64_t row_bytes,
                   int64_t rows) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < row_bytes; ++j) dst[r * dst_stride + j] = src[r * src_stride + j];
}

namespace {
template <int kBytes>
void copy_rows_fixed(const uint8_t* src, int64_t ss, uint8_t* dst, int64_t ds, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * ds, src + r * ss, kBytes);
}
}  // namespace

void copy_rows(const uint8_t* src, int64_t src_stride, uint8_t* dst, int64_t dst_stride, int64_t row_bytes,
               int64_t rows) {
  if (rows <= 0 || row_bytes <= 0) return;
  if (src_stride == row_bytes && dst_stride == row_bytes) {
    std::memcpy(dst, src, static_cast<size_t>(row_bytes * rows));
    return;
  }
  switch (row_bytes) {  // the channel counts of real networks: one inlined move per row
    case 8: return copy_rows_fixed<8>(src, src_stride, dst, dst_stride, rows);
    case 16: return copy_rows_fixed<16>(src, src_stride, dst, dst_stride, rows);
    case 24: return copy_rows_fixed<24>(src, src_stride, dst, dst_stride, rows);
    case 32: return copy_rows_fixed<32>(src, src_stride, dst, dst_stride, rows);
    case 48: return copy_rows_fixed<48>(src, src_stride, dst, dst_stride, rows);
    case 64: return copy_rows_fixed<64>(src, src_stride, dst, dst_stride, rows);
    default: break;
  }
  if (row_bytes >= 256) {
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(dst + r * dst_stride, src + r * src_stride, static_cast<size_t>(row_bytes));
    return;
  }
  const int64_t body = row_bytes & ~int64_t{15};
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = src + r * src_stride;
    uint8_t* d = dst + r * dst_stride;
    int64_t j = 0;
    for (; j < body; j += 16) std::memcpy(d + j, s + j, 16);
    for (; j < row_bytes; ++j) d[j] = s[j];
  }
}

}  // namespace ops
}  // namespace lowp
