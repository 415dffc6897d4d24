"""The exact 8-bit GEMM core: ONNX MatMulInteger / QLinearMatMul semantics, prepacked weights,
and the three requantization families ("gemmlowp", "single", "half_even")."""
from __future__ import annotations

import numbers

import numpy as np

from . import _lowp
from ._dispatch import _MAX_THREADS, _forced_kernel, _kernel_arg, _threads_arg

__all__ = [
    "PackedMatrix",
    "matmul_integer",
    "qlinear_matmul",
    "quantize_multiplier",
    "requantize",
    "ROUNDINGS",
]

ROUNDINGS = ("gemmlowp", "single", "half_even")
_QTYPES = (np.dtype(np.uint8), np.dtype(np.int8))
_RANGE = {np.dtype(np.uint8): (0, 255), np.dtype(np.int8): (-128, 127)}
_INT32_MAX = 2**31 - 1


# --------------------------------------------------------------------------- validation helpers
def _qarray(x, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"lowp: {name} must be a numpy array of uint8 or int8, got {type(x).__name__}")
    if x.dtype not in _QTYPES:
        raise TypeError(f"lowp: {name} must be uint8 or int8, got {x.dtype}")
    if x.ndim == 0:
        raise ValueError(f"lowp: {name} must have at least 1 dimension")
    if any(d > _INT32_MAX for d in x.shape):
        # The kernels index with int; checked here, before any copy of a (possibly broadcast) view.
        raise ValueError(f"lowp: {name} has a dimension larger than 2**31 - 1: shape {x.shape}")
    canon = _QTYPES[_QTYPES.index(x.dtype)]
    if x.dtype is not canon:
        # Equal but distinct dtype objects (e.g. arrays that went through pickle) are rejected by
        # the native layer's identity check; a view with the canonical dtype costs nothing.
        x = x.view(canon)
    return x


def _rows_contiguous(x: np.ndarray) -> np.ndarray:
    """2-D view with contiguous rows (any row stride); copies only when it must."""
    if x.ndim == 2 and (x.shape[1] <= 1 or x.strides[1] == x.itemsize) and (
            x.shape[0] <= 1 or (x.strides[0] % x.itemsize == 0 and x.strides[0] >= x.shape[1] * x.itemsize)):
        return x
    return np.ascontiguousarray(x)


def _zero_point(zp, dtype: np.dtype, name: str, allow_vector_len: int | None = None) -> np.ndarray:
    """Returns the zero point as an int32 array of 1 (or allow_vector_len) entries."""
    lo, hi = _RANGE[dtype]
    if zp is None:
        return np.zeros(1, np.int32)
    tz = type(zp)
    if tz is int or ((tz is np.uint8 or tz is np.int8) and zp.dtype == dtype):
        # Fast path for the common scalar forms; same checks as below.
        v = int(zp)
        if v < lo or v > hi:
            raise ValueError(f"lowp: {name} out of range [{lo}, {hi}] for {dtype}")
        return np.array([v], np.int32)
    if isinstance(zp, np.ndarray) or isinstance(zp, np.generic):
        arr = np.asarray(zp)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"lowp: {name} must be an integer, got {arr.dtype}")
        if arr.dtype in _QTYPES and arr.dtype != dtype:
            raise TypeError(f"lowp: {name} has dtype {arr.dtype} but its tensor is {dtype}")
    elif isinstance(zp, numbers.Integral) and not isinstance(zp, bool):
        arr = np.asarray(int(zp))
    else:
        raise TypeError(f"lowp: {name} must be an integer or an integer array, got {type(zp).__name__}")
    flat = arr.reshape(-1).astype(np.int64)
    if flat.size == 0:
        raise ValueError(f"lowp: {name} is empty")
    if flat.size != 1:
        if allow_vector_len is None or arr.ndim != 1 or flat.size != allow_vector_len:
            want = f"a scalar or {allow_vector_len} entries" if allow_vector_len else "a scalar"
            raise ValueError(f"lowp: {name} must be {want}, got shape {arr.shape}")
    if flat.min() < lo or flat.max() > hi:
        raise ValueError(f"lowp: {name} out of range [{lo}, {hi}] for {dtype}")
    return flat.astype(np.int32)


