"""GEMM microbenchmark: lowp against onnxruntime, PyTorch (fbgemm) and float32 BLAS, in one run.

    lowp bench gemm [--threads 1 2] [--repeat R] [--shapes MxNxK ...] [--out DIR] [--quick]
    python -m bench.gemm ...          (same thing, from a source checkout)

For every shape (M, N, K) and thread count it

1. builds the inputs once: uint8 activations A (M x K, zero point 117) and int8 weights B
   (K x N, zero point 0, the usual symmetric weights), float32 copies for the float peers;
2. prepares every implementation with its weights prepacked / stored as initializers:
   lowp (each kernel, ``PackedMatrix``; int32 ``matmul_integer`` and uint8 ``qlinear_matmul``),
   onnxruntime MatMulInteger and QLinearMatMul (single-node models, weights as initializers,
   ``intra_op_num_threads`` = threads, sequential execution), PyTorch's prepacked quantized
   linear on the fbgemm engine, numpy float32 matmul (BLAS threads limited with threadpoolctl)
   and onnxruntime float32 MatMul;
3. checks exactness before timing: lowp's int32 result must equal onnxruntime MatMulInteger bit
   for bit, and lowp's uint8 result (rounding="half_even") is compared with QLinearMatMul;
4. times them interleaved (every repeat visits all implementations, in a rotating order, so
   that slow phases of a noisy machine hit everyone alike), after a warm-up; each sample runs
   enough calls to last ``--min-time``; the median of the samples is reported.

GOP/s = 2*M*N*K / t. "% peak" is relative to this CPU's measured int8 peak (``_lowp.peak_probe``:
AMX tdpbusd / AVX-512 VNNI vpdpbusd / AVX2 vpmaddwd loops, the best one the CPU has, on as many
threads as the run uses; the markdown also gives % of the second-best, e.g. the VNNI peak). "x best" is the ratio to the best
integer peer (onnxruntime MatMulInteger / QLinearMatMul, PyTorch) for that shape and thread count.
Missing optional peers (onnxruntime, torch, matplotlib, threadpoolctl) are skipped with a note.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

# The shapes of the issue: classifier heads, LLM-ish GEMV, transformer and conv (im2col) GEMMs.
DEFAULT_SHAPES = [
    (1, 1000, 1280),
    (1, 4096, 4096),
    (64, 1024, 1024),
    (256, 256, 2304),
    (1024, 1024, 1024),
    (3136, 64, 576),
    (12544, 32, 27),
    (196, 1280, 320),
]

OVERHEAD_SHAPE = (1, 16, 64)  # per-call overhead probe
A_ZERO_POINT = 117
B_ZERO_POINT = 0
A_SCALE = np.float32(0.02)
B_SCALE = np.float32(0.004)
Y_ZERO_POINT = 128

LOWP = "lowp"
INT8_PEER = "int8 peer"
FP32_PEER = "fp32 peer"


# --------------------------------------------------------------------------- data types
@dataclass
class Impl:
    name: str          # e.g. "lowp avx512vnni i32", "ORT MatMulInteger"
    kind: str          # LOWP, INT8_PEER or FP32_PEER
    fn: Callable[[], object]
    calls: int = 1     # calls per timing sample (calibrated)
    samples: list = field(default_factory=list)


@dataclass
class Row:
    threads: int
    shape: tuple
    impl: str
    kind: str
    seconds: float      # median time of one call
    gops: float
    samples: int
    calls_per_sample: int
    spread: float       # (p75 - p25) / median of the samples, a noise indicator
    best_gops: float    # from the fastest sample (noise on a shared machine only slows samples down)


# --------------------------------------------------------------------------- helpers
def _parse_shape(s: str) -> tuple:
    parts = s.lower().replace(",", "x").split("x")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"shape {s!r} must look like MxNxK, e.g. 64x1024x1024")
    try:
        m, n, k = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"shape {s!r} must look like MxNxK with integers") from None
    if min(m, n, k) < 1:
        raise argparse.ArgumentTypeError(f"shape {s!r}: M, N and K must be >= 1")
    return (m, n, k)


def _g(x: float) -> str:
    """GOP/s with about 3-4 significant digits."""
    if x != x:
        return "nan"
    return f"{x:.1f}" if x >= 10 else (f"{x:.2f}" if x >= 0.1 else f"{x:.4f}")


def _fmt_shape(shape) -> str:
    return "{}x{}x{}".format(*shape)


def _note(notes: list, msg: str) -> None:
    notes.append(msg)
    print(f"note: {msg}", file=sys.stderr, flush=True)


def _time_sample(fn, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def _calibrate(fn, min_time: float) -> int:
    """Calls per sample so that one sample lasts about min_time (after a warm-up)."""
    fn()
    fn()
    t = min(_time_sample(fn, 1), _time_sample(fn, 1))
    if t <= 0:
        return 1000
    return max(1, min(100000, int(np.ceil(min_time / t))))


def _quartile_spread(xs) -> float:
    if len(xs) < 4:
        return float("nan")
    q = statistics.quantiles(xs, n=4)
    med = statistics.median(xs)
    return (q[2] - q[0]) / med if med > 0 else float("nan")


# --------------------------------------------------------------------------- peers
def _ort_models(M: int, N: int, K: int, b: np.ndarray, y_scale: np.float32):
    """Single-node ONNX models (bytes): MatMulInteger, QLinearMatMul, float MatMul."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    opset = [helper.make_opsetid("", 13)]

    def model(node, inputs, outputs, inits):
        g = helper.make_graph([node], "g", inputs, outputs, initializer=inits)
        m = helper.make_model(g, opset_imports=opset, producer_name="lowp-bench")
        m.ir_version = 8
        onnx.checker.check_model(m)
        return m.SerializeToString()

    a_u8 = helper.make_tensor_value_info("A", TensorProto.UINT8, [M, K])
    mmi = model(
        helper.make_node("MatMulInteger", ["A", "B", "a_zero_point", "b_zero_point"], ["Y"]),
        [a_u8], [helper.make_tensor_value_info("Y", TensorProto.INT32, [M, N])],
        [numpy_helper.from_array(b, "B"),
         numpy_helper.from_array(np.array(A_ZERO_POINT, np.uint8), "a_zero_point"),
         numpy_helper.from_array(np.array(B_ZERO_POINT, np.int8), "b_zero_point")])
    qlmm = model(
        helper.make_node("QLinearMatMul", ["A", "a_scale", "a_zero_point", "B", "b_scale", "b_zero_point",
                                           "y_scale", "y_zero_point"], ["Y"]),
        [a_u8], [helper.make_tensor_value_info("Y", TensorProto.UINT8, [M, N])],
        [numpy_helper.from_array(b, "B"),
         numpy_helper.from_array(np.array(A_SCALE, np.float32), "a_scale"),
         numpy_helper.from_array(np.array(A_ZERO_POINT, np.uint8), "a_zero_point"),
         numpy_helper.from_array(np.array(B_SCALE, np.float32), "b_scale"),
         numpy_helper.from_array(np.array(B_ZERO_POINT, np.int8), "b_zero_point"),
         numpy_helper.from_array(np.array(y_scale, np.float32), "y_scale"),
         numpy_helper.from_array(np.array(Y_ZERO_POINT, np.uint8), "y_zero_point")])
    fmm = model(
        helper.make_node("MatMul", ["A", "B"], ["Y"]),
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [M, K])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [M, N])],
        [numpy_helper.from_array(b.astype(np.float32), "B")])
    return mmi, qlmm, fmm


