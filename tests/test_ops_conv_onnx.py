"""Bit-exactness against onnxruntime single-node QLinearConv / ConvInteger models and the ONNX
backend node tests (onnx==1.22.0) for QLinearConv and ConvInteger."""
import glob
import zlib
import os

import numpy as np
import pytest

import lowp

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

NODE_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node")


def _session(model):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def ort_qlinear_conv(x, xs, xz, w, ws, wz, ys, yz, bias, **attrs):
    inits = [numpy_helper.from_array(np.asarray(xs, np.float32), "xs"), numpy_helper.from_array(np.asarray(xz), "xz"),
             numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.asarray(ws, np.float32), "ws"),
             numpy_helper.from_array(np.asarray(wz), "wz"), numpy_helper.from_array(np.asarray(ys, np.float32), "ys"),
             numpy_helper.from_array(np.asarray(yz), "yz")]
    names = ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"]
    if bias is not None:
        inits.append(numpy_helper.from_array(bias, "b"))
        names.append("b")
    node = helper.make_node("QLinearConv", names, ["y"], **attrs)
    et = helper.np_dtype_to_tensor_dtype(x.dtype)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", et, None)],
                          [helper.make_tensor_value_info("y", helper.np_dtype_to_tensor_dtype(np.asarray(yz).dtype), None)],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return _session(m).run(None, {"x": x})[0]


CONFIGS = [
    # (N, C, H, W, M, k, stride, dilation, pads, group)
    (1, 16, 14, 14, 32, 3, 1, 1, (1, 1, 1, 1), 1),
    (2, 8, 11, 9, 12, 5, 2, 1, (2, 2, 2, 2), 1),
    (1, 24, 10, 10, 24, 3, 1, 1, (1, 1, 1, 1), 24),    # depthwise
    (1, 40, 13, 13, 40, 3, 2, 1, (0, 0, 1, 1), 40),    # depthwise stride 2, asymmetric pad
    (1, 19, 9, 9, 19, 5, 1, 1, (2, 2, 2, 2), 19),      # depthwise 5x5, odd channels
    (1, 9, 8, 8, 18, 3, 1, 2, (2, 2, 2, 2), 9),        # depthwise multiplier 2, dilation 2
    (1, 12, 9, 9, 18, 3, 1, 1, (1, 1, 1, 1), 3),       # grouped
    (2, 32, 7, 7, 20, 1, 1, 1, (0, 0, 0, 0), 1),       # 1x1 direct GEMM
    (1, 7, 12, 12, 10, 7, 3, 1, (3, 3, 3, 3), 1),
    (1, 3, 17, 15, 8, 3, 2, 1, (1, 1, 1, 1), 1),
]