def _scale(s, name: str, allow_vector_len: int | None = None) -> np.ndarray:
    if isinstance(s, (str, bytes, bool, np.bool_)) or s is None:
        raise TypeError(f"lowp: {name} must be a float or a float array, got {type(s).__name__}")
    arr = np.asarray(s, dtype=np.float64) if not isinstance(s, np.ndarray) else s
    if arr.dtype.kind != "f":
        raise TypeError(f"lowp: {name} must be a float, got {arr.dtype}")
    flat = arr.reshape(-1)
    if flat.size != 1 and (allow_vector_len is None or arr.ndim != 1 or flat.size != allow_vector_len):
        want = f"a scalar or {allow_vector_len} entries" if allow_vector_len else "a scalar"
        raise ValueError(f"lowp: {name} must be {want}, got shape {arr.shape}")
    if not np.all(np.isfinite(flat)) or np.any(flat <= 0):
        raise ValueError(f"lowp: {name} must be finite and > 0")
    return flat


# --------------------------------------------------------------------------- prepacked weights
class PackedMatrix:
    """Weights B (K x N, uint8 or int8) prepacked once for lowp's GEMM kernels.

    The packed layout (with column sums and zero-point terms) is built lazily for the kernel
    a call uses and cached, so repeated calls do no packing and no allocation for B.
    Pass a PackedMatrix wherever ``b`` is accepted.
    """

    def __init__(self, b: np.ndarray, b_zero_point=None):
        b = _qarray(b, "b")
        if b.ndim != 2:
            raise ValueError(f"lowp: PackedMatrix needs a 2-D matrix (K, N), got shape {b.shape}")
        if b.shape[0] < 1 or b.shape[1] < 1:
            raise ValueError(f"lowp: PackedMatrix needs K >= 1 and N >= 1, got shape {b.shape}")
        self._b = np.array(b, order="C", copy=True)
        self._b.setflags(write=False)
        self._zb = _zero_point(b_zero_point, b.dtype, "b_zero_point", allow_vector_len=b.shape[1])
        self._packed: dict[str, object] = {}
        self._specs: dict = {}  # qlinear_matmul requantization specs, by their arguments (_spec_key)

    @property
    def shape(self) -> tuple[int, int]:
        return self._b.shape

    @property
    def dtype(self) -> np.dtype:
        return self._b.dtype

    @property
    def zero_point(self) -> np.ndarray:
        return self._zb.copy()

    @property
    def matrix(self) -> np.ndarray:
        """The original (read-only) weights."""
        return self._b

    def packed(self, kernel: str = ""):
        """The native packed form for `kernel` ("" = the kernel calls would use now)."""
        key = kernel or _kernel_arg() or _lowp.default_kernel(self._b.shape[0])
        p = self._packed.get(key)
        if p is None:
            p = _lowp.PackedB(self._b, self._zb, key)
            self._packed[key] = p  # dict assignment is atomic under the GIL
        return p

    def _native(self):
        """packed() for the current kernel, minus the method-call and name-resolution overhead."""
        key = _forced_kernel.get() or (_DEFAULT_KERNEL[0] if _DEFAULT_KERNEL else _default_kernel())
        p = self._packed.get(key)
        return p if p is not None else self.packed(key)

    def __reduce__(self):
        return (PackedMatrix, (self._b, self._zb if self._zb.size > 1 else int(self._zb[0])))

    def __repr__(self) -> str:
        return f"PackedMatrix(shape={self.shape}, dtype={self.dtype}, per_column_zero_point={self._zb.size > 1})"


_DEFAULT_KERNEL: list = []


def _default_kernel() -> str:
    # select_kernel() reads $LOWP_KERNEL once per process, so its answer never changes.
    if not _DEFAULT_KERNEL:
        _DEFAULT_KERNEL.append(_lowp.default_kernel())
    return _DEFAULT_KERNEL[0]


