"""QDQ fusion: DequantizeLinear -> op -> QuantizeLinear patterns become lowp integer nodes.

QOperator models (QLinearConv, QLinearMatMul, QGemm, com.microsoft QLinear*) are first expanded
into the equivalent DQ -> op -> Q form (weights become quantized constants), so one set of
patterns serves both formats. The fusions mirror what onnxruntime does on CPU, so the integer
result is the one onnxruntime computes:

* DQ(x), DQ(w const), DQ(bias const int32) -> Conv -> [Relu|Clip] -> Q   => lowp.QConv
* DQ(x), DQ(w const) -> Gemm / MatMul -> [Relu|Clip] -> Q                => lowp.QGemm
* DQ(x) -> MaxPool -> Q (same scale and zero point)                      => lowp.QMaxPool
* DQ(x) -> Reshape/Flatten/Transpose/Squeeze/Unsqueeze/Slice/Split/Pad/Concat/Identity -> Q
  (same scale and zero point everywhere)                                 => lowp.QMove
* any DAG of elementwise float ops whose only non-constant input is one per-tensor DQ and which
  ends in one Q (hard-swish as Add/Clip/Mul/Div, Sigmoid*x, HardSigmoid, LeakyRelu, a bare DQ->Q
  requantization, ...) is a function of 256 values                       => lowp.QLut
* QMul / QAdd (x, QLut(x)) -- x * sigmoid(x) (SiLU), x * hard_sigmoid(x) (hard-swish) after the
  LUT fold -- is again a function of x's 256 values                      => one lowp.QLut
* QConv / QGemm -> QLut (hard-swish, SiLU, ... after a convolution) => the QConv / QGemm with the table
  as its `lut` attribute, applied in place to the requantized output  (one step, the output still hot)
* 8-bit Reshape (N, g, C/g, H, W) -> Transpose (0, 2, 1, 3, 4) -> Reshape (N, C, H, W) (ShuffleNet's
  channel shuffle)                                     => one Gather of channels (QMove, runs NHWC)
Whatever is left runs as DQ -> float op -> Q, like onnxruntime's own fallback.
"""
from __future__ import annotations

import numpy as np

from ..graph import Graph, Node
from .float_ops import ELEMENTWISE_OPS, MOVE_OPS, evaluate
from .quant import RANGES, dequantize, quantize

MS = "com.microsoft"


def _elt(name):
    """The lowp.ops.eltwise function `name`, or None while that op is not available."""
    try:
        from ..ops import eltwise
    except ImportError:  # pragma: no cover
        return None
    return getattr(eltwise, name, None)


# --------------------------------------------------------------------------- QOperator -> QDQ
def expand_qoperator(g: Graph) -> None:
    out = []
    counter = [0]

    def tmp(base):
        counter[0] += 1
        return f"{base}__lowp{counter[0]}"

    def dq(x, s, z, axis=1):
        if x in g.constants:
            name = tmp(x + "_dq")
            q = g.constants[x]
            zp = g.constants[z] if z else None
            g.constants[name] = dequantize(q, g.constants[s], zp, axis)
            g.qconstants[name] = (q, np.asarray(g.constants[s], np.float32), zp, axis)
            return name
        name = tmp(x + "_dq")
        out.append(Node("DequantizeLinear", [x, s, z], [name], {}, name))
        return name

    def q(fx, s, z, y):
        out.append(Node("QuantizeLinear", [fx, s, z], [y], {}, y + "_q"))

    def qbias(bias, x_scale, w_scale):
        """int32 bias of a QOperator node as a constant DQ'd with scale x_scale * w_scale."""
        bname = tmp(bias + "_b")
        bq = g.constants[bias]
        bs = (np.float32(np.asarray(g.constants[x_scale]).reshape(-1)[0]) *
              np.asarray(g.constants[w_scale], np.float32).reshape(-1)).astype(np.float32)
        g.constants[bname] = dequantize(bq, bs, None, 0)
        g.qconstants[bname] = (bq, bs, None, 0)
        return bname

    for n in g.nodes:
        op = n.op
        i = n.inputs + [""] * 9
        if n.domain == "" and op == "QLinearConv" or (n.domain == MS and op == "QLinearConv"):
            x = dq(i[0], i[1], i[2])
            w = dq(i[3], i[4], i[5], 0)
            ins = [x, w]
            if i[8]:
                ins.append(qbias(i[8], i[1], i[4]))
            f = tmp(n.outputs[0] + "_f")
            out.append(Node("Conv", ins, [f], {k: v for k, v in n.attrs.items()}, n.name))
            q(f, i[6], i[7], n.outputs[0])
        elif n.domain == "" and op == "QLinearMatMul":
            a = dq(i[0], i[1], i[2])
            b = dq(i[3], i[4], i[5], -1)
            f = tmp(n.outputs[0] + "_f")
            out.append(Node("MatMul", [a, b], [f], {}, n.name))
            q(f, i[6], i[7], n.outputs[0])
        elif n.domain == MS and op == "QGemm":
            a = dq(i[0], i[1], i[2])
            tb = int(n.attrs.get("transB", 0))
            b = dq(i[3], i[4], i[5], 0 if tb else 1)
            ins = [a, b]
            if i[6]:
                ins.append(qbias(i[6], i[1], i[4]))
            if i[7]:
                f = tmp(n.outputs[0] + "_f")
                out.append(Node("Gemm", ins, [f], dict(n.attrs), n.name))
                q(f, i[7], i[8], n.outputs[0])
            else:
                out.append(Node("Gemm", ins, [n.outputs[0]], dict(n.attrs), n.name))
        elif n.domain == MS and op in ("QLinearAdd", "QLinearMul"):
            a = dq(i[0], i[1], i[2])
            b = dq(i[3], i[4], i[5])
            f = tmp(n.outputs[0] + "_f")
            out.append(Node(op[7:], [a, b], [f], {}, n.name))
            q(f, i[6], i[7], n.outputs[0])
        elif n.domain == MS and op in ("QLinearSigmoid", "QLinearLeakyRelu", "QLinearGlobalAveragePool",
                                       "QLinearSoftmax", "QLinearAveragePool"):
            a = dq(i[0], i[1], i[2])
            f = tmp(n.outputs[0] + "_f")
            fop = {"QLinearSigmoid": "Sigmoid", "QLinearLeakyRelu": "LeakyRelu",
                   "QLinearGlobalAveragePool": "GlobalAveragePool", "QLinearSoftmax": "Softmax",
                   "QLinearAveragePool": "AveragePool"}[op]
            attrs = {k: v for k, v in n.attrs.items() if k not in ("channels_last", "opset")}
            out.append(Node(fop, [a], [f], attrs, n.name))
            q(f, i[3], i[4], n.outputs[0])
        elif n.domain == MS and op == "QLinearConcat":
            ys, yz = i[0], i[1]
            ins = []
            k = 2
            while k + 2 < len(n.inputs) + 1 and n.inputs[k:k + 3] and k + 2 <= len(n.inputs) - 1:
                ins.append(dq(n.inputs[k], n.inputs[k + 1], n.inputs[k + 2]))
                k += 3
            f = tmp(n.outputs[0] + "_f")
            out.append(Node("Concat", ins, [f], dict(n.attrs), n.name))
            q(f, ys, yz, n.outputs[0])
        else:
            out.append(n)
            continue
        g.qoperator_expanded = True  # onnxruntime runs these as given (no QDQ s8->u8 rewrite): see ort_runs_float
    g.nodes = out


