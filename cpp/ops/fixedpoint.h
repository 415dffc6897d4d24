// Q-format fixed-point helpers with gemmlowp's rounding semantics (raw int32 values; `ibits` is
// the number of integer bits, fraction bits = 31 - ibits). Used to evaluate TFLite's reference
// integer LOGISTIC exactly; written from the documented semantics of gemmlowp/fixedpoint.h.
#pragma once
#include <cstdint>
#include <limits>

#include "requant/requant.h"

namespace lowp {
namespace fxp {

using requant::rdbpot;
using requant::srdhm;

inline int32_t wrap_add(int32_t a, int32_t b) { return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b)); }
inline int32_t wrap_sub(int32_t a, int32_t b) { return static_cast<int32_t>(static_cast<uint32_t>(a) - static_cast<uint32_t>(b)); }

// x * 2^exponent with rounding (exponent < 0) or saturation (exponent > 0).
inline int32_t sat_round_mul_pot(int32_t x, int exponent) {
  if (exponent == 0) return x;
  if (exponent < 0) return rdbpot(x, -exponent);
  const int32_t threshold = static_cast<int32_t>((int64_t{1} << (31 - exponent)) - 1);
  if (x > threshold) return std::numeric_limits<int32_t>::max();
  if (x < -threshold) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(static_cast<uint32_t>(x) << exponent);
}

// Re-express a value with `from` integer bits using `to` integer bits.
inline int32_t rescale(int32_t raw, int from, int to) { return sat_round_mul_pot(raw, from - to); }

inline int32_t one(int ibits) {
  return ibits == 0 ? std::numeric_limits<int32_t>::max() : static_cast<int32_t>(int64_t{1} << (31 - ibits));
}

inline int32_t rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = int64_t{a} + int64_t{b};
  const int64_t sign = sum >= 0 ? 1 : -1;
  return static_cast<int32_t>((sum + sign) / 2);
}

// exp(x) for x in [-1/4, 0), Q0.31 in and out.
inline int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
  const int32_t constant_term = 1895147668;     // exp(-1/8)
  const int32_t constant_1_over_3 = 715827883;  // 1/3
  const int32_t x = wrap_add(a, int32_t{1} << 28);  // a + 1/8
  const int32_t x2 = srdhm(x, x);
  const int32_t x3 = srdhm(x2, x);
  const int32_t x4 = srdhm(x2, x2);
  const int32_t x4_over_4 = sat_round_mul_pot(x4, -2);
  const int32_t poly = sat_round_mul_pot(wrap_add(srdhm(wrap_add(x4_over_4, x3), constant_1_over_3), x2), -1);
  return wrap_add(constant_term, srdhm(constant_term, wrap_add(x, poly)));
}

// exp(a) for a <= 0 given with `ibits` integer bits; result in Q0.31.
inline int32_t exp_on_negative_values(int32_t a, int ibits) {
  const int fbits = 31 - ibits;
  const int32_t one_quarter = int32_t{1} << (fbits - 2);
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_one_quarter = wrap_sub(a & mask, one_quarter);
  int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(rescale(a_mod_quarter_minus_one_quarter, ibits, 0));
  const int32_t remainder = wrap_sub(a_mod_quarter_minus_one_quarter, a);
  struct Step {
    int exponent;
    int32_t multiplier;  // exp(-2^exponent) in Q0.31
  };
  static const Step steps[] = {{-2, 1672461947}, {-1, 1302514674}, {0, 790015084}, {1, 290630308},
                               {2, 39332535},    {3, 720401},      {4, 242}};
  for (const Step& s : steps) {
    if (ibits > s.exponent) {
      const int shift = fbits + s.exponent;
      if (remainder & (int32_t{1} << shift)) result = srdhm(result, s.multiplier);
    }
  }
  if (ibits > 5) {
    const int32_t clamp = -(int32_t{1} << (36 - ibits));  // -32.0
    if (a < clamp) result = 0;
  }
  if (a == 0) result = std::numeric_limits<int32_t>::max();
  return result;
}

// 1 / (1 + a) for a in [0, 1], Q0.31 in and out (Newton-Raphson, three iterations).
inline int32_t one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  const int32_t half_denominator = rounding_half_sum(a, one(0));  // Q0
  const int32_t c48_17 = 1515870810;                               // 48/17 in Q2
  const int32_t cn32_17 = -1010580540;                             // -32/17 in Q2
  int32_t x = wrap_add(c48_17, srdhm(half_denominator, cn32_17));  // Q2
  for (int i = 0; i < 3; ++i) {
    const int32_t hd_x = srdhm(half_denominator, x);                // Q2
    const int32_t one_minus = wrap_sub(one(2), hd_x);               // Q2
    x = wrap_add(x, rescale(srdhm(x, one_minus), 4, 2));           // Q4 -> Q2
  }
  // ExactMulByPot<-1>: same raw read as Q1, then rescale to Q0
  return rescale(x, 1, 0);
}

// logistic(a) for a with `ibits` integer bits; result Q0.31.
inline int32_t logistic(int32_t a, int ibits) {
  if (a == 0) return int32_t{1} << 30;  // one half
  const bool positive = a > 0;
  const int32_t abs_a = positive ? a : wrap_sub(0, a);
  const int32_t pos = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(wrap_sub(0, abs_a), ibits));
  return positive ? pos : wrap_sub(one(0), pos);
}

}  // namespace fxp
}  // namespace lowp
