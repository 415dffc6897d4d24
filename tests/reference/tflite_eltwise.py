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


def mean(x, axes, keepdims, xs, xz, ys, yz, single_rounding=False):
    """LiteRT's reference QuantizedMeanOrSum (MEAN): int32 sums of x - xz, then MultiplyByQuantizedMultiplier with
    QuantizeMultiplier(xs / ys) adapted to 1 / count by integer arithmetic (63 - clz(count), clamped to 32 and to
    31 + shift; multiplier << k truncating-divided by count), + yz, saturated."""
    x = np.asarray(x)
    count = int(np.prod([x.shape[a] for a in axes]))
    m, sh = quantize_multiplier(float(np.float64(np.float32(xs)) / np.float64(np.float32(ys))), single_rounding)
    k = min(count.bit_length() - 1, 32, 31 + sh)
    m, sh = (m << k) // count, sh - k
    acc = _wrap32(x.astype(np.int64).sum(axis=tuple(axes), keepdims=keepdims) - xz * count)
    info = np.iinfo(x.dtype)
    return np.clip(mbqm(acc, m, sh, single_rounding) + yz, info.min, info.max).astype(x.dtype)


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


# ----------------------------------------------------------------------------- LOGISTIC
# gemmlowp fixed-point semantics, written with Python integers (Q-formats: `ib` integer bits).
def _sat32(v):
    return max(INT32_MIN, min(INT32_MAX, v))


def _wrap(v):
    return ((v + 2**31) % 2**32) - 2**31


def _srdhm(a, b):
    return int(srdhm(np.int64(a), np.int64(b)))


def _rdbpot(x, e):
    return int(rdbpot(np.int64(x), e))


def _mul_pot(x, e):
    """SaturatingRoundingMultiplyByPOT."""
    if e == 0:
        return x
    if e < 0:
        return _rdbpot(x, -e)
    return _sat32(x * (1 << e))


def _one(ib):
    return INT32_MAX if ib == 0 else 1 << (31 - ib)


def _exp_small(a):
    """exp on [-1/4, 0) (Q0.31): Taylor polynomial around -1/8 as gemmlowp evaluates it."""
    c = 1895147668
    third = 715827883
    x = _wrap(a + (1 << 28))
    x2 = _srdhm(x, x)
    x3 = _srdhm(x2, x)
    x4 = _srdhm(x2, x2)
    t = _mul_pot(_wrap(_srdhm(_wrap(_mul_pot(x4, -2) + x3), third) + x2), -1)
    return _wrap(c + _srdhm(c, _wrap(x + t)))


_BARREL = [(-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401), (4, 242)]


def _exp_neg(a, ib):
    fb = 31 - ib
    quarter = 1 << (fb - 2)
    amq = _wrap((a & (quarter - 1)) - quarter)
    r = _exp_small(_mul_pot(amq, ib))
    rem = _wrap(amq - a)
    for e, m in _BARREL:
        if ib > e and (rem >> (fb + e)) & 1:
            r = _srdhm(r, m)
    if ib > 5 and a < -(1 << (36 - ib)):
        r = 0
    if a == 0:
        r = INT32_MAX
    return r


def _recip_one_plus(a):
    s = a + INT32_MAX
    half = (s + (1 if s >= 0 else -1)) // 2 if s >= 0 else -((-s + 1) // 2)
    x = _wrap(1515870810 + _srdhm(half, -1010580540))
    for _ in range(3):
        om = _wrap((1 << 29) - _srdhm(half, x))
        x = _wrap(x + _mul_pot(_srdhm(x, om), 2))
    return _mul_pot(x, 1)


def _logistic_q(a, ib):
    if a == 0:
        return 1 << 30
    p = _recip_one_plus(_exp_neg(-abs(a), ib))
    return p if a > 0 else _wrap(INT32_MAX - p)


def logistic(x, x_scale, x_zp, single_rounding=False):
    """TFLite reference LOGISTIC for uint8 (out zp 0) / int8 (out zp -128), output scale 1/256."""
    x = np.asarray(x)
    is_int8 = x.dtype == np.int8
    m, ls = quantize_multiplier(float(np.float32(x_scale)) * float(1 << 27), single_rounding)
    radius = int(math.floor(15.0 * (1 << 27) / (1 << ls)))
    out = np.empty(x.shape, np.int64)
    for idx, v in np.ndenumerate(x.astype(np.int64)):
        c = int(v) - x_zp
        if c <= -radius:
            out[idx] = -128 if is_int8 else 0
        elif c >= radius:
            out[idx] = 127 if is_int8 else 255
        else:
            q4 = int(mbqm(np.int64(c), m, ls, single_rounding))
            q = _rdbpot(_logistic_q(q4, 4), 23)
            if is_int8:
                out[idx] = min(127, max(-128, q - 128))
            else:
                out[idx] = 255 if q == 256 else q
    return out.astype(x.dtype)


def softmax(x, x_scale, beta=1.0, single_rounding=False):
    """TFLite reference SOFTMAX for 8-bit rows (last axis); output scale 1/256, zp = type min."""
    x = np.asarray(x)
    info = np.iinfo(x.dtype)
    cap = float((1 << 30) - 1) if single_rounding else float((1 << 31) - 1)
    real = min(float(beta) * float(np.float32(x_scale)) * float(1 << 26), cap)
    m, ls = quantize_multiplier(real, single_rounding)
    diff_min = -int(math.floor(31.0 * (1 << 26) / (1 << ls)))
    rows = x.reshape(-1, x.shape[-1]).astype(np.int64)
    out = np.empty(rows.shape, np.int64)
    for r, row in enumerate(rows):
        mx = int(row.max())
        exps = {}
        total = 0
        for c, v in enumerate(row):
            d = int(v) - mx
            if d >= diff_min:
                e = _exp_neg(int(mbqm(np.int64(d), m, ls, single_rounding)), 5)
                exps[c] = e
                total = _wrap(total + _rdbpot(e, 12))
        hp1 = 32 - total.bit_length()  # leading zeros of a positive int32
        nbou = 12 - hp1
        scale = _recip_one_plus(_wrap(((total << hp1) & 0xFFFFFFFF) - (1 << 31)))
        for c in range(len(row)):
            if c in exps:
                u = _rdbpot(_srdhm(scale, exps[c]), nbou + 23)
                out[r, c] = min(info.max, max(info.min, u + info.min))
            else:
                out[r, c] = info.min
    return out.reshape(x.shape).astype(x.dtype)