# --------------------------------------------------------------------------- helpers
def _scalar(g, name):
    if not name:
        return None
    v = g.constants.get(name)
    if v is None or np.size(v) != 1:
        return None
    return np.asarray(v).reshape(-1)[0]


class _Ctx:
    def __init__(self, g: Graph):
        self.g = g
        self.prod = g.producers()
        self.cons = g.consumers()
        self.outputs = {o.name for o in g.outputs}
        self.removed: set = set()

    def dq(self, name):
        """(quantized input name, scale f32, zero point np scalar) if `name` = per-tensor DQ of an activation."""
        p = self.prod.get(name)
        if p is None or p.op != "DequantizeLinear" or p.domain != "" or p.inputs[0] in self.g.constants:
            return None
        s = _scalar(self.g, p.inputs[1])
        if s is None:
            return None
        zn = p.inputs[2] if len(p.inputs) > 2 else ""
        z = _scalar(self.g, zn) if zn else np.uint8(0)
        if z is None:
            return None
        return p.inputs[0], np.float32(s), z

    def s8_to_u8(self, qname):
        """Whether onnxruntime (x86) rewrites the int8 tensor `qname`'s Q -> DQ pair to uint8.

        onnxruntime's QDQS8ToU8Transformer converts an int8 QuantizeLinear -> DequantizeLinear pair (zero
        points constant, scalar, equal) to uint8 only when the Q has exactly one output edge, to a DQ, and
        does not produce a graph output. It runs after EnsureUniqueDQForNodeUnit, which gives every consumer
        of a shared DQ its own copy, so a DQ with several consumers also leaves its Q int8."""
        q = self.prod.get(qname)
        if q is None or q.op != "QuantizeLinear" or q.domain != "" or qname in self.outputs:
            return False
        cs = self.cons.get(qname, [])
        if len(cs) != 1 or cs[0] is None or cs[0].op != "DequantizeLinear" or cs[0].domain != "":
            return False
        dq = cs[0]
        if len(self.cons.get(dq.outputs[0], [])) != 1:
            return False
        zq = _scalar(self.g, q.inputs[2]) if len(q.inputs) > 2 and q.inputs[2] else None
        zd = _scalar(self.g, dq.inputs[2]) if len(dq.inputs) > 2 and dq.inputs[2] else None
        return (zq is not None and zd is not None and np.asarray(zq).dtype == np.int8
                and np.asarray(zd).dtype == np.int8 and int(zq) == int(zd))

    def ort_runs_float(self, x_name, x_zp, y_name, y_zp, int8_allowed):
        """Whether onnxruntime (x86) leaves the QDQ node unit from 8-bit x_name to 8-bit y_name in float32
        (DequantizeLinear -> float op -> QuantizeLinear) instead of fusing it into an integer QLinear op.

        After its s8->u8 rewrite (s8_to_u8) the QDQ selectors require the activation input and output to
        have the same type, and for Conv / MatMul an int8 activation only where int8 is allowed (not on
        x86-64: measured with onnxruntime 1.32, an all-int8 DQ -> Conv -> Q stays float). A tensor left
        int8 (shared by several consumers, a graph input, ...) next to a rewritten one fails that.
        Only for QDQ models as given: QOperator models run their QLinear ops as they are."""
        if getattr(self.g, "qoperator_expanded", False):
            return False
        tx, ty = self._ort_type(x_name, x_zp), self._ort_type(y_name, y_zp)
        return tx != ty or (tx == "s8" and not int8_allowed)

    def _ort_type(self, name, zp):
        """The 8-bit type onnxruntime's QDQ selectors see for a tensor after its s8->u8 rewrite."""
        if np.asarray(zp).dtype != np.int8:
            return "u8"
        return "u8" if self.s8_to_u8(name) else "s8"

    def ort_binary_runs_float(self, a_name, a_zp, b_name, b_zp, y_name, y_zp):
        """Whether onnxruntime (x86) runs DQ(a), DQ(b) -> Add/Mul -> Q in float32: its binary QDQ selector
        (QLinearAdd / QLinearMul, int8 allowed) needs both inputs and the output of one type after the
        s8->u8 rewrite (see ort_runs_float)."""
        if getattr(self.g, "qoperator_expanded", False):
            return False
        return len({self._ort_type(a_name, a_zp), self._ort_type(b_name, b_zp), self._ort_type(y_name, y_zp)}) != 1

    def q_after(self, name):
        """The single per-tensor Q consuming `name` (returns (node, scale, zp))."""
        if name in self.outputs:
            return None
        cs = self.cons.get(name, [])
        if len(cs) != 1 or cs[0] is None or cs[0].op != "QuantizeLinear" or cs[0].domain != "":
            return None
        qn = cs[0]
        s = _scalar(self.g, qn.inputs[1])
        z = _scalar(self.g, qn.inputs[2]) if len(qn.inputs) > 2 and qn.inputs[2] else np.uint8(0)
        if s is None or z is None or qn.attrs.get("output_dtype"):
            return None
        return qn, np.float32(s), z

    def q_after_act(self, name):
        """Q after an optional Relu/Clip: returns (q node, scale, zp, qmin, qmax, absorbed nodes)."""
        r = self.q_after(name)
        if r is not None:
            qn, s, z = r
            lo, hi = RANGES[np.asarray(z).dtype]
            return qn, s, z, lo, hi, []
        cs = self.cons.get(name, [])
        if name in self.outputs or len(cs) != 1 or cs[0] is None or cs[0].op not in ("Relu", "Clip"):
            return None
        act = cs[0]
        r = self.q_after(act.outputs[0])
        if r is None:
            return None
        qn, s, z = r
        dt = np.asarray(z).dtype
        lo, hi = RANGES[dt]
        if act.op == "Relu":
            return qn, s, z, max(lo, int(z)), hi, [act]
        fmin = _scalar(self.g, act.inputs[1]) if len(act.inputs) > 1 and act.inputs[1] else act.attrs.get("min")
        fmax = _scalar(self.g, act.inputs[2]) if len(act.inputs) > 2 and act.inputs[2] else act.attrs.get("max")
        if (len(act.inputs) > 1 and act.inputs[1] and fmin is None) or (len(act.inputs) > 2 and act.inputs[2] and fmax is None):
            return None
        # Q is monotonic, so Q(clip(v, a, b)) == clip(Q(v), Q(a), Q(b)).
        if fmin is not None:
            lo = max(lo, int(quantize(np.float32(fmin), s, z, dtype=dt)))
        if fmax is not None:
            hi = min(hi, int(quantize(np.float32(fmax), s, z, dtype=dt)))
        if lo > hi:
            return None
        return qn, s, z, lo, hi, [act]

    def qconst(self, name):
        return self.g.qconstants.get(name)


