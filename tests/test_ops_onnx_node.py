"""The ONNX backend node tests shipped with onnx==1.22.0 that apply to lowp's 8/16-bit ops:
golden inputs/outputs loaded with onnx.load_tensor, run through the lowp functions."""
import glob
import os

import numpy as np
import pytest

import lowp

onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")

CASES = [
    "test_quantizelinear", "test_quantizelinear_axis", "test_quantizelinear_int16",
    "test_dequantizelinear", "test_dequantizelinear_axis", "test_dequantizelinear_int16",
    "test_dynamicquantizelinear", "test_dynamicquantizelinear_expanded",
    "test_dynamicquantizelinear_max_adjusted", "test_dynamicquantizelinear_max_adjusted_expanded",
    "test_dynamicquantizelinear_min_adjusted", "test_dynamicquantizelinear_min_adjusted_expanded",
    "test_maxpool_2d_uint8",
    "test_add_int8", "test_add_uint8", "test_sub_int8", "test_sub_uint8", "test_mul_int8", "test_mul_uint8",
]
# Not applicable: *_blocked (block quantization), float8/float4/int4/int2/uint4/uint2/uint16
# element types, test_div_* (no quantized division in lowp).


def _load(case):
    d = os.path.join(NODE_DIR, case)
    model = onnx.load(os.path.join(d, "model.onnx"))
    sets = sorted(glob.glob(os.path.join(d, "test_data_set_*")))
    assert sets, f"no data sets in {d}"
    out = []
    for s in sets:
        ins = [numpy_helper.to_array(onnx.load_tensor(f)) for f in sorted(glob.glob(os.path.join(s, "input_*.pb")))]
        outs = [numpy_helper.to_array(onnx.load_tensor(f)) for f in sorted(glob.glob(os.path.join(s, "output_*.pb")))]
        out.append((ins, outs))
    return model, out


def _attrs(model):
    n = model.graph.node[0]
    return {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}


@pytest.mark.parametrize("case", CASES)
def test_onnx_node(case):
    if not os.path.isdir(os.path.join(NODE_DIR, case)):
        pytest.fail(f"{case} missing: onnx==1.22.0 ships it (see ../shared/ASSETS.md)")
    model, sets = _load(case)
    attrs = _attrs(model)
    op = model.graph.node[0].op_type if not case.endswith("_expanded") else "DynamicQuantizeLinear"
    for ins, outs in sets:
        if op == "QuantizeLinear":
            got = [lowp.quantize_linear(ins[0], ins[1], ins[2] if len(ins) > 2 else None, axis=attrs.get("axis", 1))]
        elif op == "DequantizeLinear":
            got = [lowp.dequantize_linear(ins[0], ins[1], ins[2] if len(ins) > 2 else None, axis=attrs.get("axis", 1))]
        elif op == "DynamicQuantizeLinear":
            got = list(lowp.dynamic_quantize_linear(ins[0]))
        elif op == "MaxPool":
            kw = {k: attrs[k] for k in ("strides", "pads", "dilations", "ceil_mode", "auto_pad") if k in attrs}
            if isinstance(kw.get("auto_pad"), bytes):
                kw["auto_pad"] = kw["auto_pad"].decode()
            got = [lowp.max_pool(ins[0], attrs["kernel_shape"], **kw)]
        elif op in ("Add", "Sub", "Mul"):
            fn = {"Add": lowp.qlinear_add, "Sub": lowp.qlinear_sub, "Mul": lowp.qlinear_mul}[op]
            z = ins[0].dtype.type(0)
            got = []
            for rounding in lowp.ROUNDINGS:  # identity quantization: every family must be exact
                got.append(fn(ins[0], 1.0, z, ins[1], 1.0, z, 1.0, z, rounding=rounding))
            outs = outs * len(got)
        else:
            raise AssertionError(op)
        assert len(got) == len(outs)
        for g, w in zip(got, outs):
            g = np.asarray(g)
            assert g.dtype == w.dtype, (g.dtype, w.dtype)
            assert g.shape == w.shape, (g.shape, w.shape)
            np.testing.assert_array_equal(g, w)
