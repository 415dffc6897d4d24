"""Bit-exactness of lowp's "half_even" elementwise / pooling / LUT / softmax / (de)quantize ops
against real onnxruntime single-node models (com.microsoft QLinear* ops and ONNX ops)."""
import zlib

import numpy as np
import pytest

import lowp

ort = pytest.importorskip("onnxruntime")
from ort_models import run_node  # noqa: E402

MS = "com.microsoft"
f32 = np.float32
DTYPES = [np.uint8, np.int8]
QP = {"xs", "xz", "ys", "yz", "sa", "za", "sb", "zb", "sc", "zc", "s", "z"}


def rand_q(rng, dt, shape):
    i = np.iinfo(dt)
    return rng.integers(i.min, i.max + 1, shape, dtype=dt)


def rand_zp(rng, dt):
    i = np.iinfo(dt)
    return dt(rng.integers(i.min, i.max + 1))


def rand_scale(rng, lo=-6.0, hi=1.0):
    return f32(np.exp(rng.uniform(lo, hi)))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("op", ["QLinearAdd", "QLinearMul"])
@pytest.mark.parametrize("shapes", [((2, 3, 17, 9), (2, 3, 17, 9)), ((4, 1, 33), (5, 1)), ((7,), ()),
                                    ((), (3, 19)), ((2, 1, 5), (1, 6, 1)), ((1, 8, 4, 4), (1, 8, 1, 1)),
                                    ((), ()), ((3, 1), (1, 1)), ((1, 1), (1, 4)), ((5, 4), (5, 1)), ((6, 1), (6, 1)),
                                    ((1, 6, 5, 32), (1, 1, 1, 32)), ((1, 1, 1, 24), (2, 3, 4, 24))])
def test_binary_vs_ort(dt, op, shapes):
    rng = np.random.default_rng(zlib.crc32(repr((op, str(dt), shapes)).encode()))
    fn = lowp.qlinear_add if op == "QLinearAdd" else lowp.qlinear_mul
    for _ in range(12):
        a, b = rand_q(rng, dt, shapes[0]), rand_q(rng, dt, shapes[1])
        sa, sb, sc = rand_scale(rng), rand_scale(rng), rand_scale(rng, -7, 0)
        za, zb, zc = rand_zp(rng, dt), rand_zp(rng, dt), rand_zp(rng, dt)
        ins = [("a", a), ("sa", sa), ("za", za), ("b", b), ("sb", sb), ("zb", zb), ("sc", sc), ("zc", zc)]
        want = run_node(op, ins, domain=MS, const=QP)[0]
        got = fn(a, sa, za, b, sb, zb, sc, zc)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dt", DTYPES)
def test_binary_extreme_scales_vs_ort(dt):
    # every (a, b) pair, scales spanning tiny and huge ratios (saturation, ties, cvt overflow)
    a = np.arange(256, dtype=np.uint8).view(dt).reshape(256, 1)
    b = np.arange(256, dtype=np.uint8).view(dt).reshape(1, 256)
    for sa, sb, sc in [(1.0, 1.0, 1.0), (0.5, 0.25, 1.0), (1e-3, 2e-3, 1e-7), (3.0, 7.0, 1e-2), (1e-4, 1.0, 300.0),
                       (0.1, 0.1, 0.1)]:
        for za, zb, zc in [(0, 0, 0), (3, -5 if dt == np.int8 else 250, 7)]:
            za, zb, zc = dt(za), dt(zb), dt(zc)
            for op, fn in (("QLinearAdd", lowp.qlinear_add), ("QLinearMul", lowp.qlinear_mul)):
                ins = [("a", a), ("sa", f32(sa)), ("za", za), ("b", b), ("sb", f32(sb)), ("zb", zb),
                       ("sc", f32(sc)), ("zc", zc)]
                want = run_node(op, ins, domain=MS, const=QP)[0]
                np.testing.assert_array_equal(fn(a, f32(sa), za, b, f32(sb), zb, f32(sc), zc), want)


