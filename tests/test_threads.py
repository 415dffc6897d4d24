"""Every threaded path gives the same bits for 1, 2 and 3 threads, and the reference's.

Shapes are picked to reach each way the work is split: im2col + GEMM row blocks (many output
rows), im2col chunks with a threaded GEMM (few rows), GEMMs split over rows, over columns and over
both (packed A panels reused across column blocks), the wide-B GEMV split (1 x K x N with a large
B), depthwise row pairs / single rows / indirection, and the elementwise / quantize / pooling ops.
The module resizes the pool to 3 threads (more than this machine's cores, on purpose: a worker
that is descheduled mid-round must not change anything) and restores it afterwards.
"""
import os
import sys

import numpy as np
import pytest

import lowp

sys.path.insert(0, os.path.dirname(__file__))
from test_ops_conv import ref_conv_acc, wrap32  # noqa: E402

THREADS = (1, 2, 3)


@pytest.fixture(autouse=True, scope="module")
def pool_of_three():
    n = lowp.get_num_threads()
    lowp.set_num_threads(3)
    yield
    lowp.set_num_threads(n)


def ref_gemm(a, b, za, zb):
    return wrap32((a.astype(np.int64) - za) @ (b.astype(np.int64) - np.asarray(zb, np.int64)))


GEMM_SHAPES = [
    (1, 1280, 1000),   # GEMV with a large B: split over columns
    (1, 64, 40),       # tiny: single-threaded
    (49, 960, 160),    # few rows: rows x columns, A panels reused across column blocks
    (49, 160, 960),    # <= one A panel per thread, wide B: all rows, columns split per thread
    (40, 256, 650),    # ... one A panel, N tail
    (196, 384, 64),
    (196, 64, 384),    # K <= 64, few rows (amx_smallk): one panel of ceil(M / threads) rows per thread
    (197, 64, 300),    # ... odd row split (99 + 98, 66 + 66 + 65), N tail
    (255, 48, 130),    # ... 128 + 127 rows at 2 threads (85 each at 3)
    (700, 96, 24),     # many rows: rows only
    (3, 2048, 300),
]


# the scalar "ref" kernel is slow: small shapes only
@pytest.mark.parametrize("kernel,M,K,N", [(k, *s) for k in lowp.kernels() for s in GEMM_SHAPES
                                          if k != "ref" or s[0] * s[1] * s[2] < 3_000_000])
def test_gemm_threads_identical(kernel, M, K, N):
    rng = np.random.default_rng(M * 7 + N)
    a = rng.integers(0, 256, (M, K), dtype=np.uint8)
    b = rng.integers(-128, 128, (K, N), dtype=np.int8)
    zb = rng.integers(-3, 4, N).astype(np.int8)
    want = ref_gemm(a, b, 131, zb)
    with lowp.use_kernel(kernel):
        for t in THREADS:
            np.testing.assert_array_equal(lowp.matmul_integer(a, b, np.uint8(131), zb, num_threads=t), want)
        q = [lowp.qlinear_matmul(a, 0.02, np.uint8(131), b, 0.01, np.int8(0), 0.7, np.uint8(9), num_threads=t)
             for t in THREADS]
    for t, y in zip(THREADS[1:], q[1:]):
        np.testing.assert_array_equal(y, q[0], err_msg=f"requantized GEMM, {t} threads")


