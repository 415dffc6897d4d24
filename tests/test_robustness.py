"""Bad input never crashes lowp: every public entry point either returns the right answer or raises
TypeError/ValueError with a message -- never a segfault, a hang or garbage.

The risky calls run in one child process (with an address-space limit and a per-case alarm) so a
segfault or an out-of-memory fails the one case instead of killing pytest; after a crash the
remaining cases run in a fresh child. Cases that return compare with a numpy int64 reference.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lowp

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DEMO_MODEL = os.path.join(os.path.dirname(lowp.__file__), "demo", "mnist_cnn_int8.onnx")

# Helpers visible to every case (the child execs PRELUDE once).
PRELUDE = r'''
import numpy as np, lowp
from numpy.lib.stride_tricks import as_strided
rng = np.random.default_rng(0)
def u8(*s): return rng.integers(0, 256, s).astype(np.uint8)
def s8(*s): return rng.integers(-128, 128, s).astype(np.int8)
def huge(*s, dt=np.uint8):
    """A view of shape s (dims may exceed 2**31) without allocating: every stride 0."""
    return as_strided(np.zeros(1, dt), shape=s, strides=(0,) * len(s))
def ref_mm(a, b, za=0, zb=0):
    return ((a.astype(np.int64) - za) @ (b.astype(np.int64) - zb)).astype(np.int32)
def ref_conv(x, w, zx=0, zw=0, stride=1, pad=0, group=1):
    x = np.pad(x.astype(np.int64) - zx, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    w = w.astype(np.int64) - zw
    n, c, h, ww_ = x.shape; m, cg, kh, kw = w.shape
    oh, ow = (h - kh) // stride + 1, (ww_ - kw) // stride + 1
    y = np.zeros((n, m, oh, ow), np.int64); mg = m // group
    for o in range(m):
        g = o // mg
        for i in range(oh):
            for j in range(ow):
                patch = x[:, g * cg:(g + 1) * cg, i * stride:i * stride + kh, j * stride:j * stride + kw]
                y[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3))
    return y.astype(np.int32)
A = u8(3, 4); B = s8(4, 5)
X = u8(1, 4, 6, 6); W = s8(8, 4, 3, 3)
def conv(**kw):
    args = dict(x=X, w=W); args.update(kw)
    x, w = args.pop("x"), args.pop("w")
    return lowp.conv_integer(x, w, **args)
def qconv(**kw):
    a = dict(x=X, sx=0.05, zx=128, w=W, sw=0.02, zw=0, sy=0.1, zy=128); a.update(kw)
    return lowp.qlinear_conv(a.pop("x"), a.pop("sx"), a.pop("zx"), a.pop("w"), a.pop("sw"), a.pop("zw"),
                             a.pop("sy"), a.pop("zy"), **a)
'''

PRELUDE += r'''
def set_attr(m, op, name, value):
    import onnx
    n = [n for n in m.graph.node if n.op_type == op][0]
    for a in list(n.attribute):
        if a.name == name:
            n.attribute.remove(a)
    n.attribute.append(onnx.helper.make_attribute(name, value))
def node(*a, **k):
    import onnx
    return onnx.helper.make_node(*a, **k)
def tiny_model(nodes, out="y"):
    """A float model with input x (2,) built from nodes; constructs a session and runs it."""
    from onnx import helper, TensorProto as T
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", T.FLOAT, [2])],
                          [helper.make_tensor_value_info(out, T.FLOAT, [2])])
    s = lowp.InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]).SerializeToString())
    return s.run(None, {"x": np.ones(2, np.float32)})
def run_mutated(fn):
    """Load the demo model, let fn edit it, build a session and run it on zeros."""
    import onnx
    m = onnx.load(DEMO); fn(m)
    s = lowp.InferenceSession(m.SerializeToString()); i = s.get_inputs()[0]
    return s.run(None, {i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], i.dtype)})
'''

CHILD = r'''
import json, resource, signal, sys, time, traceback
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # a runaway allocation fails, not the machine
cases = json.loads(sys.stdin.read())
ns = {}
exec(compile(sys.argv[1], "prelude", "exec"), ns)
def _alarm(*_): raise TimeoutError("case took more than 30 s (hang?)")
signal.signal(signal.SIGALRM, _alarm)
for name, code in cases:
    print("START " + name, flush=True)
    signal.alarm(30)
    t0 = time.perf_counter()
    try:
        exec(compile(code, name, "exec"), dict(ns))
        res = ["ok", ""]
    except (TypeError, ValueError) as e:
        res = ["raise", type(e).__name__ + ": " + str(e)]
    except BaseException as e:  # AssertionError (wrong answer), MemoryError, TimeoutError, ...
        res = ["other", type(e).__name__ + ": " + str(e) + "\n" + traceback.format_exc(limit=3)]
    signal.alarm(0)
    print("END " + json.dumps([name] + res + [time.perf_counter() - t0]), flush=True)
'''

# (id, code, expect): expect "ok" = must return (the code asserts the answer), "raise" = must raise
# TypeError/ValueError, "either" = a correct answer or a TypeError/ValueError; "raise_or_memory"
# also accepts MemoryError (the true output is gigantic), "raise_or_notimpl" NotImplementedError
# naming the unsupported operator, "raise_or_oserror" FileNotFoundError.
CASES = [
    # ---------------------------------------------------------------- GEMM
    ("mm a float64", "lowp.matmul_integer(A.astype(np.float64), B)", "raise"),
    ("mm a object", "lowp.matmul_integer(A.astype(object), B)", "raise"),
    ("mm b bool", "lowp.matmul_integer(A, B.astype(bool))", "raise"),
    ("mm b int16", "lowp.matmul_integer(A, B.astype(np.int16))", "raise"),
    ("mm negative strides", "a = u8(5, 7)[::-1, ::-1]; b = s8(7, 3)[::-1]\n"
     "assert (lowp.matmul_integer(a, b, 3, 1) == ref_mm(a, b, 3, 1)).all()", "ok"),
    ("mm non-contiguous", "a = u8(6, 14)[::2, ::2]; b = s8(14, 8)[::2, 1::2]\n"
     "assert (lowp.matmul_integer(a, b) == ref_mm(a, b)).all()", "ok"),
    ("mm fortran order", "a = np.asfortranarray(u8(9, 33)); b = np.asfortranarray(s8(33, 17))\n"
     "assert (lowp.matmul_integer(a, b, 7, -2) == ref_mm(a, b, 7, -2)).all()", "ok"),
    ("mm stride-0 rows", "a = huge(5, 4); b = s8(4, 3)\n"
     "assert (lowp.matmul_integer(a, b) == ref_mm(a, b)).all()", "ok"),
    ("mm zero M", "y = lowp.matmul_integer(u8(0, 4), B); assert y.shape == (0, 5) and y.dtype == np.int32", "ok"),
    ("mm zero K", "y = lowp.matmul_integer(u8(3, 0), s8(0, 5)); assert (y == 0).all() and y.shape == (3, 5)", "ok"),
    ("mm zero N", "y = lowp.matmul_integer(A, s8(4, 0)); assert y.shape == (3, 0)", "ok"),
    ("mm huge M", "lowp.matmul_integer(huge(2**31, 1), s8(1, 2))", "raise"),
    ("mm huge K", "lowp.matmul_integer(huge(1, 2**31), huge(2**31, 1, dt=np.int8))", "raise"),
    ("mm huge N", "lowp.matmul_integer(u8(2, 1), huge(1, 2**31, dt=np.int8))", "raise"),
    ("mm huge M wraps int32", "lowp.matmul_integer(huge(2**32 + 1, 1), s8(1, 2))", "raise"),
    ("mm huge M packed", "lowp.matmul_integer(huge(2**32 + 1, 3), lowp.PackedMatrix(s8(3, 2)))", "raise"),
    ("ql huge M packed", "lowp.qlinear_matmul(huge(2**32 + 1, 3), 0.1, 0, lowp.PackedMatrix(s8(3, 2)), 0.1, None, "
     "0.1, 0)", "raise"),
    ("mm huge batch", "lowp.matmul_integer(huge(2**31, 2, 2), s8(2, 2))", "raise"),
    ("mm num_threads 0", "lowp.matmul_integer(A, B, num_threads=0)", "raise"),
    ("mm num_threads huge", "lowp.matmul_integer(A, B, num_threads=2**40)", "raise"),
    ("mm num_threads float", "lowp.matmul_integer(A, B, num_threads=2.5)", "raise"),
    ("set_num_threads negative", "lowp.set_num_threads(-3)", "raise"),
    ("use_kernel bogus", "lowp.use_kernel('bogus').__enter__()", "raise"),
    ("use_depthwise_kernel bogus", "lowp.use_depthwise_kernel('bogus').__enter__()", "raise"),
    ("mm vector dot", "a = u8(7); b = s8(7)\n"
     "assert lowp.matmul_integer(a, b, 2, 3) == ((a.astype(np.int64) - 2) @ (b.astype(np.int64) - 3))", "ok"),
    ("mm s8 x u8 per-column zb", "a = s8(5, 6); b = u8(6, 4)[:, ::-1]; zb = np.array([0, 255, 7, 128], np.uint8)\n"
     "assert (lowp.matmul_integer(a, b, -3, zb) == ref_mm(a, b, -3, zb.astype(np.int64))).all()", "ok"),
    ("mm every kernel on a strided view", "a = u8(37, 70)[::2, 3:]; b = s8(70, 45)[3:, ::2]\n"
     "for k in lowp.kernels():\n    with lowp.use_kernel(k):\n"
     "        assert (lowp.matmul_integer(a, b, 9, -4) == ref_mm(a, b, 9, -4)).all(), k", "ok"),
    ("mm rank 5 broadcast", "a = u8(2, 1, 3, 2, 4); b = s8(3, 4, 5)\n"
     "assert (lowp.matmul_integer(a, b) == ref_mm(a, b)).all()", "ok"),
    ("ql scale nan", "lowp.qlinear_matmul(A, float('nan'), 0, B, 0.1, 0, 0.1, 0)", "raise"),
    ("ql scale inf", "lowp.qlinear_matmul(A, 0.1, 0, B, float('inf'), 0, 0.1, 0)", "raise"),
    ("ql scale negative", "lowp.qlinear_matmul(A, 0.1, 0, B, 0.1, 0, -0.1, 0)", "raise"),
    ("ql scale zero", "lowp.qlinear_matmul(A, 0.1, 0, B, 0.1, 0, 0.0, 0)", "raise"),
    ("ql scale tiny ratio", "y = lowp.qlinear_matmul(A, 1e-30, 0, B, 1e-30, 0, 1e30, 7, rounding='gemmlowp')\n"
     "assert (y == 7).all()", "either"),
    ("ql scale huge ratio", "lowp.qlinear_matmul(A, 1e30, 0, B, 1e30, 0, 1e-30, 0)", "raise"),
    ("ql zy out of range", "lowp.qlinear_matmul(A, 0.1, 0, B, 0.1, 0, 0.1, 300)", "raise"),
    ("ql per-column scale wrong len", "lowp.qlinear_matmul(A, 0.1, 0, B, np.full(4, 0.1), 0, 0.1, 0)", "raise"),
    ("ql bias wrong len", "lowp.qlinear_matmul(A, 0.1, 0, B, 0.1, 0, 0.1, 0, bias=np.zeros(4, np.int32))", "raise"),
    ("ql huge M", "lowp.qlinear_matmul(huge(2**31, 1), 0.1, 0, s8(1, 2), 0.1, 0, 0.1, 0)", "raise"),
    ("requantize float acc", "lowp.requantize(np.zeros(3), 2**30, 0, 0)", "raise"),
    ("requantize shift out of range", "lowp.requantize(np.zeros(3, np.int32), 2**30, 99, 0)", "raise"),
    ("requantize multiplier negative", "lowp.requantize(np.zeros(3, np.int32), -5, 0, 0)", "raise"),
    ("requantize non-contiguous", "acc = np.arange(-40, 40, dtype=np.int32).reshape(8, 10)[::2, ::-3]\n"
     "y = lowp.requantize(acc, 2**30, 0, 3)\n"
     "assert (y == lowp.requantize(np.ascontiguousarray(acc), 2**30, 0, 3)).all()", "ok"),
    ("requantize huge", "lowp.requantize(huge(2**31, 1, dt=np.int32), 2**30, 0, 0)", "raise"),
    ("quantize_multiplier nan", "lowp.quantize_multiplier(float('nan'))", "raise"),
    ("quantize_multiplier negative", "lowp.quantize_multiplier(-1.0)", "raise"),
    ("quantize_multiplier inf", "lowp.quantize_multiplier(float('inf'))", "raise"),
    ("PackedMatrix 3-D", "lowp.PackedMatrix(s8(2, 3, 4))", "raise"),
    ("PackedMatrix zero K", "lowp.PackedMatrix(s8(0, 4))", "raise"),
    ("PackedMatrix float", "lowp.PackedMatrix(np.zeros((3, 4)))", "raise"),
    ("PackedMatrix huge", "lowp.PackedMatrix(huge(2**31, 1, dt=np.int8))", "raise"),
    ("PackedMatrix negative strides", "b = s8(9, 17)[::-1, ::-1]; a = u8(4, 9)\n"
     "assert (lowp.matmul_integer(a, lowp.PackedMatrix(b, 5)) == ref_mm(a, b, 0, 5)).all()", "ok"),
    # ---------------------------------------------------------------- conv
    ("conv reference", "assert (conv(x_zero_point=128, w_zero_point=0, pads=[1, 1, 1, 1]) == "
     "ref_conv(X, W, 128, 0, pad=1)).all()", "ok"),
    ("conv x float64", "conv(x=X.astype(np.float64))", "raise"),
    ("conv x int32", "conv(x=X.astype(np.int32))", "raise"),
    ("conv w int16", "conv(w=W.astype(np.int16))", "raise"),
    ("conv x object", "conv(x=X.astype(object))", "raise"),
    ("conv x rank 3 for 2-D kernel", "conv(x=X[0])", "raise"),
    ("conv x rank 5", "conv(x=X[None])", "raise"),
    ("conv w rank 2", "conv(w=W[:, :, 0, 0])", "raise"),
    ("conv channel mismatch", "conv(w=s8(8, 3, 3, 3))", "raise"),
    ("conv strides 0", "conv(strides=[0, 1])", "raise"),
    ("conv strides negative", "conv(strides=[-1, 1])", "raise"),
    ("conv dilation 0", "conv(dilations=[0, 1])", "raise"),
    ("conv negative pads", "conv(pads=[-1, 0, 0, 0])", "either"),
    ("conv pads wrong length", "conv(pads=[1, 1])", "raise"),
    ("conv kernel larger than input", "conv(w=s8(8, 4, 9, 9))", "raise"),
    ("conv kernel larger than padded input", "conv(w=s8(8, 4, 9, 9), pads=[1, 1, 1, 1])", "raise"),
    ("conv dilated kernel too large", "conv(dilations=[4, 4])", "raise"),
    ("conv group not dividing C", "conv(w=s8(8, 1, 3, 3), group=3)", "raise"),
    ("conv group not dividing M", "conv(w=s8(6, 1, 3, 3), group=4)", "raise"),
    ("conv group 0", "conv(group=0)", "raise"),
    ("conv group negative", "conv(group=-2)", "raise"),
    ("conv depthwise reference", "w = s8(4, 1, 3, 3)\n"
     "assert (conv(w=w, group=4, x_zero_point=3, w_zero_point=-1) == ref_conv(X, w, 3, -1, group=4)).all()", "ok"),
    ("conv depthwise non-contiguous", "x = u8(1, 4, 13, 13)[:, :, ::2, ::-2]; w = s8(4, 1, 3, 3)[:, :, ::-1]\n"
     "assert (conv(x=x, w=w, group=4, x_zero_point=9) == ref_conv(x, w, 9, group=4)).all()", "ok"),
    ("conv stride 2 negative strides input", "x = u8(2, 4, 9, 9)[::-1, :, ::-1]\n"
     "assert (conv(x=x, strides=[2, 2], x_zero_point=1) == ref_conv(x, W, 1, stride=2)).all()", "ok"),
    ("conv zero batch", "y = conv(x=u8(0, 4, 6, 6)); assert y.shape == (0, 8, 4, 4)", "either"),
    ("conv zero channels", "conv(x=u8(1, 0, 6, 6), w=s8(8, 0, 3, 3))", "either"),
    ("conv zero spatial", "conv(x=u8(1, 4, 0, 6))", "raise"),
    ("conv zero out channels", "y = conv(w=s8(0, 4, 3, 3)); assert y.shape == (1, 0, 4, 4)", "either"),
    ("conv huge H", "conv(x=huge(1, 4, 2**31, 3), w=s8(8, 4, 1, 1))", "raise"),
    ("conv huge C", "conv(x=huge(1, 2**31, 1, 1), w=huge(1, 2**31, 1, 1, dt=np.int8))", "raise"),
    ("conv huge pads", "conv(pads=[2**31, 0, 0, 0])", "raise"),
    ("conv huge stride", "y = conv(strides=[2**40, 1]); assert y.shape == (1, 8, 1, 4)", "either"),
    ("conv zw out of range", "conv(w_zero_point=200)", "raise"),
    ("conv zx out of range", "conv(x_zero_point=-1)", "raise"),
    ("conv per-channel zw wrong len", "conv(w_zero_point=np.zeros(3, np.int8))", "raise"),
    ("conv auto_pad bogus", "conv(auto_pad='SOMETIMES')", "raise"),
    ("qconv scale nan", "qconv(sx=float('nan'))", "raise"),
    ("qconv w_scale negative per-channel", "qconv(sw=np.full(8, -0.1, np.float32))", "raise"),
    ("qconv y_scale zero", "qconv(sy=0.0)", "raise"),
    ("qconv zy out of range", "qconv(zy=256)", "raise"),
    ("qconv bias float", "qconv(bias=np.zeros(8))", "raise"),
    ("qconv bias wrong len", "qconv(bias=np.zeros(7, np.int32))", "raise"),
    ("qconv rounding bogus", "qconv(rounding='up')", "raise"),
    ("qconv layout bogus", "qconv(layout='CHWN')", "raise"),
    ("QLinearConv call wrong C", "c = lowp.QLinearConv(W, 0.02, 0); c(u8(1, 3, 6, 6), 0.1, 0, 0.1, 0)", "raise"),
    ("QLinearConv cached then bad", "c = lowp.QLinearConv(W, 0.02, 0); c(X, 0.1, 0, 0.1, 0)\n"
     "c(X.astype(np.int16), 0.1, 0, 0.1, 0)", "raise"),
    ("QLinearConv cached then wrong shape", "c = lowp.QLinearConv(W, 0.02, 0); c(X, 0.1, 0, 0.1, 0)\n"
     "c(u8(1, 4, 2, 2), 0.1, 0, 0.1, 0)", "raise"),
    ("fc wrong K", "lowp.qlinear_fully_connected(u8(2, 5), 0.1, 0, s8(3, 4), 0.1, 0, 0.1, 0)", "raise"),
    ("fc cached then wrong K", "fc = lowp.QLinearFullyConnected(s8(3, 4), 0.1, 0)\n"
     "fc(u8(2, 4), 0.1, 0, 0.1, 0); fc(u8(2, 5), 0.1, 0, 0.1, 0)", "raise"),
    ("fc cached then int16", "fc = lowp.QLinearFullyConnected(s8(3, 4), 0.1, 0)\n"
     "fc(u8(2, 4), 0.1, 0, 0.1, 0); fc(u8(2, 4).astype(np.int16), 0.1, 0, 0.1, 0)", "raise"),
    ("fc cached then non-contiguous", "fc = lowp.QLinearFullyConnected(s8(3, 4), 0.1, 0)\n"
     "x = u8(4, 8); y1 = fc(np.ascontiguousarray(x[:, ::2]), 0.1, 0, 0.1, 0); y2 = fc(x[:, ::2], 0.1, 0, 0.1, 0)\n"
     "assert (y1 == y2).all()", "ok"),
    ("fc w 3-D", "lowp.qlinear_fully_connected(u8(2, 4), 0.1, 0, s8(3, 4, 1), 0.1, 0, 0.1, 0)", "raise"),
    ("matmul activations rank 1", "lowp.qlinear_matmul_activations(u8(4), 0.1, 0, u8(4, 3), 0.1, 0, 0.1, 0)", "raise"),
    ("matmul activations per-channel", "lowp.qlinear_matmul_activations(u8(2, 4), 0.1, 0, u8(4, 3), "
     "np.full(3, 0.1), 0, 0.1, 0)", "raise"),
    # ---------------------------------------------------------------- eltwise / pool / LUT / softmax / quantize
    ("add shape mismatch", "lowp.qlinear_add(u8(2, 3), 0.1, 0, u8(2, 4), 0.1, 0, 0.1, 0)", "raise"),
    ("add dtype mismatch", "lowp.qlinear_add(u8(2, 3), 0.1, 0, s8(2, 3), 0.1, 0, 0.1, 0)", "either"),
    ("add float input", "lowp.qlinear_add(np.zeros((2, 3)), 0.1, 0, u8(2, 3), 0.1, 0, 0.1, 0)", "raise"),
    ("add scale nan", "lowp.qlinear_add(u8(2, 3), float('nan'), 0, u8(2, 3), 0.1, 0, 0.1, 0)", "raise"),
    ("add zero point out of range", "lowp.qlinear_add(u8(2, 3), 0.1, 256, u8(2, 3), 0.1, 0, 0.1, 0)", "raise"),
    ("add non-contiguous", "a = u8(6, 8)[::2, ::-1]; b = u8(3, 8)\n"
     "y = lowp.qlinear_add(a, 0.1, 3, b, 0.1, 5, 0.2, 7)\n"
     "assert (y == lowp.qlinear_add(a.copy(), 0.1, 3, b, 0.1, 5, 0.2, 7)).all()", "ok"),
    ("add huge broadcast", "lowp.qlinear_add(huge(2**31, 1), 0.1, 0, huge(1, 4), 0.1, 0, 0.1, 0)", "raise_or_memory"),
    ("add out wrong shape", "lowp.qlinear_add(u8(2, 3), 0.1, 0, u8(2, 3), 0.1, 0, 0.1, 0, out=u8(3, 2))", "raise"),
    ("add out wrong dtype", "lowp.qlinear_add(u8(2, 3), 0.1, 0, u8(2, 3), 0.1, 0, 0.1, 0, "
     "out=np.zeros((2, 3), np.int32))", "raise"),
    ("add out non-contiguous", "o = u8(2, 6)[:, ::2]\n"
     "lowp.qlinear_add(u8(2, 3), 0.1, 0, u8(2, 3), 0.1, 0, 0.1, 0, out=o)", "either"),
    ("mul qmin > qmax", "lowp.qlinear_mul(u8(2, 3), 0.1, 0, u8(2, 3), 0.1, 0, 0.1, 0, qmin=200, qmax=100)", "raise"),
    ("concat axis out of range", "lowp.qlinear_concat([u8(2, 3), u8(2, 3)], [0.1, 0.1], [0, 0], 0.1, 0, axis=5)",
     "raise"),
    ("concat mismatched shapes", "lowp.qlinear_concat([u8(2, 3), u8(3, 4)], [0.1, 0.1], [0, 0], 0.1, 0, axis=0)",
     "raise"),
    ("concat scales wrong count", "lowp.qlinear_concat([u8(2, 3), u8(2, 3)], [0.1], [0, 0], 0.1, 0, axis=0)",
     "raise"),
    ("concat empty list", "lowp.qlinear_concat([], [], [], 0.1, 0, axis=0)", "raise"),
    ("lookup_table short table", "lowp.lookup_table(u8(5), u8(100))", "raise"),
    ("lookup_table float table", "lowp.lookup_table(u8(5), np.zeros(256))", "raise"),
    ("lookup_table out wrong shape", "lowp.lookup_table(u8(5), u8(256), out=u8(4))", "raise"),
    ("lookup_table non-contiguous", "x = u8(8, 9)[::-2, ::3]; t = u8(256)\n"
     "assert (lowp.lookup_table(x, t) == t[x]).all()", "ok"),
    ("lookup_table int8", "x = s8(7, 5); t = s8(256)\n"
     "assert (lowp.lookup_table(x, t) == t[x.view(np.uint8)]).all()", "ok"),
    ("lookup_table huge", "lowp.lookup_table(huge(2**31, 2), u8(256))", "raise_or_memory"),
    ("sigmoid scale inf", "lowp.qlinear_sigmoid(u8(4), float('inf'), 0, 1 / 256, 0)", "raise"),
    ("sigmoid float input", "lowp.qlinear_sigmoid(np.zeros(4, np.float32), 0.1, 0, 1 / 256, 0)", "raise"),
    ("softmax axis out of range", "lowp.qlinear_softmax(u8(2, 3), 0.1, 0, 1 / 256, 0, axis=2)", "raise"),
    ("softmax zero size", "lowp.qlinear_softmax(u8(0, 3), 0.1, 0, 1 / 256, 0)", "either"),
    ("softmax zero-length axis", "lowp.qlinear_softmax(u8(3, 0), 0.1, 0, 1 / 256, 0)", "either"),
    ("softmax non-contiguous", "x = u8(6, 10)[::-2, ::2]\n"
     "assert (lowp.qlinear_softmax(x, 0.1, 3, 1 / 256, 0) == lowp.qlinear_softmax(x.copy(), 0.1, 3, 1 / 256, 0)).all()",
     "ok"),
    ("softmax tflite non-contiguous", "x = s8(6, 10)[:, ::-1]\n"
     "kw = dict(rounding='gemmlowp')\n"
     "assert (lowp.qlinear_softmax(x, 0.1, 3, 1 / 256, -128, **kw) == "
     "lowp.qlinear_softmax(x.copy(), 0.1, 3, 1 / 256, -128, **kw)).all()", "ok"),
    ("softmax huge", "lowp.qlinear_softmax(huge(2**31, 2), 0.1, 0, 1 / 256, 0)", "raise_or_memory"),
    ("quantize_linear nan input", "y = lowp.quantize_linear(np.array([np.nan, np.inf, -np.inf, 1e30], np.float32), "
     "0.1, np.uint8(3)); assert (y == [0, 255, 0, 255]).all()  # as onnxruntime", "either"),
    ("quantize_linear scale zero", "lowp.quantize_linear(np.zeros(4, np.float32), 0.0)", "raise"),
    ("quantize_linear per-axis wrong len", "lowp.quantize_linear(np.zeros((2, 3), np.float32), np.full(4, 0.1), axis=1)",
     "raise"),
    ("quantize_linear axis out of range", "lowp.quantize_linear(np.zeros((2, 3), np.float32), np.full(3, 0.1), "
     "axis=7)", "raise"),
    ("quantize_linear object input", "lowp.quantize_linear(np.zeros(3, object), 0.1)", "raise"),
    ("quantize_linear non-contiguous", "x = np.linspace(-5, 5, 40, dtype=np.float32).reshape(4, 10)[::-1, ::3]\n"
     "y = lowp.quantize_linear(x, np.float32(0.05), np.uint8(128))\n"
     "ref = np.clip(np.rint(x / np.float32(0.05)) + 128, 0, 255)\n"
     "assert (y == ref).all()", "ok"),
    ("dequantize_linear float input", "lowp.dequantize_linear(np.zeros(3, np.float32), 0.1)", "either"),
    ("dequantize_linear negative scale", "lowp.dequantize_linear(u8(3), -0.1)", "raise"),
    ("requantize_linear zp out of range", "lowp.requantize_linear(u8(3), 0.1, 0, 0.1, 999)", "raise"),
    ("max_pool kernel larger than input", "lowp.max_pool(u8(1, 2, 3, 3), [5, 5])", "raise"),
    ("max_pool stride 0", "lowp.max_pool(u8(1, 2, 6, 6), [2, 2], strides=[0, 1])", "raise"),
    ("max_pool dilation 0", "lowp.max_pool(u8(1, 2, 6, 6), [2, 2], dilations=[0, 1])", "raise"),
    ("max_pool negative pads", "lowp.max_pool(u8(1, 2, 6, 6), [2, 2], pads=[-1, 0, 0, 0])", "raise"),
    ("max_pool kernel 0", "lowp.max_pool(u8(1, 2, 6, 6), [0, 2])", "raise"),
    ("max_pool rank 2", "lowp.max_pool(u8(6, 6), [2, 2])", "raise"),
    ("max_pool non-contiguous", "x = u8(1, 3, 8, 8)[:, ::-1, ::2]\n"
     "y = lowp.max_pool(x, [2, 2], strides=[2, 2])\n"
     "ref = x.reshape(1, 3, 2, 2, 4, 2).max(axis=(3, 5))\n"
     "assert (y == ref).all()", "ok"),
    ("avg_pool kernel larger than padded", "lowp.qlinear_average_pool(u8(1, 2, 3, 3), 0.1, 0, 0.1, 0, [6, 6], "
     "pads=[1, 1, 1, 1])", "raise"),
    ("avg_pool stride 0", "lowp.qlinear_average_pool(u8(1, 2, 6, 6), 0.1, 0, 0.1, 0, [2, 2], strides=[0, 0])",
     "raise"),
    ("avg_pool pad >= kernel", "lowp.qlinear_average_pool(u8(1, 2, 6, 6), 0.1, 0, 0.1, 0, [2, 2], "
     "pads=[3, 3, 3, 3])", "either"),
    ("avg_pool scale negative", "lowp.qlinear_average_pool(u8(1, 2, 6, 6), -0.1, 0, 0.1, 0, [2, 2])", "raise"),
    ("avg_pool huge window", "lowp.qlinear_average_pool(huge(1, 1, 2**31, 1), 0.1, 0, 0.1, 0, [2**31, 1])", "raise"),
    ("global avg pool rank 2", "lowp.qlinear_global_average_pool(u8(2, 3), 0.1, 0, 0.1, 0)", "either"),
    ("global avg pool zero spatial", "lowp.qlinear_global_average_pool(u8(1, 2, 0, 0), 0.1, 0, 0.1, 0)", "raise"),
    ("reduce_mean axis out of range", "lowp.qlinear_reduce_mean(u8(2, 3), 0.1, 0, 0.1, 0, axes=[4])", "raise"),
    ("pad wrong length", "lowp.pad(u8(2, 3), [1, 1])", "raise"),
    ("pad reflect too large", "lowp.pad(u8(2, 3), [0, 5, 0, 5], mode='reflect')", "either"),
    ("pad huge", "lowp.pad(u8(2, 3), [0, 2**40, 0, 0])", "raise_or_memory"),
    ("pad axes out of range", "lowp.pad(u8(2, 3), [1, 1], axes=[5])", "raise"),
    ("pad crops more than the axis", "lowp.pad(u8(3, 4), [-5, 0, 0, 0])", "raise"),
    ("pad crop to empty", "assert lowp.pad(u8(3, 4), [-1, 0, -2, 0]).shape == (0, 4)", "ok"),
    ("transpose perm out of range", "lowp.transpose(u8(2, 3), [0, 5])", "raise"),
    ("reshape two -1", "lowp.reshape(u8(2, 3), [-1, -1])", "raise"),
    ("lookup_table 0-d", "assert lowp.lookup_table(np.uint8(7), np.arange(256, dtype=np.uint8)[::-1].copy()) == 248",
     "ok"),
    ("build_lookup_table wrong shape fn", "lowp.build_lookup_table(lambda v: v[:3], 0.1, 0, 0.1, 0)", "raise"),
    ("softmax beta nan", "lowp.qlinear_softmax(u8(2, 3), 0.1, 0, 1 / 256, 0, rounding='gemmlowp', beta=float('nan'))",
     "raise"),
    ("dynamic_quantize_linear nan", "lowp.dynamic_quantize_linear(np.array([np.nan, 1], np.float32))", "raise"),
    ("dynamic_quantize_linear empty", "lowp.dynamic_quantize_linear(np.zeros(0, np.float32))", "raise"),
    ("requantize multiplier 2**40", "lowp.requantize(np.zeros(3, np.int32), 2**40, 0, 0)", "raise"),
    ("requantize shift length mismatch", "lowp.requantize(np.zeros((3, 4), np.int32), np.full(4, 2**30), "
     "np.zeros(3, np.int32), 0)", "raise"),
    ("transpose bad perm", "lowp.transpose(u8(2, 3), [0, 0])", "raise"),
    ("reshape bad size", "lowp.reshape(u8(2, 3), [4, 2])", "raise"),
    ("resize zero scale", "lowp.resize(u8(1, 1, 4, 4), scales=[1, 1, 0, 0])", "raise"),
    ("resize negative size", "lowp.resize(u8(1, 1, 4, 4), sizes=[1, 1, -2, 4])", "raise"),
    ("resize nan scale", "lowp.resize(u8(1, 1, 4, 4), scales=[1, 1, float('nan'), 2])", "raise"),
    ("resize huge", "lowp.resize(u8(1, 1, 4, 4), sizes=[1, 1, 2**31, 2**31])", "raise_or_memory"),
    ("resize rank 3", "lowp.resize(u8(1, 4, 4), scales=[1, 2, 2])", "raise"),
    ("resize non-contiguous", "x = u8(1, 2, 8, 8)[:, :, ::-2, ::2]\n"
     "y = lowp.resize(x, scales=[1, 1, 2, 2], coordinate_transformation_mode='asymmetric', nearest_mode='floor')\n"
     "assert (y == x.repeat(2, 2).repeat(2, 3)).all()", "ok"),
    # ---------------------------------------------------------------- session
    ("session missing file", "lowp.InferenceSession('/nonexistent/model.onnx')", "raise_or_oserror"),
    ("session empty bytes", "lowp.InferenceSession(b'')", "raise"),
    ("session random bytes", "lowp.InferenceSession(np.random.default_rng(1).bytes(4096))", "raise"),
    ("session truncated", "b = open(DEMO, 'rb').read(); lowp.InferenceSession(b[:len(b) // 2])", "raise"),
    ("session corrupt bytes", "b = bytearray(open(DEMO, 'rb').read()); r = np.random.default_rng(2)\n"
     "for i in r.integers(0, len(b), 64): b[i] ^= 0xFF\n"
     "s = lowp.InferenceSession(bytes(b)); s.run(None, {s.get_inputs()[0].name: np.zeros(s.get_inputs()[0].shape, "
     "s.get_inputs()[0].dtype)})", "either"),
    ("session truncated file", "import tempfile, os\n"
     "b = open(DEMO, 'rb').read(); p = tempfile.mktemp(suffix='.onnx'); open(p, 'wb').write(b[:1000])\n"
     "try:\n    lowp.InferenceSession(p)\nfinally:\n    os.remove(p)", "raise"),
    ("session unsupported op", "import onnx; from onnx import helper, TensorProto as T\n"
     "g = helper.make_graph([helper.make_node('Einsum', ['x', 'x'], ['y'], equation='ij,jk->ik')], 'g',\n"
     "    [helper.make_tensor_value_info('x', T.FLOAT, [2, 2])], [helper.make_tensor_value_info('y', T.FLOAT, [2, 2])])\n"
     "m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])\n"
     "lowp.InferenceSession(m.SerializeToString())", "raise_or_notimpl"),
    ("session unknown domain", "import onnx; from onnx import helper, TensorProto as T\n"
     "g = helper.make_graph([helper.make_node('Foo', ['x'], ['y'], domain='com.example')], 'g',\n"
     "    [helper.make_tensor_value_info('x', T.FLOAT, [2])], [helper.make_tensor_value_info('y', T.FLOAT, [2])])\n"
     "m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13), helper.make_opsetid('com.example', 1)])\n"
     "lowp.InferenceSession(m.SerializeToString())", "raise_or_notimpl"),
    ("session wrong input name", "s = lowp.InferenceSession(DEMO); i = s.get_inputs()[0]\n"
     "s.run(None, {'nope': np.zeros([d if isinstance(d, int) else 1 for d in i.shape], i.dtype)})", "raise"),
    ("session wrong dtype", "s = lowp.InferenceSession(DEMO); i = s.get_inputs()[0]\n"
     "s.run(None, {i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float64)})", "raise"),
    ("session object input", "s = lowp.InferenceSession(DEMO); i = s.get_inputs()[0]\n"
     "s.run(None, {i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], object)})", "raise"),
    ("session wrong rank", "s = lowp.InferenceSession(DEMO); i = s.get_inputs()[0]\n"
     "s.run(None, {i.name: np.zeros((3,), i.dtype)})", "raise"),
    ("session wrong spatial size", "s = lowp.InferenceSession(DEMO); i = s.get_inputs()[0]\n"
     "shp = [d if isinstance(d, int) else 1 for d in i.shape]; shp[-1] += 5\n"
     "s.run(None, {i.name: np.zeros(shp, i.dtype)})", "raise"),
    ("session zero batch", "s = lowp.InferenceSession(DEMO); i = s.get_inputs()[0]\n"
     "shp = [d if isinstance(d, int) else 0 for d in i.shape]\n"
     "s.run(None, {i.name: np.zeros(shp, i.dtype)})", "either"),
    ("session non-contiguous input", "s = lowp.InferenceSession(DEMO); i = s.get_inputs()[0]\n"
     "shp = [d if isinstance(d, int) else 2 for d in i.shape]\n"
     "x = np.random.default_rng(3).random(shp).astype(i.dtype)\n"
     "xr = np.ascontiguousarray(x[::-1])[::-1]\n"
     "assert all((p == q).all() for p, q in zip(s.run(None, {i.name: x}), s.run(None, {i.name: xr})))", "ok"),
    ("session feed not dict", "s = lowp.InferenceSession(DEMO); s.run(None, [np.zeros(3)])", "raise"),
    ("session bad output name", "s = lowp.InferenceSession(DEMO); i = s.get_inputs()[0]\n"
     "s.run(['nope'], {i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], i.dtype)})", "raise"),
    ("session conv strides 0", "run_mutated(lambda m: set_attr(m, 'Conv', 'strides', [0, 0]))", "raise"),
    ("session conv negative pads", "run_mutated(lambda m: set_attr(m, 'Conv', 'pads', [-5, -5, -5, -5]))", "raise"),
    ("session conv dilation 0", "run_mutated(lambda m: set_attr(m, 'Conv', 'dilations', [0, 0]))", "raise"),
    ("session conv group 3", "run_mutated(lambda m: set_attr(m, 'Conv', 'group', 3))", "raise"),
    ("session maxpool kernel too large", "run_mutated(lambda m: set_attr(m, 'MaxPool', 'kernel_shape', [99, 99]))",
     "raise"),
    ("session weight wrong shape", "import onnx\n"
     "def f(m):\n    t = [t for t in m.graph.initializer if t.name == '3.weight_quantized'][0]\n"
     "    a = onnx.numpy_helper.to_array(t); t.CopyFrom(onnx.numpy_helper.from_array(a[:, :-1].copy(), t.name))\n"
     "run_mutated(f)", "raise"),
    ("session scale negative", "import onnx\n"
     "def f(m):\n    t = [t for t in m.graph.initializer if t.name == 'image_scale'][0]\n"
     "    t.CopyFrom(onnx.numpy_helper.from_array(np.array(-0.5, np.float32), t.name))\n"
     "run_mutated(f)", "either"),
    ("session tiny valid model", "(y,) = tiny_model([node('Neg', ['x'], ['t']), node('Relu', ['t'], ['y'])])\n"
     "assert (y == 0).all() and y.shape == (2,)", "ok"),
    ("session undefined tensor", "tiny_model([node('Relu', ['nope'], ['y'])])", "raise"),
    ("session cycle", "tiny_model([node('Relu', ['b'], ['a']), node('Relu', ['a'], ['b'])], out='b')", "raise"),
    ("session output never produced", "tiny_model([node('Relu', ['x'], ['y'])], out='z')", "raise"),
    ("session tensor defined twice", "tiny_model([node('Relu', ['x'], ['y']), node('Neg', ['x'], ['y'])])", "raise"),
    ("session initializer without data", "import onnx; from onnx import helper, TensorProto as T\n"
     "t = onnx.TensorProto(); t.name = 'w'; t.data_type = T.INT8; t.dims.extend([2**31, 2**31])\n"
     "g = helper.make_graph([node('MatMulInteger', ['x', 'w'], ['y'])], 'g', [helper.make_tensor_value_info("
     "'x', T.UINT8, [2, 4])], [helper.make_tensor_value_info('y', T.INT32, [2, 4])], initializer=[t])\n"
     "lowp.InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]).SerializeToString())",
     "raise"),
    ("session MatMulInteger K mismatch", "import onnx; from onnx import helper, TensorProto as T\n"
     "w = onnx.numpy_helper.from_array(np.ones((5, 3), np.int8), 'w')\n"
     "g = helper.make_graph([node('MatMulInteger', ['x', 'w'], ['y'])], 'g', [helper.make_tensor_value_info("
     "'x', T.UINT8, [2, 4])], [helper.make_tensor_value_info('y', T.INT32, [2, 3])], initializer=[w])\n"
     "s = lowp.InferenceSession(helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]).SerializeToString())\n"
     "s.run(None, {'x': np.ones((2, 4), np.uint8)})", "raise"),
    ("session wrong type", "lowp.InferenceSession(12345)", "raise"),
    ("session num_threads huge", "lowp.InferenceSession(DEMO, num_threads=10**6)", "raise"),
    ("session num_threads float", "lowp.InferenceSession(DEMO, num_threads=2.0)", "raise"),
    ("session reflect pad beyond axis", "import onnx\n"
     "p = node('Constant', [], ['p'], value=onnx.numpy_helper.from_array(np.array([2, 2], np.int64)))\n"
     "tiny_model([p, node('Pad', ['x', 'p'], ['y'], mode='reflect')])", "raise"),
    ("session reflect pad inside axis", "import onnx\n"
     "p = node('Constant', [], ['p'], value=onnx.numpy_helper.from_array(np.array([1, 1], np.int64)))\n"
     "(y,) = tiny_model([p, node('Pad', ['x', 'p'], ['y'], mode='reflect')])\nassert y.shape == (4,)", "ok"),
    ("session reduce_mean repeated axes", "tiny_model([node('ReduceMean', ['x'], ['y'], axes=[0, 0])])", "raise"),
    ("session reduce_mean axis out of range", "tiny_model([node('ReduceMean', ['x'], ['y'], axes=[3])])", "raise"),
    # ---------------------------------------------------------------- TFLite files with damaged bytes
    ("tflite mutated bytes",
     "import importlib.util, os, zipfile\n"
     "root = os.path.join(list(importlib.util.find_spec('mltk').submodule_search_locations)[0], 'models', 'tinyml')\n"
     "z = zipfile.ZipFile(os.path.join(root, 'keyword_spotting.mltk.zip'))\n"
     "data = z.read(next(n for n in z.namelist() if n.endswith('.tflite')))\n"
     "r = np.random.default_rng(5); seen = set()\n"
     "for trial in range(200):\n"
     "    d = bytearray(data)\n"
     "    for _ in range(int(r.integers(1, 8))):\n"
     "        d[int(r.integers(0, 4096 if r.random() < 0.8 else len(d)))] = int(r.integers(0, 256))\n"
     "    try:\n"
     "        s = lowp.InferenceSession(bytes(d)); a = s.get_inputs()[0]\n"
     "        # a dynamic batch (the file's shape_signature, unless damaged) runs at 2: the resized import on damaged data\n"
     "        s.run(None, {a.name: np.zeros([2 if v == 'batch' else int(v) for v in a.shape], a.dtype)}); seen.add('ran')\n"
     "    except (ValueError, NotImplementedError, TypeError, MemoryError) as e:\n"
     "        assert 'lowp' in str(e) or isinstance(e, MemoryError), repr(e); seen.add(type(e).__name__)\n"
     "assert {'ran', 'ValueError'} <= seen, seen", "ok"),
    ("tflite mutated bytes, newer operators",
     f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); import tflite_models as TM\n"
     "seen = set()\n"
     "for data in [TM.transformer_block_model(np.random.default_rng(0), layer_norm=True),\n"
     "             TM.transpose_conv_model(np.random.default_rng(0)),\n"
     "             TM.batch_matmul_model(np.random.default_rng(0), (2, 3, 5, 7), (2, 3, 7, 4)),\n"
     "             TM.mean_model(np.random.default_rng(0), axes=(1, 3))]:\n"
     "    r = np.random.default_rng(7)\n"
     "    for trial in range(60):\n"
     "        d = bytearray(data)\n"
     "        for _ in range(int(r.integers(1, 6))):\n"
     "            d[int(r.integers(0, len(d)))] = int(r.integers(0, 256))\n"
     "        try:\n"
     "            s = lowp.InferenceSession(bytes(d))\n"
     "            s.run(None, {a.name: np.zeros([2 if v == 'batch' else int(v) for v in a.shape], a.dtype)\n"
     "                         for a in s.get_inputs()})\n"
     "            seen.add('ran')\n"
     "        except (ValueError, NotImplementedError, TypeError) as e:\n"
     "            assert 'lowp' in str(e), repr(e); seen.add(type(e).__name__)\n"
     "assert {'ran', 'ValueError', 'NotImplementedError'} <= seen, seen", "ok"),
    ("tflite Interpreter, mutated bytes with a signature",
     f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); import tflite_models as TM\n"
     "data = TM.with_signature(TM.with_dynamic_batch(TM.conv_model(np.random.default_rng(0))))\n"
     "r = np.random.default_rng(9); seen = set()\n"
     "for trial in range(150):\n"
     "    d = bytearray(data)\n"
     "    for _ in range(int(r.integers(1, 6))):\n"
     "        d[int(r.integers(0, len(d)))] = int(r.integers(0, 256))\n"
     "    try:\n"
     "        it = lowp.Interpreter(model_content=bytes(d)); it.allocate_tensors()\n"
     "        for name, x in [(k, None) for k in it.get_signature_list()]:\n"
     "            run = it.get_signature_runner(name)\n"
     "            feed = {n: np.zeros(d_['shape'], d_['dtype']) for n, d_ in run.get_input_details().items()}\n"
     "            run(**feed)\n"
     "        seen.add('ran')\n"
     "    except (ValueError, NotImplementedError, TypeError, RuntimeError) as e:\n"
     "        assert 'lowp' in str(e), repr(e); seen.add(type(e).__name__)\n"
     "assert {'ran', 'ValueError'} <= seen, seen", "ok"),
    ("tflite truncated", "import importlib.util, os, zipfile\n"
     "root = os.path.join(list(importlib.util.find_spec('mltk').submodule_search_locations)[0], 'models', 'tinyml')\n"
     "z = zipfile.ZipFile(os.path.join(root, 'visual_wake_words.mltk.zip'))\n"
     "data = z.read(next(n for n in z.namelist() if n.endswith('.tflite')))\n"
     "lowp.InferenceSession(data[:len(data) // 3])", "raise"),
    ("dynamic_quantize NaN", "lowp.dynamic_quantize_linear(np.array([1, np.nan], np.float32))", "raise"),
    ("dynamic_quantize inf", "lowp.dynamic_quantize_linear(np.array([1, np.inf], np.float32))", "raise"),
]


timing = {}


def _run_children(cases):
    """Runs cases in child processes; returns {name: (kind, detail)}; a crash marks that case."""
    results = {}
    timing.clear()
    todo = list(cases)
    prelude = PRELUDE + f"\nDEMO = {DEMO_MODEL!r}\n"
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(lowp.__file__)))  # the child imports this lowp
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([pkg_root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    while todo:
        p = subprocess.run([sys.executable, "-c", CHILD, prelude], input=json.dumps([[n, c] for n, c, _ in todo]),
                           capture_output=True, text=True, timeout=600, env=env)
        started = None
        for line in p.stdout.splitlines():
            if line.startswith("START "):
                started = line[6:]
            elif line.startswith("END "):
                name, kind, detail, _seconds = json.loads(line[4:])
                results[name] = (kind, detail)
                timing[name] = _seconds
                started = None
        if started is not None:
            results[started] = ("crash", f"exit code {p.returncode}\n{p.stderr[-3000:]}")
        elif p.returncode != 0 and len(results) < len(cases):
            raise AssertionError(f"child failed before running cases: {p.stderr[-3000:]}")
        todo = [c for c in todo if c[0] not in results]
    return results


@pytest.fixture(scope="module")
def results():
    return _run_children(CASES)


def test_case_names_unique():
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("name,code,expect", CASES, ids=[c[0] for c in CASES])
def test_bad_input(results, name, code, expect):
    kind, detail = results[name]
    assert kind != "crash", f"{name}: the process crashed: {detail}"
    if expect == "raise_or_oserror" and detail.startswith("FileNotFoundError: lowp:"):
        return
    if expect == "raise_or_memory" and detail.startswith("MemoryError"):
        return  # the true result would need that much memory: a clean MemoryError is the right answer
    if expect == "raise_or_notimpl" and detail.startswith("NotImplementedError: lowp: unsupported"):
        return  # the session's documented error for operators it does not implement
    assert kind != "other", f"{name}: unexpected exception (wrong answer or not a TypeError/ValueError): {detail}"
    if expect == "ok":
        assert kind == "ok", f"{name}: expected a result, got {detail}"
    elif expect == "raise":
        assert kind == "raise", f"{name}: expected TypeError/ValueError, but the call returned"
    if kind == "raise":
        msg = detail.split(": ", 1)[1] if ": " in detail else ""
        assert len(msg) > 10, f"{name}: exception without a useful message: {detail!r}"


# ------------------------------------------------------------------------- hypothesis shape fuzzing
# In-process: shapes are small and valid-or-mismatched, so a crash here would be a plain bug.
_dims = st.integers(min_value=0, max_value=9)


_FUZZ_N = int(os.environ.get("LOWP_FUZZ_EXAMPLES", "40"))  # raise it locally to hunt harder


@settings(max_examples=_FUZZ_N + 20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=st.integers(0, 40), k=st.integers(0, 70), dk=st.sampled_from([0, 0, 0, 1, -1]), n=st.integers(0, 40),
       rev=st.booleans(), za=st.integers(0, 255), zb=st.integers(-128, 127), per_col=st.booleans())
def test_fuzz_matmul_shapes(m, k, dk, n, rev, za, zb, per_col):
    """Every GEMM kernel against an int64 reference on edge shapes (0, 1, odd, > one tile), views."""
    rng = np.random.default_rng(m * 10000 + k * 100 + n)
    a = rng.integers(0, 256, (m, k)).astype(np.uint8)
    b = rng.integers(-128, 128, (max(k + dk, 0), n)).astype(np.int8)
    if rev:
        a, b = a[::-1, ::-1], b[::-1]
    zbv = rng.integers(-128, 128, n).astype(np.int8) if per_col and n > 0 else zb
    if dk != 0 and k + dk >= 0:
        with pytest.raises(ValueError, match="not aligned"):
            lowp.matmul_integer(a, b, za, zbv)
        return
    if dk != 0:
        return
    ref = ((a.astype(np.int64) - za) @ (b.astype(np.int64) - np.asarray(zbv, np.int64))).astype(np.int32)
    for name in lowp.kernels():
        with lowp.use_kernel(name):
            y = lowp.matmul_integer(a, b, za, zbv)
        assert y.shape == ref.shape and (y == ref).all(), name


def _ref_conv_int64(x, wt, zx, s, p, d, group):
    m, cg, k, _ = wt.shape
    xp = np.pad(x.astype(np.int64) - zx, ((0, 0), (0, 0), (p, p), (p, p)))
    ke = (k - 1) * d + 1
    oh, ow = (xp.shape[2] - ke) // s + 1, (xp.shape[3] - ke) // s + 1
    ref = np.zeros((x.shape[0], m, oh, ow), np.int64)
    for o in range(m):
        g = o // (m // group)
        for i in range(oh):
            for j in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg, i * s:i * s + ke:d, j * s:j * s + ke:d]
                ref[:, o, i, j] = (patch * wt[o]).sum(axis=(1, 2, 3))
    return ref.astype(np.int32)


@settings(max_examples=_FUZZ_N, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c=st.integers(1, 5), h=st.integers(0, 9), w=st.integers(0, 9), k=st.integers(1, 4), s=st.integers(1, 3),
       p=st.integers(0, 3), d=st.integers(1, 3), mult=st.integers(0, 2), nhwc=st.booleans(), rev=st.booleans(),
       zx=st.integers(0, 255))
def test_fuzz_conv_geometry(c, h, w, k, s, p, d, mult, nhwc, rev, zx):
    """Every GEMM kernel (mult=0: dense conv) and every depthwise kernel (mult>=1: group=C with
    channel multiplier) against an int64 reference, on odd geometries, views and both layouts."""
    rng = np.random.default_rng(c * 1000 + h * 100 + w * 10 + k)
    x = rng.integers(0, 256, (2, c, h + rev, w)).astype(np.uint8)
    if rev:
        x = x[::-1, :, :0:-1]  # negative strides, (2, c, h, w)
    m, cg, group = (c * mult, 1, c) if mult else (3, c, 1)
    wt = rng.integers(-128, 128, (m, cg, k, k)).astype(np.int8)
    kw = dict(strides=[s, s], pads=[p] * 4, dilations=[d, d], group=group)
    xin = np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if nhwc else x
    if nhwc:
        kw["layout"] = "NHWC"
    ke = (k - 1) * d + 1
    if h + 2 * p < ke or w + 2 * p < ke or h == 0 or w == 0:  # lowp rejects empty images (even when padded)
        with pytest.raises(ValueError):
            lowp.conv_integer(xin, wt, zx, 0, **kw)
        return
    ref = _ref_conv_int64(x, wt, zx, s, p, d, group)
    if nhwc:
        ref = ref.transpose(0, 2, 3, 1)
    from lowp import _lowp
    kernels = [("gemm", n) for n in lowp.kernels()] if not mult else [("dw", n) for n in _lowp.depthwise_kernels()]
    for kind, name in kernels:
        ctx = lowp.use_kernel(name) if kind == "gemm" else lowp.use_depthwise_kernel(name)
        with ctx:
            y = lowp.conv_integer(xin, wt, zx, 0, **kw)
        assert y.shape == ref.shape and (y == ref).all(), (kind, name)


# ------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("args,needle", [
    (["run", "/nonexistent/model.onnx"], "model file not found"),
    (["info", "{rand}"], "not a valid ONNX model"),
    (["compare", "{rand}"], "not a valid ONNX model"),
    (["run", DEMO_MODEL, "--threads", "0"], "num_threads"),
    (["run", DEMO_MODEL, "-i", "nope={bad}"], "no input 'nope'"),
])
def test_cli_bad_input_one_line_error(tmp_path, args, needle):
    rand = tmp_path / "rand.onnx"
    rand.write_bytes(np.random.default_rng(0).bytes(3000))
    bad = tmp_path / "bad.npy"
    bad.write_text("junk")
    args = [a.format(rand=rand, bad=bad) for a in args]
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(lowp.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([pkg_root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    p = subprocess.run([sys.executable, "-m", "lowp.cli"] + args, capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode != 0 and p.returncode > 0, p.stderr  # an error exit, not a signal
    assert needle in p.stderr, p.stderr
    assert "Traceback" not in p.stderr, p.stderr


_shape = st.lists(st.integers(0, 5), min_size=0, max_size=4)


@settings(max_examples=_FUZZ_N, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sa=_shape, sb=_shape, op=st.sampled_from(["add", "sub", "mul"]),
       rounding=st.sampled_from(["half_even", "gemmlowp", "single"]), signed=st.booleans(), rev=st.booleans())
def test_fuzz_binary_broadcast(sa, sb, op, rounding, signed, rev):
    """qlinear_add/sub/mul on any broadcast pair (0-d, empty, negative-stride views): every
    eltwise kernel gives the scalar reference kernel's answer on contiguous copies; shapes that do
    not broadcast raise ValueError."""
    from lowp import _lowp
    rng = np.random.default_rng(len(sa) * 100 + len(sb))
    dt = np.int8 if signed else np.uint8
    lo, hi = (-128, 128) if signed else (0, 256)
    a = rng.integers(lo, hi, [d + rev for d in sa]).astype(dt)
    b = rng.integers(lo, hi, sb).astype(dt)
    if rev and a.ndim:
        a = a[(slice(None, 0, -1),) * a.ndim]  # negative strides, shape sa
    fn = getattr(lowp, "qlinear_" + op)
    args = (0.05, 3, b, 0.07, -2 if signed else 9, 0.11, 1 if signed else 128)
    try:
        np.broadcast_shapes(tuple(sa), tuple(sb))
    except ValueError:
        with pytest.raises(ValueError):
            fn(a, *args, rounding=rounding)
        return
    _lowp._force_eltwise_kernel("ref")
    try:
        want = fn(a.copy(), *args, rounding=rounding)  # copy(): C order, keeps 0-d
    finally:
        _lowp._force_eltwise_kernel("")
    for name in _lowp._eltwise_kernels():
        _lowp._force_eltwise_kernel(name)
        try:
            got = fn(a, *args, rounding=rounding)
        finally:
            _lowp._force_eltwise_kernel("")
        assert got.shape == want.shape and got.dtype == want.dtype and (got == want).all(), name
