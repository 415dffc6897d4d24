"""lowp vs onnxruntime (single-node models, 1 thread, same process) for the non-GEMM ops:
elementwise add/mul, LUT activations, pooling, softmax, (de)quantize, concat, resize.

    LOWP_INTREE=1 python3 bench/bench_ops_eltwise.py [--quick]

Prints best-of timings (µs) and lowp/ORT ratios (< 1 means lowp is faster). Outputs of both are
also compared, so a fast wrong answer cannot pass unnoticed."""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import lowp  # noqa: E402

import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

f32 = np.float32
MS = "com.microsoft"
_T = {np.dtype(np.uint8): TensorProto.UINT8, np.dtype(np.int8): TensorProto.INT8, np.dtype(f32): TensorProto.FLOAT,
      np.dtype(np.int64): TensorProto.INT64}


def session(op, inputs, const, out_dtype, attrs=None, domain=MS):
    gi, inits, feeds, names = [], [], {}, []
    for n, a in inputs:
        if a is None:
            names.append("")
            continue
        a = np.asarray(a)
        names.append(n)
        if n in const:
            inits.append(numpy_helper.from_array(a, n))
        else:
            gi.append(helper.make_tensor_value_info(n, _T[a.dtype], list(a.shape)))
            feeds[n] = a
    node = helper.make_node(op, names, ["y"], domain=domain or None, **(attrs or {}))
    g = helper.make_graph([node], "g", gi, [helper.make_tensor_value_info("y", _T[np.dtype(out_dtype)], None)],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19), helper.make_opsetid(MS, 1)])
    m.ir_version = 9
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return lambda: s.run(None, feeds)[0]


def best_us(fn, reps, budget):
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        k = 0
        while True:
            fn()
            k += 1
            if time.perf_counter() - t0 > budget:
                break
        best = min(best, (time.perf_counter() - t0) / k)
    return best * 1e6


