"""Conv / depthwise / FC layer benchmark: every distinct layer shape of MobileNetV2 (224x224) and
ResNet-18, lowp vs onnxruntime single-node QLinearConv (uint8 activations, int8 per-channel
weights), same process, same thread count, interleaved repetitions (min over repetitions).

    python -m lowp.benchmarks.conv [--threads 1] [--net mobilenetv2,resnet18] [--min-time 0.3]

ORT is timed twice: the standard QLinearConv (NCHW, what a single-node ONNX model runs) and
com.microsoft QLinearConv with channels_last=1 (ORT's NHWC kernel, no layout transposes). lowp is
timed NHWC with prepacked weights (its graph-executor form). Outputs are checked bit-exact.
FC layers: ORT QLinearMatMul (per-tensor) vs lowp.QLinearFullyConnected.
"""
from __future__ import annotations

import argparse
import collections
import sys
import time

import numpy as np


def mobilenetv2_layers():
    L = [("conv", 3, 32, 224, 3, 2, 1)]
    cin, h = 32, 112
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                       (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hid = cin * t
            if t != 1:
                L.append(("conv", cin, hid, h, 1, 1, 1))
            L.append(("dw", hid, hid, h, 3, stride, hid))
            h = (h + 2 - 3) // stride + 1
            L.append(("conv", hid, c, h, 1, 1, 1))
            cin = c
    L.append(("conv", 320, 1280, 7, 1, 1, 1))
    L.append(("fc", 1280, 1000, 1, 1, 1, 1))
    return L


def resnet18_layers():
    L = [("conv", 3, 64, 224, 7, 2, 1)]
    cin, h = 64, 56
    for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        for i in range(2):
            s = stride if i == 0 else 1
            h2 = (h + 2 - 3) // s + 1
            L.append(("conv", cin, cout, h, 3, s, 1))
            L.append(("conv", cout, cout, h2, 3, 1, 1))
            if s != 1 or cin != cout:
                L.append(("conv", cin, cout, h, 1, s, 1))
            cin, h = cout, h2
    L.append(("fc", 512, 1000, 1, 1, 1, 1))
    return L


NETS = {"mobilenetv2": mobilenetv2_layers, "resnet18": resnet18_layers}


def _ort_conv_session(ort, w, ws, bias, k, s, g, nhwc):
    from onnx import TensorProto, helper, numpy_helper

    M = w.shape[0]
    p = (k - 1) // 2
    inits = [numpy_helper.from_array(np.array(0.02, np.float32), "xs"), numpy_helper.from_array(np.array(128, np.uint8), "xz"),
             numpy_helper.from_array(w, "w"), numpy_helper.from_array(ws, "ws"),
             numpy_helper.from_array(np.zeros(M, np.int8), "wz"), numpy_helper.from_array(np.array(0.05, np.float32), "ys"),
             numpy_helper.from_array(np.array(7, np.uint8), "yz"), numpy_helper.from_array(bias, "b")]
    attrs = dict(strides=[s, s], pads=[p] * 4, group=g, kernel_shape=[k, k])
    names = ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"]
    if nhwc:
        node = helper.make_node("QLinearConv", names, ["y"], domain="com.microsoft", channels_last=1, **attrs)
        ops = [helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)]
    else:
        node = helper.make_node("QLinearConv", names, ["y"], **attrs)
        ops = [helper.make_opsetid("", 13)]
    gr = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.UINT8, None)],
                           [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], inits)
    m = helper.make_model(gr, opset_imports=ops)
    m.ir_version = 8
    return m


