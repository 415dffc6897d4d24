"""Kernel adapters: one per lowp node kind, calling lowp's functional API on prepacked constants.

Each make_* builds its immutable state once (packed weights, requantization scales) and returns a
function of numpy arrays that allocates only its outputs, so one adapter can run from many threads.

TEMPORARY FALLBACKS (marked "FALLBACK" below): until lowp.ops.conv / lowp.ops.eltwise provide the
operator kernels, convolution runs as numpy im2col + lowp's exact GEMM (lowp.qlinear_matmul with a
PackedMatrix: integer accumulation, onnxruntime's float32 half-to-even requantization), depthwise
convolution as numpy int32 accumulation + lowp.requantize, and max-pool as numpy max over uint8/int8
(LOWP_GRAPH_FALLBACK=1 or LOWP_GRAPH_MAXPOOL=numpy; by default max-pool is lowp's native kernel).
All are exact (integer arithmetic, same requantization as the kernels); they are slow, not approximate.
"""
from __future__ import annotations

import os

import numpy as np

from .. import _lowp
from .. import gemm as _gemm

try:
    from ..ops import conv as _convops
except ImportError:  # pragma: no cover
    _convops = None
try:
    from ..ops import eltwise as _eltops
except ImportError:  # pragma: no cover
    _eltops = None
from .float_ops import evaluate
from .quant import RANGES, quantize

NHWC_AXIS = {0: 0, 1: 3, 2: 1, 3: 2}  # NCHW axis -> NHWC axis

# Native descriptions (passes/native.py): an adapter's callable may carry ``fn.native(nb, ins, outs)``
# that emits, through the recorder nb, native ops computing exactly what fn computes (parameters
# bound from the probe shapes). Returning False keeps the step in Python.


def with_native(fn, desc):
    fn.native = desc
    return fn


def _prod(shape):
    n = 1
    for d in shape:
        n *= int(d)
    return n


def native_transpose(perm):
    def desc(nb, ins, outs):
        x, y = ins[0], outs[0]
        shp = nb.shape(x)
        if len(shp) != len(perm) or nb.dtype(x) != nb.dtype(y):
            return False
        esz = nb.dtype(x).itemsize
        nb.op([x], [y], lambda P, S: P.transpose(S(x), S(y), list(shp), list(perm), esz, name=f"transpose({y})"))
        return True
    return desc


def native_alias(nb, ins, outs):
    """Reshape / Flatten / Squeeze / Unsqueeze / Identity: same bytes, new shape (no copy)."""
    x, y = ins[0], outs[0]
    xa, ya = nb.array(x), nb.array(y)
    if xa is None or ya is None or xa.dtype != ya.dtype or xa.nbytes != ya.nbytes or len(outs) != 1:
        return False
    nb.alias(y, x)
    return True


def _copy_runs(src, es):
    """(n, 3) int64 {src byte offset, dst byte offset, bytes}: maximal runs of consecutive source
    elements in the flat source-index array `src` (one entry per output element)."""
    src = np.asarray(src, np.int64).reshape(-1)
    if src.size == 0:
        return np.zeros((0, 3), np.int64)
    brk = np.flatnonzero(np.diff(src) != 1) + 1
    starts = np.concatenate([[0], brk])
    ends = np.concatenate([brk, [src.size]])
    return np.stack([src[starts] * es, starts * es, (ends - starts) * es], axis=1).astype(np.int64)


def native_index_move(op, attrs, fn=None):
    """Slice / Split / Gather / Expand / Transpose / nearest Resize ...: pure data movement whose
    other inputs are constants for this signature. The step itself (fn, default evaluate(op)),
    run on an array of element indices, says where every output element comes from; contiguous
    runs become one native copy op."""
    def desc(nb, ins, outs):
        xa = nb.array(ins[0])
        if xa is None or xa.size > (1 << 26):
            return False
        others = []
        for i in ins[1:]:
            v = nb.value(i) if i else None
            if i and v is None:
                return False
            others.append(v)
        idx = np.arange(xa.size, dtype=np.int64).reshape(xa.shape)
        res = evaluate(op, attrs, [idx] + others) if fn is None else fn(idx, *others)
        ys, runs = [], []
        for o, r in zip(outs, res):
            if not o:
                continue
            ya = nb.array(o)
            if ya is None or ya.dtype != xa.dtype or ya.shape != np.shape(r):
                return False
            ys.append(o)
            runs.append(_copy_runs(r, xa.dtype.itemsize))
        if not ys:
            return False
        x = ins[0]
        nb.op([x], ys, lambda P, S: P.copy_runs(S(x), [S(o) for o in ys], runs, name=f"{op}({ys[0]})"))
        return True
    return desc


def native_index_fn(fn):
    """Native form of a data-movement callable `fn(x, *constant inputs)` (the NHWC Split / Slice / Resize /
    channel Gather adapters below): evaluated once on an array of element indices, it says where every
    output element comes from; contiguous runs become one native copy op (native_index_move)."""
    return native_index_move("nhwc_move", None, fn=fn)


def native_concat(axis, tables=None):
    """Concatenation of contiguous tensors along `axis` (tables(nb, ins) -> per-input 256-entry
    requantization tables or None)."""
    def desc(nb, ins, outs):
        xs = [i for i in ins if i]
        y = outs[0]
        ys = nb.shape(y)
        nd = len(ys)
        ax = axis + nd if axis < 0 else axis
        dt = nb.dtype(y)
        if not 0 <= ax < nd or any(nb.dtype(i) != dt or len(nb.shape(i)) != nd for i in xs):
            return False
        outer = _prod(ys[:ax])
        blocks = [_prod(nb.shape(i)[ax:]) * dt.itemsize for i in xs]
        tabs = tables(nb, xs) if tables is not None else [None] * len(xs)
        nb.op(xs, [y], lambda P, S: P.concat([S(i) for i in xs], S(y), outer, blocks, tabs, name=f"concat({y})"))
        return True
    return desc


def nchw_to_nhwc(x):
    N, C, H, W = x.shape
    if C == 1 and x.flags.c_contiguous:
        return x.reshape(N, H, W, 1)
    if C <= 16:
        # numpy's generic transpose is slow for a short innermost axis (an image's 3 channels):
        # C strided plane copies are ~10x faster.
        out = np.empty((N, H, W, C), x.dtype)
        for c in range(C):
            out[..., c] = x[:, c]
        return out
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def native_quantizer(nhwc: bool = False, num_threads: int = 1):
    """f(x, scale, zero_point) -> lowp.quantize_linear(x, scale, zero_point, axis=1) as one native
    call: the (constant) scale / zero point are validated and converted on first use and reused
    while the same objects are passed. nhwc=True: x is (N, C, H, W) and the result is returned
    NHWC, quantized and interleaved in one native pass for per-tensor uint8/int8 parameters, on up
    to num_threads threads (0: all of lowp's pool). None if lowp's native module is unavailable."""
    try:
        from .. import _lowp
        from ..ops import eltwise as E
        native = _lowp.quantize_linear
        fused = getattr(_lowp, "quantize_nchw_to_nhwc", None) if nhwc else None
    except (ImportError, AttributeError):  # pragma: no cover
        return None
    memo = [None]

    def q(x, s, z=None):
        m = memo[0]
        if m is None or m[0] is not s or m[1] is not z:
            out = np.asarray(z).dtype if isinstance(z, (np.ndarray, np.generic)) and \
                np.asarray(z).dtype in E._DT_NAME else np.dtype(np.uint8)
            sa, za, ax = E._axis_params(s, z, 4, 1, out, "y_scale", "y_zero_point")
            m = memo[0] = (s, z, np.ascontiguousarray(sa, np.float32), np.ascontiguousarray(za, np.int32), ax,
                           E._DT_NAME[out])
        if m[2].size > 1 and x.shape[m[4]] != m[2].size:
            raise ValueError(f"lowp: y_scale has {m[2].size} entries but axis 1 of x has {x.shape[m[4]]}")
        if nhwc:
            if fused is not None and m[2].size == 1 and m[5] != "int16" and x.ndim == 4:
                return fused(x, float(m[2][0]), int(m[3][0]), m[5], num_threads)
            return nchw_to_nhwc(native(x, m[2], m[3], m[4], m[5]))
        return native(x, m[2], m[3], m[4], m[5])
    return q


def to_nhwc(x):
    return (nchw_to_nhwc(x),)


def to_nchw(x):
    return (np.ascontiguousarray(x.transpose(0, 3, 1, 2)),)


to_nhwc.native = native_transpose((0, 2, 3, 1))
to_nchw.native = native_transpose((0, 3, 1, 2))


def lut(x, table):
    return np.take(table, x.view(np.uint8))


def _check_q(x, dtype, what):
    """x must be a numpy array of `dtype`; dtype None: of int8 or uint8."""
    ok = isinstance(x, np.ndarray) and (x.dtype == dtype if dtype is not None else x.dtype in (np.int8, np.uint8))
    if not ok:
        want = np.dtype(dtype) if dtype is not None else "8-bit"
        raise TypeError(f"lowp: {what} expects a {want} tensor, got {getattr(x, 'dtype', type(x).__name__)}")


