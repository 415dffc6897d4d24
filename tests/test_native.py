"""The native executor (cpp/exec, python/lowp/passes/native.py): same bits as the Python step loop,
dynamic batch, concurrency, pickling, mixed native/Python programs, the LOWP_NATIVE switch, and the
NativeProgram API's errors. (Every other model test also compares both paths: tests/conftest.py
sets LOWP_NATIVE_CHECK=1.)"""
import pickle
import threading

import numpy as np
import pytest

import lowp

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from models import builders as B  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("lowp_native_models"))


@pytest.fixture(autouse=True)
def _native_only(monkeypatch):
    # These tests compare the paths themselves; no implicit Python re-run inside run().
    monkeypatch.setenv("LOWP_NATIVE_CHECK", "0")
    monkeypatch.delenv("LOWP_NATIVE", raising=False)


def _same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _kind(sess, x):
    kind, body = sess._program._items({"input": x})
    return kind, body


@pytest.mark.parametrize("name,fmt,act,expect", [
    ("mobilenetv2", "QDQ", "u8", "single"),
    ("resnet", "QOperator", "s8", "single"),
    ("shufflenet", "QDQ", "u8", "single"),  # shape arithmetic folded per signature, slices as copy runs
    ("yolo", "QDQ", "u8", "single"),  # NHWC Split / nearest Resize as copy runs too
    ("attention", "QDQ", "u8", "single"),  # MatMuls of activations, float bias Adds and ReduceMean native too
])
def test_native_matches_python_steps(model_dir, name, fmt, act, expect):
    path = B.build_quantized(name, model_dir, fmt, True, act)
    sess = lowp.InferenceSession(path)
    ref = lowp.InferenceSession(path, native=False)
    assert sess._program.native and not ref._program.native
    for n in (1, 3):
        x = B.inputs(n, seed=20 + n)
        ys, rs = sess.run(None, {"input": x}), ref.run(None, {"input": x})
        assert all(_same(y, r) for y, r in zip(ys, rs))
    kind, body = _kind(sess, B.inputs(1, seed=0))
    assert kind == expect
    if kind == "mixed":
        items = body[0]
        kinds = [k for k, _ in items]
        assert "py" in kinds and kinds.count("native") >= 2
    assert not ref._program._native  # the Python session never built native programs


def test_dynamic_batch_builds_one_program_per_signature(model_dir):
    path = B.build_quantized("mobilenetv2", model_dir)
    sess = lowp.InferenceSession(path)
    ref = lowp.InferenceSession(path, native=False)
    progs = []
    for n in (1, 3, 1):
        x = B.inputs(n, seed=30 + n)
        assert _same(sess.run(None, {"input": x})[0], ref.run(None, {"input": x})[0])
        progs.append(sess._program.native_programs({"input": x})[0])
    assert len(sess._program._native) == 2
    assert progs[0] is progs[2] and progs[0] is not progs[1]
    # The cache is bounded.
    for n in range(1, 12):
        sess.run(None, {"input": B.inputs(n, seed=1)})
    assert len(sess._program._native) <= sess._program.MAX_SIGNATURES


def test_concurrent_native_runs_identical(model_dir):
    path = B.build_quantized("resnet", model_dir)
    sess = lowp.InferenceSession(path)
    ref = lowp.InferenceSession(path, native=False)
    xs = [B.inputs(2, seed=40 + i) for i in range(8)]
    want = [ref.run(None, {"input": x})[0] for x in xs]
    errors = []
    barrier = threading.Barrier(8)

    def worker(i):
        try:
            barrier.wait()
            for _ in range(20):
                if not _same(sess.run(None, {"input": xs[i]})[0], want[i]):
                    errors.append(i)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    (prog,) = sess._program.native_programs({"input": xs[0]})
    allocs = prog.arena_allocations
    assert 1 <= allocs <= 8  # at most one arena per concurrent run
    for x in xs:
        sess.run(None, {"input": x})
    assert prog.arena_allocations == allocs  # steady state: arenas come from the pool
    assert 0 < prog.arena_bytes < prog.total_tensor_bytes  # lifetimes let tensors share memory
    plan = sess.memory_plan(batch=2)
    assert plan.native_bytes == prog.arena_bytes and plan.native_bytes <= plan.peak_bytes


def test_pickled_session_runs_natively(model_dir):
    path = B.build_quantized("efficientnet", model_dir)
    sess = lowp.load(path)
    x = B.inputs(2, seed=5)
    y = sess.run(None, {"input": x})[0]
    s2 = pickle.loads(pickle.dumps(sess))
    assert s2._program.native and _same(s2.run(None, {"input": x})[0], y)
    s3 = pickle.loads(pickle.dumps(lowp.load(path, native=False)))
    assert not s3._program.native and _same(s3.run(None, {"input": x})[0], y)


