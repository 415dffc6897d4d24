// aarch64 NEON MaxPool (exact: a byte maximum). Two layouts, anything else -> scalar reference:
//  - channels contiguous (NHWC views, xs[1] == ys[1] == 1): 16 channels per vector, max over the
//    in-bounds taps of each output;
//  - W contiguous (NCHW views, xs[3] == ys[3] == 1) with stride_w 1 or 2 and dilation_w 1: 16
//    outputs of a row per vector over the outputs whose window lies inside the row horizontally
//    (stride 2 de-interleaves with LD2, reading only inside the row); border outputs use the same
//    per-output loop as the reference.
// Compared with the scalar max_pool over layouts, paddings, strides, dilations and tails.
// Also onnxruntime's float QLinearAveragePool (avg_pool_float) in the same two layouts (stride_w
// 1 for the rows), the reference's float32 operations per lane.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <arm_neon.h>

#include <algorithm>
#include <cmath>
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
        for (int64_t c = Cv; c < g.C; ++c) yp[c] = max_pool_one(g, xn + c, oh, ow);
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
        for (; ow < g.OW && ow < ow_lo; ++ow) yp[ow] = max_pool_one(g, xp, oh, ow);
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
        for (; ow < g.OW; ++ow) yp[ow] = max_pool_one(g, xp, oh, ow);
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

// ---- onnxruntime QLinearAveragePool (avg_pool_float): per lane the reference's float32
// operations in its order: deq = x_scale * float(x - zp), acc += deq over the taps row by row,
// acc /= float(count), rne(acc / y_scale + float(y_zp)), clamp. Lanes of one vector share the
// window (channels-last) or have fully in-row windows of equal count (W-contiguous, stride 1).
struct AvgF {
  float32x4_t xs, ys, yz;
  int32x4_t xz, lo, hi;
};

template <typename T>
inline void widen8(const T* p, int32x4_t& a, int32x4_t& b) {
  int16x8_t w;
  if (std::is_same<T, uint8_t>::value)
    w = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(reinterpret_cast<const uint8_t*>(p))));
  else
    w = vmovl_s8(vld1_s8(reinterpret_cast<const int8_t*>(p)));
  a = vmovl_s16(vget_low_s16(w));
  b = vmovl_s16(vget_high_s16(w));
}

template <typename T>
inline void acc8(const T* p, const AvgF& k, float32x4_t& s0, float32x4_t& s1) {
  int32x4_t a, b;
  widen8(p, a, b);
  s0 = vaddq_f32(s0, vmulq_f32(k.xs, vcvtq_f32_s32(vsubq_s32(a, k.xz))));
  s1 = vaddq_f32(s1, vmulq_f32(k.xs, vcvtq_f32_s32(vsubq_s32(b, k.xz))));
}

inline int32x4_t finish4(float32x4_t acc, float32x4_t cnt, const AvgF& k) {
  acc = vdivq_f32(acc, cnt);
  const float32x4_t v = vaddq_f32(vdivq_f32(acc, k.ys), k.yz);
  return vminq_s32(vmaxq_s32(vcvtnq_s32_f32(v), k.lo), k.hi);
}

template <typename T>
inline void store8(T* p, int32x4_t a, int32x4_t b) {
  const int16x8_t w = vcombine_s16(vmovn_s32(a), vmovn_s32(b));  // clamped: exact
  if (std::is_same<T, uint8_t>::value) vst1_u8(reinterpret_cast<uint8_t*>(p), vqmovun_s16(w));
  else vst1_s8(reinterpret_cast<int8_t*>(p), vqmovn_s16(w));
}

// One output exactly as the scalar reference.
template <typename T>
inline T avg_one(const Pool2D& g, const T* xp, int64_t oh, int64_t ow, float x_scale, int32_t x_zp,
                 float y_scale, int32_t y_zp, bool cip) {
  int64_t hs = oh * g.sh - g.pad_top, ws = ow * g.sw - g.pad_left;
  const int64_t he = std::min(hs + g.kh, g.H), we = std::min(ws + g.kw, g.W);
  hs = std::max<int64_t>(hs, 0);
  ws = std::max<int64_t>(ws, 0);
  float acc = 0.f;
  for (int64_t h = hs; h < he; ++h)
    for (int64_t w = ws; w < we; ++w)
      acc += x_scale * static_cast<float>(static_cast<int32_t>(xp[h * g.xs[2] + w * g.xs[3]]) - x_zp);
  const int64_t count = cip ? g.kh * g.kw : (he - hs) * (we - ws);
  acc /= static_cast<float>(count);
  return saturate_round<T>(acc / y_scale + static_cast<float>(y_zp));
}

