"""The `lowp` command line: demo, info, run, compare, bench, kernels."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _cmd_kernels(args) -> int:
    import lowp

    from lowp import _lowp

    print("available GEMM kernels (best first):", ", ".join(lowp.kernels()))
    print("default:", lowp.current_kernel(), "| threads:", lowp.get_num_threads())
    if _lowp.max_isa():
        print(f"LOWP_MAX_ISA={_lowp.max_isa()}: kernels and ops capped at that level (levels: {_lowp.isa_levels()})")
    return 0


def _cmd_demo(args) -> int:
    from lowp.demo import run_demo

    run_demo(num_threads=args.threads or None, batch=args.batch, reps=args.reps)
    return 0


# --------------------------------------------------------------------------- inputs
def _concrete_shape(arg, batch):
    return [d if isinstance(d, int) and d > 0 else (batch if k == 0 else 1) for k, d in enumerate(arg.shape)]


def _random_input(arg, batch, rng):
    shape = _concrete_shape(arg, batch)
    dt = arg.dtype or np.dtype(np.float32)
    if dt.kind == "f":
        return rng.random(shape, dtype=np.float32).astype(dt)
    if dt == np.uint8:
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if dt == np.int8:
        return rng.integers(-128, 128, shape, dtype=np.int8)
    return rng.integers(0, 10, shape).astype(dt)


def _load_input(path, arg):
    if path.endswith(".npy"):
        x = np.load(path)
    elif path.endswith(".npz"):
        with np.load(path) as d:
            x = d[arg.name] if arg.name in d else d[list(d.keys())[0]]
    else:  # an image file
        try:
            from PIL import Image
        except ImportError:
            raise SystemExit("lowp: reading images needs Pillow (pip install pillow); or pass a .npy file")
        shape = arg.shape
        c = shape[1] if len(shape) == 4 and isinstance(shape[1], int) else 3
        img = Image.open(path).convert("L" if c == 1 else "RGB")
        if len(shape) == 4 and isinstance(shape[2], int) and isinstance(shape[3], int):
            img = img.resize((shape[3], shape[2]))
        x = np.asarray(img, np.float32) / np.float32(255.0)
        x = x[None, None] if x.ndim == 2 else x.transpose(2, 0, 1)[None]
    if arg.dtype is not None and x.dtype != arg.dtype:
        x = x.astype(arg.dtype)
    return x


def _feeds(sess, args, rng):
    inputs = sess.get_inputs()
    given = {}
    for item in args.input or []:
        if "=" in item:
            name, path = item.split("=", 1)
        elif len(inputs) == 1:
            name, path = inputs[0].name, item
        else:
            raise SystemExit("lowp: the model has several inputs; use --input NAME=FILE")
        arg = next((a for a in inputs if a.name == name), None)
        if arg is None:
            raise SystemExit(f"lowp: the model has no input {name!r} (inputs: {[a.name for a in inputs]})")
        given[name] = _load_input(path, arg)
    for a in inputs:
        if a.name not in given:
            given[a.name] = _random_input(a, args.batch, rng)
    return given


def _ort_session(path, threads, spin=True):
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    if not spin:  # onnxruntime's default is to spin its idle intra-op threads
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def _is_tflite(path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return head[4:8] == b"TFL3"


class _LiteRT:
    """A LiteRT interpreter behind onnxruntime's run(None, feeds) call. reference=True: its reference kernels
    (OpResolverType.BUILTIN_REF, what lowp reproduces bit for bit); else its default (optimized kernels with the
    XNNPACK delegate)."""

    def __init__(self, path, threads, reference):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        kind = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
        self.it = Interpreter(model_path=path, num_threads=threads or None, experimental_op_resolver_type=kind)
        self.it.allocate_tensors()
        self.ins, self.outs = self.it.get_input_details(), self.it.get_output_details()

    def run(self, _names, feeds):
        if any(tuple(d["shape"]) != np.shape(feeds[d["name"]]) for d in self.ins):
            # another batch size: LiteRT's resize (strict: only the dimensions its shape_signature leaves dynamic)
            for d in self.ins:
                self.it.resize_tensor_input(d["index"], list(np.shape(feeds[d["name"]])), strict=True)
            self.it.allocate_tensors()
            self.ins, self.outs = self.it.get_input_details(), self.it.get_output_details()
        for d in self.ins:
            self.it.set_tensor(d["index"], feeds[d["name"]])
        self.it.invoke()
        return [self.it.get_tensor(d["index"]) for d in self.outs]


def _litert_session(path, threads, reference=True):
    try:
        return _LiteRT(path, threads, reference)
    except ImportError:
        return None


# --------------------------------------------------------------------------- info
def model_report_tflite(path):
    """`lowp info` for a .tflite file: (TFLite op counts, lowp node counts, params, MACs, graph)."""
    from lowp.importers.onnx import load_model_bytes
    from lowp.importers.tflite import _Builder, import_tflite

    data = load_model_bytes(path)
    b = _Builder(data)
    counts: dict = {}
    for op in b.sg.tables(3):
        k = b.codes[op.scalar(0, "I", 0)] if op.scalar(0, "I", 0) < len(b.codes) else "?"
        counts[k] = counts.get(k, 0) + 1
    params = 0
    for i, t in enumerate(b.tensors):
        if t.dtype.kind in "iu" and b.const_value(i) is not None and t.quantized:
            params += int(np.prod(t.shape, dtype=np.int64)) if t.shape else 1
    unsupported = sorted({k for k in counts if not hasattr(b, "op_" + k.replace(":", "_"))})
    g = None
    if not unsupported:
        g = import_tflite(data)
    macs = 0
    for n in (g.nodes if g is not None else []):
        vi = g.value_info.get(n.outputs[0]) if n.outputs else None
        if vi is None or vi.shape is None:
            continue
        out = int(np.prod(vi.shape))
        if n.kind == "lowp.QConv":
            macs += out * int(np.prod(np.shape(n.attrs["w"])[1:]))
        elif n.kind == "lowp.QGemm":
            macs += out * int(np.shape(n.attrs["w"])[0])
    return counts, (g.op_counts() if g is not None else {}), unsupported, params, macs, g, b


def _cmd_info_tflite(args) -> int:
    import lowp

    counts, fused, bad, params, macs, g, b = model_report_tflite(args.model)
    print(f"model: {args.model} (TFLite)")

    from lowp.graph import ValueInfo
    from lowp.session import _batch_axes

    def shape(t):  # a dynamic batch shows as in get_inputs(): "batch" (None: another axis that follows it)
        return list(_batch_axes(ValueInfo(t.name, t.dtype, t.shape), t.dynamic if b.batch_inputs else ()).shape)
    for i in b.sg.array(1, np.int32):
        t = b.tensors[int(i)]
        print(f"  input  {t.name}: {t.dtype} {shape(t)}")
    for i in b.sg.array(2, np.int32):
        t = b.tensors[int(i)]
        print(f"  output {t.name}: {t.dtype} {shape(t)}")
    print(f"parameters: {params:,}   MACs per run{' (batch 1)' if b.batch_inputs else ''}: {macs:,}")
    print("TFLite ops:")
    for k, v in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<32} x{v:<4} {'UNSUPPORTED' if k in bad else ''}")
    if bad:
        print(f"unsupported: {', '.join(bad)}")
        return 1
    print("lowp nodes (TFLite reference arithmetic):")
    for k, v in sorted(fused.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<32} x{v}")
    try:
        lowp.InferenceSession(args.model)
        print("status: supported (lowp.InferenceSession loads it)")
    except Exception as e:  # report, do not crash
        print(f"status: cannot load: {e}")
        return 1
    return 0


def model_report(path):
    """Per-op table for `lowp info`: (rows, totals). Rows: op, count, status, params, macs."""
    import onnx
    from lowp.graph import Graph  # noqa: F401
    from lowp.importers.onnx import import_onnx, load_model_bytes
    from lowp.passes import optimize
    from lowp.passes.lower import unsupported_nodes

    data = load_model_bytes(path)
    model = onnx.load_from_string(data)
    g0 = import_onnx(data)
    g = import_onnx(data)
    optimize(g)
    bad = {(n.kind) for n in unsupported_nodes(g)}
    fused = g.op_counts()
    params = sum(int(np.size(t)) for t in g0.constants.values() if np.asarray(t).dtype.kind in "iuf")
    macs = 0
    for n in g.nodes:
        vi = g.value_info.get(n.outputs[0]) if n.outputs else None
        if vi is None or vi.shape is None:
            continue
        out = int(np.prod([d if isinstance(d, int) else 1 for d in vi.shape]))
        if n.kind == "lowp.QConv":
            macs += out * int(np.prod(np.shape(n.attrs["w"])[1:]))
        elif n.kind == "lowp.QGemm":
            macs += out * int(np.shape(n.attrs["w"])[0])
        elif n.kind in ("Conv", "Gemm", "MatMul") and n.inputs[1] in g.constants:
            w = g.constants[n.inputs[1]]
            k = np.prod(np.shape(w)[1:]) if n.kind == "Conv" else (
                np.shape(w)[1] if n.attrs.get("transB") else np.shape(w)[0])
            macs += out * int(k)
    counts = {}
    for n in model.graph.node:
        k = f"{n.domain}.{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type
        counts[k] = counts.get(k, 0) + 1
    return counts, fused, bad, params, macs, g


def _cmd_info(args) -> int:
    import lowp
    from lowp.passes.float_ops import MOVE_OPS, SHAPE_OPS

    if _is_tflite(args.model):
        return _cmd_info_tflite(args)
    try:
        counts, fused, bad, params, macs, g = model_report(args.model)
    except (ValueError, FileNotFoundError) as e:
        print(e, file=sys.stderr)
        return 2
    print(f"model: {args.model}")
    for i in g.inputs:
        print(f"  input  {i.name}: {i.type} {list(i.shape)}")
    for o in g.outputs:
        print(f"  output {o.name}: {o.type} {list(o.shape)}")
    print(f"parameters: {params:,}   MACs per image (batch 1): {macs:,}")
    print("ONNX ops:")
    for k, v in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<32} x{v}")
    print("after lowp's passes (what runs):")
    for k, v in sorted(fused.items(), key=lambda kv: -kv[1]):
        if k == "lowp.QLut":
            fns = sorted({n.attrs.get("function", "?") for n in g.nodes if n.kind == k})
            status = "256-entry lookup table: " + ", ".join(fns)
        elif k.startswith("lowp."):
            status = "integer kernel (exact)"
        elif k in bad:
            status = "UNSUPPORTED"
        elif k in ("QuantizeLinear", "DequantizeLinear"):
            status = "float <-> int8 boundary"
        elif k in MOVE_OPS:
            status = "data movement"
        elif k in SHAPE_OPS:
            status = "shape arithmetic"
        else:
            status = "float (numpy)"
        print(f"  {k:<32} x{v:<4} {status}")
    if bad:
        print(f"unsupported: {', '.join(sorted(bad))}")
        return 1
    try:
        sess = lowp.InferenceSession(args.model)
        print("status: supported (lowp.InferenceSession loads it)")
        try:
            plan = sess.memory_plan(batch=1)
            print(f"memory plan (batch 1): peak arena {plan.peak_bytes:,} bytes for {len(plan.offsets)} intermediate "
                  f"tensors ({plan.total_bytes:,} bytes without reuse)")
        except Exception as e:  # the plan needs one probe run; report, do not fail `info`
            print(f"memory plan: not available ({e})")
    except Exception as e:  # report, do not crash
        print(f"status: cannot load: {e}")
        return 1
    return 0


# --------------------------------------------------------------------------- run / compare / bench
_ORT_FLOAT_CHOICES = ("all", "auto", "off")
_ORT_FLOAT_HELP = ("int8-activation QDQ nodes onnxruntime runs in float32: reproduce its float32 arithmetic "
                   "('all': onnxruntime's bits; 'auto': the cheap ones; 'off': exact integer rounding, fastest); "
                   "default: environment LOWP_ORT_FLOAT, else 'all' (docs/PERFORMANCE.md)")
def _cmd_run(args) -> int:
    import lowp

    sess = lowp.InferenceSession(args.model, num_threads=args.threads, ort_float=args.ort_float)
    feeds = _feeds(sess, args, np.random.default_rng(args.seed))
    outs = sess.run(None, feeds)
    for o, y in zip(sess.get_outputs(), outs):
        print(f"{o.name}: {y.dtype} {list(y.shape)}")
        with np.printoptions(precision=4, threshold=40, edgeitems=5):
            print(y)
        if y.ndim == 2 and y.shape[1] > 1:
            print(f"  argmax: {y.argmax(1).tolist()[:20]}")
    if args.output:
        np.savez(args.output, **{o.name: y for o, y in zip(sess.get_outputs(), outs)})
        print(f"saved {args.output}")
    return 0


def _cmd_compare(args) -> int:
    import lowp

    model = args.model
    if _is_tflite(model):
        return _compare_tflite(args)
    if getattr(args, "per_layer", False):
        return _compare_per_layer(args)
    if args.all_tensors:
        from lowp.importers.onnx import expose_quantized_tensors, load_model_bytes

        model = expose_quantized_tensors(load_model_bytes(args.model))
    sess = lowp.InferenceSession(model, num_threads=args.threads, ort_float=args.ort_float)
    osess = _ort_session(model, args.threads)
    if osess is None:
        print("lowp compare needs onnxruntime (pip install onnxruntime)", file=sys.stderr)
        return 2
    import onnxruntime

    from lowp._ortcheck import NOTE, ort_int8_saturates

    if ort_int8_saturates(onnxruntime):
        print(NOTE)
    rng = np.random.default_rng(args.seed)
    final = set()
    if args.all_tensors:
        from lowp.importers.onnx import load_model_bytes as _lmb

        import onnx

        final = {o.name for o in onnx.load_from_string(_lmb(args.model)).graph.output}
        print(f"comparing {len(sess.get_outputs())} tensors ({len(final)} model outputs + 8-bit intermediates)")
    return _compare_runs(sess, osess, args, rng, "ort", final)


def _compare_runs(sess, ref, args, rng, label, final=None) -> int:
    """args.trials random inputs through lowp and the reference session (anything with run(None, feeds)); prints
    each output's mismatches (bytes compared) and the verdict; returns 1 on any mismatch. With `final`, outputs
    outside it (exposed intermediates) are printed only when they differ."""
    worst = 0
    for trial in range(args.trials):
        feeds = _feeds(sess, args, rng)
        for o, y, r in zip(sess.get_outputs(), sess.run(None, feeds), ref.run(None, feeds)):
            r = np.asarray(r)
            if y.shape != r.shape or y.dtype != r.dtype:
                print(f"[{trial}] {o.name}: shape/dtype differ: lowp {y.dtype}{list(y.shape)} vs {label} "
                      f"{r.dtype}{list(r.shape)}")
                worst = 1
                continue
            diff = y.view(np.uint8) != r.view(np.uint8)
            bad = np.flatnonzero(np.any(diff.reshape(y.size, -1), axis=1)) if y.size else np.array([], int)
            line = f"[{trial}] {o.name} {y.dtype}{list(y.shape)}: {len(bad)} mismatching of {y.size}"
            if len(bad):
                worst = 1
                idx = [np.unravel_index(int(b), y.shape) for b in bad[:args.show]]
                line += " | first: " + ", ".join(f"{tuple(int(v) for v in i)} lowp={y[i]} {label}={r[i]}" for i in idx)
                if y.dtype.kind == "f":
                    line += f" | max abs diff {float(np.max(np.abs(y.astype(np.float64) - r))):.3g}"
            else:
                line += " (bit-exact)"
                if final and o.name not in final:
                    continue  # intermediate tensors: report only the ones that differ
            print(line)
    print("result:", "BIT-EXACT" if worst == 0 else "MISMATCH")
    return worst


def _compare_tflite(args) -> int:
    """`lowp compare model.tflite`: lowp against LiteRT's reference kernels (OpResolverType.BUILTIN_REF)."""
    import lowp

    if args.all_tensors or args.per_layer:
        raise ValueError("--all-tensors / --per-layer compare with onnxruntime; for a .tflite model lowp compares "
                         "the outputs with LiteRT's reference kernels")
    ref = _litert_session(args.model, args.threads, reference=True)
    if ref is None:
        print("lowp compare needs LiteRT for a .tflite model (pip install ai-edge-litert)", file=sys.stderr)
        return 2
    sess = lowp.InferenceSession(args.model, num_threads=args.threads)
    print("reference: LiteRT (ai_edge_litert) with its reference kernels, OpResolverType.BUILTIN_REF")
    return _compare_runs(sess, ref, args, np.random.default_rng(args.seed), "litert")