def _ort_session(model_bytes: bytes, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    return ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])


class _Torch:
    """PyTorch quantized linear (fbgemm), weights prepacked once."""

    def __init__(self, a: np.ndarray, b: np.ndarray, y_scale: float, threads: int):
        import torch

        self.torch = torch
        if "fbgemm" not in torch.backends.quantized.supported_engines:
            raise RuntimeError("this torch build has no fbgemm quantized engine")
        torch.backends.quantized.engine = "fbgemm"
        self.threads = threads
        x = torch._make_per_tensor_quantized_tensor(torch.from_numpy(np.ascontiguousarray(a)), float(A_SCALE),
                                                    A_ZERO_POINT)
        w = torch._make_per_tensor_quantized_tensor(torch.from_numpy(np.ascontiguousarray(b.T)), float(B_SCALE),
                                                    B_ZERO_POINT)
        self.x = x
        self.packed = torch.ops.quantized.linear_prepack(w, None)
        self.y_scale = float(y_scale)
        self.op = torch.ops.quantized.linear

    def __call__(self):
        return self.op(self.x, self.packed, self.y_scale, Y_ZERO_POINT)

    def result(self) -> np.ndarray:
        return self().int_repr().numpy()


@contextlib.contextmanager
def _blas_threads(n: int, notes: list):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        if not any("threadpoolctl" in x for x in notes):
            _note(notes, "threadpoolctl is not installed: numpy float32 matmul runs with its default BLAS threads")
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


