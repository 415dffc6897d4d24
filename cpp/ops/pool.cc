#include "ops/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "ops/quantize.h"
#include "requant/requant.h"
#include "runtime/cpu.h"

namespace lowp {
namespace ops {

namespace {

void check_geometry(const Pool2D& g) {
  LOWP_CHECK(g.N >= 0 && g.C >= 0 && g.H >= 0 && g.W >= 0 && g.OH >= 0 && g.OW >= 0, "negative pooling shape");
  LOWP_CHECK(g.kh >= 1 && g.kw >= 1, "kernel_shape must be >= 1");
  LOWP_CHECK(g.sh >= 1 && g.sw >= 1, "strides must be >= 1");
  LOWP_CHECK(g.dh >= 1 && g.dw >= 1, "dilations must be >= 1");
  LOWP_CHECK(g.pad_top >= 0 && g.pad_left >= 0, "pads must be >= 0");
}

// Calls f(n, c, oh, ow, h0, h1, w0, w1) with the in-bounds tap range of each output (for
// dilation 1 the taps are h0..h1-1; dilated windows are handled by the callers).
template <typename F>
void for_each_window(const Pool2D& g, F f) {
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) f(n, c, oh, ow);
}

// Channels-last fast path (x and y channel stride 1): for each output pixel, an elementwise max of
// C contiguous bytes over the in-bounds taps (auto-vectorised; same result as the generic loop:
// a max of the same integers).
template <typename T>
void max_pool_channels_last(const Pool2D& g, const T* x, T* y) {
  const int64_t C = g.C;
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        T* __restrict yp = y + n * g.ys[0] + oh * g.ys[2] + ow * g.ys[3];
        for (int64_t c = 0; c < C; ++c) yp[c] = std::numeric_limits<T>::lowest();
        const int64_t h0 = oh * g.sh - g.pad_top, w0 = ow * g.sw - g.pad_left;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t h = h0 + i * g.dh;
          if (h < 0 || h >= g.H) continue;
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t w = w0 + j * g.dw;
            if (w < 0 || w >= g.W) continue;
            const T* __restrict xp = x + n * g.xs[0] + h * g.xs[2] + w * g.xs[3];
            for (int64_t c = 0; c < C; ++c) yp[c] = xp[c] > yp[c] ? xp[c] : yp[c];
          }
        }
      }
}

template <typename T>
void max_pool_t(const Pool2D& g, const T* x, T* y) {
  if (g.xs[1] == 1 && g.ys[1] == 1 && g.C > 1) return max_pool_channels_last(g, x, y);
  for_each_window(g, [&](int64_t n, int64_t c, int64_t oh, int64_t ow) {
    y[n * g.ys[0] + c * g.ys[1] + oh * g.ys[2] + ow * g.ys[3]] = max_pool_one(g, x + n * g.xs[0] + c * g.xs[1], oh, ow);
  });
}

template <typename T>
void avg_pool_float_t(const Pool2D& g, const T* x, T* y, float x_scale, int32_t x_zp, float y_scale, int32_t y_zp,
                      bool cip, bool as_uint8 = false) {
  float deq[256];
  for (int v = 0; v < 256; ++v) {
    const T tv = static_cast<T>(static_cast<uint8_t>(v));
    deq[v] = x_scale * static_cast<float>(static_cast<int32_t>(tv) - x_zp);
  }
  for_each_window(g, [&](int64_t n, int64_t c, int64_t oh, int64_t ow) {
    const T* xp = x + n * g.xs[0] + c * g.xs[1];
    int64_t hs = oh * g.sh - g.pad_top, ws = ow * g.sw - g.pad_left;
    const int64_t he = std::min(hs + g.kh, g.H), we = std::min(ws + g.kw, g.W);
    hs = std::max<int64_t>(hs, 0);
    ws = std::max<int64_t>(ws, 0);
    float acc = 0.f;
    for (int64_t h = hs; h < he; ++h)
      for (int64_t w = ws; w < we; ++w) acc += deq[static_cast<uint8_t>(xp[h * g.xs[2] + w * g.xs[3]])];
    const int64_t count = cip ? g.kh * g.kw : (he - hs) * (we - ws);
    acc /= static_cast<float>(count);
    T& out = y[n * g.ys[0] + c * g.ys[1] + oh * g.ys[2] + ow * g.ys[3]];
    if (as_uint8) {  // int8 data quantized as onnxruntime's uint8 rewrite does (see pool.h)
      const uint8_t u = saturate_round<uint8_t>(acc / y_scale + static_cast<float>(y_zp + 128));
      out = static_cast<T>(static_cast<int32_t>(u) - 128);
    } else {
      out = saturate_round<T>(acc / y_scale + static_cast<float>(y_zp));
    }
  });
}

