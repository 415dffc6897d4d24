"""Single-node onnxruntime sessions for MatMulInteger / QLinearMatMul (built with onnx.helper)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

_NP2ONNX = {np.dtype(np.uint8): TensorProto.UINT8, np.dtype(np.int8): TensorProto.INT8,
            np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int32): TensorProto.INT32}


def _session(node, inputs, out_name, out_type, opset):
    import onnxruntime as ort

    vis, feeds, inits = [], {}, []
    for name, arr, as_init in inputs:
        arr = np.asarray(arr)
        if as_init:
            inits.append(numpy_helper.from_array(arr, name))
        else:
            vis.append(helper.make_tensor_value_info(name, _NP2ONNX[arr.dtype], list(arr.shape)))
            feeds[name] = arr
    a, b = np.asarray(inputs[0][1]), np.asarray(inputs[1 if len(inputs) == 4 else 3][1])
    out_shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    out = helper.make_tensor_value_info(out_name, out_type, list(out_shape))
    graph = helper.make_graph([node], "g", vis, [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess, feeds


def run_matmul_integer(a, b, za, zb, b_const=False):
    node = helper.make_node("MatMulInteger", ["a", "b", "za", "zb"], ["y"])
    sess, feeds = _session(node, [("a", a, False), ("b", b, b_const), ("za", np.asarray(za, a.dtype), False),
                                  ("zb", np.asarray(zb, b.dtype), b_const)], "y", TensorProto.INT32, 13)
    return sess.run(None, feeds)[0]


def run_qlinear_matmul(a, sa, za, b, sb, zb, sy, zy, b_const=False):
    node = helper.make_node("QLinearMatMul", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y"])
    zy = np.asarray(zy)
    sess, feeds = _session(node, [("a", a, False), ("sa", np.asarray(sa, np.float32), False),
                                  ("za", np.asarray(za, a.dtype), False), ("b", b, b_const),
                                  ("sb", np.asarray(sb, np.float32), b_const), ("zb", np.asarray(zb, b.dtype), b_const),
                                  ("sy", np.asarray(sy, np.float32), False), ("zy", zy, False)],
                           "y", _NP2ONNX[zy.dtype], 13)
    return sess.run(None, feeds)[0]
