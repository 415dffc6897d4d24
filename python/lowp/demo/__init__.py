"""`lowp demo`: the bundled quantized MNIST CNN on 1,000 real test digits, lowp vs onnxruntime.

Files (built by tools/make_demo_model.py): mnist_cnn_int8.onnx (int8 QDQ from onnxruntime's
quantize_static, per-channel int8 weights, uint8 activations) and mnist_test.npz (1,000 real MNIST
digits the model never saw in training, with labels).
"""
from __future__ import annotations

import os
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "mnist_cnn_int8.onnx")
DATA_PATH = os.path.join(HERE, "mnist_test.npz")


def load_data():
    """(images float32 [N,1,28,28] in [0,1], labels int64 [N])."""
    with np.load(DATA_PATH) as d:
        return d["images"].astype(np.float32) / np.float32(255.0), d["labels"].astype(np.int64)


def _latency(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)) * 1e3


def run_demo(num_threads=1, batch=100, reps=20, out=print) -> dict:
    """Accuracy, agreement with onnxruntime and latency; both runtimes get `num_threads` threads."""
    import lowp

    x, labels = load_data()
    sess = lowp.InferenceSession(MODEL_PATH, num_threads=num_threads)
    name = sess.get_inputs()[0].name
    out(f"lowp {lowp.__version__} demo: MNIST CNN, int8 QDQ ({os.path.getsize(MODEL_PATH) // 1024} KB), "
        f"{len(x)} real test digits, kernel {lowp.current_kernel()}")
    t0 = time.perf_counter()
    y = np.concatenate([sess.run(None, {name: x[i:i + batch]})[0] for i in range(0, len(x), batch)])
    t_all = time.perf_counter() - t0
    acc = float((y.argmax(1) == labels).mean())
    res = {"accuracy": acc, "n": len(x)}
    out(f"lowp accuracy: {acc * 100:.2f}% ({int((y.argmax(1) == labels).sum())}/{len(x)})  "
        f"[{len(x) / t_all:.0f} images/s in batches of {batch}]")
    try:
        import onnxruntime as ort
    except ImportError:
        ort = None
        out("onnxruntime is not installed: skipping the comparison (pip install onnxruntime)")
    lat = {"lowp_b1": _latency(lambda: sess.run(None, {name: x[:1]}), reps),
           f"lowp_b{batch}": _latency(lambda: sess.run(None, {name: x[:batch]}), max(3, reps // 4))}
    if ort is not None:
        so = ort.SessionOptions()
        so.intra_op_num_threads = num_threads or 0
        osess = ort.InferenceSession(MODEL_PATH, so, providers=["CPUExecutionProvider"])
        r = np.concatenate([osess.run(None, {name: x[i:i + batch]})[0] for i in range(0, len(x), batch)])
        same_pred = int((r.argmax(1) == y.argmax(1)).sum())
        exact = int(np.all(r == y, axis=1).sum())
        mism = int((r.view(np.uint32) != y.view(np.uint32)).sum())
        ort_acc = float((r.argmax(1) == labels).mean())
        res.update(ort_accuracy=ort_acc, same_predictions=same_pred, bit_exact_images=exact, mismatching_values=mism)
        out(f"onnxruntime {ort.__version__} accuracy: {ort_acc * 100:.2f}%")
        out(f"same predictions as onnxruntime: {same_pred}/{len(x)};  bit-exact outputs: {exact}/{len(x)} images "
            f"({mism} mismatching values of {r.size})")
        from lowp._ortcheck import NOTE, ort_int8_saturates

        res["ort_int8_saturates"] = ort_int8_saturates(ort)
        if res["ort_int8_saturates"]:
            out(NOTE)
        lat["ort_b1"] = _latency(lambda: osess.run(None, {name: x[:1]}), reps)
        lat[f"ort_b{batch}"] = _latency(lambda: osess.run(None, {name: x[:batch]}), max(3, reps // 4))
    out(f"latency ({num_threads or 'all'} thread(s), median of {reps} runs):")
    for b in (1, batch):
        line = f"  batch {b:>3}: lowp {lat[f'lowp_b{b}']:.3f} ms"
        if f"ort_b{b}" in lat:
            line += f" | onnxruntime {lat[f'ort_b{b}']:.3f} ms | lowp/ort = {lat[f'lowp_b{b}'] / lat[f'ort_b{b}']:.2f}x"
        out(line)
    res["latency_ms"] = lat
    return res
