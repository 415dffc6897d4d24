"""The float ops of dynamic-quantized transformers (onnxruntime.quantization.quantize_dynamic: float LayerNorm / Gelu
/ attention around DynamicQuantizeLinear + MatMulInteger): Erf, Gelu, LayerNormalization, Mod. They run in numpy
(python/lowp/passes/float_ops.py), float64 inside and rounded to float32: not onnxruntime's float32 bits (its MLAS
erf / tanh approximations and sum orders), within the bounds asserted here."""
import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from onnx import numpy_helper as nh

import lowp
from lowp.passes.float_ops import _erf64, _erfc64


def _node_model(node, inputs, outputs, inits=()):
    """One node; every input and output of the first input's type (float32 or int64)."""
    t = TensorProto.FLOAT if next(iter(inputs.values())).dtype == np.float32 else TensorProto.INT64
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, t, list(v.shape)) for n, v in inputs.items()],
                          [helper.make_tensor_value_info(o, t, None) for o in outputs], list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
    m.ir_version = 9
    return m.SerializeToString()


def _both(model, feeds):
    want = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)
    got = lowp.InferenceSession(model).run(None, feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
    return got, want


def test_erf_erfc_against_math():
    """The float64 erf / erfc behind Erf and Gelu, against the C library's (math.erf / math.erfc): relative errors
    below float32's half ulp (3e-8) for erf; erfc (Gelu's Phi, down to 1e-16 in the tails) below 1.2e-7, and
    below 1e-12 where |z| < 1."""
    z = np.concatenate([np.linspace(-6, 6, 24001), np.geomspace(1e-9, 1.5, 400), -np.geomspace(1e-9, 1.5, 400)])
    z = z[z != 0]
    erf = np.array([math.erf(v) for v in z])
    erfc = np.array([math.erfc(v) for v in z])
    assert np.max(np.abs(_erf64(z) - erf) / np.abs(erf)) < 3e-8
    assert np.max(np.abs(_erfc64(z) - erfc) / erfc) < 1.2e-7
    small = np.abs(z) < 1
    assert np.max(np.abs(_erfc64(z[small]) - erfc[small]) / erfc[small]) < 1e-12
    assert _erf64(np.array([0.0]))[0] == 0.0


@pytest.mark.parametrize("approx", [None, "none", "tanh"])
def test_gelu_and_erf_near_onnxruntime(approx):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((8, 500)) * 3).astype(np.float32)
    x[0, :6] = [0.0, -0.0, 1e-30, -40.0, 40.0, np.float32(5.0673223)]
    if approx is None:
        (got,), (want,) = _both(_node_model(helper.make_node("Erf", ["x"], ["y"]), {"x": x}, ["y"]), {"x": x})
        d = np.abs(got.astype(np.float64) - want)
        assert np.all(d <= 1.2e-7 * np.abs(want.astype(np.float64)))  # <= 1 ulp; most identical
        assert np.mean(d == 0) > 0.8
        return
    attrs = {} if approx == "none" else {"approximate": approx}
    (got,), (want,) = _both(_node_model(helper.make_node("Gelu", ["x"], ["y"], **attrs), {"x": x}, ["y"]), {"x": x})
    # onnxruntime's erf / tanh approximations: ~1e-5 relative where |y| is not tiny, ~6e-7 absolute near 0
    d = np.abs(got.astype(np.float64) - want)
    assert np.all(d <= 1e-6 + 3e-5 * np.abs(want.astype(np.float64))), float(d.max())
    ref = 0.5 * x.astype(np.float64) * np.array([math.erfc(-v / math.sqrt(2)) for v in x.ravel().astype(np.float64)]
                                                ).reshape(x.shape)
    if approx == "none":  # within 2.5 ulps of the correctly rounded value (erfc's fit: 1.2e-7 relative)
        assert np.all(np.abs(got - ref) <= 2.5 * np.spacing(np.abs(ref).astype(np.float32)))
    with pytest.raises(ValueError, match="approximate"):
        lowp.InferenceSession(_node_model(helper.make_node("Gelu", ["x"], ["y"], approximate="fast"), {"x": x},
                                          ["y"])).run(None, {"x": x})


@pytest.mark.parametrize("axis,shape,bias,sd", [(-1, (6, 10, 96), True, 2.0), (1, (4, 3, 5, 7), False, 2.0),
                                                (0, (5, 9), True, 2.0),
                                                (-1, (3, 64), True, 0.003)])  # var ~ epsilon: epsilon matters
