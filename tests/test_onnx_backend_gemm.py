"""The ONNX backend node test vectors shipped with onnx==1.22.0 for MatMulInteger and QLinearMatMul.

Inputs, attributes and golden outputs come from onnx/backend/test/data/node/<test>/ (model.onnx
plus test_data_set_*/input_*.pb, output_*.pb); outputs must match exactly on every kernel.
"""
import glob
import os

import numpy as np
import pytest

import lowp

onnx = pytest.importorskip("onnx")  # test dependency, pinned to 1.22.0 (1.23 dropped the data)
from onnx import numpy_helper  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")
OPS = {"MatMulInteger", "QLinearMatMul"}


def _cases():
    out = []
    for d in sorted(glob.glob(os.path.join(NODE_DIR, "test_*"))):
        name = os.path.basename(d)
        if not (name.startswith("test_matmulinteger") or name.startswith("test_qlinearmatmul")):
            continue
        for ds in sorted(glob.glob(os.path.join(d, "test_data_set_*"))):
            out.append(pytest.param(d, ds, id=f"{name}/{os.path.basename(ds)}"))
    return out


CASES = _cases()


def test_vectors_present():
    names = {os.path.basename(p.values[0]) for p in CASES}
    assert "test_matmulinteger" in names
    assert {f"test_qlinearmatmul_{d}_{t}_{f}" for d in ("2D", "3D") for t in ("uint8", "int8")
            for f in ("float32", "float16")} <= names


def _load(case_dir, ds):
    model = onnx.load(os.path.join(case_dir, "model.onnx"))
    (node,) = model.graph.node
    assert node.op_type in OPS and not node.attribute
    graph_inputs = [i.name for i in model.graph.input]
    files = sorted(glob.glob(os.path.join(ds, "input_*.pb")), key=lambda f: int(f.rsplit("_", 1)[1][:-3]))
    feeds = {graph_inputs[i]: numpy_helper.to_array(onnx.load_tensor(f)) for i, f in enumerate(files)}
    args = [feeds.get(n) if n else None for n in node.input]
    (expected,) = [numpy_helper.to_array(onnx.load_tensor(f)) for f in sorted(glob.glob(os.path.join(ds, "output_*.pb")))]
    return node.op_type, args, expected


@pytest.mark.parametrize("case_dir,ds", CASES)
def test_onnx_node_vector(case_dir, ds):
    op, args, expected = _load(case_dir, ds)
    for k in lowp.kernels():
        with lowp.use_kernel(k):
            if op == "MatMulInteger":
                a, b = args[0], args[1]
                za = args[2] if len(args) > 2 else None
                zb = args[3] if len(args) > 3 else None
                got = lowp.matmul_integer(a, b, za, zb)
            else:
                a, sa, za, b, sb, zb, sy, zy = args
                got = lowp.qlinear_matmul(a, sa, za, b, sb, zb, sy, zy, rounding="half_even")
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected, err_msg=f"kernel {k}")