@pytest.mark.parametrize("kernel", [k for k in lowp.kernels() if k != "ref"])
@pytest.mark.parametrize("C,M,H,k,s,N", [
    (3, 32, 113, 3, 2, 1),   # MobileNet's first conv: 57 x 57 rows, im2col row blocks per task
    (3, 16, 61, 7, 2, 2),    # ResNet-style 7x7/2 stem, batch 2
    (16, 24, 20, 3, 1, 1),   # 400 rows: chunked im2col + threaded GEMM
    (32, 48, 9, 3, 1, 1),    # 81 rows
])
def test_im2col_conv_threads_identical(kernel, C, M, H, k, s, N):
    rng = np.random.default_rng(C * 100 + H)
    w = rng.integers(-128, 128, (M, C, k, k)).astype(np.int8)
    x = rng.integers(0, 256, (N, C, H, H)).astype(np.uint8)
    p = k // 2
    want = wrap32(ref_conv_acc(x, w, 7, 0, (s, s), (1, 1), (p, p, p, p), 1))
    with lowp.use_kernel(kernel):
        conv = lowp.QLinearConv(w, np.full(M, 0.01, np.float32), np.int8(0), None, pads=(p, p, p, p),
                                strides=(s, s))
        q = []
        for t in THREADS:
            np.testing.assert_array_equal(conv.conv_integer(x, np.uint8(7), num_threads=t), want)
            q.append(conv(x, 0.02, np.uint8(7), 0.9, np.uint8(10), num_threads=t))
    for t, y in zip(THREADS[1:], q[1:]):
        np.testing.assert_array_equal(y, q[0], err_msg=f"requantized conv, {t} threads")


@pytest.mark.parametrize("dw_kernel", lowp.depthwise_kernels())
@pytest.mark.parametrize("C,H,k,s,N", [
    (32, 56, 3, 1, 1),   # row pairs
    (96, 57, 3, 2, 1),   # stride 2: single rows
    (960, 7, 3, 1, 1),   # 7 x 7: few rows, many channels
    (40, 15, 5, 2, 2),   # 5x5, batch 2
])
def test_depthwise_threads_identical(dw_kernel, C, H, k, s, N):
    rng = np.random.default_rng(C + H)
    w = rng.integers(-127, 128, (C, 1, k, k)).astype(np.int8)
    x = rng.integers(0, 256, (N, C, H, H)).astype(np.uint8)
    p = k // 2
    want = wrap32(ref_conv_acc(x, w, 100, 0, (s, s), (1, 1), (p, p, p, p), C))
    with lowp.use_depthwise_kernel(dw_kernel):
        conv = lowp.QLinearConv(w, np.full(C, 0.01, np.float32), np.int8(0), None, pads=(p, p, p, p),
                                strides=(s, s), group=C)
        q = []
        for t in THREADS:
            np.testing.assert_array_equal(conv.conv_integer(x, np.uint8(100), num_threads=t), want)
            q.append(conv(x, 0.02, np.uint8(100), 0.9, np.uint8(10), num_threads=t))
    for t, y in zip(THREADS[1:], q[1:]):
        np.testing.assert_array_equal(y, q[0], err_msg=f"requantized depthwise conv, {t} threads")


@pytest.mark.parametrize("shape,dt,zp", [((1, 3, 224, 224), "uint8", 131), ((2, 5, 120, 120), "int8", -7),
                                         ((1, 16, 64, 64), "uint8", 0)])
def test_quantize_nchw_to_nhwc_threads_identical(shape, dt, zp):
    from lowp import _lowp

    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    x.reshape(-1)[:5] = [np.inf, -np.inf, 0.5 * 0.037, 1.5 * 0.037, -2.5 * 0.037]  # saturation, ties to even
    lo, hi = (0, 255) if dt == "uint8" else (-128, 127)
    want = (np.rint(np.clip(x / np.float32(0.037), lo - zp, hi - zp)) + zp).astype(dt).transpose(0, 2, 3, 1)
    for t in THREADS:
        np.testing.assert_array_equal(_lowp.quantize_nchw_to_nhwc(x, 0.037, zp, dt, num_threads=t), want)


