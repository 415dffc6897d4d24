"""Bad input to the GEMM core raises a clear TypeError/ValueError naming the problem, never crashes."""
import numpy as np
import pytest

import lowp
from lowp import _lowp

A = np.zeros((3, 4), np.uint8)
B = np.zeros((4, 5), np.int8)


def mm(**kw):
    return lambda: lowp.matmul_integer(kw.pop("a", A), kw.pop("b", B), kw.pop("za", None), kw.pop("zb", None), **kw)


def ql(**kw):
    args = [kw.pop(k, d) for k, d in (("a", A), ("sa", 0.1), ("za", 0), ("b", B), ("sb", 0.1), ("zb", 0),
                                      ("sy", 0.1), ("zy", 0))]
    return lambda: lowp.qlinear_matmul(*args, **kw)


def rq(acc=None, m=2**30, s=0, zp=0, *args, **kw):
    acc = np.zeros(3, np.int32) if acc is None else acc
    return lambda: lowp.requantize(acc, m, s, zp, *args, **kw)


CASES = [
    # dtypes of a / b
    ("a float32", mm(a=A.astype(np.float32)), TypeError, r"a must be uint8 or int8, got float32"),
    ("a float64", mm(a=A.astype(np.float64)), TypeError, r"a must be uint8 or int8"),
    ("a int16", mm(a=A.astype(np.int16)), TypeError, r"a must be uint8 or int8, got int16"),
    ("a int32", mm(a=A.astype(np.int32)), TypeError, r"a must be uint8 or int8, got int32"),
    ("a bool", mm(a=A.astype(bool)), TypeError, r"a must be uint8 or int8"),
    ("a list", mm(a=[[1, 2, 3, 4]]), TypeError, r"a must be a numpy array"),
    ("b int16", mm(b=B.astype(np.int16)), TypeError, r"b must be uint8 or int8, got int16"),
    ("b int32", mm(b=B.astype(np.int32)), TypeError, r"b must be uint8 or int8, got int32"),
    ("b float32", mm(b=B.astype(np.float32)), TypeError, r"b must be uint8 or int8"),
    ("ql a int32", ql(a=A.astype(np.int32)), TypeError, r"a must be uint8 or int8"),
    ("ql b float", ql(b=B.astype(np.float32)), TypeError, r"b must be uint8 or int8"),
    # shapes
    ("a 0-d", mm(a=np.uint8(3)), TypeError, r"a must be a numpy array"),
    ("a 0-d array", mm(a=np.array(3, np.uint8)), ValueError, r"at least 1 dimension"),
    ("K mismatch", mm(b=np.zeros((5, 5), np.int8)), ValueError, r"not aligned: a has K=4, b has K=5"),
    ("K mismatch 1-D a", mm(a=np.zeros(3, np.uint8)), ValueError, r"not aligned"),
    ("K mismatch 1-D b", mm(b=np.zeros(5, np.int8)), ValueError, r"not aligned"),
    ("ql K mismatch", ql(b=np.zeros((6, 5), np.int8)), ValueError, r"not aligned"),
    ("batch mismatch", mm(a=np.zeros((2, 3, 4), np.uint8), b=np.zeros((3, 4, 5), np.int8)), ValueError,
     r"do not broadcast"),
    ("packed K mismatch", mm(a=np.zeros((3, 5), np.uint8), b=lowp.PackedMatrix(B)), ValueError, r"not aligned"),
    # zero points
    ("za > 255", mm(za=256), ValueError, r"a_zero_point out of range \[0, 255\]"),
    ("za < 0 for uint8", mm(za=-1), ValueError, r"a_zero_point out of range"),
    ("zb > 127", mm(zb=128), ValueError, r"b_zero_point out of range \[-128, 127\]"),
    ("zb < -128", mm(zb=np.int32(-129)), ValueError, r"b_zero_point out of range"),
    ("zb per-column out of range", mm(zb=np.array([0, 0, 200, 0, 0], np.int32)), ValueError, r"out of range"),
    ("za int8 for uint8 a", mm(za=np.int8(1)), TypeError, r"a_zero_point has dtype int8 but its tensor is uint8"),
    ("zb uint8 for int8 b", mm(zb=np.uint8(1)), TypeError, r"b_zero_point has dtype uint8"),
    ("za float", mm(za=1.0), TypeError, r"a_zero_point must be an integer"),
    ("za float32", mm(za=np.float32(1)), TypeError, r"a_zero_point must be an integer"),
    ("za bool", mm(za=True), TypeError, r"a_zero_point must be an integer"),
    ("za str", mm(za="1"), TypeError, r"a_zero_point must be an integer"),
    ("za per-row", mm(za=np.array([1, 2, 3], np.uint8)), ValueError, r"a_zero_point must be a scalar"),
    ("zb wrong length", mm(zb=np.array([1, 2, 3], np.int8)), ValueError, r"b_zero_point must be a scalar or 5"),
    ("zb 2-D", mm(zb=np.zeros((1, 5), np.int8)), ValueError, r"b_zero_point must be a scalar or 5"),
    ("zb empty", mm(zb=np.zeros(0, np.int8)), ValueError, r"b_zero_point is empty"),
    ("zb with PackedMatrix", mm(b=lowp.PackedMatrix(B), zb=0), ValueError, r"part of the PackedMatrix"),
    ("ql zb with PackedMatrix", ql(b=lowp.PackedMatrix(B), zb=0), ValueError, r"part of the PackedMatrix"),
    ("zy out of range", ql(zy=300), ValueError, r"y_zero_point out of range"),
    ("zy int8 out of range", ql(zy=np.int16(200), y_dtype=np.int8), ValueError, r"y_zero_point out of range"),
    ("zy vector", ql(zy=np.zeros(5, np.uint8)), ValueError, r"y_zero_point must be a scalar"),
    ("zy dtype vs y_dtype", ql(zy=np.int8(0), y_dtype=np.uint8), TypeError, r"y_zero_point has dtype int8"),
    ("y_dtype int32", ql(y_dtype=np.int32), TypeError, r"y_dtype must be uint8 or int8"),
    # rounding
    ("bad rounding", ql(rounding="nearest"), ValueError, r"unknown rounding 'nearest'"),
    ("rounding None", ql(rounding=None), ValueError, r"unknown rounding"),
    ("rounding case", ql(rounding="HALF_EVEN"), ValueError, r"unknown rounding"),
    # scales
    ("a_scale 0", ql(sa=0.0), ValueError, r"a_scale must be finite and > 0"),
    ("b_scale negative", ql(sb=-0.1), ValueError, r"b_scale must be finite and > 0"),
    ("y_scale NaN", ql(sy=float("nan")), ValueError, r"y_scale must be finite and > 0"),
    ("a_scale inf", ql(sa=float("inf")), ValueError, r"a_scale must be finite"),
    ("b_scale per-column with a 0", ql(sb=np.array([.1, .1, 0, .1, .1], np.float32)), ValueError, r"b_scale"),
    ("b_scale per-column NaN", ql(sb=np.array([.1, np.nan, .1, .1, .1], np.float32)), ValueError, r"b_scale"),
    ("b_scale wrong length", ql(sb=np.ones(3, np.float32)), ValueError, r"b_scale must be a scalar or 5"),
    ("a_scale vector", ql(sa=np.ones(3, np.float32)), ValueError, r"a_scale must be a scalar"),
    ("b_scale string", ql(sb="0.1"), TypeError, r"b_scale must be a float"),
    ("b_scale int array", ql(sb=np.ones(5, np.int32)), TypeError, r"b_scale must be a float"),
    ("multiplier out of range", ql(sa=1e30, sb=1e30, sy=1e-30, rounding="gemmlowp"), ValueError,
     r"out of the supported range"),
    ("half_even scale overflows", ql(sa=1e30, sb=1e30, sy=1e-30), ValueError, r"overflows float32"),
    # bias
    ("bias int64", ql(bias=np.zeros(5, np.int64)), TypeError, r"bias must be int32, got int64"),
    ("bias float", ql(bias=np.zeros(5, np.float32)), TypeError, r"bias must be int32, got float32"),
    ("bias int8", ql(bias=np.zeros(5, np.int8)), TypeError, r"bias must be int32"),
    ("bias wrong length", ql(bias=np.zeros(4, np.int32)), ValueError, r"bias must have shape \(5,\)"),
    ("bias 2-D", ql(bias=np.zeros((1, 5), np.int32)), ValueError, r"bias must have shape \(5,\)"),
    ("bias scalar", ql(bias=np.int32(3)), ValueError, r"bias must have shape"),
    # activation range
    ("act min > max", ql(activation_min=10, activation_max=5), ValueError, r"activation range \[10, 5\]"),
    ("act below type", ql(activation_min=-1), ValueError, r"must lie inside \[0, 255\]"),
    ("act above type", ql(activation_max=128, zy=np.int8(0)), ValueError, r"must lie inside \[-128, 127\]"),
    ("act float", ql(activation_min=1.5), TypeError, r"activation_min.* must be an integer"),
    ("act str", ql(activation_max="6"), TypeError, r"activation_max.* must be an integer"),
    # threads
    ("num_threads 0", mm(num_threads=0), ValueError, r"num_threads must be an integer"),
    ("num_threads -1", mm(num_threads=-1), ValueError, r"num_threads"),
    ("num_threads float", mm(num_threads=2.0), ValueError, r"num_threads"),
    ("num_threads bool", mm(num_threads=True), ValueError, r"num_threads"),
    ("num_threads huge", mm(num_threads=2**40), ValueError, r"num_threads"),
    ("ql num_threads 0", ql(num_threads=0), ValueError, r"num_threads"),
    ("set_num_threads 0", lambda: lowp.set_num_threads(0), ValueError, r"number of threads"),
    ("set_num_threads huge", lambda: lowp.set_num_threads(10**9), ValueError, r"number of threads"),
    # PackedMatrix
    ("PackedMatrix 1-D", lambda: lowp.PackedMatrix(np.zeros(4, np.int8)), ValueError, r"2-D matrix"),
    ("PackedMatrix 3-D", lambda: lowp.PackedMatrix(np.zeros((2, 4, 4), np.int8)), ValueError, r"2-D matrix"),
    ("PackedMatrix float", lambda: lowp.PackedMatrix(np.zeros((4, 4), np.float32)), TypeError, r"uint8 or int8"),
    ("PackedMatrix int32", lambda: lowp.PackedMatrix(np.zeros((4, 4), np.int32)), TypeError, r"uint8 or int8"),
    ("PackedMatrix K=0", lambda: lowp.PackedMatrix(np.zeros((0, 4), np.int8)), ValueError, r"K >= 1"),
    ("PackedMatrix N=0", lambda: lowp.PackedMatrix(np.zeros((4, 0), np.int8)), ValueError, r"N >= 1"),
    ("PackedMatrix zb range", lambda: lowp.PackedMatrix(B, 200), ValueError, r"out of range"),
    ("PackedMatrix zb length", lambda: lowp.PackedMatrix(B, np.zeros(4, np.int8)), ValueError, r"scalar or 5"),
    ("packed() unknown kernel", lambda: lowp.PackedMatrix(B).packed("nope"), ValueError, r"unknown kernel 'nope'"),
    # kernels
    ("use_kernel unknown", lambda: lowp.use_kernel("nope").__enter__(), ValueError, r"unknown kernel 'nope'"),
    ("use_kernel None", lambda: lowp.use_kernel(None).__enter__(), ValueError, r"unknown kernel"),
    # requantize
    ("requantize acc float", rq(acc=np.zeros(3, np.float32)), TypeError, r"acc must be int32, got float32"),
    ("requantize acc int64", rq(acc=np.zeros(3, np.int64)), TypeError, r"acc must be int32, got int64"),
    ("requantize multiplier < 0", rq(m=np.int32(-1)), ValueError, r"multiplier must be in \[0, 2\^31\)"),
    ("requantize multiplier 2^31", rq(m=2**31), ValueError, r"multiplier must be in"),
    ("requantize multiplier float", rq(m=0.5), TypeError, r"multiplier and shift must be integers"),
    ("requantize shift 31", rq(s=31), ValueError, r"shift must be in \[-31, 30\]"),
    ("requantize shift -32", rq(s=-32), ValueError, r"shift must be in \[-31, 30\]"),
    ("requantize per-channel length", rq(np.zeros((2, 3), np.int32), np.full(4, 2**30), np.zeros(4, int)), ValueError,
     r"per-channel parameters must match the last axis"),
    ("requantize multiplier/shift lengths", rq(np.zeros((2, 3), np.int32), np.full(3, 2**30), np.zeros(2, int)),
     ValueError, r"same length"),
    ("requantize half_even with shift", rq(m=0.5, s=3, rounding="half_even"), ValueError, r"no shift"),
    ("requantize half_even NaN", rq(m=float("nan"), s=None, rounding="half_even"), ValueError, r"finite"),
    ("requantize half_even negative", rq(m=-0.5, s=None, rounding="half_even"), ValueError, r">= 0"),
    ("requantize bad rounding", rq(rounding="x"), ValueError, r"unknown rounding 'x'"),
    ("requantize dtype int16", rq(dtype=np.int16), TypeError, r"dtype must be uint8 or int8"),
    ("requantize zp out of range", rq(zp=200, dtype=np.int8), ValueError, r"zero_point out of range"),
    ("requantize qmin > qmax", rq(np.zeros(3, np.int32), 2**30, 0, 0, 5, 3, dtype=np.int8), ValueError,
     r"activation range"),
    ("requantize qmin float", rq(np.zeros(3, np.int32), 2**30, 0, 0, 0.5, dtype=np.int8), TypeError, r"integer"),
    ("quantize_multiplier NaN", lambda: lowp.quantize_multiplier(float("nan")), ValueError, r"finite and >= 0"),
    ("quantize_multiplier inf", lambda: lowp.quantize_multiplier(float("inf")), ValueError, r"finite"),
    ("quantize_multiplier < 0", lambda: lowp.quantize_multiplier(-0.5), ValueError, r">= 0"),
    ("quantize_multiplier str", lambda: lowp.quantize_multiplier("0.5"), TypeError, r"must be a float"),
    ("quantize_multiplier None", lambda: lowp.quantize_multiplier(None), TypeError, r"must be a float"),
]


