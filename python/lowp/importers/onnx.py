"""ONNX importer: ModelProto (path or bytes) -> lowp.graph.Graph with numpy constants."""
from __future__ import annotations

import os

import numpy as np

from ..graph import Graph, Node, ValueInfo


def _onnx():
    try:
        import onnx  # noqa: F401
    except ImportError as e:  # pragma: no cover - onnx is a core dependency
        raise ImportError("lowp: reading ONNX models needs the 'onnx' package (pip install onnx)") from e
    return onnx


def load_model_bytes(path_or_bytes) -> bytes:
    """Returns the serialized model for a path, bytes, or an onnx.ModelProto."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        return bytes(path_or_bytes)
    if isinstance(path_or_bytes, (str, os.PathLike)):
        p = os.fspath(path_or_bytes)
        if not os.path.exists(p):
            raise FileNotFoundError(f"lowp: model file not found: {p}")
        with open(p, "rb") as f:
            return f.read()
    onnx = _onnx()
    if isinstance(path_or_bytes, onnx.ModelProto):
        return path_or_bytes.SerializeToString()
    raise TypeError(f"lowp: expected a model path, bytes or onnx.ModelProto, got {type(path_or_bytes).__name__}")


def _dtype(elem_type):
    onnx = _onnx()
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        return None


def _value_info(vi) -> ValueInfo:
    t = vi.type.tensor_type
    shape = []
    if t.HasField("shape"):
        for d in t.shape.dim:
            if d.HasField("dim_value"):
                shape.append(int(d.dim_value))
            else:
                shape.append(d.dim_param or None)
    return ValueInfo(vi.name, _dtype(t.elem_type) if t.elem_type else None,
                     tuple(shape) if t.HasField("shape") else None)


def _attrs(node) -> dict:
    onnx = _onnx()
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, onnx.TensorProto):
            v = onnx.numpy_helper.to_array(v)
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [x.decode() for x in v]
        out[a.name] = v
    return out


def import_onnx(model_bytes: bytes) -> Graph:
    onnx = _onnx()
    try:
        model = onnx.load_from_string(model_bytes)
    except Exception as e:
        raise ValueError(f"lowp: not a valid ONNX model: {e}") from None
    if not model.graph.output:  # e.g. empty bytes parse as an empty ModelProto
        raise ValueError("lowp: not a valid ONNX model: the graph has no outputs")
    opset = 13
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            opset = imp.version
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:
        inferred = model
    g = model.graph
    constants = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    value_info = {}
    for vi in list(inferred.graph.value_info) + list(g.input) + list(g.output):
        value_info[vi.name] = _value_info(vi)
    inputs = [_value_info(vi) for vi in g.input if vi.name not in constants]
    outputs = [_value_info(vi) for vi in g.output]
    nodes = []
    for i, n in enumerate(g.node):
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            a = _attrs(n)
            if "value" in a:
                constants[n.output[0]] = np.asarray(a["value"])
            elif "value_float" in a:
                constants[n.output[0]] = np.array(a["value_float"], np.float32)
            elif "value_floats" in a:
                constants[n.output[0]] = np.array(a["value_floats"], np.float32)
            elif "value_int" in a:
                constants[n.output[0]] = np.array(a["value_int"], np.int64)
            elif "value_ints" in a:
                constants[n.output[0]] = np.array(a["value_ints"], np.int64)
            else:
                nodes.append(Node("Constant", [], list(n.output), a, n.name or f"node{i}", n.domain))
            continue
        if any(sub.type == onnx.AttributeProto.GRAPH for sub in n.attribute):
            # Control flow (If/Loop/Scan) is reported as unsupported by name.
            pass
        nodes.append(Node(n.op_type, list(n.input), list(n.output), _attrs(n), n.name or f"{n.op_type}_{i}",
                          n.domain if n.domain != "ai.onnx" else ""))
    _check_dataflow(nodes, inputs, outputs, constants)
    return Graph(nodes=nodes, inputs=inputs, outputs=outputs, constants=constants, value_info=value_info,
                 opset=opset)


def _check_dataflow(nodes, inputs, outputs, constants):
    """ONNX graphs are topologically sorted SSA: reject what would fail later with a KeyError."""
    defined = {v.name for v in inputs} | set(constants)
    for nd in nodes:
        for name in nd.inputs:
            if name and name not in defined:
                raise ValueError(f"lowp: invalid model: node {nd.name!r} reads {name!r}, which no earlier node, "
                                 "graph input or initializer defines")
        for name in nd.outputs:
            if name in defined:
                raise ValueError(f"lowp: invalid model: {name!r} is defined more than once")
            if name:
                defined.add(name)
    missing = [v.name for v in outputs if v.name not in defined]
    if missing:
        raise ValueError(f"lowp: invalid model: graph output(s) {missing} are never produced")


_EIGHT_BIT_PRODUCERS = ("QuantizeLinear", "QLinearConv", "QLinearAdd", "QLinearMul", "QLinearGlobalAveragePool",
                        "QLinearConcat", "QLinearSigmoid", "QLinearLeakyRelu", "QGemm", "QLinearMatMul",
                        "QLinearAveragePool", "QLinearSoftmax", "MaxPool")


def expose_quantized_tensors(model_bytes: bytes) -> bytes:
    """The model with every 8-bit intermediate tensor (outputs of QuantizeLinear / QLinear* / MaxPool
    on 8-bit data) added as a graph output, to compare runtimes tensor by tensor."""
    onnx = _onnx()
    m = onnx.load_from_string(model_bytes)
    names = {o.name for o in m.graph.output}
    dq_out = {n.output[0] for n in m.graph.node if n.op_type == "DequantizeLinear"}
    for n in m.graph.node:
        if n.op_type == "MaxPool" and n.input[0] in dq_out:
            continue  # a float MaxPool inside a DQ/Q pair (QDQ format)
        if n.op_type in _EIGHT_BIT_PRODUCERS and n.output[0] not in names:
            m.graph.output.append(onnx.ValueInfoProto(name=n.output[0]))
            names.add(n.output[0])
    return m.SerializeToString()
