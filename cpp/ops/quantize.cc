#include "ops/quantize.h"

#include <cmath>

#include <atomic>

#include "runtime/cpu.h"

namespace lowp {
namespace ops {

namespace {
template <typename T>
void quantize_t(const float* x, T* y, int64_t outer, int64_t axis_len, int64_t inner, const float* scale,
                const int32_t* zp, int64_t nparam, int32_t lo, int32_t hi) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t a = 0; a < axis_len; ++a) {
      const int64_t p = nparam == 1 ? 0 : a;
      const float s = scale[p];
      const int32_t z = zp[p];
      const float* xp = x + (o * axis_len + a) * inner;
      T* yp = y + (o * axis_len + a) * inner;
      for (int64_t i = 0; i < inner; ++i) yp[i] = static_cast<T>(quantize_one(xp[i], s, z, lo, hi));
    }
  }
}

template <typename T>
void dequantize_t(const T* x, float* y, int64_t outer, int64_t axis_len, int64_t inner, const float* scale,
                  const int32_t* zp, int64_t nparam) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t a = 0; a < axis_len; ++a) {
      const int64_t p = nparam == 1 ? 0 : a;
      const float s = scale[p];
      const int32_t z = zp[p];
      const T* xp = x + (o * axis_len + a) * inner;
      float* yp = y + (o * axis_len + a) * inner;
      for (int64_t i = 0; i < inner; ++i) yp[i] = static_cast<float>(static_cast<int32_t>(xp[i]) - z) * s;
    }
  }
}
}  // namespace

void quantize_tflite(const float* x, void* y, DType yt, int64_t n, float scale, int32_t zp) {
  LOWP_CHECK(yt == DType::U8 || yt == DType::S8, "TFLite QUANTIZE output must be uint8 or int8");
  LOWP_CHECK(n >= 0 && std::isfinite(scale) && scale > 0.f, "TFLite QUANTIZE needs a finite scale > 0");
  LOWP_CHECK(zp >= (yt == DType::U8 ? 0 : -128) && zp <= (yt == DType::U8 ? 255 : 127),
             "zero point out of range for the output type");
#if defined(__x86_64__) || defined(_M_X64)
  static const bool avx2 = cpu::has_avx2();
  if (avx2 && eltwise_simd_enabled()) {
    quantize_row_tflite_avx2(x, y, yt, n, scale, zp);
    return;
  }
#endif
  if (yt == DType::U8) {
    uint8_t* o = static_cast<uint8_t*>(y);
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<uint8_t>(quantize_one_tflite(x[i], scale, zp, 0, 255));
  } else {
    int8_t* o = static_cast<int8_t*>(y);
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<int8_t>(quantize_one_tflite(x[i], scale, zp, -128, 127));
  }
}

void quantize_linear(const float* x, void* y, DType yt, int64_t outer, int64_t axis_len, int64_t inner,
                     const float* scale, const int32_t* zp, int64_t nparam) {
#if defined(__x86_64__) || defined(_M_X64)
  static const bool avx2 = cpu::has_avx2();
  if (avx2 && eltwise_simd_enabled() && (yt == DType::U8 || yt == DType::S8 || yt == DType::S16)) {
    const int64_t isz = yt == DType::S16 ? 2 : 1;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t a = 0; a < axis_len; ++a) {
        const int64_t p = nparam == 1 ? 0 : a, off = (o * axis_len + a) * inner;
        quantize_row_avx2(x + off, static_cast<char*>(y) + off * isz, yt, inner, scale[p], zp[p]);
      }
    return;
  }
#elif defined(__aarch64__)
  if (eltwise_simd_enabled() && (yt == DType::U8 || yt == DType::S8 || yt == DType::S16)) {
    const int64_t isz = yt == DType::S16 ? 2 : 1;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t a = 0; a < axis_len; ++a) {
        const int64_t p = nparam == 1 ? 0 : a, off = (o * axis_len + a) * inner;
        quantize_row_neon(x + off, static_cast<char*>(y) + off * isz, yt, inner, scale[p], zp[p]);
      }
    return;
  }
#endif
  switch (yt) {
    case DType::U8:
      return quantize_t(x, static_cast<uint8_t*>(y), outer, axis_len, inner, scale, zp, nparam, 0, 255);
    case DType::S8:
      return quantize_t(x, static_cast<int8_t*>(y), outer, axis_len, inner, scale, zp, nparam, -128, 127);
    case DType::S16:
      return quantize_t(x, static_cast<int16_t*>(y), outer, axis_len, inner, scale, zp, nparam, -32768, 32767);
    default:
      throw Error("lowp: quantize_linear output must be uint8, int8 or int16");
  }
}

