"""Layer-by-layer comparison with onnxruntime (`lowp compare MODEL --per-layer`).

End to end, a rare +-1 difference in one layer (where onnxruntime computes in float32, e.g. the
int8-activation QDQ convs it does not fuse on x86) propagates through every later layer. This
module isolates each lowp step: onnxruntime is run with every 8-bit intermediate tensor exposed
as a graph output, then each lowp step (the pure-Python step list) is fed onnxruntime's own values
for its inputs (converted to lowp's layout, NHWC inside) and its output is compared with
onnxruntime's tensor of the same name. Steps whose inputs onnxruntime does not expose (float glue
inside a DQ/Q group) read the values lowp's previous steps computed from onnxruntime's inputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LayerResult:
    step: str          # lowp step name (the ONNX node name it came from)
    kind: str          # lowp step kind (lowp.QConv, lowp.QLut, QuantizeLinear, ...)
    tensor: str        # output tensor name (onnxruntime's name)
    dtype: str
    size: int
    mismatches: int    # values that differ
    max_diff: float    # max |lowp - ort| (integer LSBs for 8-bit tensors)

    @property
    def rate(self) -> float:
        return self.mismatches / self.size if self.size else 0.0


@dataclass
class PerLayerReport:
    layers: list = field(default_factory=list)
    end_to_end: dict = field(default_factory=dict)  # model output -> (mismatches, size, max |diff|)
    exposed_changes_ort: bool = False  # onnxruntime's outputs changed when the intermediates were exposed
    ort_tensors: int = 0  # 8-bit tensors onnxruntime computes (some have no lowp counterpart: fused away)
    unmatched: list = field(default_factory=list)  # those without a lowp step to compare with

    def eight_bit(self):
        return [r for r in self.layers if r.dtype in ("uint8", "int8")]

    @property
    def worst(self):
        rs = self.eight_bit()
        return max(rs, key=lambda r: r.rate) if rs else None

    @property
    def overall_rate(self) -> float:
        rs = self.eight_bit()
        n = sum(r.size for r in rs)
        return sum(r.mismatches for r in rs) / n if n else 0.0

    @property
    def max_diff(self) -> float:
        return max((r.max_diff for r in self.eight_bit()), default=0.0)

    @property
    def end_to_end_rate(self) -> float:
        n = sum(v[1] for v in self.end_to_end.values())
        return sum(v[0] for v in self.end_to_end.values()) / n if n else 0.0


def _diff(y, r):
    y, r = np.asarray(y), np.asarray(r)
    if y.dtype.kind == "f":
        bad = int(np.count_nonzero(y != r))
        md = float(np.max(np.abs(y.astype(np.float64) - r))) if y.size else 0.0
    else:
        d = np.abs(y.astype(np.int64) - r.astype(np.int64))
        bad = int(np.count_nonzero(d))
        md = float(d.max()) if d.size else 0.0
    return bad, md


def _ort_session(model, threads, level, optimized_path=None):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = level
    if threads:
        so.intra_op_num_threads = threads
    if optimized_path:
        so.optimized_model_filepath = optimized_path
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def onnxruntime_intermediates(data: bytes, feeds: dict, threads=None):
    """(every 8-bit tensor onnxruntime computes, its outputs for the model as given, whether they agree).

    Adding intermediate tensors as graph outputs of the QDQ model itself would change onnxruntime's
    fusions (a QuantizeLinear that produces a graph output blocks the DQ->Conv->Q fusion, so every conv
    would run in float). Instead the graph onnxruntime builds for the model (optimization level
    EXTENDED: the QDQ fusions, without the NHWC layout rewrite that renames tensors) is saved, its 8-bit
    tensors exposed, and it is run with graph optimizations off: the same kernels on the same values.
    """
    import tempfile

    import onnx
    import onnxruntime as ort

    from lowp.importers.onnx import expose_quantized_tensors

    L = ort.GraphOptimizationLevel
    final = [o.name for o in onnx.load_from_string(data).graph.output]
    ref = _ort_session(data, threads, L.ORT_ENABLE_ALL).run(None, feeds)
    with tempfile.TemporaryDirectory() as d:
        path = d + "/optimized.onnx"
        _ort_session(data, threads, L.ORT_ENABLE_EXTENDED, path)
        with open(path, "rb") as f:
            exposed = expose_quantized_tensors(f.read())
    em = onnx.load_from_string(exposed)
    names = [o.name for o in em.graph.output]
    vals = dict(zip(names, _ort_session(exposed, threads, L.ORT_DISABLE_ALL).run(None, feeds)))
    same = all(np.asarray(vals[n]).tobytes() == np.asarray(r).tobytes() for n, r in zip(final, ref))
    # onnxruntime renames tensors it rewrites (its s8->u8 conversion of QDQ int8 activations), but keeps
    # node names: map each tensor of the model as given to onnxruntime's tensor holding its value.
    ort_node = {n.name: n for n in em.graph.node if n.name}
    orig = onnx.load_from_string(data).graph
    producer = {o: n for n in orig.node for o in n.output}
    to_ort = {}
    for n in orig.node:
        for k, t in enumerate(n.output):
            if t in vals:
                to_ort[t] = t
                continue
            m = ort_node.get(n.name)
            if m is None and n.op_type == "QuantizeLinear" and n.input[0] in producer:
                m = ort_node.get(producer[n.input[0]].name)  # Q fused into the op before it (QLinearConv, ...)
                k = 0
            if m is not None and k < len(m.output) and m.output[k] in vals:
                to_ort[t] = m.output[k]
    return vals, dict(zip(final, ref)), same, to_ort


def _as_dtype(v, dtype):
    """onnxruntime runs int8-activation convs as uint8 (its QDQ s8->u8 rewrite: zero point + 128, same
    scale), so the same quantized value is int8 q in lowp and q + 128 in onnxruntime."""
    v = np.asarray(v)
    if v.dtype == dtype:
        return v
    if {v.dtype, np.dtype(dtype)} == {np.dtype(np.int8), np.dtype(np.uint8)}:
        return (v.view(np.uint8) ^ np.uint8(0x80)).view(dtype)
    return None


def per_layer_compare(model, feeds: dict, threads=None, session=None) -> PerLayerReport:
    """Feed every lowp step onnxruntime's 8-bit inputs and compare its output with onnxruntime's.

    model: path, bytes or ModelProto. feeds: input name -> array. session: the lowp.InferenceSession
    of `model` to check (default: a new one). Returns a PerLayerReport.
    """
    import lowp
    from lowp.importers.onnx import load_model_bytes

    data = load_model_bytes(model)
    ort_vals, ref, same, name_map = onnxruntime_intermediates(data, feeds, threads)
    report = PerLayerReport()
    report.exposed_changes_ort = not same

    sess = session if session is not None else lowp.InferenceSession(data, num_threads=threads, native=False)
    for (n, r), y in zip(ref.items(), sess.run(None, feeds)):
        bad, md = _diff(y, r)
        report.end_to_end[n] = (bad, int(np.size(r)), md)

    prog = sess._program
    layouts = getattr(prog, "layouts", {})
    to_ort = {}  # lowp value name -> onnxruntime tensor name (same name, or same producing node)

    def nhwc(name):
        return layouts.get(name) == "NHWC"

    def from_ort(name, like):
        o = to_ort.get(name.partition("@")[0])
        if o is None or name in feeds or like is None:
            return None
        v = _as_dtype(ort_vals[o], np.asarray(like).dtype)
        if v is None:
            return None
        if nhwc(name) and v.ndim == 4:
            v = np.ascontiguousarray(v.transpose(0, 2, 3, 1))
        return v if v.shape == np.shape(like) else None

    own = dict(prog.constants)  # lowp's own values (for dtypes / shapes)
    own[""] = None
    own.update(feeds)
    env = dict(own)
    for step in prog.steps:
        args = []
        for i in step.inputs:
            v = from_ort(i, own.get(i)) if i else None
            args.append(env[i] if v is None else v)
        outs = step.fn(*args)
        for name, v in zip(step.outputs, outs):
            if not name:
                continue
            env[name] = v
            own[name] = v
            if step.kind == "Transpose(layout)":
                continue
            base = name.partition("@")[0]
            o = name_map.get(base)
            if o is None:
                continue
            v = np.asarray(v)
            if nhwc(name) and v.ndim == 4:
                v = v.transpose(0, 3, 1, 2)
            r = _as_dtype(ort_vals[o], v.dtype)
            if r is None or v.shape != r.shape:
                continue  # not the same tensor after all
            to_ort[base] = o
            bad, md = _diff(v, r)
            report.layers.append(LayerResult(step.name, step.kind, base, str(v.dtype), int(v.size), bad, md))
    eight = [n for n, v in ort_vals.items() if np.asarray(v).dtype in (np.int8, np.uint8)]
    report.ort_tensors = len(eight)
    matched = set(to_ort.values())
    report.unmatched = [n for n in eight if n not in matched]
    return report


def format_report(report: PerLayerReport, show_all=False) -> list:
    lines = []
    for r in report.layers:
        if r.mismatches or show_all:
            lines.append(f"  {r.kind:<18} {r.step:<40} {r.dtype:<5} {r.mismatches:>8} / {r.size:<9} "
                         f"({r.rate:.3%})  max |diff| {r.max_diff:g}")
    n8 = report.eight_bit()
    w = report.worst
    lines.append(f"per layer (each step fed onnxruntime's inputs): {len(n8)} 8-bit tensors "
                 f"(of {report.ort_tensors} in onnxruntime), "
                 f"{sum(r.mismatches for r in n8)} of {sum(r.size for r in n8)} values differ "
                 f"({report.overall_rate:.4%}), max |diff| {report.max_diff:g}"
                 + (f"; worst {w.kind} {w.step}: {w.rate:.3%}" if w is not None else ""))
    e2e = ", ".join(f"{k}: {b} of {n} ({b / n if n else 0:.3%}), max |diff| {md:.3g}"
                    for k, (b, n, md) in report.end_to_end.items())
    lines.append(f"end to end (model outputs): {e2e}")
    if report.exposed_changes_ort:
        lines.append("WARNING: onnxruntime's optimized graph with exposed intermediates gave other outputs "
                     "than the model as given: the per-layer figures may not reflect onnxruntime's kernels")
    return lines
