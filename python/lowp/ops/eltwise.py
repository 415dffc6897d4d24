"""Pooling, elementwise, lookup-table activations, softmax, quantize/dequantize (issue: CNN operators).

Every function mirrors an ONNX operator (snake_case name, ONNX attribute names, NCHW by default,
``layout="NHWC"`` to work on channels-last data without transposes) and is exact: integer in,
integer out, with one of the requantization families

* ``"half_even"`` (default): onnxruntime's arithmetic for the com.microsoft QLinear* ops
  (float32 scales, round half to even) -- bit-exact with onnxruntime on x86;
* ``"gemmlowp"`` / ``"single"``: TFLite's integer arithmetic (reference kernels; Q31 multipliers
  with double rounding, or TFLITE_SINGLE_ROUNDING).

Data movement ops (pad, transpose, reshape, concat without rescaling, nearest resize) are exact
by construction.
"""
from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from .. import _lowp
from ..gemm import ROUNDINGS, _scale, _zero_point

__all__ = [
    # quantize / dequantize
    "quantize_linear",
    "dequantize_linear",
    "dynamic_quantize_linear",
    "requantize_linear",
    # elementwise
    "qlinear_add",
    "qlinear_sub",
    "qlinear_mul",
    "qlinear_concat",
    "pad",
    "transpose",
    "reshape",
    "resize",
    # pooling
    "max_pool",
    "qlinear_average_pool",
    "qlinear_global_average_pool",
    "qlinear_reduce_mean",
    # lookup tables
    "lookup_table",
    "qlinear_lut",
    "build_lookup_table",
    "LUT_FUNCTIONS",
    "sigmoid_table",
    "tanh_table",
    "hard_sigmoid_table",
    "hard_swish_table",
    "silu_table",
    "gelu_table",
    "leaky_relu_table",
    "elu_table",
    "exp_table",
    "qlinear_sigmoid",
    "qlinear_tanh",
    "qlinear_hard_sigmoid",
    "qlinear_hard_swish",
    "qlinear_silu",
    "qlinear_gelu",
    "qlinear_leaky_relu",
    "qlinear_elu",
    "qlinear_exp",
    # softmax
    "qlinear_softmax",
]

_QTYPES = (np.dtype(np.uint8), np.dtype(np.int8))
_DT_NAME = {np.dtype(np.uint8): "uint8", np.dtype(np.int8): "int8", np.dtype(np.int16): "int16"}
_RANGE = {np.dtype(np.uint8): (0, 255), np.dtype(np.int8): (-128, 127), np.dtype(np.int16): (-32768, 32767)}


# --------------------------------------------------------------------------- helpers
def _qarray(x, name: str) -> np.ndarray:
    """A uint8/int8 numpy array (0-d allowed; numpy scalars are accepted)."""
    if isinstance(x, np.generic):
        x = np.asarray(x)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"lowp: {name} must be a numpy array of uint8 or int8, got {type(x).__name__}")
    if x.dtype not in _QTYPES:
        raise TypeError(f"lowp: {name} must be uint8 or int8, got {x.dtype}")
    return x


def _rounding(rounding: str) -> str:
    if rounding not in ROUNDINGS:
        raise ValueError(f"lowp: unknown rounding {rounding!r} (expected one of {ROUNDINGS})")
    return rounding


def _f32(s, name: str) -> float:
    """A positive finite scalar scale, as the float32 value a model would store."""
    if isinstance(s, (float, int, np.floating)) and not isinstance(s, bool):
        v = float(np.float32(s))
    else:
        arr = np.asarray(s)
        if arr.dtype.kind != "f" and arr.dtype.kind not in "iu":
            raise TypeError(f"lowp: {name} must be a float, got {arr.dtype}")
        if arr.size != 1:
            raise ValueError(f"lowp: {name} must be a scalar, got shape {arr.shape}")
        v = float(np.float32(arr.reshape(-1)[0]))
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"lowp: {name} must be finite and > 0 in float32")
    return v


def _zp1(zp, dtype, name: str) -> int:
    """A scalar zero point as int, range-checked for `dtype` (None -> 0)."""
    dtype = np.dtype(dtype)
    lo, hi = _RANGE[dtype]
    if zp is None:
        return 0
    if isinstance(zp, (np.ndarray, np.generic)):
        arr = np.asarray(zp)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"lowp: {name} must be an integer, got {arr.dtype}")
        if arr.dtype in _RANGE and arr.dtype != dtype:
            raise TypeError(f"lowp: {name} has dtype {arr.dtype} but its tensor is {dtype}")
        if arr.size != 1:
            raise ValueError(f"lowp: {name} must be a scalar, got shape {arr.shape}")
        v = int(arr.reshape(-1)[0])
    elif isinstance(zp, numbers.Integral) and not isinstance(zp, bool):
        v = int(zp)
    else:
        raise TypeError(f"lowp: {name} must be an integer, got {type(zp).__name__}")
    if not lo <= v <= hi:
        raise ValueError(f"lowp: {name} out of range [{lo}, {hi}] for {dtype}")
    return v


def _c(x, dtype=None):
    """C-contiguous (copying only when needed); keeps 0-d arrays 0-d."""
    return np.require(x, dtype=dtype, requirements="C")


def _layout(layout: str) -> str:
    if layout not in ("NCHW", "NHWC"):
        raise ValueError(f"lowp: layout must be 'NCHW' or 'NHWC', got {layout!r}")
    return layout


def _act_range(dtype, qmin, qmax):
    lo, hi = _RANGE[np.dtype(dtype)]
    qmin = lo if qmin is None else int(qmin)
    qmax = hi if qmax is None else int(qmax)
    if not (lo <= qmin <= qmax <= hi):
        raise ValueError(f"lowp: activation range [{qmin}, {qmax}] must lie inside [{lo}, {hi}]")
    return qmin, qmax


# --------------------------------------------------------------------------- quantize / dequantize
def _axis_params(scale, zp, x_ndim, axis, dtype, name_s, name_z):
    s = np.asarray(scale)
    if s.dtype.kind != "f":
        raise TypeError(f"lowp: {name_s} must be float, got {s.dtype}")
    s = s.astype(np.float32).reshape(-1)
    if s.size == 0:
        raise ValueError(f"lowp: {name_s} is empty")
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"lowp: {name_s} must be finite and > 0")
    if np.ndim(scale) > 1:
        raise ValueError(f"lowp: {name_s} must be a scalar or 1-D (per axis); blocked quantization is not supported")
    if zp is None:
        z = np.zeros(s.size, np.int32)
    else:
        zarr = np.asarray(zp)
        if zarr.dtype.kind not in "iu":
            raise TypeError(f"lowp: {name_z} must be an integer array, got {zarr.dtype}")
        if np.ndim(zp) > 1:
            raise ValueError(f"lowp: {name_z} must be a scalar or 1-D")
        z = zarr.astype(np.int64).reshape(-1)
        if z.size != s.size:
            if z.size == 1:
                z = np.repeat(z, s.size)
            else:
                raise ValueError(f"lowp: {name_s} has {s.size} entries but {name_z} has {z.size}")
        if dtype is not None:
            lo, hi = _RANGE[np.dtype(dtype)] if np.dtype(dtype) in _RANGE else (-(2**31), 2**31 - 1)
            if z.min() < lo or z.max() > hi:
                raise ValueError(f"lowp: {name_z} out of range [{lo}, {hi}] for {np.dtype(dtype)}")
        z = z.astype(np.int32)
    if s.size > 1 or np.ndim(scale) == 1 and s.size >= 1 and x_ndim > 0 and np.ndim(scale) == 1 and s.size != 1:
        if x_ndim == 0:
            raise ValueError("lowp: per-axis parameters need an array input")
        ax = axis + x_ndim if axis < 0 else axis
        if not 0 <= ax < x_ndim:
            raise ValueError(f"lowp: axis {axis} out of range for a {x_ndim}-D input")
        return s, z, ax
    return s[:1], z[:1], 0