# --------------------------------------------------------------------------- fast path
# matmul_integer / qlinear_matmul with a PackedMatrix and a 2-D activation (the serving case) make
# one native call (PackedB.matmul / PackedB.qlinear) after a few cheap checks here; anything
# unusual (other layouts, zero point forms, errors) falls through to the general path below,
# which validates in full and raises the detailed errors.
def _fast_za(zp, ch):
    """a_zero_point as an int when it is a plain in-range scalar for a's dtype character `ch`
    ("B" uint8, "b" int8), else None (general path). Characters, not dtype comparisons: cheaper."""
    if ch != "B" and ch != "b":
        return None
    if zp is None:
        return 0
    t = type(zp)
    if t is int:
        v = zp
    elif (t is np.uint8 and ch == "B") or (t is np.int8 and ch == "b"):
        v = int(zp)
    else:
        return None
    if ch == "B":
        return v if 0 <= v <= 255 else None
    return v if -128 <= v <= 127 else None


def _fast_threads(num_threads):
    if num_threads is None:
        return 0
    if type(num_threads) is int and 1 <= num_threads <= _MAX_THREADS:
        return num_threads
    return None


def _key1(x):
    """Hashable identity of one qlinear_matmul argument (type included: np.uint8(5) and np.int8(5)
    give different output dtypes); raises TypeError when there is none."""
    t = type(x)
    if t is np.ndarray:
        if x.size > 4096:
            raise TypeError("too large to key")
        return (t, x.dtype.str, x.shape, x.tobytes())
    return (t, x)


# --------------------------------------------------------------------------- batching
def _prepare(a, b, b_zero_point):
    """Validates a/b and returns (a, packed-or-array b, zb, out batch shape, squeeze flags)."""
    a = _qarray(a, "a")
    if isinstance(b, PackedMatrix):
        if b_zero_point is not None:
            raise ValueError("lowp: b_zero_point is part of the PackedMatrix; do not pass it again")
        b_arr = None
        K, N = b.shape
        b_batch = ()
    else:
        b_arr = _qarray(b, "b")
        if b_arr.ndim == 1:
            b_arr = b_arr[:, None]
        K, N = b_arr.shape[-2:]
        b_batch = b_arr.shape[:-2]
    a_vec = a.ndim == 1
    a2 = a[None, :] if a_vec else a
    if a2.shape[-1] != K:
        raise ValueError(f"lowp: shapes {a.shape} and {b.shape} are not aligned: a has K={a2.shape[-1]}, b has K={K}")
    b_vec = (not isinstance(b, PackedMatrix)) and np.ndim(b) == 1
    try:
        batch = np.broadcast_shapes(a2.shape[:-2], b_batch)
    except ValueError:
        raise ValueError(f"lowp: batch dimensions of a {a.shape} and b {np.shape(b) if b_arr is not None else b.shape} "
                         "do not broadcast") from None
    if int(np.prod(batch, dtype=np.int64)) * a2.shape[-2] > _INT32_MAX:
        raise ValueError(f"lowp: a has more than 2**31 - 1 rows in all (batch {tuple(batch)} x M {a2.shape[-2]})")
    return a2, b_arr, K, N, batch, b_batch, a_vec, b_vec


