#include "ops/softmax.h"

#include "ops/fixedpoint.h"
#include "requant/requant.h"
#include "runtime/cpu.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <type_traits>

namespace lowp {
namespace ops {

void softmax_ort_table(float x_scale, int64_t D, bool is_signed, float table[256]) {
  LOWP_CHECK(D > 0, "softmax axis must not be empty");
  // float / size in float, as onnxruntime writes numeric_limits<float>::max() / reduce_len.
  const float ratio = std::numeric_limits<float>::max() / static_cast<float>(D);
  double bit_shift = std::log(static_cast<double>(ratio));
  bit_shift = std::max(0.0, bit_shift - 5.0) / x_scale;
  for (int i = 0; i < 256; ++i) {
    const double e = std::exp((static_cast<double>(i) - 255 + bit_shift) * static_cast<double>(x_scale));
    const uint8_t index = static_cast<uint8_t>(is_signed ? i - 128 : i);
    table[index] = static_cast<float>(e);
  }
}

namespace {

template <typename T, typename Store>
void softmax_rows(const T* x, int64_t rows, int64_t D, const float* table, Store store) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * D;
    const int32_t xmax = *std::max_element(xr, xr + D);
    // index of x in the table: uint8 -> 255 - xmax + x; int8 -> uint8(127 - xmax + x)
    auto index = [xmax](int32_t v) -> int {
      if (std::is_signed<T>::value) return static_cast<uint8_t>(127 - xmax + v);
      return 255 - xmax + v;
    };
    float vsum = 0.f;
    for (int64_t i = 0; i < D; ++i) vsum += table[index(xr[i])];
    for (int64_t i = 0; i < D; ++i) store(r * D + i, table[index(xr[i])], vsum);
  }
}

}  // namespace

void qlinear_softmax_ort(const void* x, void* y, DType t, int64_t rows, int64_t D, const float table[256],
                         float y_scale, int32_t y_zp) {
  const float ys = std::floor(1.0f / y_scale);
  if (t == DType::U8) {
    uint8_t* yp = static_cast<uint8_t*>(y);
    softmax_rows(static_cast<const uint8_t*>(x), rows, D, table, [&](int64_t i, float vt, float vsum) {
      // vt * ys can overflow to inf for tiny D (bit_shift makes the table huge): saturate.
      const float q = std::nearbyint((vt * ys) / vsum);
      const int64_t vq = (q < 65536.0f ? static_cast<int64_t>(q) : 65536) + y_zp;
      yp[i] = vq > 255 ? uint8_t{255} : static_cast<uint8_t>(vq);
    });
  } else if (t == DType::S8) {
    int8_t* yp = static_cast<int8_t*>(y);
    softmax_rows(static_cast<const int8_t*>(x), rows, D, table, [&](int64_t i, float vt, float vsum) {
      const float q = std::nearbyint((vt * ys) / vsum);
      const int64_t vq = (q < 65536.0f ? static_cast<int64_t>(q) : 65536) + y_zp;
      yp[i] = static_cast<int8_t>(vq > 127 ? 127 : (vq < -128 ? -128 : vq));
    });
  } else {
    throw Error("lowp: softmax takes uint8 or int8");
  }
}

void qlinear_softmax_ort_float(const void* x, float* y, DType t, int64_t rows, int64_t D, const float table[256]) {
  auto store = [&](int64_t i, float vt, float vsum) { y[i] = vt / vsum; };
  if (t == DType::U8)
    softmax_rows(static_cast<const uint8_t*>(x), rows, D, table, store);
  else if (t == DType::S8)
    softmax_rows(static_cast<const int8_t*>(x), rows, D, table, store);
  else
    throw Error("lowp: softmax takes uint8 or int8");
}

void tflite_logistic_table(float x_scale, int32_t x_zp, bool is_int8, bool single, uint8_t table[256]) {
  constexpr int kInputIntegerBits = 4;
  const double real = static_cast<double>(x_scale) * static_cast<double>(1 << (31 - kInputIntegerBits));
  int32_t mult;
  int left_shift;
  requant::quantize_multiplier(real, &mult, &left_shift, single);
  LOWP_CHECK(left_shift >= 0, "x_scale too small for TFLite's logistic (needs x_scale * 2^27 >= 1)");
  LOWP_CHECK(left_shift <= 30, "x_scale too large for TFLite's logistic");
  // CalculateInputRadius(4, left_shift, 31)
  const double max_input_rescaled =
      1.0 * ((1 << kInputIntegerBits) - 1) * static_cast<double>(int64_t{1} << (31 - kInputIntegerBits)) /
      static_cast<double>(int64_t{1} << left_shift);
  const int32_t radius = static_cast<int32_t>(std::floor(max_input_rescaled));
  for (int v = 0; v < 256; ++v) {
    const int32_t x = is_int8 ? static_cast<int32_t>(static_cast<int8_t>(static_cast<uint8_t>(v))) : v;
    const int32_t centered = x - x_zp;
    int32_t out;
    if (centered <= -radius) {
      out = is_int8 ? -128 : 0;
    } else if (centered >= radius) {
      out = is_int8 ? 127 : 255;
    } else {
      const int32_t in_q4 = single ? requant::mul_single(centered, mult, left_shift)
                                   : requant::mul_gemmlowp(centered, mult, left_shift);
      const int32_t q0 = fxp::logistic(in_q4, kInputIntegerBits);
      int32_t q = requant::rdbpot(q0, 31 - 8);
      if (is_int8) {
        q = q - 128;
        q = q < -128 ? -128 : (q > 127 ? 127 : q);
      } else if (q == 256) {
        q = 255;
      }
      out = q;
    }
    table[v] = static_cast<uint8_t>(out);
  }
}