def quantize_linear(x, y_scale, y_zero_point=None, *, axis: int = 1, output_dtype=None) -> np.ndarray:
    """ONNX QuantizeLinear: ``y = saturate(round_half_even(x / y_scale) + y_zero_point)``.

    float32 arithmetic with a true division, as onnxruntime computes it. Per-tensor (scalar
    scale) or per-axis (1-D scale along ``axis``). The output type is that of ``y_zero_point``
    (uint8 when it is omitted) or ``output_dtype``; uint8, int8 and int16 are supported.
    NaN quantizes to the lowest value (as onnxruntime on x86).
    """
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"lowp: quantize_linear takes a float input, got {x.dtype}")
    if output_dtype is not None:
        out = np.dtype(output_dtype)
    elif y_zero_point is not None and isinstance(y_zero_point, (np.ndarray, np.generic)) and \
            np.asarray(y_zero_point).dtype in _RANGE:
        out = np.asarray(y_zero_point).dtype
    else:
        out = np.dtype(np.uint8)
    if out not in _RANGE:
        raise TypeError(f"lowp: quantize_linear output must be uint8, int8 or int16, got {out}")
    s, z, ax = _axis_params(y_scale, y_zero_point, x.ndim, axis, out, "y_scale", "y_zero_point")
    if s.size > 1 and x.shape[ax] != s.size:
        raise ValueError(f"lowp: y_scale has {s.size} entries but axis {axis} of x has {x.shape[ax]}")
    xc = _c(x, np.float32)
    return _lowp.quantize_linear(xc, s, z, ax, _DT_NAME[out])


def dequantize_linear(x, x_scale, x_zero_point=None, *, axis: int = 1) -> np.ndarray:
    """ONNX DequantizeLinear: ``y = float32(int32(x) - x_zero_point) * x_scale`` (float32 result).

    x: uint8, int8, int16 or int32; per-tensor or per-axis (1-D scale along ``axis``).
    """
    x = np.asarray(x)
    if x.dtype not in (np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32)):
        raise TypeError(f"lowp: dequantize_linear takes uint8, int8, int16 or int32, got {x.dtype}")
    if x_zero_point is not None and isinstance(x_zero_point, (np.ndarray, np.generic)) and \
            np.asarray(x_zero_point).dtype != x.dtype and np.asarray(x_zero_point).dtype in _RANGE:
        raise TypeError(f"lowp: x_zero_point has dtype {np.asarray(x_zero_point).dtype} but x is {x.dtype}")
    s, z, ax = _axis_params(x_scale, x_zero_point, x.ndim, axis, x.dtype, "x_scale", "x_zero_point")
    if x.dtype == np.int32 and np.any(z != 0):
        raise ValueError("lowp: int32 dequantization takes a zero point of 0 (ONNX)")
    if s.size > 1 and x.shape[ax] != s.size:
        raise ValueError(f"lowp: x_scale has {s.size} entries but axis {axis} of x has {x.shape[ax]}")
    return _lowp.dequantize_linear(_c(x), s, z, ax)


def dynamic_quantize_linear(x):
    """ONNX DynamicQuantizeLinear: returns ``(y uint8, y_scale float32, y_zero_point uint8)``.

    ``y_scale = (max(0, max(x)) - min(0, min(x))) / 255`` and
    ``y_zero_point = saturate(round_half_even((0 - min(0, min(x))) / y_scale))`` in float32.
    """
    x = np.asarray(x)
    if x.dtype != np.float32:
        raise TypeError(f"lowp: dynamic_quantize_linear takes float32, got {x.dtype}")
    if x.size == 0:
        raise ValueError("lowp: dynamic_quantize_linear needs a non-empty input")
    if not np.isfinite(x).all():
        raise ValueError("lowp: dynamic_quantize_linear input contains NaN or infinity (no finite scale exists)")
    xmin = np.minimum(np.float32(0), x.min())
    xmax = np.maximum(np.float32(0), x.max())
    scale = np.float32((xmax - xmin) / np.float32(255))
    if scale == 0:  # all zeros
        return np.zeros(x.shape, np.uint8), np.float32(0), np.uint8(0)
    zp_f = np.float32(np.float32(0) - xmin / scale)
    zp = np.uint8(np.rint(np.clip(zp_f, 0, 255)))
    y = quantize_linear(x, scale, zp)
    return y, scale, zp


def requantize_linear(x, x_scale, x_zero_point, y_scale, y_zero_point, *, axis: int = 1,
                      output_dtype=None) -> np.ndarray:
    """8-bit -> 8-bit requantization ``q(dq(x))`` with onnxruntime's float32 arithmetic (the
    table QLinearConcat builds per input): ``dq = float32(x_scale) * float32(x - x_zp)``, then
    QuantizeLinear (``/ y_scale``, round half to even, saturate). Per-tensor, or per-axis when
    any of the four parameters is a 1-D array (along ``axis``). Applied as 256-entry tables."""
    x = _qarray(x, "x")
    out = np.dtype(output_dtype) if output_dtype is not None else x.dtype
    if out not in _QTYPES:
        raise TypeError(f"lowp: requantize output must be uint8 or int8, got {out}")
    per_axis = any(np.ndim(v) == 1 and np.size(v) > 1 for v in (x_scale, x_zero_point, y_scale, y_zero_point))
    if not per_axis:
        table = _table_for("identity", {}, x_scale, x_zero_point, y_scale, y_zero_point, x.dtype, out, "half_even")
        return lookup_table(x, table)
    if x.ndim == 0:
        raise ValueError("lowp: per-axis requantization needs an array input")
    ax = axis + x.ndim if axis < 0 else axis
    if not 0 <= ax < x.ndim:
        raise ValueError(f"lowp: axis {axis} out of range for a {x.ndim}-D input")
    C = x.shape[ax]

    def vec(v, name, dtype, is_scale):
        arr = np.asarray(v if v is not None else 0)
        if arr.ndim > 1 or (arr.size != 1 and arr.size != C):
            raise ValueError(f"lowp: {name} must be a scalar or have {C} entries (axis {axis})")
        if is_scale:
            arr = arr.astype(np.float32)
            if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
                raise ValueError(f"lowp: {name} must be finite and > 0")
        else:
            if arr.dtype.kind not in "iu":
                raise TypeError(f"lowp: {name} must be an integer array, got {arr.dtype}")
            lo, hi = _RANGE[np.dtype(dtype)]
            if arr.min() < lo or arr.max() > hi:
                raise ValueError(f"lowp: {name} out of range [{lo}, {hi}] for {np.dtype(dtype)}")
            arr = arr.astype(np.int32)
        return np.broadcast_to(arr.reshape(-1), (C,))
    xs = vec(x_scale, "x_scale", None, True)
    xz = vec(x_zero_point, "x_zero_point", x.dtype, False)
    ys = np.ascontiguousarray(vec(y_scale, "y_scale", None, True))
    yz = np.ascontiguousarray(vec(y_zero_point, "y_zero_point", out, False))
    vals = _table_inputs(x.dtype)
    deq = (xs[:, None] * (vals[None, :] - xz[:, None]).astype(np.float32)).astype(np.float32)
    tables = _lowp.quantize_linear(np.ascontiguousarray(deq), ys, yz, 0, str(out))
    return _lowp.lut_axis(np.ascontiguousarray(x), tables, ax, str(out))