def test_layer_normalization_near_onnxruntime(axis, shape, bias, sd):
    rng = np.random.default_rng(axis + 7)
    x = (rng.standard_normal(shape) * sd + 0.5).astype(np.float32)
    norm = shape[axis:] if axis >= 0 else shape[axis:]
    scale = rng.standard_normal(norm).astype(np.float32)
    inits = [nh.from_array(scale, "s")] + ([nh.from_array(rng.standard_normal(norm).astype(np.float32), "b")] if bias else [])
    node = helper.make_node("LayerNormalization", ["x", "s"] + (["b"] if bias else []), ["y", "mean", "inv"], axis=axis,
                            epsilon=1e-5)
    got, want = _both(_node_model(node, {"x": x}, ["y", "mean", "inv"], inits), {"x": x})
    y, w = got[0].astype(np.float64), want[0].astype(np.float64)
    # onnxruntime: float32 sums (E[x^2] - E[x]^2 loses digits when the variance is small against the mean)
    assert np.all(np.abs(y - w) <= 1e-5 + 2e-6 * np.abs(w)), float(np.abs(y - w).max())
    for k in (1, 2):  # Mean and InvStdDev: within an ulp or two
        assert np.allclose(got[k], want[k], rtol=3e-7, atol=0), k
    with pytest.raises(ValueError, match="axis"):
        bad = helper.make_node("LayerNormalization", ["x", "s"], ["y"], axis=len(shape))
        lowp.InferenceSession(_node_model(bad, {"x": x}, ["y"], inits[:1])).run(None, {"x": x})


@pytest.mark.parametrize("fmod", [0, 1])
def test_mod_matches_onnxruntime(fmod):
    a = np.array([7, -7, 7, -7, 0, 13], np.int64)
    b = np.array([3, 3, -3, -3, 5, 4], np.int64)
    node = helper.make_node("Mod", ["a", "b"], ["y"], fmod=fmod)
    (got,), (want,) = _both(_node_model(node, {"a": a, "b": b}, ["y"]), {"a": a, "b": b})
    assert np.array_equal(got, want)
    if fmod:  # float Mod needs fmod=1 in ONNX
        af, bf = np.array([5.5, -5.5, 2.25], np.float32), np.array([2.0, 2.0, -1.0], np.float32)
        (got,), (want,) = _both(_node_model(node, {"a": af, "b": bf}, ["y"]), {"a": af, "b": bf})
        assert np.array_equal(got, want)


def test_dynamic_quantized_encoder_layer(tmp_path):
    """A transformer encoder layer (attention + GELU MLP + LayerNorms, torch) quantized by quantize_dynamic: it loads
    and runs, and its outputs are within the float noise onnxruntime shows against itself (the same model with its
    graph optimizations off, which fuse the float tail of each MatMulInteger differently)."""
    torch = pytest.importorskip("torch")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    torch.manual_seed(0)
    torch.backends.mha.set_fastpath_enabled(False)  # the fused encoder kernel does not export

    class Enc(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, activation="gelu", batch_first=True)
            self.head = torch.nn.Linear(32, 10)

        def forward(self, x):
            return self.head(self.layer(x))

    f32, q = str(tmp_path / "enc.onnx"), str(tmp_path / "enc_dyn.onnx")
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(Enc().eval(), torch.randn(2, 8, 32), f32, input_names=["x"], output_names=["y"],
                          dynamo=False, opset_version=20)
    quantize_dynamic(f32, q, weight_type=QuantType.QInt8)
    ops = {n.op_type for n in onnx.load(q).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger", "LayerNormalization", "Gelu", "Softmax"} <= ops, ops
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ref = ort.InferenceSession(q, providers=["CPUExecutionProvider"])
    ref_plain = ort.InferenceSession(q, opts, providers=["CPUExecutionProvider"])
    sess = lowp.InferenceSession(q)
    rng = np.random.default_rng(0)
    same = same_ort = total = 0
    for _ in range(6):
        x = (rng.standard_normal((2, 8, 32)) * rng.uniform(0.5, 3)).astype(np.float32)
        got, want, plain = sess.run(None, {"x": x})[0], ref.run(None, {"x": x})[0], ref_plain.run(None, {"x": x})[0]
        scale = float(np.abs(want).max())
        assert np.abs(got - want).max() <= 0.02 * scale and np.abs(plain - want).max() <= 0.02 * scale
        same += int(np.sum(got == want))
        same_ort += int(np.sum(plain == want))
        total += want.size
    assert same >= 0.5 * same_ort and same > 0.25 * total, (same, same_ort, total)
    # the whole layer is one native program: DynamicQuantizeLinear, MatMulInteger with its run-time zero point,
    # Cast, the float bias / scale arithmetic, and the float glue (attention MatMuls, LayerNorm, Softmax, Gelu:
    # ops/float_glue.h, which the Python steps call too)
    assert sess._program._items({"x": x})[0] == "single"
    names = [n.split("(")[0] for p in sess._program.native_programs({"x": x}) for n in p.op_names]
    assert {"DynamicQuantize", "MatMulInteger", "Cast", "MatMul", "LayerNorm", "Softmax", "Gelu"} <= set(names)
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    for s_ in (sess, lowp.InferenceSession(q, native=False)):
        with pytest.raises(ValueError, match="NaN or infinity"):
            s_.run(None, {"x": bad})