# --------------------------------------------------------------------------- one shape
def _bench_shape(shape, threads: int, kernels: list, args, notes: list, checks: list, rng) -> list:
    import lowp
    from lowp._dispatch import _forced_kernel

    M, N, K = shape
    a = rng.integers(0, 256, size=(M, K), dtype=np.uint8)
    b = rng.integers(-128, 128, size=(K, N), dtype=np.int8)
    a_f = a.astype(np.float32)
    b_f = b.astype(np.float32)
    packed = lowp.PackedMatrix(b, B_ZERO_POINT)
    tag = f"{_fmt_shape(shape)} t={threads}"

    # y_scale that keeps the uint8 outputs spread over the range instead of clipped.
    acc = lowp.matmul_integer(a, packed, A_ZERO_POINT, num_threads=threads)
    std = float(np.std(acc.astype(np.float64))) or 1.0
    y_scale = np.float32(float(A_SCALE) * float(B_SCALE) * std / 40.0)

    impls: list[Impl] = []
    ref_i32 = ref_u8 = None

    # ---- onnxruntime
    if args.have_ort:
        mmi, qlmm, fmm = _ort_models(M, N, K, b, y_scale)
        s_mmi, s_qlmm, s_f = (_ort_session(x, threads) for x in (mmi, qlmm, fmm))
        feed_u8 = {"A": a}
        feed_f = {"A": a_f}
        ref_i32 = s_mmi.run(None, feed_u8)[0]
        ref_u8 = s_qlmm.run(None, feed_u8)[0]
        impls.append(Impl("ORT MatMulInteger", INT8_PEER, lambda s=s_mmi: s.run(None, feed_u8)))
        impls.append(Impl("ORT QLinearMatMul", INT8_PEER, lambda s=s_qlmm: s.run(None, feed_u8)))
    else:
        s_f = None

    # ---- lowp, every kernel, int32 and uint8 outputs
    y_zp = np.uint8(Y_ZERO_POINT)
    default_kernel = lowp.current_kernel()
    for kname in kernels:
        packed.packed(kname)  # pack now, not inside the timed region
        forced = None if kname == default_kernel else kname

        def f_i32(k=forced):
            tok = _forced_kernel.set(k) if k else None  # as lowp.use_kernel(k), minus its name checks
            try:
                return lowp.matmul_integer(a, packed, A_ZERO_POINT, num_threads=threads)
            finally:
                if tok is not None:
                    _forced_kernel.reset(tok)

        def f_u8(k=forced):
            tok = _forced_kernel.set(k) if k else None
            try:
                return lowp.qlinear_matmul(a, A_SCALE, A_ZERO_POINT, packed, B_SCALE, None, y_scale, y_zp,
                                           rounding="half_even", num_threads=threads)
            finally:
                if tok is not None:
                    _forced_kernel.reset(tok)

        y32 = f_i32()
        y8 = f_u8()
        if ref_i32 is not None:
            ok = y32.dtype == ref_i32.dtype and y32.shape == ref_i32.shape and bool(np.array_equal(y32, ref_i32))
            bad = int(np.count_nonzero(y32 != ref_i32)) if y32.shape == ref_i32.shape else y32.size
            checks.append(dict(shape=tag, what=f"lowp {kname} matmul_integer == ORT MatMulInteger", exact=ok,
                               mismatches=bad, total=int(y32.size)))
            if not ok:
                _note(notes, f"MISMATCH {tag}: lowp {kname} matmul_integer differs from ORT MatMulInteger "
                             f"in {bad}/{y32.size} elements")
            diff = np.abs(y8.astype(np.int32) - ref_u8.astype(np.int32))
            n_bad = int(np.count_nonzero(diff))
            checks.append(dict(shape=tag, what=f"lowp {kname} qlinear_matmul(half_even) == ORT QLinearMatMul",
                               exact=n_bad == 0, mismatches=n_bad, total=int(y8.size),
                               max_abs_diff=int(diff.max()) if diff.size else 0))
            if n_bad:
                _note(notes, f"{tag}: lowp {kname} qlinear_matmul differs from ORT QLinearMatMul in "
                             f"{n_bad}/{y8.size} elements (max |diff| {int(diff.max())})")
        impls.append(Impl(f"lowp {kname} i32", LOWP, f_i32))
        impls.append(Impl(f"lowp {kname} u8", LOWP, f_u8))

    # ---- PyTorch quantized linear (fbgemm)
    if args.have_torch:
        try:
            with warnings.catch_warnings():  # quantized tensor creation is deprecated (still the fbgemm path)
                warnings.simplefilter("ignore")
                tq = _Torch(a, b, y_scale, threads)
            if ref_u8 is not None:
                diff = np.abs(tq.result().astype(np.int32) - ref_u8.astype(np.int32))
                checks.append(dict(shape=tag, what="torch fbgemm quantized.linear vs ORT QLinearMatMul (info)",
                                   exact=not diff.any(), mismatches=int(np.count_nonzero(diff)), total=int(diff.size),
                                   max_abs_diff=int(diff.max()) if diff.size else 0))

            impls.append(Impl("torch fbgemm qlinear", INT8_PEER, tq))
        except Exception as e:  # a peer failing must not stop the benchmark
            _note(notes, f"{tag}: PyTorch quantized linear skipped ({type(e).__name__}: {e})")

    # ---- float32 peers
    if args.fp32:
        impls.append(Impl("numpy f32 matmul", FP32_PEER, lambda: a_f @ b_f))  # BLAS threads: see run()
        if s_f is not None:
            impls.append(Impl("ORT f32 MatMul", FP32_PEER, lambda s=s_f: s.run(None, {"A": a_f})))

    # ---- time, interleaved
    for im in impls:
        im.calls = _calibrate(im.fn, args.min_time)
    for rep in range(args.repeat):
        k = rep % len(impls)
        for im in impls[k:] + impls[:k]:
            time.sleep(args.settle)  # let the previous peer's spinning worker threads park
            im.samples.append(_time_sample(im.fn, im.calls))

    ops = 2.0 * M * N * K
    rows = []
    for im in impls:
        med = statistics.median(im.samples)
        rows.append(Row(threads, tuple(shape), im.name, im.kind, med, ops / med * 1e-9, len(im.samples), im.calls,
                        _quartile_spread(im.samples), ops / min(im.samples) * 1e-9))
    return rows


