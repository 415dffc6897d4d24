"""lowp's graph IR: a small, framework-neutral description of a (quantized) network.

Importers (lowp.importers.onnx) build a Graph from a model file; passes (lowp.passes) rewrite it
(constant folding, QDQ fusion, elementwise chains -> lookup tables); the session lowers the final
Graph to a list of kernel calls (lowp.passes.lower).

Node ops are either ONNX op types (domain "" or "com.microsoft", float semantics) or lowp's own
quantized ops (domain "lowp", integer in / integer out, all quantization parameters as attributes):

  lowp.QConv     x -> y      attrs: w (OIHW int8/uint8), w_scale, w_zero_point, x_scale, x_zero_point,
                             y_scale, y_zero_point, bias (int32 or None), strides, pads, dilations,
                             group, qmin, qmax (fused Relu/Clip as the output range); optional lut
                             (256 entries): a following QLut applied to the output (lut_y_scale /
                             lut_y_zero_point then give the output's quantization; QGemm likewise)
  lowp.QGemm     x -> y      x (..., K) @ w (K, N) + bias, requantized; same quantization attrs
  lowp.QMatMul   a, b -> y   QLinearMatMul of two activations (per-tensor a/b/y parameters)
  lowp.QAdd/QMul a, b -> y   com.microsoft QLinearAdd / QLinearMul (broadcasting)
  lowp.QMaxPool  x -> y      kernel_shape, strides, pads, dilations, ceil_mode (integer max)
  lowp.QAvgPool / lowp.QGlobalAvgPool   x -> y   com.microsoft QLinearAveragePool / GlobalAveragePool
  lowp.QConcat   xs -> y     QLinearConcat (inputs requantized to the output's scale when they differ)
  lowp.QSoftmax  x -> y      com.microsoft QLinearSoftmax
  lowp.QLut      x -> y      table (256 entries, output dtype): y = table[x]
  lowp.QMove     x.. -> y..  a data-movement op (Reshape, Flatten, Transpose, Squeeze, Unsqueeze,
                             Slice, Split, Concat with equal scales, Pad with the zero point,
                             nearest Resize, Identity) run directly on the integers; attrs: onnx_op, onnx_attrs
  lowp.MatMulInteger / lowp.ConvInteger   x[, x_zero_point] -> int32, constant weights
  QuantizeLinear / DequantizeLinear   (float <-> 8-bit, onnxruntime's arithmetic)

Nodes from TFLite files (importers/tflite.py) carry ``rounding`` ("gemmlowp" / "single": TFLite's fixed point;
default "half_even") on QConv / QGemm / QAdd / QSub / QMul / QAvgPool / QSoftmax (with ``beta``), and kinds of
their own:
  lowp.TfliteQuantize        float32 -> 8-bit, round(x / scale) ties away from zero    attrs: scale, zero_point
  lowp.TfliteResizeBilinear  int8 NHWC, TFLite's 10-bit fixed point    attrs: y0, y1, wy, x0, x1, wx (per row / col)
  lowp.TfliteMean            8-bit mean in TFLite's element order    attrs: axes, keepdims, x_zero_point, multiplier,
                             shift, y_zero_point, out_shape
  lowp.TfliteTransposeConv   NHWC transposed conv (GEMM + int32 col2im)    attrs: w (Cin x KH*KW*Cout), w_zero_point,
                             kernel, strides, pads, bias, x_zero_point, multiplier, shift, y_zero_point, qmin, qmax,
                             out_shape
  lowp.TflitePrelu           8-bit PRELU, constant alpha    attrs: alpha (minus its zero point), x_zero_point, y_zero_point,
                             multiplier, shift (positive / negative branch)
  lowp.TfliteArgMinMax       ARG_MAX / ARG_MIN of 8-bit data    attrs: axis, is_max, dtype (int32 / int64), out_shape
  lowp.TfliteReduceMaxMin    REDUCE_MAX / REDUCE_MIN of stored values    attrs: axes, keepdims, is_max, out_shape
  lowp.TflitePairTable       int8 binary operator as a 64 KiB table of byte pairs    attrs: table, out_shape
  lowp.TfliteBatchMatMul     int8 BATCH_MATMUL (2 inputs)    attrs: adj_x, adj_y, lhs_zero_point, rhs_zero_point,
                             multiplier, shift, y_zero_point (int8 output), dtype, out_shape, rhs_const
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Node:
    op: str
    inputs: list
    outputs: list
    attrs: dict = field(default_factory=dict)
    name: str = ""
    domain: str = ""

    @property
    def kind(self) -> str:
        """'lowp.QConv', 'Conv', 'com.microsoft.QLinearConv', ..."""
        return f"{self.domain}.{self.op}" if self.domain and self.domain != "ai.onnx" else self.op

    def __repr__(self) -> str:
        return f"Node({self.kind} {self.name!r}: {self.inputs} -> {self.outputs})"


@dataclass
class ValueInfo:
    name: str
    dtype: Any  # numpy dtype or None when unknown
    shape: tuple  # ints, or str/None for symbolic dimensions

    @property
    def type(self) -> str:
        """onnxruntime-style type string, e.g. 'tensor(float)'."""
        names = {"float32": "float", "float64": "double", "uint8": "uint8", "int8": "int8", "int32": "int32",
                 "int64": "int64", "float16": "float16", "bool": "bool"}
        return f"tensor({names.get(np.dtype(self.dtype).name, np.dtype(self.dtype).name)})" if self.dtype is not None \
            else "tensor(unknown)"


@dataclass
class Graph:
    nodes: list
    inputs: list  # ValueInfo of the runtime inputs
    outputs: list  # ValueInfo of the outputs
    constants: dict  # name -> np.ndarray
    value_info: dict = field(default_factory=dict)  # name -> ValueInfo (from shape inference)
    # Constants that are DequantizeLinear(q, scale, zp) of stored integers: name -> (q, scale, zp, axis).
    qconstants: dict = field(default_factory=dict)
    opset: int = 13

    def producers(self) -> dict:
        return {o: n for n in self.nodes for o in n.outputs if o}

    def consumers(self) -> dict:
        c: dict = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    c.setdefault(i, []).append(n)
        for o in self.outputs:
            c.setdefault(o.name, []).append(None)  # None = a graph output
        return c

    def remove_dead(self) -> None:
        """Drops nodes whose outputs nobody uses, and unused constants."""
        live = {o.name for o in self.outputs}
        keep = []
        for n in reversed(self.nodes):
            if any(o in live for o in n.outputs if o):
                keep.append(n)
                live.update(i for i in n.inputs if i)
        self.nodes = list(reversed(keep))
        self.constants = {k: v for k, v in self.constants.items() if k in live}

    def op_counts(self) -> dict:
        c: dict = {}
        for n in self.nodes:
            c[n.kind] = c.get(n.kind, 0) + 1
        return c
