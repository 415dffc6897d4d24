"""numpy implementations of the ONNX float/glue ops lowp runs outside its integer kernels.

Used three ways: to fold constant subgraphs at load (Shape/Gather/Constant chains), to evaluate an
elementwise chain on the 256 values of an 8-bit tensor (building a lookup table), and at run time
for glue (Reshape, Transpose, ...) which moves data without arithmetic and so is exact on integers.
Arithmetic is float32 like onnxruntime's CPU kernels, except Erf, Gelu and LayerNormalization (the float ops
of quantize_dynamic transformers), computed in float64 and rounded: neither is onnxruntime's float32 order, so
their results may differ from its in the last bits. Softmax (last axis), Gelu, LayerNormalization and MatMul on
float32 call lowp's native functions (ops/float_glue.h), which the native executor runs too. Each entry: fn(attrs, *inputs) -> [outputs].
"""
from __future__ import annotations

import functools
import math

import numpy as np


def _axes_arg(attrs, inputs, idx=1):
    if len(inputs) > idx and inputs[idx] is not None:
        return [int(a) for a in np.asarray(inputs[idx]).reshape(-1)]
    a = attrs.get("axes")
    return None if a is None else [int(x) for x in a]


def _reshape(attrs, x, shape):
    shape = [int(s) for s in np.asarray(shape).reshape(-1)]
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return [x.reshape(shape)]


def _flatten(attrs, x):
    ax = int(attrs.get("axis", 1))
    ax = ax + x.ndim if ax < 0 else ax
    return [x.reshape(int(np.prod(x.shape[:ax], dtype=np.int64)), -1)]


def _squeeze(attrs, *inp):
    x = inp[0]
    axes = _axes_arg(attrs, inp)
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    return [np.squeeze(x, axis=tuple(a % x.ndim for a in axes))]


def _unsqueeze(attrs, *inp):
    x = inp[0]
    axes = _axes_arg(attrs, inp)
    r = x.ndim + len(axes)
    for a in sorted(a % r for a in axes):
        x = np.expand_dims(x, a)
    return [x]


def _concat(attrs, *xs):
    return [np.concatenate(xs, axis=int(attrs["axis"]))]


