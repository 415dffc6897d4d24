// Bilinear resize of 8-bit tensors with onnxruntime's CPU arithmetic (upsample.cc): per output
// pixel v = ((dx2*dy2)*X11 + (dx1*dy2)*X21) + (dx2*dy1)*X12 + (dx1*dy1)*X22 in float32 on the raw
// stored integers, then truncated toward zero (a C++ cast). The source indices and weights per
// axis are computed by the caller (python/lowp/ops/eltwise.py: resize).
#pragma once
#include <cstdint>

#include "lowp/types.h"

namespace lowp {
namespace ops {

struct ResizeAxis {
  const int64_t* i1;  // first source index per output position
  const int64_t* i2;  // second source index
  const float* d1;    // weight of i2 (distance to i1)
  const float* d2;    // weight of i1
};

// x: (N, C, H, W) with element strides xs; y: (N, C, OH, OW) with element strides ys.
void resize_bilinear(const void* x, void* y, DType t, int64_t N, int64_t C, int64_t H, int64_t W, int64_t OH,
                     int64_t OW, const int64_t xs[4], const int64_t ys[4], const ResizeAxis& ay, const ResizeAxis& ax);

}  // namespace ops
}  // namespace lowp