def test_env_switch_forces_python(model_dir, monkeypatch):
    path = B.build_quantized("plain", model_dir)
    monkeypatch.setenv("LOWP_NATIVE", "0")
    sess = lowp.InferenceSession(path)
    assert not sess._program.native
    y = sess.run(None, {"input": B.inputs(2, seed=6)})[0]
    assert not sess._program._native
    monkeypatch.setenv("LOWP_NATIVE", "1")
    s2 = lowp.InferenceSession(path)
    assert s2._program.native and _same(s2.run(None, {"input": B.inputs(2, seed=6)})[0], y)
    assert s2._program._native


def test_forced_kernel_gets_its_own_program(model_dir):
    path = B.build_quantized("plain", model_dir)
    sess = lowp.InferenceSession(path)
    x = B.inputs(2, seed=8)
    y = sess.run(None, {"input": x})[0]
    with lowp.use_kernel("ref"):
        assert _same(sess.run(None, {"input": x})[0], y)
    assert len(sess._program._native) == 2


def test_native_check_mode_compares_paths(model_dir, monkeypatch):
    path = B.build_quantized("plain", model_dir)
    monkeypatch.setenv("LOWP_NATIVE_CHECK", "1")
    sess = lowp.InferenceSession(path)
    assert sess._program.check_native
    sess.run(None, {"input": B.inputs(1, seed=9)})
    # Break the Python path: the check must notice.
    step = sess._program.steps[-1]
    fn = step.fn
    sess._program._plan[-1] = (lambda *a: tuple(np.asarray(v) + 1 for v in fn(*a)),) + sess._program._plan[-1][1:]
    with pytest.raises(AssertionError, match="differs"):
        sess.run(None, {"input": B.inputs(1, seed=9)})


def test_native_program_api():
    from lowp import _lowp

    P = _lowp.NativeProgram()
    x = P.input(2 * 3 * 4)
    t = P.tensor(24)
    y = P.tensor(24)
    P.transpose(x, t, [2, 3, 4], [0, 2, 1], 1)
    table = np.arange(256, dtype=np.uint8)[::-1].copy()
    P.lut(t, y, table, 24)
    Q = _lowp.NativeProgram()
    with pytest.raises(ValueError, match="out of bounds"):
        Q.copy_runs(Q.input(24), [Q.tensor(4)], [np.array([[22, 0, 4]], np.int64)])
    P.finalize([[2, 3, 4]], [np.uint8], [y], [[2, 4, 3]], [np.uint8])
    a = np.random.default_rng(0).integers(0, 256, (2, 3, 4), dtype=np.uint8)
    (out,) = P.run([a])
    assert _same(out, (255 - a).transpose(0, 2, 1).copy())
    (out2,) = P.run([np.asfortranarray(a)])  # non-contiguous inputs are made contiguous
    assert _same(out2, out)
    (out3,), ns = P.run([a], timed=True)
    assert _same(out3, out) and len(ns) == P.num_ops == 2 and all(v >= 0 for v in ns)
    with pytest.raises(ValueError, match="shape"):
        P.run([a[:1]])
    with pytest.raises(TypeError, match="dtype"):
        P.run([a.astype(np.int8)])
    with pytest.raises(ValueError, match="number of inputs"):
        P.run([])
    with pytest.raises(ValueError, match="finalized"):
        P.tensor(4)


def test_failing_native_description_leaves_the_step_to_python(model_dir, monkeypatch):
    path = B.build_quantized("plain", model_dir)
    ref = lowp.InferenceSession(path, native=False)
    x = B.inputs(2, seed=12)
    want = ref.run(None, {"input": x})[0]

    def broken(nb, ins, outs):
        raise RuntimeError("a bug in a native description")

    sess = lowp.InferenceSession(path)
    k = next(i for i, s in enumerate(sess._program.steps) if s.kind == "lowp.QConv")
    sess._program.steps[k].fn.native = broken
    assert _same(sess.run(None, {"input": x})[0], want)
    kind, (items, _) = _kind(sess, x)
    assert kind == "mixed" and [v.kind for t, v in items if t == "py"] == ["lowp.QConv"]
    # Under LOWP_NATIVE_CHECK=1 (the test suite) such a bug is an error, not a silent slowdown.
    monkeypatch.setenv("LOWP_NATIVE_CHECK", "1")
    s2 = lowp.InferenceSession(path)
    s2._program.steps[k].fn.native = broken
    with pytest.raises(RuntimeError, match="native description"):
        s2.run(None, {"input": x})


