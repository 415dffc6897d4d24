"""Whole test set, end to end: lowp int8 vs onnxruntime int8 vs onnxruntime float32.

Every full-size network of tests/models/builders.py (MobileNetV2/V3-Small/V3-Large, ResNet-18/50,
EfficientNet-B0, ShuffleNetV2, SqueezeNet 1.1, a YOLOv8n-style detector at 320x320; random weights,
realistic BatchNorm statistics), quantized by onnxruntime's quantize_static in the requested variants,
run at batch 1 on N threads. The three runtimes are timed interleaved in one process (run i of each
back to back) so machine noise hits them alike; the table gives medians (p50) and minima in ms and the
ratios the issue's targets are stated in. `exact` = output values where lowp and onnxruntime int8 differ.

Usage (fresh checkout, after tools/dev_build.sh build/dev or pip install .):
  LOWP_INTREE=1 python bench/bench_models.py [--dir /tmp/models_all] [--models all|a,b]
      [--variants QDQ_pc_u8,QDQ_pc_s8,QDQ_pt_u8,QOperator_pc_u8|all] [--threads 1] [--runs 50] [--out table.md]
Missing models are built into --dir first (float export + quantize_static, ~1 min for all, QDQ_pc_u8).
"""
from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time

import numpy as np

_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.environ.get("LOWP_INTREE") == "1":
    sys.path.insert(0, os.path.join(_root, "python"))
sys.path.insert(0, os.path.join(_root, "tests"))

from models import builders as B  # noqa: E402


def _ort(path, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def bench_one(fp, qp, shape, threads, runs, warmup=3):
    import lowp

    x = B.inputs(1, seed=7, shape=shape)
    ls = lowp.InferenceSession(qp, num_threads=threads)
    oq, of = _ort(qp, threads), _ort(fp, threads)
    name = ls.get_inputs()[0].name
    feeds = {name: x}
    runners = {"lowp": lambda: ls.run(None, feeds), "ort_int8": lambda: oq.run(None, feeds),
               "ort_f32": lambda: of.run(None, feeds)}
    outs = {}
    for k, fn in runners.items():
        for _ in range(warmup):
            outs[k] = fn()
    mism = sum(int(np.count_nonzero(np.asarray(a) != np.asarray(b))) for a, b in zip(outs["lowp"], outs["ort_int8"]))
    total = sum(int(np.asarray(a).size) for a in outs["lowp"])
    times = {k: [] for k in runners}
    for _ in range(runs):
        for k, fn in runners.items():
            t = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t) * 1e3)
    return {k: (float(np.median(v)), float(np.min(v))) for k, v in times.items()}, mism, total


def main(argv=None):
    ap = argparse.ArgumentParser(description="lowp int8 vs onnxruntime int8 vs onnxruntime float32, whole test set")
    ap.add_argument("--dir", default="/tmp/models_all", help="model cache directory (built if missing)")
    ap.add_argument("--models", default="all", help=f"comma list or 'all' ({','.join(B.FULL)})")
    ap.add_argument("--variants", default="QDQ_pc_u8", help=f"comma list or 'all' ({','.join(B.VARIANTS)})")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--out", help="also write the markdown table to this file")
    a = ap.parse_args(argv)
    models = B.FULL if a.models == "all" else a.models.split(",")
    variants = B.VARIANTS if a.variants == "all" else a.variants.split(",")
    os.makedirs(a.dir, exist_ok=True)
    try:
        commit = subprocess.run(["git", "-C", _root, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip() or "?"
    except OSError:
        commit = "?"
    head = [f"`python bench/bench_models.py --models {a.models} --variants {a.variants} --threads {a.threads} "
            f"--runs {a.runs}` — {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}, "
            f"load {os.getloadavg()[0]:.2f}", "",
            "| model | variant | lowp int8 p50 (min) | ORT int8 p50 (min) | ORT f32 p50 (min) | lowp / ORT int8 "
            "p50 (min) | ORT f32 / lowp p50 (min) | ORT f32 / ORT int8 p50 (min) | exact |",
            "|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(head), flush=True)
    rows = []
    for m in models:
        for v in variants:
            fp, qp = B.build_full_quantized(m, a.dir, **B.parse_variant(v))
            t, mism, total = bench_one(fp, qp, B.full_shape(m), a.threads, a.runs)
            (lp, lm), (qp50, qm), (fp50, fm) = t["lowp"], t["ort_int8"], t["ort_f32"]
            ex = "0" if mism == 0 else f"{mism}/{total}"
            row = (f"| {m} | {v} | {lp:.2f} ({lm:.2f}) | {qp50:.2f} ({qm:.2f}) | {fp50:.2f} ({fm:.2f}) | "
                   f"{lp / qp50:.2f}x ({lm / qm:.2f}x) | {fp50 / lp:.2f}x ({fm / lm:.2f}x) | "
                   f"{fp50 / qp50:.2f}x ({fm / qm:.2f}x) | {ex} |")
            rows.append(row)
            print(row, flush=True)
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(head + rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