def _qattrs(x, y, lo, hi):
    return dict(x_scale=x[1], x_zero_point=x[2], y_scale=y[1], y_zero_point=y[2], qmin=lo, qmax=hi)


def _per_channel(v, n):
    v = np.asarray(v).reshape(-1)
    return np.broadcast_to(v, (n,)).copy() if v.size == 1 else v


# --------------------------------------------------------------------------- fusion
def fuse_qdq(g: Graph) -> None:
    ctx = _Ctx(g)
    replaced: dict = {}  # id(node) -> replacement node (placed where the Q node was)
    drop: set = set()
    for n in g.nodes:
        if id(n) in drop or n.domain not in ("",):
            continue
        fused = None
        if n.op == "Conv":
            fused = _fuse_conv(ctx, n)
        elif n.op in ("Gemm", "MatMul"):
            fused = _fuse_gemm(ctx, n)
            if fused is None and n.op == "MatMul":
                fused = _fuse_matmul_activations(ctx, n)
        elif n.op == "Softmax" and _elt("qlinear_softmax") is not None:
            fused = _fuse_softmax(ctx, n)
        elif n.op in ("MatMulInteger", "ConvInteger"):
            fused = _integer_op(ctx, n)
        elif n.op in ("Add", "Mul") and _elt("qlinear_add") is not None:
            fused = _fuse_binary(ctx, n)
        elif n.op in ("GlobalAveragePool", "AveragePool") and _elt("qlinear_global_average_pool") is not None:
            fused = _fuse_avgpool(ctx, n)
        elif n.op == "Concat" and _elt("qlinear_concat") is not None:
            fused = _fuse_same_scale(ctx, n) or _fuse_concat(ctx, n)
        elif n.op == "MaxPool" or n.op in MOVE_OPS:
            fused = _fuse_same_scale(ctx, n)
            if fused is None and n.op == "MaxPool" and _is_int8(ctx, n.inputs[0]) \
                    and not (len(n.outputs) > 1 and n.outputs[1]):
                # QOperator models run MaxPool directly on 8-bit tensors.
                n.op, n.domain = "QMaxPool", "lowp"
                continue
        if fused is not None:
            new, qnodes, absorbed = fused
            for a in [n] + absorbed:
                drop.add(id(a))
            if not qnodes:  # a rewrite in place
                drop.discard(id(n))
                replaced[id(n)] = new
                continue
            # Place the fused node at the last Q it replaces (all its inputs are defined by then).
            for qn in qnodes[:-1]:
                drop.add(id(qn))
            replaced[id(qnodes[-1])] = new
    nodes = []
    for n in g.nodes:
        if id(n) in replaced:
            nodes.append(replaced[id(n)])
        elif id(n) not in drop:
            nodes.append(n)
    g.nodes = nodes
    g.remove_dead()
    fold_luts(g)
    g.remove_dead()
    fold_gated_luts(g)
    g.remove_dead()
    fuse_channel_shuffle(g)
    g.remove_dead()
    fold_luts_into_producers(g)


def _is_int8(ctx, name):
    vi = ctx.g.value_info.get(name)
    if vi is not None and vi.dtype is not None:
        return vi.dtype in (np.int8, np.uint8)
    p = ctx.prod.get(name)
    return p is not None and (p.domain == "lowp" or (p.op == "QuantizeLinear" and p.domain == ""))