def _run(a, b, b_zero_point, a_zero_point, call):
    """Shared driver for matmul_integer/qlinear_matmul: call(a2d, za, packed, m, n) -> 2-D result."""
    if (type(b) is PackedMatrix and type(a) is np.ndarray and a.ndim == 2 and b_zero_point is None
            and a.shape[1] == b.shape[0] and 0 < a.shape[0] <= _INT32_MAX and a.dtype in _QTYPES
            and (a_zero_point is None or np.ndim(a_zero_point) == 0)):
        # Fast path: a 2-D activation against prepacked weights (the serving case).
        za = _zero_point(a_zero_point, a.dtype, "a_zero_point")
        return call(_rows_contiguous(a), int(za[0]), b.packed(_kernel_arg()), a.shape[0], b.shape[1])
    a2, b_arr, K, N, batch, b_batch, a_vec, b_vec = _prepare(a, b, b_zero_point)
    za = _zero_point(a_zero_point, a2.dtype, "a_zero_point")
    if np.ndim(a_zero_point) == 1 and np.size(a_zero_point) > 1:
        raise ValueError("lowp: per-row a_zero_point is not supported (onnxruntime also requires a scalar)")
    M = a2.shape[-2]
    if isinstance(b, PackedMatrix):
        packed = [b.packed(_kernel_arg())]
        b_dtype = b.dtype
    else:
        b_dtype = b_arr.dtype
        zb = _zero_point(b_zero_point, b_dtype, "b_zero_point", allow_vector_len=N)
        if K == 0 or N == 0 or M == 0:
            packed = None
        else:
            flat_b = b_arr.reshape((-1, K, N)) if b_batch else b_arr[None]
            packed = [_lowp.PackedB(_rows_contiguous(x), zb, _kernel_arg()) for x in flat_b]
    if not b_batch:
        # One GEMM over all rows of every batch of a.
        a_flat = a2.reshape(-1, K) if a2.ndim > 2 or not a2.flags.c_contiguous else a2
        if packed is None or a_flat.shape[0] == 0:
            y = call(None, int(za[0]), None, a_flat.shape[0], N)
        else:
            y = call(_rows_contiguous(a_flat), int(za[0]), packed[0], a_flat.shape[0], N)
        y = y.reshape(tuple(batch) + (M, N))
    else:
        a_b = np.broadcast_to(a2, tuple(batch) + (M, K)).reshape(-1, M, K)
        idx = np.broadcast_to(np.arange(int(np.prod(b_batch))).reshape(b_batch), batch).reshape(-1)
        if packed is None:
            outs = [call(None, int(za[0]), None, M, N) for _ in range(a_b.shape[0])]
        else:
            outs = [call(_rows_contiguous(a_b[i]), int(za[0]), packed[idx[i]], M, N) for i in range(a_b.shape[0])]
        y = np.stack(outs).reshape(tuple(batch) + (M, N))
    if a_vec:
        y = y[..., 0, :]
    if b_vec:
        y = y[..., 0]
    return y


# --------------------------------------------------------------------------- public functions
def matmul_integer(a, b, a_zero_point=None, b_zero_point=None, *, num_threads=None) -> np.ndarray:
    """ONNX MatMulInteger: (a - a_zero_point) @ (b - b_zero_point) in int32.

    a: uint8/int8 (..., M, K); b: uint8/int8 (..., K, N) or a PackedMatrix; numpy matmul
    broadcasting. a_zero_point is per tensor; b_zero_point per tensor or per column (N).
    Sums wrap modulo 2^32 like every int32 MatMulInteger.
    """
    if type(b) is PackedMatrix and type(a) is np.ndarray and b_zero_point is None:
        za = _fast_za(a_zero_point, a.dtype.char)
        th = 0 if num_threads is None else _fast_threads(num_threads)
        if za is not None and th is not None:
            y = b._native().matmul(a, za, th)
            if y is not None:
                return y
    threads = _threads_arg(num_threads)

    def call(a2, za, packed, m, n):
        if packed is None:
            return np.zeros((m, n), np.int32)
        return _lowp.gemm(a2, za, packed, "int32", num_threads=threads)

    return _run(a, b, b_zero_point, a_zero_point, call)


def _out_dtype(y_zero_point, a_dtype, y_dtype):
    if y_dtype is not None:
        dt = np.dtype(y_dtype)
        if dt not in _QTYPES:
            raise TypeError(f"lowp: y_dtype must be uint8 or int8, got {dt}")
        zdt = getattr(y_zero_point, "dtype", None)
        if zdt is not None and np.dtype(zdt) in _QTYPES and np.dtype(zdt) != dt:
            raise TypeError(f"lowp: y_zero_point has dtype {zdt} but y_dtype is {dt}")
        return dt
    zdt = getattr(y_zero_point, "dtype", None)
    if zdt is not None and np.dtype(zdt) in _QTYPES:
        return np.dtype(zdt)
    return np.dtype(a_dtype)


_REQUANT_CACHE: dict = {}