namespace {

std::atomic<bool> g_softmax_simd{true};

// The AVX-512 row loops when this CPU has them (and LOWP_MAX_ISA allows them) and they are switched on.
bool softmax_simd() {
#if defined(__x86_64__)
  static const bool ok = cpu::has_avx512bw();
  return ok && g_softmax_simd.load(std::memory_order_relaxed);
#else
  return false;
#endif
}

template <typename T>
void tflite_softmax_t(const T* x, T* y, int64_t rows, int64_t D, const TfliteSoftmaxTables& tab) {
  constexpr int kAccumulationIntegerBits = 12;
  constexpr int32_t out_min = std::numeric_limits<T>::min(), out_max = std::numeric_limits<T>::max();
  [[maybe_unused]] constexpr bool s8 = std::is_signed<T>::value;
  [[maybe_unused]] const bool simd = softmax_simd();
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * D;
    T* yr = y + r * D;
    int32_t max_in_row = out_min;
    for (int64_t c = 0; c < D; ++c) max_in_row = std::max<int32_t>(max_in_row, xr[c]);
    // Q12.19 sum of the terms (the reference adds them with int32 wrap-around; a dropped difference adds 0)
    uint32_t sum = 0;
#if defined(__x86_64__)
    if (simd) {
      sum = tflite_softmax_row_sum_avx512(xr, D, max_in_row, tab.acc, s8);
    } else
#endif
    {
      for (int64_t c = 0; c < D; ++c) sum += static_cast<uint32_t>(tab.acc[max_in_row - static_cast<int32_t>(xr[c])]);
    }
    const int32_t sum_of_exps = static_cast<int32_t>(sum);
    // GetReciprocal(sum, 12, &num_bits_over_unit)
    const uint32_t ux = static_cast<uint32_t>(sum_of_exps);
    int headroom_plus_one = 0;
    while (headroom_plus_one < 32 && !(ux & (0x80000000u >> headroom_plus_one))) ++headroom_plus_one;
    const int num_bits_over_unit = kAccumulationIntegerBits - headroom_plus_one;
    const int32_t shifted_sum_minus_one =
        static_cast<int32_t>((ux << headroom_plus_one) - (static_cast<uint32_t>(1) << 31));
    const int32_t shifted_scale = fxp::one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
    const int out_shift = num_bits_over_unit + 31 - 8;
    if (shifted_scale >= 0 && out_shift >= 1 && out_shift <= 30) {
      // Both factors are >= 0 (exp in Q0.31, the reciprocal in [0.5, 1)): SaturatingRoundingDoublingHighMul is
      // (s * e + 2^30) >> 31 and RoundingDivideByPOT rounds half up, (p + 2^(shift-1)) >> shift, no branches.
#if defined(__x86_64__)
      if (simd) {
        tflite_softmax_row_out_avx512(xr, yr, D, max_in_row, tab.exp, shifted_scale, out_shift, s8);
        continue;
      }
#endif
      const int64_t sc = shifted_scale, half = int64_t{1} << (out_shift - 1);
      for (int64_t c = 0; c < D; ++c) {
        const int64_t e = tab.exp[max_in_row - static_cast<int32_t>(xr[c])];
        const int64_t unsat = ((((sc * e + (int64_t{1} << 30)) >> 31) + half) >> out_shift) + out_min;
        yr[c] = static_cast<T>(unsat > out_max ? out_max : unsat);
      }
      continue;
    }
    for (int64_t c = 0; c < D; ++c) {
      // exp 0 (a dropped difference, or one whose exp is 0) gives 0 + out_min: the reference's out_min
      const int32_t e = tab.exp[max_in_row - static_cast<int32_t>(xr[c])];
      const int32_t unsat = requant::rdbpot(requant::srdhm(shifted_scale, e), out_shift);
      yr[c] = static_cast<T>(std::max(std::min(unsat + out_min, out_max), out_min));
    }
  }
}

}  // namespace

bool set_softmax_simd(bool on) { return g_softmax_simd.exchange(on); }