void dequantize_linear(const void* x, DType xt, float* y, int64_t outer, int64_t axis_len, int64_t inner,
                       const float* scale, const int32_t* zp, int64_t nparam) {
#if defined(__x86_64__) || defined(_M_X64)
  static const bool avx2 = cpu::has_avx2();
  if (avx2 && eltwise_simd_enabled() && (xt == DType::U8 || xt == DType::S8)) {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t a = 0; a < axis_len; ++a) {
        const int64_t p = nparam == 1 ? 0 : a, off = (o * axis_len + a) * inner;
        dequantize_row_avx2(static_cast<const uint8_t*>(x) + off, xt, y + off, inner, scale[p], zp[p]);
      }
    return;
  }
#elif defined(__aarch64__)
  if (eltwise_simd_enabled() && (xt == DType::U8 || xt == DType::S8)) {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t a = 0; a < axis_len; ++a) {
        const int64_t p = nparam == 1 ? 0 : a, off = (o * axis_len + a) * inner;
        dequantize_row_neon(static_cast<const uint8_t*>(x) + off, xt, y + off, inner, scale[p], zp[p]);
      }
    return;
  }
#endif
  switch (xt) {
    case DType::U8:
      return dequantize_t(static_cast<const uint8_t*>(x), y, outer, axis_len, inner, scale, zp, nparam);
    case DType::S8:
      return dequantize_t(static_cast<const int8_t*>(x), y, outer, axis_len, inner, scale, zp, nparam);
    case DType::S16:
      return dequantize_t(static_cast<const int16_t*>(x), y, outer, axis_len, inner, scale, zp, nparam);
    case DType::S32:
      return dequantize_t(static_cast<const int32_t*>(x), y, outer, axis_len, inner, scale, zp, nparam);
  }
}

namespace {
std::atomic<bool> g_lut_simd{true};
}

void set_lut_simd(bool on) { g_lut_simd.store(on); }

#if defined(__x86_64__) || defined(_M_X64)
bool cpu_has_avx512vbmi() {
  static const bool ok = cpu::has_avx512bw() && __builtin_cpu_supports("avx512vbmi");
  return ok;
}
#endif

const char* lut_kernel_name() {
#if defined(__x86_64__) || defined(_M_X64)
  if (cpu_has_avx512vbmi() && g_lut_simd.load()) return "avx512vbmi";
  if (cpu::has_avx2() && g_lut_simd.load()) return "avx2";
#elif defined(__aarch64__)
  if (g_lut_simd.load()) return "neon";
#endif
  return "ref";
}

void lut_apply(const uint8_t* x, const uint8_t* table, uint8_t* y, int64_t n) {
#if defined(__x86_64__) || defined(_M_X64)
  if (g_lut_simd.load() && cpu_has_avx512vbmi()) return lut_apply_vbmi(x, table, y, n);
  if (g_lut_simd.load() && cpu::has_avx2()) return lut_apply_avx2(x, table, y, n);
#elif defined(__aarch64__)
  if (g_lut_simd.load()) return lut_apply_neon(x, table, y, n);  // NEON is baseline on aarch64
#endif
  lut_apply_ref(x, table, y, n);
}

void lut_apply_ref(const uint8_t* x, const uint8_t* table, uint8_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint8_t a = table[x[i]], b = table[x[i + 1]], c = table[x[i + 2]], d = table[x[i + 3]];
    y[i] = a;
    y[i + 1] = b;
    y[i + 2] = c;
    y[i + 3] = d;
  }
  for (; i < n; ++i) y[i] = table[x[i]];
}

void dynamic_quantize_linear(const float* x, int64_t n, uint8_t* y, float* scale, uint8_t* zero_point) {
  LOWP_CHECK(n >= 0, "dynamic_quantize_linear: bad size");
  float lo = 0.0f, hi = 0.0f;
  bool finite = true;
  for (int64_t i = 0; i < n; ++i) {
    finite = finite && std::isfinite(x[i]);
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  LOWP_CHECK(finite, "DynamicQuantizeLinear input contains NaN or infinity (no finite scale exists)");
  float s = (hi - lo) / 255.0f;
  if (s == 0.0f) s = 1.0f;  // all zeros: any scale gives y = zp = 0
  const float zf = std::nearbyint(0.0f - lo / s);
  const float z = zf < 0.0f ? 0.0f : (zf > 255.0f ? 255.0f : zf);
  // x / s lies in [-255, 255] (s spans the range): adding and subtracting 1.5 * 2^23 rounds it half to even in
  // float32, as nearbyint does, without a library call per element
  constexpr float kRound = 12582912.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = ((x[i] / s + kRound) - kRound) + z;
    y[i] = static_cast<uint8_t>(v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v));
  }
  *scale = s;
  *zero_point = static_cast<uint8_t>(z);
}

}  // namespace ops
}  // namespace lowp