def _scale_key(s):
    """A hashable key for a scale argument (None when it cannot be keyed cheaply)."""
    t = type(s)
    if t is float or t is np.float32 or t is np.float64:
        return float(s)
    if t is np.ndarray and s.dtype.kind == "f" and s.size <= 4096:
        return (s.dtype.str, s.shape, s.tobytes())
    return None


def _requant_params(rounding, a_scale, b_scale, y_scale, n):
    """Per-column multipliers exactly as each family's reference computes them (memoised: a
    model calls this with the same scales on every inference)."""
    key = (rounding, n, _scale_key(a_scale), _scale_key(b_scale), _scale_key(y_scale))
    if None in key:
        return _requant_params_uncached(rounding, a_scale, b_scale, y_scale, n)
    hit = _REQUANT_CACHE.get(key)
    if hit is None:
        hit = _requant_params_uncached(rounding, a_scale, b_scale, y_scale, n)
        for v in hit.values():
            v.setflags(write=False)
        if len(_REQUANT_CACHE) >= 512:
            _REQUANT_CACHE.clear()
        _REQUANT_CACHE[key] = hit
    return hit


def _requant_params_uncached(rounding, a_scale, b_scale, y_scale, n):
    if rounding not in ROUNDINGS:
        raise ValueError(f"lowp: unknown rounding {rounding!r} (expected one of {ROUNDINGS})")
    sa = _scale(a_scale, "a_scale")
    sb = _scale(b_scale, "b_scale", allow_vector_len=n)
    sy = _scale(y_scale, "y_scale")
    if rounding == "half_even":
        # onnxruntime: float32 a_scale * b_scale / y_scale, in that order, in float32.
        with np.errstate(over="ignore", under="ignore"):
            scale = (np.float32(sa[0]) * sb.astype(np.float32)) / np.float32(sy[0])
        if not np.all(np.isfinite(scale)):
            raise ValueError("lowp: requantization scale a_scale*b_scale/y_scale overflows float32")
        return dict(scale=np.ascontiguousarray(scale, dtype=np.float32))
    # TFLite: double(input_scale) * double(filter_scale) / double(output_scale), QuantizeMultiplier.
    real = (np.float64(np.float32(sa[0])) * sb.astype(np.float32).astype(np.float64)) / np.float64(np.float32(sy[0]))
    single = rounding == "single"
    ms = [_lowp.quantize_multiplier(float(r), single) for r in real]
    shifts = np.array([s for _, s in ms], np.int32)
    if shifts.max() > 30 or shifts.min() < -31:
        raise ValueError("lowp: requantization multiplier a_scale*b_scale/y_scale is out of the supported range")
    return dict(multiplier=np.array([m for m, _ in ms], np.int32), shift=shifts)


def _act_range(dt, activation_min, activation_max):
    lo, hi = _RANGE[dt]
    for v, nm in ((activation_min, "activation_min/qmin"), (activation_max, "activation_max/qmax")):
        if v is not None and (not isinstance(v, (numbers.Integral, np.integer)) or isinstance(v, (bool, np.bool_))):
            raise TypeError(f"lowp: {nm} must be an integer, got {type(v).__name__}")
    qmin = lo if activation_min is None else int(activation_min)
    qmax = hi if activation_max is None else int(activation_max)
    if not (lo <= qmin <= qmax <= hi):
        raise ValueError(f"lowp: activation range [{qmin}, {qmax}] must lie inside [{lo}, {hi}] with min <= max")
    return qmin, qmax


