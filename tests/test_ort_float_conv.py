"""int8-activation QDQ convs that onnxruntime runs in float32 (python/lowp/passes/qdq.py ort_runs_float,
cpp/ops/ort_float_conv.h): lowp must give onnxruntime's bits, not the exact integer result.

The models put every output on a rounding tie of the exact arithmetic: y_scale = 2 * x_scale * w_scale
(all float32 products exact in reals), so the exact value of an output is (sum + bias) / 2 and every odd
sum is a .5 tie. onnxruntime's float32 chain (dequantized inputs and weights, fused multiply-adds in
K blocks, bias, division) lands a few ulps to either side, so it differs from exact rounding on a large
share of outputs (asserted, so these tests cannot pass by computing the exact value). Which side is a
property of its float32 order of operations: K order (c, kh, kw), MLAS's K block (mlas_sgemm_stride_k),
FMA, the bias added after the sum, QuantizeLinear's division.
"""
import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import lowp  # noqa: E402


def _ort(model, feeds, threads=1):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, feeds)


def _tie_conv(M, C, kernel, strides=(1, 1), pads=(0, 0, 0, 0), group=1, relu=False, bias=True, seed=0,
              structure="int8_input", N=1, H=6, W=6):
    """A QDQ model around one int8-activation Conv, scales chosen so that exact outputs sit on ties.

    structure: "int8_input": the graph input is int8 (onnxruntime leaves it int8, rewrites the output Q
    to uint8: float conv); "shared_output": float input -> Q (rewritten to uint8), the conv's output Q
    feeds two DequantizeLinear nodes (stays int8: float conv); "fused": float input -> Q -> DQ -> Conv ->
    Q -> DQ, both rewritten to uint8 (onnxruntime's integer QLinearConv)."""
    rng = np.random.default_rng(seed)
    kh, kw = kernel
    w = rng.integers(-3, 4, (M, C // group, kh, kw)).astype(np.int8)
    xs = np.float32(0.0173)
    ws = np.full(M, 0.0029, np.float32)
    ys = np.float32(2) * (xs * ws[0])  # exact value of every output = (sum + bias) / 2
    xz, yz = np.int8(3), np.int8(-5)
    b = rng.integers(-40, 41, M).astype(np.int32)
    bs = (xs * ws).astype(np.float32)
    inits = [numpy_helper.from_array(np.array(xs), "xs"), numpy_helper.from_array(np.array(xz), "xz"),
             numpy_helper.from_array(w, "w"), numpy_helper.from_array(ws, "ws"),
             numpy_helper.from_array(np.zeros(M, np.int8), "wz"), numpy_helper.from_array(b, "b"),
             numpy_helper.from_array(bs, "bs"), numpy_helper.from_array(np.array(ys), "ys"),
             numpy_helper.from_array(np.array(yz), "yz"), numpy_helper.from_array(np.array(0, np.float32), "zero")]
    nodes = [helper.make_node("DequantizeLinear", ["w", "ws", "wz"], ["wf"], axis=0),
             helper.make_node("DequantizeLinear", ["b", "bs"], ["bf"], axis=0)]
    if structure == "int8_input":
        x_in = helper.make_tensor_value_info("x", TensorProto.INT8, [N, C, H, W])
        nodes.append(helper.make_node("DequantizeLinear", ["x", "xs", "xz"], ["xf"]))
    else:
        x_in = helper.make_tensor_value_info("x", TensorProto.FLOAT, [N, C, H, W])
        nodes += [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
                  helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xf"])]
    conv_in = ["xf", "wf", "bf"] if bias else ["xf", "wf"]
    nodes.append(helper.make_node("Conv", conv_in, ["yf"], kernel_shape=[kh, kw], strides=list(strides),
                                  pads=list(pads), group=group))
    if relu:
        nodes.append(helper.make_node("Relu", ["yf"], ["yr"]))
    nodes += [helper.make_node("QuantizeLinear", ["yr" if relu else "yf", "ys", "yz"], ["yq"]),
              helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"])]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if structure == "shared_output":
        nodes.append(helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y2"]))
        nodes.append(helper.make_node("Relu", ["y2"], ["y2r"]))
        outs.append(helper.make_tensor_value_info("y2r", TensorProto.FLOAT, None))
    g = helper.make_graph(nodes, "g", [x_in], outs, inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    xq = rng.integers(1, 6, (N, C, H, W)).astype(np.int8)  # x - zx in -2..2
    x = xq if structure == "int8_input" else ((xq.astype(np.float32) - np.float32(xz)) * xs).astype(np.float32)
    exact = dict(w=w, b=b if bias else np.zeros(M, np.int32), xq=xq, xz=int(xz), yz=int(yz))
    return model, x, exact


def _exact_rounding(e, strides, pads, group, relu, N):
    """Exact rounding half to even of (sum + bias) / 2 (numpy int64 reference), as integer steps."""
    w, b, xq = e["w"].astype(np.int64), e["b"].astype(np.int64), e["xq"].astype(np.int64) - e["xz"]
    M, Cg, kh, kw = w.shape
    Nn, C, H, W = xq.shape
    xp = np.pad(xq, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    OH = (H + pads[0] + pads[2] - kh) // strides[0] + 1
    OW = (W + pads[1] + pads[3] - kw) // strides[1] + 1
    acc = np.zeros((Nn, M, OH, OW), np.int64)
    Mg = M // group
    for m in range(M):
        gi = m // Mg
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, gi * Cg:(gi + 1) * Cg, i:i + strides[0] * OH:strides[0], j:j + strides[1] * OW:strides[1]]
                acc[:, m] += np.einsum("nchw,c->nhw", patch, w[m, :, i, j])
    tot = acc + b[None, :, None, None]
    q = np.where(tot % 2 == 0, tot // 2, np.where((tot // 2) % 2 == 0, tot // 2, tot // 2 + 1))  # half to even
    q = np.clip(q + e["yz"], -128, 127)
    if relu:
        q = np.maximum(q, e["yz"])
    return q


CASES = [
    # (M, C, kernel, strides, pads, group, relu, bias, N, H, W)
    (48, 300, (1, 1), (1, 1), (0, 0, 0, 0), 1, False, True, 1, 6, 6),    # GemmDirect, K blocks 256 + 44
    (64, 160, (1, 1), (1, 1), (0, 0, 0, 0), 1, True, True, 1, 14, 14),   # K = 160 in one block, ReLU
    (16, 40, (3, 3), (1, 1), (1, 1, 1, 1), 1, False, True, 2, 8, 8),     # im2col K = 360 (c, kh, kw), batch 2
    (24, 32, (3, 3), (2, 2), (1, 1, 1, 1), 1, False, False, 1, 9, 9),    # strided, padded, no bias
    (32, 64, (1, 1), (2, 2), (0, 0, 0, 0), 1, False, True, 1, 8, 8),     # strided 1x1 (ResNet downsample)
    (24, 24, (3, 3), (1, 1), (1, 1, 1, 1), 24, False, True, 1, 7, 7),    # depthwise
    (16, 32, (3, 3), (1, 1), (0, 0, 0, 0), 2, True, True, 1, 6, 6),      # grouped
    (7, 300, (1, 1), (1, 1), (0, 0, 0, 0), 1, False, True, 64, 1, 1),    # N == 1 kernel: rows 4 + 2 + 1
    (12, 40, (3, 3), (1, 1), (0, 0, 0, 0), 1, False, True, 32, 3, 3),    # N == 1 after im2col, rows 4 x 3
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"M{c[0]}C{c[1]}k{c[2][0]}s{c[3][0]}g{c[5]}")
@pytest.mark.parametrize("structure", ["int8_input", "shared_output"])
def test_float_conv_matches_onnxruntime_on_ties(case, structure):
    M, C, kernel, strides, pads, group, relu, bias, N, H, W = case
    model, x, e = _tie_conv(M, C, kernel, strides, pads, group, relu, bias, structure=structure, N=N, H=H, W=W)
    want = _ort(model, {"x": x})
    got = lowp.InferenceSession(model.SerializeToString(), num_threads=1, ort_float="all").run(None, {"x": x})
    for g_, w_ in zip(got, want):
        assert g_.dtype == w_.dtype and g_.shape == w_.shape
        assert np.array_equal(g_.view(np.uint32), w_.view(np.uint32))
    # The test is meaningful: onnxruntime's float32 result is not the exact rounding on many outputs.
    ys = np.float32(2) * (np.float32(0.0173) * np.float32(0.0029))
    steps = np.rint(want[0] / ys).astype(np.int64) + e["yz"]
    exact = _exact_rounding(e, strides, pads, group, relu, N)
    differ = np.count_nonzero(steps != exact)
    assert differ >= max(3, steps.size // 200), (differ, steps.size)


@pytest.mark.parametrize("threads", [1, 2])
def test_float_conv_threads_same_bits(threads):
    # M > N: MLAS splits M over threads, so onnxruntime's K blocks do not depend on its thread count (they
    # can when it splits N into segments of <= 64 columns: docs/PERFORMANCE.md, lowp follows 1 thread)
    model, x, _ = _tie_conv(160, 300, (1, 1), structure="int8_input", H=7, W=7)
    want = _ort(model, {"x": x}, threads=threads)
    got = lowp.InferenceSession(model.SerializeToString(), num_threads=threads, ort_float="all").run(None, {"x": x})
    assert np.array_equal(got[0].view(np.uint32), want[0].view(np.uint32))


def test_fused_conv_stays_integer():
    """Both activations rewritten to uint8 by onnxruntime: it fuses QLinearConv (integer requantization),
    so lowp must not take the float path here (on these ties the two differ)."""
    model, x, _ = _tie_conv(48, 300, (1, 1), structure="fused")
    want = _ort(model, {"x": x})
    got = lowp.InferenceSession(model.SerializeToString(), num_threads=1, ort_float="all").run(None, {"x": x})
    assert np.array_equal(got[0].view(np.uint32), want[0].view(np.uint32))


def test_ort_runs_float_rule_matches_onnxruntime_graph(tmp_path):
    """The rule (qdq.py ort_runs_float) agrees with the graph onnxruntime builds: a float Conv left
    between DequantizeLinear / QuantizeLinear exactly where lowp marks the conv ort_float."""
    from lowp.importers.onnx import import_onnx as load_graph
    from lowp.passes import optimize

    for structure, want_float in (("int8_input", True), ("shared_output", True), ("fused", False)):
        model, _, _ = _tie_conv(8, 16, (1, 1), structure=structure)
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        so.optimized_model_filepath = str(tmp_path / f"{structure}.onnx")
        ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        ops = [n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node]
        assert ("Conv" in ops) == want_float and ("QLinearConv" in ops) == (not want_float), (structure, ops)
        g = load_graph(model.SerializeToString())
        optimize(g)
        convs = [n for n in g.nodes if n.op == "QConv"]
        assert len(convs) == 1 and bool(convs[0].attrs.get("ort_float")) == want_float, structure


def test_recompute_rate_small_on_random_data():
    """The proven bound leaves few outputs to redo in float32 on ordinary data (speed, not exactness)."""
    from lowp import _lowp

    rng = np.random.default_rng(3)
    M, K, H, W = 64, 256, 10, 10
    w = rng.integers(-127, 128, (M, K)).astype(np.int8)
    ws = (rng.uniform(0.5, 2, M) * 1e-3).astype(np.float32)
    wf = (w.astype(np.float32) * ws[:, None]).astype(np.float32)
    bf = np.zeros(M, np.float32)
    x = rng.integers(-128, 128, (1, H, W, K)).astype(np.int8)
    acc = (x.reshape(-1, K).astype(np.int64) @ w.T.astype(np.int64)).astype(np.int32).reshape(1, H, W, M)
    ys = float(np.float32(acc.std() * 0.02 * 1e-3 / 40))  # outputs mostly inside the int8 range
    p = _lowp.OrtFloatConv(wf, bf, ws, 0.02, 0, "int8", ys, 0, "int8", -128, 127,
                           _lowp.mlas_sgemm_stride_k(H * W, K), [H, W, K], [1, 1], [1, 1], [1, 1], [0, 0, 0, 0], 1)
    y, redo = p.finish(acc, x)
    assert y.dtype == np.int8 and y.shape == (1, H, W, M)
    assert 0 <= redo < 0.05 * y.size
    # where nothing was redone, the result is the exact rounding of the real value
    t = acc.astype(np.float64) * (0.02 * ws.astype(np.float64)) / ys
    assert np.count_nonzero(np.clip(np.rint(t), -128, 127) != y) <= redo


def test_finish_rejects_bad_shapes():
    from lowp import _lowp

    p = _lowp.OrtFloatConv(np.ones((4, 8), np.float32), np.zeros(4, np.float32), np.ones(4, np.float32), 0.1, 0,
                           "uint8", 0.1, 0, "uint8", 0, 255, 128, [3, 3, 8], [1, 1], [1, 1], [1, 1], [0, 0, 0, 0], 1)
    x = np.zeros((1, 3, 3, 8), np.uint8)
    with pytest.raises(ValueError):
        p.finish(np.zeros((1, 3, 3, 5), np.int32), x)
    with pytest.raises(ValueError):
        p.finish(np.zeros((1, 3, 3, 4), np.int32), np.zeros((1, 3, 3, 8), np.int8))
    with pytest.raises(ValueError):
        _lowp.OrtFloatConv(np.ones((4, 8), np.float32), np.zeros(3, np.float32), np.ones(4, np.float32), 0.1, 0,
                           "uint8", 0.1, 0, "uint8", 0, 255, 128, [3, 3, 8], [1, 1], [1, 1], [1, 1], [0, 0, 0, 0], 1)


@pytest.mark.parametrize("mode,kernel,group", [(0, (1, 1), 1), (0, (3, 3), 1), (1, (3, 3), 24), (0, (3, 3), 2)])
def test_simd_kernels_match_reference(mode, kernel, group):
    """Every compiled and supported SIMD kernel of the check / recompute passes gives the scalar
    reference's bits and the same recompute count (many outputs near ties, tails of 16-lane blocks)."""
    from lowp import _lowp

    rng = np.random.default_rng(5)
    M, C, H, W = 24, 48 if group != 24 else 24, 9, 9
    kh, kw = kernel
    K = C // group * kh * kw
    w = rng.integers(-3, 4, (M, K)).astype(np.int8)
    ws = np.full(M, 0.0029, np.float32)
    xs = np.float32(0.0173)
    wf = (w.astype(np.float32) * ws[:, None]).astype(np.float32)
    bf = (rng.integers(-40, 41, M).astype(np.float32) * (xs * ws)).astype(np.float32)
    x = rng.integers(1, 6, (2, H, W, C)).astype(np.int8)
    pads = [1, 1, 1, 1] if kh == 3 else [0, 0, 0, 0]
    p = _lowp.OrtFloatConv(wf, bf, ws, float(xs), 3, "int8", float(np.float32(2) * (xs * ws[0])), -5, "int8", -128,
                           127, 128, [H, W, C], [kh, kw], [1, 1], [1, 1], pads, group, 1 if group == M else 0)
    OH, OW = p.output_hw
    acc = rng.integers(-60, 61, (2, OH, OW, M)).astype(np.int32)  # many exact ties (odd sums)
    ref, redo_ref = p.finish(acc, x, kernel="ref")
    assert redo_ref > 0
    for k in _lowp.ort_float_conv_kernels():
        y, redo = p.finish(acc, x, kernel=k)
        assert redo == redo_ref and np.array_equal(y, ref), k


# --------------------------------------------------------------------------- Add / Mul
@pytest.mark.parametrize("M,C", [(23, 301), (48, 1152), (6, 8)])
def test_one_pixel_recompute_simd_matches_reference(M, C):
    """One-pixel convs (N == 1, mode 2: MlasSgemmKernelM1TransposeBAvx's eight lane sums and row-block trees,
    rows 4 at a time then 2 then 1; K tails past a multiple of 8): the finish pass's AVX-512 recompute gives the
    scalar reference's bits on every flagged output (many ties)."""
    from lowp import _lowp

    rng = np.random.default_rng(M + C)
    w = rng.integers(-3, 4, (M, C)).astype(np.int8)
    ws = np.full(M, 0.0029, np.float32)
    xs = np.float32(0.0173)
    wf = (w.astype(np.float32) * ws[:, None]).astype(np.float32)
    bf = (rng.integers(-40, 41, M).astype(np.float32) * (xs * ws)).astype(np.float32)
    x = rng.integers(-20, 21, (5, 1, 1, C)).astype(np.int8)
    p = _lowp.OrtFloatConv(wf, bf, ws, float(xs), 3, "int8", float(np.float32(2) * (xs * ws[0])), -5, "int8", -128,
                           127, 128, [1, 1, C], [1, 1], [1, 1], [1, 1], [0, 0, 0, 0], 1, 2)
    acc = ((x.astype(np.int32) - 3).reshape(5, C) @ w.astype(np.int32).T).reshape(5, 1, 1, M).astype(np.int32)
    ref, redo_ref = p.finish(acc, x, kernel="ref")
    assert redo_ref > 0
    y, redo = p.finish(acc, x)
    assert redo == redo_ref and np.array_equal(y, ref)


def _binary_model(op, sa, za, sb, zb, sc, zc, a_shape, b_shape, relu=False):
    """int8 graph inputs a, b -> DQ -> Add/Mul -> [Relu] -> Q -> DQ: onnxruntime keeps the inputs int8 and
    rewrites the output Q to uint8, so it runs the float32 Add / Mul."""
    inits = [numpy_helper.from_array(np.array(np.float32(v)), n) for n, v in (("sa", sa), ("sb", sb), ("sc", sc))]
    inits += [numpy_helper.from_array(np.array(np.int8(v)), n) for n, v in (("za", za), ("zb", zb), ("zc", zc))]
    nodes = [helper.make_node("DequantizeLinear", ["a", "sa", "za"], ["fa"]),
             helper.make_node("DequantizeLinear", ["b", "sb", "zb"], ["fb"]),
             helper.make_node(op, ["fa", "fb"], ["f"])]
    if relu:
        nodes.append(helper.make_node("Relu", ["f"], ["fr"]))
    nodes += [helper.make_node("QuantizeLinear", ["fr" if relu else "f", "sc", "zc"], ["q"]),
              helper.make_node("DequantizeLinear", ["q", "sc", "zc"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("a", TensorProto.INT8, list(a_shape)),
                                       helper.make_tensor_value_info("b", TensorProto.INT8, list(b_shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def _qlinear_differs(op, sa, za, sb, zb, sc, zc):
    """Pairs where the QLinearAdd / QLinearMul arithmetic differs from the float32 chain (so the test can fail)."""
    from lowp.ops import eltwise

    v = np.arange(-128, 128, dtype=np.int8)
    A, B = np.meshgrid(v, v, indexing="ij")
    f = getattr(eltwise, "qlinear_" + op.lower())
    q = f(A, np.float32(sa), np.int8(za), B, np.float32(sb), np.int8(zb), np.float32(sc), np.int8(zc))
    fa = (A.astype(np.float32) - np.float32(za)) * np.float32(sa)
    fb = (B.astype(np.float32) - np.float32(zb)) * np.float32(sb)
    y = fa + fb if op == "Add" else fa * fb
    want = np.clip(np.rint(y / np.float32(sc)) + zc, -128, 127)
    return int(np.count_nonzero(q != want))


@pytest.mark.parametrize("op", ["Add", "Mul"])
@pytest.mark.parametrize("layout,threads", [("column", 1), ("full_row", 1), ("row_full", 2), ("full_row", 2)])
def test_float_binary_all_pairs_match_onnxruntime(op, layout, threads):
    """All 65536 input pairs (a column against a row, broadcast; or a full 256 x 256 tensor against a row
    vector repeated over its rows, either way round: the per-channel path, on 1 and 2 threads), scales picked
    so that onnxruntime's float32 chain and the QLinearAdd / QLinearMul arithmetic disagree on some pairs."""
    rng = np.random.default_rng(11)
    for _ in range(200):
        sa, sb = (float(np.float32(rng.uniform(0.005, 0.1))) for _ in range(2))
        sc = float(np.float32(sa * sb * rng.uniform(20, 60) if op == "Mul" else (sa + sb) * rng.uniform(0.6, 1.2)))
        za, zb, zc = (int(v) for v in rng.integers(-20, 20, 3))
        if _qlinear_differs(op, sa, za, sb, zb, sc, zc):
            break
    else:
        pytest.fail("no scales found where the two arithmetics differ")
    v = np.arange(-128, 128, dtype=np.int8)
    a, b = v.reshape(256, 1), v.reshape(1, 256)
    if layout == "full_row":
        a = np.ascontiguousarray(np.broadcast_to(a, (256, 256)))
    elif layout == "row_full":
        a, b = b, np.ascontiguousarray(np.broadcast_to(a, (256, 256)))
    model = _binary_model(op, sa, za, sb, zb, sc, zc, a.shape, b.shape)
    want = _ort(model, {"a": a, "b": b})[0]
    got = lowp.InferenceSession(model.SerializeToString(), num_threads=threads,
                                ort_float="auto").run(None, {"a": a, "b": b})[0]
    assert got.shape == want.shape and np.array_equal(got.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("shapes", [((2, 5, 7, 19), (2, 5, 7, 19)), ((1, 4, 4, 24), (1, 1, 1, 24)),
                                    ((1, 24, 1, 1), (1, 24, 3, 3)), ((3, 37), (37,)),
                                    ((1, 41, 40, 24), (1, 1, 1, 24)), ((1, 1, 1, 40), (1, 31, 33, 40)),
                                    ((1, 1, 5000), (2, 3, 1)), ((3, 111, 211), (3, 111, 211))])
@pytest.mark.parametrize("dt", [np.int8, np.uint8])
def test_float_binary_kernels_match_reference(shapes, dt):
    from lowp import _lowp

    rng = np.random.default_rng(2)
    info = np.iinfo(dt)
    a = rng.integers(info.min, info.max + 1, shapes[0]).astype(dt)
    b = rng.integers(info.min, info.max + 1, shapes[1]).astype(dt)
    z = 3 if dt == np.int8 else 131
    for op in ("add", "mul"):
        args = (op, 0.0173, z, 0.031, z - 5, 0.043 if op == "add" else 0.011, z + 2, int(info.min) + 3, int(info.max))
        ref = _lowp.ort_float_binary(a, b, *args, kernel="ref")
        fa = (a.astype(np.float32) - np.float32(z)) * np.float32(0.0173)
        fb = (b.astype(np.float32) - np.float32(z - 5)) * np.float32(0.031)
        y = fa + fb if op == "add" else fa * fb
        want = np.clip(np.clip(np.rint(y / np.float32(args[5])) + z + 2, info.min, info.max), info.min + 3, info.max)
        assert np.array_equal(ref, want.astype(dt))  # numpy float32 reference
        for k in _lowp.ort_float_conv_kernels():  # ref, avx2, avx512 rows as this CPU has them
            assert np.array_equal(_lowp.ort_float_binary(a, b, *args, kernel=k), ref), k
            assert np.array_equal(_lowp.ort_float_binary(a, b, *args, kernel=k, num_threads=2), ref), k
        assert np.array_equal(_lowp.ort_float_binary(a, b, *args, kernel="ref", num_threads=2), ref)


def test_binary_rule_matches_onnxruntime_graph(tmp_path):
    """ort_binary_runs_float agrees with onnxruntime's graph: float Add for int8 graph inputs (left int8, output
    rewritten to uint8), QLinearAdd when everything is rewritten to uint8."""
    from lowp.importers.onnx import import_onnx
    from lowp.passes import optimize

    fused = _binary_model("Add", 0.02, 1, 0.03, -2, 0.04, 3, (1, 8), (1, 8))
    # make it all-uint8 after the rewrite: float inputs quantized by Q nodes with one DQ each
    g = fused.graph
    g.input[0].type.tensor_type.elem_type = TensorProto.FLOAT
    g.input[1].type.tensor_type.elem_type = TensorProto.FLOAT
    qa = helper.make_node("QuantizeLinear", ["a", "sa", "za"], ["aq"])
    qb = helper.make_node("QuantizeLinear", ["b", "sb", "zb"], ["bq"])
    g.node[0].input[0] = "aq"
    g.node[1].input[0] = "bq"
    g.node.insert(0, qb)
    g.node.insert(0, qa)
    for model, want_float in ((_binary_model("Add", 0.02, 1, 0.03, -2, 0.04, 3, (1, 8), (1, 8)), True),
                              (fused, False)):
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        so.optimized_model_filepath = str(tmp_path / f"{want_float}.onnx")
        ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        ops = [n.op_type for n in onnx.load(so.optimized_model_filepath).graph.node]
        assert ("Add" in ops) == want_float and ("QLinearAdd" in ops) == (not want_float), ops
        lg = optimize(import_onnx(model.SerializeToString()))
        adds = [n for n in lg.nodes if n.kind == "lowp.QAdd"]
        assert len(adds) == 1 and bool(adds[0].attrs.get("ort_float")) == want_float


def test_ort_float_policy():
    """"all" (default) reproduces a 3x3 float conv, "auto" only 1x1 ones, "off" none; bad values raise."""
    model, x, _ = _tie_conv(16, 40, (3, 3), (1, 1), (1, 1, 1, 1), H=8, W=8)
    want = _ort(model, {"x": x})[0]
    run = lambda pol: lowp.InferenceSession(model.SerializeToString(), num_threads=1,  # noqa: E731
                                            ort_float=pol).run(None, {"x": x})[0]
    assert np.array_equal(run("all"), want)
    assert not np.array_equal(run("auto"), want) and np.array_equal(run("auto"), run("off"))
    m1, x1, _ = _tie_conv(48, 300, (1, 1))
    w1 = _ort(m1, {"x": x1})[0]
    assert np.array_equal(lowp.InferenceSession(m1.SerializeToString(), ort_float="auto").run(None, {"x": x1})[0], w1)
    assert np.array_equal(lowp.InferenceSession(model.SerializeToString(), num_threads=1).run(None, {"x": x})[0], want)
    assert np.array_equal(lowp.InferenceSession(m1.SerializeToString()).run(None, {"x": x1})[0], w1)
    assert not np.array_equal(lowp.InferenceSession(m1.SerializeToString(), ort_float=False).run(None, {"x": x1})[0],
                              w1)
    with pytest.raises(ValueError):
        lowp.InferenceSession(m1.SerializeToString(), ort_float="sometimes")


@pytest.mark.parametrize("kernel,stride,dil,pads,H", [((3, 3), 1, 1, None, 9), ((5, 5), 2, 1, None, 9),
                                                       ((3, 3), 1, 2, [0, 1, 2, 1], 9),
                                                       ((3, 3), 2, 1, None, 64),  # larger input
                                                       ((5, 5), 1, 1, None, 11),
                                                       ((1, 7), 1, 1, None, 9)])  # 7 taps: 4, a pair, one
# a 16-lane tail, whole vectors, one partial vector; 200: channel slices of two vectors on 2-3 threads, the last
# with a tail; 44: an 8-lane tail (avx2)
@pytest.mark.parametrize("C", [40, 16, 7, 200, 44])
@pytest.mark.parametrize("dt,relu", [("int8", False), ("uint8", False), ("int8", True)])
def test_depthwise_float_kernels_match_reference(kernel, stride, dil, pads, H, C, dt, relu):
    from lowp import _lowp

    rng = np.random.default_rng(9 + C + H)
    W = H
    kh, kw = kernel
    K = kh * kw
    ws = np.full(C, 0.0029, np.float32)
    wf = (rng.integers(-3, 4, (C, K)).astype(np.float32) * ws[:, None]).astype(np.float32)
    bf = (rng.integers(-40, 41, C).astype(np.float32) * (np.float32(0.0173) * ws)).astype(np.float32)
    lo, zx, zy = (-128, 3, -5) if dt == "int8" else (0, 131, 120)
    x = rng.integers(lo, lo + 256, (2, H, W, C)).astype(dt)
    p = _lowp.OrtFloatConv(wf, bf, ws, 0.0173, zx, dt, float(np.float32(2) * np.float32(0.0173 * 0.0029)), zy,
                           dt, zy if relu else lo, zy + 6 if relu else lo + 255, 16, [H, W, C], [kh, kw],
                           [stride, stride], [dil, dil], pads or [kh // 2] * 4, C, 1)
    assert p.depthwise
    ref = p.run_depthwise(x, kernel="ref")
    assert np.array_equal(p.run_depthwise(x), ref)
    assert np.array_equal(p.run_depthwise(x, num_threads=2), ref)
    assert np.array_equal(p.run_depthwise(x, num_threads=3), ref)
    if "avx512" in _lowp.ort_float_conv_kernels():
        # integer sums + check (default), float32 chain on the row ring
        for k in ("avx512int", "avx512"):
            assert np.array_equal(p.run_depthwise(x, kernel=k), ref), k
            assert np.array_equal(p.run_depthwise(x, num_threads=2, kernel=k), ref), k
    if "avx2" in _lowp.ort_float_conv_kernels():
        # the AVX2 twins (CPUs without AVX-512): the row ring (8 channels per vector) and the per-pixel kernel
        for k in ("avx2", "avx2pixels"):
            assert np.array_equal(p.run_depthwise(x, kernel=k), ref), k
            assert np.array_equal(p.run_depthwise(x, num_threads=2, kernel=k), ref), k
            assert np.array_equal(p.run_depthwise(x, num_threads=3, kernel=k), ref), k


@pytest.mark.parametrize("dt", ["int8", "uint8"])
@pytest.mark.parametrize("kernel,stride,H,C", [((3, 3), 1, 30, 72), ((5, 5), 2, 17, 40), ((5, 5), 1, 9, 33),
                                               ((3, 3), 2, 23, 16)])
def test_depthwise_integer_kernel_matches_reference(dt, kernel, stride, H, C):
    """The integer-sum + check kernel (the default where the integer weights come back from wf) on realistic
    data: full-range weights, per-channel scales, random activation scales (mostly unflagged outputs, the rest
    recomputed in float32); equal to the float32 reference, 1 and 2 threads. Weights that do not map back to
    wf = RN((w - zw) ws) keep the float32 kernel."""
    from lowp import _lowp

    rng = np.random.default_rng(H * C + stride)
    kh, kw = kernel
    K = kh * kw
    for trial in range(3):
        ws = (rng.uniform(0.5, 2.0, C) * 10.0 ** rng.uniform(-3, -1)).astype(np.float32)
        wf = (rng.integers(-127, 128, (C, K)).astype(np.float32) * ws[:, None]).astype(np.float32)
        xs = float(np.float32(rng.uniform(0.005, 0.05)))
        bf = (rng.integers(-3000, 3000, C).astype(np.float32) * (np.float32(xs) * ws)).astype(np.float32)
        ys = float(np.float32(xs * float(np.median(ws)) * rng.uniform(20, 200)))
        lo = -128 if dt == "int8" else 0
        zx, zy = lo + int(rng.integers(0, 256)), lo + int(rng.integers(0, 256))
        x = rng.integers(lo, lo + 256, (2, H, H, C)).astype(dt)
        relu = trial == 2
        p = _lowp.OrtFloatConv(wf, bf, ws, xs, zx, dt, ys, zy, dt, zy if relu else lo, lo + 255, 16, [H, H, C],
                               [kh, kw], [stride, stride], [1, 1], [kh // 2] * 4, C, 1)
        ref = p.run_depthwise(x, kernel="ref")
        assert np.array_equal(p.run_depthwise(x), ref)
        assert np.array_equal(p.run_depthwise(x, num_threads=2), ref)
        if "avx512" in _lowp.ort_float_conv_kernels():
            assert np.array_equal(p.run_depthwise(x, kernel="avx512int"), ref)
            assert np.array_equal(p.run_depthwise(x, kernel="avx512int", num_threads=2), ref)
            # scales that do not give back the integer weights: no integer kernel, the default still exact
            q = _lowp.OrtFloatConv(wf, bf, ws * np.float32(1.37), xs, zx, dt, ys, zy, dt, lo, lo + 255, 16,
                                   [H, H, C], [kh, kw], [stride, stride], [1, 1], [kh // 2] * 4, C, 1)
            with pytest.raises(ValueError):
                q.run_depthwise(x, kernel="avx512int")
            assert np.array_equal(q.run_depthwise(x), q.run_depthwise(x, kernel="ref"))


# --------------------------------------------------------------------------- direct float32 path (large K)
DIRECT_CASES = CASES[:5]  # the single-group FMA-kernel (mode 0) cases


@pytest.mark.parametrize("case", DIRECT_CASES, ids=lambda c: f"M{c[0]}C{c[1]}k{c[2][0]}s{c[3][0]}")
def test_direct_path_matches_onnxruntime_on_ties(case, monkeypatch):
    """LOWP_ORT_FLOAT_DIRECT_K=1 sends every mode-0 single-group conv down the direct float32 path (no
    integer pass, no check): still onnxruntime's bits on the tie models."""
    from lowp import _lowp

    monkeypatch.setenv("LOWP_ORT_FLOAT_DIRECT_K", "1")
    M, C, kernel, strides, pads, group, relu, bias, N, H, W = case
    model, x, _ = _tie_conv(M, C, kernel, strides, pads, group, relu, bias, structure="int8_input", N=N, H=H, W=W)
    want = _ort(model, {"x": x})
    got = lowp.InferenceSession(model.SerializeToString(), num_threads=1, ort_float="all").run(None, {"x": x})
    assert np.array_equal(got[0].view(np.uint32), want[0].view(np.uint32))
    p = _lowp.OrtFloatConv(np.ones((4, 8), np.float32), np.zeros(4, np.float32), np.ones(4, np.float32), 0.1, 0,
                           "int8", 0.1, 0, "int8", -128, 127, 128, [3, 3, 8], [1, 1], [1, 1], [1, 1], [0, 0, 0, 0], 1)
    # the env reaches the policy (a direct kernel: AVX-512 or its AVX2 twin)
    assert p.direct == bool({"avx512", "avx2"} & set(_lowp.ort_float_conv_kernels()))


def _im2col_acc(x, zx, w, kh, kw, st, dl, pd):
    """Exact int64 conv sums (NHWC x, OIHW-flattened w: M x (C*kh*kw) in (c, kh, kw) order)."""
    N, H, W_, C = x.shape
    xp = np.zeros((N, H + pd[0] + pd[2], W_ + pd[1] + pd[3], C), np.int64)
    xp[:, pd[0]:pd[0] + H, pd[1]:pd[1] + W_] = x.astype(np.int64) - zx
    OH = (H + pd[0] + pd[2] - dl[0] * (kh - 1) - 1) // st[0] + 1
    OW = (W_ + pd[1] + pd[3] - dl[1] * (kw - 1) - 1) // st[1] + 1
    cols = np.zeros((N, OH, OW, C, kh, kw), np.int64)
    for i in range(kh):
        for j in range(kw):
            cols[..., i, j] = xp[:, i * dl[0]:i * dl[0] + st[0] * (OH - 1) + 1:st[0],
                                 j * dl[1]:j * dl[1] + st[1] * (OW - 1) + 1:st[1]]
    return (cols.reshape(N, OH, OW, -1) @ w.astype(np.int64).T).astype(np.int32)


def _tie_crowded_conv(rng, M, C, k, H, W):
    """A conv whose float32 outputs crowd near QuantizeLinear's .5 ties: small integer weights and inputs,
    two weight scales, bias and y_scale multiples of x_scale * w_scale. Returns (w int8 M x K, w_scale,
    x_scale, float weights, float bias, x int8 NHWC batch 2, y_scale)."""
    K = C * k * k
    w = rng.integers(-3, 4, (M, K)).astype(np.int8)
    ws = np.full(M, 0.0029, np.float32)
    ws[::3] = np.float32(0.0041)
    xs = np.float32(0.0173)
    wf = (w.astype(np.float32) * ws[:, None]).astype(np.float32)
    bf = (rng.integers(-40, 41, M).astype(np.float32) * (xs * ws)).astype(np.float32)
    x = rng.integers(-2, 9, (2, H, W, C)).astype(np.int8)
    ys = float(np.float32(2) * (xs * ws[1]))
    return w, ws, xs, wf, bf, x, ys


@pytest.mark.parametrize("M,C,k,st,dl,pd,H,W,sk", [
    (24, 48, 3, 1, 1, 1, 9, 9, 128),      # K = 432: blocks 128 x 3 + 48, 162 pixels (64-pixel chunks, 8-pixel tail)
    (50, 17, 3, 2, 1, 1, 11, 7, 256),     # M tail (50 = 32 + 18), strided, padded
    (33, 130, 1, 1, 1, 0, 5, 3, 64),      # 1x1, K blocks of 64, 15 pixels
    (40, 9, 3, 1, 2, 2, 8, 8, 16),        # dilated, K = 81 in blocks of 16
    (7, 5, 1, 1, 1, 0, 2, 2, 8),          # tiny: 4 pixels, 7 channels
    # one K block (K <= stride_k): bias + QuantizeLinear fused into the register tile
    (24, 3, 3, 2, 1, 1, 13, 12, 128),     # stem-like: C = 3, K = 27, strided; M = 24 (a 32-tile, 8 padding)
    (16, 24, 1, 1, 1, 0, 9, 9, 128),      # small-K 1x1, M = 16 (half tile), 81 pixels (a 1-pixel last tile)
    (72, 40, 1, 1, 1, 0, 5, 5, 128),      # M = 72: tiles 32 + 32 + 8
])
def test_direct_kernels_match_reference_and_check_path(M, C, k, st, dl, pd, H, W, sk, monkeypatch):
    """The direct path's SIMD kernel == its scalar reference (bits), and both == the integer + check +
    recompute path fed exact int64 sums (independent numpy im2col), on outputs crowded near ties."""
    from lowp import _lowp

    monkeypatch.setenv("LOWP_ORT_FLOAT_DIRECT_K", "1")
    w, ws, xs, wf, bf, x, ys = _tie_crowded_conv(np.random.default_rng(M * 7 + C), M, C, k, H, W)
    p = _lowp.OrtFloatConv(wf, bf, ws, float(xs), 3, "int8", ys, -5, "int8", -128, 127, sk, [H, W, C], [k, k],
                           [st, st], [dl, dl], [pd] * 4, 1, 0)
    ref = p.run_direct(x, kernel="ref")
    acc = _im2col_acc(x, 3, w, k, k, (st, st), (dl, dl), (pd,) * 4)
    chk, redo = p.finish(acc, x, kernel="ref")
    assert redo > 0 and np.array_equal(ref, chk)
    if "avx512" in _lowp.ort_float_conv_kernels():
        assert p.direct
        for threads in (1, 2):
            assert np.array_equal(p.run_direct(x, num_threads=threads, kernel="avx512"), ref)
            assert np.array_equal(p.run_direct(x, num_threads=threads, kernel="avx512bands"), ref)
            assert np.array_equal(p.run_direct(x, num_threads=threads), ref)
    if "avx2" in _lowp.ort_float_conv_kernels():  # the AVX2 twin (CPUs without AVX-512)
        assert p.direct
        for threads in (1, 2):
            assert np.array_equal(p.run_direct(x, num_threads=threads, kernel="avx2"), ref)
    with pytest.raises(ValueError):
        p.run_direct(x.astype(np.uint8))


@pytest.mark.parametrize("M,C,k,st,pd,H,W,sk,yt,zy,qlo,qhi", [
    # 64-channel tiles (6 pixels x 4 vectors), one K block and several, pixel tails of the 6-pixel panels
    (64, 16, 3, 1, 1, 7, 5, 128, "int8", -5, -128, 127),     # K = 144: blocks 128 + 16, 35 pixels
    (80, 8, 3, 1, 1, 6, 9, 128, "uint8", 131, 0, 255),       # 64 + 16 (one-vector tile), uint8 output
    (100, 6, 3, 2, 1, 9, 9, 32, "int8", 7, -128, 127),       # 64 + 32 + 4: tiles of every width, strided
    (40, 12, 1, 1, 0, 7, 9, 128, "int8", -5, -5, 127),       # pointwise, fused Relu (qmin = zy): byte clamp
    (48, 20, 1, 2, 0, 9, 11, 16, "uint8", 3, 3, 200),        # pointwise stride 2 (per-pixel dequantization),
                                                             # K blocks of 16, uint8 clamp [3, 200]
    (16, 3, 3, 2, 1, 17, 23, 32, "int8", 0, -128, 127),      # stem-like: C = 3, K = 27, M = 16
    (128, 40, 1, 1, 0, 3, 5, 128, "int8", -5, -128, 127),    # 15 pixels x 4 tiles (m-tile groups with threads)
    (16, 8, 3, 2, 1, 181, 183, 32, "int8", -5, -128, 127),   # input > 1 MB as floats: bands by default
    (33, 64, 3, 1, 1, 5, 5, 64, "uint8", 255, 0, 255),       # M = 32 + 1, K = 576 in 9 blocks, zy = 255
    (224, 24, 3, 1, 1, 10, 10, 128, "int8", -5, -128, 127),  # 200 pixels: 2 threads run 5 even chunks of 40 x
                                                             # 3 tile groups (2 + 2 + 3 tiles)
    (130, 24, 3, 1, 1, 2, 2, 64, "int8", -5, -128, 127),     # 8 pixels, 5 tiles: 2 threads split the tiles too
                                                             # (groups of 2 + 3 tiles: a pair and 32 + 2 channels)
    (32, 16, 3, 1, 1, 29, 29, 128, "int8", -5, -128, 127),   # 1682 pixels: with threads, bands of 8 output rows
                                                             # (8 + 8 + 8 + 5 an image), each dequantizing its rows
])
def test_direct_tiles_match_reference(M, C, k, st, pd, H, W, sk, yt, zy, qlo, qhi, monkeypatch):
    """Every register tile of the AVX-512 direct kernel (6x64, 12x32, 12x16), its fused QuantizeLinear (uint8 /
    int8, zero points at the ends of the range, fused clamps) and its chunking / threading == the scalar
    reference, and both == the check path fed exact int64 sums (independent numpy im2col), on tie-crowded data."""
    from lowp import _lowp

    monkeypatch.setenv("LOWP_ORT_FLOAT_DIRECT_K", "1")
    w, ws, xs, wf, bf, x, ys = _tie_crowded_conv(np.random.default_rng(M * 11 + C * 3 + k), M, C, k, H, W)
    p = _lowp.OrtFloatConv(wf, bf, ws, float(xs), 3, "int8", ys, zy, yt, qlo, qhi, sk, [H, W, C], [k, k],
                           [st, st], [1, 1], [pd] * 4, 1, 0)
    ref = p.run_direct(x, kernel="ref")
    assert ref.dtype == np.dtype(yt)
    acc = _im2col_acc(x, 3, w, k, k, (st, st), (1, 1), (pd,) * 4)
    chk, redo = p.finish(acc, x, kernel="ref")
    assert redo > 0 and np.array_equal(ref, chk)
    lo_t, hi_t = (-128, 127) if yt == "int8" else (0, 255)
    assert ref.min() >= qlo and ref.max() <= qhi
    if qlo > lo_t:
        assert (ref == qlo).mean() > 0.1  # the fused clamp is reached
    if zy == hi_t:
        assert (ref == hi_t).mean() > 0.1  # saturation is reached
    if "avx512" in _lowp.ort_float_conv_kernels():
        assert p.direct
        for threads in (1, 2):
            for kern in ("avx512", "avx512whole", "avx512bands"):  # bands: one output row a task, own buffer
                assert np.array_equal(p.run_direct(x, num_threads=threads, kernel=kern), ref), kern
        assert np.array_equal(p.run_direct(x[:1], num_threads=2), ref[:1])
        assert np.array_equal(p.run_direct(x, num_threads=0), ref)  # 0: all the pool's threads
    if "avx2" in _lowp.ort_float_conv_kernels():  # the AVX2 twin: 6x16 tiles, two per 32-channel weight tile
        assert p.direct
        for threads in (1, 2, 0):
            assert np.array_equal(p.run_direct(x, num_threads=threads, kernel="avx2"), ref)


def test_direct_policy_extreme_output_scale():
    """The direct kernel's QuantizeLinear multiplies by 1 / y_scale (then checks against the division): a y_scale
    whose reciprocal is not a normal float keeps the layer off the direct path (the integer + check path), and
    its outputs still equal the scalar float32 chain."""
    from lowp import _lowp

    rng = np.random.default_rng(5)
    w = rng.integers(-3, 4, (20, 72)).astype(np.float32)
    x = rng.integers(-5, 6, (1, 5, 5, 8)).astype(np.int8)
    for ys, direct in ((1e-3, True), (1e-39, False), (3e38, False)):
        p = _lowp.OrtFloatConv(w * np.float32(1e-3), np.zeros(20, np.float32), np.full(20, 1e-3, np.float32), 0.01,
                               0, "int8", ys, 0, "int8", -128, 127, 128, [5, 5, 8], [3, 3], [1, 1], [1, 1],
                               [1, 1, 1, 1], 1)
        assert p.direct == (direct and bool({"avx512", "avx2"} & set(_lowp.ort_float_conv_kernels())))
        ref = p.run_direct(x, kernel="ref")
        assert np.array_equal(p.run_direct(x), ref)
        if ys > 1:
            assert (ref == 0).all()  # every quotient rounds to 0
        elif ys < 1e-30:
            assert (np.abs(ref.astype(int)) >= 127).mean() > 0.5  # saturated


def test_cli_ort_float_flag(tmp_path, capsys):

    """`lowp compare/run/bench --ort-float`: 'all' gives onnxruntime's bits on a tie model, 'off' does not."""
    from lowp import cli

    model, _, _ = _tie_conv(48, 300, (1, 1), structure="int8_input")
    path = tmp_path / "tie.onnx"
    path.write_bytes(model.SerializeToString())
    assert cli.main(["compare", str(path), "--trials", "1", "--ort-float", "all"]) == 0
    assert "BIT-EXACT" in capsys.readouterr().out
    assert cli.main(["compare", str(path), "--trials", "1", "--ort-float", "off"]) != 0
    assert "MISMATCH" in capsys.readouterr().out
    assert cli.main(["run", str(path), "--ort-float", "auto"]) == 0
    assert cli.main(["bench", str(path), "--runs", "2", "--warmup", "0", "--no-ort", "--ort-float", "all"]) == 0
    with pytest.raises(SystemExit):
        cli.main(["compare", str(path), "--ort-float", "sometimes"])