@pytest.mark.parametrize("dt", [np.uint8, np.int8, np.int16])
def test_quantize_linear_vs_ort(dt):
    rng = np.random.default_rng(1)
    i = np.iinfo(dt)
    for trial in range(6):
        x = (rng.standard_normal((2, 5, 7, 9)) * rng.uniform(0.1, 300)).astype(f32)
        ties = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 1e30, -1e30, 0, 3.5, 127.5, -128.5, 255.5], f32)
        s = rand_scale(rng, -5, 2)
        x.flat[:ties.size] = ties * s
        z = dt(rng.integers(i.min, i.max + 1)) if dt != np.int16 else dt(rng.integers(-1000, 1000))
        want = run_node("QuantizeLinear", [("x", x), ("s", s), ("z", z)], const=QP, out_types=[dt])[0]
        np.testing.assert_array_equal(lowp.quantize_linear(x, s, z), want)
        axis = trial % 4
        n = x.shape[axis]
        sv = np.exp(rng.uniform(-5, 2, n)).astype(f32)
        zv = rng.integers(max(i.min, -1000), min(i.max, 1000) + 1, n).astype(dt)
        want = run_node("QuantizeLinear", [("x", x), ("s", sv), ("z", zv)], const=QP, attrs={"axis": axis},
                        out_types=[dt])[0]
        np.testing.assert_array_equal(lowp.quantize_linear(x, sv, zv, axis=axis), want)


@pytest.mark.parametrize("dt", [np.uint8, np.int8, np.int32])
def test_dequantize_linear_vs_ort(dt):
    rng = np.random.default_rng(2)
    i = np.iinfo(dt)
    x = rng.integers(max(i.min, -2**30), min(i.max, 2**30) + 1, (3, 4, 5), dtype=dt)
    s = rand_scale(rng)
    z = dt(0) if dt == np.int32 else rand_zp(rng, dt)
    want = run_node("DequantizeLinear", [("x", x), ("s", s), ("z", z)], const=QP, out_types=[f32])[0]
    np.testing.assert_array_equal(lowp.dequantize_linear(x, s, z), want)
    if dt != np.int32:
        sv = np.exp(rng.uniform(-5, 2, 4)).astype(f32)
        zv = rand_q(rng, dt, 4)
        want = run_node("DequantizeLinear", [("x", x), ("s", sv), ("z", zv)], const=QP, attrs={"axis": 1},
                        out_types=[f32])[0]
        np.testing.assert_array_equal(lowp.dequantize_linear(x, sv, zv, axis=1), want)


@pytest.mark.parametrize("dt", DTYPES)
def test_lut_activations_vs_ort(dt):
    rng = np.random.default_rng(3)
    x = np.arange(256, dtype=np.uint8).view(dt).reshape(4, 64)  # every input value
    for _ in range(8):
        xs, ys = rand_scale(rng, -6, 0), rand_scale(rng, -9, -2)
        xz, yz = rand_zp(rng, dt), rand_zp(rng, dt)
        ins = [("x", x), ("xs", xs), ("xz", xz), ("ys", ys), ("yz", yz)]
        want = run_node("QLinearSigmoid", ins, domain=MS, const=QP)[0]
        np.testing.assert_array_equal(lowp.qlinear_sigmoid(x, xs, xz, ys, yz), want)
        alpha = float(f32(rng.uniform(0, 0.6)))
        want = run_node("QLinearLeakyRelu", ins, domain=MS, const=QP, attrs={"alpha": alpha})[0]
        np.testing.assert_array_equal(lowp.qlinear_leaky_relu(x, xs, xz, ys, yz, alpha=alpha), want)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_global_average_pool_vs_ort(dt, layout):
    rng = np.random.default_rng(4)
    for shape in [(2, 5, 7, 9), (1, 16, 1, 1), (3, 3, 14, 14), (1, 2, 33)]:
        x = rand_q(rng, dt, shape)
        xs = rand_scale(rng, -5, 0)
        ys = f32(xs * rng.uniform(0.05, 1.5))
        xz, yz = rand_zp(rng, dt), rand_zp(rng, dt)
        xin = x if layout == "NCHW" else np.ascontiguousarray(np.moveaxis(x, 1, -1))
        ins = [("x", xin), ("xs", xs), ("xz", xz), ("ys", ys), ("yz", yz)]
        want = run_node("QLinearGlobalAveragePool", ins, domain=MS, const=QP,
                        attrs={"channels_last": int(layout == "NHWC")})[0]
        np.testing.assert_array_equal(lowp.qlinear_global_average_pool(xin, xs, xz, ys, yz, layout=layout), want)


