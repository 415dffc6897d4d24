"""`lowp compare --per-layer`: each lowp step fed onnxruntime's own 8-bit inputs (python/lowp/layerwise.py).

uint8-activation QDQ models run in integers in onnxruntime: every layer must match exactly. With int8
activations onnxruntime runs some convs as DequantizeLinear -> float Conv -> QuantizeLinear (float32
sums), so a layer may differ by +-1 on a few values; per layer that rate must stay <= 1 %.
"""
import numpy as np
import pytest

import lowp
from lowp import cli

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from lowp.layerwise import per_layer_compare  # noqa: E402
from models import builders as B  # noqa: E402

NETS = ["mobilenetv3", "yolo"]  # hard-swish + SE (8-bit Mul), and Split/Concat/Resize/MaxPool/SiLU


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("lowp_per_layer"))


def _report(path, session=None):
    x = B.inputs(4, seed=5)
    return per_layer_compare(path, {"input": x}, threads=1, session=session)


def _ort_float_convs(path, tmp):
    """Convs onnxruntime runs in float32 (DQ -> Conv -> Q left unfused) in the graph it optimizes."""
    import onnx

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.optimized_model_filepath = str(tmp / "opt.onnx")
    ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return sum(n.op_type == "Conv" for n in onnx.load(so.optimized_model_filepath).graph.node)


def _conv_steps(sess):
    return [s for s in sess._program.steps if s.kind == "lowp.QConv"]


@pytest.mark.parametrize("name", NETS)
@pytest.mark.parametrize("act", ["u8", "s8"])
def test_per_layer_rates(model_dir, name, act, tmp_path):
    path = B.build_quantized(name, model_dir, "QDQ", True, act)
    # The point of the comparison: u8 convs are integer in onnxruntime, some s8 ones are float.
    assert (_ort_float_convs(path, tmp_path) > 0) == (act == "s8")
    sess = lowp.InferenceSession(path, native=False)
    rep = _report(path, sess)
    assert not rep.exposed_changes_ort  # onnxruntime's intermediates come from the graph it really runs
    layers = rep.eight_bit()
    # Every integer conv of lowp was compared with onnxruntime's tensor.
    compared = {r.step for r in layers if r.kind == "lowp.QConv"}
    assert compared == {s.name for s in _conv_steps(sess)}
    assert all(r.dtype == ("uint8" if act == "u8" else "int8") for r in layers)
    print(f"{name} {act}: {len(layers)} layers, overall {rep.overall_rate:.4%}, worst "
          f"{rep.worst.rate:.4%}, max |diff| {rep.max_diff:g}, end to end {rep.end_to_end_rate:.3%}")
    if act == "u8":
        assert [(r.step, r.mismatches) for r in layers if r.mismatches] == []
        assert rep.end_to_end_rate == 0
    else:
        assert rep.worst.rate <= 0.01, [(r.step, r.rate) for r in layers if r.rate > 0.01]
        # +-1 on the conv's sum; a fused activation table may stretch that to 2 on its output.
        assert rep.max_diff <= 2


def test_per_layer_isolates_a_wrong_layer(model_dir):
    """A step made wrong on purpose shows up alone: the layers after it read onnxruntime's values."""
    path = B.build_quantized("mobilenetv3", model_dir, "QDQ", True, "u8")
    sess = lowp.InferenceSession(path, native=False)
    step = _conv_steps(sess)[3]
    fn = step.fn

    def wrong(*args):
        (y,) = fn(*args)
        y = np.array(y)
        y.reshape(-1)[:5] ^= 1
        return (y,)

    step.fn = wrong
    rep = _report(path, sess)
    bad = [(r.step, r.mismatches, r.max_diff) for r in rep.eight_bit() if r.mismatches]
    assert bad == [(step.name, 5, 1.0)]


def test_cli_compare_per_layer(model_dir, capsys):
    path = B.build_quantized("mobilenetv3", model_dir, "QDQ", True, "s8")
    assert cli.main(["compare", path, "--per-layer", "--trials", "1", "--batch", "2"]) == 0
    out = capsys.readouterr().out
    assert "per layer (each step fed onnxruntime's inputs)" in out and "end to end" in out
    # the exit status follows --max-rate (a negative bound fails on any layer)
    rc = cli.main(["compare", path, "--per-layer", "--trials", "1", "--max-rate", "-1", "--show-all"])
    assert rc == 1
    assert "lowp.QConv" in capsys.readouterr().out


@pytest.mark.parametrize("act", ["u8", "s8"])
def test_silu_table_matches_onnxruntime_on_every_code(act, tmp_path):
    """x * sigmoid(x) as quantize_static exports it (DQ -> Sigmoid -> Q, DQ -> Mul -> Q) folds into one
    table. onnxruntime fuses the Mul into QLinearMul with uint8 activations but runs it as float32
    DQ -> Mul -> Q with int8 ones; the table must follow each. Scales from EfficientNet-B0 (block 14),
    where the QLinearMul arithmetic gave the wrong byte for one code of the int8 table."""
    import onnx
    from onnx import TensorProto, helper

    dt, off = (TensorProto.UINT8, 128) if act == "u8" else (TensorProto.INT8, 0)
    np_dt = np.uint8 if act == "u8" else np.int8
    qp = {"x": (0.012305889, 15), "s": (0.003133870428428054, -128), "y": (0.005419606808573008, -77)}
    inits = []
    for k, (s, z) in qp.items():
        inits += [helper.make_tensor(f"{k}_s", TensorProto.FLOAT, [], [s]),
                  helper.make_tensor(f"{k}_z", dt, [], [z + off])]
    nodes = [helper.make_node("QuantizeLinear", ["input", "x_s", "x_z"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "x_s", "x_z"], ["xd"]),
             helper.make_node("DequantizeLinear", ["xq", "x_s", "x_z"], ["xd2"]),
             helper.make_node("Sigmoid", ["xd"], ["sg"]),
             helper.make_node("QuantizeLinear", ["sg", "s_s", "s_z"], ["sq"]),
             helper.make_node("DequantizeLinear", ["sq", "s_s", "s_z"], ["sd"]),
             helper.make_node("Mul", ["xd2", "sd"], ["m"]),
             helper.make_node("QuantizeLinear", ["m", "y_s", "y_z"], ["output"])]
    graph = helper.make_graph(nodes, "silu", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 256])],
                              [helper.make_tensor_value_info("output", dt, [1, 256])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = str(tmp_path / f"silu_{act}.onnx")
    onnx.save(model, path)
    s, z = qp["x"]
    codes = np.arange(256).astype(np.uint8).view(np_dt).astype(np.int64)
    x = ((codes - (z + off)).astype(np.float32) * np.float32(s)).reshape(1, 256)
    sess = lowp.InferenceSession(path)
    assert [n.kind for n in sess.graph.nodes] == ["QuantizeLinear", "lowp.QLut"]  # folded into one table
    y = sess.run(None, {"input": x})[0]
    r = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    assert np.array_equal(y, r), np.flatnonzero(y != r)