template <typename T>
void avg_pool_ort_float_t(const Pool2D& g, const T* x, T* y, float x_scale, int32_t x_zp, float y_scale, int32_t y_zp,
                          bool cip, PoolSumOrder order) {
  constexpr int32_t lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
  if (order == PoolSumOrder::kLanes4 && g.xs[1] == 1 && g.C > 1 && (g.H == 1 || g.xs[2] == g.W * g.xs[3])) {
    // Channels-last plane (NHWC, rows contiguous): one pass over the pixels with the channels in the
    // inner (vectorisable) loop. Per channel these are the float32 operations of the strided walk
    // below, in the same order: pixel p into lane p % 4, (l0 + l2) + (l1 + l3), then the tail pixels.
    // (The walk below divides twice per pixel: ~13x onnxruntime's time on MobileNetV3's SE pools.)
    const int64_t C = g.C, count = g.H * g.W, n4 = count / 4 * 4, ps = g.xs[3];
    const float div = static_cast<float>(cip ? g.kh * g.kw : count);
    std::vector<float> buf(static_cast<size_t>(5 * C));
    float* const lanes = buf.data();
    float* const acc = lanes + 4 * C;
    for (int64_t n = 0; n < g.N; ++n) {
      const T* xn = x + n * g.xs[0];
      std::fill(buf.begin(), buf.end(), 0.f);
      auto add_pixel = [&](int64_t p, float* __restrict l) {
        const T* __restrict xp = xn + p * ps;
        for (int64_t c = 0; c < C; ++c) l[c] += static_cast<float>(static_cast<int32_t>(xp[c]) - x_zp) * x_scale;
      };
      for (int64_t p = 0; p < n4; ++p) add_pixel(p, lanes + (p % 4) * C);
      for (int64_t c = 0; c < C; ++c) acc[c] = (lanes[c] + lanes[2 * C + c]) + (lanes[C + c] + lanes[3 * C + c]);
      for (int64_t p = n4; p < count; ++p) add_pixel(p, acc);
      for (int64_t c = 0; c < C; ++c)
        y[n * g.ys[0] + c * g.ys[1]] = static_cast<T>(quantize_one(acc[c] / div, y_scale, y_zp, lo, hi));
    }
    return;
  }
  float deq[256];  // float(x - zp) * scale for every byte
  for (int v = 0; v < 256; ++v) {
    const T tv = static_cast<T>(static_cast<uint8_t>(v));
    deq[v] = static_cast<float>(static_cast<int32_t>(tv) - x_zp) * x_scale;
  }
  for_each_window(g, [&](int64_t n, int64_t c, int64_t oh, int64_t ow) {
    const T* xp = x + n * g.xs[0] + c * g.xs[1];
    auto at = [&](int64_t h, int64_t w) { return deq[static_cast<uint8_t>(xp[h * g.xs[2] + w * g.xs[3]])]; };
    int64_t hs = oh * g.sh - g.pad_top, ws = ow * g.sw - g.pad_left;
    const int64_t he = std::min(hs + g.kh, g.H), we = std::min(ws + g.kw, g.W);
    hs = std::max<int64_t>(hs, 0);
    ws = std::max<int64_t>(ws, 0);
    float acc = 0.f;
    if (order == PoolSumOrder::kColumns) {
      for (int64_t w = ws; w < we; ++w) {
        float col = 0.f;
        for (int64_t h = hs; h < he; ++h) col += at(h, w);
        acc += col;
      }
    } else if (order == PoolSumOrder::kLanes4) {
      const int64_t cols = we - ws, count = (he - hs) * cols, n4 = count / 4 * 4;
      float lane[4] = {0.f, 0.f, 0.f, 0.f};
      for (int64_t p = 0; p < n4; ++p) lane[p % 4] += at(hs + p / cols, ws + p % cols);
      acc = (lane[0] + lane[2]) + (lane[1] + lane[3]);
      for (int64_t p = n4; p < count; ++p) acc += at(hs + p / cols, ws + p % cols);
    } else {
      for (int64_t h = hs; h < he; ++h)
        for (int64_t w = ws; w < we; ++w) acc += at(h, w);
    }
    const int64_t count = cip ? g.kh * g.kw : (he - hs) * (we - ws);
    const float avg = acc / static_cast<float>(count);
    y[n * g.ys[0] + c * g.ys[1] + oh * g.ys[2] + ow * g.ys[3]] =
        static_cast<T>(quantize_one(avg, y_scale, y_zp, lo, hi));
  });
}

