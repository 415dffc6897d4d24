"""Independent Python model of the integer arithmetic of TFLite's *reference* kernels
(tensorflow/lite/kernels/internal/reference/integer_ops/conv.h, depthwise_conv.h and the uint8
reference conv): written from the published semantics, in Python/numpy int64, sharing no code
with lowp. Used to check lowp's "gemmlowp" (and "single") requantization family.
"""
from __future__ import annotations

import math

import numpy as np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def quantize_multiplier(real: float, single_rounding: bool = False) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real = q * 2^shift, q a Q31 in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = int(math.floor(q * (1 << 31) + 0.5)) if q >= 0 else -int(math.floor(-q * (1 << 31) + 0.5))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    if single_rounding and shift > 30:
        shift, q_fixed = 30, (1 << 31) - 1
    return q_fixed, shift


def _wrap32(v):
    v = np.asarray(v, dtype=np.int64)
    return ((v + 2**31) % 2**32) - 2**31


def srdhm(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int64 arrays holding int32 values."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    s = ab + nudge
    q = np.where(s >= 0, s // (1 << 31), -((-s) // (1 << 31)))  # truncation toward zero
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, q)


def rdbpot(x, exponent):
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, multiplier, shift, single_rounding=False):
    x = np.asarray(x, np.int64)
    multiplier = np.asarray(multiplier, np.int64)
    shift = np.asarray(shift, np.int64)
    if single_rounding:
        total = 31 - shift
        r = (x * multiplier + (np.int64(1) << (total - 1))) >> total
        return np.clip(r, INT32_MIN, INT32_MAX)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    return rdbpot(srdhm(_wrap32(x << left), multiplier), right)


def multipliers(input_scale, filter_scales, output_scale, n, single_rounding):
    fs = np.broadcast_to(np.asarray(filter_scales, np.float32).reshape(-1), (n,))
    mult, shift = [], []
    for s in fs:
        real = float(np.float32(input_scale)) * float(s) / float(np.float32(output_scale))
        m, sh = quantize_multiplier(real, single_rounding)
        mult.append(m)
        shift.append(sh)
    return np.array(mult, np.int64), np.array(shift, np.int64)


def conv_reference(x, w, bias, input_offset, filter_offset, output_offset, mult, shift, stride, dilation, pads,
                   out_hw, act_min, act_max, depth_mult=None, single_rounding=False):
    """Loop-structured like the TFLite reference: for each output pixel and channel, walk the
    filter taps, skip taps outside the image (TFLite's padding contributes nothing because the
    input offset makes padded inputs equal to zero), accumulate in int64 then wrap to int32."""
    N, H, W, C = x.shape
    OH, OW = out_hw
    sh, sw = stride
    dh, dw = dilation
    pt, pl = pads
    xi = x.astype(np.int64) + input_offset
    if depth_mult is None:
        O, KH, KW, Ci = w.shape
        wf = w.astype(np.int64) + filter_offset  # O,KH,KW,C
    else:
        _, KH, KW, O = w.shape
        wf = w.astype(np.int64)[0] + filter_offset  # KH,KW,O
    acc = np.zeros((N, OH, OW, O), np.int64)
    for kh in range(KH):
        for kw in range(KW):
            for oh in range(OH):
                ih = oh * sh - pt + kh * dh
                if ih < 0 or ih >= H:
                    continue
                iws = np.arange(OW) * sw - pl + kw * dw
                ok = (iws >= 0) & (iws < W)
                if not ok.any():
                    continue
                xs = xi[:, ih, iws[ok], :]  # N, n_ok, C
                if depth_mult is None:
                    acc[:, oh, ok, :] += np.einsum("npc,oc->npo", xs, wf[:, kh, kw, :])
                else:
                    xe = np.repeat(xs, depth_mult, axis=2)  # output channel o reads input o // mult
                    acc[:, oh, ok, :] += xe * wf[kh, kw, :]
    if bias is not None:
        acc += np.asarray(bias, np.int64)
    acc = _wrap32(acc)
    out = multiply_by_quantized_multiplier(acc, np.broadcast_to(mult, (O,)), np.broadcast_to(shift, (O,)),
                                           single_rounding)
    out = out + output_offset
    return np.clip(out, act_min, act_max)
