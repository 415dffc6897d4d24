"""Shallow convolutions (MobileNet 1x1 expansions/projections, the 3-channel 3x3/s2 stem) at sizes
that span several 128-row panels of the amx_smallk kernel, with fused-ReLU6-style clamps: lowp's
default choice (which depends on the depth K) and every forced GEMM kernel are bit-exact with
onnxruntime's QLinearConv; the default picks amx_smallk for K <= 64 (amx above) when amx is the default.
Also wide depthwise rows (several strips of the VNNI row kernel) against onnxruntime."""
import zlib

import numpy as np
import pytest

import lowp

ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _ort_conv(x, xs, xz, w, ws, ys, yz, bias, k, s):
    p = (k - 1) // 2
    inits = [numpy_helper.from_array(np.asarray(xs, np.float32), "xs"), numpy_helper.from_array(np.asarray(xz), "xz"),
             numpy_helper.from_array(w, "w"), numpy_helper.from_array(ws, "ws"),
             numpy_helper.from_array(np.zeros(w.shape[0], np.int8), "wz"),
             numpy_helper.from_array(np.asarray(ys, np.float32), "ys"), numpy_helper.from_array(np.asarray(yz), "yz"),
             numpy_helper.from_array(bias, "b")]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"],
                            strides=[s, s], pads=[p] * 4, kernel_shape=[k, k])
    et = helper.np_dtype_to_tensor_dtype(x.dtype)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", et, None)],
                          [helper.make_tensor_value_info("y", helper.np_dtype_to_tensor_dtype(np.asarray(yz).dtype),
                                                         None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


SHAPES = [  # (Cin, Cout, H, k, s): 1x1 K = 16..128 with N tails, and the stem (K = 27)
    (16, 96, 40, 1, 1), (32, 16, 37, 1, 1), (24, 144, 23, 1, 1), (96, 24, 30, 1, 1),
    (128, 40, 17, 1, 1), (64, 70, 21, 1, 1), (3, 32, 57, 3, 2),
]


@pytest.mark.parametrize("xdt", [np.uint8, np.int8])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda c: "c{}m{}h{}k{}s{}".format(*c))
def test_shallow_conv_default_and_forced_kernels_match_onnxruntime(shape, xdt):
    cin, cout, h, k, s = shape
    rng = np.random.default_rng(zlib.crc32(repr((shape, xdt.__name__)).encode()))
    lo, hi = (0, 256) if xdt == np.uint8 else (-128, 128)
    x = rng.integers(lo, hi, (1, cin, h, h)).astype(xdt)
    w = rng.integers(-127, 128, (cout, cin, k, k)).astype(np.int8)
    ws = rng.uniform(0.002, 0.02, cout).astype(np.float32)
    bias = rng.integers(-5000, 5000, cout).astype(np.int32)
    xs, ys = np.float32(0.03), np.float32(0.03 * 0.01 * np.sqrt(cin * k * k) * 20)
    xz, yz = xdt(rng.integers(lo + 10, hi - 10)), xdt(lo + 3)  # yz near the bottom: ReLU-like clamping
    expect = _ort_conv(x, xs, xz, w, ws, ys, yz, bias, k, s)
    p = (k - 1) // 2
    conv = lowp.QLinearConv(w, ws, np.zeros(cout, np.int8), bias, strides=(s, s), pads=(p,) * 4, layout="NHWC")
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    qmax = int(lo + 3 + 100)  # a ReLU6-style upper clamp inside the output range
    want_clamped = np.minimum(expect, qmax).astype(expect.dtype)
    y = conv(xh, xs, xz, ys, yz)
    np.testing.assert_array_equal(y.transpose(0, 3, 1, 2), expect)
    y = conv(xh, xs, xz, ys, yz, activation_max=qmax)
    np.testing.assert_array_equal(y.transpose(0, 3, 1, 2), want_clamped)
    if lowp.current_kernel() == "amx" and "amx_smallk" in lowp.kernels():
        assert conv.packed().kernel == ("amx_smallk" if cin * k * k <= 64 else "amx")
    for kern in lowp.kernels():
        with lowp.use_kernel(kern):
            y = conv(xh, xs, xz, ys, yz, activation_max=qmax)
        np.testing.assert_array_equal(y.transpose(0, 3, 1, 2), want_clamped, err_msg=kern)


def test_packed_matrix_default_kernel_depends_on_depth():
    if lowp.current_kernel() != "amx" or "amx_smallk" not in lowp.kernels():
        pytest.skip("the depth rule applies where amx is the default kernel")
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (300, 27)).astype(np.uint8)
    small = lowp.PackedMatrix(rng.integers(-128, 128, (27, 40)).astype(np.int8))
    deep = lowp.PackedMatrix(rng.integers(-128, 128, (65, 40)).astype(np.int8))
    assert small.packed().kernel == "amx_smallk"
    assert deep.packed().kernel == "amx"
    with lowp.use_kernel("amx"):
        assert small.packed().kernel == "amx"  # a forced kernel is never replaced
    ref = (a.astype(np.int64) - 7) @ small.matrix.astype(np.int64)
    np.testing.assert_array_equal(lowp.matmul_integer(a, small, np.uint8(7)), ref)


@pytest.mark.parametrize("s", [1, 2])
def test_wide_depthwise_rows_match_onnxruntime(s):
    """Depthwise 3x3 rows of 20..40 outputs (the VNNI row kernel builds its quads per strip of 16
    output pixels), 96 channels (a 64-channel block and a tail), every depthwise kernel vs ORT."""
    rng = np.random.default_rng(90 + s)
    C, h = 96, 41
    x = rng.integers(0, 256, (1, C, h, h)).astype(np.uint8)
    w = rng.integers(-127, 128, (C, 1, 3, 3)).astype(np.int8)
    ws = rng.uniform(0.002, 0.02, C).astype(np.float32)
    bias = rng.integers(-5000, 5000, C).astype(np.int32)
    xs, ys, xz, yz = np.float32(0.03), np.float32(0.03 * 0.01 * 3 * 20), np.uint8(120), np.uint8(5)
    inits = [numpy_helper.from_array(xs, "xs"), numpy_helper.from_array(xz, "xz"), numpy_helper.from_array(w, "w"),
             numpy_helper.from_array(ws, "ws"), numpy_helper.from_array(np.zeros(C, np.int8), "wz"),
             numpy_helper.from_array(ys, "ys"), numpy_helper.from_array(yz, "yz"), numpy_helper.from_array(bias, "b")]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"],
                            strides=[s, s], pads=[1] * 4, kernel_shape=[3, 3], group=C)
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.UINT8, None)],
                          [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    expect = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    conv = lowp.QLinearConv(w, ws, np.zeros(C, np.int8), bias, strides=(s, s), pads=(1,) * 4, group=C, layout="NHWC")
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    for dk in lowp.depthwise_kernels():
        with lowp.use_depthwise_kernel(dk):
            y = conv(xh, xs, xz, ys, yz)
        np.testing.assert_array_equal(y.transpose(0, 3, 1, 2), expect, err_msg=dk)