def _split(attrs, *inp):
    x = inp[0]
    ax = int(attrs.get("axis", 0)) % x.ndim
    if len(inp) > 1 and inp[1] is not None:
        sizes = [int(s) for s in np.asarray(inp[1]).reshape(-1)]
    elif "split" in attrs:
        sizes = [int(s) for s in attrs["split"]]
    else:
        n = int(attrs.get("num_outputs", attrs.get("_num_outputs", 1)))
        c = -(-x.shape[ax] // n)
        sizes = [min(c, x.shape[ax] - i * c) for i in range(n)]
    return list(np.split(x, np.cumsum(sizes)[:-1], axis=ax))


def _slice(attrs, *inp):
    x = inp[0]
    if len(inp) > 1:
        starts = np.asarray(inp[1]).reshape(-1)
        ends = np.asarray(inp[2]).reshape(-1)
        axes = np.asarray(inp[3]).reshape(-1) if len(inp) > 3 and inp[3] is not None else np.arange(len(starts))
        steps = np.asarray(inp[4]).reshape(-1) if len(inp) > 4 and inp[4] is not None else np.ones(len(starts), np.int64)
    else:
        starts, ends = attrs["starts"], attrs["ends"]
        axes = attrs.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    sl = [slice(None)] * x.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        d = x.shape[int(a)]
        s, e, st = int(s), int(e), int(st)
        # ONNX clamps out-of-range starts/ends (INT64_MAX/MIN sentinels); Python slicing does too.
        s = max(min(s, d), -d - 1) if st > 0 else s
        sl[int(a) % x.ndim] = slice(s, None if (st < 0 and e < -d) else e, st)
    return [x[tuple(sl)]]


def _pad(attrs, *inp):
    x = inp[0]
    mode = attrs.get("mode", "constant")
    if len(inp) > 1:
        pads = [int(p) for p in np.asarray(inp[1]).reshape(-1)]
        value = inp[2].reshape(-1)[0] if len(inp) > 2 and inp[2] is not None and np.size(inp[2]) else 0
        axes = [int(a) % x.ndim for a in np.asarray(inp[3]).reshape(-1)] if len(inp) > 3 and inp[3] is not None \
            else list(range(x.ndim))
    else:
        pads = list(attrs["pads"])
        value = attrs.get("value", 0.0)
        axes = list(range(x.ndim))
    n = len(axes)
    width = [(0, 0)] * x.ndim
    for i, a in enumerate(axes):
        width[a] = (pads[i], pads[i + n])
    if any(b < 0 or e < 0 for b, e in width):
        raise ValueError("lowp: negative Pad amounts are not supported")
    if mode == "constant":
        return [np.pad(x, width, mode="constant", constant_values=np.asarray(value).astype(x.dtype))]
    for a, (b, e) in enumerate(width):
        if (b or e) and x.shape[a] == 0:
            raise ValueError(f"lowp: Pad mode {mode!r} cannot pad the empty axis {a}")
        if mode == "reflect" and max(b, e) >= x.shape[a]:
            raise ValueError(f"lowp: Pad mode 'reflect' needs pads smaller than the axis (axis {a} has size "
                             f"{x.shape[a]}, pads {b}, {e}), as onnxruntime requires")
    return [np.pad(x, width, mode={"reflect": "reflect", "edge": "edge"}[mode])]


def _transpose(attrs, x):
    perm = attrs.get("perm")
    return [np.ascontiguousarray(np.transpose(x, perm))]


def _gather(attrs, x, idx):
    ax = int(attrs.get("axis", 0))
    idx = np.asarray(idx)
    return [np.take(x, np.where(idx < 0, idx + x.shape[ax], idx), axis=ax)]


def _clip(attrs, *inp):
    x = inp[0]
    lo = inp[1] if len(inp) > 1 and inp[1] is not None and np.size(inp[1]) else attrs.get("min")
    hi = inp[2] if len(inp) > 2 and inp[2] is not None and np.size(inp[2]) else attrs.get("max")
    y = x
    if lo is not None:
        y = np.maximum(y, np.asarray(lo, dtype=x.dtype))
    if hi is not None:
        y = np.minimum(y, np.asarray(hi, dtype=x.dtype))
    return [y]


def _f32(fn):
    def g(attrs, *xs):
        with np.errstate(all="ignore"):
            return [np.asarray(fn(attrs, *xs))]
    return g


def _hardsigmoid(a, x):
    alpha = np.float32(a.get("alpha", 0.2))
    beta = np.float32(a.get("beta", 0.5))
    return np.minimum(np.maximum(x * alpha + beta, np.float32(0)), np.float32(1)).astype(x.dtype)


def _cast(attrs, x):
    import onnx

    return [x.astype(onnx.helper.tensor_dtype_to_np_dtype(int(attrs["to"])))]


def _constant_of_shape(attrs, shape):
    v = attrs.get("value")
    v = np.zeros(1, np.float32) if v is None else np.asarray(v).reshape(-1)
    return [np.full([int(s) for s in np.asarray(shape).reshape(-1)], v[0], dtype=v.dtype)]


@functools.lru_cache(maxsize=None)
def _native():
    """lowp's native module, or None (then the numpy forms below); looked up once, not per step call."""
    try:
        from .. import _lowp
    except ImportError:  # pragma: no cover - the package always builds it
        return None
    return _lowp if hasattr(_lowp, "float_softmax") else None


def _softmax(attrs, x):
    ax = int(attrs.get("axis", -1))
    L = _native()
    if L is not None and x.dtype == np.float32 and x.size and ax % max(x.ndim, 1) == x.ndim - 1:
        return L.float_softmax(x)  # ops/float_glue.h: the native executor's own function
    e = np.exp(x - np.max(x, axis=ax, keepdims=True))
    return (e / np.sum(e, axis=ax, keepdims=True)).astype(x.dtype)


def float_matmul(a, b):
    """float32 MatMul with numpy's broadcasting, as ops/float_glue.h computes it (sums over k in order); other types
    or vectors through numpy."""
    L = _native()
    if L is None or a.dtype != np.float32 or b.dtype != np.float32 or a.ndim < 2 or b.ndim < 2:
        return (a @ b).astype(np.float32)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a3 = np.broadcast_to(a, batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
    b3 = np.broadcast_to(b, batch + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
    if a3.shape[0] == 0:
        return np.zeros(batch + (a.shape[-2], b.shape[-1]), np.float32)
    return L.float_matmul(a3, b3).reshape(batch + (a.shape[-2], b.shape[-1]))


# erf(z) = 2 / sqrt(pi) * sum_n (-1)^n z^(2n+1) / (n! (2n+1)): Horner coefficients in z^2, 16 terms (relative
# error < 1e-13 for |z| <= 1).
_ERF_SERIES = [(-1.0) ** n / (math.factorial(n) * (2 * n + 1)) * 2.0 / math.sqrt(math.pi) for n in range(16)][::-1]


def _erf_series(z):
    """erf for |z| <= 1, by its Maclaurin series."""
    z2 = z * z
    acc = np.full_like(z, _ERF_SERIES[0])
    for c in _ERF_SERIES[1:]:
        acc = acc * z2 + c
    return acc * z


def _erfc_fit(z):
    """erfc by the Chebyshev fit of Numerical Recipes' erfcc: relative error < 1.2e-7 for every z, also in the far
    tails where 1 - erf would cancel."""
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.5 * a)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (
        0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    r = t * np.exp(-a * a + poly)
    return np.where(z >= 0, r, 2.0 - r)


def _erfc64(z):
    """erfc of a float64 array: 1 - the series below |z| = 1 (erfc > 0.15 there: no cancellation), the fit above:
    within ~2 ulps of float32 everywhere."""
    small = np.abs(z) < 1.0
    out = np.empty_like(z)
    out[small] = 1.0 - _erf_series(z[small])
    out[~small] = _erfc_fit(z[~small])
    return out


def _erf64(z):
    """erf of a float64 array: the series below |z| = 1 (where 1 - erfc would lose the small values' precision),
    1 - the fit above (relative error < 3e-8)."""
    small = np.abs(z) < 1.0
    out = np.empty_like(z)
    out[small] = _erf_series(z[small])
    out[~small] = 1.0 - _erfc_fit(z[~small])
    return out


def _gelu(attrs, x):
    """ONNX Gelu (opset 20): x Phi(x), or its tanh approximation; float64 inside, rounded to x's type. The exact
    form as 0.5 x erfc(-x / sqrt 2): relative accuracy also where Phi(x) is tiny."""
    a = attrs.get("approximate", "none")
    a = a.decode() if isinstance(a, bytes) else a
    L = _native()
    if L is not None and np.asarray(x).dtype == np.float32 and a in ("tanh", "none"):
        return L.float_gelu(x, a == "tanh")  # the same double arithmetic, in C++ (std::erfc / std::tanh)
    x64 = np.asarray(x, np.float64)
    if a == "tanh":
        y = 0.5 * x64 * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x64 + 0.044715 * x64 ** 3)))
    elif a == "none":
        y = 0.5 * x64 * _erfc64(-x64 / np.sqrt(2.0))
    else:
        raise ValueError(f"lowp: Gelu approximate={a!r} (ONNX allows 'none' and 'tanh')")
    return y.astype(x.dtype)