def _fuse_conv(ctx, n):
    g = ctx.g
    x = ctx.dq(n.inputs[0])
    w = ctx.qconst(n.inputs[1])
    if x is None or w is None:
        return None
    wq, ws, wz, waxis = w
    if wq.ndim != 4 or np.asarray(wq).dtype not in (np.dtype(np.int8), np.dtype(np.uint8)):
        return None
    if ws.size != 1 and waxis % wq.ndim != 0:
        return None
    bias = None
    bias_f = None
    if len(n.inputs) > 2 and n.inputs[2]:
        b = ctx.qconst(n.inputs[2])
        if b is None or np.asarray(b[0]).dtype != np.int32 or (b[2] is not None and np.any(np.asarray(b[2]) != 0)):
            return None
        bias = np.asarray(b[0], np.int32).reshape(-1)
        # onnxruntime's float bias: DequantizeLinear of the int32 bias, float(b) * scale in float32
        bias_f = (bias.astype(np.float32) * np.asarray(b[1], np.float32).reshape(-1)).astype(np.float32)
    r = ctx.q_after_act(n.outputs[0])
    if r is None:
        return None
    qn, s, z, lo, hi, absorbed = r
    O = wq.shape[0]
    kh, kw = wq.shape[2:]
    extra = {}
    if ctx.ort_runs_float(x[0], x[2], qn.outputs[0], z, int8_allowed=False):
        # onnxruntime runs this conv as DQ -> float32 Conv (MLAS SGEMM) -> Q: lowp reproduces that float32
        # arithmetic from its exact integer sums (ops/ort_float_conv.h).
        extra = dict(ort_float=True, bias_f=bias_f if bias_f is not None else np.zeros(O, np.float32))
    attrs = dict(**extra,
        w=np.asarray(wq), w_scale=_per_channel(ws, O).astype(np.float32),
        w_zero_point=_per_channel(wz if wz is not None else np.zeros(1, wq.dtype), O).astype(wq.dtype),
        bias=bias, strides=list(n.attrs.get("strides", [1, 1])), dilations=list(n.attrs.get("dilations", [1, 1])),
        pads=list(n.attrs.get("pads", [0, 0, 0, 0])), group=int(n.attrs.get("group", 1)),
        auto_pad=n.attrs.get("auto_pad", "NOTSET"), kernel_shape=[kh, kw], **_qattrs(x, (None, s, z), lo, hi))
    return Node("QConv", [x[0]], [qn.outputs[0]], attrs, n.name, "lowp"), [qn], absorbed


def _fuse_gemm(ctx, n):
    x = ctx.dq(n.inputs[0])
    w = ctx.qconst(n.inputs[1])
    if x is None or w is None:
        return None
    wq, ws, wz, waxis = w
    if wq.ndim != 2 or np.asarray(wq).dtype not in (np.dtype(np.int8), np.dtype(np.uint8)):
        return None
    if n.op == "Gemm":
        if float(n.attrs.get("alpha", 1.0)) != 1.0 or int(n.attrs.get("transA", 0)):
            return None
        if len(n.inputs) > 2 and n.inputs[2] and float(n.attrs.get("beta", 1.0)) != 1.0:
            return None
        trans = int(n.attrs.get("transB", 0))
    else:
        trans = 0
    # Per-channel weights must be per output column.
    out_axis = 0 if trans else 1
    if ws.size != 1 and waxis % 2 != out_axis:
        return None
    wkn = np.ascontiguousarray(wq.T if trans else wq)
    N = wkn.shape[1]
    bias = None
    if n.op == "Gemm" and len(n.inputs) > 2 and n.inputs[2]:
        b = ctx.qconst(n.inputs[2])
        if b is None or np.asarray(b[0]).dtype != np.int32 or (b[2] is not None and np.any(np.asarray(b[2]) != 0)):
            return None
        bias = np.broadcast_to(np.asarray(b[0], np.int32).reshape(-1), (N,)).copy()
    r = ctx.q_after_act(n.outputs[0])
    if r is None:
        return None
    qn, s, z, lo, hi, absorbed = r
    attrs = dict(w=wkn, w_scale=_per_channel(ws, N).astype(np.float32),
                 w_zero_point=_per_channel(wz if wz is not None else np.zeros(1, wq.dtype), N).astype(wq.dtype),
                 bias=bias, **_qattrs(x, (None, s, z), lo, hi))
    return Node("QGemm", [x[0]], [qn.outputs[0]], attrs, n.name, "lowp"), [qn], absorbed


def _fuse_same_scale(ctx, n):
    """MaxPool and data-movement ops between DQ and Q with identical scale/zero point."""
    g = ctx.g
    if n.op == "Concat":
        act = [i for i in n.inputs if i and i not in g.constants]
    else:  # only the data input is an activation; shapes/starts/pads may be run-time int64 tensors
        act = [n.inputs[0]] if n.inputs and n.inputs[0] and n.inputs[0] not in g.constants else []
    if not act:
        return None
    dqs = [ctx.dq(i) for i in act]
    if any(d is None for d in dqs):
        return None
    qs = [ctx.q_after(o) for o in n.outputs]
    if any(r is None for r in qs):
        return None
    ref = (dqs[0][1], dqs[0][2])
    for d in dqs:
        if d[1] != ref[0] or d[2] != ref[1] or np.asarray(d[2]).dtype != np.asarray(ref[1]).dtype:
            return None
    for _, s, z in qs:
        if s != ref[0] or z != ref[1] or np.asarray(z).dtype != np.asarray(ref[1]).dtype:
            return None
    new_inputs = [dqs[act.index(i)][0] if i in act else i for i in n.inputs]
    outs = [r[0].outputs[0] for r in qs]
    if n.op == "MaxPool":
        if len(n.outputs) > 1 and n.outputs[1]:
            return None
        attrs = dict(n.attrs)
        return Node("QMaxPool", new_inputs[:1], outs, attrs, n.name, "lowp"), [r[0] for r in qs], []
    attrs = dict(onnx_op=n.op, onnx_attrs=dict(n.attrs), zero_point=ref[1], scale=ref[0])
    return Node("QMove", new_inputs, outs, attrs, n.name, "lowp"), [r[0] for r in qs], []


