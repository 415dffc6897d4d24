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
    for n in g.nodes:
        ins = [i for i in n.inputs if i]
        if n.op == "Shape" and n.domain == "" and not n.attrs.get("start") and n.attrs.get("end") is None:
            vi = g.value_info.get(n.inputs[0])
            if vi is not None and vi.shape is not None:
                known_shapes[n.outputs[0]] = [d if isinstance(d, int) and d > 0 else None for d in vi.shape]
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
    g.nodes = keep
    g.remove_dead()