# --------------------------------------------------------------------------- reporting
def _best(rows, kinds, attr: str = "gops") -> float:
    vals = [getattr(r, attr) for r in rows if r.kind in kinds]
    return max(vals) if vals else float("nan")


def _print_table(rows_t, threads: int, peak: float) -> None:
    print(f"\n== {threads} thread(s); measured int8 peak {peak:.0f} GOP/s (%peak below is of this) ==")
    hdr = f"{'shape MxNxK':>16} {'implementation':<26} {'ms':>9} {'GOP/s':>8} {'%peak':>6} {'x best':>7} {'iqr':>5}"
    print(hdr)
    print("-" * len(hdr))
    for shape in dict.fromkeys(r.shape for r in rows_t):
        rs = [r for r in rows_t if r.shape == shape]
        best_peer = _best(rs, (INT8_PEER,))
        for r in rs:
            ratio = r.gops / best_peer if best_peer == best_peer else float("nan")
            print(f"{_fmt_shape(shape):>16} {r.impl:<26} {r.seconds * 1e3:9.3f} {_g(r.gops):>8} "
                  f"{100 * r.gops / peak:5.1f}% {ratio:6.2f}x {r.spread:5.2f}")
        print()


def _markdown(rows, peaks: dict, meta: dict, notes: list, checks: list, overhead=()) -> str:
    out = ["# lowp GEMM microbenchmark", ""]
    out.append(f"- command: `{meta['command']}`")
    out.append(f"- date (UTC): {meta['date']}; lowp {meta['lowp_version']} commit `{meta['commit']}`")
    out.append(f"- CPU: {meta['cpu']}; {meta['ncpu']} logical CPUs; kernels timed: {', '.join(meta['kernels'])}")
    out.append(f"- peers: {', '.join(meta['peers'])}")
    out.append("- measured int8 peak (GOP/s, 2 ops/MAC): "
               + "; ".join(f"{t} thread(s): " + ", ".join(f"{isa} {v:.0f}" for isa, v in p.items())
                           for t, p in peaks.items()))
    out.append(f"- {meta['repeat']} interleaved repeats per shape, median; each sample >= {meta['min_time'] * 1e3:.0f} ms")
    out.append("")
    for threads in sorted({r.threads for r in rows}):
        rt = [r for r in rows if r.threads == threads]
        peak = max(peaks[threads].values()) if peaks.get(threads) else float("nan")
        impls = list(dict.fromkeys(r.impl for r in rt))
        out.append(f"## {threads} thread(s) — GOP/s (2·M·N·K / median time)")
        out.append("")
        second = [isa for isa in peaks.get(threads, {}) if peaks[threads][isa] < peak]
        second = second[0] if second else None  # e.g. the vector (VNNI) peak when AMX is the best
        out.append("| M×N×K | " + " | ".join(impls) + " | best lowp % of int8 peak"
                   + (f" | % of {second} peak" if second else "") + " | best lowp ÷ best int8 peer "
                   "| best lowp ÷ best peer (incl. fp32) | same ÷ int8 peer, fastest samples |")
        out.append("|---|" + "---:|" * (len(impls) + 4 + (1 if second else 0)))
        for shape in dict.fromkeys(r.shape for r in rt):
            rs = {r.impl: r for r in rt if r.shape == shape}
            cells = [_g(rs[i].gops) if i in rs else "—" for i in impls]
            lw = _best(rs.values(), (LOWP,))
            bp = _best(rs.values(), (INT8_PEER,))
            ba = _best(rs.values(), (INT8_PEER, FP32_PEER))
            sec = f" | {100 * lw / peaks[threads][second]:.1f}%" if second else ""
            fast = _best(rs.values(), (LOWP,), "best_gops") / _best(rs.values(), (INT8_PEER,), "best_gops")
            out.append(f"| {_fmt_shape(shape)} | " + " | ".join(cells) +
                       f" | {100 * lw / peak:.1f}%{sec} | {lw / bp:.2f}× | {lw / ba:.2f}× | {fast:.2f}× |")
        out.append("")
    if checks:
        n_exact = sum(1 for c in checks if c["exact"] and c["what"].startswith("lowp"))
        n_lowp = sum(1 for c in checks if c["what"].startswith("lowp"))
        out.append(f"## Exactness checks (before timing): {n_exact}/{n_lowp} lowp checks bit-exact vs onnxruntime")
        out.append("")
        out.append("| check | shape × thread runs | mismatching elements | max abs diff |")
        out.append("|---|---:|---:|---:|")
        for what in dict.fromkeys(c["what"] for c in checks):
            cs = [c for c in checks if c["what"] == what]
            bad = sum(c["mismatches"] for c in cs)
            tot = sum(c["total"] for c in cs)
            mad = max(c.get("max_abs_diff", 0 if c["exact"] else "?") for c in cs)
            out.append(f"| {what} | {len(cs)} | {bad}/{tot} | {mad} |")
        failed = [c for c in checks if not c["exact"]]
        for c in failed:
            out.append(f"- differs: {c['shape']}: {c['what']}: {c['mismatches']}/{c['total']}")
        out.append("")
    if overhead:
        out.append(f"## Per-call overhead: median µs per call at {_fmt_shape(OVERHEAD_SHAPE)}, 1 thread")
        out.append("")
        out.append("| " + " | ".join(r.impl for r in overhead) + " |")
        out.append("|" + "---:|" * len(overhead))
        out.append("| " + " | ".join(f"{r.seconds * 1e6:.1f}" for r in overhead) + " |")
        out.append("")
    if notes:
        out.append("## Notes")
        out.append("")
        out.extend(f"- {n}" for n in notes)
        out.append("")
    return "\n".join(out)