def _integer_op(ctx, n):
    """MatMulInteger / ConvInteger with constant weights (dynamic quantization) -> lowp int32 nodes."""
    g = ctx.g
    i = n.inputs + ["", "", ""]
    if i[1] not in g.constants or (i[3] and i[3] not in g.constants):
        return None
    w = np.asarray(g.constants[i[1]])
    wz = np.asarray(g.constants[i[3]]).reshape(-1) if i[3] else np.zeros(1, w.dtype)
    attrs = dict(w=w, w_zero_point=wz)
    ins = [i[0], i[2]] if i[2] else [i[0]]  # the x zero point may be a run-time tensor (DynamicQuantizeLinear)
    if n.op == "MatMulInteger":
        if w.ndim != 2:
            return None
        return Node("MatMulInteger", ins, [n.outputs[0]], attrs, n.name, "lowp"), [], []
    if w.ndim != 4:
        return None
    attrs.update(strides=list(n.attrs.get("strides", [1, 1])), dilations=list(n.attrs.get("dilations", [1, 1])),
                 pads=list(n.attrs.get("pads", [0, 0, 0, 0])), group=int(n.attrs.get("group", 1)),
                 auto_pad=n.attrs.get("auto_pad", "NOTSET"), kernel_shape=list(w.shape[2:]))
    return Node("ConvInteger", ins, [n.outputs[0]], attrs, n.name, "lowp"), [], []


def _fuse_matmul_activations(ctx, n):
    """DQ(a), DQ(b) -> MatMul -> Q with both operands activations  =>  lowp.QMatMul (QLinearMatMul)."""
    if any(i in ctx.g.constants for i in n.inputs[:2]):
        return None
    a, b = ctx.dq(n.inputs[0]), ctx.dq(n.inputs[1])
    if a is None or b is None:
        return None
    r = ctx.q_after_act(n.outputs[0])
    if r is None:
        return None
    qn, s, z, lo, hi, absorbed = r
    attrs = dict(a_scale=a[1], a_zero_point=a[2], b_scale=b[1], b_zero_point=b[2], y_scale=s, y_zero_point=z,
                 qmin=lo, qmax=hi)
    return Node("QMatMul", [a[0], b[0]], [qn.outputs[0]], attrs, n.name, "lowp"), [qn], absorbed


def _fuse_softmax(ctx, n):
    """DQ -> Softmax -> Q  =>  lowp.QSoftmax (com.microsoft QLinearSoftmax arithmetic)."""
    x = ctx.dq(n.inputs[0])
    if x is None or ctx.g.opset < 13:
        return None
    r = ctx.q_after(n.outputs[0])
    if r is None:
        return None
    qn, s, z = r
    if np.asarray(z).dtype != np.asarray(x[2]).dtype:
        return None
    attrs = dict(x_scale=x[1], x_zero_point=x[2], y_scale=s, y_zero_point=z, axis=int(n.attrs.get("axis", -1)))
    return Node("QSoftmax", [x[0]], [qn.outputs[0]], attrs, n.name, "lowp"), [qn], []


def _fuse_binary(ctx, n):
    """DQ(a), DQ(b) -> Add/Mul -> [Relu|Clip] -> Q  =>  lowp.QAdd / lowp.QMul (QLinearAdd/QLinearMul)."""
    if len(n.inputs) != 2 or any(i in ctx.g.constants for i in n.inputs):
        return None
    a, b = ctx.dq(n.inputs[0]), ctx.dq(n.inputs[1])
    if a is None or b is None:
        return None
    r = ctx.q_after_act(n.outputs[0])
    if r is None:
        return None
    qn, s, z, lo, hi, absorbed = r
    dts = {np.asarray(a[2]).dtype, np.asarray(b[2]).dtype, np.asarray(z).dtype}
    if len(dts) != 1:
        return None
    attrs = dict(a_scale=a[1], a_zero_point=a[2], b_scale=b[1], b_zero_point=b[2], y_scale=s, y_zero_point=z,
                 qmin=lo, qmax=hi, from_qdq=not absorbed)  # a plain DQ -> Add/Mul -> Q (see fold_gated_luts)
    if not absorbed:
        # onnxruntime leaves this Add / Mul in float32: lowp computes that float32 chain (ops/ort_float_eltwise.h)
        attrs["ort_float"] = ctx.ort_binary_runs_float(a[0], a[2], b[0], b[2], qn.outputs[0], z)
    return Node("Q" + n.op, [a[0], b[0]], [qn.outputs[0]], attrs, n.name, "lowp"), [qn], absorbed


def _fuse_avgpool(ctx, n):
    x = ctx.dq(n.inputs[0])
    if x is None:
        return None
    r = ctx.q_after(n.outputs[0])
    if r is None:
        return None
    qn, s, z = r
    if np.asarray(z).dtype != np.asarray(x[2]).dtype:
        return None
    attrs = dict(x_scale=x[1], x_zero_point=x[2], y_scale=s, y_zero_point=z, pool=dict(n.attrs))
    op = "QGlobalAvgPool" if n.op == "GlobalAveragePool" else "QAvgPool"
    if op == "QAvgPool" and len(n.attrs.get("kernel_shape", [])) != 2:
        return None
    if op == "QAvgPool" and np.asarray(z).dtype == np.int8 and not getattr(ctx.g, "qoperator_expanded", False) \
            and ctx._ort_type(x[0], x[2]) == ctx._ort_type(qn.outputs[0], z) == "u8":
        # onnxruntime rewrote both int8 tensors to uint8 (QDQS8ToU8Transformer) and runs a uint8
        # QLinearAveragePool whose float32 zero-point add sees y_zp + 128 (ops/pool.h, as_uint8).
        attrs["s8_as_u8"] = True
    if ctx.ort_runs_float(x[0], x[2], qn.outputs[0], z, int8_allowed=True):
        # one tensor rewritten to uint8, the other left int8: onnxruntime runs DQ -> float32 (Global)AveragePool
        # (MLAS) -> Q; lowp computes that chain (ops/pool.h avg_pool_ort_float) unless ort_float="off"
        attrs["ort_float"] = True
    return Node(op, [x[0]], [qn.outputs[0]], attrs, n.name, "lowp"), [qn], []