def test_strided_and_readonly_inputs(model_dir):
    path = B.build_quantized("mobilenetv2", model_dir)
    sess = lowp.InferenceSession(path)
    ref = lowp.InferenceSession(path, native=False)
    x = B.inputs(4, seed=13)
    views = [x[::2], x[:, :, ::-1], np.asfortranarray(x), x.copy()]
    views[3].setflags(write=False)
    for v in views:
        assert _same(sess.run(None, {"input": v})[0], ref.run(None, {"input": v})[0])
        assert _same(sess.run(None, {"input": v})[0], sess.run(None, {"input": np.ascontiguousarray(v)})[0])


@pytest.mark.parametrize("kernel", lowp.kernels())
def test_attention_softmax_and_matmuls_are_native(model_dir, kernel):
    """The attention block's Softmax, its two MatMuls of activations (exec batch_matmul, the rhs packed per run
    for the forced kernel) and its float32 bias Adds run natively, with the Python steps' bits on every kernel."""
    path = B.build_quantized("attention", model_dir, "QDQ", True, "u8")
    with lowp.use_kernel(kernel):
        sess = lowp.InferenceSession(path)
        ref = lowp.InferenceSession(path, native=False)
        x = B.inputs(3, seed=14)
        assert all(_same(y, r) for y, r in zip(sess.run(None, {"input": x}), ref.run(None, {"input": x})))
        kind, body = _kind(sess, x)
        py = [v.kind for t, v in (body[0] if kind == "mixed" else []) if t == "py"]
        names = [n for p in sess._program.native_programs({"input": x}) for n in p.op_names]
    assert kind == "single" and py == []  # float bias Adds and the float32 mean (numpy's order) native too
    assert any(n.startswith("QSoftmax") for n in names) and sum(n.startswith("QMatMul(") for n in names) == 2
    assert sum(n.startswith("Add(") for n in names) == 2


def test_pool_modes_cover_every_ort_float_order():
    """passes/kernels.py picks _lowp.PoolMode.ort_float_<order> for each order ort_float_pool_order returns."""
    from lowp import _lowp
    from lowp.ops.eltwise import ort_float_pool_order

    orders = {ort_float_pool_order(c, [h, w], [h, w], [1, 1], [0, 0], [0, 0])
              for c in (1, 3, 8, 16, 24, 64) for h, w in ((1, 1), (7, 7), (2, 9), (14, 14))}
    assert orders <= {"rows", "columns", "lanes4"} and orders
    modes = {getattr(_lowp.PoolMode, "ort_float_" + o) for o in ("rows", "columns", "lanes4")}
    assert len(modes) == 3 and _lowp.PoolMode.max not in modes


@pytest.mark.parametrize("shape,axis,keep", [((1, 64, 16), 1, 0), ((3, 300, 200), 1, 1), ((2, 5, 7, 3), 1, 0),
                                             ((2, 5, 7, 3), 2, 1), ((4, 1, 9), 1, 0), ((3, 40), 0, 0),
                                             ((2, 33, 1), 1, 0), ((2, 5, 6), -1, 0)])
def test_float_glue_reduce_mean_and_binary(shape, axis, keep):
    """Float32 glue run natively where numpy's order is a plain one: ReduceMean over an axis with data after it
    (numpy sums it in order), Add / Mul / Sub / Div with broadcasting; a reduction over the innermost data (numpy's
    pairwise sum) stays a numpy step. Every output bit is numpy's, -0.0, infinities and denormals included."""
    import onnx
    from onnx import TensorProto as T
    from onnx import helper

    c = np.random.default_rng(1).standard_normal(shape[-1]).astype(np.float32)
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[axis], keepdims=keep),
             helper.make_node("Add", ["x", "c"], ["s"]), helper.make_node("Mul", ["s", "c"], ["p"]),
             helper.make_node("Sub", ["p", "x"], ["d"]), helper.make_node("Div", ["d", "c"], ["q"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", T.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("m", T.FLOAT, None),
                           helper.make_tensor_value_info("q", T.FLOAT, None)],
                          [onnx.numpy_helper.from_array(c, "c")])
    data = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString()
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 3, shape)).astype(np.float32)
    x.reshape(-1)[:4] = [-0.0, np.inf, 1e-40, -3e-39]
    s = lowp.InferenceSession(data)
    m, q = s.run(None, {"x": x})
    want_m = np.mean(x, axis=axis, keepdims=bool(keep))
    with np.errstate(all="ignore"):
        want_q = ((x + c) * c - x) / c
    assert m.tobytes() == want_m.tobytes() and m.shape == want_m.shape
    assert q.tobytes() == want_q.tobytes()
    names = [n for p in s._program.native_programs({"x": x}) for n in p.op_names]
    inner = int(np.prod(shape[axis % len(shape) + 1:]))
    assert any(n.startswith("ReduceMean(") for n in names) == (inner > 1)
    assert sum(n.split("(")[0] in ("Add", "Mul", "Sub", "Div") for n in names) == 4