@pytest.mark.parametrize("op", ["add", "mul"])
@pytest.mark.parametrize("sa,sb", [((1, 56, 56, 24), (1, 56, 56, 24)),      # same shape: one 1-D run
                                   ((2, 3, 100, 128), (1, 3, 1, 128)),      # broadcast rows
                                   ((1, 28, 28, 96), (1, 1, 1, 96)),        # channel vector (tiled rows)
                                   ((1, 1, 1, 64), (1, 40, 40, 64)),
                                   ((3, 70000), (1, 1)),                     # scalar B
                                   ((1, 1), (5, 33000))])                    # scalar A (swapped)
def test_binary_threads_identical(op, sa, sb):
    from lowp import _lowp

    rng = np.random.default_rng(len(sa) + sa[-1])
    a = rng.integers(0, 256, sa, dtype=np.uint8)
    b = rng.integers(0, 256, sb, dtype=np.uint8)
    args = (op, "half_even", 0.05, 120, 0.03, 131, 0.07, 128, 20, 0, 0, 0, 0, 0, 0, 0, 255)
    _lowp._set_eltwise_simd(False)
    try:
        want = _lowp.binary(a, b, *args)  # scalar reference kernels, one thread
    finally:
        _lowp._set_eltwise_simd(True)
    for t in THREADS:
        np.testing.assert_array_equal(_lowp.binary(a, b, *args, num_threads=t), want, err_msg=f"{t} threads")


def _qdq_conv_add_model():
    """float (1,3,224,224) -> Q -> DQ -> Conv 3x3/2 (16 ch) -> Q -> DQ -> Add(y, y) -> Q -> DQ: the
    input quantize (150K values), an im2col conv with many rows and a 200K-element QLinearAdd."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    inits = [
        numpy_helper.from_array(np.array(0.02, np.float32), "xs"), numpy_helper.from_array(np.array(128, np.uint8), "xz"),
        numpy_helper.from_array(rng.integers(-127, 128, (16, 3, 3, 3)).astype(np.int8), "w"),
        numpy_helper.from_array(np.full(16, 0.01, np.float32), "ws"), numpy_helper.from_array(np.zeros(16, np.int8), "wz"),
        numpy_helper.from_array(rng.integers(-500, 500, 16).astype(np.int32), "b"),
        numpy_helper.from_array(np.full(16, 0.0002, np.float32), "bs"), numpy_helper.from_array(np.zeros(16, np.int32), "bz"),
        numpy_helper.from_array(np.array(0.05, np.float32), "ys"), numpy_helper.from_array(np.array(120, np.uint8), "yz"),
        numpy_helper.from_array(np.array(0.09, np.float32), "as"), numpy_helper.from_array(np.array(100, np.uint8), "az"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wd"], axis=0),
        helper.make_node("DequantizeLinear", ["b", "bs", "bz"], ["bd"], axis=0),
        helper.make_node("Conv", ["xd", "wd", "bd"], ["c"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("QuantizeLinear", ["c", "ys", "yz"], ["cq"]),
        helper.make_node("DequantizeLinear", ["cq", "ys", "yz"], ["cd"]),
        helper.make_node("Add", ["cd", "cd"], ["s"]),
        helper.make_node("QuantizeLinear", ["s", "as", "az"], ["sq"]),
        helper.make_node("DequantizeLinear", ["sq", "as", "az"], ["out"]),
    ]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 224, 224])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 16, 112, 112])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m.SerializeToString()


@pytest.mark.parametrize("native", [True, False])
def test_session_threads_identical(native):
    model = _qdq_conv_add_model()
    x = np.random.default_rng(4).standard_normal((1, 3, 224, 224)).astype(np.float32) * 2
    outs = [lowp.InferenceSession(model, num_threads=t, native=native).run(None, {"x": x})[0] for t in THREADS]
    for t, y in zip(THREADS[1:], outs[1:]):
        np.testing.assert_array_equal(y, outs[0], err_msg=f"{t} threads")
    ort = pytest.importorskip("onnxruntime")
    so = ort.SessionOptions()
    so.log_severity_level = 3
    want = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_array_equal(outs[0], want)