@pytest.mark.parametrize("name,fn,exc,msg", CASES, ids=[c[0] for c in CASES])
def test_bad_input_raises(name, fn, exc, msg):
    with pytest.raises(exc, match=msg) as ei:
        fn()
    assert "lowp" in str(ei.value)  # our message, not an accident deeper down


def test_use_kernel_compiled_but_unsupported(monkeypatch):
    """A kernel that is compiled in but that this CPU cannot run is refused with a clear message."""
    import lowp._dispatch as d

    compiled = lowp.compiled_kernels()
    monkeypatch.setattr(d._lowp, "kernels", lambda: ["ref"])
    if compiled == ["ref"]:
        monkeypatch.setattr(d._lowp, "compiled_kernels", lambda: ["fake_simd", "ref"])
        compiled = ["fake_simd", "ref"]
    with pytest.raises(ValueError, match=rf"kernel '{compiled[0]}' is not supported by this CPU"):
        with lowp.use_kernel(compiled[0]):
            pass


def test_use_kernel_restores_after_error():
    before = lowp.current_kernel()
    with pytest.raises(RuntimeError):
        with lowp.use_kernel("ref"):
            assert lowp.current_kernel() == "ref"
            raise RuntimeError("boom")
    assert lowp.current_kernel() == before


def test_errors_leave_inputs_and_state_intact():
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    snap = a.copy()
    with pytest.raises(ValueError):
        lowp.matmul_integer(a, np.zeros((5, 2), np.int8))
    assert np.array_equal(a, snap)
    # the library still works after an error
    y = lowp.matmul_integer(a, np.ones((4, 2), np.int8))
    assert y.tolist() == [[6, 6], [22, 22], [38, 38]]