def qlinear_matmul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point, *, bias=None,
                   rounding: str = "half_even", activation_min=None, activation_max=None, y_dtype=None,
                   num_threads=None) -> np.ndarray:
    """ONNX QLinearMatMul: quantized a @ b requantized to y's scale and zero point.

    b may be a PackedMatrix (then b_zero_point must be None: it is the packed one).
    b_scale is per tensor or per column (N). bias is an optional int32 vector (N) added to the
    accumulator before requantization (as in QLinearConv / TFLite FULLY_CONNECTED).
    rounding: "half_even" (onnxruntime, default), "gemmlowp" (TFLite reference) or "single"
    (TFLITE_SINGLE_ROUNDING / ruy). activation_min/max clamp the output (fused ReLU/ReLU6).
    """
    if type(b) is PackedMatrix and type(a) is np.ndarray and b_zero_point is None:
        ch = a.dtype.char
        za = _fast_za(a_zero_point, ch)  # None unless a is uint8/int8 and the zero point simple
        th = 0 if num_threads is None else _fast_threads(num_threads)
        if za is not None and th is not None:
            # Scalars key as (type, value) pairs directly; numpy arrays (unhashable) by their bytes.
            key = (ch, type(a_scale), a_scale, type(b_scale), b_scale, type(y_scale), y_scale,
                   type(y_zero_point), y_zero_point, rounding, type(activation_min), activation_min,
                   type(activation_max), activation_max, y_dtype)
            try:
                spec = b._specs.get(key)
            except TypeError:
                try:
                    key = (ch, _key1(a_scale), _key1(b_scale), _key1(y_scale), _key1(y_zero_point),
                           _key1(rounding), _key1(activation_min), _key1(activation_max), _key1(y_dtype))
                    spec = b._specs.get(key)
                except TypeError:  # unhashable or large argument: no memo
                    key = spec = None
            if spec is None:
                spec = _qlinear_spec(a.dtype, a_scale, b.shape[1], b_scale, y_scale, y_zero_point, rounding,
                                     activation_min, activation_max, y_dtype)
                if key is not None:
                    if len(b._specs) >= 64:
                        b._specs.clear()
                    b._specs[key] = spec
            y = b._native().qlinear(a, za, spec, bias, th)
            if y is not None:
                return y
    threads = _threads_arg(num_threads)
    a = _qarray(a, "a")
    N = b.shape[-1] if isinstance(b, PackedMatrix) else (np.shape(b)[-1] if np.ndim(b) >= 2 else 1)
    dt = _out_dtype(y_zero_point, a.dtype, y_dtype)
    zy = int(_zero_point(y_zero_point, dt, "y_zero_point")[0])
    qmin, qmax = _act_range(dt, activation_min, activation_max)
    params = _requant_params(rounding, a_scale, b_scale, y_scale, N)
    if bias is not None:
        bias = np.asarray(bias)
        if bias.dtype != np.int32:
            raise TypeError(f"lowp: bias must be int32, got {bias.dtype}")
        if bias.ndim != 1 or bias.shape[0] != N:
            raise ValueError(f"lowp: bias must have shape ({N},), got {bias.shape}")
    if isinstance(b, PackedMatrix) and b_zero_point is not None:
        raise ValueError("lowp: b_zero_point is part of the PackedMatrix; do not pass it again")
    if np.ndim(y_zero_point) > 0 and np.size(y_zero_point) != 1:
        raise ValueError("lowp: y_zero_point must be a scalar")

    def call(a2, za, packed, m, n):
        if packed is None:
            # K == 0: the accumulator is just the bias.
            acc = np.zeros((m, n), np.int32) + (bias if bias is not None else 0)
            return requantize(acc.astype(np.int32), params.get("multiplier", params.get("scale")),
                              params.get("shift"), zy, qmin, qmax, rounding=rounding, dtype=dt)
        return _lowp.gemm(a2, za, packed, dt.name, rounding, bias=bias, zero_point=zy, qmin=qmin, qmax=qmax,
                          num_threads=threads, **params)

    return _run(a, b, b_zero_point, a_zero_point, call)


def _qlinear_spec(a_dtype, a_scale, n, b_scale, y_scale, y_zero_point, rounding, activation_min, activation_max,
                  y_dtype):
    """The native requantization spec of a qlinear_matmul call (same checks as the general path)."""
    dt = _out_dtype(y_zero_point, a_dtype, y_dtype)
    zy = int(_zero_point(y_zero_point, dt, "y_zero_point")[0])
    qmin, qmax = _act_range(dt, activation_min, activation_max)
    params = _requant_params(rounding, a_scale, b_scale, y_scale, n)
    if np.ndim(y_zero_point) > 0 and np.size(y_zero_point) != 1:
        raise ValueError("lowp: y_zero_point must be a scalar")
    return _lowp.OutputSpec(dt.name, rounding, params.get("multiplier"), params.get("shift"), params.get("scale"), zy,
                            qmin, qmax)


