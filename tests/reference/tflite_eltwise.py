"""Independent Python (numpy int64) implementations of TFLite's reference integer kernels for
8-bit ADD, SUB, MUL and AVERAGE_POOL_2D, written from reading tensorflow/lite/kernels/internal/
reference (add.h, sub.h, mul.h, pooling.h, common.h: QuantizeMultiplier,
SaturatingRoundingDoublingHighMul, RoundingDivideByPOT, MultiplyByQuantizedMultiplier and its
TFLITE_SINGLE_ROUNDING variant). Test oracle only: no lowp code is used here."""
import math

import numpy as np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def quantize_multiplier(real: float, single_rounding: bool = False):
    """QuantizeMultiplier: real = q * 2^shift, q in [2^30, 2^31) as int, round half away."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = int(math.floor(abs(q) * 2.0**31 + 0.5)) * (1 if q >= 0 else -1)  # std::round
    if q_fixed == 2**31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    if single_rounding and shift > 30:
        shift, q_fixed = 30, 2**31 - 1
    return q_fixed, shift


def _wrap32(v):
    v = np.asarray(v, np.int64)
    return ((v + 2**31) % 2**32) - 2**31


def srdhm(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int64 arrays holding int32 values."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    overflow = (a == b) & (a == INT32_MIN)
    ab = a * b  # fits: |a*b| <= 2^62
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    s = ab + nudge
    # C++ division truncating toward zero
    q = np.where(s >= 0, s // (1 << 31), -((-s) // (1 << 31)))
    return np.where(overflow, INT32_MAX, q)


def rdbpot(x, exponent: int):
    x = np.asarray(x, np.int64)
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def mbqm(x, multiplier: int, shift: int, single_rounding: bool):
    """MultiplyByQuantizedMultiplier (int32 semantics)."""
    x = np.asarray(x, np.int64)
    if single_rounding:
        total = 31 - shift
        r = (x * multiplier + (1 << (total - 1))) >> total
        return np.clip(r, INT32_MIN, INT32_MAX)
    left = shift if shift > 0 else 0
    right = 0 if shift > 0 else -shift
    return rdbpot(srdhm(_wrap32(x * (1 << left)), multiplier), right)


def add_params(s1, s2, so, single_rounding, sub=False):
    s1, s2, so = float(np.float32(s1)), float(np.float32(s2)), float(np.float32(so))
    left_shift = 20
    twice_max = 2 * max(s1, s2)
    m1, sh1 = quantize_multiplier(s1 / twice_max, single_rounding)
    m2, sh2 = quantize_multiplier(s2 / twice_max, single_rounding)
    if sub:
        m2 = -m2
    mo, sho = quantize_multiplier(twice_max / ((1 << left_shift) * so), single_rounding)
    return left_shift, (m1, sh1), (m2, sh2), (mo, sho)


def add(x1, x2, s1, z1, s2, z2, so, zo, single_rounding=False, sub=False, qmin=None, qmax=None):
    """reference_integer_ops::Add / reference_ops::Add (uint8) with broadcasting; SUB negates
    the second input's multiplier (PrepareGeneralSubOp's op_sign)."""
    info = np.iinfo(np.asarray(x1).dtype)
    qmin = info.min if qmin is None else qmin
    qmax = info.max if qmax is None else qmax
    ls, (m1, sh1), (m2, sh2), (mo, sho) = add_params(s1, s2, so, single_rounding, sub)
    v1 = (np.asarray(x1, np.int64) - z1) * (1 << ls)
    v2 = (np.asarray(x2, np.int64) - z2) * (1 << ls)
    a = mbqm(v1, m1, sh1, single_rounding)
    b = mbqm(v2, m2, sh2, single_rounding)
    raw = _wrap32(a + b)
    out = mbqm(raw, mo, sho, single_rounding) + zo
    return np.clip(out, qmin, qmax).astype(np.asarray(x1).dtype)


def mul(x1, x2, s1, z1, s2, z2, so, zo, single_rounding=False, qmin=None, qmax=None):
    """reference_integer_ops::Mul: zo + MBQM((x1 - z1) * (x2 - z2), QM(s1*s2/so))."""
    info = np.iinfo(np.asarray(x1).dtype)
    qmin = info.min if qmin is None else qmin
    qmax = info.max if qmax is None else qmax
    real = float(np.float32(s1)) * float(np.float32(s2)) / float(np.float32(so))
    m, sh = quantize_multiplier(real, single_rounding)
    prod = (np.asarray(x1, np.int64) - z1) * (np.asarray(x2, np.int64) - z2)
    out = mbqm(prod, m, sh, single_rounding) + zo
    return np.clip(out, qmin, qmax).astype(np.asarray(x1).dtype)


def average_pool_nhwc(x, kh, kw, sh, sw, pad_h, pad_w, out_h, out_w, qmin=None, qmax=None):
    """reference_integer_ops::AveragePool (NHWC, in/out share quantization): average of the
    in-bounds taps, rounded half away from zero."""
    x = np.asarray(x)
    info = np.iinfo(x.dtype)
    qmin = info.min if qmin is None else qmin
    qmax = info.max if qmax is None else qmax
    N, H, W, C = x.shape
    y = np.empty((N, out_h, out_w, C), x.dtype)
    xi = x.astype(np.int64)
    for oy in range(out_h):
        for ox in range(out_w):
            iy0, ix0 = oy * sh - pad_h, ox * sw - pad_w
            fy0, fy1 = max(0, -iy0), min(kh, H - iy0)
            fx0, fx1 = max(0, -ix0), min(kw, W - ix0)
            win = xi[:, iy0 + fy0:iy0 + fy1, ix0 + fx0:ix0 + fx1, :]
            acc = win.sum(axis=(1, 2))
            cnt = (fy1 - fy0) * (fx1 - fx0)
            # C++ integer division truncates toward zero
            num = np.where(acc > 0, acc + cnt // 2, acc - cnt // 2)
            avg = np.sign(num) * (np.abs(num) // cnt)
            y[:, oy, ox, :] = np.clip(avg, qmin, qmax)
    return y