def _plot(rows, peaks: dict, path: str, notes: list) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        _note(notes, "matplotlib is not installed: no PNG plot written (pip install 'lowp[bench]')")
        return False
    thread_counts = sorted({r.threads for r in rows})
    fig, axes = plt.subplots(len(thread_counts), 1, figsize=(13, 4.2 * len(thread_counts)), squeeze=False)
    for ax, threads in zip(axes[:, 0], thread_counts):
        rt = [r for r in rows if r.threads == threads]
        shapes = list(dict.fromkeys(r.shape for r in rt))
        impls = list(dict.fromkeys(r.impl for r in rt))
        width = 0.8 / max(1, len(impls))
        for j, name in enumerate(impls):
            xs, ys = [], []
            for i, s in enumerate(shapes):
                r = next((r for r in rt if r.shape == s and r.impl == name), None)
                if r is not None:
                    xs.append(i + (j - (len(impls) - 1) / 2) * width)
                    ys.append(r.gops)
            kind = next(r.kind for r in rt if r.impl == name)
            hatch = "" if kind == LOWP else ("//" if kind == INT8_PEER else "..")
            ax.bar(xs, ys, width=width, label=name, hatch=hatch)
        for isa, v in peaks.get(threads, {}).items():
            ax.axhline(v, ls="--", lw=0.8, color="gray")
            ax.text(0.995, v, f"{isa} peak {v:.0f}", fontsize=7, va="bottom", ha="right", color="gray",
                    transform=ax.get_yaxis_transform())
        ax.set_xticks(range(len(shapes)))
        ax.set_xticklabels([_fmt_shape(s) for s in shapes], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("GOP/s (log)")
        ax.set_title(f"int8 GEMM, {threads} thread(s): M x N x K")
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=5)
        if out.returncode == 0:
            dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown (not a git checkout)"