# --------------------------------------------------------------------------- lookup tables
def lookup_table(x, table, *, out=None) -> np.ndarray:
    """Apply a 256-entry table: ``y[i] = table[x[i]]`` (int8 inputs index by their byte,
    i.e. ``table[x & 0xFF]``). The output has the table's dtype (uint8 or int8); ``out`` may
    be a preallocated C-contiguous array of that dtype and x's shape (no allocation)."""
    x = _qarray(x, "x")
    table = np.asarray(table)
    if table.dtype not in _QTYPES or table.shape != (256,):
        raise ValueError(f"lowp: table must be 256 entries of uint8 or int8, got {table.dtype} {table.shape}")
    return _lowp.lut(_c(x), _c(table), _DT_NAME[table.dtype], out)


qlinear_lut = lookup_table


def _table_inputs(x_dtype):
    x_dtype = np.dtype(x_dtype)
    if x_dtype not in _QTYPES:
        raise TypeError(f"lowp: table input dtype must be uint8 or int8, got {x_dtype}")
    # entry i of the table answers the byte value i
    return np.arange(256, dtype=np.uint8).view(x_dtype).astype(np.int32)


def build_lookup_table(fn, x_scale, x_zero_point, y_scale, y_zero_point, *, x_dtype=np.uint8, y_dtype=None,
                       rounding: str = "half_even") -> np.ndarray:
    """Build the 256-entry table of ``y = q(fn(dq(x)))`` for one per-tensor quantization.

    ``fn`` maps a float32 array to a float32 array. Dequantization is
    ``float32(x_scale) * float32(x - x_zero_point)`` (float32, as onnxruntime's
    QlinearBuildLookupTable); quantization is

    * ``"half_even"``: onnxruntime's MlasQuantizeLinear (``x / y_scale``, round half to even);
    * ``"gemmlowp"`` / ``"single"``: TFLite's LUTPopulate (``round_half_away(v * (1 / y_scale))``).
    """
    rounding = _rounding(rounding)
    x_dtype = np.dtype(x_dtype)
    y_dtype = x_dtype if y_dtype is None else np.dtype(y_dtype)
    if y_dtype not in _QTYPES:
        raise TypeError(f"lowp: table output dtype must be uint8 or int8, got {y_dtype}")
    xs, ys = _f32(x_scale, "x_scale"), _f32(y_scale, "y_scale")
    xz = _zp1(x_zero_point, x_dtype, "x_zero_point")
    yz = _zp1(y_zero_point, y_dtype, "y_zero_point")
    vals = _table_inputs(x_dtype)
    deq = np.float32(xs) * (vals - xz).astype(np.float32)
    with np.errstate(all="ignore"):
        f = np.asarray(fn(deq.copy()), dtype=np.float32)
    if f.shape != (256,):
        raise ValueError("lowp: the table function must map a (256,) array to a (256,) array")
    if rounding == "half_even":
        return _lowp.quantize_linear(np.ascontiguousarray(f), np.array([ys], np.float32),
                                     np.array([yz], np.int32), 0, str(y_dtype))
    lo, hi = _RANGE[y_dtype]
    with np.errstate(all="ignore"):
        inv = np.float32(1) / np.float32(ys)
        r = f * inv
        r = np.where(np.isnan(r), np.float32(0), r)
        r = np.trunc(r + np.copysign(np.float32(0.5), r))  # TfLiteRound: half away from zero
        q = np.clip(r.astype(np.float64) + yz, lo, hi)
    return q.astype(y_dtype)


def _f32fn(fn):
    def g(v):
        with np.errstate(all="ignore"):
            return np.asarray(fn(v.astype(np.float64)), dtype=np.float32)
    return g


def _sigmoid_f32(v):
    # onnxruntime's QLinearSigmoid table uses MLAS's logistic (FMA3 kernel on AVX2 CPUs).
    return _lowp.mlas_logistic(np.asarray(v, np.float32), True)


def _leaky(alpha):
    a = np.float32(alpha)

    def f(v):
        v = np.asarray(v, np.float32)
        return np.where(v >= 0, v, (a * v).astype(np.float32)).astype(np.float32)
    return f


def _erf(v):
    return np.vectorize(math.erf, otypes=[np.float64])(v)


LUT_FUNCTIONS = {
    "sigmoid": lambda **k: _sigmoid_f32,
    "tanh": lambda **k: _f32fn(np.tanh),
    "hard_sigmoid": lambda alpha=0.2, beta=0.5, **k: _f32fn(lambda v: np.clip(alpha * v + beta, 0.0, 1.0)),
    "hard_swish": lambda **k: _f32fn(lambda v: v * np.clip(v / 6.0 + 0.5, 0.0, 1.0)),
    "silu": lambda **k: _f32fn(lambda v: v / (1.0 + np.exp(-v))),
    "gelu": lambda **k: _f32fn(lambda v: 0.5 * v * (1.0 + _erf(v / math.sqrt(2.0)))),
    "leaky_relu": lambda alpha=0.01, **k: _leaky(alpha),
    "elu": lambda alpha=1.0, **k: _f32fn(lambda v: np.where(v >= 0, v, alpha * np.expm1(np.minimum(v, 0)))),
    "exp": lambda **k: _f32fn(np.exp),
}


_ALL_FUNCTIONS = dict(LUT_FUNCTIONS, identity=lambda **k: (lambda v: np.asarray(v, np.float32)))


def _make_table_builder(name):
    def builder(x_scale, x_zero_point, y_scale, y_zero_point, *, x_dtype=np.uint8, y_dtype=None,
                rounding: str = "half_even", **params):
        return build_lookup_table(LUT_FUNCTIONS[name](**params), x_scale, x_zero_point, y_scale, y_zero_point,
                                  x_dtype=x_dtype, y_dtype=y_dtype, rounding=rounding)
    builder.__name__ = f"{name}_table"
    builder.__doc__ = (f"256-entry table for quantized {name} (see build_lookup_table). "
                       f"Function parameters (alpha, beta) go as keywords.")
    return builder


@functools.lru_cache(maxsize=256)
def _cached_table(name, params, xs, xz, ys, yz, x_dtype, y_dtype, rounding):
    t = build_lookup_table(_ALL_FUNCTIONS[name](**dict(params)), xs, xz, ys, yz, x_dtype=x_dtype, y_dtype=y_dtype,
                           rounding=rounding)
    t.setflags(write=False)
    return t


def _table_for(name, params, x_scale, x_zero_point, y_scale, y_zero_point, x_dtype, y_dtype, rounding):
    """The (cached) table of a named LUT function; the key holds the float32 scales and zero points."""
    x_dtype, y_dtype = np.dtype(x_dtype), np.dtype(y_dtype)
    xs, ys = _f32(x_scale, "x_scale"), _f32(y_scale, "y_scale")
    xz, yz = _zp1(x_zero_point, x_dtype, "x_zero_point"), _zp1(y_zero_point, y_dtype, "y_zero_point")
    key = tuple(sorted((k, float(v)) for k, v in params.items()))
    return _cached_table(name, key, xs, xz, ys, yz, x_dtype, y_dtype, _rounding(rounding))


@functools.lru_cache(maxsize=64)
def _tflite_logistic_table(xs, xz, dtype, single):
    t = _lowp.tflite_logistic_table(xs, xz, dtype, single).view(dtype)
    t.setflags(write=False)
    return t