def _ort_fc_model(w_kn):
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(np.array(0.02, np.float32), "xs"), numpy_helper.from_array(np.array(128, np.uint8), "xz"),
             numpy_helper.from_array(w_kn, "w"), numpy_helper.from_array(np.array(0.004, np.float32), "ws"),
             numpy_helper.from_array(np.array(0, np.int8), "wz"), numpy_helper.from_array(np.array(0.5, np.float32), "ys"),
             numpy_helper.from_array(np.array(7, np.uint8), "yz")]
    node = helper.make_node("QLinearMatMul", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"])
    gr = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.UINT8, None)],
                           [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], inits)
    m = helper.make_model(gr, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def _timeit(fns, min_time, min_reps=5):
    """Interleaved repetitions; returns the min time (seconds) of each fn."""
    best = [float("inf")] * len(fns)
    reps = 0
    t_start = time.perf_counter()
    while reps < min_reps or time.perf_counter() - t_start < min_time:
        for i, f in enumerate(fns):
            t0 = time.perf_counter()
            f()
            best[i] = min(best[i], time.perf_counter() - t0)
        reps += 1
        if reps > 2000:
            break
    return best


def bench_layer(kind, cin, cout, h, k, s, g, threads, min_time, ort):
    import lowp

    rng = np.random.default_rng(cin * 7 + cout * 13 + h + k + s)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    if kind == "fc":
        x = rng.integers(0, 256, (1, cin)).astype(np.uint8)
        w = rng.integers(-127, 128, (cout, cin)).astype(np.int8)
        sess = ort.InferenceSession(_ort_fc_model(np.ascontiguousarray(w.T)).SerializeToString(), so,
                                    providers=["CPUExecutionProvider"])
        fc = lowp.QLinearFullyConnected(w, np.float32(0.004), np.int8(0))
        run_l = lambda: fc(x, np.float32(0.02), np.uint8(128), np.float32(0.5), np.uint8(7), num_threads=threads)  # noqa
        run_o = lambda: sess.run(None, {"x": x})[0]  # noqa
        exact = np.array_equal(run_l(), run_o())
        tl, to = _timeit([run_l, run_o], min_time)
        return tl, to, float("nan"), exact, lowp.current_kernel()
    x = rng.integers(0, 256, (1, cin, h, h)).astype(np.uint8)
    xh = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    w = rng.integers(-127, 128, (cout, cin // g, k, k)).astype(np.int8)
    ws = rng.uniform(0.002, 0.01, cout).astype(np.float32)
    bias = rng.integers(-2000, 2000, cout).astype(np.int32)
    s1 = ort.InferenceSession(_ort_conv_session(ort, w, ws, bias, k, s, g, False).SerializeToString(), so,
                              providers=["CPUExecutionProvider"])
    s2 = ort.InferenceSession(_ort_conv_session(ort, w, ws, bias, k, s, g, True).SerializeToString(), so,
                              providers=["CPUExecutionProvider"])
    p = (k - 1) // 2
    conv = lowp.QLinearConv(w, ws, np.zeros(cout, np.int8), bias, strides=(s, s), pads=(p, p, p, p), group=g,
                            layout="NHWC")
    run_l = lambda: conv(xh, np.float32(0.02), np.uint8(128), np.float32(0.05), np.uint8(7), num_threads=threads)  # noqa
    run_o = lambda: s1.run(None, {"x": x})[0]  # noqa
    run_n = lambda: s2.run(None, {"x": xh})[0]  # noqa
    exact = np.array_equal(run_l().transpose(0, 3, 1, 2), run_o())
    tl, to, tn = _timeit([run_l, run_o, run_n], min_time)
    return tl, to, tn, exact, conv.packed().kernel


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--net", default="mobilenetv2,resnet18")
    ap.add_argument("--min-time", type=float, default=0.3, help="seconds of interleaved repetitions per layer")
    args = ap.parse_args(argv)
    import onnxruntime as ort

    import lowp

    print(f"lowp default GEMM kernel {lowp.current_kernel()} (per-layer choice in the kernel column), "
          f"depthwise kernel {lowp.depthwise_kernels()[0]}, "
          f"onnxruntime {ort.__version__}, threads {args.threads}")
    all_ok = True
    for net in args.net.split(","):
        layers = NETS[net]()
        counts = collections.Counter(layers)
        print(f"\n## {net}: {len(layers)} layers, {len(counts)} distinct shapes")
        print(f"{'kind':5} {'Cin':>5} {'Cout':>5} {'HxW':>7} {'k':>2} {'s':>2} {'n':>2} {'lowp us':>9} {'ORT us':>9} "
              f"{'ORT-NHWC':>9} {'lowp/ORT':>8} {'lowp/NHWC':>9} exact kernel")
        tot = collections.defaultdict(float)
        for key, n in counts.items():
            kind, cin, cout, h, k, s, g = key
            tl, to, tn, exact, kern = bench_layer(kind, cin, cout, h, k, s, g, args.threads, args.min_time, ort)
            all_ok &= exact
            tot["lowp"] += n * tl
            tot["ort"] += n * to
            tot["nhwc"] += n * (tn if tn == tn else to)
            if kind == "dw":
                tot["dw_lowp"] += n * tl
                tot["dw_ort"] += n * to
                tot["dw_nhwc"] += n * tn
            print(f"{kind:5} {cin:5d} {cout:5d} {h:3d}x{h:<3d} {k:2d} {s:2d} {n:2d} {tl * 1e6:9.1f} {to * 1e6:9.1f} "
                  f"{tn * 1e6:9.1f} {tl / to:8.2f} {tl / tn if tn == tn else float('nan'):9.2f} {'yes' if exact else 'NO ':5} {kern}")
            sys.stdout.flush()
        print(f"SUM {net}: lowp {tot['lowp'] * 1e3:.2f} ms, ORT {tot['ort'] * 1e3:.2f} ms (ratio {tot['lowp'] / tot['ort']:.2f}), "
              f"ORT-NHWC {tot['nhwc'] * 1e3:.2f} ms (ratio {tot['lowp'] / tot['nhwc']:.2f})")
        if tot["dw_ort"]:
            print(f"SUM {net} depthwise: lowp {tot['dw_lowp'] * 1e3:.2f} ms, ORT {tot['dw_ort'] * 1e3:.2f} ms "
                  f"(ratio {tot['dw_lowp'] / tot['dw_ort']:.2f}), ORT-NHWC {tot['dw_nhwc'] * 1e3:.2f} ms "
                  f"(ratio {tot['dw_lowp'] / tot['dw_nhwc']:.2f})")
    print("\nall outputs bit-exact vs onnxruntime:", "yes" if all_ok else "NO")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
