// aarch64 NEON MaxPool (exact: a byte maximum). Two layouts, anything else -> scalar reference:
//  - channels contiguous (NHWC views, xs[1] == ys[1] == 1): 16 channels per vector, max over the
//    in-bounds taps of each output;
//  - W contiguous (NCHW views, xs[3] == ys[3] == 1) with stride_w 1 or 2 and dilation_w 1: 16
//    outputs of a row per vector over the outputs whose window lies inside the row horizontally
//    (stride 2 de-interleaves with LD2, reading only inside the row); border outputs use the same
//    per-output loop as the reference.
// Compared with the scalar max_pool over layouts, paddings, strides, dilations and tails.
#include <arm_neon.h>

#include <limits>
#include <type_traits>

#include "ops/pool.h"

namespace lowp {
namespace ops {

namespace {

template <typename T>
struct V;
template <>
struct V<uint8_t> {
  using vec = uint8x16_t;
  static vec dup(uint8_t v) { return vdupq_n_u8(v); }
  static vec load(const uint8_t* p) { return vld1q_u8(p); }
  static vec load_even(const uint8_t* p) { return vld2q_u8(p).val[0]; }
  static vec max(vec a, vec b) { return vmaxq_u8(a, b); }
  static void store(uint8_t* p, vec v) { vst1q_u8(p, v); }
};
template <>
struct V<int8_t> {
  using vec = int8x16_t;
  static vec dup(int8_t v) { return vdupq_n_s8(v); }
  static vec load(const int8_t* p) { return vld1q_s8(p); }
  static vec load_even(const int8_t* p) { return vld2q_s8(p).val[0]; }
  static vec max(vec a, vec b) { return vmaxq_s8(a, b); }
  static void store(int8_t* p, vec v) { vst1q_s8(p, v); }
};

// One output, as the scalar reference computes it.
template <typename T>
inline T max_one(const Pool2D& g, const T* xp, int64_t oh, int64_t ow) {
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

template <typename T>
void channels_last(const Pool2D& g, const T* x, T* y) {
  using O = V<T>;
  const int64_t Cv = g.C / 16 * 16;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const T* xn = x + n * g.xs[0];
        T* yp = y + n * g.ys[0] + oh * g.ys[2] + ow * g.ys[3];
        const int64_t h0 = oh * g.sh - g.pad_top, w0 = ow * g.sw - g.pad_left;
        for (int64_t c = 0; c < Cv; c += 16) {
          typename O::vec m = O::dup(std::numeric_limits<T>::lowest());
          for (int64_t i = 0; i < g.kh; ++i) {
            const int64_t h = h0 + i * g.dh;
            if (h < 0 || h >= g.H) continue;
            for (int64_t j = 0; j < g.kw; ++j) {
              const int64_t w = w0 + j * g.dw;
              if (w < 0 || w >= g.W) continue;
              m = O::max(m, O::load(xn + h * g.xs[2] + w * g.xs[3] + c));
            }
          }
          O::store(yp + c, m);
        }
        for (int64_t c = Cv; c < g.C; ++c) yp[c] = max_one(g, xn + c, oh, ow);
      }
}

template <typename T, int kStride>
void rows(const Pool2D& g, const T* x, T* y) {
  using O = V<T>;
  // outputs whose taps w = ow*s - pad + j (j < kw) all lie in [0, W), and whose vector loads
  // (16 outputs: reads up to w_first + 16*s - 1 for LD2, + 15 for LD1) stay inside the row.
  const int64_t ow_lo = (g.pad_left + kStride - 1) / kStride;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c) {
      const T* xp = x + n * g.xs[0] + c * g.xs[1];
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        T* yp = y + n * g.ys[0] + c * g.ys[1] + oh * g.ys[2];
        const int64_t h0 = oh * g.sh - g.pad_top;
        int64_t ow = 0;
        for (; ow < g.OW && ow < ow_lo; ++ow) yp[ow] = max_one(g, xp, oh, ow);
        for (; ow + 16 <= g.OW; ow += 16) {
          const int64_t wf = ow * kStride - g.pad_left;  // first tap of the first output (>= 0)
          const int64_t last_read = wf + (g.kw - 1) + (kStride == 2 ? 31 : 15);
          if (last_read >= g.W) break;
          typename O::vec m = O::dup(std::numeric_limits<T>::lowest());
          for (int64_t i = 0; i < g.kh; ++i) {
            const int64_t h = h0 + i * g.dh;
            if (h < 0 || h >= g.H) continue;
            const T* r = xp + h * g.xs[2] + wf;
            for (int64_t j = 0; j < g.kw; ++j) m = O::max(m, kStride == 2 ? O::load_even(r + j) : O::load(r + j));
          }
          O::store(yp + ow, m);
        }
        for (; ow < g.OW; ++ow) yp[ow] = max_one(g, xp, oh, ow);
      }
    }
}

template <typename T>
bool run(const Pool2D& g, const T* x, T* y) {
  if (g.xs[1] == 1 && g.ys[1] == 1 && g.C >= 16) {
    channels_last(g, x, y);
    return true;
  }
  if (g.xs[3] == 1 && g.ys[3] == 1 && g.dw == 1 && g.OW >= 16) {
    if (g.sw == 1) rows<T, 1>(g, x, y);
    else if (g.sw == 2) rows<T, 2>(g, x, y);
    else return false;
    return true;
  }
  return false;
}

}  // namespace

bool max_pool_neon(const Pool2D& g, const void* x, void* y, DType t) {
  if (t == DType::U8) return run(g, static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y));
  return run(g, static_cast<const int8_t*>(x), static_cast<int8_t*>(y));
}

}  // namespace ops
}  // namespace lowp