@pytest.mark.parametrize("types", ["u8s8_per_channel", "u8u8", "s8s8_per_channel", "u8s8_per_tensor"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"n{c[0]}c{c[1]}m{c[4]}k{c[5]}s{c[6]}d{c[7]}g{c[9]}")
def test_qlinear_conv_matches_onnxruntime(cfg, types):
    N, C, H, W, M, k, s, d, pads, group = cfg
    rng = np.random.default_rng(zlib.crc32(repr((cfg, types)).encode()))
    xdt = np.int8 if types.startswith("s8") else np.uint8
    wdt = np.uint8 if types == "u8u8" else np.int8
    lo, hi = (0, 256) if xdt == np.uint8 else (-128, 128)
    x = rng.integers(lo, hi, (N, C, H, W)).astype(xdt)
    w = rng.integers(-128 if wdt == np.int8 else 0, 128 if wdt == np.int8 else 256, (M, C // group, k, k)).astype(wdt)
    xz = xdt(rng.integers(lo, hi))
    if "per_channel" in types:
        ws = rng.uniform(0.002, 0.02, M).astype(np.float32)
        wz = np.zeros(M, wdt)
    else:
        ws = np.float32(0.01)
        wz = wdt(rng.integers(100, 150)) if wdt == np.uint8 else wdt(0)
    bias = rng.integers(-3000, 3000, M).astype(np.int32)
    xs = np.float32(0.03)
    K = (C // group) * k * k
    ys = np.float32(xs * 0.01 * np.sqrt(K) * 30)
    yz = xdt(rng.integers(lo + 20, hi - 20))
    attrs = dict(strides=[s, s], dilations=[d, d], pads=list(pads), group=group)
    expect = ort_qlinear_conv(x, xs, xz, w, ws, wz, ys, yz, bias, **attrs)
    for kern in lowp.kernels():
        with lowp.use_kernel(kern):
            y = lowp.qlinear_conv(x, xs, xz, w, ws, wz, ys, yz, bias, **attrs)
        np.testing.assert_array_equal(y, expect, err_msg=kern)
    if group == C and C > 1:
        for dk in lowp.depthwise_kernels():
            with lowp.use_depthwise_kernel(dk):
                y = lowp.qlinear_conv(x, xs, xz, w, ws, wz, ys, yz, bias, **attrs)
            np.testing.assert_array_equal(y, expect, err_msg=dk)
    # NHWC gives the same answer
    yh = lowp.qlinear_conv(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), xs, xz, w, ws, wz, ys, yz, bias,
                           layout="NHWC", **attrs)
    np.testing.assert_array_equal(yh.transpose(0, 3, 1, 2), expect)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
@pytest.mark.parametrize("group", [1, 6])
def test_auto_pad_matches_onnxruntime(auto_pad, group):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (1, 6, 10, 9)).astype(np.uint8)
    w = rng.integers(-128, 128, (6, 6 // group, 4, 3)).astype(np.int8)
    attrs = dict(strides=[2, 3], auto_pad=auto_pad, group=group)
    expect = ort_qlinear_conv(x, 0.02, np.uint8(128), w, 0.01, np.int8(0), 0.05, np.uint8(5), None, **attrs)
    y = lowp.qlinear_conv(x, 0.02, np.uint8(128), w, 0.01, np.int8(0), 0.05, np.uint8(5), **attrs)
    np.testing.assert_array_equal(y, expect)


def test_conv_integer_matches_onnxruntime():
    rng = np.random.default_rng(2)
    for cfg in CONFIGS:
        N, C, H, W, M, k, s, d, pads, group = cfg
        x = rng.integers(0, 256, (N, C, H, W)).astype(np.uint8)
        w = rng.integers(0, 256, (M, C // group, k, k)).astype(np.uint8)
        xz, wz = np.uint8(rng.integers(0, 256)), np.uint8(rng.integers(0, 256))
        node = helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], strides=[s, s], dilations=[d, d],
                                pads=list(pads), group=group)
        g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.UINT8, None)],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.asarray(xz), "xz"),
                               numpy_helper.from_array(np.asarray(wz), "wz")])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        expect = _session(m).run(None, {"x": x})[0]
        y = lowp.conv_integer(x, w, xz, wz, strides=(s, s), dilations=(d, d), pads=pads, group=group)
        np.testing.assert_array_equal(y, expect, err_msg=str(cfg))


# --------------------------------------------------------------------------- ONNX backend node tests
def _load_node_test(name):
    d = os.path.join(NODE_DIR, name)
    model = onnx.load(os.path.join(d, "model.onnx"))
    sets = []
    for ds in sorted(glob.glob(os.path.join(d, "test_data_set_*"))):
        ins = [numpy_helper.to_array(onnx.load_tensor(f)) for f in sorted(glob.glob(os.path.join(ds, "input_*.pb")))]
        outs = [numpy_helper.to_array(onnx.load_tensor(f)) for f in sorted(glob.glob(os.path.join(ds, "output_*.pb")))]
        sets.append((ins, outs))
    node = model.graph.node[0]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
    return node, attrs, sets


@pytest.mark.parametrize("name", ["test_qlinearconv", "test_convinteger_with_padding", "test_convinteger_without_padding"])
def test_onnx_backend_node(name):
    node, attrs, sets = _load_node_test(name)
    assert sets
    for ins, outs in sets:
        if node.op_type == "QLinearConv":
            y = lowp.qlinear_conv(*ins, **attrs)
        else:
            y = lowp.conv_integer(*ins, **attrs)
        assert y.dtype == outs[0].dtype
        np.testing.assert_array_equal(y, outs[0])
