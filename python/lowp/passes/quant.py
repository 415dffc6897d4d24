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
    zp = 0 if zero_point is None else _bcast(np.asarray(zero_point).astype(np.int32), q, axis)
    return ((q.astype(np.int32) - zp).astype(np.float32) * s).astype(np.float32)


def quantize(x, scale, zero_point=None, axis: int = 1, dtype=None) -> np.ndarray:
    x = np.asarray(x, np.float32)
    if dtype is None:
        dtype = np.asarray(zero_point).dtype if zero_point is not None else np.uint8
    dt = np.dtype(dtype)
    lo, hi = RANGES[dt]
    s = _bcast(np.asarray(scale, np.float32), x, axis)
    zp = np.int32(0) if zero_point is None else _bcast(np.asarray(zero_point).astype(np.int32), x, axis)
    with np.errstate(all="ignore"):
        v = np.rint(x / s)
        v = np.clip(v, (lo - zp).astype(np.float32) if np.ndim(zp) else np.float32(lo - int(zp)),
                    (hi - zp).astype(np.float32) if np.ndim(zp) else np.float32(hi - int(zp)))
    v = np.nan_to_num(v, nan=0.0)
    return (v.astype(np.int32) + zp).astype(dt)