def _same_pads(in_size, k, s, d, mode):
    out = -(-in_size // s)
    total = max(0, (out - 1) * s + (k - 1) * d + 1 - in_size)
    small, big = total // 2, total - total // 2
    return (small, big) if mode == "SAME_UPPER" else (big, small)


def _conv_geometry(a, H, W):
    kh, kw = a["kernel_shape"]
    sh, sw = a["strides"]
    dh, dw = a["dilations"]
    mode = a.get("auto_pad", "NOTSET") or "NOTSET"
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        pt, pb = _same_pads(H, kh, sh, dh, mode)
        pl, pr = _same_pads(W, kw, sw, dw, mode)
    elif mode == "VALID":
        pt = pb = pl = pr = 0
    else:
        pt, pl, pb, pr = a["pads"]
    OH = (H + pt + pb - (dh * (kh - 1) + 1)) // sh + 1
    OW = (W + pl + pr - (dw * (kw - 1) + 1)) // sw + 1
    return kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, OH, OW


def _patches(xp, kh, kw, sh, sw, dh, dw, OH, OW):
    """List of kh*kw strided views (N, OH, OW, C) of the padded NHWC input."""
    return [xp[:, i * dh: i * dh + sh * (OH - 1) + 1: sh, j * dw: j * dw + sw * (OW - 1) + 1: sw, :]
            for i in range(kh) for j in range(kw)]


def elt(name):
    """lowp.ops.eltwise.<name> if that op exists (and LOWP_GRAPH_FALLBACK is not set), else None."""
    if _eltops is None or _use_fallback():
        return None
    return getattr(_eltops, name, None)


def _use_fallback() -> bool:
    return os.environ.get("LOWP_GRAPH_FALLBACK", "") == "1"


def _with_lut(run, a, num_threads=1):
    """Adapter `run` followed by the node's `lut` attribute (passes/qdq.py fold_luts_into_producers):
    the 256-entry table applied in place to the 8-bit output."""
    table = a.get("lut")
    if table is None:
        return run
    table = np.ascontiguousarray(table)
    dtn = str(table.dtype)
    try:
        from .. import _lowp
        native = _lowp.lut
    except (ImportError, AttributeError):  # pragma: no cover
        native = None

    def run_lut(*xs):
        y = run(*xs)[0]
        if native is not None and y.flags.c_contiguous and y.flags.writeable:
            native(y, table, dtn, out=y)
            return (y,)
        return (np.take(table, y.view(np.uint8)),)

    inner = getattr(run, "native", None)
    if inner is None:
        return run_lut

    def desc(nb, ins, outs):
        # the producer's native op into a scratch tensor, then the table into the step's output
        y = outs[0]
        ya = nb.array(y)
        if ya is None or ya.dtype != table.dtype:
            return False
        tmp = f"{y}#before_lut"
        nb.env[tmp] = np.empty(ya.shape, ya.dtype)
        if not inner(nb, ins, [tmp]):
            return False
        n = int(ya.size)
        nb.op([tmp], [y], lambda P, S: P.lut(S(tmp), S(y), table, n, num_threads=num_threads or 0,
                                             name=f"lut({y})"))
        return True
    return with_native(run_lut, desc)


def make_qconv(a, num_threads=0):
    """QConv on NHWC input (then the node's optional `lut` table in place)."""
    return _with_lut(_make_qconv(a, num_threads), a, num_threads)


def _make_qconv(a, num_threads=0):
    """QConv on NHWC input: lowp.QLinearConv (prepacked once) when available, else the fallback."""
    QLC = getattr(_convops, "QLinearConv", None) if _convops is not None else None
    if QLC is None or _use_fallback():
        return make_qconv_fallback(a, num_threads)
    ydt = np.asarray(a["y_zero_point"]).dtype
    xs, xz = np.float32(a["x_scale"]), np.asarray(a["x_zero_point"])
    ys, yz = np.float32(a["y_scale"]), np.asarray(a["y_zero_point"]).astype(ydt)
    qmin, qmax = int(a["qmin"]), int(a["qmax"])
    threads = num_threads or None
    mode = a.get("auto_pad", "NOTSET") or "NOTSET"
    rounding = a.get("rounding", "half_even")
    if a.get("ort_float"):
        return _ort_float_conv(QLC, a, num_threads)
    conv = QLC(np.asarray(a["w"]), np.asarray(a["w_scale"], np.float32), np.asarray(a["w_zero_point"]), a.get("bias"),
               strides=list(a["strides"]), pads=None if mode != "NOTSET" else list(a["pads"]),
               dilations=list(a["dilations"]), group=int(a["group"]), auto_pad=mode,
               kernel_shape=list(a["kernel_shape"]), layout="NHWC")
    fast = _fast_conv(conv, a, xs, xz, ys, yz, ydt, qmin, qmax, num_threads)
    if fast is not None:
        return fast

    def run(x):
        return (conv(x, xs, xz, ys, yz, rounding=rounding, activation_min=qmin, activation_max=qmax, y_dtype=ydt,
                     num_threads=threads),)

    return run


def _fast_conv(conv, a, xs, xz, ys, yz, ydt, qmin, qmax, num_threads):
    """Per-call fast path: every parameter of lowp.QLinearConv's native call computed once here
    (requantization scales, geometry per input size), so a call is one dtype check + one native call.
    Returns None (use the public call) if lowp's conv module does not expose these pieces."""
    try:
        from .. import _lowp
        from ..gemm import _requant_params

        resolve = _convops._resolve_geometry
        rounding = a.get("rounding", "half_even")
        params = _requant_params(rounding, xs, np.asarray(a["w_scale"], np.float32), ys, conv.out_channels)
        native = _lowp.conv2d
        conv_bias = conv._bias
    except (AttributeError, ImportError):
        return None
    xdt = np.asarray(a["x_zero_point"]).dtype
    zx = int(xz)
    geo_kw = dict(strides=list(a["strides"]), pads=list(a["pads"]) if (a.get("auto_pad") or "NOTSET") == "NOTSET"
                  else None, dilations=list(a["dilations"]), auto_pad=a.get("auto_pad") or "NOTSET")
    k_hw = tuple(conv.kernel_shape)
    cin = conv.in_channels
    cache: dict = {}
    rq = dict(rounding=rounding, bias=conv_bias, zero_point=int(yz), qmin=qmin, qmax=qmax, **params)
    out_dt = ydt.name
    threads = num_threads or 0

    def run(x):
        if not isinstance(x, np.ndarray) or x.dtype != xdt or x.ndim != 4 or x.shape[3] != cin:
            raise ValueError(f"lowp: Conv expects a {xdt} NHWC tensor with {cin} channels, got "
                             f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}")
        hw = x.shape[1:3]
        geo = cache.get(hw)
        if geo is None:
            s, d, p = resolve(hw, k_hw, **geo_kw)
            geo = cache[hw] = (list(s), list(d), list(p))
        if not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        return (native(x, zx, conv.packed(), geo[0], geo[1], geo[2], out_dt, num_threads=threads, **rq),)

    def desc(nb, ins, outs):
        x, y = ins[0], outs[0]
        shp = nb.shape(x)
        if nb.dtype(x) != xdt or len(shp) != 4 or shp[3] != cin:
            return False
        s, d, p = resolve(shp[1:3], k_hw, **geo_kw)
        packed = conv.packed()
        nb.op([x], [y], lambda P, S: P.conv(S(x), S(y), list(shp), xdt.name, zx, packed, list(s), list(d), list(p),
                                            out_dt, num_threads=threads, name=f"QConv({y})", **rq))
        return True

    return with_native(run, desc)


def _ort_float_conv(QLC, a, num_threads=0):
    """A QDQ conv onnxruntime runs in float32 (qdq.py ort_runs_float): the exact int32 conv, then
    lowp.OrtFloatConv.finish (ops/ort_float_conv.h), which rounds each sum as onnxruntime's float32
    DQ -> Conv -> Q does (recomputing that chain where the exact value lies near a .5 boundary)."""
    from .. import _lowp

    w = np.asarray(a["w"])
    M, group = int(w.shape[0]), int(a["group"])
    K = int(np.prod(w.shape[1:]))
    ws = np.asarray(a["w_scale"], np.float32).reshape(-1)
    wz = np.asarray(a["w_zero_point"]).reshape(-1)
    # onnxruntime's per-channel DequantizeLinear of the weights, float(w - zw) * ws (one float32 rounding),
    # rows in its im2col K order (c, kh, kw) = OIHW
    wf = ((w.reshape(M, K).astype(np.int32) - wz.astype(np.int32)[:, None]).astype(np.float32) * ws[:, None])
    wf = np.ascontiguousarray(wf, np.float32)
    bf = np.ascontiguousarray(np.asarray(a["bias_f"], np.float32).reshape(-1))
    xdt = np.asarray(a["x_zero_point"]).dtype
    ydt = np.asarray(a["y_zero_point"]).dtype
    xs, zx = float(np.float32(a["x_scale"])), int(a["x_zero_point"])
    ys, zy = float(np.float32(a["y_scale"])), int(a["y_zero_point"])
    qmin, qmax = int(a["qmin"]), int(a["qmax"])
    mode = a.get("auto_pad", "NOTSET") or "NOTSET"
    conv = QLC(w, None, wz if wz.size > 1 else wz[0], None, strides=list(a["strides"]),
               pads=None if mode != "NOTSET" else list(a["pads"]), dilations=list(a["dilations"]), group=group,
               auto_pad=mode, kernel_shape=list(a["kernel_shape"]), layout="NHWC")
    resolve = _convops._resolve_geometry
    geo_kw = dict(strides=list(a["strides"]), pads=list(a["pads"]) if mode == "NOTSET" else None,
                  dilations=list(a["dilations"]), auto_pad=mode)
    k_hw = tuple(int(v) for v in a["kernel_shape"])
    cin = conv.in_channels
    threads = num_threads or 0
    params: dict = {}
    fused_1x1 = (k_hw == (1, 1) and group == 1 and list(a["strides"]) == [1, 1] and mode == "NOTSET"
                 and not any(a["pads"]))  # one pass, int32 sums per chunk in cache (ort_float_conv_1x1)

    def params_for(hw):
        p = params.get(hw)
        if p is None:
            st, dl, pd = (list(v) for v in resolve(hw, k_hw, **geo_kw))
            oh = (hw[0] + pd[0] + pd[2] - dl[0] * (k_hw[0] - 1) - 1) // st[0] + 1
            ow = (hw[1] + pd[1] + pd[3] - dl[1] * (k_hw[1] - 1) - 1) // st[1] + 1
            # MLAS runs one SGEMM per image and group (one thread): its K block follows N = OH * OW; one
            # filter per group (depthwise) or one output pixel select its M == 1 / N == 1 kernels
            sk = _lowp.mlas_sgemm_stride_k(oh * ow, K)
            gemm_direct = k_hw == (1, 1) and list(st) == [1, 1] and not any(pd)
            kmode = 1 if M // group == 1 else (2 if oh * ow == 1 else 0)
            if kmode == 1 and gemm_direct:
                sk = K  # MlasGemm's M == 1 kernel over all of K (the conv splits K only when it expands)
            p = params[hw] = (_lowp.OrtFloatConv(wf, bf, ws, xs, zx, xdt.name, ys, zy, ydt.name, qmin, qmax, sk,
                                                 [hw[0], hw[1], cin], list(k_hw), st, dl, pd, group, kmode),
                              st, dl, pd)
        return p

    def run(x):
        if not isinstance(x, np.ndarray) or x.dtype != xdt or x.ndim != 4 or x.shape[3] != cin:
            raise ValueError(f"lowp: Conv expects a {xdt} NHWC tensor with {cin} channels, got "
                             f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}")
        x = np.ascontiguousarray(x)
        p, st, dl, pd = params_for((int(x.shape[1]), int(x.shape[2])))
        if p.depthwise:
            return (p.run_depthwise(x, num_threads=threads),)
        if p.direct:  # large K: every output in float32, no integer pass (ort_float_use_direct)
            return (p.run_direct(x, num_threads=threads),)
        if fused_1x1:
            return (p.run_1x1(conv.packed(), x, num_threads=threads)[0],)
        acc = _lowp.conv2d(x, zx, conv.packed(), st, dl, pd, "int32", num_threads=threads)
        return (p.finish(acc, x, num_threads=threads)[0],)

    def desc(nb, ins, outs):
        x, y = ins[0], outs[0]
        shp = nb.shape(x)
        if nb.dtype(x) != xdt or len(shp) != 4 or shp[3] != cin:
            return False
        (p, st, dl, pd), packed = params_for((int(shp[1]), int(shp[2]))), conv.packed()
        nb.op([x], [y], lambda P, S: P.ort_float_conv(S(x), S(y), list(shp), xdt.name, zx, packed, st, dl, pd, p,
                                                      num_threads=threads, name=f"QConvOrtFloat({y})"))
        return True

    return with_native(run, desc)


def make_qconv_fallback(a, num_threads=0):
    """QConv on NHWC input. FALLBACK (exact): im2col + lowp GEMM; depthwise numpy int32 + lowp.requantize.
    Used when lowp.ops.conv is unavailable or LOWP_GRAPH_FALLBACK=1 (a cross-check path in tests)."""
    w = np.asarray(a["w"])
    O, Cg, kh, kw = w.shape
    group = int(a["group"])
    xdt = np.asarray(a["x_zero_point"]).dtype
    ydt = np.asarray(a["y_zero_point"]).dtype
    xs, xz = np.float32(a["x_scale"]), int(a["x_zero_point"])
    ys, yz = np.float32(a["y_scale"]), np.asarray(a["y_zero_point"]).astype(ydt)
    ws = np.asarray(a["w_scale"], np.float32)
    wz = np.asarray(a["w_zero_point"])
    bias = a.get("bias")
    qmin, qmax = int(a["qmin"]), int(a["qmax"])
    threads = num_threads or None
    rounding = a.get("rounding", "half_even")
    depthwise = group > 1 and Cg == 1
    Og = O // group
    if O % group:
        raise ValueError(f"lowp: Conv has {O} output channels, not a multiple of group={group}")
    if not depthwise:
        packs = []
        for gi in range(group):
            wg = w[gi * Og:(gi + 1) * Og].transpose(2, 3, 1, 0).reshape(kh * kw * Cg, Og)
            packs.append(_gemm.PackedMatrix(np.ascontiguousarray(wg), wz[gi * Og:(gi + 1) * Og].copy()))
    else:
        mult = O // group
        wdw = (w[:, 0].astype(np.int32) - wz.astype(np.int32)[:, None, None]).transpose(1, 2, 0).copy()  # (kh,kw,O)
        # onnxruntime: float32 x_scale * w_scale[o] / y_scale.
        scale = ((xs * ws) / ys).astype(np.float32)
    is_1x1 = kh == kw == 1 and list(a["strides"]) == [1, 1] and not any(a["pads"]) and \
        (a.get("auto_pad", "NOTSET") in ("NOTSET", "VALID", "")) and group == 1

    def run(x):
        _check_q(x, xdt, "Conv")
        N, H, W, C = x.shape
        if C != Cg * group:
            raise ValueError(f"lowp: Conv expects {Cg * group} input channels, got {C}")
        if is_1x1:
            y = _gemm.qlinear_matmul(x.reshape(-1, C), xs, xz, packs[0], ws, None, ys, yz, bias=bias,
                                     rounding=rounding, activation_min=qmin, activation_max=qmax, y_dtype=ydt, num_threads=threads)
            return (y.reshape(N, H, W, O),)
        kh_, kw_, sh, sw, dh, dw, pt, pb, pl, pr, OH, OW = _conv_geometry(a, H, W)
        if OH <= 0 or OW <= 0:
            raise ValueError(f"lowp: Conv input {H}x{W} is smaller than its kernel")
        xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=xz) if (pt or pb or pl or pr) else x
        pats = _patches(xp, kh, kw, sh, sw, dh, dw, OH, OW)
        if depthwise:
            acc = np.zeros((N, OH, OW, O), np.int32)
            for k, p in enumerate(pats):
                pi = p.astype(np.int32) - xz
                if mult > 1:
                    pi = np.repeat(pi, mult, axis=3)
                acc += pi * wdw[k // kw, k % kw]
            if bias is not None:
                acc += bias
            if rounding == "half_even":
                y = _gemm.requantize(acc, scale, None, yz, qmin, qmax, rounding="half_even", dtype=ydt)
            else:
                p = _gemm._requant_params(rounding, xs, ws, ys, O)
                y = _gemm.requantize(acc, p["multiplier"], p["shift"], yz, qmin, qmax, rounding=rounding, dtype=ydt)
            return (y,)
        cols = np.stack(pats, axis=3)  # N, OH, OW, kh*kw, C
        outs = []
        for gi in range(group):
            cg = cols[..., gi * Cg:(gi + 1) * Cg] if group > 1 else cols
            A = np.ascontiguousarray(cg).reshape(N * OH * OW, kh * kw * Cg)
            sl = slice(gi * Og, (gi + 1) * Og)
            outs.append(_gemm.qlinear_matmul(A, xs, xz, packs[gi], ws[sl], None, ys, yz,
                                             bias=None if bias is None else bias[sl], rounding=rounding,
                                             activation_min=qmin,
                                             activation_max=qmax, y_dtype=ydt, num_threads=threads))
        y = outs[0] if group == 1 else np.concatenate(outs, axis=1)
        return (y.reshape(N, OH, OW, O),)

    return run


def make_tflite_quantize(a, num_threads=0):
    """TFLite QUANTIZE float32 -> 8-bit (reference AffineQuantize): ``round_half_away(x / scale) + zero_point``,
    the division in float32, saturated."""
    scale = np.float32(a["scale"])
    zp = np.asarray(a["zero_point"])
    dt = zp.dtype
    lo, hi = np.iinfo(dt).min, np.iinfo(dt).max
    z = int(zp)

    def run(x):
        if not isinstance(x, np.ndarray) or x.dtype != np.float32:
            raise TypeError(f"lowp: QUANTIZE expects a float32 tensor, got {getattr(x, 'dtype', type(x).__name__)}")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            v = (x / scale).astype(np.float64)  # float32 quotient, then exact float64 arithmetic
            r = np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5)) + z
            r = np.where(np.isnan(r), z, r)
        return (np.clip(r, lo, hi).astype(dt),)

    def desc(nb, ins, outs):
        x, y = ins[0], outs[0]
        if nb.dtype(x) != np.float32 or nb.dtype(y) != dt or nb.shape(x) != nb.shape(y):
            return False
        n = _prod(nb.shape(x))
        nb.op([x], [y], lambda P, S: P.quantize_tflite(S(x), S(y), n, dt.name, float(scale), z, name=f"Quantize({y})"))
        return True
    return with_native(run, desc)