template <typename T>
void avg_channels_last(const Pool2D& g, const T* x, T* y, float x_scale, int32_t x_zp, float y_scale, int32_t y_zp,
                       bool cip, const AvgF& k) {
  const int64_t Cv = g.C / 8 * 8;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const T* xn = x + n * g.xs[0];
        T* yp = y + n * g.ys[0] + oh * g.ys[2] + ow * g.ys[3];
        int64_t hs = oh * g.sh - g.pad_top, ws = ow * g.sw - g.pad_left;
        const int64_t he = std::min(hs + g.kh, g.H), we = std::min(ws + g.kw, g.W);
        hs = std::max<int64_t>(hs, 0);
        ws = std::max<int64_t>(ws, 0);
        const int64_t count = cip ? g.kh * g.kw : (he - hs) * (we - ws);
        const float32x4_t cnt = vdupq_n_f32(static_cast<float>(count));
        for (int64_t c = 0; c < Cv; c += 8) {
          float32x4_t s0 = vdupq_n_f32(0.f), s1 = vdupq_n_f32(0.f);
          for (int64_t h = hs; h < he; ++h)
            for (int64_t w = ws; w < we; ++w) acc8(xn + h * g.xs[2] + w * g.xs[3] + c, k, s0, s1);
          store8(yp + c, finish4(s0, cnt, k), finish4(s1, cnt, k));
        }
        for (int64_t c = Cv; c < g.C; ++c) yp[c] = avg_one(g, xn + c, oh, ow, x_scale, x_zp, y_scale, y_zp, cip);
      }
}

template <typename T>
void avg_rows(const Pool2D& g, const T* x, T* y, float x_scale, int32_t x_zp, float y_scale, int32_t y_zp, bool cip,
              const AvgF& k) {
  const int64_t ow_lo = g.pad_left;  // stride 1: first output whose window starts in the row
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c) {
      const T* xp = x + n * g.xs[0] + c * g.xs[1];
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        T* yp = y + n * g.ys[0] + c * g.ys[1] + oh * g.ys[2];
        int64_t hs = oh * g.sh - g.pad_top;
        const int64_t he = std::min(hs + g.kh, g.H);
        hs = std::max<int64_t>(hs, 0);
        const int64_t count = cip ? g.kh * g.kw : (he - hs) * g.kw;  // full rows horizontally
        const float32x4_t cnt = vdupq_n_f32(static_cast<float>(count));
        int64_t ow = 0;
        for (; ow < g.OW && ow < ow_lo; ++ow) yp[ow] = avg_one(g, xp, oh, ow, x_scale, x_zp, y_scale, y_zp, cip);
        for (; ow + 8 <= g.OW; ow += 8) {
          const int64_t wf = ow - g.pad_left;
          if (wf + (g.kw - 1) + 7 >= g.W) break;  // some lane's window (or the load) leaves the row
          float32x4_t s0 = vdupq_n_f32(0.f), s1 = vdupq_n_f32(0.f);
          for (int64_t h = hs; h < he; ++h) {
            const T* r = xp + h * g.xs[2] + wf;
            for (int64_t j = 0; j < g.kw; ++j) acc8(r + j, k, s0, s1);
          }
          store8(yp + ow, finish4(s0, cnt, k), finish4(s1, cnt, k));
        }
        for (; ow < g.OW; ++ow) yp[ow] = avg_one(g, xp, oh, ow, x_scale, x_zp, y_scale, y_zp, cip);
      }
    }
}

template <typename T>
bool run_avg(const Pool2D& g, const T* x, T* y, float x_scale, int32_t x_zp, float y_scale, int32_t y_zp, bool cip) {
  AvgF k;
  k.xs = vdupq_n_f32(x_scale);
  k.ys = vdupq_n_f32(y_scale);
  k.yz = vdupq_n_f32(static_cast<float>(y_zp));
  k.xz = vdupq_n_s32(x_zp);
  k.lo = vdupq_n_s32(std::numeric_limits<T>::lowest());
  k.hi = vdupq_n_s32(std::numeric_limits<T>::max());
  if (g.xs[1] == 1 && g.ys[1] == 1 && g.C >= 8) {
    avg_channels_last(g, x, y, x_scale, x_zp, y_scale, y_zp, cip, k);
    return true;
  }
  if (g.xs[3] == 1 && g.ys[3] == 1 && g.sw == 1 && g.OW >= 8) {
    avg_rows(g, x, y, x_scale, x_zp, y_scale, y_zp, cip, k);
    return true;
  }
  return false;
}

}  // namespace

bool avg_pool_float_neon(const Pool2D& g, const void* x, void* y, DType t, float x_scale, int32_t x_zp,
                         float y_scale, int32_t y_zp, bool count_include_pad) {
  if (t == DType::U8)
    return run_avg(g, static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), x_scale, x_zp, y_scale, y_zp,
                   count_include_pad);
  return run_avg(g, static_cast<const int8_t*>(x), static_cast<int8_t*>(y), x_scale, x_zp, y_scale, y_zp,
                 count_include_pad);
}

bool max_pool_neon(const Pool2D& g, const void* x, void* y, DType t) {
  if (t == DType::U8) return run(g, static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y));
  return run(g, static_cast<const int8_t*>(x), static_cast<int8_t*>(y));
}

}  // namespace ops
}  // namespace lowp