def _fuse_concat(ctx, n):
    """Concat of DQ'd inputs with different scales -> Q  =>  lowp.QConcat (com.microsoft QLinearConcat)."""
    if any(not i or i in ctx.g.constants for i in n.inputs):
        return None
    dqs = [ctx.dq(i) for i in n.inputs]
    if any(d is None for d in dqs):
        return None
    r = ctx.q_after(n.outputs[0])
    if r is None:
        return None
    qn, s, z = r
    if len({np.asarray(d[2]).dtype for d in dqs} | {np.asarray(z).dtype}) != 1:
        return None
    attrs = dict(scales=[d[1] for d in dqs], zero_points=[d[2] for d in dqs], y_scale=s, y_zero_point=z,
                 axis=int(n.attrs["axis"]))
    return Node("QConcat", [d[0] for d in dqs], [qn.outputs[0]], attrs, n.name, "lowp"), [qn], []


# --------------------------------------------------------------------------- elementwise chains -> LUT
def fold_luts(g: Graph) -> None:
    ctx = _Ctx(g)
    order = {id(n): k for k, n in enumerate(g.nodes)}
    replaced = {}
    drop = set()
    for qn in g.nodes:
        if qn.op != "QuantizeLinear" or qn.domain != "" or id(qn) in drop:
            continue
        s = _scalar(g, qn.inputs[1])
        z = _scalar(g, qn.inputs[2]) if len(qn.inputs) > 2 and qn.inputs[2] else np.uint8(0)
        if s is None or z is None or qn.attrs.get("output_dtype") or qn.inputs[0] in g.constants:
            continue
        chain = _chain(ctx, qn.inputs[0])
        if chain is None:
            continue
        nodes, dq_node = chain
        xd = ctx.dq(dq_node.outputs[0])
        if xd is None:
            continue
        xname, xs, xz = xd
        in_dt = np.asarray(xz).dtype
        codes = np.arange(256, dtype=np.uint8).view(in_dt)
        env = {dq_node.outputs[0]: dequantize(codes, xs, xz)}
        try:
            for n in sorted(nodes, key=lambda n: order[id(n)]):
                ins = [env[i] if i in env else (g.constants[i] if i else None) for i in n.inputs]
                outs = evaluate(n.op, n.attrs, ins)
                for o, v in zip(n.outputs, outs):
                    env[o] = np.asarray(v)
            fv = np.broadcast_to(env[qn.inputs[0]], (256,))
        except Exception:
            continue
        if fv.dtype != np.float32:
            continue
        table = quantize(fv, s, z, dtype=np.asarray(z).dtype)
        desc = "+".join(n.op for n in sorted(nodes, key=lambda n: order[id(n)])) or "Requantize"
        new = Node("QLut", [xname], [qn.outputs[0]],
                   dict(table=table, x_scale=xs, x_zero_point=xz, y_scale=np.float32(s), y_zero_point=z,
                        function=desc), qn.name, "lowp")
        replaced[id(qn)] = new
        for n in nodes:
            drop.add(id(n))
    g.nodes = [replaced.get(id(n), n) for n in g.nodes if id(n) not in drop]


def _chain(ctx, out_name):
    """Nodes of the elementwise DAG computing `out_name` from one DQ (None if not such a DAG)."""
    g = ctx.g
    nodes = {}
    dq = None
    stack = [out_name]
    seen = set()
    while stack:
        v = stack.pop()
        if v in seen or not v:
            continue
        seen.add(v)
        if v in g.constants:
            if np.size(g.constants[v]) != 1:
                return None
            continue
        p = ctx.prod.get(v)
        if p is None:
            return None
        if p.op == "DequantizeLinear" and p.domain == "":
            if dq is not None and dq is not p:
                return None
            dq = p
            continue
        if p.domain != "" or p.op not in ELEMENTWISE_OPS or len(p.outputs) != 1:
            return None
        nodes[id(p)] = p
        stack.extend(p.inputs)
    if dq is None:
        return None
    # Every intermediate value must be used only inside the chain (or by the final Q).
    inside = set(nodes)
    for p in nodes.values():
        for o in p.outputs:
            if o in ctx.outputs:
                return None
            for c in ctx.cons.get(o, []):
                if c is None:
                    return None
                if id(c) not in inside and o != out_name:
                    return None
                if o == out_name and id(c) not in inside and c.op != "QuantizeLinear":
                    return None
    if nodes:
        cs = ctx.cons.get(out_name, [])
        if len([c for c in cs if c is not None and id(c) not in inside]) != 1 or out_name in ctx.outputs:
            return None
    return list(nodes.values()), dq


