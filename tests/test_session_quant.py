"""The executor's float <-> 8-bit boundary and lookup-table arithmetic vs onnxruntime single-node models."""
import numpy as np
import pytest

from lowp.passes.quant import dequantize, quantize

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402


def _run_node(op, x, scale, zp, out_type):
    xi = helper.make_tensor_value_info("x", helper.np_dtype_to_tensor_dtype(x.dtype), list(x.shape))
    yo = helper.make_tensor_value_info("y", out_type, list(x.shape))
    inits = [helper.make_tensor("s", TensorProto.FLOAT, [], [float(scale)]),
             helper.make_tensor("z", helper.np_dtype_to_tensor_dtype(np.asarray(zp).dtype), [], [int(zp)])]
    g = helper.make_graph([helper.make_node(op, ["x", "s", "z"], ["y"])], "g", [xi], [yo], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


@pytest.mark.parametrize("dt,zp", [(np.uint8, 0), (np.uint8, 131), (np.int8, 0), (np.int8, -7)])
@pytest.mark.parametrize("scale", [0.0123, 1.0 / 255, 0.5, 3.7])
def test_quantize_matches_onnxruntime(dt, zp, scale):
    rng = np.random.default_rng(0)
    s = np.float32(scale)
    ties = (np.arange(-300, 300, dtype=np.float32) + np.float32(0.5)) * s  # exact halves (where representable)
    x = np.concatenate([rng.standard_normal(4000).astype(np.float32) * 200 * s, ties,
                        np.array([0.0, -0.0, 1e30, -1e30, np.inf, -np.inf], np.float32)]).reshape(1, -1)
    zpa = np.array(zp, dt)
    want = _run_node("QuantizeLinear", x, s, zpa, helper.np_dtype_to_tensor_dtype(np.dtype(dt)))
    got = quantize(x, s, zpa)
    assert got.dtype == want.dtype
    assert np.array_equal(got, want)


@pytest.mark.parametrize("dt,zp", [(np.uint8, 128), (np.int8, 3)])
def test_dequantize_matches_onnxruntime(dt, zp):
    info = np.iinfo(dt)
    x = np.arange(info.min, info.max + 1).astype(dt).reshape(1, -1)
    s = np.float32(0.0731)
    want = _run_node("DequantizeLinear", x, s, np.array(zp, dt), TensorProto.FLOAT)
    assert np.array_equal(dequantize(x, s, np.array(zp, dt)).view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("n,threads", [(256, None), (600001, 2)])  # the table on all 256 inputs; a large op split
def test_lut_folding_hardswish_chain(n, threads):                   # over 2 threads (native LutOp slices)
    """DQ -> Add/Clip/Mul/Div (hard-swish as exported by older torch) -> Q becomes one lowp.QLut whose
    table equals onnxruntime's result on all 256 inputs."""
    import lowp

    xi = helper.make_tensor_value_info("x", TensorProto.UINT8, [1, n])
    yo = helper.make_tensor_value_info("y", TensorProto.UINT8, [1, n])
    c = lambda n, v: helper.make_tensor(n, TensorProto.FLOAT, [], [v])  # noqa: E731
    inits = [c("xs", 0.047), helper.make_tensor("xz", TensorProto.UINT8, [], [120]), c("ys", 0.031),
             helper.make_tensor("yz", TensorProto.UINT8, [], [20]), c("three", 3.0), c("zero", 0.0), c("six", 6.0)]
    nodes = [helper.make_node("DequantizeLinear", ["x", "xs", "xz"], ["f"]),
             helper.make_node("Add", ["f", "three"], ["a"]),
             helper.make_node("Clip", ["a", "zero", "six"], ["b"]),
             helper.make_node("Mul", ["f", "b"], ["m"]),
             helper.make_node("Div", ["m", "six"], ["d"]),
             helper.make_node("QuantizeLinear", ["d", "ys", "yz"], ["y"])]
    m = helper.make_model(helper.make_graph(nodes, "g", [xi], [yo], inits),
                          opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    x = np.arange(256, dtype=np.uint8).reshape(1, 256) if n == 256 else \
        np.random.default_rng(3).integers(0, 256, (1, n)).astype(np.uint8)
    sess = lowp.InferenceSession(m, num_threads=threads)
    assert sess.graph.op_counts() == {"lowp.QLut": 1}
    want = ort.InferenceSession(m, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert np.array_equal(sess.run(None, {"x": x})[0], want)


@pytest.mark.parametrize("dt", [np.uint8, np.int8])
@pytest.mark.parametrize("gate,op,swap", [("Sigmoid", "Mul", False), ("HardSigmoid", "Mul", True),
                                          ("Sigmoid", "Add", True), ("HardSigmoid", "Mul", False)])
def test_gated_lut_folding(dt, gate, op, swap):
    """x * sigmoid(x) (SiLU) / x * hard_sigmoid(x) as quantize_static exports them -- DQ -> gate -> Q, then
    DQ(x), DQ(gate) -> Mul -> Q -- folds into one lowp.QLut equal to onnxruntime on all 256 codes."""
    import lowp

    T = helper.np_dtype_to_tensor_dtype(np.dtype(dt))
    z0 = 0 if dt == np.int8 else 128
    xi = helper.make_tensor_value_info("x", T, [1, 256])
    yo = helper.make_tensor_value_info("y", T, [1, 256])
    c = lambda n, v: helper.make_tensor(n, TensorProto.FLOAT, [], [v])  # noqa: E731
    zt = lambda n, v: helper.make_tensor(n, T, [], [v])  # noqa: E731
    inits = [c("xs", 0.061), zt("xz", z0 - 9), c("hs", 1.0 / 255), zt("hz", -128 if dt == np.int8 else 0),
             c("ys", 0.037), zt("yz", z0 - 101)]
    ins = ["fx", "fh"] if not swap else ["fh", "fx"]
    nodes = [helper.make_node("DequantizeLinear", ["x", "xs", "xz"], ["fx"]),
             helper.make_node(gate, ["fx"], ["g"]),
             helper.make_node("QuantizeLinear", ["g", "hs", "hz"], ["h"]),
             helper.make_node("DequantizeLinear", ["h", "hs", "hz"], ["fh"]),
             helper.make_node(op, ins, ["m"]),
             helper.make_node("QuantizeLinear", ["m", "ys", "yz"], ["y"])]
    m = helper.make_model(helper.make_graph(nodes, "g", [xi], [yo], inits),
                          opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    x = np.arange(256, dtype=np.uint8).view(dt).reshape(1, 256)
    sess = lowp.InferenceSession(m)
    assert sess.graph.op_counts() == {"lowp.QLut": 1}
    want = ort.InferenceSession(m, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert np.array_equal(sess.run(None, {"x": x})[0], want)


@pytest.mark.parametrize("dt", [np.uint8, np.int8])
@pytest.mark.parametrize("k,s,p,d,ceil", [(2, 2, 0, 1, 0), (3, 2, 1, 1, 0), (3, 1, 1, 1, 0), (3, 2, 0, 1, 1),
                                          (5, 1, 2, 1, 0), (2, 1, 0, 2, 0), (3, 3, 1, 1, 1)])
def test_executor_maxpool_vs_onnxruntime(dt, k, s, p, d, ceil):
    """The executor's integer max-pool (numpy, separable) vs onnxruntime MaxPool on 8-bit NCHW data."""
    import lowp

    shape = [2, 5, 11, 9]
    xi = helper.make_tensor_value_info("x", helper.np_dtype_to_tensor_dtype(np.dtype(dt)), shape)
    yo = helper.make_tensor_value_info("y", helper.np_dtype_to_tensor_dtype(np.dtype(dt)), None)
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[k, k], strides=[s, s], pads=[p] * 4,
                            dilations=[d, d], ceil_mode=ceil)
    m = helper.make_model(helper.make_graph([node], "g", [xi], [yo]), opset_imports=[helper.make_opsetid("", 13)])
    info = np.iinfo(dt)
    x = np.random.default_rng(k * 7 + s).integers(info.min, info.max + 1, shape).astype(dt)
    want = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    sess = lowp.InferenceSession(m.SerializeToString())
    assert sess.graph.op_counts() == {"lowp.QMaxPool": 1}
    got = sess.run(None, {"x": x})[0]
    assert got.shape == want.shape and np.array_equal(got, want)


@pytest.mark.parametrize("spatial_swap", [False, True])
def test_channel_shuffle_fusion(spatial_swap):
    """DQ -> Reshape (N, 2, C/2, H, W) -> Transpose (0, 2, 1, 3, 4) -> Reshape (N, C, H, W) -> Q on uint8 is
    one channel gather; a look-alike that regroups the spatial dims (H, W swapped) is not fused. Both equal
    onnxruntime."""
    import lowp

    N, C, H, W = 2, 6, 2, 3
    h2, w2 = (W, H) if spatial_swap else (H, W)
    xi = helper.make_tensor_value_info("x", TensorProto.UINT8, [N, C, H, W])
    yo = helper.make_tensor_value_info("y", TensorProto.UINT8, None)
    i64 = lambda n, v: helper.make_tensor(n, TensorProto.INT64, [len(v)], v)  # noqa: E731
    inits = [helper.make_tensor("s", TensorProto.FLOAT, [], [0.05]), helper.make_tensor("z", TensorProto.UINT8, [], [7]),
             i64("s1", [0, 2, C // 2, h2, w2]), i64("s2", [0, C, h2, w2])]
    nodes = []
    cur = "x"
    for k, (op, extra, attrs) in enumerate([("Reshape", ["s1"], {}), ("Transpose", [], {"perm": [0, 2, 1, 3, 4]}),
                                           ("Reshape", ["s2"], {})]):
        out = "y" if k == 2 else f"q{k}"
        nodes += [helper.make_node("DequantizeLinear", [cur, "s", "z"], [f"d{k}"]),
                  helper.make_node(op, [f"d{k}"] + extra, [f"o{k}"], **attrs),
                  helper.make_node("QuantizeLinear", [f"o{k}", "s", "z"], [out])]
        cur = out
    m = helper.make_model(helper.make_graph(nodes, "g", [xi], [yo], inits),
                          opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    x = np.random.default_rng(1).integers(0, 256, (N, C, H, W), dtype=np.uint8)
    sess = lowp.InferenceSession(m)
    moves = [n for n in sess.graph.nodes if n.kind == "lowp.QMove"]
    assert [n.attrs["onnx_op"] for n in moves] == (["Reshape", "Transpose", "Reshape"] if spatial_swap else ["Gather"])
    want = ort.InferenceSession(m, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = sess.run(None, {"x": x})[0]
    assert got.shape == want.shape and np.array_equal(got, want)
