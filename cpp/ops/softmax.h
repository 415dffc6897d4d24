// Quantized softmax and the float32 activation functions whose exact arithmetic the lookup-table
// builders must reproduce.
#pragma once
#include <cstdint>

#include "lowp/types.h"

namespace lowp {
namespace ops {

// onnxruntime com.microsoft QLinearSoftmax (opset >= 13 semantics on the last axis, rows of D):
// a 256-entry float table exp((i - 255 + bit_shift) * x_scale) computed in double, with
// bit_shift = max(0, log(FLT_MAX / D) - 5) / x_scale; per row vsum = sum of the float table
// values (aligned on the row max), y = rne(vt * floor(1 / y_scale) / vsum) + y_zp, saturated
// to the output type (checked against onnxruntime 1.32: int8 128 saturates to 127).
void softmax_ort_table(float x_scale, int64_t D, bool is_signed, float table[256]);
void qlinear_softmax_ort(const void* x, void* y, DType t, int64_t rows, int64_t D, const float table[256],
                         float y_scale, int32_t y_zp);
// Float output: y = vt / vsum with the same table.
void qlinear_softmax_ort_float(const void* x, float* y, DType t, int64_t rows, int64_t D, const float table[256]);

// TFLite reference integer LOGISTIC (reference_ops::Logistic for uint8, reference_integer_ops::
// Logistic for int8) evaluated for all 256 inputs: output scale 1/256, zero point 0 (uint8) or
// -128 (int8); input rescaled to Q4.27 by a Q31 multiplier (QuantizeMultiplierGreaterThanOne of
// x_scale * 2^27), inputs beyond the radius saturate, gemmlowp fixed-point logistic, Q0.31 ->
// 8 bits by a rounding shift of 23. `single` = TFLITE_SINGLE_ROUNDING for the input rescale.
void tflite_logistic_table(float x_scale, int32_t x_zp, bool is_int8, bool single, uint8_t table[256]);

// TFLite reference integer SOFTMAX for 8-bit (reference_ops::Softmax, rows of D on the last
// axis): input differences to the row max rescaled to Q5.26 (PreprocessSoftmaxScaling of
// beta * x_scale, capped), differences below diff_min dropped, gemmlowp exp_on_negative_values,
// sum in Q12.19, reciprocal by GetReciprocal, output scale 1/256 and zero point = type minimum.
void tflite_softmax(const void* x, void* y, DType t, int64_t rows, int64_t D, float x_scale, float beta, bool single);

// The same in two parts: the per-operator tables (each depends only on the difference d = x - row max, one of
// 256 values: exp[-d] = exp_on_negative_values of the rescaled d in Q0.31, 0 where d < diff_min, and acc[-d] its
// Q12.19 term of the row sum), built once, then the rows.
struct TfliteSoftmaxTables {
  int32_t exp[256];
  int32_t acc[256];
};
TfliteSoftmaxTables tflite_softmax_tables(float x_scale, float beta, bool single);
void tflite_softmax(const void* x, void* y, DType t, int64_t rows, int64_t D, const TfliteSoftmaxTables& tables);
// AVX-512 twins of its two per-element loops (softmax_avx512.cc, x86 only; tflite_softmax uses them when the CPU
// has AVX-512): the row's Q12.19 sum of acc[max - x] (modulo 2^32), and the output stage
// min(((scale * exp[max - x] + 2^30) >> 31 + 2^(shift-1)) >> shift + type min, type max) for shift in 1..30.
uint32_t tflite_softmax_row_sum_avx512(const void* x, int64_t D, int32_t max_in_row, const int32_t* acc, bool s8);
void tflite_softmax_row_out_avx512(const void* x, void* y, int64_t D, int32_t max_in_row, const int32_t* exp_tab,
                                   int32_t scale, int shift, bool s8);
// Switch the AVX-512 row loops off / on (tests compare them with the scalar ones); returns the previous setting.
bool set_softmax_simd(bool on);

// onnxruntime MLAS logistic (the FMA3 kernel x86 CPUs with AVX2 run): Eigen's rational
// polynomial on x clamped to [-18, 18], evaluated with fused multiply-adds, max(0, p/q + 0.5).
float mlas_logistic_fma(float x);
// The same polynomial without FMA (MLAS's generic SSE2 kernel, also clamped to <= 1).
float mlas_logistic_nofma(float x);

}  // namespace ops
}  // namespace lowp