AVG_CASES = [((3, 3), (1, 1), (1, 1, 1, 1), 0), ((3, 3), (2, 2), (1, 1, 1, 1), 1), ((2, 3), (2, 1), (0, 1, 1, 0), 0),
             ((7, 9), (1, 1), (0, 0, 0, 0), 0), ((5, 5), (2, 2), (2, 2, 2, 2), 1), ((2, 2), (2, 2), (0, 0, 0, 0), 0),
             ((1, 1), (1, 1), (0, 0, 0, 0), 0)]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("case", AVG_CASES)
def test_average_pool_vs_ort(dt, case):
    k, st, pd, cip = case
    rng = np.random.default_rng(5)
    for layout in ("NCHW", "NHWC"):
        x = rand_q(rng, dt, (2, 5, 7, 9))
        xs = rand_scale(rng, -5, 0)
        ys = f32(xs * rng.uniform(0.3, 1.5))
        xz, yz = rand_zp(rng, dt), rand_zp(rng, dt)
        xin = x if layout == "NCHW" else np.ascontiguousarray(np.moveaxis(x, 1, -1))
        ins = [("x", xin), ("xs", xs), ("xz", xz), ("ys", ys), ("yz", yz)]
        want = run_node("QLinearAveragePool", ins, domain=MS, const=QP,
                        attrs={"kernel_shape": list(k), "strides": list(st), "pads": list(pd),
                               "count_include_pad": cip, "channels_last": int(layout == "NHWC")})[0]
        got = lowp.qlinear_average_pool(xin, xs, xz, ys, yz, k, strides=st, pads=pd, count_include_pad=cip,
                                        layout=layout)
        np.testing.assert_array_equal(got, want)


def _qdq_avgpool_model(k, st, pd, cip, xs, xz, ys, yz, shape, expose, op="AveragePool"):
    """float x -> Q (int8) -> DQ -> AveragePool -> Q (int8) -> DQ -> float y; expose: which of the int8
    tensors "xq", "yq" are graph outputs too (onnxruntime then keeps them int8 instead of rewriting them
    to uint8)."""
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.array(xs, f32), "xs"), numpy_helper.from_array(np.array(xz, np.int8), "xz"),
             numpy_helper.from_array(np.array(ys, f32), "ys"), numpy_helper.from_array(np.array(yz, np.int8), "yz")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
             helper.make_node("AveragePool", ["xd"], ["p"], kernel_shape=list(k), strides=list(st), pads=list(pd),
                              count_include_pad=cip) if op == "AveragePool" else
             helper.make_node(op, ["xd"], ["p"]),
             helper.make_node("QuantizeLinear", ["p", "ys", "yz"], ["yq"]),
             helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"])]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    outs += [helper.make_tensor_value_info(n, TensorProto.INT8, None) for n in expose]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))], outs,
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m.SerializeToString()


def _ort_pool_kinds(model, so):
    """Node types of onnxruntime's optimized graph of `model` (which pooling kernel it really runs)."""
    import os
    import tempfile

    import onnx

    with tempfile.TemporaryDirectory() as d:
        so.optimized_model_filepath = os.path.join(d, "opt.onnx")
        ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        kinds = {n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node}
    so.optimized_model_filepath = ""
    return kinds