// TFLite's integer average of one window: sum / count rounded half away from zero, clamped.
inline int32_t int_average(int32_t acc, int32_t count, int32_t zp, int32_t qmin, int32_t qmax) {
  const int32_t avg = count == 0 ? zp : (acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count);
  return avg < qmin ? qmin : (avg > qmax ? qmax : avg);
}

template <typename T>
void avg_pool_int_t(const Pool2D& g, const T* x, T* y, int32_t zp, bool cip, int32_t qmin, int32_t qmax) {
  if (g.xs[1] == 1 && g.ys[1] == 1 && g.C > 1) {
    // Channels last (NHWC): each window sums whole pixel rows of C channels into C int32 sums (the
    // inner loop is contiguous and vectorizes); the same sums, counts and rounding as below.
    std::vector<int32_t> acc(static_cast<size_t>(g.C));
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t h0 = oh * g.sh - g.pad_top, w0 = ow * g.sw - g.pad_left;
          const int64_t ha = h0 < 0 ? 0 : h0, hb = h0 + g.kh < g.H ? h0 + g.kh : g.H;
          const int64_t wa = w0 < 0 ? 0 : w0, wb = w0 + g.kw < g.W ? w0 + g.kw : g.W;
          std::fill(acc.begin(), acc.end(), 0);
          int32_t* a = acc.data();
          for (int64_t h = ha; h < hb; ++h)
            for (int64_t w = wa; w < wb; ++w) {
              const T* xp = x + n * g.xs[0] + h * g.xs[2] + w * g.xs[3];
              for (int64_t c = 0; c < g.C; ++c) a[c] += xp[c];
            }
          int32_t count = static_cast<int32_t>((hb > ha ? hb - ha : 0) * (wb > wa ? wb - wa : 0));
          int32_t pad_add = 0;
          if (cip) {
            const int32_t full = static_cast<int32_t>(g.kh * g.kw);
            pad_add = (full - count) * zp;
            count = full;
          }
          T* yp = y + n * g.ys[0] + oh * g.ys[2] + ow * g.ys[3];
          for (int64_t c = 0; c < g.C; ++c) yp[c] = static_cast<T>(int_average(a[c] + pad_add, count, zp, qmin, qmax));
        }
    return;
  }
  for_each_window(g, [&](int64_t n, int64_t c, int64_t oh, int64_t ow) {
    const T* xp = x + n * g.xs[0] + c * g.xs[1];
    const int64_t h0 = oh * g.sh - g.pad_top, w0 = ow * g.sw - g.pad_left;
    int32_t acc = 0, count = 0;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t h = h0 + i;
      if (h < 0 || h >= g.H) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t w = w0 + j;
        if (w < 0 || w >= g.W) continue;
        acc += xp[h * g.xs[2] + w * g.xs[3]];
        ++count;
      }
    }
    if (cip) {
      const int32_t full = static_cast<int32_t>(g.kh * g.kw);
      acc += (full - count) * zp;
      count = full;
    }
    y[n * g.ys[0] + c * g.ys[1] + oh * g.ys[2] + ow * g.ys[3]] = static_cast<T>(int_average(acc, count, zp, qmin,
                                                                                           qmax));
  });
}

