// 2-D pooling on 8-bit tensors, read and written through element strides so NCHW and NHWC (and
// any view) share one kernel: max pool, average pool (two arithmetics), global-average style
// integer-sum pooling.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "lowp/types.h"

namespace lowp {
namespace ops {

struct Pool2D {
  int64_t N = 0, C = 0, H = 0, W = 0;  // input
  int64_t OH = 0, OW = 0;              // output
  int64_t xs[4] = {};                  // input element strides for n, c, h, w
  int64_t ys[4] = {};                  // output element strides for n, c, oh, ow
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pad_top = 0, pad_left = 0;
};

// The scalar reference for one max-pool output: max over the in-bounds taps of the (n, c) plane
// starting at xp (padding never wins). Shared by pool.cc and the SIMD files' border outputs.
// Float average -> T: round half to even and saturate, defined for every float (NaN, e.g. 0/0 from
// an all-padding window with count_include_pad=0, maps to the zero point's low bound on every CPU).
template <typename T>
inline T saturate_round(float v) {
  constexpr float lo = static_cast<float>(std::numeric_limits<T>::lowest());
  constexpr float hi = static_cast<float>(std::numeric_limits<T>::max());
  if (!(v >= lo)) v = lo;  // also NaN
  if (v > hi) v = hi;
  return static_cast<T>(static_cast<int32_t>(std::nearbyint(v)));
}

template <typename T>
inline T max_pool_one(const Pool2D& g, const T* xp, int64_t oh, int64_t ow) {
  int32_t m = std::numeric_limits<T>::lowest();
  const int64_t h0 = oh * g.sh - g.pad_top, w0 = ow * g.sw - g.pad_left;
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t h = h0 + i * g.dh;
    if (h < 0 || h >= g.H) continue;
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t w = w0 + j * g.dw;
      if (w < 0 || w >= g.W) continue;
      const int32_t v = xp[h * g.xs[2] + w * g.xs[3]];
      m = v > m ? v : m;
    }
  }
  return static_cast<T>(m);
}

// ONNX MaxPool on 8-bit data: max over the in-bounds taps (padding never wins).
void max_pool(const Pool2D& g, const void* x, void* y, DType t);
#if defined(__aarch64__)
// pool_neon.cc: channels-contiguous or W-contiguous (stride_w 1/2) layouts; false = not handled.
// max_pool uses it unless SIMD is switched off (set_eltwise_simd), else its scalar reference.
bool max_pool_neon(const Pool2D& g, const void* x, void* y, DType t);
bool avg_pool_float_neon(const Pool2D& g, const void* x, void* y, DType t, float x_scale, int32_t x_zp,
                         float y_scale, int32_t y_zp, bool count_include_pad);
#endif

// onnxruntime com.microsoft QLinearAveragePool: dequantize to float32 (x_scale * (x - zp)),
// sum the in-bounds taps row by row in float32, divide by the count (the kernel area when
// count_include_pad, else the in-bounds area), y = clamp(rne(avg / y_scale + y_zp)).
// as_uint8 (int8 t only): the int8 tensors went through onnxruntime's QDQ s8->u8 rewrite, which
// runs the op on uint8 data with both zero points + 128. The dequantized values are the same, but
// the zero point is added in float32 before rounding, so y = clamp_u8(rne(avg / y_scale +
// (y_zp + 128))) - 128: the larger addend rounds away low bits of near-ties differently.
void avg_pool_float(const Pool2D& g, const void* x, void* y, DType t, float x_scale, int32_t x_zp, float y_scale,
                    int32_t y_zp, bool count_include_pad, bool as_uint8 = false);

// onnxruntime's float32 fallback for a QDQ AveragePool it leaves unfused (int8 model whose input
// and output tensors end up of different types after its s8->u8 rewrite): DequantizeLinear
// (float(x - x_zp) * x_scale), the MLAS float32 AveragePool, then QuantizeLinear (quantize_one:
// rne(avg / y_scale) clamped, + y_zp added after rounding). The pool divides the float32 window
// sum by the count; the sum order is the MLAS kernel's (ORT picks it by shape, see
// lowp.ops.eltwise.ort_float_pool_order):
//   kRows    row by row, left to right (NCHWc kernels, MLAS generic kernel);
//   kColumns each window column summed down its rows, then the column sums left to right (MLAS
//            2-D vector kernel: horizontal stride <= 2);
//   kLanes4  whole-plane window, stride 1, no padding (MLAS global kernel): 4 running sums over
//            the flattened plane, combined as (s0 + s2) + (s1 + s3), then the tail one by one.
enum class PoolSumOrder { kRows = 0, kColumns = 1, kLanes4 = 2 };
void avg_pool_ort_float(const Pool2D& g, const void* x, void* y, DType t, float x_scale, int32_t x_zp, float y_scale,
                        int32_t y_zp, bool count_include_pad, PoolSumOrder order);

// TFLite MEAN of 8-bit data over the middle axis of a contiguous [outer, len, inner] tensor:
// y[o, i] = clamp(MultiplyByQuantizedMultiplier(sum_l (x[o, l, i] - x_zp), multiplier, shift) + y_zp)
// (gemmlowp rounding). LiteRT's reference derives the multiplier from QuantizeMultiplier(in_scale / out_scale)
// by folding in 1 / len with a truncating integer division (importers/tflite.py, tflite_mean_multiplier).
void mean_tflite(const void* x, void* y, DType t, int64_t outer, int64_t len, int64_t inner, int32_t x_zp,
                 int32_t multiplier, int shift, int32_t y_zp);

// TFLite AVERAGE_POOL_2D reference integer arithmetic (same quantization in and out): sum of the
// in-bounds raw values divided by their count, rounded half away from zero, clamped to
// [qmin, qmax]. With count_include_pad the padded taps count as zero_point and the divisor is
// the kernel area.
void avg_pool_int(const Pool2D& g, const void* x, void* y, DType t, int32_t zero_point, bool count_include_pad,
                  int32_t qmin, int32_t qmax);

// onnxruntime QLinearGlobalAveragePool (MLAS): acc = sum(x) - x_zp * count (int32), then
// float(acc) * (x_scale / (y_scale * float(count))), clamp, round half to even, + y_zp.
// Uses the whole window (kernel == input plane, no padding) of g.
void global_avg_pool_mlas(const Pool2D& g, const void* x, void* y, DType t, float x_scale, int32_t x_zp,
                          float y_scale, int32_t y_zp);

#if defined(__x86_64__) || defined(_M_X64)
// pool_avx2.cc: acc[c] += sum_p x[p * stride + c] (c < C, p < count) for 8-bit t (exact int32 sums).
void global_sum_channels_last_avx2(const void* x, DType t, int64_t count, int64_t stride, int64_t C, int32_t* acc);
// pool_avx2.cc: y[c] = requant_half_even(acc[c] - sub, scale, zp, lo, hi), c < C, y contiguous 8-bit.
void global_requant_row_avx2(const int32_t* acc, int32_t sub, int64_t C, float scale, int32_t zp, int32_t lo,
                             int32_t hi, void* y, bool s8);
#endif

}  // namespace ops
}  // namespace lowp