@pytest.mark.parametrize("case", AVG_CASES + [((3, 3), (3, 3), (1, 1, 1, 1), 0), ((2, 2), (1, 1), (0, 0, 0, 0), 0)])
def test_average_pool_int8_qdq_vs_ort(case):
    """int8 QDQ AveragePool as onnxruntime runs it (full optimization). Its QDQS8ToU8Transformer turns
    the int8 Q -> DQ pairs into uint8 ones, so with both tensors internal the fused QLinearAveragePool is
    the uint8 op on x + 128 (lowp: s8_as_u8=True); with both exposed it stays the int8 op; with one
    exposed the types differ and onnxruntime runs DQ -> float32 AveragePool (MLAS: NCHWc for 16
    channels, the NCHW kernels for 5) -> Q (lowp: ort_float). Checked at op level (the uint8 single node
    on shifted data) and end to end (lowp.InferenceSession on the QDQ graph)."""
    k, st, pd, cip = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    for trial in range(4):
        C = 16 if trial >= 2 else 5
        x = rand_q(rng, np.int8, (2, C, 7, 9))
        xs = rand_scale(rng, -5, 0)
        ys = xs if trial % 2 else f32(xs * rng.uniform(0.3, 1.5))  # same scale: averages on .5 ties
        xz, yz = np.int8(rng.integers(-40, 41)), np.int8(rng.integers(-40, 41))
        if trial < 2:
            # op level: onnxruntime's uint8 QLinearAveragePool on the shifted tensor
            xu = (x.astype(np.int16) + 128).astype(np.uint8)
            ins = [("x", xu), ("xs", xs), ("xz", np.uint8(int(xz) + 128)), ("ys", ys),
                   ("yz", np.uint8(int(yz) + 128))]
            attrs = {"kernel_shape": list(k), "strides": list(st), "pads": list(pd), "count_include_pad": cip}
            want = run_node("QLinearAveragePool", ins, domain=MS, const=QP, attrs=attrs)[0].astype(np.int16) - 128
            got = lowp.qlinear_average_pool(x, xs, xz, ys, yz, k, strides=st, pads=pd, count_include_pad=cip,
                                            s8_as_u8=True)
            np.testing.assert_array_equal(got.astype(np.int16), want)
        # end to end: the float input that quantizes to x exactly
        xf = (xs * (x.astype(f32) - f32(xz))).astype(f32)
        for expose in ((), ("xq", "yq"), ("xq",), ("yq",)):
            m = _qdq_avgpool_model(k, st, pd, cip, xs, xz, ys, yz, x.shape, expose)
            kinds = _ort_pool_kinds(m, so)
            assert ("AveragePool" in kinds) == (len(expose) == 1), kinds  # float only with mixed types
            r = ort.InferenceSession(m, so, providers=["CPUExecutionProvider"]).run(None, {"x": xf})
            sess = lowp.InferenceSession(m)
            pools = [n for n in sess.graph.nodes if n.kind == "lowp.QAvgPool"]
            assert len(pools) == 1
            assert bool(pools[0].attrs.get("ort_float")) == (len(expose) == 1)
            assert bool(pools[0].attrs.get("s8_as_u8")) == (not expose)
            y = sess.run(None, {"x": xf})
            if "xq" in expose:
                np.testing.assert_array_equal(r[1], x)  # the input really quantizes to x
            for a, b in zip(y, r):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("hw", [(2, 2), (7, 9), (1, 5)])