def _make_qlinear(name):
    def op(x, x_scale, x_zero_point, y_scale, y_zero_point, *, rounding: str = "half_even", **params):
        x = _qarray(x, "x")
        if name == "sigmoid" and _rounding(rounding) != "half_even":
            # TFLite's reference integer LOGISTIC: fixed output quantization
            ys, yz = _f32(y_scale, "y_scale"), _zp1(y_zero_point, x.dtype, "y_zero_point")
            want_zp = -128 if x.dtype == np.int8 else 0
            if ys != 1.0 / 256 or yz != want_zp:
                raise ValueError(f"lowp: TFLite LOGISTIC needs y_scale 1/256 and y_zero_point {want_zp}")
            table = _tflite_logistic_table(_f32(x_scale, "x_scale"), _zp1(x_zero_point, x.dtype, "x_zero_point"),
                                           str(x.dtype), rounding == "single")
            return lookup_table(x, table)
        table = _table_for(name, params, x_scale, x_zero_point, y_scale, y_zero_point, x.dtype, x.dtype, rounding)
        return lookup_table(x, table)
    op.__name__ = f"qlinear_{name}"
    op.__doc__ = (f"Quantized {name} through a 256-entry table built from the scales (float32 function, "
                  f"onnxruntime quantization for 'half_even').")
    return op


sigmoid_table = _make_table_builder("sigmoid")
tanh_table = _make_table_builder("tanh")
hard_sigmoid_table = _make_table_builder("hard_sigmoid")
hard_swish_table = _make_table_builder("hard_swish")
silu_table = _make_table_builder("silu")
gelu_table = _make_table_builder("gelu")
leaky_relu_table = _make_table_builder("leaky_relu")
elu_table = _make_table_builder("elu")
exp_table = _make_table_builder("exp")

qlinear_sigmoid = _make_qlinear("sigmoid")
qlinear_sigmoid.__doc__ = ("com.microsoft QLinearSigmoid: table of MLAS's float32 logistic "
                           "(bit-exact with onnxruntime for 'half_even'). rounding='gemmlowp'/'single': TFLite's "
                           "reference integer LOGISTIC (gemmlowp fixed point; y_scale 1/256, y_zero_point 0 for "
                           "uint8 / -128 for int8).")
qlinear_tanh = _make_qlinear("tanh")
qlinear_hard_sigmoid = _make_qlinear("hard_sigmoid")
qlinear_hard_swish = _make_qlinear("hard_swish")
qlinear_silu = _make_qlinear("silu")
qlinear_gelu = _make_qlinear("gelu")
qlinear_elu = _make_qlinear("elu")
qlinear_exp = _make_qlinear("exp")


def qlinear_leaky_relu(x, x_scale, x_zero_point, y_scale, y_zero_point, *, alpha: float = 0.01,
                       rounding: str = "half_even"):
    """com.microsoft QLinearLeakyRelu: table of ``v >= 0 ? v : alpha * v`` in float32."""
    x = _qarray(x, "x")
    table = _table_for("leaky_relu", {"alpha": float(np.float32(alpha))}, x_scale, x_zero_point, y_scale,
                       y_zero_point, x.dtype, x.dtype, rounding)
    return lookup_table(x, table)


# --------------------------------------------------------------------------- binary elementwise
def _broadcast_pair(a, b):
    if a.shape == b.shape:
        return a, b
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"lowp: shapes {a.shape} and {b.shape} do not broadcast") from None
    if len(shape) > 8:
        raise ValueError("lowp: elementwise ops support at most 8 dimensions")
    return np.broadcast_to(a, shape), np.broadcast_to(b, shape)


def _tflite_qm(real: float, single: bool):
    return _lowp.quantize_multiplier(float(real), single)


def tflite_mean_multiplier(x_scale, y_scale, count: int, single: bool = False):
    """The (multiplier, shift) LiteRT's reference MEAN requantizes ``sum(x - x_zp)`` with: QuantizeMultiplier of
    ``x_scale / y_scale`` (float32 scales, divided in double), then 1 / count folded in by integer arithmetic,
    ``k = min(floor(log2(count)), 32, 31 + shift)``, ``multiplier = (multiplier << k) // count`` (truncated),
    ``shift -= k``; not QuantizeMultiplier(x_scale / (count * y_scale)), which differs by one on some outputs
    for counts that are not powers of two (measured against LiteRT 2.3's BUILTIN_REF kernels)."""
    if count < 1:
        raise ValueError("lowp: mean over an empty axis")
    m, sh = _tflite_qm(np.float64(np.float32(x_scale)) / np.float64(np.float32(y_scale)), single)
    k = min(int(count).bit_length() - 1, 32, 31 + sh)
    return (int(m) << k) // int(count), sh - k


def _binary(op, a, a_scale, a_zero_point, b, b_scale, b_zero_point, c_scale, c_zero_point, rounding, qmin, qmax,
            out=None):
    rounding = _rounding(rounding)
    a = _qarray(a, "a")
    b = _qarray(b, "b")
    if a.dtype != b.dtype:
        raise TypeError(f"lowp: a and b must have the same dtype, got {a.dtype} and {b.dtype}")
    sa, sb, sc = _f32(a_scale, "a_scale"), _f32(b_scale, "b_scale"), _f32(c_scale, "c_scale")
    za = _zp1(a_zero_point, a.dtype, "a_zero_point")
    zb = _zp1(b_zero_point, a.dtype, "b_zero_point")
    zc = _zp1(c_zero_point, a.dtype, "c_zero_point")
    qmin, qmax = _act_range(a.dtype, qmin, qmax)
    return _lowp.binary(a, b, op, rounding, sa, za, sb, zb, sc, zc, *tflite_binary_params(op, sa, sb, sc, rounding),
                        qmin, qmax, out)


def tflite_binary_params(op, sa, sb, sc, rounding):
    """(left_shift, mult_a, shift_a, mult_b, shift_b, mult_c, shift_c) of TFLite's fixed-point ADD / SUB / MUL
    for float32 scales sa, sb, sc (all zero but left_shift for rounding="half_even")."""
    left_shift, ma, sha, mb, shb, mc, shc = 20, 0, 0, 0, 0, 0, 0
    if rounding == "half_even":
        return left_shift, ma, sha, mb, shb, mc, shc
    single = rounding == "single"
    if op == "mul":
        mc, shc = _tflite_qm(sa * sb / sc, single)
    else:
        twice_max = 2.0 * max(sa, sb)
        ma, sha = _tflite_qm(sa / twice_max, single)
        mb, shb = _tflite_qm(sb / twice_max, single)
        if op == "sub":
            mb = -mb
        real_out = twice_max / ((1 << left_shift) * sc)
        if not real_out < 2.0 ** 30:
            raise ValueError("lowp: c_scale is too small for TFLite ADD/SUB arithmetic")
        mc, shc = _tflite_qm(real_out, single)
    if not -31 <= shc <= 30:
        raise ValueError("lowp: output rescale factor out of the range TFLite supports")
    return left_shift, ma, sha, mb, shb, mc, shc


_BIN_DOC = """{title} with numpy broadcasting; a, b and the result share one dtype (uint8 or int8).

    rounding="half_even": onnxruntime com.microsoft {ort} arithmetic (bit-exact on x86).
    rounding="gemmlowp"/"single": TFLite {tfl} reference integer arithmetic{extra}.
    qmin/qmax: optional fused activation range (TFLite style; default the full type range).
    out: optional preallocated C-contiguous result array (the broadcast shape and dtype).
    """


def qlinear_add(a, a_scale, a_zero_point, b, b_scale, b_zero_point, c_scale, c_zero_point, *,
                rounding: str = "half_even", qmin=None, qmax=None, out=None) -> np.ndarray:
    return _binary("add", a, a_scale, a_zero_point, b, b_scale, b_zero_point, c_scale, c_zero_point, rounding,
                   qmin, qmax, out)


def qlinear_sub(a, a_scale, a_zero_point, b, b_scale, b_zero_point, c_scale, c_zero_point, *,
                rounding: str = "half_even", qmin=None, qmax=None, out=None) -> np.ndarray:
    return _binary("sub", a, a_scale, a_zero_point, b, b_scale, b_zero_point, c_scale, c_zero_point, rounding,
                   qmin, qmax, out)