template <typename T>
void global_avg_pool_mlas_t(const Pool2D& g, const T* x, T* y, float x_scale, int32_t x_zp, float y_scale,
                            int32_t y_zp) {
  constexpr int32_t lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
  const int64_t count = g.H * g.W;
  LOWP_CHECK(count < 0x1000000, "global average pool: image too large");
  const float scale = x_scale / (y_scale * static_cast<float>(count));
  LOWP_CHECK(scale >= 0x1.0p-32f && scale < 256.0f,
             "global average pool: x_scale / (y_scale * H * W) is out of the range onnxruntime accepts");
  if (g.xs[1] == 1 && g.C > 1 && (g.H == 1 || g.xs[2] == g.W * g.xs[3])) {
    // Channels-last: one pass over the pixels with C int32 sums (contiguous, auto-vectorised)
    // instead of a strided walk per channel. Same int32 sums, same requantization.
    std::vector<int32_t> acc(static_cast<size_t>(g.C));
#if defined(__x86_64__) || defined(_M_X64)
    static const bool avx2 = cpu::has_avx2();
    const bool simd = avx2 && eltwise_simd_enabled();
#endif
    for (int64_t n = 0; n < g.N; ++n) {
      std::fill(acc.begin(), acc.end(), 0);
      int32_t* __restrict a = acc.data();
#if defined(__x86_64__) || defined(_M_X64)
      if (simd) {
        global_sum_channels_last_avx2(x + n * g.xs[0], std::is_signed<T>::value ? DType::S8 : DType::U8, count,
                                      g.xs[3], g.C, a);
      } else
#endif
      for (int64_t p = 0; p < count; ++p) {
        const T* __restrict xp = x + n * g.xs[0] + p * g.xs[3];
        for (int64_t c = 0; c < g.C; ++c) a[c] += xp[c];
      }
#if defined(__x86_64__) || defined(_M_X64)
      if (simd && g.ys[1] == 1) {
        global_requant_row_avx2(a, x_zp * static_cast<int32_t>(count), g.C, scale, y_zp, lo, hi, y + n * g.ys[0],
                                std::is_signed<T>::value);
        continue;
      }
#endif
      for (int64_t c = 0; c < g.C; ++c)
        y[n * g.ys[0] + c * g.ys[1]] = static_cast<T>(
            requant::requant_half_even(a[c] - x_zp * static_cast<int32_t>(count), scale, y_zp, lo, hi));
    }
    return;
  }
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t c = 0; c < g.C; ++c) {
      const T* xp = x + n * g.xs[0] + c * g.xs[1];
      int32_t acc = 0;
      if (g.xs[3] == 1 && (g.H == 1 || g.xs[2] == g.W)) {
        for (int64_t i = 0; i < count; ++i) acc += xp[i];  // contiguous plane (vectorisable)
      } else {
        for (int64_t h = 0; h < g.H; ++h)
          for (int64_t w = 0; w < g.W; ++w) acc += xp[h * g.xs[2] + w * g.xs[3]];
      }
      acc -= x_zp * static_cast<int32_t>(count);
      y[n * g.ys[0] + c * g.ys[1]] = static_cast<T>(requant::requant_half_even(acc, scale, y_zp, lo, hi));
    }
}

}  // namespace

#define LOWP_POOL_DISPATCH(t, CALL_U8, CALL_S8)                                  \
  do {                                                                          \
    if ((t) == DType::U8) {                                                     \
      CALL_U8;                                                                  \
    } else if ((t) == DType::S8) {                                              \
      CALL_S8;                                                                  \
    } else {                                                                    \
      throw Error("lowp: pooling takes uint8 or int8");                         \
    }                                                                           \
  } while (0)

#if defined(__x86_64__) || defined(_M_X64)
void max_pool_channels_last_avx2(const Pool2D& g, const void* x, void* y, DType t);  // pool_avx2.cc
#endif

void max_pool(const Pool2D& g, const void* x, void* y, DType t) {
  check_geometry(g);
#if defined(__x86_64__) || defined(_M_X64)
  static const bool avx2 = cpu::has_avx2();
  if (avx2 && eltwise_simd_enabled() && (t == DType::U8 || t == DType::S8) && g.xs[1] == 1 && g.ys[1] == 1 &&
      g.C >= 32)
    return max_pool_channels_last_avx2(g, x, y, t);
#elif defined(__aarch64__)
  if ((t == DType::U8 || t == DType::S8) && eltwise_simd_enabled() && max_pool_neon(g, x, y, t)) return;
#endif
  LOWP_POOL_DISPATCH(t, max_pool_t(g, static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y)),
                     max_pool_t(g, static_cast<const int8_t*>(x), static_cast<int8_t*>(y)));
}

void avg_pool_float(const Pool2D& g, const void* x, void* y, DType t, float x_scale, int32_t x_zp, float y_scale,
                    int32_t y_zp, bool count_include_pad, bool as_uint8) {
  check_geometry(g);
  LOWP_CHECK(g.dh == 1 && g.dw == 1, "average pool does not take dilations");
  if (as_uint8) {
    LOWP_CHECK(t == DType::S8, "average pool: the uint8-rewrite arithmetic applies to int8 data only");
    return avg_pool_float_t(g, static_cast<const int8_t*>(x), static_cast<int8_t*>(y), x_scale, x_zp, y_scale, y_zp,
                            count_include_pad, true);
  }
#if defined(__aarch64__)
  if ((t == DType::U8 || t == DType::S8) && eltwise_simd_enabled() &&
      avg_pool_float_neon(g, x, y, t, x_scale, x_zp, y_scale, y_zp, count_include_pad))
    return;
#endif
  LOWP_POOL_DISPATCH(t,
                     avg_pool_float_t(g, static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), x_scale, x_zp,
                                      y_scale, y_zp, count_include_pad),
                     avg_pool_float_t(g, static_cast<const int8_t*>(x), static_cast<int8_t*>(y), x_scale, x_zp,
                                      y_scale, y_zp, count_include_pad));
}