def test_global_average_pool_int8_qdq_vs_ort(hw):
    """int8 QDQ GlobalAveragePool: integer QLinearGlobalAveragePool when both tensors have one type after
    onnxruntime's s8->u8 rewrite (its zero point is added after rounding: the rewrite changes nothing);
    with mixed types onnxruntime runs DQ -> float32 GlobalAveragePool (MLAS global kernel, 4 running sums,
    NCHW at any channel count) -> Q, which lowp reproduces (ort_float)."""
    rng = np.random.default_rng(zlib.crc32(repr(hw).encode()))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    for trial in range(4):
        C = 16 if trial >= 2 else 5
        x = rand_q(rng, np.int8, (2, C) + hw)
        xs = rand_scale(rng, -5, 0)
        ys = xs if trial % 2 else f32(xs * rng.uniform(0.3, 1.5))
        xz, yz = np.int8(rng.integers(-40, 41)), np.int8(rng.integers(-40, 41))
        xf = (xs * (x.astype(f32) - f32(xz))).astype(f32)
        for expose in ((), ("xq", "yq"), ("xq",), ("yq",)):
            m = _qdq_avgpool_model(None, None, None, 0, xs, xz, ys, yz, x.shape, expose, op="GlobalAveragePool")
            kinds = _ort_pool_kinds(m, so)
            assert ("GlobalAveragePool" in kinds) == (len(expose) == 1), kinds
            r = ort.InferenceSession(m, so, providers=["CPUExecutionProvider"]).run(None, {"x": xf})
            sess = lowp.InferenceSession(m)
            pools = [n for n in sess.graph.nodes if n.kind == "lowp.QGlobalAvgPool"]
            assert len(pools) == 1 and bool(pools[0].attrs.get("ort_float")) == (len(expose) == 1)
            for a, b in zip(sess.run(None, {"x": xf}), r):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("attrs", [dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
                                   dict(kernel_shape=[2, 2]),
                                   dict(kernel_shape=[3, 2], strides=[1, 2], dilations=[2, 1]),
                                   dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
                                   dict(kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
                                   dict(kernel_shape=[4, 4], strides=[3, 3], auto_pad="SAME_LOWER")])
def test_max_pool_uint8_vs_ort(attrs):
    rng = np.random.default_rng(6)
    x = rand_q(rng, np.uint8, (2, 3, 10, 11))
    want = run_node("MaxPool", [("x", x)], attrs=attrs)[0]
    kw = {k: v for k, v in attrs.items() if k != "kernel_shape"}
    np.testing.assert_array_equal(lowp.max_pool(x, attrs["kernel_shape"], **kw), want)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("D", [1, 10, 256, 1000])
def test_softmax_vs_ort(dt, D):
    rng = np.random.default_rng(7 + D)
    for trial in range(3):
        x = rand_q(rng, dt, (5, D))
        if trial == 2:
            x[:, 0] = np.iinfo(dt).max  # a dominating element (saturation at the top)
        xs = rand_scale(rng, -5, 1)
        xz = rand_zp(rng, dt)
        yz = dt(0) if dt == np.uint8 else dt(-128)
        ins = [("x", x), ("xs", xs), ("xz", xz), ("ys", f32(1 / 256)), ("yz", yz)]
        want = run_node("QLinearSoftmax", ins, domain=MS, const=QP, attrs={"axis": -1, "opset": 13})[0]
        np.testing.assert_array_equal(lowp.qlinear_softmax(x, xs, xz, f32(1 / 256), yz), want)


@pytest.mark.parametrize("dt", DTYPES)
def test_softmax_axis_vs_ort(dt):
    rng = np.random.default_rng(8)
    x = rand_q(rng, dt, (2, 7, 3, 4))
    xs, ys = rand_scale(rng, -4, 0), rand_scale(rng, -9, -3)
    xz, yz = rand_zp(rng, dt), rand_zp(rng, dt)
    ins = [("x", x), ("xs", xs), ("xz", xz), ("ys", ys), ("yz", yz)]
    want = run_node("QLinearSoftmax", ins, domain=MS, const=QP, attrs={"axis": 1, "opset": 13})[0]
    np.testing.assert_array_equal(lowp.qlinear_softmax(x, xs, xz, ys, yz, axis=1), want)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_vs_ort(dt, axis):
    rng = np.random.default_rng(9)
    shapes = [(2, 3, 4), (2, 3, 4), (2, 3, 4)]
    n = 3
    xs_list = []
    for j in range(n):
        shp = list(shapes[j])
        shp[axis] += j
        xs_list.append(rand_q(rng, dt, tuple(shp)))
    ys, yz = rand_scale(rng, -4, 0), rand_zp(rng, dt)
    scales = [rand_scale(rng, -4, 0), ys, rand_scale(rng, -4, 0)]
    zps = [rand_zp(rng, dt), yz, rand_zp(rng, dt)]
    ins = [("ys", ys), ("yz", yz)]
    for j in range(n):
        ins += [(f"x{j}", xs_list[j]), (f"s{j}", scales[j]), (f"z{j}", zps[j])]
    const = {"ys", "yz"} | {f"s{j}" for j in range(n)} | {f"z{j}" for j in range(n)}
    want = run_node("QLinearConcat", ins, domain=MS, const=const, attrs={"axis": axis}, out_types=[dt])[0]
    np.testing.assert_array_equal(lowp.qlinear_concat(xs_list, scales, zps, ys, yz, axis=axis), want)


@pytest.mark.parametrize("dt", DTYPES)
def test_concat_channels_last_vs_ort(dt):
    """Concat along the last axis of NHWC-shaped tensors (short blocks per pixel: the table pass +
    strided row copy path), requantized and copied inputs mixed."""
    rng = np.random.default_rng(10)
    for cs in [(16, 16, 16), (32, 3, 64), (8, 24, 48, 300), (5, 7)]:
        xs_list = [rand_q(rng, dt, (2, 9, 11, c)) for c in cs]
        ys, yz = rand_scale(rng, -4, 0), rand_zp(rng, dt)
        scales = [ys if j % 2 else rand_scale(rng, -4, 0) for j in range(len(cs))]
        zps = [yz if j % 2 else rand_zp(rng, dt) for j in range(len(cs))]
        ins = [("ys", ys), ("yz", yz)]
        for j in range(len(cs)):
            ins += [(f"x{j}", xs_list[j]), (f"s{j}", scales[j]), (f"z{j}", zps[j])]
        const = {"ys", "yz"} | {f"s{j}" for j in range(len(cs))} | {f"z{j}" for j in range(len(cs))}
        want = run_node("QLinearConcat", ins, domain=MS, const=const, attrs={"axis": 3}, out_types=[dt])[0]
        np.testing.assert_array_equal(lowp.qlinear_concat(xs_list, scales, zps, ys, yz, axis=3), want)


def test_native_split_matches_numpy():
    from lowp import _lowp

    rng = np.random.default_rng(12)
    for shape, axis, sizes in [((1, 7, 5, 32), 3, [16, 16]), ((2, 3, 4, 48), 3, [16, 0, 32]), ((2, 6, 5), 1, [1, 2, 3]),
                               ((3, 40), 0, [1, 2]), ((2, 5, 3, 300), 3, [100, 200])]:
        x = rng.integers(0, 256, shape, dtype=np.uint8)
        got = _lowp.split(x, sizes, axis)
        want = np.split(x, np.cumsum(sizes)[:-1], axis=axis)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.flags.c_contiguous and g.dtype == x.dtype
            np.testing.assert_array_equal(g, w)
    with pytest.raises(ValueError):
        _lowp.split(np.zeros((2, 4), np.uint8), [1, 2], 1)


def test_native_gather_channels_matches_numpy():
    from lowp import _lowp

    rng = np.random.default_rng(13)
    x = rng.integers(-128, 128, (2, 5, 7, 116), dtype=np.int8)
    j = np.arange(116)
    for idx in [(j % 2) * 58 + j // 2, np.arange(58, 116), rng.integers(0, 116, 300)]:
        np.testing.assert_array_equal(_lowp.gather_channels(x, idx.astype(np.int64)), np.take(x, idx, axis=3))
    with pytest.raises(ValueError):
        _lowp.gather_channels(x, np.array([116], np.int64))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("ctm", ["half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel"])
def test_resize_vs_ort(dt, mode, ctm):
    rng = np.random.default_rng(10)
    for scales in ([1, 1, 2, 2], [1, 1, 1.5, 0.5], [1, 1, 3, 1.7]):
        x = rand_q(rng, dt, (2, 3, 7, 9))
        sc = np.array(scales, f32)
        want = run_node("Resize", [("x", x), ("roi", None), ("sc", sc)], const={"sc"},
                        attrs={"mode": mode, "coordinate_transformation_mode": ctm}, opset=19)[0]
        np.testing.assert_array_equal(lowp.resize(x, scales=scales, mode=mode, coordinate_transformation_mode=ctm),
                                      want)
        xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        got = lowp.resize(xh, scales=[1, scales[2], scales[3], 1], mode=mode, coordinate_transformation_mode=ctm,
                          layout="NHWC")
        np.testing.assert_array_equal(got, want.transpose(0, 2, 3, 1))
    sizes = np.array([2, 3, 11, 4], np.int64)
    want = run_node("Resize", [("x", x), ("roi", None), ("sc", None), ("sz", sizes)], const={"sz"},
                    attrs={"mode": mode, "coordinate_transformation_mode": ctm}, opset=19)[0]
    np.testing.assert_array_equal(lowp.resize(x, sizes=sizes, mode=mode, coordinate_transformation_mode=ctm), want)


def test_dynamic_quantize_linear_vs_ort():
    rng = np.random.default_rng(11)
    for scale in (0.01, 1.0, 37.0):
        x = (rng.standard_normal((4, 33)) * scale).astype(f32)
        if scale == 1.0:
            x = np.abs(x)  # min clamps to 0
        want = run_node("DynamicQuantizeLinear", [("x", x)], n_outputs=3, out_types=[np.uint8, f32, np.uint8])
        got = lowp.dynamic_quantize_linear(x)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(np.asarray(g), w)