# --------------------------------------------------------------------------- entry point
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lowp bench gemm", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, nargs="+", default=None,
                   help="thread counts to run (default: 1 and the number of CPUs)")
    p.add_argument("--repeat", type=int, default=None, help="timed samples per implementation (default 15, quick 3)")
    p.add_argument("--shapes", type=_parse_shape, nargs="+", default=None, metavar="MxNxK",
                   help="GEMM shapes (default: the 8 shapes of the issue)")
    p.add_argument("--kernels", default=None,
                   help="comma-separated lowp kernels, or 'all' (default: every available kernel but 'ref')")
    p.add_argument("--out", default=None, help="directory for gemm.md, gemm.png and gemm.json")
    p.add_argument("--quick", action="store_true", help="few repeats and short samples (smoke test)")
    p.add_argument("--min-time", type=float, default=None, help="seconds per timing sample (default 0.01)")
    p.add_argument("--no-fp32", dest="fp32", action="store_false", help="skip the float32 peers")
    p.add_argument("--no-torch", dest="torch", action="store_false", help="skip PyTorch")
    p.add_argument("--settle", type=float, default=0.002,
                   help="pause (s) before each sample so other runtimes' spinning threads go idle")
    p.add_argument("--no-overhead", dest="overhead", action="store_false",
                   help=f"skip the per-call overhead table (a {_fmt_shape(OVERHEAD_SHAPE)} GEMM)")
    p.add_argument("--seed", type=int, default=0)
    return p