def _layer_norm(attrs, x, scale, bias=None):
    """ONNX LayerNormalization: normalized over the axes from `axis` on (float64 inside, rounded to x's type);
    outputs Y, Mean and InvStdDev (the last two with the normalized axes kept as 1)."""
    ax = int(attrs.get("axis", -1))
    ax = ax + x.ndim if ax < 0 else ax
    if not 0 <= ax < x.ndim:
        raise ValueError(f"lowp: LayerNormalization axis {attrs.get('axis', -1)} is out of range for a {x.ndim}-D input")
    axes = tuple(range(ax, x.ndim))
    L = _native()
    if L is not None and x.dtype == np.float32 and x.size:
        inner = x.shape[ax:]
        ln = int(np.prod(inner))
        sc = np.ascontiguousarray(np.broadcast_to(np.asarray(scale, np.float32), inner)).reshape(-1)
        bi = None if bias is None else np.ascontiguousarray(np.broadcast_to(np.asarray(bias, np.float32),
                                                                            inner)).reshape(-1)
        y, mean, inv = L.float_layer_norm(x.reshape(-1, ln), sc, bi, float(attrs.get("epsilon", 1e-5)))
        keep = x.shape[:ax] + (1,) * (x.ndim - ax)
        return [y.reshape(x.shape), mean.reshape(keep), inv.reshape(keep)]
    x64 = np.asarray(x, np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    inv = 1.0 / np.sqrt(((x64 - mean) ** 2).mean(axis=axes, keepdims=True) + float(attrs.get("epsilon", 1e-5)))
    y = (x64 - mean) * inv * np.asarray(scale, np.float64)
    if bias is not None:
        y = y + np.asarray(bias, np.float64)
    stash = np.float32 if int(attrs.get("stash_type", 1)) == 1 else x.dtype
    return [y.astype(x.dtype), mean.astype(stash), inv.astype(stash)]


def _global_avg_pool(attrs, x):
    return np.mean(x, axis=tuple(range(2, x.ndim)), keepdims=True, dtype=np.float32).astype(x.dtype)


def _reduce_mean(attrs, *inp):
    x = inp[0]
    axes = _axes_arg(attrs, inp)
    if axes is not None:
        norm = [a + x.ndim if a < 0 else a for a in axes]
        if any(not 0 <= a < x.ndim for a in norm) or len(set(norm)) != len(norm):
            raise ValueError(f"lowp: ReduceMean axes {axes} are out of range or repeated for a {x.ndim}-D input")
        if not axes and attrs.get("noop_with_empty_axes", 0):
            return x
        axes = norm or None
    keep = bool(attrs.get("keepdims", 1))
    return np.mean(x, axis=None if axes is None else tuple(axes), keepdims=keep).astype(x.dtype)


def _nearest_index(i, in_size, out_size, scale, ctm, nearest_mode):
    i = i.astype(np.float32)
    s = np.float32(scale)
    if ctm == "asymmetric":
        x = i / s
    elif ctm == "align_corners":
        x = i * np.float32(in_size - 1) / np.float32(out_size - 1) if out_size > 1 else np.zeros_like(i)
    elif ctm == "tf_half_pixel_for_nn":
        x = (i + np.float32(0.5)) / s
    elif ctm == "pytorch_half_pixel":
        x = (i + np.float32(0.5)) / s - np.float32(0.5) if out_size > 1 else np.zeros_like(i)
    else:  # half_pixel
        x = (i + np.float32(0.5)) / s - np.float32(0.5)
    if nearest_mode == "floor":
        r = np.floor(x)
    elif nearest_mode == "ceil":
        r = np.ceil(x)
    elif nearest_mode == "round_prefer_ceil":
        r = np.floor(x + np.float32(0.5))
    else:  # round_prefer_floor
        r = np.ceil(x - np.float32(0.5))
    return np.clip(r.astype(np.int64), 0, in_size - 1)


def _resize(attrs, *inp):
    """ONNX Resize, mode "nearest" only (pure data movement, exact on integers)."""
    x = inp[0]
    if attrs.get("mode", "nearest") != "nearest":
        raise NotImplementedError("lowp: Resize supports mode='nearest' only")
    scales = inp[2] if len(inp) > 2 and inp[2] is not None and np.size(inp[2]) else None
    sizes = inp[3] if len(inp) > 3 and inp[3] is not None and np.size(inp[3]) else None
    if sizes is not None:
        out = [int(v) for v in np.asarray(sizes).reshape(-1)]
        sc = [np.float32(o) / np.float32(i) for o, i in zip(out, x.shape)]
    else:
        sc = [np.float32(v) for v in np.asarray(scales, np.float32).reshape(-1)]
        out = [int(np.floor(np.float32(d) * s)) for d, s in zip(x.shape, sc)]
    ctm = attrs.get("coordinate_transformation_mode", "half_pixel")
    nm = attrs.get("nearest_mode", "round_prefer_floor")
    y = x
    for ax in range(x.ndim):
        if out[ax] == x.shape[ax] and sc[ax] == 1:
            continue
        idx = _nearest_index(np.arange(out[ax]), x.shape[ax], out[ax], sc[ax], ctm, nm)
        y = np.take(y, idx, axis=ax)
    return [np.ascontiguousarray(y)]


def _dynamic_quantize_linear(attrs, x):
    """ONNX DynamicQuantizeLinear (uint8) in float32, as the spec and onnxruntime compute it."""
    x = np.asarray(x, np.float32)
    if not np.isfinite(x).all():
        raise ValueError("lowp: DynamicQuantizeLinear input contains NaN or infinity (no finite scale exists)")
    lo = np.minimum(np.float32(0), x.min()) if x.size else np.float32(0)
    hi = np.maximum(np.float32(0), x.max()) if x.size else np.float32(0)
    scale = np.float32((hi - lo) / np.float32(255))
    if scale == 0:
        scale = np.float32(1)  # all zeros: any scale gives y = zp = 0
    zp = np.clip(np.rint(np.float32(0) - lo / scale), 0, 255).astype(np.uint8)
    y = np.clip(np.rint(x / scale) + np.float32(zp), 0, 255).astype(np.uint8)
    return [y, np.array(scale, np.float32), np.array(zp, np.uint8)]


FLOAT_OPS = {
    "Resize": _resize,
    "DynamicQuantizeLinear": _dynamic_quantize_linear,
    "Identity": lambda a, x: [x],
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Concat": _concat,
    "Split": _split,
    "Slice": _slice,
    "Pad": _pad,
    "Transpose": _transpose,
    "Shape": lambda a, x: [np.array(x.shape, np.int64)[int(a.get("start", 0)):a.get("end")]],
    "Size": lambda a, x: [np.array(x.size, np.int64)],
    "Gather": _gather,
    "Cast": _cast,
    "ConstantOfShape": _constant_of_shape,
    "Expand": lambda a, x, s: [x * np.ones([int(v) for v in np.asarray(s).reshape(-1)], x.dtype)],
    "Range": lambda a, s, l, d: [np.arange(s, l, d).astype(np.asarray(s).dtype)],
    "Add": _f32(lambda a, x, y: x + y),
    "Sub": _f32(lambda a, x, y: x - y),
    "Mul": _f32(lambda a, x, y: x * y),
    "Div": _f32(lambda a, x, y: x // y if np.asarray(x).dtype.kind in "iu" else x / y),
    "Pow": _f32(lambda a, x, y: np.power(x, y.astype(x.dtype) if x.dtype.kind == "f" else y)),
    "Min": _f32(lambda a, *xs: np.minimum.reduce(np.broadcast_arrays(*xs))),
    "Max": _f32(lambda a, *xs: np.maximum.reduce(np.broadcast_arrays(*xs))),
    "Neg": _f32(lambda a, x: -x),
    "Abs": _f32(lambda a, x: np.abs(x)),
    "Relu": _f32(lambda a, x: np.maximum(x, np.zeros((), x.dtype))),
    "LeakyRelu": _f32(lambda a, x: np.where(x >= 0, x, x * np.float32(a.get("alpha", 0.01))).astype(x.dtype)),
    "Clip": _clip,
    "Sigmoid": _f32(lambda a, x: (np.float32(1) / (np.float32(1) + np.exp(-x))).astype(x.dtype)),
    "HardSigmoid": _f32(_hardsigmoid),
    "HardSwish": _f32(lambda a, x: x * _hardsigmoid({"alpha": 1 / 6, "beta": 0.5}, x)),
    "Tanh": _f32(lambda a, x: np.tanh(x)),
    "Exp": _f32(lambda a, x: np.exp(x)),
    "Sqrt": _f32(lambda a, x: np.sqrt(x)),
    "Reciprocal": _f32(lambda a, x: np.float32(1) / x),
    "Floor": _f32(lambda a, x: np.floor(x)),
    "Ceil": _f32(lambda a, x: np.ceil(x)),
    "Softmax": _f32(_softmax),
    "Mod": _f32(lambda a, x, y: np.fmod(x, y) if a.get("fmod", 0) else np.mod(x, y)),
    "Erf": _f32(lambda a, x: _erf64(np.asarray(x, np.float64)).astype(x.dtype)),
    "Gelu": _f32(_gelu),
    "LayerNormalization": _layer_norm,
    "GlobalAveragePool": _f32(_global_avg_pool),
    "ReduceMean": _f32(_reduce_mean),
    "Equal": lambda a, x, y: [np.equal(x, y)],
    "Where": lambda a, c, x, y: [np.where(c, x, y)],
}

# Pure data movement: exact on integer tensors, so they run directly on quantized data.
MOVE_OPS = {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Slice", "Split", "Concat",
            "Pad", "Gather", "Expand", "Resize"}
# Elementwise ops on one tensor (other inputs constant scalars) that a lookup table can absorb.
ELEMENTWISE_OPS = {"Add", "Sub", "Mul", "Div", "Pow", "Min", "Max", "Neg", "Abs", "Relu", "LeakyRelu", "Clip",
                   "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Exp", "Sqrt", "Reciprocal", "Floor", "Ceil",
                   "Identity"}
# Ops evaluated only at load time (shape arithmetic), never at run time on activations.
SHAPE_OPS = {"Shape", "Size", "Cast", "ConstantOfShape", "Range", "Equal", "Where"}


def evaluate(op: str, attrs: dict, inputs: list) -> list:
    fn = FLOAT_OPS[op]
    return fn(attrs, *inputs)