# --------------------------------------------------------------------------- x (*|+) f(x) -> LUT
def fold_gated_luts(g: Graph) -> None:
    """QMul/QAdd(x, QLut(x)) -> QLut(x): SiLU (x * sigmoid(x)) and hard-swish (x * hard_sigmoid(x)) as
    exported into QDQ models are DQ -> Sigmoid -> Q, then QLinearMul of that and x. Both operands are
    functions of x's byte, so the result is too: its table is the runtime's own QLinearMul/QLinearAdd
    kernel applied to (every code, first table[code]), hence the same bits as the two-step form."""
    from ..ops.eltwise import dequantize_linear, quantize_linear
    from .kernels import make_qbinary

    prod = g.producers()
    cons = g.consumers()
    outputs = {o.name for o in g.outputs}
    replaced, drop = {}, set()
    for n in g.nodes:
        if n.kind not in ("lowp.QMul", "lowp.QAdd") or len(n.inputs) != 2:
            continue
        for k in (0, 1):
            x, h = n.inputs[k], n.inputs[1 - k]
            lut = prod.get(h)
            if lut is None or lut.kind != "lowp.QLut" or lut.inputs[0] != x or id(lut) in drop:
                continue
            if h in outputs or len(cons.get(h, [])) != 1:
                continue
            dt = np.asarray(lut.attrs["x_zero_point"]).dtype
            if np.asarray(n.attrs["y_zero_point"]).dtype != dt or np.asarray(lut.attrs["table"]).dtype != dt:
                continue
            codes = np.arange(256, dtype=np.uint8).view(dt)
            first = np.ascontiguousarray(lut.attrs["table"])
            ops = (codes, first) if k == 0 else (first, codes)
            use_float = n.attrs["ort_float"] if "ort_float" in n.attrs else (n.attrs.get("from_qdq") and dt == np.int8)
            if use_float:
                # onnxruntime (x86) does not fuse int8-activation QDQ Add/Mul into QLinearAdd/Mul: it runs
                # DequantizeLinear -> float32 Add/Mul -> QuantizeLinear, so the table is that arithmetic.
                fa = dequantize_linear(ops[0], n.attrs["a_scale"], n.attrs["a_zero_point"])
                fb = dequantize_linear(ops[1], n.attrs["b_scale"], n.attrs["b_zero_point"])
                table = quantize_linear(fa * fb if n.op == "QMul" else fa + fb, n.attrs["y_scale"],
                                        n.attrs["y_zero_point"])
            else:
                table = make_qbinary(n.op[1:].lower(), n.attrs)(*ops)[0]
            if table.dtype != dt or table.shape != (256,):
                continue
            attrs = dict(table=np.ascontiguousarray(table), x_scale=lut.attrs["x_scale"],
                         x_zero_point=lut.attrs["x_zero_point"], y_scale=n.attrs["y_scale"],
                         y_zero_point=n.attrs["y_zero_point"],
                         function=f"{lut.attrs.get('function', 'f')}->{n.op[1:]}(x, .)")
            replaced[id(n)] = Node("QLut", [x], list(n.outputs), attrs, n.name, "lowp")
            drop.add(id(lut))
            break
    if replaced:
        g.nodes = [replaced.get(id(n), n) for n in g.nodes if id(n) not in drop]


# --------------------------------------------------------------------------- channel shuffle
def _move(n):
    """(onnx op, attrs) of an 8-bit data-movement node: lowp.QMove, or a plain ONNX op of a QOperator model."""
    if n.kind == "lowp.QMove":
        return n.attrs["onnx_op"], n.attrs["onnx_attrs"]
    if n.domain == "":
        return n.op, n.attrs
    return None, None