void avg_pool_ort_float(const Pool2D& g, const void* x, void* y, DType t, float x_scale, int32_t x_zp, float y_scale,
                        int32_t y_zp, bool count_include_pad, PoolSumOrder order) {
  check_geometry(g);
  LOWP_CHECK(g.dh == 1 && g.dw == 1, "average pool does not take dilations");
  LOWP_CHECK(order == PoolSumOrder::kRows || order == PoolSumOrder::kColumns || order == PoolSumOrder::kLanes4,
             "average pool: unknown summation order");
  if (order == PoolSumOrder::kLanes4)
    LOWP_CHECK(g.OH == 1 && g.OW == 1 && g.kh == g.H && g.kw == g.W && g.pad_top == 0 && g.pad_left == 0,
               "average pool: the 4-lane order is the whole-plane window's");
  LOWP_POOL_DISPATCH(t,
                     avg_pool_ort_float_t(g, static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), x_scale, x_zp,
                                          y_scale, y_zp, count_include_pad, order),
                     avg_pool_ort_float_t(g, static_cast<const int8_t*>(x), static_cast<int8_t*>(y), x_scale, x_zp,
                                          y_scale, y_zp, count_include_pad, order));
}

namespace {
template <typename T>
void mean_tflite_t(const T* x, T* y, int64_t outer, int64_t len, int64_t inner, int32_t x_zp, int32_t mult, int shift,
                   int32_t y_zp) {
  constexpr int32_t lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
  std::vector<int32_t> acc(static_cast<size_t>(inner));
  for (int64_t o = 0; o < outer; ++o) {
    std::fill(acc.begin(), acc.end(), 0);
    int32_t* a = acc.data();
    const T* xo = x + o * len * inner;
    for (int64_t l = 0; l < len; ++l)
      for (int64_t i = 0; i < inner; ++i) a[i] += xo[l * inner + i];  // contiguous rows: vectorizes
    const int32_t zsum = static_cast<int32_t>(len) * x_zp;
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t v = int64_t{requant::mul_gemmlowp(a[i] - zsum, mult, shift)} + y_zp;
      y[o * inner + i] = static_cast<T>(v < lo ? lo : (v > hi ? hi : v));
    }
  }
}
}  // namespace

void mean_tflite(const void* x, void* y, DType t, int64_t outer, int64_t len, int64_t inner, int32_t x_zp,
                 int32_t multiplier, int shift, int32_t y_zp) {
  LOWP_CHECK(outer >= 0 && len >= 1 && inner >= 0, "mean: bad [outer, len, inner]");
  LOWP_CHECK(len < (int64_t{1} << 23), "mean: too many values per output (int32 sums)");
  LOWP_CHECK(multiplier >= 0 && shift >= -31 && shift <= 30, "mean: multiplier / shift out of range");
  LOWP_POOL_DISPATCH(t,
                     mean_tflite_t(static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), outer, len, inner, x_zp,
                                   multiplier, shift, y_zp),
                     mean_tflite_t(static_cast<const int8_t*>(x), static_cast<int8_t*>(y), outer, len, inner, x_zp,
                                   multiplier, shift, y_zp));
}

void avg_pool_int(const Pool2D& g, const void* x, void* y, DType t, int32_t zero_point, bool count_include_pad,
                  int32_t qmin, int32_t qmax) {
  check_geometry(g);
  LOWP_CHECK(g.dh == 1 && g.dw == 1, "average pool does not take dilations");
  LOWP_CHECK(g.kh * g.kw < (int64_t{1} << 23), "average pool kernel too large");
  LOWP_POOL_DISPATCH(t,
                     avg_pool_int_t(g, static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), zero_point,
                                    count_include_pad, qmin, qmax),
                     avg_pool_int_t(g, static_cast<const int8_t*>(x), static_cast<int8_t*>(y), zero_point,
                                    count_include_pad, qmin, qmax));
}

void global_avg_pool_mlas(const Pool2D& g, const void* x, void* y, DType t, float x_scale, int32_t x_zp,
                          float y_scale, int32_t y_zp) {
  check_geometry(g);
  LOWP_POOL_DISPATCH(t,
                     global_avg_pool_mlas_t(g, static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), x_scale,
                                            x_zp, y_scale, y_zp),
                     global_avg_pool_mlas_t(g, static_cast<const int8_t*>(x), static_cast<int8_t*>(y), x_scale,
                                            x_zp, y_scale, y_zp));
}

}  // namespace ops
}  // namespace lowp