def make_tflite_transpose_conv(a, num_threads=0):
    """TFLite TRANSPOSE_CONV on NHWC data in TFLite's order (importers/tflite.py): the int32 products of every input
    pixel with the (Cin x KH*KW*Cout) weights as one exact GEMM (lowp's, zero points folded), scattered
    (col2im) to out[iy * s - pad + ky, ix * s - pad + kx] in int32, + bias, then lowp's per-channel gemmlowp
    requantization. The same int32 sums as LiteRT's reference scatter loop, in another order (addition mod 2^32)."""
    kh, kw = a["kernel"]
    sh, sw = a["strides"]
    ph, pw = a["pads"]
    xz, yz = int(a["x_zero_point"]), np.asarray(a["y_zero_point"])
    dt = yz.dtype
    C, O = a["w"].shape[0], a["w"].shape[1] // (kh * kw)
    wz = np.broadcast_to(np.asarray(a["w_zero_point"]).reshape(-1), (O,))
    b = _gemm.PackedMatrix(a["w"], np.ascontiguousarray(np.tile(wz, kh * kw)))  # columns are (ky, kx, o)
    bias = None if a.get("bias") is None else np.asarray(a["bias"], np.int32)
    mult, shift = np.asarray(a["multiplier"], np.int32), np.asarray(a["shift"], np.int32)
    out_shape = tuple(a["out_shape"])
    N, OH, OW = out_shape[0], out_shape[1], out_shape[2]

    def spans(n_in, n_out, s, p, k):  # input range whose outputs i * s - p + k land in [0, n_out)
        lo = max(0, -(-(p - k) // s))
        hi = min(n_in, (n_out - 1 + p - k) // s + 1)
        return lo, hi, lo * s - p + k

    def run(x):
        _check_q(x, dt, "TRANSPOSE_CONV")
        if x.ndim != 4 or x.shape[0] != N or x.shape[3] != C:
            raise ValueError(f"lowp: TRANSPOSE_CONV: input {x.shape} does not match the model's")
        H, W = x.shape[1], x.shape[2]
        cols = _gemm.matmul_integer(np.ascontiguousarray(x).reshape(-1, C), b, a_zero_point=x.dtype.type(xz),
                                    num_threads=num_threads or None)
        cols = cols.reshape(N, H, W, kh, kw, O)
        acc = np.zeros((N, OH, OW, O), np.int32)
        for ky in range(kh):
            y0, y1, oy = spans(H, OH, sh, ph, ky)
            if y1 <= y0:
                continue
            for kx in range(kw):
                x0, x1, ox = spans(W, OW, sw, pw, kx)
                if x1 > x0:
                    acc[:, oy:oy + (y1 - y0 - 1) * sh + 1:sh, ox:ox + (x1 - x0 - 1) * sw + 1:sw] += \
                        cols[:, y0:y1, x0:x1, ky, kx]
        if bias is not None:
            acc += bias
        y = _gemm.requantize(acc, mult, shift, yz, int(a["qmin"]), int(a["qmax"]), rounding="gemmlowp")
        return (y.astype(dt, copy=False),)
    return run


def make_tflite_arg_min_max(a, num_threads=0):
    """TFLite ARG_MAX / ARG_MIN of 8-bit data along one axis (TFLite order): the first index of the extreme
    stored value (the scale is positive, so the same as on the real values), as int32 / int64."""
    axis, is_max, dt = int(a["axis"]), bool(a["is_max"]), np.dtype(a["dtype"])

    def run(x):
        _check_q(x, None, "ARG_MAX / ARG_MIN")
        return ((np.argmax(x, axis=axis) if is_max else np.argmin(x, axis=axis)).astype(dt),)
    return run


def make_tflite_batch_matmul(a, num_threads=0):
    """TFLite int8 BATCH_MATMUL: lowp's exact int32 GEMM with ONNX MatMulInteger broadcasting of the batch axes
    (adj_x / adj_y: the last two axes of an input swapped first), then the per-tensor gemmlowp requantization."""
    adj_x, adj_y = bool(a["adj_x"]), bool(a["adj_y"])
    out_shape, dt = tuple(a["out_shape"]), np.dtype(a["dtype"])
    # LiteRT's int8 x int8 -> int32 kernel sums the raw products (no zero points)
    zl, zr = (np.int8(a["lhs_zero_point"]), np.int8(a["rhs_zero_point"])) if dt == np.int8 else (np.int8(0), np.int8(0))

    rhs_const = bool(a.get("rhs_const", False))
    packed = {}  # a constant 2-D rhs (the model's weights): packed on the first run, reused

    def run(lhs, rhs):
        for v in (lhs, rhs):
            _check_q(v, np.dtype(np.int8), "BATCH_MATMUL")
        if adj_x:
            lhs = np.swapaxes(lhs, -1, -2)
        if rhs_const and rhs.ndim == 2:
            if "b" not in packed:
                packed["b"] = _gemm.PackedMatrix(np.ascontiguousarray(rhs.T if adj_y else rhs), zr)
            acc = _gemm.matmul_integer(np.ascontiguousarray(lhs), packed["b"], zl, num_threads=num_threads or None)
        else:
            if adj_y:
                rhs = np.swapaxes(rhs, -1, -2)
            acc = _gemm.matmul_integer(np.ascontiguousarray(lhs), np.ascontiguousarray(rhs), zl, zr,
                                       num_threads=num_threads or None)
        if dt == np.int32:
            return (acc.reshape(out_shape),)
        y = _gemm.requantize(acc, int(a["multiplier"]), int(a["shift"]), np.int8(a["y_zero_point"]), -128, 127,
                             rounding="gemmlowp")
        return (y.reshape(out_shape),)

    # Native: a GEMM on the packed constant (2-D rhs, no adj_x), else exec::make_batch_matmul (one GEMM per output
    # matrix, the rhs block packed on every run); the same sums and requantization as run().
    out_kw = dict(out_dtype="int32") if dt == np.int32 else dict(
        out_dtype="int8", rounding="gemmlowp", multiplier=np.array([int(a["multiplier"])], np.int32),
        shift=np.array([int(a["shift"])], np.int32), zero_point=int(a["y_zero_point"]), qmin=-128, qmax=127)
    out_kw["num_threads"] = num_threads or 0

    def desc(nb, ins, outs):
        from .._dispatch import _kernel_arg
        lhs, rhs, y = ins[0], ins[1], outs[0]
        ls, rs = nb.shape(lhs), nb.shape(rhs)
        if nb.dtype(lhs) != np.int8 or nb.dtype(rhs) != np.int8 or len(ls) < 2 or len(rs) < 2 or 0 in ls + rs:
            return False
        M, K = (ls[-1], ls[-2]) if adj_x else (ls[-2], ls[-1])
        N = rs[-2] if adj_y else rs[-1]
        if (rs[-1] if adj_y else rs[-2]) != K or _prod(nb.shape(y)) != _prod(np.broadcast_shapes(ls[:-2], rs[:-2])) * M * N:
            return False
        kw = dict(out_kw, name=f"BatchMatMul({y})")
        if rhs_const and len(rs) == 2 and not adj_x:
            if "b" not in packed:
                packed["b"] = _gemm.PackedMatrix(np.ascontiguousarray(nb.value(rhs).T if adj_y else nb.value(rhs)), zr)
            pb = packed["b"].packed()
            kw.pop("out_dtype")
            nb.op([lhs], [y], lambda P, S: P.gemm(S(lhs), S(y), _prod(ls[:-1]), "int8", int(zl), pb, out_kw["out_dtype"],
                                                  **kw))
            return True
        _batch_matmul_op(nb, lhs, rhs, y, ls, rs, M, K, N, adj_x, adj_y, int(zl), int(zr), kw)
        return True
    return with_native(run, desc)


def _broadcast_blocks(lb, rb):
    """The matrices of a batched matmul under numpy broadcasting of the batch shapes lb, rb: for each output
    matrix (row-major over the broadcast shape) the index of its lhs and of its rhs matrix."""
    ob = np.broadcast_shapes(lb, rb)
    return [np.broadcast_to(np.arange(_prod(s), dtype=np.int64).reshape(s), ob).reshape(-1).tolist() for s in (lb, rb)]


def _batch_matmul_op(nb, lhs, rhs, y, ls, rs, M, K, N, adj_x, adj_y, za, zb, kw):
    """Emits exec batch_matmul for lhs [..., M, K] x rhs [..., K, N] (adj_*: the last two axes swapped) with numpy
    broadcasting of the batch axes; kw: out_dtype and the output stage (rounding, multiplier / shift or scale,
    zero_point, qmin, qmax) and the op's name. The rhs blocks are packed for the current forced kernel."""
    from .._dispatch import _kernel_arg
    lb, rb = tuple(ls[:-2]), tuple(rs[:-2])
    li, ri = _broadcast_blocks(lb, rb)
    kernel, at, bt = _kernel_arg(), nb.dtype(lhs).name, nb.dtype(rhs).name
    nb.op([lhs, rhs], [y], lambda P, S: P.batch_matmul(S(lhs), S(rhs), S(y), _prod(lb), _prod(rb), li, ri, M, K, N,
                                                       adj_x, adj_y, at, bt, za, zb, kernel, **kw))


def make_tflite_pair_table(a, num_threads=0):
    """An 8-bit binary operator as a 64 KiB table of every pair of stored bytes (table[a << 8 | b]), with
    broadcasting in TFLite's order (importers/tflite.py builds it from the operator's integer arithmetic)."""
    table = np.asarray(a["table"], np.int8)
    out_shape = tuple(a["out_shape"])

    def run(x, y):
        for v in (x, y):
            _check_q(v, np.dtype(np.int8), "pair table")
        xb, yb = np.broadcast_arrays(x.view(np.uint8), y.view(np.uint8))
        return (table[(xb.astype(np.intp) << 8) | yb].reshape(out_shape),)

    table_u8 = np.ascontiguousarray(table.view(np.uint8))

    def desc(nb, ins, outs):  # the same lookup, natively (ops::binary_table)
        x, y, o = ins[0], ins[1], outs[0]
        if nb.dtype(x) != np.int8 or nb.dtype(y) != np.int8 or nb.dtype(o) != np.int8:
            return False
        xs, ys = list(nb.shape(x)), list(nb.shape(y))
        if _prod(np.broadcast_shapes(tuple(xs), tuple(ys))) != _prod(nb.shape(o)):
            return False
        nb.op([x, y], [o], lambda P, S: P.binary_table(S(x), S(y), S(o), xs, ys, table_u8, num_threads or 0,
                                                       name=f"PairTable({o})"))
        return True
    return with_native(run, desc)


def make_tflite_gather(a, num_threads=0):
    """TFLite GATHER with indices given at run time (int32 / int64): rows of the 8-bit params along `axis`. LiteRT
    fails the invoke on an index outside [0, size of axis); so does this step, naming the index."""
    axis, out_shape = int(a["axis"]), tuple(a["out_shape"])

    def run(params, idx):
        _check_q(params, None, "GATHER")
        if idx.dtype not in (np.int32, np.int64):
            raise TypeError(f"lowp: GATHER indices must be int32 / int64, got {idx.dtype}")
        n = params.shape[axis]
        bad = (idx < 0) | (idx >= n)
        if bad.any():
            raise ValueError(f"lowp: GATHER index {int(idx[bad].reshape(-1)[0])} is out of range [0, {n})")
        y = np.take(params, idx, axis=axis)
        if y.shape != out_shape:
            raise ValueError(f"lowp: GATHER output has shape {list(y.shape)}, the model declares {list(out_shape)}")
        return (y,)

    def desc(nb, ins, outs):  # the same rows natively (exec gather_rows checks every index the same way)
        p, i, y = ins[0], ins[1], outs[0]
        shp, it = nb.shape(p), nb.dtype(i)
        if nb.dtype(p) not in (np.int8, np.uint8) or it not in (np.int32, np.int64) or not shp or 0 in shp:
            return False
        outer, n, inner = _prod(shp[:axis]), int(shp[axis]), _prod(shp[axis + 1:])
        if _prod(nb.shape(y)) != outer * _prod(nb.shape(i)) * inner:
            return False
        k = _prod(nb.shape(i))
        nb.op([p, i], [y], lambda P, S: P.gather_rows(S(p), S(i), S(y), outer, n, inner, k, it.name,
                                                      name=f"Gather({y})"))
        return True
    return with_native(run, desc)


def make_tflite_gather_nd(a, num_threads=0):
    """TFLite GATHER_ND: params as [prod(dims), rest...] rows, each index tuple (last axis of the int32 / int64
    indices) one row; an index outside its dimension fails as LiteRT's invoke does, naming it."""
    dims, out_shape = [int(d) for d in a["dims"]], tuple(a["out_shape"])

    def run(rows, idx):
        _check_q(rows, None, "GATHER_ND")
        if idx.dtype not in (np.int32, np.int64) or idx.ndim < 1 or idx.shape[-1] != len(dims):
            raise ValueError(f"lowp: GATHER_ND indices must be int32 / int64 tuples of {len(dims)}")
        tup = idx.reshape(-1, len(dims)).astype(np.int64)
        bad = (tup < 0) | (tup >= np.array(dims, np.int64))
        if bad.any():
            k = np.argwhere(bad)[0]
            raise ValueError(f"lowp: GATHER_ND index {int(tup[k[0], k[1]])} is out of range [0, {dims[k[1]]}) "
                             f"(axis {int(k[1])})")
        flat = np.ravel_multi_index(tuple(tup.T), dims) if tup.size else np.zeros(0, np.int64)
        return (np.take(rows, flat, axis=0).reshape(out_shape),)
    return run


def make_tflite_reduce_max_min(a, num_threads=0):
    """TFLite REDUCE_MAX / REDUCE_MIN over the axes (TFLite order) of the stored 8-bit values."""
    axes, keep, is_max = tuple(int(v) for v in a["axes"]), bool(a["keepdims"]), bool(a["is_max"])
    out_shape = tuple(a["out_shape"])

    def run(x):
        _check_q(x, None, "REDUCE_MAX / REDUCE_MIN")
        r = np.max(x, axis=axes, keepdims=keep) if is_max else np.min(x, axis=axes, keepdims=keep)
        return (np.ascontiguousarray(r).reshape(out_shape),)
    return run


def make_tflite_prelu(a, num_threads=0):
    """LiteRT's reference PRELU with a constant alpha (stored values minus its zero point, broadcast in TFLite's
    order): two gemmlowp requantizations of the int32 terms, chosen by the sign of x - zx."""
    al = np.asarray(a["alpha"], np.int32)
    xz, yz = int(a["x_zero_point"]), np.asarray(a["y_zero_point"])
    dt = yz.dtype
    lo, hi = int(np.iinfo(dt).min), int(np.iinfo(dt).max)
    (m1, m2), (s1, s2) = a["multiplier"], a["shift"]

    def run(x):
        _check_q(x, dt, "PRELU")
        v = x.astype(np.int32) - np.int32(xz)
        pos = _gemm.requantize(v, m1, s1, yz, lo, hi, rounding="gemmlowp")
        neg = _gemm.requantize(np.ascontiguousarray(v * al), m2, s2, yz, lo, hi, rounding="gemmlowp")
        return (np.where(v >= 0, pos, neg).astype(dt, copy=False),)

    # An alpha that varies along the last axis only (per channel, or one value): the output is a function of the
    # channel and the byte, a 256-entry table per channel, computed by run() itself on every byte.
    C = int(al.shape[-1]) if al.ndim else 1
    if al.size != C:
        return run
    every = np.arange(256, dtype=np.uint8).view(dt)
    tables = np.ascontiguousarray(run(np.repeat(every[:, None], C, axis=1))[0].view(np.uint8).T)  # C x 256

    def desc(nb, ins, outs):
        x, y = ins[0], outs[0]
        shp = nb.shape(x)
        if nb.dtype(x) != dt or not shp or (C > 1 and shp[-1] != C):
            return False
        c = int(shp[-1]) if C > 1 else 1
        t = tables if C > 1 else tables.reshape(1, 256)
        nb.op([x], [y], lambda P, S: P.lut_channels(S(x), S(y), t, _prod(shp) // c, c, name=f"Prelu({y})"))
        return True
    return with_native(run, desc)


def make_tflite_mean(a, num_threads=0):
    """TFLite MEAN on 8-bit data in TFLite's element order (importers/tflite.py): int32 sums of x - zp over the
    axes, MultiplyByQuantizedMultiplier (gemmlowp) + zp, saturated. Native (ops::mean_tflite) when the axes
    are consecutive, i.e. the tensor is [outer, len, inner] (spatial means of NHWC, last-axis means); else a
    numpy step with the same arithmetic."""
    axes, keep = tuple(int(v) for v in a["axes"]), bool(a["keepdims"])
    xz, m, sh = int(a["x_zero_point"]), int(a["multiplier"]), int(a["shift"])
    yz = np.asarray(a["y_zero_point"])
    lo, hi = int(np.iinfo(yz.dtype).min), int(np.iinfo(yz.dtype).max)
    out_shape = tuple(a["out_shape"])

    def run(x):
        _check_q(x, yz.dtype, "MEAN")
        count = _prod([x.shape[i] for i in axes])
        acc = x.astype(np.int32).sum(axis=axes, keepdims=keep, dtype=np.int32) - np.int32(xz * count)
        y = _gemm.requantize(np.ascontiguousarray(acc, np.int32), m, sh, yz, lo, hi, rounding="gemmlowp")
        return (y.reshape(out_shape),)

    def desc(nb, ins, outs):
        x, y = ins[0], outs[0]
        shp = nb.shape(x)
        if nb.dtype(x) != yz.dtype or not shp or not axes or list(axes) != list(range(axes[0], axes[-1] + 1)):
            return False
        outer, ln, inner = _prod(shp[:axes[0]]), _prod(shp[axes[0]:axes[-1] + 1]), _prod(shp[axes[-1] + 1:])
        if ln < 1 or _prod(nb.shape(y)) != outer * inner:
            return False
        nb.op([x], [y], lambda P, S: P.mean_tflite(S(x), S(y), outer, ln, inner, yz.dtype.name, xz, m, sh, int(yz),
                                                   name=f"Mean({y})"))
        return True
    return with_native(run, desc)


def make_tflite_resize_bilinear(a, num_threads=0):
    """TFLite's reference int8 ResizeBilinear on NHWC data in TFLite's order (importers/tflite.py computed the
    10-bit coordinates): the four weighted int64 products, (sum + (sum > 0 ? 2^19 : -2^19)) / 2^20 truncated."""
    y0, y1, wy, x0, x1, wx = (np.asarray(a[k], np.int64) for k in ("y0", "y1", "wy", "x0", "x1", "wx"))
    one = np.int64(1 << 10)
    wy_, wx_ = wy[:, None, None], wx[None, :, None]

    def run(x):
        _check_q(x, np.dtype(np.int8), "RESIZE_BILINEAR")
        v = x.astype(np.int64)
        r0, r1 = v[:, y0], v[:, y1]
        o = (r0[:, :, x0] * (one - wy_) * (one - wx_) + r1[:, :, x0] * wy_ * (one - wx_)
             + r0[:, :, x1] * (one - wy_) * wx_ + r1[:, :, x1] * wy_ * wx_)
        t = o + np.where(o > 0, 1 << 19, -(1 << 19))
        return (np.where(t >= 0, t // (1 << 20), -((-t) // (1 << 20))).astype(np.int8),)
    return run


def make_qmaxpool(a):
    """Integer max-pool on NHWC input: lowp's native max-pool (channels-last fast path), geometry
    resolved once per input size, output preallocated here; one native call per run.

    LOWP_GRAPH_MAXPOOL=numpy (or LOWP_GRAPH_FALLBACK=1) selects the numpy strided-window max
    (tests check both agree)."""
    if int(a.get("storage_order", 0)):
        raise NotImplementedError("lowp: MaxPool storage_order=1 is not supported")
    try:
        from .. import _lowp
        from ..ops.eltwise import _pool_geometry
        native = _lowp.max_pool
    except (ImportError, AttributeError):  # pragma: no cover
        native = None
    if native is None or _use_fallback() or os.environ.get("LOWP_GRAPH_MAXPOOL", "") == "numpy":
        return make_qmaxpool_fallback(a)
    ks = list(a["kernel_shape"])
    if len(ks) != 2:
        return make_qmaxpool_fallback(a)
    geo_kw = (a.get("strides"), a.get("pads"), a.get("dilations"), int(a.get("ceil_mode", 0)),
              a.get("auto_pad", "NOTSET") or "NOTSET")
    cache: dict = {}

    def run(x):
        if not isinstance(x, np.ndarray) or x.dtype not in (np.uint8, np.int8) or x.ndim != 4:
            raise ValueError(f"lowp: MaxPool expects a uint8/int8 NHWC tensor, got "
                             f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}")
        hw = x.shape[1:3]
        geo = cache.get(hw)
        if geo is None:
            k, st, d, head, _tail, out = _pool_geometry(list(hw), ks, *geo_kw)
            geo = cache[hw] = (list(k), list(st), list(d), list(head), tuple(out))
        N, C = x.shape[0], x.shape[3]
        y = np.empty((N, geo[4][0], geo[4][1], C), x.dtype)
        native(x.transpose(0, 3, 1, 2), y.transpose(0, 3, 1, 2), geo[0], geo[1], geo[2], geo[3])
        return (y,)

    def desc(nb, ins, outs):
        x, y = ins[0], outs[0]
        shp, dt = nb.shape(x), nb.dtype(x)
        if dt not in (np.uint8, np.int8) or len(shp) != 4:
            return False
        k, st, d, head, _tail, out = _pool_geometry(list(shp[1:3]), ks, *geo_kw)
        ys = [shp[0], out[0], out[1], shp[3]]
        nb.op([x], [y], lambda P, S: P.pool(S(x), S(y), list(shp), ys, dt.name, _lowp.PoolMode.max, list(k),
                                            list(st), list(d), list(head), name=f"QMaxPool({y})"))
        return True

    return with_native(run, desc)


def _check_gap_input(x, dt):
    """The input check of the GlobalAveragePool steps (the integer and the float32-fallback one)."""
    if not isinstance(x, np.ndarray) or x.dtype != dt or x.ndim != 4:
        raise ValueError(f"lowp: GlobalAveragePool expects a {dt} NHWC tensor, got "
                         f"{getattr(x, 'dtype', type(x).__name__)} {getattr(x, 'shape', '')}")


def make_qglobal_avgpool(a):
    """com.microsoft QLinearGlobalAveragePool on NHWC input (lowp.qlinear_global_average_pool)."""
    if a.get("ort_float"):
        return _qglobal_avgpool_ort_float(a)
    f = _eltops.qlinear_global_average_pool
    xs, xz, ys, yz = a["x_scale"], a["x_zero_point"], a["y_scale"], a["y_zero_point"]
    dt = np.asarray(yz).dtype

    from .. import _lowp

    native = _lowp.avg_pool
    izp, iyz = int(xz), int(yz)
    fxs, fys = float(np.float32(xs)), float(np.float32(ys))

    def run(x):
        # lowp.qlinear_global_average_pool's native call (MLAS arithmetic: int32 sum, minus
        # zp*count, float32 scale x_scale / (y_scale * count), half-to-even), channels-last pass.
        _check_gap_input(x, dt)
        N, H, W, C = x.shape
        if not x.flags.c_contiguous:
            return (f(x, xs, xz, ys, yz, layout="NHWC"),)
        count = H * W
        y = np.empty((N, 1, 1, C), dt)
        native(x.reshape(N, 1, count, C).transpose(0, 3, 1, 2), y.reshape(N, 1, 1, C).transpose(0, 3, 1, 2),
               [1, count], [1, 1], [0, 0], "global_mlas", fxs, izp, fys, iyz, False, 0, 0)
        return (y,)

    def desc(nb, ins, outs):
        x, y = ins[0], outs[0]
        shp = nb.shape(x)
        if nb.dtype(x) != dt or len(shp) != 4:
            return False
        N, H, W, C = shp
        count = H * W
        nb.op([x], [y], lambda P, S: P.pool(S(x), S(y), [N, 1, count, C], [N, 1, 1, C], dt.name,
                                            _lowp.PoolMode.global_mlas, [1, count], [1, 1], [1, 1], [0, 0],
                                            fxs, izp, fys, iyz, name=f"QGlobalAvgPool({y})"))
        return True
    return with_native(run, desc)


def _qglobal_avgpool_ort_float(a):
    """A QDQ GlobalAveragePool onnxruntime runs in float32 (DQ -> MLAS GlobalAveragePool -> Q, qdq.py
    ort_runs_float): the whole-plane average pool of lowp.qlinear_average_pool(ort_float="lanes4").
    Its input comes from a DequantizeLinear, never from an NCHWc node, so onnxruntime keeps the NCHW
    global kernel (4 running sums) whatever the channel count (measured: 5 and 16 channels)."""
    f = _eltops.qlinear_average_pool
    xs, xz, ys, yz = a["x_scale"], a["x_zero_point"], a["y_scale"], a["y_zero_point"]
    dt = np.asarray(yz).dtype

    def run(x):
        _check_gap_input(x, dt)
        return (f(x, xs, xz, ys, yz, list(x.shape[1:3]), layout="NHWC", ort_float="lanes4"),)

    def desc(nb, ins, outs):
        from ..ops.eltwise import _f32, _zp1
        x, y = ins[0], outs[0]
        shp = nb.shape(x)
        if nb.dtype(x) != dt or len(shp) != 4:
            return False
        N, H, W, C = shp
        fxs, fys = _f32(xs, "x_scale"), _f32(ys, "y_scale")
        ixz, iyz = _zp1(xz, dt, "x_zero_point"), _zp1(yz, dt, "y_zero_point")
        mode = _lowp.PoolMode.ort_float_lanes4
        nb.op([x], [y], lambda P, S: P.pool(S(x), S(y), [N, H, W, C], [N, 1, 1, C], dt.name, mode, [H, W], [1, 1],
                                            [1, 1], [0, 0], fxs, ixz, fys, iyz, False, name=f"QGlobalAvgPool({y})"))
        return True
    return with_native(run, desc)


def make_qavgpool(a):
    """com.microsoft QLinearAveragePool on NHWC input (lowp.qlinear_average_pool)."""
    f = _eltops.qlinear_average_pool
    p = a["pool"]
    xs, xz, ys, yz = a["x_scale"], a["x_zero_point"], a["y_scale"], a["y_zero_point"]
    kw = dict(strides=p.get("strides"), pads=p.get("pads"), ceil_mode=int(p.get("ceil_mode", 0)),
              auto_pad=p.get("auto_pad", "NOTSET") or "NOTSET", count_include_pad=int(p.get("count_include_pad", 0)),
              s8_as_u8=bool(a.get("s8_as_u8", False)), ort_float="auto" if a.get("ort_float") else None)
    ks = list(p["kernel_shape"])
    rounding = a.get("rounding", "half_even")
    info = np.iinfo(np.asarray(yz).dtype)
    qmin, qmax = int(a.get("qmin", info.min)), int(a.get("qmax", info.max))
    if rounding != "half_even":
        kw.update(rounding=rounding, qmin=qmin, qmax=qmax)

    def desc(nb, ins, outs):
        from ..ops.eltwise import _f32, _pool_geometry, _zp1, ort_float_pool_order
        x, y = ins[0], outs[0]
        shp, dt = nb.shape(x), nb.dtype(x)
        if dt not in (np.uint8, np.int8) or len(shp) != 4 or len(ks) != 2:
            return False
        k, s, _d, head, tail, out = _pool_geometry(list(shp[1:3]), ks, kw["strides"], kw["pads"], None,
                                                   kw["ceil_mode"], kw["auto_pad"])
        whole = list(k) == list(shp[1:3]) and not any(head) and not any(tail)
        fxs, fys = _f32(xs, "x_scale"), _f32(ys, "y_scale")
        ixz, iyz = _zp1(xz, dt, "x_zero_point"), _zp1(yz, dt, "y_zero_point")
        cip = bool(kw["count_include_pad"])
        yshape = [shp[0], out[0], out[1], shp[3]]
        M = _lowp.PoolMode
        mode = M.global_mlas if whole else (M.average_s8_as_u8 if kw["s8_as_u8"] else M.average)
        if rounding != "half_even":  # TFLite AVERAGE_POOL_2D: integer average, round half away from zero
            mode = M.average_int
        if kw["ort_float"]:  # ORT's float32 fallback, by the MLAS kernel's summation order
            order = ort_float_pool_order(shp[3], list(shp[1:3]), list(k), list(s), list(head), list(tail))
            mode = getattr(M, "ort_float_" + order)
        nb.op([x], [y], lambda P, S: P.pool(S(x), S(y), list(shp), yshape, dt.name, mode, list(k),
                                            list(s), [1, 1], list(head), fxs, ixz, fys, iyz, cip, qmin, qmax,
                                            name=f"QAvgPool({y})"))
        return True
    return with_native(lambda x: (f(x, xs, xz, ys, yz, ks, layout="NHWC", **kw),), desc)


def make_qbinary(op, a, num_threads=1):
    """QLinearAdd / QLinearMul (lowp.qlinear_add / qlinear_mul, onnxruntime arithmetic); large ones
    on up to num_threads threads (0: all of lowp's pool). A QDQ Add / Mul that onnxruntime runs in float32
    (attrs["ort_float"]) computes that float32 chain instead (_lowp.ort_float_binary)."""
    if a.get("ort_float") and op in ("add", "mul"):
        return _ort_float_binary(op, a, num_threads)
    f = getattr(_eltops, "qlinear_" + op)
    args = (a["a_scale"], a["a_zero_point"], a["b_scale"], a["b_zero_point"], a["y_scale"], a["y_zero_point"])
    lo, hi = int(a["qmin"]), int(a["qmax"])

    try:
        from .. import _lowp
        native = _lowp.binary
    except (ImportError, AttributeError):  # pragma: no cover
        native = None
    dt = np.asarray(a["y_zero_point"]).dtype
    zps = [np.asarray(a[k]) for k in ("a_zero_point", "b_zero_point", "y_zero_point")]
    rounding = a.get("rounding", "half_even")
    if native is None or any(z.size != 1 for z in zps) or (op not in ("add", "mul") and rounding == "half_even"):
        def run_public(x, y):
            return (f(x, args[0], args[1], y, args[2], args[3], args[4], args[5], rounding=rounding, qmin=lo,
                      qmax=hi),)
        return run_public
    # The same native call lowp.qlinear_add/mul makes (onnxruntime half-to-even arithmetic), with
    # every scalar parameter converted once here.
    sa, sb, sc = (_eltops._f32(args[i], n) for i, n in ((0, "a_scale"), (2, "b_scale"), (4, "y_scale")))
    za, zb, zc = (_eltops._zp1(z.reshape(-1)[0], dt, n) for z, n in zip(zps, ("a_zero_point", "b_zero_point",
                                                                          "y_zero_point")))
    fixed = _eltops.tflite_binary_params(op, sa, sb, sc, rounding)  # TFLite's multipliers (unused by half_even)

    def run(x, y):
        if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)) or x.dtype != dt or y.dtype != dt:
            raise TypeError(f"lowp: QLinear{op.capitalize()} expects two {dt} tensors, got "
                            f"{getattr(x, 'dtype', type(x).__name__)} and {getattr(y, 'dtype', type(y).__name__)}")
        return (native(x, y, op, rounding, sa, za, sb, zb, sc, zc, *fixed, lo, hi, num_threads=num_threads),)

    def desc(nb, ins, outs):
        a, b, c = ins[0], ins[1], outs[0]
        if nb.dtype(a) != dt or nb.dtype(b) != dt:
            return False
        sha, shb = list(nb.shape(a)), list(nb.shape(b))
        nb.op([a, b], [c], lambda P, S: P.binary(S(a), S(b), S(c), sha, shb, dt.name, op, rounding, sa, za, sb, zb,
                                                 sc, zc, lo, hi, num_threads=num_threads, fixed=list(fixed),
                                                 name=f"Q{op.capitalize()}({c})"))
        return True
    return with_native(run, desc)


def _ort_float_binary(op, a, num_threads=1):
    from .. import _lowp

    dt = np.asarray(a["y_zero_point"]).dtype
    sa, sb, sc = (float(np.float32(a[k])) for k in ("a_scale", "b_scale", "y_scale"))
    za, zb, zc = (int(np.asarray(a[k]).reshape(-1)[0]) for k in ("a_zero_point", "b_zero_point", "y_zero_point"))
    lo, hi = int(a["qmin"]), int(a["qmax"])
    native = _lowp.ort_float_binary
    threads = num_threads or 0  # 0: all of lowp's pool (as the integer binary op)

    def run(x, y):
        if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)) or x.dtype != dt or y.dtype != dt:
            raise TypeError(f"lowp: {op} expects two {dt} tensors, got "
                            f"{getattr(x, 'dtype', type(x).__name__)} and {getattr(y, 'dtype', type(y).__name__)}")
        return (native(x, y, op, sa, za, sb, zb, sc, zc, lo, hi, num_threads=threads),)

    def desc(nb, ins, outs):
        x, y, c = ins[0], ins[1], outs[0]
        if nb.dtype(x) != dt or nb.dtype(y) != dt:
            return False
        sha, shb = list(nb.shape(x)), list(nb.shape(y))
        nb.op([x, y], [c], lambda P, S: P.ort_float_binary(S(x), S(y), S(c), sha, shb, dt.name, op, sa, za, sb, zb, sc,
                                                           zc, lo, hi, num_threads=threads,
                                                           name=f"Q{op.capitalize()}OrtFloat({c})"))
        return True

    return with_native(run, desc)


def make_qmatmul_activations(a, num_threads=0):
    """QLinearMatMul of two activations: lowp.qlinear_matmul (packs b per call), ORT requantization."""
    args = (a["a_scale"], a["a_zero_point"], a["b_scale"], a["b_zero_point"], a["y_scale"], a["y_zero_point"])
    lo, hi = int(a["qmin"]), int(a["qmax"])
    threads = num_threads or None
    ydt = np.asarray(a["y_zero_point"]).dtype

    def run(x, y):
        return (_gemm.qlinear_matmul(x, args[0], args[1], y, args[2], args[3], args[4], args[5], activation_min=lo,
                                     activation_max=hi, y_dtype=ydt, num_threads=threads),)

    def desc(nb, ins, outs):  # the same GEMMs natively (exec batch_matmul), with the per-tensor zero points
        x, w, y = ins[0], ins[1], outs[0]
        xs_, ws_ = nb.shape(x), nb.shape(w)
        eight = (np.uint8, np.int8)
        if nb.dtype(x) not in eight or nb.dtype(w) not in eight or nb.dtype(y) != ydt or len(xs_) < 2 or \
                len(ws_) < 2 or 0 in xs_ + ws_ or xs_[-1] != ws_[-2] or np.size(args[1]) != 1 or np.size(args[3]) != 1:
            return False
        M, K, N = int(xs_[-2]), int(xs_[-1]), int(ws_[-1])
        if _prod(nb.shape(y)) != _prod(np.broadcast_shapes(xs_[:-2], ws_[:-2])) * M * N:
            return False
        params = _gemm._requant_params("half_even", args[0], args[2], args[4], N)
        kw = dict(out_dtype=ydt.name, rounding="half_even", scale=params["scale"], zero_point=int(np.asarray(args[5])),
                  qmin=lo, qmax=hi, num_threads=threads or 0, name=f"QMatMul({y})")
        _batch_matmul_op(nb, x, w, y, xs_, ws_, M, K, N, False, False, int(np.asarray(args[1])),
                         int(np.asarray(args[3])), kw)
        return True
    return with_native(run, desc)


def make_qconcat(a, lay):
    f = _eltops.qlinear_concat
    axis = NHWC_AXIS[a["axis"] % 4] if lay == "NHWC" else a["axis"]
    sc, zp, ys, yz = a["scales"], a["zero_points"], a["y_scale"], a["y_zero_point"]

    def tables(nb, names):
        # the tables lowp.qlinear_concat uses (None = copy)
        from ..ops.eltwise import _f32, _table_for, _zp1
        dt = nb.dtype(names[0])
        fys, iyz = _f32(ys, "y_scale"), _zp1(yz, dt, "y_zero_point")
        out = []
        for i in range(len(names)):
            s, z = _f32(sc[i], "scale"), _zp1(zp[i], dt, "zero_point")
            out.append(None if (s == fys and z == iyz) else _table_for("identity", {}, s, z, fys, iyz, dt, dt,
                                                                        "half_even"))
        return out

    def desc(nb, ins, outs):
        if len([i for i in ins if i]) != len(sc) or nb.dtype(outs[0]) not in (np.uint8, np.int8):
            return False
        return native_concat(axis, tables)(nb, ins, outs)

    return with_native(_python_qconcat(f, axis, sc, zp, ys, yz), desc)


def _python_qconcat(f, axis, sc, zp, ys, yz):
    """The Python-step QConcat: lowp.qlinear_concat's tables (onnxruntime's float32 requantization)
    built once, then one native concat per run."""
    try:
        from .. import _lowp
        native = _lowp.concat
    except (ImportError, AttributeError):  # pragma: no cover
        native = None
    dt = np.asarray(yz).dtype
    if native is None or dt not in (np.dtype(np.uint8), np.dtype(np.int8)):
        return lambda *xs: (f(list(xs), sc, zp, ys, yz, axis=axis),)
    fys, fyz = _eltops._f32(ys, "y_scale"), _eltops._zp1(yz, dt, "y_zero_point")
    tabs = []
    for s_, z_ in zip(sc, zp):
        same = _eltops._f32(s_, "scale") == fys and _eltops._zp1(z_, dt, "zero_point") == fyz
        tabs.append(None if same else np.ascontiguousarray(
            _eltops._table_for("identity", {}, s_, z_, ys, yz, dt, dt, "half_even")))
    dtn = str(dt)

    def concat(*xs):
        if all(isinstance(x, np.ndarray) and x.dtype == dt and x.flags.c_contiguous for x in xs) and xs \
                and all(x.ndim == xs[0].ndim for x in xs):
            ax = axis + xs[0].ndim if axis < 0 else axis
            return (native(list(xs), tabs, ax, dtn),)
        return (f(list(xs), sc, zp, ys, yz, axis=axis),)
    return concat


def make_qmaxpool_fallback(a):
    """Integer max-pool on NHWC input: numpy max over the kh*kw strided window views (exact)."""
    kh, kw = a["kernel_shape"]
    strides = a.get("strides", [1, 1])
    dil = a.get("dilations", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    ceil_mode = int(a.get("ceil_mode", 0))
    geo = dict(kernel_shape=[kh, kw], strides=list(strides), dilations=list(dil), pads=list(pads),
               auto_pad=a.get("auto_pad", "NOTSET"))
    if int(a.get("storage_order", 0)):
        raise NotImplementedError("lowp: MaxPool storage_order=1 is not supported")

    def run(x):
        N, H, W, C = x.shape
        _, _, sh, sw, dh, dw, pt, pb, pl, pr, OH, OW = _conv_geometry(geo, H, W)
        if ceil_mode:
            OH = -(-(H + pt + pb - (dh * (kh - 1) + 1)) // sh) + 1
            OW = -(-(W + pl + pr - (dw * (kw - 1) + 1)) // sw) + 1
            if (OH - 1) * sh >= H + pt:
                OH -= 1
            if (OW - 1) * sw >= W + pl:
                OW -= 1
        need_h = (OH - 1) * sh + dh * (kh - 1) + 1
        need_w = (OW - 1) * sw + dw * (kw - 1) + 1
        eb = max(pb, need_h - H - pt)
        er = max(pr, need_w - W - pl)
        lo = RANGES[x.dtype][0]
        xp = np.pad(x, ((0, 0), (pt, eb), (pl, er), (0, 0)), constant_values=lo) if (pt or eb or pl or er) else x
        if kh * kw <= 4:
            # Small windows (2x2): max of the tap views directly, the first max allocating the output.
            pats = _patches(xp, kh, kw, sh, sw, dh, dw, OH, OW)
            if len(pats) == 1:
                return (pats[0].copy(),)
            y = np.maximum(pats[0], pats[1])
            for p in pats[2:]:
                np.maximum(y, p, out=y)
            return (y,)
        # Separable: max over the kw taps of each row (all padded rows), then over the kh rows:
        # kh + kw passes instead of kh * kw (ResNet's 3x3/2 pool: ~2.8x faster).
        m = None
        for j in range(kw):
            p = xp[:, :, j * dw: j * dw + sw * (OW - 1) + 1: sw, :]
            m = p.copy() if m is None else np.maximum(m, p, out=m)
        y = None
        for i in range(kh):
            p = m[:, i * dh: i * dh + sh * (OH - 1) + 1: sh]
            y = p.copy() if y is None else np.maximum(y, p, out=y)
        return (y,)

    return run


def make_qgemm(a, num_threads=0):
    """QGemm / QLinearMatMul with constant weights (then the node's optional `lut` table in place)."""
    return _with_lut(_make_qgemm(a, num_threads), a, num_threads)


def _make_qgemm(a, num_threads=0):
    """QGemm / QLinearMatMul with constant weights: lowp.qlinear_matmul on a PackedMatrix (exact)."""
    w = np.asarray(a["w"])
    Kd, N = w.shape
    xdt = np.asarray(a["x_zero_point"]).dtype
    ydt = np.asarray(a["y_zero_point"]).dtype
    xs, xz = np.float32(a["x_scale"]), int(a["x_zero_point"])
    ys, yz = np.float32(a["y_scale"]), np.asarray(a["y_zero_point"]).astype(ydt)
    ws = np.asarray(a["w_scale"], np.float32)
    packed = _gemm.PackedMatrix(w, np.asarray(a["w_zero_point"]).copy())
    bias = a.get("bias")
    qmin, qmax = int(a["qmin"]), int(a["qmax"])
    threads = num_threads or None
    rounding = a.get("rounding", "half_even")
    try:
        from .. import _lowp

        params = _gemm._requant_params(rounding, xs, ws, ys, N)
        native = _lowp.gemm
    except (AttributeError, ImportError):  # pragma: no cover - public path below
        native = None
    zx, zy, out_dt = int(xz), int(yz), ydt.name

    def run(x):
        _check_q(x, xdt, "Gemm/MatMul")
        if x.shape[-1] != Kd:
            raise ValueError(f"lowp: Gemm/MatMul expects inner dimension {Kd}, got input shape {x.shape}")
        x2 = x.reshape(-1, Kd)
        if native is not None and x2.shape[0] > 0:
            # Same call lowp.qlinear_matmul makes, with the requantization scales computed once.
            y = native(np.ascontiguousarray(x2), zx, packed.packed(), out_dt, rounding, bias=bias, zero_point=zy,
                       qmin=qmin, qmax=qmax, num_threads=threads or 0, **params)
        else:
            y = _gemm.qlinear_matmul(x2, xs, xz, packed, ws, None, ys, yz, bias=bias, rounding=rounding, activation_min=qmin,
                                     activation_max=qmax, y_dtype=ydt, num_threads=threads)
        return (y.reshape(x.shape[:-1] + (N,)),)

    def desc(nb, ins, outs):
        x, y = ins[0], outs[0]
        shp = nb.shape(x)
        if native is None or nb.dtype(x) != xdt or not shp or shp[-1] != Kd:
            return False
        M = _prod(shp[:-1])
        if M <= 0:
            return False
        pb = packed.packed()
        nb.op([x], [y], lambda P, S: P.gemm(S(x), S(y), M, xdt.name, zx, pb, out_dt, rounding, bias=bias,
                                            zero_point=zy, qmin=qmin, qmax=qmax, num_threads=threads or 0,
                                            name=f"QGemm({y})", **params))
        return True

    return with_native(run, desc)


def make_matmul_integer(a, num_threads=0):
    """ONNX MatMulInteger with constant B: lowp.matmul_integer on a PackedMatrix (int32, exact)."""
    w = np.asarray(a["w"])
    Kd, N = w.shape
    wz = np.asarray(a["w_zero_point"]).reshape(-1)
    packed = _gemm.PackedMatrix(w, wz.copy() if wz.size > 1 else wz[0])
    threads = num_threads or None

    def run(x, xz=None):
        if x.shape[-1] != Kd:
            raise ValueError(f"lowp: MatMulInteger expects inner dimension {Kd}, got input shape {x.shape}")
        y = _gemm.matmul_integer(x.reshape(-1, Kd), packed, None if xz is None else np.asarray(xz).reshape(()),
                                 num_threads=threads)
        return (y.reshape(x.shape[:-1] + (N,)),)

    def desc(nb, ins, outs):  # the same GEMM natively; a zero point computed at run time (DynamicQuantizeLinear)
        x, y = ins[0], outs[0]  # is read by the op on every run
        xz = ins[1] if len(ins) > 1 and ins[1] else None
        shp, dt = nb.shape(x), nb.dtype(x)
        if dt not in (np.uint8, np.int8) or not shp or shp[-1] != Kd or _prod(shp) == 0:
            return False
        if xz is not None and (nb.dtype(xz) != dt or _prod(nb.shape(xz)) != 1):
            return False
        M, pb = _prod(shp[:-1]), packed.packed()
        zc = nb.value(xz) if xz is not None else np.zeros((), dt)
        if zc is not None:
            nb.op([x], [y], lambda P, S: P.gemm(S(x), S(y), M, dt.name, int(np.asarray(zc).reshape(())), pb, "int32",
                                                num_threads=threads or 0, name=f"MatMulInteger({y})"))
        else:
            nb.op([x, xz], [y], lambda P, S: P.gemm_dynamic_zero_point(S(x), S(xz), S(y), M, dt.name, pb,
                                                                       num_threads=threads or 0,
                                                                       name=f"MatMulInteger({y})"))
        return True

    return with_native(run, desc)


def make_conv_integer(a, num_threads=0):
    """ONNX ConvInteger with constant weights on NHWC input: lowp.QLinearConv.conv_integer (int32, exact)."""
    QLC = getattr(_convops, "QLinearConv", None) if _convops is not None else None
    if QLC is None:
        raise NotImplementedError("lowp: ConvInteger needs lowp.ops.conv")
    mode = a.get("auto_pad", "NOTSET") or "NOTSET"
    wz = np.asarray(a["w_zero_point"]).reshape(-1)
    conv = QLC(np.asarray(a["w"]), None, wz if wz.size > 1 else wz[0], None, strides=list(a["strides"]),
               pads=None if mode != "NOTSET" else list(a["pads"]), dilations=list(a["dilations"]),
               group=int(a["group"]), auto_pad=mode, kernel_shape=list(a["kernel_shape"]), layout="NHWC")
    threads = num_threads or None

    def run(x, xz=None):
        return (conv.conv_integer(x, None if xz is None else np.asarray(xz).reshape(()), num_threads=threads),)

    return run


def qmove_nhwc_ok(a, consts) -> bool:
    """Whether a 4-D lowp.QMove can run on the NHWC tensor as is (see make_qmove): Split along any
    axis; nearest Resize whose constant scales/sizes keep N and C."""
    op = a["onnx_op"]
    if op == "Split":
        return True
    if op == "Slice":  # ONNX >= 10 form: starts, ends[, axes[, steps]] as constant inputs
        return len(consts) >= 3 and all(c is not None for c in consts[1:])
    if op == "Gather":  # a channel gather (the fused channel shuffle)
        return int(a["onnx_attrs"].get("axis", 0)) % 4 == 1 and len(consts) == 2 and consts[1] is not None \
            and np.ndim(consts[1]) == 1
    if op == "Resize":
        at = a["onnx_attrs"]
        if at.get("mode", "nearest") != "nearest" or (len(consts) > 1 and consts[1] is not None and np.size(consts[1])):
            return False  # roi only matters for tf_crop_and_resize; keep the general path
        sc = consts[2] if len(consts) > 2 and consts[2] is not None and np.size(consts[2]) else None
        sz = consts[3] if len(consts) > 3 and consts[3] is not None and np.size(consts[3]) else None
        if (sc is None) == (sz is None):
            return False
        if sc is not None:
            return np.size(sc) == 4 and float(sc.reshape(-1)[0]) == 1 and float(sc.reshape(-1)[1]) == 1
        return False  # sizes: batch dimension unknown at load time
    return False


def _nhwc_nearest_resize(attrs):
    """Nearest Resize on NHWC data (scales in ONNX NCHW order): onnxruntime's source-index rules
    (float_ops._nearest_index); integer upsampling with index = out // factor is one broadcast copy."""
    from .float_ops import _nearest_index

    ctm = attrs.get("coordinate_transformation_mode", "half_pixel")
    nm = attrs.get("nearest_mode", "round_prefer_floor")
    cache = {}

    def plan(H, W, sh, sw):
        key = (H, W, float(sh), float(sw))
        p = cache.get(key)
        if p is None:
            OH, OW = int(np.floor(np.float32(H) * sh)), int(np.floor(np.float32(W) * sw))
            ih = _nearest_index(np.arange(OH), H, OH, sh, ctm, nm)
            iw = _nearest_index(np.arange(OW), W, OW, sw, ctm, nm)
            fh, fw = OH // H if H else 0, OW // W if W else 0
            rep = (fh >= 1 and fw >= 1 and OH == fh * H and OW == fw * W
                   and np.array_equal(ih, np.arange(OH) // fh) and np.array_equal(iw, np.arange(OW) // fw))
            p = cache[key] = (OH, OW, ih, iw, (fh, fw) if rep else None)
        return p

    def resize(x, roi=None, scales=None, sizes=None):
        sc = np.asarray(scales, np.float32).reshape(-1)
        N, H, W, C = x.shape
        OH, OW, ih, iw, rep = plan(H, W, sc[2], sc[3])
        if rep is not None:
            fh, fw = rep
            y = np.empty((N, H, fh, W, fw, C), x.dtype)
            y[...] = x[:, :, None, :, None, :]
            return (y.reshape(N, OH, OW, C),)
        return (np.ascontiguousarray(np.take(np.take(x, ih, axis=1), iw, axis=2)),)
    return resize


def make_qmove(a, lay):
    op = a["onnx_op"]
    attrs = dict(a["onnx_attrs"])
    if lay == "NHWC" and op == "Split":
        attrs["axis"] = ax = NHWC_AXIS[int(attrs.get("axis", 0)) % 4]
        # Channel splits of an NHWC tensor would be strided views: the native split copies each piece
        # out contiguous in one strided pass.
        try:
            from .. import _lowp
            native = _lowp.split
        except (ImportError, AttributeError):  # pragma: no cover
            native = None

        def split(x, sizes=None):
            if native is None or not x.flags.c_contiguous:
                return tuple(np.ascontiguousarray(v) for v in evaluate("Split", attrs, [x, sizes]))
            if sizes is not None:
                sz = [int(v) for v in np.asarray(sizes).reshape(-1)]
            elif "split" in attrs:
                sz = [int(v) for v in attrs["split"]]
            else:
                return tuple(np.ascontiguousarray(v) for v in evaluate("Split", attrs, [x]))
            return tuple(native(x, sz, ax))
        return with_native(split, native_index_fn(split))
    if lay == "NHWC" and op == "Resize":
        rs = _nhwc_nearest_resize(attrs)
        return with_native(rs, native_index_fn(rs))
    if lay == "NHWC" and op in ("Slice", "Gather"):
        try:
            from .. import _lowp
            gather = _lowp.gather_channels
        except (ImportError, AttributeError):  # pragma: no cover
            gather = None
        if op == "Gather":
            def gather_channels(x, idx):
                idx = np.asarray(idx, np.int64)
                idx = np.where(idx < 0, idx + x.shape[3], idx)
                if gather is not None and x.dtype.itemsize == 1 and x.flags.c_contiguous:
                    return (gather(x, idx),)
                return (np.take(x, idx, axis=3),)
            runs_desc = native_index_fn(gather_channels)

            def gather_desc(nb, ins, outs):
                # 8-bit channel gathers (the shuffle interleaves single bytes) as one native gather op
                xa, idx = nb.array(ins[0]), nb.value(ins[1])
                if xa is None or idx is None or xa.ndim != 4 or xa.dtype.itemsize != 1 or np.ndim(idx) != 1:
                    return runs_desc(nb, ins, outs)
                c = xa.shape[3]
                ix = [int(v) + c if int(v) < 0 else int(v) for v in np.asarray(idx).reshape(-1)]
                x, y = ins[0], outs[0]
                ya = nb.array(y)
                if ya is None or ya.shape != xa.shape[:3] + (len(ix),) or min(ix, default=0) < 0 or max(ix, default=0) >= c:
                    return False
                pixels = int(xa.size // c) if c else 0
                nb.op([x], [y], lambda P, S: P.gather_channels(S(x), S(y), c, ix, pixels, name=f"gather_channels({y})"))
                return True
            return with_native(gather_channels, gather_desc)

        def slice_nhwc(x, starts, ends, axes=None, steps=None):
            n = np.size(starts)
            ax = np.arange(n) if axes is None else np.asarray(axes).reshape(-1)
            ax = np.array([NHWC_AXIS[int(v) % 4] for v in ax], np.int64)
            y = evaluate("Slice", attrs, [x, starts, ends, ax, steps])[0]
            if y.flags.c_contiguous:
                return (y,)
            st = [1] * n if steps is None else [int(v) for v in np.asarray(steps).reshape(-1)]
            if gather is not None and x.dtype.itemsize == 1 and x.flags.c_contiguous and y.shape[:3] == x.shape[:3] \
                    and all(v == 1 for v in st) and y.shape[3]:
                # a channel range: one strided row copy (x[..., c0:c0 + k] as a contiguous array)
                c0 = (y.__array_interface__["data"][0] - x.__array_interface__["data"][0]) % x.shape[3]
                return (gather(x, np.arange(c0, c0 + y.shape[3], dtype=np.int64)),)
            return (np.ascontiguousarray(y),)
        return with_native(slice_nhwc, native_index_fn(slice_nhwc))
    if op == "Flatten":
        ax = int(attrs.get("axis", 1))

        def flatten(x):
            k = ax + x.ndim if ax < 0 else ax
            return (x.reshape(int(np.prod(x.shape[:k], dtype=np.int64)), -1),)
        return with_native(flatten, native_alias)
    if op == "Concat" and lay == "NHWC":
        attrs["axis"] = NHWC_AXIS[int(attrs["axis"]) % 4]
    if op == "Pad":
        s, z = a["scale"], a["zero_point"]

        def pad(x, pads=None, value=None, axes=None):
            qv = None if value is None or np.size(value) == 0 else quantize(np.asarray(value, np.float32).reshape(-1)[:1],
                                                                           s, z, dtype=x.dtype)
            if qv is None and attrs.get("mode", "constant") == "constant":
                qv = np.asarray([z], x.dtype) if "value" not in attrs else quantize(
                    np.float32(attrs["value"]), s, z, dtype=x.dtype).reshape(1)
            ins = [x, pads, qv, axes] if pads is not None else [x]
            at = dict(attrs)
            if pads is None and qv is not None:
                at["value"] = qv[0]
            return tuple(evaluate("Pad", at, ins))
        return pad
    return generic_step(op, attrs)


def generic_step(op, attrs):
    """A numpy step (float_ops.evaluate) with a native form for pure data movement."""
    fn = lambda *xs: tuple(evaluate(op, attrs, list(xs)))  # noqa: E731
    if op in ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"):
        return with_native(fn, native_alias)
    if op == "Transpose" and attrs.get("perm") is not None:
        return with_native(fn, native_transpose(tuple(int(p) for p in attrs["perm"])))
    if op == "Concat":
        return with_native(fn, native_concat(int(attrs["axis"])))
    if op in ("Slice", "Split", "Gather", "Expand", "Transpose"):
        return with_native(fn, native_index_move(op, attrs))
    if op in ("Add", "Sub", "Mul", "Div"):
        return with_native(fn, native_float_binary(op))
    if op == "ReduceMean":
        return with_native(fn, native_float_mean(attrs))
    if op == "DynamicQuantizeLinear":
        return with_native(fn, _native_dynamic_quantize)
    if op in ("Softmax", "Gelu", "LayerNormalization"):
        return with_native(fn, _native_float_glue(op, attrs))
    if op == "Cast":
        return with_native(fn, _native_cast_to_float)
    return fn


def _native_float_matmul(nb, ins, outs):
    """float32 MatMul of two tensors of rank >= 2 (numpy broadcasting of the batch axes): ops::float_matmul per
    output matrix, the Python step's own function."""
    a, b, y = ins[0], ins[1], outs[0]
    sa, sb = nb.shape(a), nb.shape(b)
    if nb.dtype(a) != np.float32 or nb.dtype(b) != np.float32 or len(sa) < 2 or len(sb) < 2 or sa[-1] != sb[-2]:
        return False
    la, lb = tuple(sa[:-2]), tuple(sb[:-2])
    if _prod(np.broadcast_shapes(la, lb)) == 0 or _prod(la) == 0 or _prod(lb) == 0:
        return False
    li, ri = _broadcast_blocks(la, lb)
    M, K, N = int(sa[-2]), int(sa[-1]), int(sb[-1])
    nb.op([a, b], [y], lambda P, S: P.float_matmul(S(a), S(b), S(y), _prod(la), _prod(lb), li, ri, M, K, N,
                                                   name=f"MatMul({y})"))
    return True


def _native_float_glue(op, attrs):
    """Softmax (last axis), Gelu and LayerNormalization on float32: the native ops of ops/float_glue.h, which the
    Python steps (float_ops) call too."""
    def desc(nb, ins, outs):
        x, y = ins[0], outs[0]
        shp = nb.shape(x)
        if nb.dtype(x) != np.float32 or not shp or _prod(shp) == 0:
            return False
        if op == "Softmax":
            if int(attrs.get("axis", -1)) % len(shp) != len(shp) - 1:
                return False
            ln = int(shp[-1])
            nb.op([x], [y], lambda P, S: P.float_softmax(S(x), S(y), _prod(shp) // ln, ln, name=f"Softmax({y})"))
            return True
        if op == "Gelu":
            a = attrs.get("approximate", "none")
            a = a.decode() if isinstance(a, bytes) else a
            if a not in ("none", "tanh"):
                return False
            nb.op([x], [y], lambda P, S: P.float_gelu(S(x), S(y), _prod(shp), a == "tanh", name=f"Gelu({y})"))
            return True
        # LayerNormalization: x, scale[, bias] -> y[, mean, inv]
        ax = int(attrs.get("axis", -1)) % len(shp)
        inner = tuple(shp[ax:])
        sc = nb.value(ins[1]) if len(ins) > 1 and ins[1] else None
        bi = nb.value(ins[2]) if len(ins) > 2 and ins[2] else None
        if sc is None or (len(ins) > 2 and ins[2] and bi is None):
            return False
        ln = _prod(inner)
        scale = np.broadcast_to(np.asarray(sc, np.float32), inner).reshape(-1).tolist()
        bias = [] if bi is None else np.broadcast_to(np.asarray(bi, np.float32), inner).reshape(-1).tolist()
        stats = [o for o in outs[1:3] if o]
        if stats and len(stats) != 2:
            return False
        mean, inv = (outs[1], outs[2]) if stats else (None, None)
        eps = float(attrs.get("epsilon", 1e-5))
        nb.op([x], [y] + stats, lambda P, S: P.float_layer_norm(
            S(x), S(y), S(mean) if mean else -1, S(inv) if inv else -1, _prod(shp) // ln, ln, scale, bias, eps,
            name=f"LayerNorm({y})"))
        return True
    return desc


def _native_dynamic_quantize(nb, ins, outs):
    """ONNX DynamicQuantizeLinear natively (ops::dynamic_quantize_linear: the float32 steps of the numpy step)."""
    x = ins[0]
    if nb.dtype(x) != np.float32 or len(outs) != 3 or not all(outs) or _prod(nb.shape(x)) < 1:
        return False
    y, sc, zp = outs
    n = _prod(nb.shape(x))
    nb.op([x], [y, sc, zp], lambda P, S: P.dynamic_quantize(S(x), S(y), S(sc), S(zp), n, name=f"DynamicQuantize({y})"))
    return True


def _native_cast_to_float(nb, ins, outs):
    """ONNX Cast of int32 / 8-bit values to float32 (exact for every int32 below 2^24, rounded as numpy above)."""
    x, y = ins[0], outs[0]
    dt = nb.dtype(x)
    if nb.dtype(y) != np.float32 or dt not in (np.int32, np.uint8, np.int8):
        return False
    n = _prod(nb.shape(x))
    nb.op([x], [y], lambda P, S: P.cast_to_float(S(x), S(y), n, dt.name, name=f"Cast({y})"))
    return True


def native_float_mean(attrs):
    """float32 ReduceMean over one axis that is not the innermost of its data (numpy sums such an axis in order:
    the native op's order); other reductions (numpy's pairwise sums) stay numpy steps."""
    def desc(nb, ins, outs):
        x, y = ins[0], outs[0]
        if nb.dtype(x) != np.float32 or nb.dtype(y) != np.float32:
            return False
        shp = nb.shape(x)
        axes = attrs.get("axes") if len(ins) < 2 or not ins[1] else nb.value(ins[1])
        if axes is None or np.size(axes) != 1:
            return False
        ax = int(np.asarray(axes).reshape(-1)[0]) % len(shp)
        outer, ln, inner = _prod(shp[:ax]), int(shp[ax]), _prod(shp[ax + 1:])
        if inner <= 1 or ln < 1 or _prod(nb.shape(y)) != outer * inner:
            return False
        nb.op([x], [y], lambda P, S: P.float_mean(S(x), S(y), outer, ln, inner, name=f"ReduceMean({y})"))
        return True
    return desc


def native_float_binary(op):
    """float32 Add / Sub / Mul / Div of two float32 tensors (numpy broadcasting): one IEEE operation per element,
    as numpy computes it."""
    def desc(nb, ins, outs):
        if len(ins) != 2 or not all(ins) or any(nb.dtype(i) != np.float32 for i in ins) or \
                nb.dtype(outs[0]) != np.float32:
            return False
        a, b, y = ins[0], ins[1], outs[0]
        sa, sb = list(nb.shape(a)), list(nb.shape(b))
        if len(np.broadcast_shapes(tuple(sa), tuple(sb))) > 8:
            return False
        nb.op([a, b], [y], lambda P, S: P.float_binary(S(a), S(b), S(y), sa, sb, op, name=f"{op}({y})"))
        return True
    return desc


def make_float_fallback(n):
    """Float Conv/Gemm/MatMul/pooling for ops left outside a DQ/Q pattern (float32, not bit-exact
    with onnxruntime's float kernels: summation order differs)."""
    op, a = n.op, n.attrs
    if op in ("Gemm",):
        def gemm(x, b, c=None):
            if int(a.get("transA", 0)):
                x = x.T
            if int(a.get("transB", 0)):
                b = b.T
            y = np.float32(a.get("alpha", 1.0)) * (x @ b)
            if c is not None:
                y = y + np.float32(a.get("beta", 1.0)) * c
            return (y.astype(np.float32),)
        return gemm
    if op == "MatMul":
        from .float_ops import float_matmul
        return with_native(lambda x, b: (float_matmul(x, b),), _native_float_matmul)
    if op == "Conv":
        def conv(x, w, b=None):
            N, C, H, W = x.shape
            O, Cg, kh, kw = w.shape
            group = int(a.get("group", 1))
            geo = dict(kernel_shape=[kh, kw], strides=list(a.get("strides", [1, 1])),
                       dilations=list(a.get("dilations", [1, 1])), pads=list(a.get("pads", [0, 0, 0, 0])),
                       auto_pad=a.get("auto_pad", "NOTSET"))
            _, _, sh, sw, dh, dw, pt, pb, pl, pr, OH, OW = _conv_geometry(geo, H, W)
            xh = np.pad(x.transpose(0, 2, 3, 1), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
            cols = np.stack(_patches(xh, kh, kw, sh, sw, dh, dw, OH, OW), axis=3)  # N,OH,OW,khkw,C
            Og = O // group
            outs = []
            for gi in range(group):
                cg = cols[..., gi * Cg:(gi + 1) * Cg].reshape(N * OH * OW, kh * kw * Cg)
                wg = w[gi * Og:(gi + 1) * Og].transpose(2, 3, 1, 0).reshape(kh * kw * Cg, Og)
                outs.append(cg @ wg)
            y = np.concatenate(outs, axis=1).reshape(N, OH, OW, O)
            if b is not None:
                y = y + b
            return (np.ascontiguousarray(y.transpose(0, 3, 1, 2)).astype(np.float32),)
        return conv
    if op in ("MaxPool", "AveragePool"):
        def pool(x):
            xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
            kh, kw = a["kernel_shape"]
            geo = dict(kernel_shape=[kh, kw], strides=list(a.get("strides", [1, 1])),
                       dilations=list(a.get("dilations", [1, 1])), pads=list(a.get("pads", [0, 0, 0, 0])),
                       auto_pad=a.get("auto_pad", "NOTSET"))
            _, _, sh, sw, dh, dw, pt, pb, pl, pr, OH, OW = _conv_geometry(geo, x.shape[2], x.shape[3])
            fill = -np.inf if op == "MaxPool" else 0.0
            xp = np.pad(xh, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
            pats = _patches(xp, kh, kw, sh, sw, dh, dw, OH, OW)
            if op == "MaxPool":
                y = np.max(np.stack(pats), axis=0)
            elif int(a.get("count_include_pad", 0)) or not (pt or pb or pl or pr):
                y = np.sum(np.stack(pats), axis=0, dtype=np.float32) / np.float32(kh * kw)
            else:
                ones = np.pad(np.ones_like(xh[..., :1]), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
                cnt = np.sum(np.stack(_patches(ones, kh, kw, sh, sw, dh, dw, OH, OW)), axis=0)
                y = np.sum(np.stack(pats), axis=0, dtype=np.float32) / cnt
            return (np.ascontiguousarray(y.transpose(0, 3, 1, 2)).astype(np.float32),)
        return pool
    raise NotImplementedError(f"lowp: no float fallback for {op}")