# The native layer checks shapes itself before touching memory (bypassing Python validation).
_P = _lowp.PackedB(B, np.zeros(1, np.int32), "ref")
NATIVE = [
    ("K mismatch", lambda: _lowp.gemm(np.zeros((3, 7), np.uint8), 0, _P), ValueError, r"7 columns but B has K=4"),
    ("a 3-D", lambda: _lowp.gemm(np.zeros((3, 4, 1), np.uint8), 0, _P), ValueError, r"2-D"),
    ("a int32", lambda: _lowp.gemm(np.zeros((3, 4), np.int32), 0, _P), TypeError, r"uint8 or int8"),
    ("a strided columns", lambda: _lowp.gemm(np.zeros((3, 8), np.uint8)[:, ::2], 0, _P), ValueError, r"contiguous"),
    ("out shape", lambda: _lowp.gemm(np.zeros((3, 4), np.uint8), 0, _P, out=np.zeros((2, 5), np.int32)), ValueError,
     r"wrong shape"),
    ("out read-only", lambda: _lowp.gemm(np.zeros((3, 4), np.uint8), 0, _P,
                                         out=np.broadcast_to(np.zeros(5, np.int32), (3, 5))), ValueError, r"read-only"),
    ("bias length", lambda: _lowp.gemm(np.zeros((3, 4), np.uint8), 0, _P, "int8", "half_even", bias=np.zeros(2, np.int32),
                                       scale=np.ones(1, np.float32), qmin=-128, qmax=127), ValueError, r"bias"),
    ("scale length", lambda: _lowp.gemm(np.zeros((3, 4), np.uint8), 0, _P, "int8", "half_even",
                                        scale=np.ones(3, np.float32), qmin=-128, qmax=127), ValueError, r"scale"),
    ("missing multiplier", lambda: _lowp.gemm(np.zeros((3, 4), np.uint8), 0, _P, "int8", "gemmlowp", qmin=-128,
                                              qmax=127), ValueError, r"multiplier"),
    ("shift range", lambda: _lowp.gemm(np.zeros((3, 4), np.uint8), 0, _P, "int8", "gemmlowp",
                                       multiplier=np.ones(1, np.int32), shift=np.full(1, 40, np.int32), qmin=-128,
                                       qmax=127), ValueError, r"shift"),
    ("za range", lambda: _lowp.gemm(np.zeros((3, 4), np.uint8), 999, _P), ValueError, r"zero point out of range"),
    ("zb length", lambda: _lowp.PackedB(B, np.zeros(3, np.int32), "ref"), ValueError, r"1 or N entries"),
    ("zb range", lambda: _lowp.PackedB(B, np.full(1, 999, np.int32), "ref"), ValueError, r"out of range"),
    ("b strided columns", lambda: _lowp.PackedB(B[:, ::2], np.zeros(1, np.int32), "ref"), ValueError, r"contiguous"),
    ("bad out dtype", lambda: _lowp.gemm(np.zeros((3, 4), np.uint8), 0, _P, "float32"), ValueError, r"dtype"),
]


@pytest.mark.parametrize("name,fn,exc,msg", NATIVE, ids=[c[0] for c in NATIVE])
def test_native_layer_checks(name, fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn()
