"""Single-node onnxruntime models for bit-exactness tests (test helper, not part of lowp)."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

_NP2ONNX = {np.dtype(np.uint8): TensorProto.UINT8, np.dtype(np.int8): TensorProto.INT8,
            np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int32): TensorProto.INT32,
            np.dtype(np.int16): TensorProto.INT16}


def run_node(op_type, inputs, n_outputs=1, domain="", attrs=None, const=None, out_types=None, opset=None):
    """inputs: list of (name, array or None for an omitted optional input). const: set of input
    names stored as initializers. Returns the outputs (list)."""
    import onnxruntime as ort
    const = set(const or ())
    graph_inputs, inits, feeds, names = [], [], {}, []
    for name, arr in inputs:
        if arr is None:
            names.append("")
            continue
        arr = np.asarray(arr)
        names.append(name)
        if name in const:
            inits.append(numpy_helper.from_array(arr, name))
        else:
            graph_inputs.append(helper.make_tensor_value_info(name, _NP2ONNX[arr.dtype], list(arr.shape)))
            feeds[name] = arr
    outs = [f"y{i}" for i in range(n_outputs)]
    node = helper.make_node(op_type, names, outs, domain=domain or None, **(attrs or {}))
    first = _NP2ONNX[np.asarray(inputs[0][1]).dtype]
    out_types = [(_NP2ONNX[np.dtype(t)] if t is not None else first) for t in (out_types or [None] * n_outputs)]
    out_vi = [helper.make_tensor_value_info(o, out_types[i], None) for i, o in enumerate(outs)]
    opsets = [helper.make_opsetid("", opset or 21)]
    if domain:
        opsets.append(helper.make_opsetid(domain, 1))
    g = helper.make_graph([node], "g", graph_inputs, out_vi, initializer=inits)
    m = helper.make_model(g, opset_imports=opsets)
    m.ir_version = 10
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)
