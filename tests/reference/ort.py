"""onnxruntime (MLAS) requantization semantics, independent numpy implementation.

MlasRequantizeOutput: v = float32(acc [+ bias]) * scale (float32 product), clamped in float to
[qmin - zp, qmax - zp], rounded to nearest with ties to even (MLAS adds and subtracts the magic
1.5 * 2^23 in float32, or uses cvtps2dq, both round half to even), then + zp.
QLinearMatMul's scale is computed in float32 as (a_scale * b_scale[j]) / y_scale.
tests/test_gemm_onnxruntime.py checks this file against real onnxruntime.
"""
from __future__ import annotations

import numpy as np

_MAGIC = np.float32(12582912.0)  # 1.5 * 2^23: adding it leaves the integer in the low mantissa bits


def qlinear_scale(a_scale, b_scale, y_scale) -> np.ndarray:
    """onnxruntime's requantization scale per output column, in float32, in its order."""
    a = np.float32(np.asarray(a_scale, np.float32).reshape(-1)[0])
    y = np.float32(np.asarray(y_scale, np.float32).reshape(-1)[0])
    b = np.asarray(b_scale, np.float32).reshape(-1)
    with np.errstate(over="ignore", under="ignore"):
        return ((a * b).astype(np.float32) / y).astype(np.float32)


def _round_half_even_magic(v: np.ndarray) -> np.ndarray:
    """Round float32 values with |v| < 2^22 to the nearest integer, ties to even, via the magic add."""
    assert np.all(np.abs(v) < 2**22)
    t = (v.astype(np.float32) + _MAGIC).astype(np.float32)
    return t.view(np.int32).astype(np.int64) - _MAGIC.view(np.int32).astype(np.int64)


def requantize(acc, scale, zero_point, qmin, qmax, bias=None) -> np.ndarray:
    """MlasRequantizeOutput on int32 accumulators (scale per tensor or per last-axis channel). int64 out."""
    acc = np.asarray(acc, np.int32)
    if bias is not None:
        acc = (acc.astype(np.int64) + np.asarray(bias, np.int64))
        acc = ((acc & 0xFFFFFFFF).astype(np.uint32)).view(np.int32)
    scale = np.asarray(scale, np.float32)
    with np.errstate(over="ignore"):
        v = (acc.astype(np.float32) * scale).astype(np.float32)
    lo = np.float32(qmin - zero_point)
    hi = np.float32(qmax - zero_point)
    v = np.minimum(np.maximum(v, lo), hi)
    r = _round_half_even_magic(v)
    assert np.array_equal(r, np.rint(v).astype(np.int64))  # the two MLAS rounding routes agree
    return r + int(zero_point)