def qlinear_mul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, c_scale, c_zero_point, *,
                rounding: str = "half_even", qmin=None, qmax=None, out=None) -> np.ndarray:
    return _binary("mul", a, a_scale, a_zero_point, b, b_scale, b_zero_point, c_scale, c_zero_point, rounding,
                   qmin, qmax, out)


qlinear_add.__doc__ = _BIN_DOC.format(title="Quantized a + b", ort="QLinearAdd", tfl="ADD",
                                      extra=" (left_shift 20, per-input multipliers)")
qlinear_sub.__doc__ = _BIN_DOC.format(title="Quantized a - b", ort="QLinearAdd-style (there is no QLinearSub)",
                                      tfl="SUB", extra=" (ADD with the second multiplier negated)")
qlinear_mul.__doc__ = _BIN_DOC.format(title="Quantized a * b", ort="QLinearMul", tfl="MUL", extra="")


# --------------------------------------------------------------------------- concat / data movement
def qlinear_concat(inputs, scales, zero_points, y_scale, y_zero_point, *, axis: int) -> np.ndarray:
    """com.microsoft QLinearConcat: concatenate along ``axis``; an input whose (scale, zero point)
    differs from the output's is requantized through onnxruntime's float32 table, others are copied."""
    inputs = list(inputs)
    if not inputs:
        raise ValueError("lowp: qlinear_concat needs at least one input")
    scales, zero_points = list(scales), list(zero_points)
    if len(scales) != len(inputs) or len(zero_points) != len(inputs):
        raise ValueError("lowp: qlinear_concat needs one scale and one zero point per input")
    xs = [_qarray(x, f"inputs[{i}]") for i, x in enumerate(inputs)]
    dt = xs[0].dtype
    for i, x in enumerate(xs):
        if x.dtype != dt:
            raise TypeError(f"lowp: inputs[{i}] has dtype {x.dtype}, expected {dt}")
        if x.ndim != xs[0].ndim:
            raise ValueError("lowp: qlinear_concat inputs must have the same rank")
    ys, yz = _f32(y_scale, "y_scale"), _zp1(y_zero_point, dt, "y_zero_point")
    nd = xs[0].ndim
    ax = axis + nd if axis < 0 else axis
    if not 0 <= ax < nd:
        raise ValueError(f"lowp: axis {axis} out of range for {nd}-D inputs")
    tables = []
    for i, x in enumerate(xs):
        if x.shape[:ax] + x.shape[ax + 1:] != xs[0].shape[:ax] + xs[0].shape[ax + 1:]:
            raise ValueError(f"lowp: inputs[{i}] shape {x.shape} does not match {xs[0].shape} outside axis {axis}")
        s, z = _f32(scales[i], f"scales[{i}]"), _zp1(zero_points[i], dt, f"zero_points[{i}]")
        same = s == ys and z == yz
        tables.append(None if same else _table_for("identity", {}, s, z, ys, yz, dt, dt, "half_even"))
    return _lowp.concat([_c(x) for x in xs], tables, ax, _DT_NAME[dt])


