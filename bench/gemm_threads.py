"""`python -m bench.gemm_threads [--kernel K] [--shapes MxNxK ...]`: lowp's 2-thread / 1-thread
scaling through the Python API, with no other runtime in the process.

`python -m bench.gemm` interleaves onnxruntime / PyTorch samples, whose worker threads spin after
each sample and slow lowp's 2-thread samples (docs/PERFORMANCE.md); this one times lowp alone:
blocks of 100 calls with 1 and with 2 threads, alternated 6 times in one process (one untimed call
before each block), per-call medians, int32 (`matmul_integer`) and uint8 (`qlinear_matmul`) output.
Do not run it under `chrt -f`: with SCHED_FIFO the pool's worker sometimes never takes its task.
Uses the in-tree build when LOWP_INTREE=1.
"""
import argparse
import os
import sys
import time

import numpy as np

_py = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python")
if os.environ.get("LOWP_INTREE") == "1" and _py not in sys.path:
    sys.path.insert(0, _py)

import lowp  # noqa: E402

SHAPES = ["64x1024x1024", "256x256x2304", "1024x1024x1024", "3136x64x576", "196x1280x320"]


def scaling(shape, kernel, out, rounds=6, calls=100):
    M, N, K = map(int, shape.split("x"))
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (M, K), dtype=np.uint8)
    pb = lowp.PackedMatrix(rng.integers(-128, 128, (K, N), dtype=np.int8))

    def call(t):
        if out == "i32":
            return lowp.matmul_integer(a, pb, num_threads=t)
        return lowp.qlinear_matmul(a, 0.02, 3, pb, 0.01, None, 40.0, 128, num_threads=t)

    gops = {1: [], 2: []}
    with lowp.use_kernel(kernel):
        for _ in range(rounds):
            for t in (1, 2):
                call(t)
                ts = []
                for _ in range(calls):
                    s = time.perf_counter()
                    call(t)
                    ts.append(time.perf_counter() - s)
                gops[t].append(2.0 * M * N * K / float(np.median(ts)) / 1e9)
    return float(np.median(gops[1])), float(np.median(gops[2]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", default=lowp.kernels()[0], help="lowp kernel (default: the dispatched one)")
    ap.add_argument("--shapes", nargs="+", default=SHAPES)
    args = ap.parse_args(argv)
    print(f"kernel {args.kernel}, GOP/s (median of 6 blocks of 100 calls), 1 thread / 2 threads")
    print("| M×N×K | int32 1t / 2t | scaling | uint8 1t / 2t | scaling |")
    print("|---|---|---|---|---|")
    for shape in args.shapes:
        i1, i2 = scaling(shape, args.kernel, "i32")
        u1, u2 = scaling(shape, args.kernel, "u8")
        print(f"| {shape} | {i1:.0f} / {i2:.0f} | {i2 / i1:.2f}x | {u1:.0f} / {u2:.0f} | {u2 / u1:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