TfliteSoftmaxTables tflite_softmax_tables(float x_scale, float beta, bool single) {
  constexpr int kScaledDiffIntegerBits = 5, kAccumulationIntegerBits = 12;
  // PreprocessSoftmaxScaling
  const double max_real = single ? static_cast<double>((int64_t{1} << 30) - 1) : static_cast<double>((int64_t{1} << 31) - 1);
  const double real = std::min<double>(static_cast<double>(beta) * static_cast<double>(x_scale) *
                                           static_cast<double>(1 << (31 - kScaledDiffIntegerBits)),
                                       max_real);
  int32_t mult;
  int left_shift;
  requant::quantize_multiplier(real, &mult, &left_shift, single);
  LOWP_CHECK(left_shift >= 0 && left_shift <= 30, "beta * x_scale out of the range TFLite's softmax supports");
  // diff_min = -CalculateInputRadius(5, left_shift, 31)
  const double radius = 1.0 * ((1 << kScaledDiffIntegerBits) - 1) *
                        static_cast<double>(int64_t{1} << (31 - kScaledDiffIntegerBits)) /
                        static_cast<double>(int64_t{1} << left_shift);
  const int32_t diff_min = -static_cast<int32_t>(std::floor(radius));
  TfliteSoftmaxTables tab;
  for (int32_t k = 0; k < 256; ++k) {
    const int32_t diff = -k;
    int32_t e = 0;
    if (diff >= diff_min) {
      const int32_t r = single ? requant::mul_single(diff, mult, left_shift) : requant::mul_gemmlowp(diff, mult, left_shift);
      e = fxp::exp_on_negative_values(r, kScaledDiffIntegerBits);  // Q0.31
    }
    tab.exp[k] = e;
    tab.acc[k] = diff >= diff_min ? fxp::rescale(e, 0, kAccumulationIntegerBits) : 0;
  }
  return tab;
}

void tflite_softmax(const void* x, void* y, DType t, int64_t rows, int64_t D, const TfliteSoftmaxTables& tables) {
  if (t == DType::U8)
    tflite_softmax_t(static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), rows, D, tables);
  else if (t == DType::S8)
    tflite_softmax_t(static_cast<const int8_t*>(x), static_cast<int8_t*>(y), rows, D, tables);
  else
    throw Error("lowp: softmax takes uint8 or int8");
}

void tflite_softmax(const void* x, void* y, DType t, int64_t rows, int64_t D, float x_scale, float beta, bool single) {
  if (t != DType::U8 && t != DType::S8) throw Error("lowp: softmax takes uint8 or int8");
  tflite_softmax(x, y, t, rows, D, tflite_softmax_tables(x_scale, beta, single));
}

namespace {
constexpr float kLo = -18.0f, kHi = 18.0f;
constexpr float a9 = 4.37031012579801e-11f, a7 = 1.15627324459942e-07f, a5 = 6.08574864600143e-05f,
                a3 = 8.51377133304701e-03f, a1 = 2.48287947061529e-01f;
constexpr float b10 = 6.10247389755681e-13f, b8 = 5.76102136993427e-09f, b6 = 6.29106785017040e-06f,
                b4 = 1.70198817374094e-03f, b2 = 1.16817656904453e-01f, b0 = 9.93151921023180e-01f;
}  // namespace

float mlas_logistic_fma(float x) {
  float v = kLo > x ? kLo : x;  // MAXPS(lo, x)
  v = kHi < v ? kHi : v;        // MINPS(hi, v)
  const float x2 = v * v;
  float p = std::fma(x2, a9, a7);
  p = std::fma(x2, p, a5);
  p = std::fma(x2, p, a3);
  p = std::fma(x2, p, a1);
  float q = std::fma(x2, b10, b8);
  q = std::fma(x2, q, b6);
  q = std::fma(x2, q, b4);
  q = std::fma(x2, q, b2);
  q = std::fma(x2, q, b0);
  p = v * p;
  const float r = p / q + 0.5f;
  return 0.0f > r ? 0.0f : r;
}

float mlas_logistic_nofma(float x) {
  float v = x < kLo ? kLo : x;
  v = v > kHi ? kHi : v;
  const float x2 = v * v;
  volatile float t;  // keep every product and sum rounded to float (no contraction)
  float p = (t = x2 * a9, t + a7);
  p = (t = p * x2, t + a5);
  p = (t = p * x2, t + a3);
  p = (t = p * x2, t + a1);
  p = p * v;
  float q = (t = x2 * b10, t + b8);
  q = (t = q * x2, t + b6);
  q = (t = q * x2, t + b4);
  q = (t = q * x2, t + b2);
  q = (t = q * x2, t + b0);
  const float r = p / q + 0.5f;
  return std::min(std::max(r, 0.0f), 1.0f);
}

}  // namespace ops
}  // namespace lowp