def cases(rng):
    u8 = np.uint8
    x = rng.integers(0, 256, (1, 64, 56, 56), dtype=u8)
    y = rng.integers(0, 256, (1, 64, 56, 56), dtype=u8)
    bias = rng.integers(0, 256, (1, 64, 1, 1), dtype=u8)
    q3 = [f32(0.02), u8(100), f32(0.03), u8(120), f32(0.05), u8(128)]
    C3 = {"sa", "za", "sb", "zb", "sc", "zc"}
    QP = {"xs", "xz", "ys", "yz"}
    qs = [("xs", f32(0.02)), ("xz", u8(100)), ("ys", f32(1 / 256)), ("yz", u8(0))]

    def bin_inputs(a, b):
        return [("a", a), ("sa", q3[0]), ("za", q3[1]), ("b", b), ("sb", q3[2]), ("zb", q3[3]), ("sc", q3[4]),
                ("zc", q3[5])]
    yield ("QLinearAdd 1x64x56x56", session("QLinearAdd", bin_inputs(x, y), C3, u8),
           lambda: lowp.qlinear_add(x, q3[0], q3[1], y, q3[2], q3[3], q3[4], q3[5]))
    yield ("QLinearAdd bcast 64x1x1", session("QLinearAdd", bin_inputs(x, bias), C3, u8),
           lambda: lowp.qlinear_add(x, q3[0], q3[1], bias, q3[2], q3[3], q3[4], q3[5]))
    yield ("QLinearMul 1x64x56x56", session("QLinearMul", bin_inputs(x, y), C3, u8),
           lambda: lowp.qlinear_mul(x, q3[0], q3[1], y, q3[2], q3[3], q3[4], q3[5]))
    yield ("QLinearSigmoid 1x64x56x56", session("QLinearSigmoid", [("x", x)] + qs, QP, u8),
           lambda: lowp.qlinear_sigmoid(x, f32(0.02), u8(100), f32(1 / 256), u8(0)))
    yield ("QLinearLeakyRelu 1x64x56x56", session("QLinearLeakyRelu", [("x", x)] + qs, QP, u8, {"alpha": 0.1}),
           lambda: lowp.qlinear_leaky_relu(x, f32(0.02), u8(100), f32(1 / 256), u8(0), alpha=0.1))
    g = rng.integers(0, 256, (1, 1280, 7, 7), dtype=u8)
    yield ("QLinearGlobalAvgPool 1280x7x7", session("QLinearGlobalAveragePool", [("x", g)] + qs, QP, u8,
                                                   {"channels_last": 0}),
           lambda: lowp.qlinear_global_average_pool(g, f32(0.02), u8(100), f32(1 / 256), u8(0)))
    mp = rng.integers(0, 256, (1, 64, 112, 112), dtype=u8)
    pool = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}
    yield ("MaxPool u8 64x112x112 3x3/2", session("MaxPool", [("x", mp)], set(), u8, pool, domain=""),
           lambda: lowp.max_pool(mp, [3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    yield ("QLinearAvgPool 64x112x112 3x3/2", session("QLinearAveragePool", [("x", mp)] + qs, QP, u8, pool),
           lambda: lowp.qlinear_average_pool(mp, f32(0.02), u8(100), f32(1 / 256), u8(0), [3, 3], strides=[2, 2],
                                             pads=[1, 1, 1, 1]))
    sm = rng.integers(0, 256, (8, 1000), dtype=u8)
    yield ("QLinearSoftmax 8x1000", session("QLinearSoftmax", [("x", sm)] + qs, QP, u8, {"axis": -1, "opset": 13}),
           lambda: lowp.qlinear_softmax(sm, f32(0.02), u8(100), f32(1 / 256), u8(0)))
    xf = (rng.standard_normal((1, 64, 56, 56)) * 3).astype(f32)
    yield ("QuantizeLinear 1x64x56x56", session("QuantizeLinear", [("x", xf), ("s", f32(0.02)), ("z", u8(100))],
                                                {"s", "z"}, u8, domain=""),
           lambda: lowp.quantize_linear(xf, f32(0.02), u8(100)))
    yield ("DequantizeLinear 1x64x56x56", session("DequantizeLinear", [("x", x), ("s", f32(0.02)), ("z", u8(100))],
                                                  {"s", "z"}, f32, domain=""),
           lambda: lowp.dequantize_linear(x, f32(0.02), u8(100)))
    c1 = rng.integers(0, 256, (1, 32, 28, 28), dtype=u8)
    c2 = rng.integers(0, 256, (1, 64, 28, 28), dtype=u8)
    yield ("QLinearConcat 32+64 ch 28x28", session(
        "QLinearConcat", [("ys", f32(0.05)), ("yz", u8(128)), ("a", c1), ("sa", f32(0.04)), ("za", u8(120)),
                          ("b", c2), ("sb", f32(0.05)), ("zb", u8(128))], {"ys", "yz", "sa", "za", "sb", "zb"}, u8,
        {"axis": 1}),
        lambda: lowp.qlinear_concat([c1, c2], [f32(0.04), f32(0.05)], [u8(120), u8(128)], f32(0.05), u8(128), axis=1))
    r = rng.integers(0, 256, (1, 32, 28, 28), dtype=u8)
    yield ("Resize linear u8 32x28x28 x2", session("Resize", [("x", r), ("roi", None),
                                                              ("sc", np.array([1, 1, 2, 2], f32))], {"sc"}, u8,
                                                   {"mode": "linear"}, domain=""),
           lambda: lowp.resize(r, scales=[1, 1, 2, 2], mode="linear"))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    reps, budget = (5, 0.005) if args.quick else (25, 0.02)
    rng = np.random.default_rng(0)
    print(f"lowp {lowp.__version__}  eltwise kernel: {lowp._lowp._eltwise_kernel()}  "
          f"LUT kernel: {lowp._lowp._lut_kernel()}  onnxruntime {ort.__version__}  (1 thread, best of {reps})")
    print(f"{'op':34s} {'ORT us':>10s} {'lowp us':>10s} {'lowp/ORT':>9s}  same")
    for name, o, lp in cases(rng):
        same = np.array_equal(np.asarray(o()), np.asarray(lp()))
        to, tl = best_us(o, reps, budget), best_us(lp, reps, budget)
        print(f"{name:34s} {to:10.1f} {tl:10.1f} {tl / to:9.2f}  {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
