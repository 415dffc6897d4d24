"""TFLite / gemmlowp fixed-point requantization, exact, in numpy int64 (and Python ints).

Written from the semantics of tensorflow/lite/kernels/internal/quantization_util.cc
(QuantizeMultiplier) and common.h / gemmlowp fixedpoint.h (SaturatingRoundingDoublingHighMul,
RoundingDivideByPOT, MultiplyByQuantizedMultiplier with and without TFLITE_SINGLE_ROUNDING).
All intermediate values are held in int64 (every product of two int32 fits) or Python ints,
so nothing here can overflow or round silently.
"""
from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


# ----------------------------------------------------------------------------- QuantizeMultiplier
def _round_half_away(x: float) -> int:
    """C's std::round on a double: nearest integer, ties away from zero (exact for doubles)."""
    f = math.floor(x)
    diff = x - f  # exact: x and floor(x) are doubles of the same binade or x is an integer
    if diff > 0.5:
        return int(f) + 1
    if diff < 0.5:
        return int(f)
    return int(f) + 1 if x > 0 else int(f)


def quantize_multiplier(real: float, single_rounding: bool = False) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real ~= q * 2^(shift - 31), q a Q31 int in [2^30, 2^31) or 0.

    frexp gives real = m * 2^e with m in [0.5, 1); q = round_half_away(m * 2^31); when that rounds
    up to 2^31 it is halved and the exponent bumped; exponents below -31 flush to (0, 0); with
    single_rounding (TFLITE_SINGLE_ROUNDING) exponents above 30 saturate to (2^31 - 1, 30).
    """
    real = float(real)
    if real == 0.0:
        return 0, 0
    m, e = math.frexp(real)
    q = _round_half_away(m * 2.0**31)  # m * 2^31 is exact (power-of-two scaling of a double)
    assert q <= 2**31
    if q == 2**31:
        q //= 2
        e += 1
    if e < -31:
        e, q = 0, 0
    if single_rounding and e > 30:
        e, q = 30, 2**31 - 1
    return q, e


# ----------------------------------------------------------------------------- gemmlowp primitives
def _i64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def wrap_int32(x) -> np.ndarray:
    """Two's complement wrap of int64 values to int32."""
    return (_i64(x) & 0xFFFFFFFF).astype(np.uint32).view(np.int32) if np.ndim(x) else \
        np.int32(((int(x) + 2**31) % 2**32) - 2**31)


def _trunc_div(n: np.ndarray, d: int) -> np.ndarray:
    """C integer division (truncation toward zero) of int64 values by a positive d."""
    q = np.abs(n) // d
    return np.where(n < 0, -q, q)


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values (as int64 arrays).

    (a*b + nudge) / 2^31 with C truncating division, nudge = 2^30 for a*b >= 0 and 1 - 2^30
    otherwise (so halves round toward +infinity); the only overflow, a == b == INT32_MIN,
    saturates to INT32_MAX.
    """
    a, b = np.broadcast_arrays(_i64(a), _i64(b))
    ab = a * b
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    r = _trunc_div(ab + nudge, 1 << 31)
    return np.where((a == INT32_MIN) & (b == INT32_MIN), np.int64(INT32_MAX), r)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: x / 2^exponent, to nearest, ties away from zero (0 <= exponent <= 31)."""
    x, e = np.broadcast_arrays(_i64(x), _i64(exponent))
    assert np.all((e >= 0) & (e <= 31))
    p = np.left_shift(np.int64(1), e)
    q = np.floor_divide(x, p)          # floor
    r = x - q * p                      # in [0, p)
    twice = 2 * r
    up = np.where(x >= 0, twice >= p, twice > p)  # tie: up for x >= 0 (away), down for x < 0 (away)
    return np.where(e == 0, x, q + up.astype(np.int64))


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """TFLite MultiplyByQuantizedMultiplier, classic double rounding (gemmlowp).

    x * 2^left_shift is computed in int32 in the reference; overflow there is undefined in C and
    wraps on every real target, so it wraps here too.
    """
    x, m, s = np.broadcast_arrays(_i64(x), _i64(multiplier), _i64(shift))
    left = np.where(s > 0, s, 0)
    right = np.where(s > 0, 0, -s)
    xs = wrap_int32(np.left_shift(x, left)).astype(np.int64)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(xs, m), right)


def multiply_by_quantized_multiplier_single(x, multiplier, shift) -> np.ndarray:
    """TFLite MultiplyByQuantizedMultiplier under TFLITE_SINGLE_ROUNDING (and ruy).

    One exact product and one rounding: floor((x*m + 2^(30-shift)) / 2^(31-shift)), i.e. round
    half toward +infinity. Computed with Python ints (x*m + round may exceed int64 only in
    theory; object arrays keep it exact). The reference DCHECKs that the result fits int32.
    """
    x, m, s = np.broadcast_arrays(_i64(x), _i64(multiplier), _i64(shift))
    assert np.all(m >= 0) and np.all((s >= -31) & (s <= 30))
    xo, mo, so = x.astype(object), m.astype(object), s.astype(object)
    total = 31 - so
    prod = xo * mo
    rnd = np.frompyfunc(lambda t: 1 << (t - 1), 1, 1)(total)
    res = np.frompyfunc(lambda v, t: v >> t, 2, 1)(prod + rnd, total)  # Python >> is floor
    return res.astype(np.int64)


def requantize(acc, multiplier, shift, zero_point, qmin, qmax, single_rounding: bool = False) -> np.ndarray:
    """TFLite output stage: clamp(MultiplyByQuantizedMultiplier(acc) + zero_point, qmin, qmax) (int64).

    multiplier/shift broadcast against acc (per channel along the last axis).
    """
    f = multiply_by_quantized_multiplier_single if single_rounding else multiply_by_quantized_multiplier
    y = f(acc, multiplier, shift)
    if single_rounding:
        y = np.clip(y, INT32_MIN, INT32_MAX)  # outside the reference's contract; lowp saturates
    return np.clip(y + int(zero_point), qmin, qmax)
