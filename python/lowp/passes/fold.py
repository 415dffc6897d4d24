"""Constant folding: Constant/Shape/Gather chains, glue on constants, DequantizeLinear of stored weights."""
from __future__ import annotations

import numpy as np

from ..graph import Graph
from .float_ops import FLOAT_OPS, evaluate
from .quant import dequantize


def fold_constants(g: Graph) -> None:
    """Evaluates every node whose inputs are all constants (in place).

    DequantizeLinear of a constant keeps its integer form in g.qconstants so that the QDQ fusion
    can hand the stored int8 weights / int32 bias straight to the integer kernels.
    """
    keep = []
    known_shapes = {}  # Shape output -> list of dims (None where dynamic)
    probe = _ShapeProbe(g)
    prod = {}
    for n in g.nodes:
        ins = [i for i in n.inputs if i]
        if n.op == "Shape" and n.domain == "" and not n.attrs.get("start") and n.attrs.get("end") is None:
            vi = g.value_info.get(n.inputs[0])
            dims = probe.dims(n.inputs[0])
            if dims is None and vi is not None and vi.shape is not None:
                dims = [d if isinstance(d, int) and d > 0 else None for d in vi.shape]
            if dims is not None:
                known_shapes[n.outputs[0]] = dims
        if n.op == "Reshape" and n.domain == "" and len(n.inputs) > 1 and n.inputs[1] not in g.constants:
            _batch_reshape(g, n, prod, probe)
        if n.op == "Gather" and n.domain == "" and n.inputs[0] in known_shapes and n.inputs[1] in g.constants:
            dims = known_shapes[n.inputs[0]]
            idx = np.asarray(g.constants[n.inputs[1]])
            picked = [dims[int(i)] for i in idx.reshape(-1)]
            if all(d is not None for d in picked):
                # A static dimension of a tensor whose batch size is dynamic.
                g.constants[n.outputs[0]] = np.array(picked, np.int64).reshape(idx.shape)
                continue
        if n.domain == "" and all(i in g.constants for i in ins) and ins:
            if n.op == "DequantizeLinear":
                q = g.constants[n.inputs[0]]
                s = g.constants[n.inputs[1]]
                zp = g.constants[n.inputs[2]] if len(n.inputs) > 2 and n.inputs[2] else None
                axis = int(n.attrs.get("axis", 1))
                g.constants[n.outputs[0]] = dequantize(q, s, zp, axis)
                g.qconstants[n.outputs[0]] = (q, np.asarray(s, np.float32), zp, axis)
                continue
            if n.op in FLOAT_OPS:
                try:
                    outs = evaluate(n.op, n.attrs, [g.constants[i] if i else None for i in n.inputs])
                except Exception:
                    keep.append(n)
                    continue
                for name, v in zip(n.outputs, outs):
                    if name:
                        g.constants[name] = np.asarray(v)
                continue
        keep.append(n)
        for o in n.outputs:
            prod[o] = n
        probe.infer(n)
    g.nodes = keep
    g.remove_dead()


# --------------------------------------------------------------------------- batch-dynamic shapes
# Exported CNNs compute reshape targets from x.shape at run time (channel shuffle: n, c, h, w =
# x.shape; x.reshape(n, 2, c // 2, h, w)), which stops ONNX shape inference at the first such Reshape
# and leaves every later Shape -> Gather chain, and the float DequantizeLinear feeding it, in the
# per-inference program. _ShapeProbe tracks each tensor's shape under two batch sizes (1 and 2) through
# the shape-preserving and data-movement ops (evaluated on zero arrays) and convolution / pooling
# geometry: a dimension equal in both is static, one that is 1 and 2 is the batch.
_SAME_SHAPE = {"QuantizeLinear", "DequantizeLinear", "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid",
               "HardSwish", "Tanh", "Identity", "Cast", "Neg", "Abs", "Exp", "Sqrt", "Reciprocal", "Floor", "Ceil"}
_BROADCAST = {"Add", "Sub", "Mul", "Div", "Pow", "Min", "Max"}
_PROBE_MOVES = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Slice", "Split", "Concat", "Resize"}


