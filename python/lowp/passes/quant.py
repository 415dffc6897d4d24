"""Quantize / dequantize with onnxruntime's CPU arithmetic (float32, round half to even).

These are the float <-> 8-bit boundary of a QDQ graph and the arithmetic used to build lookup
tables. QuantizeLinear: clamp(rint(x / scale), qmin - zp, qmax - zp) + zp in float32 (as MLAS
MlasQuantizeLinear); DequantizeLinear: float32(q - zp) * scale.
"""
from __future__ import annotations

import numpy as np

RANGES = {np.dtype(np.uint8): (0, 255), np.dtype(np.int8): (-128, 127), np.dtype(np.int32): (-2**31, 2**31 - 1),
          np.dtype(np.uint16): (0, 65535), np.dtype(np.int16): (-32768, 32767)}


def _bcast(v, x, axis):
    v = np.asarray(v)
    if v.size == 1:
        return v.reshape(())
    shape = [1] * x.ndim
    shape[axis % x.ndim] = v.size
    return v.reshape(shape)


def dequantize(q, scale, zero_point=None, axis: int = 1) -> np.ndarray:
    q = np.asarray(q)
    s = _bcast(np.asarray(scale, np.float32), q, axis)
    zp = np.float32(0) if zero_point is None else _bcast(np.asarray(zero_point).astype(np.float32), q, axis)
    if q.dtype.itemsize > 2:  # int32 (bias): float32(q - zp) must round the exact integer difference once
        zpi = 0 if zero_point is None else _bcast(np.asarray(zero_point).astype(np.int64), q, axis)
        return ((q.astype(np.int64) - zpi).astype(np.float32) * s).astype(np.float32)
    # 8/16-bit: q and zp are exact in float32 and so is their difference.
    y = q.astype(np.float32)
    y -= zp
    y *= s
    return y


def quantize(x, scale, zero_point=None, axis: int = 1, dtype=None) -> np.ndarray:
    x = np.asarray(x, np.float32)
    if dtype is None:
        dtype = np.asarray(zero_point).dtype if zero_point is not None else np.uint8
    dt = np.dtype(dtype)
    lo, hi = RANGES[dt]
    s = _bcast(np.asarray(scale, np.float32), x, axis)
    zp = np.float32(0) if zero_point is None else _bcast(np.asarray(zero_point).astype(np.float32), x, axis)
    # A true float32 division, as MLAS (not a multiply by 1/scale). Output in C order even when x is a
    # transposed view (quantizing NCHW input straight into NHWC costs no extra pass).
    v = np.empty(x.shape, np.float32)
    np.divide(x, s, out=v)
    np.rint(v, out=v)  # round half to even
    # clamp(v, lo - zp, hi - zp) + zp == clamp(v + zp, lo, hi): v is an integer-valued float and
    # |zp| <= 2^16, so the sum is exact wherever it is not clamped. fmax/fmin map NaN to the lowest
    # value (as onnxruntime on x86) and, unlike clip, never warn.
    v += zp
    np.fmax(v, np.float32(lo), out=v)
    np.fmin(v, np.float32(hi), out=v)
    return v.astype(dt)