def run(argv=None) -> dict:
    """Runs the benchmark; returns {'rows', 'peaks', 'checks', 'notes', 'markdown', 'files'}."""
    import lowp
    from lowp import _lowp

    args = build_parser().parse_args(argv)
    notes: list[str] = []
    if args.repeat is None:
        args.repeat = 3 if args.quick else 15
    if args.min_time is None:
        args.min_time = 0.001 if args.quick else 0.01
    if args.repeat < 1:
        raise SystemExit("lowp bench gemm: --repeat must be >= 1")
    ncpu = os.cpu_count() or 1
    threads_list = args.threads or sorted({1, ncpu})
    if min(threads_list) < 1:
        raise SystemExit("lowp bench gemm: --threads must be >= 1")
    shapes = args.shapes or DEFAULT_SHAPES
    avail = lowp.kernels()
    if args.kernels is None:
        kernels = [k for k in avail if k != "ref"] or ["ref"]
    elif args.kernels == "all":
        kernels = list(avail)
    else:
        kernels = [k.strip() for k in args.kernels.split(",") if k.strip()]
        bad = [k for k in kernels if k not in avail]
        if bad:
            raise SystemExit(f"lowp bench gemm: kernel(s) {bad} not available here (available: {avail})")

    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401

        args.have_ort = True
    except ImportError as e:
        args.have_ort = False
        _note(notes, f"onnxruntime/onnx not importable ({e}): ORT peers and the exactness check are skipped")
    args.have_torch = False
    if args.torch:
        try:
            import torch  # noqa: F401

            args.have_torch = True
        except ImportError:
            _note(notes, "torch is not installed: PyTorch quantized linear skipped (pip install 'lowp[bench]')")

    lowp.set_num_threads(max(max(threads_list), lowp.get_num_threads()))
    isas = list(_lowp.peak_probe_isas())
    if not isas:
        _note(notes, "no int8 peak probe for this CPU (x86 AVX2 / AVX-512 VNNI only): % of peak is not shown")
    probe_s = 0.05 if args.quick else 0.3
    peaks = {t: {isa: float(_lowp.peak_probe(isa, probe_s, t)) for isa in isas} for t in threads_list}

    rng = np.random.default_rng(args.seed)
    rows: list[Row] = []
    checks: list[dict] = []
    torch_threads = None
    if args.have_torch:
        import torch

        torch_threads = torch.get_num_threads()
    try:
        for threads in threads_list:
            if args.have_torch:
                torch.set_num_threads(threads)
            with _blas_threads(threads, notes):
                for shape in shapes:
                    rows.extend(_bench_shape(shape, threads, kernels, args, notes, checks, rng))
            peak = max(peaks[threads].values()) if peaks[threads] else float("nan")
            _print_table([r for r in rows if r.threads == threads], threads, peak)
        overhead = []
        if args.overhead:
            # Per-call cost of each API on a GEMM too small to matter (1 thread): the fixed price
            # every call pays, which dominates the M=1 shapes.
            if args.have_torch:
                torch.set_num_threads(1)
            with _blas_threads(1, notes):
                overhead = _bench_shape(OVERHEAD_SHAPE, 1, kernels, args, notes, checks, rng)
    finally:
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)
    if overhead:
        print(f"\n== per-call overhead (median µs per call, {_fmt_shape(OVERHEAD_SHAPE)}, 1 thread) ==")
        for r in overhead:
            print(f"{r.impl:<26} {r.seconds * 1e6:8.1f}")

    peers = [n for n in dict.fromkeys(r.impl for r in rows if r.kind != LOWP)]
    meta = dict(command="lowp bench gemm " + " ".join(argv if argv is not None else sys.argv[1:]),
                date=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
                lowp_version=lowp.__version__, commit=_git_commit(), cpu=_cpu_name(), ncpu=ncpu, kernels=kernels,
                peers=peers, repeat=args.repeat, min_time=args.min_time)
    md = _markdown(rows, peaks, meta, notes, checks, overhead)
    n_fail = sum(1 for c in checks if not c["exact"] and "matmul_integer" in c["what"])
    files = {}
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        files["md"] = os.path.join(args.out, "gemm.md")
        files["json"] = os.path.join(args.out, "gemm.json")
        png = os.path.join(args.out, "gemm.png")
        if _plot(rows, peaks, png, notes):
            files["png"] = png
        md = _markdown(rows, peaks, meta, notes, checks, overhead)  # again: the plot may have added a note
        with open(files["md"], "w") as f:
            f.write(md + "\n")
        with open(files["json"], "w") as f:
            json.dump(dict(meta=meta, peaks={str(k): v for k, v in peaks.items()},
                           rows=[r.__dict__ for r in rows], overhead=[r.__dict__ for r in overhead], checks=checks,
                           notes=notes), f, indent=1)
        print("wrote " + ", ".join(files.values()))
    if n_fail:
        print(f"ERROR: {n_fail} exactness check(s) of lowp matmul_integer against onnxruntime failed", file=sys.stderr)
    return dict(rows=rows, peaks=peaks, checks=checks, notes=notes, markdown=md, files=files, failures=n_fail,
                overhead=overhead)


def main(argv=None) -> int:
    res = run(argv)
    return 1 if res["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