class _ShapeProbe:
    def __init__(self, g: Graph):
        self.g = g
        self.pairs: dict = {}  # name -> (shape at batch 1, shape at batch 2)
        for vi in list(g.inputs) + list(g.value_info.values()):
            if vi.shape is None or not vi.shape or vi.name in self.pairs:
                continue
            d0, rest = vi.shape[0], vi.shape[1:]
            if all(isinstance(d, int) and d > 0 for d in rest) and (isinstance(d0, str) or d0 is None):
                self.pairs[vi.name] = (tuple([1] + list(rest)), tuple([2] + list(rest)))

    def dims(self, name):
        p = self.pairs.get(name)
        if p is None:
            return None
        return [a if a == b else None for a, b in zip(*p)]

    def is_batch_dim0(self, name):
        p = self.pairs.get(name)
        return p is not None and len(p[0]) > 0 and p[0][0] == 1 and p[1][0] == 2

    def infer(self, n):
        if n.domain != "" or not n.outputs or n.outputs[0] in self.pairs:
            return
        g = self.g
        acts = [i for i in n.inputs if i and i not in g.constants]
        if not acts or any(i not in self.pairs for i in acts):
            return
        try:
            out = [self._one(n, k) for k in (0, 1)]
        except Exception:
            return
        if out[0] is None or out[1] is None:
            return
        for name, a, b in zip(n.outputs, out[0], out[1]):
            if name and a is not None and len(a) == len(b):
                self.pairs[name] = (tuple(int(v) for v in a), tuple(int(v) for v in b))

    def _one(self, n, k):
        g = self.g
        x = self.pairs[n.inputs[0]][k] if n.inputs[0] in self.pairs else None
        if n.op in _SAME_SHAPE and x is not None:
            return [x] + [None] * (len(n.outputs) - 1)
        if n.op in _BROADCAST:
            shp = [self.pairs[i][k] if i in self.pairs else np.shape(g.constants[i]) for i in n.inputs if i]
            return [np.broadcast_shapes(*shp)]
        if n.op in _PROBE_MOVES:
            args = [np.zeros(self.pairs[i][k], np.uint8) if i in self.pairs else (g.constants[i] if i else None)
                    for i in n.inputs]
            if n.op == "Split" and "num_outputs" not in n.attrs:
                n_attrs = dict(n.attrs, _num_outputs=len(n.outputs))
            else:
                n_attrs = n.attrs
            return [np.shape(v) for v in evaluate(n.op, n_attrs, args)]
        if n.op in ("Conv", "MaxPool", "AveragePool") and x is not None and len(x) == 4 and not n.attrs.get("ceil_mode"):
            from .kernels import _conv_geometry

            if n.op == "Conv":
                w = g.constants.get(n.inputs[1])
                if w is None or np.ndim(w) != 4:
                    return None
                ks, co = list(np.shape(w)[2:]), np.shape(w)[0]
            else:
                ks, co = list(n.attrs["kernel_shape"]), x[1]
            a = dict(kernel_shape=ks, strides=list(n.attrs.get("strides", [1, 1])),
                     dilations=list(n.attrs.get("dilations", [1, 1])), pads=list(n.attrs.get("pads", [0, 0, 0, 0])),
                     auto_pad=n.attrs.get("auto_pad", "NOTSET"))
            oh, ow = _conv_geometry(a, x[2], x[3])[-2:]
            return [(x[0], co, oh, ow)] + [None] * (len(n.outputs) - 1)
        if n.op == "GlobalAveragePool" and x is not None and len(x) == 4:
            return [(x[0], x[1], 1, 1)]
        return None


def _batch_reshape(g, n, prod, probe):
    """Reshape(data, Concat(Unsqueeze(Gather(Shape(x), 0)), static dims...)) with x's and data's first
    dimension the batch: the target is [0, static dims...] (0 copies data's batch size), a constant."""
    if n.attrs.get("allowzero") or not probe.is_batch_dim0(n.inputs[0]):
        return
    cat = prod.get(n.inputs[1])
    if cat is None or cat.op != "Concat" or cat.domain != "" or int(cat.attrs.get("axis", 0)) != 0 or not cat.inputs:
        return
    parts = []
    for k, i in enumerate(cat.inputs):
        if i in g.constants:
            v = np.asarray(g.constants[i]).reshape(-1)
            if v.dtype.kind not in "iu" or (k > 0 and len(parts) == 0):
                return
            parts.extend(int(e) for e in v)
            continue
        if k != 0:
            return
        u = prod.get(i)
        if u is not None and u.op == "Slice" and u.domain == "" and len(u.inputs) >= 3:
            # x.shape[:e] (flatten(start_dim=e)): [0] + the static dims 1..e-1
            consts = [np.asarray(g.constants[j]).reshape(-1).tolist() if j in g.constants else None
                      for j in u.inputs[1:]]
            if any(c is None for c in consts) or consts[0] != [0] or (len(consts) > 2 and consts[2] != [0]) \
                    or (len(consts) > 3 and consts[3] != [1]):
                return
            sh = prod.get(u.inputs[0])
            if sh is None or sh.op != "Shape" or sh.domain != "" or sh.attrs.get("start") \
                    or sh.attrs.get("end") is not None or not probe.is_batch_dim0(sh.inputs[0]):
                return
            dims = probe.dims(sh.inputs[0])
            e = int(consts[1][0])
            if e < 1 or e > len(dims) or any(d is None for d in dims[1:e]):
                return
            parts.extend([0] + [int(d) for d in dims[1:e]])
            continue
        if u is None or u.op != "Unsqueeze" or u.domain != "":
            return
        axes = u.attrs.get("axes")
        if axes is None and len(u.inputs) > 1 and u.inputs[1] in g.constants:
            axes = np.asarray(g.constants[u.inputs[1]]).reshape(-1).tolist()
        gat = prod.get(u.inputs[0])
        if axes is None or [int(a) for a in axes] != [0] or gat is None or gat.op != "Gather" or gat.domain != "":
            return
        if int(gat.attrs.get("axis", 0)) != 0 or gat.inputs[1] not in g.constants \
                or np.asarray(g.constants[gat.inputs[1]]).reshape(-1).tolist() != [0] \
                or np.ndim(g.constants[gat.inputs[1]]) != 0:
            return
        sh = prod.get(gat.inputs[0])
        if sh is None or sh.op != "Shape" or sh.domain != "" or sh.attrs.get("start") or sh.attrs.get("end") is not None:
            return
        if not probe.is_batch_dim0(sh.inputs[0]):
            return
        parts.append(0)
    if not parts or parts[0] != 0 or 0 in parts[1:]:
        return
    name = n.outputs[0] + "__static_shape"
    g.constants[name] = np.array(parts, np.int64)
    n.inputs = [n.inputs[0], name] + list(n.inputs[2:])
