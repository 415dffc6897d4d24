#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")  // exactness: never fuse a*b+c
#endif
#include "ops/resize.h"

#include <vector>

namespace lowp {
namespace ops {

namespace {
template <typename T>
void resize_t(const T* x, T* y, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH, int64_t OW,
              const int64_t xs[4], const int64_t ys[4], const ResizeAxis& ay, const ResizeAxis& ax) {
  for (int64_t i = 0; i < OH; ++i) {
    LOWP_CHECK(ay.i1[i] >= 0 && ay.i1[i] < H && ay.i2[i] >= 0 && ay.i2[i] < H, "resize: row index out of range");
  }
  for (int64_t j = 0; j < OW; ++j) {
    LOWP_CHECK(ax.i1[j] >= 0 && ax.i1[j] < W && ax.i2[j] >= 0 && ax.i2[j] < W, "resize: column index out of range");
  }
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const T* xp = x + n * xs[0] + c * xs[1];
      T* yp = y + n * ys[0] + c * ys[1];
      for (int64_t i = 0; i < OH; ++i) {
        const T* r1 = xp + ay.i1[i] * xs[2];
        const T* r2 = xp + ay.i2[i] * xs[2];
        const float dy1 = ay.d1[i], dy2 = ay.d2[i];
        T* yr = yp + i * ys[2];
        for (int64_t j = 0; j < OW; ++j) {
          const int64_t c1 = ax.i1[j] * xs[3], c2 = ax.i2[j] * xs[3];
          const float dx1 = ax.d1[j], dx2 = ax.d2[j];
          const float x11 = static_cast<float>(r1[c1]), x21 = static_cast<float>(r1[c2]);
          const float x12 = static_cast<float>(r2[c1]), x22 = static_cast<float>(r2[c2]);
          const float t1 = (dx2 * dy2) * x11, t2 = (dx1 * dy2) * x21;
          const float t3 = (dx2 * dy1) * x12, t4 = (dx1 * dy1) * x22;
          const float v = ((t1 + t2) + t3) + t4;
          yr[j * ys[3]] = static_cast<T>(static_cast<int32_t>(v));  // truncation toward zero
        }
      }
    }
}
}  // namespace

void resize_bilinear(const void* x, void* y, DType t, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH,
                     int64_t OW, const int64_t xs[4], const int64_t ys[4], const ResizeAxis& ay, const ResizeAxis& ax) {
  LOWP_CHECK(N >= 0 && C >= 0 && H >= 1 && W >= 1 && OH >= 0 && OW >= 0, "resize: bad shape");
  if (t == DType::U8)
    resize_t(static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), N, C, H, W, OH, OW, xs, ys, ay, ax);
  else if (t == DType::S8)
    resize_t(static_cast<const int8_t*>(x), static_cast<int8_t*>(y), N, C, H, W, OH, OW, xs, ys, ay, ax);
  else
    throw Error("lowp: resize takes uint8 or int8");
}

}  // namespace ops
}  // namespace lowp