def pad(x, pads, *, constant_value=0, mode: str = "constant", axes=None) -> np.ndarray:
    """ONNX Pad on an 8-bit tensor. ``pads`` = [x1_begin, x2_begin, ..., x1_end, x2_end, ...]
    (negative values crop). For quantized data pass the zero point as ``constant_value`` so the
    padding means real 0. Modes: constant, reflect, edge, wrap."""
    x = np.asarray(x)
    if x.dtype.kind not in "iuf":
        raise TypeError(f"lowp: pad takes a numeric array, got {x.dtype}")
    pads = [int(p) for p in pads]
    nd = x.ndim
    axes = list(range(nd)) if axes is None else [a + nd if a < 0 else a for a in axes]
    if len(pads) != 2 * len(axes):
        raise ValueError(f"lowp: pads must have 2 * {len(axes)} entries, got {len(pads)}")
    if any(not 0 <= a < nd for a in axes) or len(set(axes)) != len(axes):
        raise ValueError(f"lowp: pad axes must be distinct and in range for a {nd}-D input, got {axes}")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise ValueError(f"lowp: unknown pad mode {mode!r}")
    if x.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        if not info.min <= int(constant_value) <= info.max:
            raise ValueError(f"lowp: constant_value {constant_value} out of range for {x.dtype}")
    begin = [0] * nd
    end = [0] * nd
    for i, a in enumerate(axes):
        begin[a], end[a] = pads[i], pads[i + len(axes)]
        if x.shape[a] + begin[a] + end[a] < 0:
            raise ValueError(f"lowp: pads {pads} crop more than axis {a} holds ({x.shape[a]})")
    # crop negative pads first
    sl = tuple(slice(max(0, -b), x.shape[d] - max(0, -e)) for d, (b, e) in enumerate(zip(begin, end)))
    x = x[sl]
    width = [(max(0, b), max(0, e)) for b, e in zip(begin, end)]
    if mode == "constant":
        return np.pad(x, width, mode="constant", constant_values=np.asarray(constant_value).astype(x.dtype))
    return np.pad(x, width, mode={"reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode])


def transpose(x, perm=None) -> np.ndarray:
    """ONNX Transpose (a contiguous copy; exact)."""
    return np.ascontiguousarray(np.transpose(np.asarray(x), perm))


def reshape(x, shape, *, allowzero: int = 0) -> np.ndarray:
    """ONNX Reshape (0 copies the input dimension unless allowzero, -1 is inferred)."""
    x = np.asarray(x)
    shape = [int(s) for s in shape]
    if not allowzero:
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _resize_coords(n_out, n_in, scale, ctm):
    """onnxruntime's float32 source coordinates (upsamplebase.h) for one spatial axis."""
    f32 = np.float32
    o = np.arange(n_out).astype(f32)
    s = f32(scale)
    if ctm == "half_pixel":
        c = (o + f32(0.5)) / s - f32(0.5)
    elif ctm == "pytorch_half_pixel":
        c = (o + f32(0.5)) / s - f32(0.5) if n_out > 1 else np.zeros(n_out, f32)
    elif ctm == "align_corners":
        c = (o * f32(n_in - 1)) / f32(n_out - 1) if n_out > 1 else np.zeros(n_out, f32)
    elif ctm == "asymmetric":
        c = o / s
    else:
        raise ValueError(f"lowp: unsupported coordinate_transformation_mode {ctm!r}")
    return np.asarray(c, f32)


def resize(x, *, scales=None, sizes=None, mode: str = "nearest", coordinate_transformation_mode: str = "half_pixel",
           nearest_mode: str = "round_prefer_floor", layout: str = "NCHW") -> np.ndarray:
    """ONNX Resize on the two spatial axes of a 4-D tensor (NCHW, or NHWC with ``layout``).

    mode="nearest": an exact gather (onnxruntime's coordinate and nearest-pixel rules).
    mode="linear" (bilinear) on uint8/int8: onnxruntime's CPU arithmetic, bit-exact — float32
    source coordinates and weights, ``dx2*dy2*X11 + dx1*dy2*X21 + dx2*dy1*X12 + dx1*dy1*X22`` on
    the raw integers in float32, then truncated toward zero (a C++ cast, not a rounding).
    """
    f32 = np.float32
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"lowp: resize takes a 4-D tensor, got {x.ndim}-D")
    layout = _layout(layout)
    xv = x if layout == "NCHW" else x.transpose(0, 3, 1, 2)
    H, W = xv.shape[2:]
    if (scales is None) == (sizes is None):
        raise ValueError("lowp: resize needs exactly one of scales or sizes")
    if sizes is not None:
        sz = [int(v) for v in sizes]
        if len(sz) == 4:
            sz = sz[2:] if layout == "NCHW" else sz[1:3]
        if len(sz) != 2 or min(sz) < 1:
            raise ValueError("lowp: sizes must give the two spatial output sizes (>= 1)")
        OH, OW = sz
        sh, sw = f32(OH) / f32(H), f32(OW) / f32(W)
    else:
        sc = [float(v) for v in scales]
        if len(sc) == 4:
            if (sc[:2] if layout == "NCHW" else [sc[0], sc[3]]) != [1.0, 1.0]:
                raise ValueError("lowp: resize only scales the spatial axes")
            sc = sc[2:] if layout == "NCHW" else sc[1:3]
        if len(sc) != 2 or min(sc) <= 0:
            raise ValueError("lowp: scales must give two positive spatial factors")
        sh, sw = f32(sc[0]), f32(sc[1])
        OH, OW = int(f32(sh) * f32(H)), int(f32(sw) * f32(W))
    if OH < 1 or OW < 1:
        raise ValueError("lowp: resize output would be empty")
    ctm = coordinate_transformation_mode
    ch, cw = _resize_coords(OH, H, sh, ctm), _resize_coords(OW, W, sw, ctm)
    if mode == "nearest":
        def near(c, n):
            c = c.astype(np.float64)
            if nearest_mode == "round_prefer_floor":
                i = np.where(c == np.trunc(c) + 0.5, np.floor(c), np.sign(c) * np.floor(np.abs(c) + 0.5))
            elif nearest_mode == "round_prefer_ceil":
                i = np.sign(c) * np.floor(np.abs(c) + 0.5)
            elif nearest_mode == "floor":
                i = np.floor(c)
            elif nearest_mode == "ceil":
                i = np.ceil(c)
            else:
                raise ValueError(f"lowp: unknown nearest_mode {nearest_mode!r}")
            return np.clip(i, 0, n - 1).astype(np.intp)
        y = xv[:, :, near(ch, H)][:, :, :, near(cw, W)]
    elif mode == "linear":
        if x.dtype not in _QTYPES:
            raise TypeError("lowp: linear resize takes uint8 or int8")

        def lin(c, n):
            c = np.maximum(f32(0), np.minimum(c, f32(n - 1))).astype(f32)
            i1 = np.minimum(c.astype(np.int64), n - 1)
            i2 = np.minimum(i1 + 1, n - 1)
            d1 = np.abs(c - i1.astype(f32)).astype(f32)
            d2 = np.abs(c - i2.astype(f32)).astype(f32)
            same = i1 == i2
            d1[same] = f32(0.5)
            d2[same] = f32(0.5)
            return i1, i2, d1, d2
        y1, y2, dy1, dy2 = lin(ch, H)
        x1, x2, dx1, dx2 = lin(cw, W)
        N, C = xv.shape[:2]
        if layout == "NCHW":
            y = np.empty((N, C, OH, OW), x.dtype)
            yv = y
        else:
            y = np.empty((N, OH, OW, C), x.dtype)
            yv = y.transpose(0, 3, 1, 2)
        _lowp.resize_bilinear(xv, yv, y1, y2, dy1, dy2, x1, x2, dx1, dx2)
        return y
    else:
        raise ValueError(f"lowp: resize mode must be 'nearest' or 'linear', got {mode!r}")
    y = np.ascontiguousarray(y)
    return y if layout == "NCHW" else np.ascontiguousarray(y.transpose(0, 2, 3, 1))


# --------------------------------------------------------------------------- pooling
def _ints(v, n, name, default):
    if v is None:
        return [default] * n
    v = [int(t) for t in (v if isinstance(v, (list, tuple, np.ndarray)) else [v] * n)]
    if len(v) != n:
        raise ValueError(f"lowp: {name} must have {n} entries, got {len(v)}")
    return v


def _pool_geometry(spatial, kernel_shape, strides, pads, dilations, ceil_mode, auto_pad):
    nd = len(spatial)
    k = _ints(kernel_shape, nd, "kernel_shape", 1) if kernel_shape is not None else None
    if k is None:
        raise ValueError("lowp: kernel_shape is required")
    if any(t < 1 for t in k):
        raise ValueError(f"lowp: kernel_shape must be >= 1, got {k}")
    s = _ints(strides, nd, "strides", 1)
    d = _ints(dilations, nd, "dilations", 1)
    if any(t < 1 for t in s) or any(t < 1 for t in d):
        raise ValueError("lowp: strides and dilations must be >= 1")
    out, head, tail = [], [], []
    if auto_pad in ("NOTSET", "", None):
        p = _ints(pads, 2 * nd, "pads", 0)
        if any(t < 0 for t in p):
            raise ValueError("lowp: pads must be >= 0")
        for i in range(nd):
            ek = (k[i] - 1) * d[i] + 1
            if p[i] >= ek or p[i + nd] >= ek:
                raise ValueError("lowp: pads must be smaller than the (dilated) kernel")
            span = spatial[i] + p[i] + p[i + nd] - ek
            if span < 0:
                raise ValueError(f"lowp: kernel larger than the padded input along spatial axis {i}")
            o = (-(-span // s[i]) if ceil_mode else span // s[i]) + 1
            if ceil_mode and (o - 1) * s[i] >= spatial[i] + p[i]:
                o -= 1
            out.append(o)
            head.append(p[i])
            tail.append(p[i + nd])
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        for i in range(nd):
            ek = (k[i] - 1) * d[i] + 1
            o = -(-spatial[i] // s[i])
            total = max(0, (o - 1) * s[i] + ek - spatial[i])
            h = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
            out.append(o)
            head.append(h)
            tail.append(total - h)
    elif auto_pad == "VALID":
        for i in range(nd):
            ek = (k[i] - 1) * d[i] + 1
            if spatial[i] < ek:
                raise ValueError("lowp: kernel larger than the input (auto_pad VALID)")
            out.append((spatial[i] - ek) // s[i] + 1)
            head.append(0)
            tail.append(0)
    else:
        raise ValueError(f"lowp: unknown auto_pad {auto_pad!r}")
    return k, s, d, head, tail, out


def _pool_views(x, layout):
    """(N, C, H, W) view of x and a function making the output + its (N, C, OH, OW) view."""
    if x.ndim not in (3, 4):
        raise ValueError(f"lowp: pooling takes a 3-D or 4-D input (1-D or 2-D pooling), got {x.ndim}-D")
    layout = _layout(layout)
    one_d = x.ndim == 3
    if layout == "NCHW":
        xv = x[:, :, None, :] if one_d else x
    else:
        xv = (x[:, None, :, :] if one_d else x).transpose(0, 3, 1, 2)

    def make_out(oh, ow):
        N, C = xv.shape[:2]
        if layout == "NCHW":
            y = np.empty((N, C, oh, ow), x.dtype)
            return (y[:, :, 0, :] if one_d else y), y
        y = np.empty((N, oh, ow, C), x.dtype)
        return (y[:, 0, :, :] if one_d else y), y.transpose(0, 3, 1, 2)
    return xv, one_d, make_out


def max_pool(x, kernel_shape, *, strides=None, pads=None, dilations=None, ceil_mode: int = 0,
             auto_pad: str = "NOTSET", storage_order: int = 0, layout: str = "NCHW") -> np.ndarray:
    """ONNX MaxPool on uint8/int8 (1-D or 2-D): padding never contributes. Exact."""
    x = _qarray(x, "x")
    if storage_order not in (0,):
        raise ValueError("lowp: only storage_order=0 is supported")
    xv, one_d, make_out = _pool_views(x, layout)
    spatial = list(xv.shape[2:]) if not one_d else [xv.shape[3]]
    k, s, d, head, tail, out = _pool_geometry(spatial, kernel_shape, strides, pads, dilations, ceil_mode, auto_pad)
    if one_d:
        k, s, d, head, out = [1] + k, [1] + s, [1] + d, [0] + head, [1] + out
    y, yv = make_out(out[0], out[1])
    _lowp.max_pool(xv, yv, k, s, d, head)
    return y


_ORT_POOL_ORDERS = ("rows", "columns", "lanes4")


def ort_float_pool_order(channels, spatial, kernel, strides, head, tail, one_d=False) -> str:
    """The float32 summation order of the kernel onnxruntime (x86, full optimization) runs for a float
    AveragePool over (N, channels, *spatial) -- "rows", "columns" or "lanes4" (ops/pool.h PoolSumOrder).

    2-D pools with channels a multiple of MLAS's NCHWc block (16 with AVX-512, 8 with AVX2) become NCHWc
    pools (row by row); otherwise MLAS's NCHW dispatch: a whole-plane window with unit strides and no
    padding takes the global kernel ("lanes4"), a 2-D pool with horizontal stride <= 2, kernels <= 32 and
    the padded row within its 2045-float reduction buffer the vector kernel ("columns"), the rest the
    generic kernel ("rows"). (For 1-D pools, pass the (1, W) view with one_d=True.)"""
    H, W = spatial
    k, s = list(kernel), list(strides)
    if not one_d:
        blk = int(_lowp.ort_nchwc_block_size())
        if blk and channels % blk == 0:
            return "rows"
    if k == [H, W] and s == [1, 1] and not any(head) and not any(tail):
        return "lanes4"
    if not one_d and s[1] <= 2 and max(k) <= 32 and 2048 - 3 - head[1] - tail[1] >= W:
        return "columns"
    return "rows"


def qlinear_average_pool(x, x_scale, x_zero_point, y_scale, y_zero_point, kernel_shape, *, strides=None,
                         pads=None, ceil_mode: int = 0, auto_pad: str = "NOTSET", count_include_pad: int = 0,
                         layout: str = "NCHW", rounding: str = "half_even", qmin=None, qmax=None,
                         s8_as_u8: bool = False, ort_float=None) -> np.ndarray:
    """com.microsoft QLinearAveragePool (1-D or 2-D).

    rounding="half_even": onnxruntime's arithmetic (float32 dequantize, float32 window sum and
    divide, ``round_half_even(avg / y_scale + y_zero_point)``; a window covering the whole
    unpadded input goes through onnxruntime's integer global-average path, as onnxruntime does).
    s8_as_u8=True (int8 x, rounding="half_even"): the QLinearAveragePool onnxruntime runs on an
    int8 QDQ model after its s8->u8 rewrite (x + 128, both zero points + 128): the same
    dequantized values, but ``round_half_even(avg / y_scale + (y_zero_point + 128)) - 128`` (the
    float32 add of the larger zero point rounds near-ties differently).
    ort_float="auto" / "rows" / "columns" / "lanes4" (rounding="half_even"): instead of
    QLinearAveragePool, the float32 chain onnxruntime runs for a QDQ AveragePool it leaves unfused
    (DequantizeLinear -> MLAS float32 AveragePool -> QuantizeLinear: ``rne(avg / y_scale) +
    y_zero_point``); the value names the MLAS kernel's float32 summation order ("auto": the one
    onnxruntime picks for this shape on this CPU, see ort_float_pool_order).
    rounding="gemmlowp"/"single": TFLite AVERAGE_POOL_2D integer arithmetic (needs the same
    scale and zero point in and out): ``round_half_away(sum / count)``.
    """
    rounding = _rounding(rounding)
    x = _qarray(x, "x")
    xs, ys = _f32(x_scale, "x_scale"), _f32(y_scale, "y_scale")
    xz, yz = _zp1(x_zero_point, x.dtype, "x_zero_point"), _zp1(y_zero_point, x.dtype, "y_zero_point")
    qmin, qmax = _act_range(x.dtype, qmin, qmax)
    xv, one_d, make_out = _pool_views(x, layout)
    spatial = list(xv.shape[2:]) if not one_d else [xv.shape[3]]
    k, s, d, head, tail, out = _pool_geometry(spatial, kernel_shape, strides, pads, None, ceil_mode, auto_pad)
    if one_d:
        k, s, head, tail, out = [1] + k, [1] + s, [0] + head, [0] + tail, [1] + out
    y, yv = make_out(out[0], out[1])
    if s8_as_u8 and (x.dtype != np.int8 or rounding != "half_even"):
        raise ValueError("lowp: s8_as_u8 applies to int8 input with rounding='half_even'")
    if ort_float is not None:
        if ort_float not in ("auto",) + _ORT_POOL_ORDERS or rounding != "half_even" or s8_as_u8:
            raise ValueError(f"lowp: ort_float must be one of {('auto',) + _ORT_POOL_ORDERS} (rounding='half_even', "
                             f"not with s8_as_u8), got {ort_float!r}")
        if ort_float == "auto":
            ort_float = ort_float_pool_order(xv.shape[1], list(xv.shape[2:]), k, s, head, tail, one_d=one_d)
        _lowp.avg_pool(xv, yv, k, s, head, "ort_float_" + ort_float, xs, xz, ys, yz, bool(count_include_pad), qmin,
                       qmax)
        if (qmin, qmax) != _act_range(x.dtype, None, None):
            y = np.clip(y, qmin, qmax).astype(x.dtype)
        return y
    if rounding == "half_even":
        whole = list(k) == list(xv.shape[2:]) and not any(head) and not any(tail)
        # (the integer global path adds the zero point after rounding: the u8 rewrite does not change it)
        mode = "global_mlas" if whole else ("float_as_uint8" if s8_as_u8 else "float")
        _lowp.avg_pool(xv, yv, k, s, head, mode, xs, xz, ys, yz, bool(count_include_pad), qmin, qmax)
        if (qmin, qmax) != _act_range(x.dtype, None, None):
            y = np.clip(y, qmin, qmax).astype(x.dtype)
    else:
        if xs != ys or xz != yz:
            raise ValueError("lowp: TFLite average pooling needs the same scale and zero point in and out")
        _lowp.avg_pool(xv, yv, k, s, head, "int", xs, xz, ys, yz, bool(count_include_pad), qmin, qmax)
    return y


def qlinear_global_average_pool(x, x_scale, x_zero_point, y_scale, y_zero_point, *, layout: str = "NCHW",
                                rounding: str = "half_even") -> np.ndarray:
    """com.microsoft QLinearGlobalAveragePool over the spatial axes of an (N, C, ...) tensor
    (channels_last: ``layout="NHWC"``). Output keeps the rank with spatial sizes 1.

    rounding="half_even": onnxruntime/MLAS integer sum, then ``float(sum - zp*count) *
    (x_scale / (y_scale * count))`` rounded half to even. rounding="gemmlowp"/"single":
    TFLite AVERAGE_POOL_2D over the whole plane (same quantization in and out).
    """
    rounding = _rounding(rounding)
    x = _qarray(x, "x")
    layout = _layout(layout)
    if x.ndim < 3:
        raise ValueError(f"lowp: global average pool needs (N, C, spatial...), got {x.ndim}-D")
    xs, ys = _f32(x_scale, "x_scale"), _f32(y_scale, "y_scale")
    xz, yz = _zp1(x_zero_point, x.dtype, "x_zero_point"), _zp1(y_zero_point, x.dtype, "y_zero_point")
    N = x.shape[0]
    if layout == "NCHW":
        C = x.shape[1]
        spatial = x.shape[2:]
        xv = _c(x).reshape(N, C, 1, int(np.prod(spatial)))
        out_shape = (N, C) + (1,) * len(spatial)
    else:
        C = x.shape[-1]
        spatial = x.shape[1:-1]
        xv = _c(x).reshape(N, 1, int(np.prod(spatial)), C).transpose(0, 3, 1, 2)
        out_shape = (N,) + (1,) * len(spatial) + (C,)
    count = int(np.prod(spatial))
    if count == 0:
        raise ValueError("lowp: global average pool over an empty plane")
    y = np.empty(out_shape, x.dtype)
    yv = y.reshape(N, C, 1, 1) if layout == "NCHW" else y.reshape(N, 1, 1, C).transpose(0, 3, 1, 2)
    k = [1, count]
    if rounding == "half_even":
        _lowp.avg_pool(xv, yv, k, [1, 1], [0, 0], "global_mlas", xs, xz, ys, yz, False, 0, 0)
    else:
        if xs != ys or xz != yz:
            raise ValueError("lowp: TFLite average pooling needs the same scale and zero point in and out")
        lo, hi = _RANGE[x.dtype]
        _lowp.avg_pool(xv, yv, k, [1, 1], [0, 0], "int", xs, xz, ys, yz, False, lo, hi)
    return y


def qlinear_reduce_mean(x, x_scale, x_zero_point, y_scale, y_zero_point, *, axes=None, keepdims: int = 1,
                        rounding: str = "half_even") -> np.ndarray:
    """Quantized mean over ``axes`` (ONNX ReduceMean / TFLite MEAN on 8-bit data).

    The sum is exact (int32). rounding="half_even": ``float(sum - x_zp*count) *
    (x_scale / (y_scale * count))`` rounded half to even + y_zp (the arithmetic of onnxruntime's
    QLinearGlobalAveragePool, of which this is the generalisation). rounding="gemmlowp"/"single":
    TFLite MEAN as LiteRT's reference QuantizedMeanOrSum computes it: ``MultiplyByQuantizedMultiplier(sum -
    x_zp * count, m, shift) + y_zp`` (that rounding family) with (m, shift) from
    ``tflite_mean_multiplier(x_scale, y_scale, count)``, saturated.
    """
    rounding = _rounding(rounding)
    x = _qarray(x, "x")
    if x.ndim == 0:
        raise ValueError("lowp: qlinear_reduce_mean needs at least 1 dimension")
    xs, ys = _f32(x_scale, "x_scale"), _f32(y_scale, "y_scale")
    xz, yz = _zp1(x_zero_point, x.dtype, "x_zero_point"), _zp1(y_zero_point, x.dtype, "y_zero_point")
    nd = x.ndim
    if axes is None:
        ax = tuple(range(nd))
    else:
        ax = tuple(sorted({(int(a) + nd) if int(a) < 0 else int(a) for a in np.atleast_1d(axes)}))
        if any(not 0 <= a < nd for a in ax):
            raise ValueError(f"lowp: axes {axes} out of range for a {nd}-D input")
    count = int(np.prod([x.shape[a] for a in ax])) if ax else 1
    if count == 0:
        raise ValueError("lowp: mean over an empty axis")
    if count >= 1 << 23:
        raise ValueError("lowp: too many elements to reduce exactly in int32")
    acc = x.astype(np.int32).sum(axis=ax, keepdims=bool(keepdims), dtype=np.int32)
    lo, hi = _RANGE[x.dtype]
    if rounding == "half_even":
        scale = np.float32(np.float32(xs) / (np.float32(ys) * np.float32(count)))
        acc = np.ascontiguousarray(acc - np.int32(xz * count)).astype(np.int32)
        return _lowp.requantize(acc.reshape(-1), np.zeros(1, np.int32), np.zeros(1, np.int32),
                                np.array([scale], np.float32), yz, lo, hi, "half_even",
                                str(x.dtype)).reshape(acc.shape)
    m, sh = tflite_mean_multiplier(xs, ys, count, rounding == "single")
    acc = np.ascontiguousarray(acc - np.int32(xz * count)).astype(np.int32)  # int32 sums, as LiteRT's
    return _lowp.requantize(acc.reshape(-1), np.array([m], np.int32), np.array([sh], np.int32),
                            np.zeros(1, np.float32), yz, lo, hi, rounding, str(x.dtype)).reshape(acc.shape)


# --------------------------------------------------------------------------- softmax
def qlinear_softmax(x, x_scale, x_zero_point, y_scale, y_zero_point, *, axis: int = -1,
                    output: str = "quantized", rounding: str = "half_even", beta: float = 1.0) -> np.ndarray:
    """com.microsoft QLinearSoftmax (opset 13 semantics: softmax along ``axis``).

    output="quantized": onnxruntime's arithmetic, bit-exact (a float32 exp table, per-row float
    sum, ``round_half_even(e * floor(1 / y_scale) / sum) + y_zero_point``). TFLite's fixed output
    parameters are scale 1/256 with zero point 0 (uint8) or -128 (int8); results saturate.
    output="float32": the same table, ``e / sum`` as float32.
    rounding="gemmlowp"/"single": TFLite's reference integer SOFTMAX (gemmlowp fixed point,
    ``beta``), output quantization fixed at scale 1/256 and zero point 0 (uint8) / -128 (int8).
    """
    rounding = _rounding(rounding)
    x = _qarray(x, "x")
    if rounding != "half_even":
        if output != "quantized":
            raise ValueError("lowp: TFLite softmax produces quantized output only")
        ys, yz = _f32(y_scale, "y_scale"), _zp1(y_zero_point, x.dtype, "y_zero_point")
        want_zp = -128 if x.dtype == np.int8 else 0
        if ys != 1.0 / 256 or yz != want_zp:
            raise ValueError(f"lowp: TFLite SOFTMAX needs y_scale 1/256 and y_zero_point {want_zp}")
        if not (math.isfinite(beta) and beta > 0):
            raise ValueError("lowp: beta must be finite and > 0")
        nd = x.ndim
        ax = axis + nd if axis < 0 else axis
        if not 0 <= ax < nd or x.shape[ax] == 0:
            raise ValueError(f"lowp: axis {axis} out of range (or empty) for shape {x.shape}")
        xt = np.moveaxis(x, ax, -1)
        shp = xt.shape
        y2 = _lowp.softmax(np.ascontiguousarray(xt).reshape(-1, shp[-1]), _f32(x_scale, "x_scale"), float(beta), 0,
                           "tflite_" + rounding)
        return np.ascontiguousarray(np.moveaxis(y2.reshape(shp), -1, ax))
    _f32(x_scale, "x_scale")
    xs = _f32(x_scale, "x_scale")
    _zp1(x_zero_point, x.dtype, "x_zero_point")  # validated; softmax is shift invariant
    if output not in ("quantized", "float32"):
        raise ValueError(f"lowp: output must be 'quantized' or 'float32', got {output!r}")
    ys = _f32(y_scale, "y_scale") if output == "quantized" else 1.0
    yz = _zp1(y_zero_point, x.dtype, "y_zero_point") if output == "quantized" else 0
    nd = x.ndim
    ax = axis + nd if axis < 0 else axis
    if not 0 <= ax < nd:
        raise ValueError(f"lowp: axis {axis} out of range for a {nd}-D input")
    if x.shape[ax] == 0:
        raise ValueError("lowp: softmax along an empty axis")
    if ax == nd - 1:
        x2 = _c(x).reshape(-1, x.shape[-1])
        y2 = _lowp.softmax(x2, xs, ys, yz, "float32" if output == "float32" else "q")
        return y2.reshape(x.shape)
    xt = np.moveaxis(x, ax, -1)
    shp = xt.shape
    x2 = np.ascontiguousarray(xt).reshape(-1, shp[-1])
    y2 = _lowp.softmax(x2, xs, ys, yz, "float32" if output == "float32" else "q")
    return np.ascontiguousarray(np.moveaxis(y2.reshape(shp), -1, ax))
