"""Native executor vs the Python step loop vs onnxruntime, one process, interleaved run by run.

    PYTHONPATH=python python3 tools/bench_executor.py MODEL.onnx THREADS RUNS

Three sessions on the same model: lowp (native programs), lowp with native=False (the Python step
loop), onnxruntime. Outputs of the two lowp paths are asserted bit-identical first.
"""
import sys
import time

import numpy as np

import lowp


def main(path, threads, runs):
    import onnxruntime as ort

    nat = lowp.InferenceSession(path, num_threads=threads)
    py = lowp.InferenceSession(path, num_threads=threads, native=False)
    ort.set_default_logger_severity(3)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    o = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    inp = nat.get_inputs()[0]
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in inp.shape]
    feed = {inp.name: np.random.default_rng(0).standard_normal(shape).astype(np.float32)}
    fs = {"lowp native": lambda: nat.run(None, feed), "lowp python": lambda: py.run(None, feed),
          "onnxruntime": lambda: o.run(None, feed)}
    a, b = fs["lowp native"](), fs["lowp python"]()
    assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b)), "native and Python paths differ"
    for f in fs.values():
        for _ in range(10):
            f()
    times = {k: [] for k in fs}
    for _ in range(runs):
        for k, f in fs.items():
            t = time.perf_counter()
            f()
            times[k].append((time.perf_counter() - t) * 1e3)
    ref_min, ref_med = min(times["onnxruntime"]), float(np.median(times["onnxruntime"]))
    print(f"{path.split('/')[-1]} threads={threads} runs={runs}")
    for k, v in times.items():
        v = np.array(v)
        print(f"  {k:12s} min {v.min():6.3f}  p50 {np.median(v):6.3f} ms   vs onnxruntime: min "
              f"{v.min() / ref_min:.3f}x  p50 {np.median(v) / ref_med:.3f}x")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1, int(sys.argv[3]) if len(sys.argv) > 3 else 100)