def fuse_channel_shuffle(g: Graph) -> None:
    """Reshape(x, [0|N, g, C/g, H, W]) -> Transpose(perm 0,2,1,3,4) -> Reshape(., [0|N, C, H, W]) on 8-bit
    data is the channel permutation y[:, j] = x[:, (j % g) * (C / g) + j // g]: one Gather along axis 1
    (which the executor runs on NHWC tensors without converting layouts)."""
    prod = g.producers()
    cons = g.consumers()
    outputs = {o.name for o in g.outputs}
    replaced, drop = {}, set()

    def const(name, ndim=1):
        v = g.constants.get(name)
        return None if v is None or np.ndim(v) != ndim else [int(e) for e in np.asarray(v).reshape(-1)]

    def only_use(name, c):
        return name not in outputs and len(cons.get(name, [])) == 1 and cons[name][0] is c

    for r1 in g.nodes:
        op, at = _move(r1)
        if op != "Reshape" or at.get("allowzero") or len(r1.inputs) < 2:
            continue
        s1 = const(r1.inputs[1])
        if s1 is None or len(s1) != 5 or s1[0] < 0 or s1[1] < 2 or s1[2] < 1:
            continue
        cs = cons.get(r1.outputs[0], [])
        if len(cs) != 1 or cs[0] is None or not only_use(r1.outputs[0], cs[0]):
            continue
        tr = cs[0]
        op2, at2 = _move(tr)
        if op2 != "Transpose" or list(at2.get("perm", [])) != [0, 2, 1, 3, 4]:
            continue
        cs2 = cons.get(tr.outputs[0], [])
        if len(cs2) != 1 or cs2[0] is None or not only_use(tr.outputs[0], cs2[0]):
            continue
        r2 = cs2[0]
        op3, at3 = _move(r2)
        if op3 != "Reshape" or at3.get("allowzero") or len(r2.inputs) < 2:
            continue
        s2 = const(r2.inputs[1])
        grp, cg, H, W = s1[1:]
        C = grp * cg
        if s2 is None or len(s2) != 4 or s2[0] != s1[0] or s2[1:] not in ([C, H, W], [-1, H, W]):
            continue
        if H < 0 or W < 0 or (s1[0] == 0 and 0 in s1[1:]) or -1 in s1:
            continue
        vi = g.value_info.get(r1.inputs[0])
        if vi is None or vi.shape is None or len(vi.shape) != 4 or list(vi.shape[1:]) != [C, H, W]:
            continue  # the input must be the (N, C, H, W) tensor the pattern regroups
        j = np.arange(C)
        perm = ((j % grp) * cg + j // grp).astype(np.int64)
        pname = r2.outputs[0] + "__shuffle_perm"
        g.constants[pname] = perm
        gattrs = {"axis": 1}
        if r1.kind == "lowp.QMove":
            attrs = dict(r1.attrs, onnx_op="Gather", onnx_attrs=gattrs)
            new = Node("QMove", [r1.inputs[0], pname], list(r2.outputs), attrs, r2.name, "lowp")
        else:
            new = Node("Gather", [r1.inputs[0], pname], list(r2.outputs), gattrs, r2.name, "")
        drop.update((id(r1), id(tr)))
        # ShuffleNet splits the shuffled tensor into halves right away: each channel Slice of it is a
        # gather of part of the permutation from x itself (one pass instead of gather + slice copies).
        users = cons.get(r2.outputs[0], [])
        ranges = [_channel_slice(g, u, C) for u in users] if r2.outputs[0] not in outputs else [None]
        if users and all(r is not None for r in ranges):
            for u, (c0, c1) in zip(users, ranges):
                part = u.outputs[0] + "__gather_idx"
                g.constants[part] = perm[c0:c1].copy()
                if u.kind == "lowp.QMove":
                    nu = Node("QMove", [r1.inputs[0], part], list(u.outputs),
                              dict(u.attrs, onnx_op="Gather", onnx_attrs={"axis": 1}), u.name, "lowp")
                else:
                    nu = Node("Gather", [r1.inputs[0], part], list(u.outputs), {"axis": 1}, u.name, "")
                replaced[id(u)] = nu
            drop.add(id(r2))
            continue
        replaced[id(r2)] = new
    if replaced:
        g.nodes = [replaced.get(id(n), n) for n in g.nodes if id(n) not in drop]


def _channel_slice(g, u, C):
    """(c0, c1) if node u is an 8-bit Slice of channels [c0, c1) (axis 1, step 1, constant bounds) of a C-channel tensor."""
    if u is None:
        return None
    op, at = _move(u)
    if op != "Slice" or len(u.inputs) < 3 or any(i and i not in g.constants for i in u.inputs[1:]):
        return None
    vals = [np.asarray(g.constants[i]).reshape(-1).tolist() if i else None for i in u.inputs[1:5]]
    starts, ends = vals[0], vals[1]
    axes = vals[2] if len(vals) > 2 and vals[2] is not None else list(range(len(starts)))
    steps = vals[3] if len(vals) > 3 and vals[3] is not None else [1] * len(starts)
    if len(starts) != 1 or len(ends) != 1 or len(axes) != 1 or axes[0] % 4 != 1 or steps != [1]:
        return None
    c0 = max(0, min(C, starts[0] + C if starts[0] < 0 else starts[0]))
    c1 = max(0, min(C, ends[0] + C if ends[0] < 0 else ends[0]))
    return (c0, c1) if c1 > c0 else None


# --------------------------------------------------------------------------- QConv/QGemm -> QLut
def fold_luts_into_producers(g: Graph) -> None:
    """A QLut whose input is the only use of a QConv / QGemm output becomes that node's `lut` attribute:
    the kernel adapter applies the table in place right after requantizing (same values, one step less,
    the output still in cache). The node's y_scale / y_zero_point stay those of its own requantization;
    lut_y_scale / lut_y_zero_point describe the final output."""
    prod = g.producers()
    cons = g.consumers()
    outputs = {o.name for o in g.outputs}
    drop = set()
    for n in g.nodes:
        if n.kind != "lowp.QLut":
            continue
        p = prod.get(n.inputs[0])
        if p is None or p.kind not in ("lowp.QConv", "lowp.QGemm") or "lut" in p.attrs or len(p.outputs) != 1:
            continue
        if p.outputs[0] in outputs or len(cons.get(p.outputs[0], [])) != 1:
            continue
        table = np.asarray(n.attrs["table"])
        if table.dtype != np.asarray(p.attrs["y_zero_point"]).dtype or table.shape != (256,):
            continue
        p.attrs = dict(p.attrs, lut=np.ascontiguousarray(table), lut_y_scale=n.attrs["y_scale"],
                       lut_y_zero_point=n.attrs["y_zero_point"],
                       lut_function=n.attrs.get("function", ""))
        p.outputs = list(n.outputs)
        drop.add(id(n))
    if drop:
        g.nodes = [n for n in g.nodes if id(n) not in drop]


# --------------------------------------------------------------------------- onnxruntime float fallbacks
ORT_FLOAT_POLICIES = ("all", "auto", "off")
AUTO_MAX_K = 576


def ort_float_policy(value=None) -> str:
    """The session's choice for the nodes onnxruntime runs in float32 (attrs["ort_float"], set by the
    fusions above): "all" reproduces every one bit for bit; "auto" those whose reproduction is
    cheap -- 1x1 single-group convs with <= AUTO_MAX_K input channels (ops/ort_float_conv.h: few outputs
    need the float32 chain), depthwise convs (computed wholly in float32, vectorized over channels) and the
    Add / Mul chain (ops/ort_float_eltwise.h) -- leaving dense KxK convs exact-integer (they may
    differ from onnxruntime by 1 where its float32 sum rounds differently); "off" keeps lowp's exact
    integer arithmetic everywhere (fastest; int8-activation models then differ from onnxruntime by 1 LSB
    where its float32 rounds differently, and the differences compound through deep networks: up to
    a third of the output values). Default "all": lowp gives the bits of the runtime the model came from.
    value: one of those, True ("all"), False ("off"), or None (environment LOWP_ORT_FLOAT, else "all").
    Costs and rates: docs/PERFORMANCE.md "int8-activation exactness"."""
    import os

    if value is None:
        value = os.environ.get("LOWP_ORT_FLOAT", "all")
    if value is True:
        value = "all"
    elif value is False:
        value = "off"
    if value not in ORT_FLOAT_POLICIES:
        raise ValueError(f"lowp: ort_float must be one of {ORT_FLOAT_POLICIES} (or True / False), got {value!r}")
    return value


def apply_ort_float_policy(g: Graph, policy: str) -> None:
    """Drops attrs["ort_float"] from the nodes the policy (ort_float_policy) leaves exact-integer."""
    for n in g.nodes:
        if n.domain != "lowp" or not n.attrs.get("ort_float"):
            continue
        keep = policy == "all"
        if policy == "auto":
            if n.op == "QConv":
                k = list(n.attrs.get("kernel_shape", [1, 1]))
                w = np.asarray(n.attrs["w"])
                group = int(n.attrs.get("group", 1))
                # the share of outputs to redo in float32 grows with K (the error bound does): past ~576
                # input channels it approaches a whole float32 convolution (ResNet-50's 1024 / 2048)
                pointwise = k == [1, 1] and group == 1 and int(w.shape[1]) <= AUTO_MAX_K
                depthwise = group > 1 and group == int(w.shape[0]) and int(w.shape[1]) == 1  # all float32, SIMD
                keep = pointwise or depthwise
            else:
                keep = True  # QAdd / QMul: as cheap as the integer kernels
        if not keep:
            n.attrs["ort_float"] = False
