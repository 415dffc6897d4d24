"""Whether the onnxruntime in this process computes int8 products exactly on this CPU.

On x86 CPUs without VNNI (no AVX512-VNNI, no AVX-VNNI: e.g. Haswell .. Skylake, AMD Zen 1-3)
onnxruntime's uint8 x int8 GEMM kernels multiply with vpmaddubsw, which adds pairs of u8*s8
products with int16 saturation: a pair above 32767 (e.g. 255*127 + 255*127) is clipped, so its
MatMulInteger / QLinearConv / QLinearMatMul results, and int8 models' outputs, are not the exact
integer arithmetic there. lowp always computes the exact result (never vpmaddubsw), so on such a
CPU its outputs differ from onnxruntime's; on VNNI / AMX / ARM CPUs both are exact and agree.
The check runs one tiny MatMulInteger whose pairs saturate (255 x 127), once per process.
"""
from __future__ import annotations

import functools

import numpy as np


def _saturation_model():
    from onnx import TensorProto, helper, numpy_helper

    b = np.full((64, 2), 127, np.int8)
    b[:, 1] = -128
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "lowp_ort_saturation",
                              [helper.make_tensor_value_info("A", TensorProto.UINT8, [1, 64])],
                              [helper.make_tensor_value_info("Y", TensorProto.INT32, [1, 2])],
                              [numpy_helper.from_array(b, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString(), b


def ort_int8_saturates(ort=None) -> bool:
    """True when onnxruntime (the module `ort`, default: the installed one) clips uint8 x int8
    products on this CPU (no VNNI), i.e. its int8 results are not exact here."""
    if ort is None:
        import onnxruntime as ort
    return _check(ort)


@functools.lru_cache(maxsize=None)
def _check(ort) -> bool:
    data, b = _saturation_model()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    a = np.full((1, 64), 255, np.uint8)
    got = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, {"A": a})[0]
    return not np.array_equal(np.asarray(got), a.astype(np.int64) @ b.astype(np.int64))


NOTE = ("note: onnxruntime clips int8 products on this CPU (no VNNI: vpmaddubsw saturates pairs of uint8 x int8 "
        "products at int16), so its int8 results are not exact here and differ from lowp's exact ones; "
        "on VNNI / AMX / ARM CPUs the two agree bit for bit")