def _compare_per_layer(args) -> int:
    """`lowp compare MODEL --per-layer`: each lowp step fed onnxruntime's 8-bit inputs (lowp/layerwise.py)."""
    import lowp
    from lowp.layerwise import format_report, per_layer_compare

    if _ort_session(args.model, args.threads) is None:
        print("lowp compare needs onnxruntime (pip install onnxruntime)", file=sys.stderr)
        return 2
    sess = lowp.InferenceSession(args.model, num_threads=args.threads, native=False, ort_float=args.ort_float)
    rng = np.random.default_rng(args.seed)
    worst = 0
    for trial in range(args.trials):
        feeds = _feeds(sess, args, rng)
        rep = per_layer_compare(args.model, feeds, args.threads, session=sess)
        print(f"[{trial}]")
        for line in format_report(rep, show_all=args.show_all):
            print(line)
        w = rep.worst
        if w is not None and w.rate > args.max_rate:
            worst = 1
    print("result:", f"every layer within {args.max_rate:.2%}" if worst == 0
          else f"some layer above {args.max_rate:.2%} mismatching values")
    return worst


def _cmd_bench(args) -> int:
    if args.target in ("gemm", "conv"):
        import importlib

        suite = importlib.import_module(f"lowp.benchmarks.{args.target}")
        return int(suite.main(args.rest) or 0)
    tflite = _is_tflite(args.target)
    if not args.target.endswith(".onnx") and not tflite:
        print(f"lowp bench: unknown target {args.target!r} (expected 'gemm', 'conv', a model.onnx or a model.tflite)",
              file=sys.stderr)
        return 2
    p = argparse.ArgumentParser(prog="lowp bench model.onnx")
    p.add_argument("--threads", type=int, default=1, help="threads for lowp and onnxruntime (default 1)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--no-ort", action="store_true", help="skip onnxruntime (LiteRT for a .tflite model)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--input", action="append")
    p.add_argument("--float-model", help="also time this float32 model in onnxruntime (e.g. the model before quantization)")
    p.add_argument("--per-op", action="store_true",
                   help="time per operator kind (best of the runs per step), lowp vs onnxruntime's profiler")
    p.add_argument("--block", type=int, default=10,
                   help="timed runs per block: the runtimes take turns by block (default 10), see below")
    p.add_argument("--settle-ms", type=float, default=50.0,
                   help="idle time before each block, so the other runtime's threads stop spinning (default 50)")
    p.add_argument("--interleave", action="store_true",
                   help="alternate the runtimes run by run instead (unfair with threads > 1: see below)")
    p.add_argument("--ort-spin", choices=["on", "off", "both"], default="on",
                   help="onnxruntime's session.intra_op.allow_spinning (default on, its default and its "
                        "fastest here); 'both' times the two configurations")
    p.add_argument("--ort-float", choices=_ORT_FLOAT_CHOICES, default=None, help=_ORT_FLOAT_HELP)
    a = p.parse_args(args.rest)
    if a.runs < 1 or a.block < 1 or a.warmup < 0 or not 0 <= a.settle_ms <= 10_000:
        p.error("--runs and --block must be >= 1, --warmup >= 0, --settle-ms in [0, 10000]")
    import lowp
    from tqdm import tqdm

    sess = lowp.InferenceSession(args.target, num_threads=a.threads, ort_float=a.ort_float)
    feeds = _feeds(sess, a, np.random.default_rng(a.seed))
    runners = {"lowp": lambda: sess.run(None, feeds)}
    if tflite:  # the peer of a .tflite model is LiteRT: its default (XNNPACK) and its reference kernels
        if a.float_model:
            p.error("--float-model applies to ONNX models")
        if not a.no_ort:
            for name, ref in (("litert", False), ("litert ref", True)):
                lsess = _litert_session(args.target, a.threads, reference=ref)
                if lsess is None:
                    print("ai-edge-litert not installed: timing lowp only")
                    break
                runners[name] = (lambda o: lambda: o.run(None, feeds))(lsess)
    elif not a.no_ort:
        spins = {"on": [True], "off": [False], "both": [True, False]}[a.ort_spin]
        for spin in spins:
            osess = _ort_session(args.target, a.threads, spin)
            if osess is None:
                print("onnxruntime not installed: timing lowp only")
                break
            name = "onnxruntime" if spin or len(spins) == 1 else "ort no-spin"
            runners[name] = (lambda o: lambda: o.run(None, feeds))(osess)
        if a.float_model and len(runners) > 1:
            fsess = _ort_session(a.float_model, a.threads)
            runners["ort float32"] = lambda: fsess.run(None, feeds)
    for k, fn in runners.items():
        for _ in range(a.warmup):
            fn()
    with tqdm(total=a.runs * len(runners), desc=f"bench {args.target}", unit="run", leave=False) as bar:
        times = _time_runs(runners, a.runs, a.block, a.interleave, bar.update, a.settle_ms / 1e3)
    if a.per_op:
        _per_op_table(sess, args.target, feeds, a, peer=not tflite)
    how = ("interleaved run by run" if a.interleave else
           f"taking turns in blocks of {a.block} runs (each after {a.settle_ms:g} ms idle + 1 untimed run)")
    print(f"{args.target}: batch {a.batch}, {a.threads} thread(s), {a.runs} runs, {how} (ms)")
    print(f"{'runtime':<12} {'min':>8} {'p50':>8} {'p90':>8} {'p99':>8} {'mean':>8}")
    for k, ts in times.items():
        t = np.array(ts)
        print(f"{k:<12} {t.min():8.3f} {np.percentile(t, 50):8.3f} {np.percentile(t, 90):8.3f} "
              f"{np.percentile(t, 99):8.3f} {t.mean():8.3f}")
    for k in ("onnxruntime", "ort no-spin", "litert", "litert ref"):
        if k in times:
            r = np.median(times["lowp"]) / np.median(times[k])
            print(f"lowp / {k} (p50): {r:.2f}x   (min: {min(times['lowp']) / min(times[k]):.2f}x)")
    if "ort float32" in times:
        r = np.median(times["ort float32"]) / np.median(times["lowp"])
        print(f"lowp int8 is {r:.2f}x faster than onnxruntime float32 (p50)")
    return 0


