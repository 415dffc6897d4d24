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
    for n in g.nodes:
        ins = [i for i in n.inputs if i]
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