def quantize_multiplier(real: float, *, single_rounding: bool = False) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: ``real ~= multiplier * 2**(shift - 31)``.

    multiplier is a Q31 int32 in [2^30, 2^31) (or 0), shift > 0 means a left shift. With
    single_rounding=True, shifts above 30 saturate as under TFLITE_SINGLE_ROUNDING.
    """
    if not isinstance(real, numbers.Real) or isinstance(real, (bool, np.bool_)):
        raise TypeError(f"lowp: the real multiplier must be a float, got {type(real).__name__}")
    real = float(real)
    if not np.isfinite(real) or real < 0:
        raise ValueError("lowp: the real multiplier must be finite and >= 0")
    m, s = _lowp.quantize_multiplier(real, bool(single_rounding))
    return int(m), int(s)


def requantize(acc, multiplier, shift, zero_point, qmin=None, qmax=None, rounding: str = "gemmlowp", *,
               dtype=None) -> np.ndarray:
    """Requantize int32 accumulators to 8 bits: ``clamp(round(acc * M) + zero_point, qmin, qmax)``.

    rounding="gemmlowp" or "single": M = multiplier * 2**(shift - 31) (from quantize_multiplier).
    rounding="half_even": ``multiplier`` is the float32 scale M and ``shift`` must be None/0.
    multiplier/shift may be per channel along the last axis of acc. The output dtype is
    `dtype`, else the dtype of a numpy zero_point, else int8 if qmin < 0 else uint8.
    """
    if rounding not in ROUNDINGS:
        raise ValueError(f"lowp: unknown rounding {rounding!r} (expected one of {ROUNDINGS})")
    acc = np.asarray(acc)
    if acc.dtype != np.int32:
        raise TypeError(f"lowp: acc must be int32, got {acc.dtype}")
    if dtype is not None:
        dt = np.dtype(dtype)
    elif getattr(zero_point, "dtype", None) is not None and np.dtype(zero_point.dtype) in _QTYPES:
        dt = np.dtype(zero_point.dtype)
    elif qmin is not None and int(qmin) < 0:
        dt = np.dtype(np.int8)
    elif qmin is not None or qmax is not None:
        dt = np.dtype(np.uint8)
    else:
        dt = np.dtype(np.int8)
    if dt not in _QTYPES:
        raise TypeError(f"lowp: dtype must be uint8 or int8, got {dt}")
    zp = int(_zero_point(zero_point, dt, "zero_point")[0])
    lo, hi = _act_range(dt, qmin, qmax)
    if rounding == "half_even":
        if shift is not None and np.any(np.asarray(shift) != 0):
            raise ValueError("lowp: rounding='half_even' takes a float scale as `multiplier` and no shift")
        scale = np.asarray(multiplier, dtype=np.float32).reshape(-1)
        if not np.all(np.isfinite(scale)) or np.any(scale < 0):
            raise ValueError("lowp: scale must be finite and >= 0")
        return _lowp.requantize(acc, np.zeros(1, np.int32), np.zeros(1, np.int32), scale, zp, lo, hi, rounding, dt.name)
    m = np.asarray(multiplier)
    s = np.asarray(shift)
    if m.dtype.kind not in "iu" or s.dtype.kind not in "iu":
        raise TypeError("lowp: multiplier and shift must be integers (use quantize_multiplier)")
    m = m.astype(np.int64).reshape(-1)
    s = s.astype(np.int64).reshape(-1)
    if m.min() < 0 or m.max() > 2**31 - 1:
        raise ValueError("lowp: multiplier must be in [0, 2^31)")
    if s.min() < -31 or s.max() > 30:
        raise ValueError("lowp: shift must be in [-31, 30]")
    return _lowp.requantize(acc, m.astype(np.int32), s.astype(np.int32), np.zeros(1, np.float32), zp, lo, hi, rounding,
                            dt.name)
