// Quantize / dequantize (ONNX QuantizeLinear / DequantizeLinear) and the 256-entry lookup table
// kernel that carries every other per-tensor 8-bit -> 8-bit map (requantize, activations).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "lowp/types.h"

namespace lowp {
namespace ops {

// Round-to-nearest-even conversion with the x86 cvtps2dq convention: NaN and values outside
// int32 give INT32_MIN (the "integer indefinite" value). onnxruntime's kernels rely on it.
inline int32_t cvt_rne(float v) {
  if (!(v >= -2147483648.0f && v < 2147483648.0f)) return INT32_MIN;
  return static_cast<int32_t>(std::nearbyint(v));
}

// ONNX QuantizeLinear as onnxruntime's MlasQuantizeLinear computes it (float32 throughout):
// v = x / scale (a true division), clamped to [lo - zp, hi - zp] (NaN -> lo - zp, as MAXPS does),
// rounded half to even, + zp.
inline int32_t quantize_one(float x, float scale, int32_t zp, int32_t lo, int32_t hi) {
  float v = x / scale;
  const float fl = static_cast<float>(lo - zp), fh = static_cast<float>(hi - zp);
  v = v > fl ? v : fl;
  v = v < fh ? v : fh;
  return static_cast<int32_t>(std::nearbyint(v)) + zp;
}

// TFLite QUANTIZE (reference AffineQuantize): round(x / scale) with ties away from zero, the quotient in
// float32, + zp, saturated to [lo, hi]; NaN gives zp. Spelled so that it vectorizes on plain SSE2: the
// quotient is clamped to +-1e9 (far outside any 8-bit range, so it saturates alike), truncated by an int
// conversion, and q - trunc(q) (exact) decides the tie-away step.
inline int32_t quantize_one_tflite(float x, float scale, int32_t zp, int32_t lo, int32_t hi) {
  const float q = x / scale;
  const int32_t keep = q == q;                              // 0 for NaN
  const float qc = std::fmin(std::fmax(q, -1e9f), 1e9f);    // NaN -> -1e9 (then replaced by zp below)
  const int32_t t = static_cast<int32_t>(qc);
  const float d = qc - static_cast<float>(t);
  const int32_t v = std::min(std::max(t + static_cast<int32_t>(d >= 0.5f) - static_cast<int32_t>(d <= -0.5f) + zp, lo), hi);
  return keep * v + (1 - keep) * zp;
}
// y (uint8 / int8) = quantize_one_tflite of n contiguous floats.
void quantize_tflite(const float* x, void* y, DType yt, int64_t n, float scale, int32_t zp);

// ONNX DynamicQuantizeLinear (uint8) in float32 as the spec and onnxruntime compute it: lo = min(0, min x),
// hi = max(0, max x), scale = (hi - lo) / 255 (1 when 0: all zeros), zp = clamp(rint(0 - lo / scale), 0, 255),
// y = clamp(rint(x / scale) + zp, 0, 255), rint half to even. Throws on NaN / infinity (no finite scale).
void dynamic_quantize_linear(const float* x, int64_t n, uint8_t* y, float* scale, uint8_t* zero_point);

// x: contiguous [outer, axis_len, inner] float32; y: same shape of `yt` (uint8/int8/uint16/int16).
// nparam == 1 (per tensor) or axis_len (per axis).
void quantize_linear(const float* x, void* y, DType yt, int64_t outer, int64_t axis_len, int64_t inner,
                     const float* scale, const int32_t* zp, int64_t nparam);

// y = float(int32(x) - zp) * scale (onnxruntime's DequantizeLinear arithmetic). xt: U8, S8, S16, S32.
void dequantize_linear(const void* x, DType xt, float* y, int64_t outer, int64_t axis_len, int64_t inner,
                       const float* scale, const int32_t* zp, int64_t nparam);

// y[i] = table[(uint8)x[i]] for n bytes (int8 data indexes by its two's complement byte).
// lut_apply picks the best kernel (AVX-512 VBMI where available, else AVX2; NEON TBL/TBX on aarch64) unless SIMD is
// switched off;
// lut_apply_ref is the scalar reference.
void lut_apply(const uint8_t* x, const uint8_t* table, uint8_t* y, int64_t n);
void lut_apply_ref(const uint8_t* x, const uint8_t* table, uint8_t* y, int64_t n);
#if defined(__x86_64__) || defined(_M_X64)
void lut_apply_vbmi(const uint8_t* x, const uint8_t* table, uint8_t* y, int64_t n);  // lut_avx512.cc
void lut_apply_avx2(const uint8_t* x, const uint8_t* table, uint8_t* y, int64_t n);  // lut_avx2.cc (no VBMI)
bool cpu_has_avx512vbmi();
#endif
#if defined(__aarch64__)
void lut_apply_neon(const uint8_t* x, const uint8_t* table, uint8_t* y, int64_t n);  // lut_neon.cc
#endif
void set_lut_simd(bool on);
// SIMD switch for quantize (shared with the elementwise row kernels; see eltwise.h)
bool eltwise_simd_enabled();
#if defined(__x86_64__) || defined(_M_X64)
void quantize_row_avx2(const float* x, void* y, DType t, int64_t n, float scale, int32_t zp);  // quantize_avx2.cc
void quantize_row_tflite_avx2(const float* x, void* y, DType t, int64_t n, float scale, int32_t zp);  // U8 / S8
void dequantize_row_avx2(const void* x, DType t, float* y, int64_t n, float scale, int32_t zp);  // U8 / S8
#elif defined(__aarch64__)
void quantize_row_neon(const float* x, void* y, DType t, int64_t n, float scale, int32_t zp);  // quantize_neon.cc
void dequantize_row_neon(const void* x, DType t, float* y, int64_t n, float scale, int32_t zp);  // U8 / S8
#endif
const char* lut_kernel_name();

}  // namespace ops
}  // namespace lowp