def _per_op_native(sess, seg, feeds, a):
    """Per-op times from the native program's own timer, and what is left of a run beyond them
    (executor overhead: Python session.run + the native loop between ops)."""
    import collections

    prog = seg.prog
    ins = [feeds[n] for n in seg.inputs]
    names = prog.op_names
    best = [float("inf")] * len(names)
    walls, calls, inside = [], [], []
    # In blocks (not run by run): interleaving different callers disturbs the caches and
    # spinning threads of the next one, which would be charged to the executor.
    n = max(5, a.runs // 3)
    for _ in range(3):
        for _ in range(n):
            t = time.perf_counter()
            _, ns = prog.run(ins, timed=True)
            t = (time.perf_counter() - t) * 1e3
            best = [min(b, v) for b, v in zip(best, ns)]
            inside.append(t - sum(ns) / 1e6)  # this call's time outside its ops (paired, same run)
        for _ in range(n):
            t = time.perf_counter()
            sess.run(None, feeds)
            walls.append((time.perf_counter() - t) * 1e3)
        for _ in range(n):
            t = time.perf_counter()
            prog.run(ins)
            calls.append((time.perf_counter() - t) * 1e3)
    lk = collections.Counter()
    for nm, b in zip(names, best):
        lk[nm.split("(")[0]] += b / 1e6
    print("per operator kind, sum of per-op best times (ms), native program timer:")
    print("  lowp:        " + ", ".join(f"{k} {v:.3f}" for k, v in lk.most_common()) + f" | total {sum(lk.values()):.3f}")
    # Overhead = (session.run - native call) [Python: input checks, dispatch, output arrays]
    #          + (native call - its ops)     [binding, arena, loop between ops]; minima resist noise.
    py_us = 1e3 * (min(walls) - min(calls))  # can come out slightly negative: noise
    in_us = 1e3 * min(inside)
    print(f"  lowp overhead: session.run min {min(walls):.3f} ms; Python around the native call {py_us:.0f} us, "
          f"inside it outside the ops {in_us:.0f} us (p50 {1e3 * float(np.median(inside)):.0f} us): "
          f"{py_us + in_us:.0f} us = {100 * (py_us + in_us) / (1e3 * min(walls)):.1f} % of the run")


def _time_runs(runners, runs, block, interleave, progress=None, settle=0.05):
    """Times `runs` calls of every runner (ms); returns {name: [times]}.

    Fairness. Both runtimes keep their worker threads spinning for a while after a run (lowp's pool
    0.2 ms; onnxruntime's intra-op threads ~20 ms here), so runs that follow the other runtime's
    runs share the CPU with those spinning threads (on 2 cores lowp's 2-thread MobileNetV2 took
    1.45x longer interleaved with onnxruntime than alone). By default the runtimes therefore take
    turns by block: before each block, `settle` seconds of sleep (the other runtime's threads stop
    spinning and block) and one untimed run (wakes this runtime's threads), then `block` timed
    runs. Each runtime is timed in its own steady state, as an application using only it would see
    it, while slow drifts of the machine's load still hit both alike. interleave=True alternates
    run by run (no sleep, no untimed runs).
    """
    times = {k: [] for k in runners}
    bs = 1 if interleave else block
    done = 0
    while done < runs:
        n = min(bs, runs - done)
        for k, fn in runners.items():
            if not interleave:
                if settle > 0:
                    time.sleep(settle)
                fn()
            for _ in range(n):
                t = time.perf_counter()
                fn()
                times[k].append((time.perf_counter() - t) * 1e3)
            if progress is not None:
                progress(n)
        done += n
    return times


def _per_op_table(sess, path, feeds, a, peer=True):
    """Sum over steps of each step's best time, grouped by kind; onnxruntime's from its profiler (peer: an ONNX
    model; LiteRT's Python API has no per-operator profiler)."""
    import collections
    import json
    import os
    import tempfile

    prog = sess._program_for(feeds)  # a dynamic-batch TFLite model: the program of the feeds' batch
    best = {}
    if prog.native and len(feeds) == len(prog.inputs):
        kind, body = prog._items(feeds)
        if kind == "single":  # one native program: its own per-op timer
            _per_op_native(sess, body, feeds, a)
            best = None
    for _ in range(max(3, a.runs // 4) if best is not None else 0):
        env = dict(prog.constants)
        env.update(feeds)
        for k, st in enumerate(prog.steps):
            t = time.perf_counter()
            outs = st.fn(*[env[i] if i else None for i in st.inputs])
            best[k] = min(best.get(k, 1e9), time.perf_counter() - t)
            env.update(zip(st.outputs, outs))
    if best is not None:
        lk = collections.Counter()
        for k, st in enumerate(prog.steps):
            lk[st.kind] += best[k] * 1e3
        print("per operator kind, sum of per-step best times (ms):")
        print("  lowp:        " + ", ".join(f"{k} {v:.3f}" for k, v in lk.most_common()) +
              f" | total {sum(lk.values()):.3f}")
    if not peer:
        return
    try:
        import onnxruntime as ort
    except ImportError:
        return
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.enable_profiling = True
    with tempfile.TemporaryDirectory() as td:
        so.profile_file_prefix = os.path.join(td, "ort")
        o = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        for _ in range(max(3, a.runs // 4)):
            o.run(None, feeds)
        with open(o.end_profiling()) as f:
            events = json.load(f)
    ob, kinds = {}, {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            ob[e["name"]] = min(ob.get(e["name"], 1e18), e["dur"] / 1e3)
            kinds[e["name"]] = e.get("args", {}).get("op_name", "?")
    ok = collections.Counter()
    for n, v in ob.items():
        ok[kinds[n]] += v
    print("  onnxruntime: " + ", ".join(f"{k} {v:.3f}" for k, v in ok.most_common()) + f" | total {sum(ok.values()):.3f}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lowp", description="Exact integer inference for quantized networks.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="run the bundled int8 MNIST model on real digits, lowp vs onnxruntime")
    d.add_argument("--threads", type=int, default=1, help="threads for lowp and onnxruntime (default 1; 0 = all)")
    d.add_argument("--batch", type=int, default=100)
    d.add_argument("--reps", type=int, default=20)
    d.set_defaults(func=_cmd_demo)
    i = sub.add_parser("info", help="ops with support status, parameters and MACs of an ONNX or TFLite model")
    i.add_argument("model")
    i.set_defaults(func=_cmd_info)
    for name, fn, hlp in (("run", _cmd_run, "run a model on .npy/.npz/image inputs (random if none)"),
                          ("compare", _cmd_compare, "bit-exactness vs onnxruntime (ONNX) or LiteRT's reference "
                                                    "kernels (TFLite), per output")):
        s = sub.add_parser(name, help=hlp)
        s.add_argument("model")
        s.add_argument("--input", "-i", action="append", help="FILE or NAME=FILE (.npy, .npz, image)")
        s.add_argument("--batch", type=int, default=1, help="batch size for random inputs")
        s.add_argument("--threads", type=int, default=None)
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--ort-float", choices=_ORT_FLOAT_CHOICES, default=None, help=_ORT_FLOAT_HELP)
        if name == "run":
            s.add_argument("--output", "-o", help="save outputs to this .npz")
        else:
            s.add_argument("--trials", type=int, default=3, help="random inputs to try (default 3)")
            s.add_argument("--show", type=int, default=5, help="mismatches to print per output")
            s.add_argument("--all-tensors", action="store_true",
                           help="also compare every 8-bit intermediate tensor (outputs of Q / QLinear* ops)")
            s.add_argument("--per-layer", action="store_true",
                           help="feed each lowp step onnxruntime's own 8-bit inputs and compare its output with "
                                "onnxruntime's (isolates each op's rounding from propagation); prints per-layer "
                                "mismatch rates and the end-to-end rate")
            s.add_argument("--show-all", action="store_true", help="--per-layer: list every layer, not only those that differ")
            s.add_argument("--max-rate", type=float, default=0.01,
                           help="--per-layer: exit status 1 when a layer's mismatch rate exceeds this (default 0.01)")
        s.set_defaults(func=fn)
    k = sub.add_parser("kernels", help="list the GEMM kernels this CPU can run")
    k.set_defaults(func=_cmd_kernels)
    b = sub.add_parser("bench", help="`lowp bench model.onnx|model.tflite [--threads N --runs R]`, "
                                     "`lowp bench gemm|conv [options]`")
    b.add_argument("target", help="'gemm', 'conv' or a model .onnx / .tflite file")
    b.add_argument("rest", nargs=argparse.REMAINDER, help="options passed to the benchmark")
    b.set_defaults(func=_cmd_bench)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, OSError, NotImplementedError) as e:
        # Bad models, inputs or options: one line naming the problem, not a traceback.
        print(f"lowp {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:
        if type(e).__name__ != "DecodeError":  # protobuf's error for a file that is not an ONNX model
            raise
        print(f"lowp {args.command}: error: not a valid ONNX model: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
