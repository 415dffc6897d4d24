"""Lowering: the optimized Graph -> a flat list of kernel calls ("steps"), with NHWC layout inside.

Every node kind maps to a small kernel adapter that prepacks its constants once (immutable after
construction, so one program can run from many threads) and returns a callable on numpy arrays.
Layout: 4-D activations produced by convolutions/pooling are kept NHWC; layout-neutral steps
(lookup tables, quantize/dequantize, elementwise with scalars, concat) keep whatever they get; every
other step sees NCHW. Transposes are inserted only where a step needs the other layout, so an
NCHW model converts once at its boundary.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict

import numpy as np

from ..graph import Graph
from . import kernels as K
from .float_ops import ELEMENTWISE_OPS, FLOAT_OPS, MOVE_OPS, SHAPE_OPS, evaluate
from .quant import dequantize, quantize

# Layout requirements of a step: "NHWC" (4-D inputs must be NHWC), "NCHW", or "any".
_NHWC_OPS = {"lowp.QConv", "lowp.QMaxPool", "lowp.QGlobalAvgPool", "lowp.QAvgPool", "lowp.ConvInteger"}
# Data movement that can also run on NHWC tensors as is (when kernels.qmove_nhwc_ok says so).
_NHWC_MOVES = ("Split", "Resize", "Slice", "Gather")


class Step:
    __slots__ = ("fn", "inputs", "outputs", "name", "kind")

    def __init__(self, fn, inputs, outputs, name, kind):
        self.fn, self.inputs, self.outputs, self.name, self.kind = fn, list(inputs), list(outputs), name, kind

    def __repr__(self):
        return f"Step({self.kind} {self.name}: {self.inputs} -> {self.outputs})"


class Program:
    """Immutable compiled graph: steps, the constants they read, and when each value dies.

    run() executes the steps natively where it can: per input-shape signature (and forced-kernel
    context) the steps are lowered once into native programs (passes/native.py, cpp/exec) that
    run in one call each, with Python steps between them where a step has no native form.
    LOWP_NATIVE=0 (or native=False) keeps the pure-Python loop (run_python).
    """

    MAX_SIGNATURES = 8  # native programs kept per Program (dynamic batch / image sizes)

    def __init__(self, steps, constants, inputs, outputs, native=None):
        self.steps = steps
        self.constants = constants
        self.inputs = inputs
        self.outputs = outputs
        last = {}
        for k, s in enumerate(steps):
            for i in s.inputs:
                last[i] = k
        keep = set(outputs)
        self.free_after = [[i for i in set(s.inputs) if last.get(i) == k and i not in keep and i not in constants]
                           for k, s in enumerate(steps)]

        # Flat tuples for the hot loop: (kernel, input names, (output index, name) pairs, names to free).
        self._plan = [(s.fn, tuple(s.inputs), tuple((k, o) for k, o in enumerate(s.outputs) if o), tuple(dead))
                      for s, dead in zip(steps, self.free_after)]
        self._base = dict(constants)
        self._base[""] = None  # an omitted optional input
        if native is None:
            native = os.environ.get("LOWP_NATIVE", "1") != "0"
        self.native = bool(native) and _native_available()
        # LOWP_NATIVE_CHECK=1 (the test suite): every native run is compared with the Python loop.
        self.check_native = os.environ.get("LOWP_NATIVE_CHECK", "") == "1"
        self._native = OrderedDict()  # signature -> run items (passes/native.py)
        self._lock = threading.Lock()

    def run(self, feed: dict) -> dict:
        if not self.native:
            return self.run_python(feed)
        items = self._items(feed)
        if self.check_native:
            want = self.run_python(feed)
            got = self._run_items(items, feed)
            for o in self.outputs:
                a, b = np.asarray(want[o]), np.asarray(got[o])
                if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
                    raise AssertionError(f"lowp: native program output {o!r} differs from the Python steps")
            return got
        return self._run_items(items, feed)

    def run_python(self, feed: dict) -> dict:
        env = self._base.copy()
        env.update(feed)
        for fn, ins, outs, dead in self._plan:
            res = fn(*[env[i] for i in ins])
            for k, name in outs:
                env[name] = res[k]
            for d in dead:
                del env[d]
        return env

    # ------------------------------------------------------------------ native programs
    def _signature(self, feed):
        sig = tuple((np.shape(feed[n]), getattr(feed[n], "dtype", None)) for n in self.inputs)
        return sig, _FORCED_GEMM.get(), _FORCED_DW.get()

    def _items(self, feed):
        key = self._signature(feed)
        items = self._native.get(key)
        if items is None:
            with self._lock:
                items = self._native.get(key)
                if items is None:
                    items = self._compile(feed)
                    self._native[key] = items
                    while len(self._native) > self.MAX_SIGNATURES:
                        self._native.popitem(last=False)
        return items

    def _compile(self, feed):
        from .native import compile_native

        env = self._base.copy()
        env.update(feed)
        for fn, ins, outs, _ in self._plan:  # probe run: keeps every tensor (shapes for the native ops)
            res = fn(*[env[i] for i in ins])
            for k, name in outs:
                env[name] = res[k]
        items, statics = compile_native(self, env)
        # One native program from graph inputs to graph outputs: run() is one native call.
        if len(items) == 1 and items[0][0] == "native":
            seg = items[0][1]
            if set(seg.outputs) == set(self.outputs) and all(n in self.inputs for n in seg.inputs):
                return ("single", seg)
        base = self._base.copy()
        base.update(statics)
        return ("mixed", (items, base))

    def _run_items(self, items, feed):
        kind, body = items
        if kind == "single":
            seg = body
            ins = [feed[n] for n in seg.inputs]
            if all(x.shape == s[0] for x, s in zip(ins, seg.in_sig)):
                return dict(zip(seg.outputs, seg.prog.run(ins)))
            return self.run_python(feed)
        items, base = body
        env = base.copy()
        env.update(feed)
        for k, v in items:
            if k == "py":
                res = v.fn(*[env[i] for i in v.inputs])
                for name, r in zip(v.outputs, res):
                    if name:
                        env[name] = r
                continue
            ins = [env[n] for n in v.inputs]
            if all(isinstance(x, np.ndarray) and x.shape == s[0] and x.dtype == s[1] for x, s in zip(ins, v.in_sig)):
                env.update(zip(v.outputs, v.prog.run(ins)))
            else:  # shapes this segment was not built for (data-dependent): its steps in Python
                for st in v.steps:
                    res = st.fn(*[env[i] for i in st.inputs])
                    for name, r in zip(st.outputs, res):
                        if name:
                            env[name] = r
        return env

    def fast_path(self, feed, output_names):
        """For InferenceSession.run's per-call fast path: when inputs like `feed` run as one native program,
        a callable (feed -> outputs in output_names order, or None when `feed` does not match this signature
        exactly: then take the general path); else None."""
        if not self.native or self.check_native:
            return None
        key = self._signature(feed)
        items = self._native.get(key)
        if items is None or items[0] != "single":
            return None
        seg = items[1]
        names = tuple(seg.inputs)
        sig = tuple((tuple(s[0]), np.dtype(s[1])) for s in seg.in_sig)
        pos = {o: k for k, o in enumerate(seg.outputs)}
        alias = self.output_aliases
        try:
            order = [pos[alias[n]] for n in output_names]
        except KeyError:
            return None
        forced = key[1:]
        run = seg.prog.run

        def fast(feed):
            if len(feed) != len(names) or (_FORCED_GEMM.get(), _FORCED_DW.get()) != forced:
                return None
            xs = []
            for n, (shape, dt) in zip(names, sig):
                x = feed.get(n)
                if type(x) is not np.ndarray or x.shape != shape or x.dtype != dt:
                    return None
                xs.append(x)
            outs = run(xs)
            return [outs[k] for k in order]
        return fast

    def check_shapes(self, feed, value_info):
        """Runs the Python steps once on `feed` and checks every value's shape against value_info (the shapes a
        model file declares); raises ValueError naming the first value that differs (a damaged or inconsistent
        file), or wrapping any error a step raises."""
        env = self._base.copy()
        env.update(feed)
        for step in self.steps:
            try:
                res = step.fn(*[env[i] for i in step.inputs])
            except (ValueError, TypeError, IndexError) as e:
                raise ValueError(f"lowp: the model is inconsistent: step {step.name} ({step.kind}) fails on inputs "
                                 f"of the declared shapes: {e}") from None
            for name, v in zip(step.outputs, res):
                if not name:
                    continue
                env[name] = v
                vi = value_info.get(name)
                if vi is None or vi.shape is None or not isinstance(v, np.ndarray):
                    continue
                want = tuple(vi.shape)
                if self.layouts.get(name) == "NHWC" and len(want) == 4:
                    want = (want[0], want[2], want[3], want[1])
                if v.shape != want:
                    raise ValueError(f"lowp: the model is inconsistent: {name!r} has shape {list(v.shape)} "
                                     f"(computed), the file declares {list(want)}")

    def native_programs(self, feed):
        """The native segments used for inputs like `feed` (built if needed): list of NativeProgram."""
        kind, body = self._items(feed)
        if kind == "single":
            return [body.prog]
        return [v.prog for k, v in body[0] if k == "native"]


def _forced_kernels():
    import contextvars
    try:
        from .._dispatch import _forced_kernel
        from ..ops.conv import _forced_dw
    except ImportError:  # pragma: no cover - no native module: the Python path only
        _forced_kernel = _forced_dw = contextvars.ContextVar("lowp_none", default=None)
    return _forced_kernel, _forced_dw


_FORCED_GEMM, _FORCED_DW = _forced_kernels()  # context variables: the kernels packed weights are for


def _native_available() -> bool:
    try:
        from .. import _lowp
    except ImportError:  # pragma: no cover
        return False
    return hasattr(_lowp, "NativeProgram")


def _rank(g: Graph, name: str, ranks: dict):
    if name in ranks:
        return ranks[name]
    if name in g.constants:
        return np.ndim(g.constants[name])
    vi = g.value_info.get(name)
    if vi is not None and vi.shape is not None:
        return len(vi.shape)
    return None


def unsupported_nodes(g: Graph) -> list:
    bad = []
    for n in g.nodes:
        if n.domain == "lowp":
            continue
        if n.domain == "" and (n.op in FLOAT_OPS or n.op in ("QuantizeLinear", "DequantizeLinear", "MaxPool",
                                                            "AveragePool", "Conv", "Gemm", "MatMul")):
            continue
        bad.append(n)
    return bad


def lower(g: Graph, num_threads: int = 0, native=None) -> Program:
    bad = unsupported_nodes(g)
    if bad:
        kinds = sorted({n.kind for n in bad})
        detail = ", ".join(f"{n.kind} ({n.name})" for n in bad)
        raise NotImplementedError(f"lowp: unsupported operator type(s) {', '.join(kinds)}; nodes: {detail}")
    steps = []
    layout: dict = {}  # name -> "NHWC" for 4-D values held channels-last
    ranks: dict = {}
    converted: dict = {}  # (name, layout) -> name of the converted copy
    runtime_consts = {}

    def const_nhwc(name):
        """A 4-D constant's channels-last copy, made once at build time (other inputs: as they are)."""
        if not name or name not in g.constants or np.ndim(g.constants[name]) != 4:
            return name
        key = (name, "NHWC")
        if key not in converted:
            converted[key] = f"{name}@NHWC"
            runtime_consts[converted[key]] = np.ascontiguousarray(np.asarray(g.constants[name]).transpose(0, 2, 3, 1))
        return converted[key]

    def want(name, lay):
        """Name of `name` in layout `lay` (inserting a transpose step if needed)."""
        if not name or name in g.constants:
            return name
        cur = layout.get(name, "NCHW")
        if _rank(g, name, ranks) != 4 or cur == lay:
            return name
        key = (name, lay)
        if key not in converted:
            new = f"{name}@{lay}"
            fn = K.to_nhwc if lay == "NHWC" else K.to_nchw
            steps.append(Step(fn, [name], [new], f"to_{lay.lower()}({name})", "Transpose(layout)"))
            converted[key] = new
            layout[new] = lay
            ranks[new] = 4
        return converted[key]

    consumers = g.consumers()
    for n in g.nodes:
        kind = n.kind
        act = [i for i in n.inputs if i and i not in g.constants]
        if _flatten_into_gemm(g, n, layout, ranks, consumers):
            # NHWC tensor -> Flatten -> QGemm: the Gemm's weight rows were permuted to NHWC order, so
            # the flatten reads the NHWC tensor as is (no transpose back to NCHW).
            steps.append(Step(K.make_qmove(n.attrs, "NCHW"), n.inputs, n.outputs, n.name, kind))
            continue
        for i in n.inputs:
            if i and i in g.constants:
                runtime_consts[i] = g.constants[i]
        if kind in _NHWC_OPS:
            if _rank(g, n.inputs[0], ranks) is None:
                ranks[n.inputs[0]] = 4  # 2-D conv / pool weights imply a 4-D input
            ins = [want(n.inputs[0], "NHWC")] + n.inputs[1:]
            if _rank(g, n.inputs[0], ranks) != 4:
                raise NotImplementedError(f"lowp: {kind} node {n.name} needs a 4-D input (1-D/3-D conv not supported yet)")
            fn = {"lowp.QConv": lambda a: K.make_qconv(a, num_threads), "lowp.QMaxPool": K.make_qmaxpool,
                  "lowp.QGlobalAvgPool": K.make_qglobal_avgpool, "lowp.QAvgPool": K.make_qavgpool,
                  "lowp.ConvInteger": lambda a: K.make_conv_integer(a, num_threads)}[kind](n.attrs)
            steps.append(Step(fn, ins, n.outputs, n.name, kind))
            for o in n.outputs:
                layout[o] = "NHWC"
                ranks[o] = 4
            continue
        relabel = _transpose_relabel(g, n, layout, ranks)
        if relabel is not None:
            # A Transpose between NCHW and NHWC of a 4-D tensor already held in the target order (a model
            # with NHWC inputs, e.g. every TFLite model): the same array, relabelled; no copy.
            steps.append(Step(K.with_native(lambda x: (x,), K.native_alias), n.inputs[:1], n.outputs, n.name, kind))
            layout[n.outputs[0]] = relabel
            ranks[n.outputs[0]] = 4
            continue
        if kind == "QuantizeLinear" and _quantize_into_nhwc(g, n, layout, ranks, consumers):
            # NCHW float -> NHWC 8-bit in one pass (the quantization reads a transposed view).
            fq = K.elt("quantize_linear")
            qnative = K.native_quantizer(nhwc=True, num_threads=num_threads) if fq is not None else None

            def q_nhwc(x, s, z=None):
                if fq is not None and x.dtype == np.float32 and x.size >= 4096:
                    if qnative is not None and x.flags.c_contiguous:
                        return (qnative(x, s, z),)
                    return (K.nchw_to_nhwc(fq(x, s, z)),)
                if x.shape[1] == 1:
                    return (K.nchw_to_nhwc(quantize(x, s, z, 1)),)
                return (quantize(x.transpose(0, 2, 3, 1), s, z, 3),)
            q_nhwc.native = _native_quantize_nhwc(num_threads)
            steps.append(Step(q_nhwc, n.inputs, n.outputs, n.name, kind))
            layout[n.outputs[0]] = "NHWC"
            ranks[n.outputs[0]] = 4
            continue
        if kind == "Shape":
            # The logical (NCHW) shape of a tensor held NHWC: no transpose needed just to read it.
            nhwc = layout.get(n.inputs[0]) == "NHWC" and _rank(g, n.inputs[0], ranks) == 4
            sa = dict(n.attrs)

            def shape_fn(x, _nhwc=nhwc, _a=sa):
                shp = (x.shape[0], x.shape[3], x.shape[1], x.shape[2]) if _nhwc else x.shape
                return (np.array(shp, np.int64)[int(_a.get("start", 0)):_a.get("end")],)
            steps.append(Step(shape_fn, [n.inputs[0]], n.outputs, n.name, kind))
            continue
        # Layout-neutral steps: keep NHWC when every 4-D activation input is NHWC.
        neutral = False
        if kind in ("lowp.QLut", "lowp.TfliteQuantize"):
            neutral = True
        elif kind in ("lowp.QAdd", "lowp.QMul", "lowp.QSub"):
            neutral = len({_rank(g, i, ranks) for i in act}) == 1
        elif kind in ("QuantizeLinear", "DequantizeLinear"):
            neutral = all(np.size(g.constants.get(i, np.zeros(1))) == 1 for i in n.inputs[1:] if i)
        elif n.domain == "" and n.op in ELEMENTWISE_OPS:
            neutral = all(np.size(g.constants[i]) == 1 for i in n.inputs if i and i in g.constants)
            ranks_act = {_rank(g, i, ranks) for i in act}
            neutral = neutral and len(ranks_act) == 1
        elif (kind == "lowp.QMove" and n.attrs["onnx_op"] in _NHWC_MOVES) or kind in _NHWC_MOVES:
            neutral = _rank(g, n.inputs[0], ranks) == 4 and K.qmove_nhwc_ok(
                n.attrs if n.domain == "lowp" else {"onnx_op": n.op, "onnx_attrs": n.attrs},
                [g.constants.get(i) for i in n.inputs])
        elif (kind == "lowp.QMove" and n.attrs["onnx_op"] == "Concat") or kind in ("Concat", "lowp.QConcat"):
            neutral = all(_rank(g, i, ranks) == 4 for i in act) and len(act) == len([i for i in n.inputs if i])
        nhwc_in = bool(act) and all(layout.get(i, "NCHW") == "NHWC" for i in act if _rank(g, i, ranks) == 4) \
            and any(_rank(g, i, ranks) == 4 for i in act)
        if neutral and nhwc_in:
            lay = "NHWC"
            # 4-D constants (a QAdd / QMul / QSub operand) are logical NCHW like every 4-D value: held NHWC too
            ins = [want(i, "NHWC") if i in act else const_nhwc(i) for i in n.inputs]
        else:
            lay = "NCHW"
            ins = [want(i, "NCHW") if i in act else i for i in n.inputs]
        fn = _make(n, g, lay, num_threads)
        steps.append(Step(fn, ins, n.outputs, n.name, kind))
        for o in n.outputs:
            if lay == "NHWC" and neutral:
                layout[o] = "NHWC"
                ranks[o] = 4
    out_names = []
    for o in g.outputs:
        if layout.get(o.name) == "NHWC" and _rank(g, o.name, ranks) == 4:
            new = want(o.name, "NCHW")
            out_names.append(new)
        else:
            out_names.append(o.name)
    inputs = [i.name for i in g.inputs]
    consts = {k: v for k, v in runtime_consts.items() if any(k in s.inputs for s in steps)}
    for v in consts.values():
        if isinstance(v, np.ndarray):
            v.setflags(write=False)
    prog = Program(steps, consts, inputs, out_names, native=native)
    prog.output_aliases = dict(zip([o.name for o in g.outputs], out_names))
    prog.layouts = dict(layout)  # value name -> "NHWC" for 4-D values held channels-last (others NCHW)
    return prog


def _transpose_relabel(g, n, layout, ranks):
    """For a 4-D Transpose whose output, in the layout lowp would hold it, is its input's array
    unchanged: that layout ("NHWC" or "NCHW"), else None. perm (0, 3, 1, 2) of a tensor held as is
    is that array held NHWC; perm (0, 2, 3, 1) of a tensor held NHWC is its array held as is."""
    if n.kind == "lowp.QMove" and n.attrs["onnx_op"] == "Transpose":
        perm = n.attrs["onnx_attrs"].get("perm")
    elif n.kind == "Transpose":
        perm = n.attrs.get("perm")
    else:
        return None
    x = n.inputs[0] if n.inputs else None
    if perm is None or not x or x in g.constants or _rank(g, x, ranks) != 4:
        return None
    held = layout.get(x, "NCHW")
    if list(perm) == [0, 3, 1, 2] and held == "NCHW":
        return "NHWC"
    if list(perm) == [0, 2, 3, 1] and held == "NHWC":
        return "NCHW"
    return None


def _quantize_into_nhwc(g, n, layout, ranks, consumers) -> bool:
    x = n.inputs[0]
    if x in g.constants or layout.get(x, "NCHW") != "NCHW" or _rank(g, x, ranks) != 4:
        return False
    if any(np.size(g.constants.get(i, np.zeros(2))) != 1 for i in n.inputs[1:] if i):
        return False  # per-axis quantization: keep the general path
    cs = consumers.get(n.outputs[0], [])
    return any(c is not None and c.kind in _NHWC_OPS for c in cs)


def _flatten_into_gemm(g, n, layout, ranks, consumers) -> bool:
    if n.kind != "lowp.QMove" or n.attrs["onnx_op"] != "Flatten" or int(n.attrs["onnx_attrs"].get("axis", 1)) != 1:
        return False
    x = n.inputs[0]
    if layout.get(x) != "NHWC" or _rank(g, x, ranks) != 4:
        return False
    cs = consumers.get(n.outputs[0], [])
    if len(cs) != 1 or cs[0] is None or cs[0].kind != "lowp.QGemm":
        return False
    vi = g.value_info.get(x)
    if vi is None or vi.shape is None or len(vi.shape) != 4 or not all(isinstance(d, int) for d in vi.shape[1:]):
        return False
    C, H, W = vi.shape[1:]
    gemm = cs[0]
    w = gemm.attrs["w"]
    if w.shape[0] != C * H * W:
        return False
    gemm.attrs = dict(gemm.attrs, w=np.ascontiguousarray(
        w.reshape(C, H, W, -1).transpose(1, 2, 0, 3).reshape(C * H * W, -1)))
    return True


_TFLITE_KINDS = {
    "lowp.TfliteQuantize": K.make_tflite_quantize,
    "lowp.TfliteResizeBilinear": K.make_tflite_resize_bilinear,
    "lowp.TfliteMean": K.make_tflite_mean,
    "lowp.TfliteTransposeConv": K.make_tflite_transpose_conv,
    "lowp.TfliteArgMinMax": K.make_tflite_arg_min_max,
    "lowp.TflitePrelu": K.make_tflite_prelu,
    "lowp.TfliteReduceMaxMin": K.make_tflite_reduce_max_min,
    "lowp.TfliteBatchMatMul": K.make_tflite_batch_matmul,
    "lowp.TflitePairTable": K.make_tflite_pair_table,
    "lowp.TfliteGather": K.make_tflite_gather,
    "lowp.TfliteGatherNd": K.make_tflite_gather_nd,
}


def _make(n, g, lay, num_threads):
    kind = n.kind
    a = n.attrs
    if kind == "lowp.QGemm":
        return K.make_qgemm(a, num_threads)
    if kind == "lowp.MatMulInteger":
        return K.make_matmul_integer(a, num_threads)
    if kind == "lowp.QLut":
        table = np.ascontiguousarray(a["table"])
        f = K.elt("lookup_table")

        def lut_desc(nb, ins, outs):
            x, y = ins[0], outs[0]
            if nb.dtype(x) not in (np.uint8, np.int8) or nb.dtype(y) != table.dtype or nb.shape(x) != nb.shape(y):
                return False
            n = int(np.prod(nb.shape(x), dtype=np.int64))
            nb.op([x], [y], lambda P, S: P.lut(S(x), S(y), table, n, num_threads=num_threads or 0,
                                               name=f"QLut({y})"))
            return True
        if f is not None:
            return K.with_native(lambda x: (f(x, table),), lut_desc)
        return K.with_native(lambda x: (K.lut(x, table),), lut_desc)
    if kind == "lowp.QMove":
        return K.make_qmove(a, lay)
    if kind in _TFLITE_KINDS:  # node kinds of the TFLite importer: one adapter each, built from the attributes
        return _TFLITE_KINDS[kind](a, num_threads)
    if kind in ("lowp.QAdd", "lowp.QMul", "lowp.QSub"):
        return K.make_qbinary(kind[6:].lower(), a, num_threads)
    if kind == "lowp.QConcat":
        return K.make_qconcat(a, lay)
    if kind == "lowp.QMatMul":
        return K.make_qmatmul_activations(a, num_threads)
    if kind == "lowp.QSoftmax":
        f = K.elt("qlinear_softmax")
        ax = a["axis"]
        args = (a["x_scale"], a["x_zero_point"], a["y_scale"], a["y_zero_point"])
        if a.get("rounding", "half_even") != "half_even":  # TFLite SOFTMAX (gemmlowp fixed point), a Python step
            tfl = dict(rounding=a["rounding"], beta=float(a.get("beta", 1.0)))
            if lay == "NHWC" and int(ax) % 4 == 1:
                ax = 3

            def tfl_desc(nb, ins, outs):
                from ..ops.eltwise import _f32
                x, y = ins[0], outs[0]
                shp, dt = nb.shape(x), nb.dtype(x)
                if dt not in (np.uint8, np.int8) or not shp or 0 in shp or int(ax) % len(shp) != len(shp) - 1:
                    return False
                xs = _f32(args[0], "x_scale")
                rows, D = int(np.prod(shp[:-1], dtype=np.int64)), int(shp[-1])
                nb.op([x], [y], lambda P, S: P.softmax_tflite(S(x), S(y), rows, D, dt.name, xs, tfl["beta"],
                                                              tfl["rounding"], name=f"QSoftmax({y})"))
                return True
            return K.with_native(lambda x: (f(x, *args, axis=ax, **tfl),), tfl_desc)

        def softmax_desc(nb, ins, outs):
            # lowp.qlinear_softmax's native call for a softmax along the last axis (ORT arithmetic)
            from ..ops.eltwise import _f32, _zp1
            x, y = ins[0], outs[0]
            shp, dt = nb.shape(x), nb.dtype(x)
            if dt not in (np.uint8, np.int8) or not shp or int(ax) % len(shp) != len(shp) - 1 or shp[-1] == 0:
                return False
            if nb.dtype(y) != dt or nb.shape(y) != shp:
                return False
            xs, ys, yz = _f32(args[0], "x_scale"), _f32(args[2], "y_scale"), _zp1(args[3], dt, "y_zero_point")
            rows, D = int(np.prod(shp[:-1], dtype=np.int64)), int(shp[-1])
            nb.op([x], [y], lambda P, S: P.softmax(S(x), S(y), rows, D, dt.name, xs, ys, yz, name=f"QSoftmax({y})"))
            return True
        return K.with_native(lambda x: (f(x, *args, axis=ax),), softmax_desc)
    if kind == "QuantizeLinear":
        axis = int(a.get("axis", 1))
        if lay == "NHWC" and axis % 4 == 1:
            axis = 3

        # lowp.quantize_linear (one native pass) when present; else numpy float32 in place. Both are
        # bit-exact with onnxruntime (tests/test_session_quant.py, and every model test).
        fq = K.elt("quantize_linear")
        qdesc = _native_qdq(axis, False)
        if fq is not None and not a.get("output_dtype"):
            def qfn_native(x, s, z=None):
                if x.dtype != np.float32 or x.size < 4096:  # tiny tensors: numpy has less call overhead
                    return (quantize(x, s, z, axis),)
                return (fq(x, s, z, axis=axis),)
            return K.with_native(qfn_native, qdesc)
        def qfn(x, s, z=None):
            return (quantize(x, s, z, axis),)
        return qfn
    if kind == "DequantizeLinear":
        axis = int(a.get("axis", 1))
        if lay == "NHWC" and axis % 4 == 1:
            axis = 3
        def dqfn(x, s, z=None):
            return (dequantize(x, s, z, axis),)
        return K.with_native(dqfn, _native_qdq(axis, True))
    if n.domain == "" and n.op == "Shape" and lay == "NCHW":
        return lambda x: tuple(evaluate("Shape", a, [x]))
    if n.domain == "" and n.op in ("Conv", "Gemm", "MatMul", "MaxPool", "AveragePool"):
        return K.make_float_fallback(n)
    if n.domain == "" and n.op in _NHWC_MOVES and lay == "NHWC":  # 8-bit data of a QOperator model
        return K.make_qmove({"onnx_op": n.op, "onnx_attrs": a}, lay)
    if n.op == "Concat" and lay == "NHWC":
        attrs = dict(a)
        attrs["axis"] = K.NHWC_AXIS[int(a["axis"]) % 4]
        return K.generic_step("Concat", attrs)
    return K.generic_step(n.op, a)


def _native_quantize_nhwc(num_threads):
    """Native form of the NCHW float -> NHWC 8-bit boundary (per-tensor parameters)."""
    return lambda nb, ins, outs: _native_quantize_nhwc_desc(nb, ins, outs, num_threads)


def _native_quantize_nhwc_desc(nb, ins, outs, num_threads):
    x, y = ins[0], outs[0]
    s = nb.value(ins[1])
    z = nb.value(ins[2]) if len(ins) > 2 and ins[2] else None
    shp, ydt = nb.shape(x), nb.dtype(y)
    if s is None or (len(ins) > 2 and ins[2] and z is None) or nb.dtype(x) != np.float32 or len(shp) != 4:
        return False
    if ydt not in (np.uint8, np.int8) or np.size(s) != 1 or (z is not None and np.size(z) != 1):
        return False
    if z is not None and np.asarray(z).dtype != ydt:
        return False
    N, C, H, W = shp
    fs = float(np.float32(np.asarray(s).reshape(-1)[0]))
    iz = 0 if z is None else int(np.asarray(z).reshape(-1)[0])
    if not (np.isfinite(fs) and fs > 0):
        return False
    nb.op([x], [y], lambda P, S: P.quantize_nhwc(S(x), S(y), N, C, H * W, ydt.name, fs, iz, num_threads=num_threads,
                                                 name=f"Quantize({y})"))
    return True


def _native_qdq(axis, dequant):
    """Native QuantizeLinear (float32 -> 8-bit) / DequantizeLinear (8-bit -> float32)."""
    def desc(nb, ins, outs):
        x, y = ins[0], outs[0]
        s = nb.value(ins[1])
        z = nb.value(ins[2]) if len(ins) > 2 and ins[2] else None
        if s is None or (len(ins) > 2 and ins[2] and z is None):
            return False
        shp = nb.shape(x)
        qdt = nb.dtype(x) if dequant else nb.dtype(y)
        fdt = nb.dtype(y) if dequant else nb.dtype(x)
        if qdt not in (np.uint8, np.int8) or fdt != np.float32 or nb.shape(y) != shp:
            return False
        if z is not None and np.asarray(z).dtype != qdt:
            return False
        sv = np.ascontiguousarray(np.asarray(s, np.float32).reshape(-1))
        zv = np.zeros(sv.size, np.int32) if z is None else np.ascontiguousarray(np.asarray(z).astype(np.int32).reshape(-1))
        if zv.size != sv.size or not np.all(np.isfinite(sv)) or (not dequant and not np.all(sv > 0)):
            return False
        nd = len(shp)
        if sv.size == 1:
            outer, ln, inner = 1, 1, int(np.prod(shp, dtype=np.int64))
        else:
            ax = axis % nd if nd else 0
            if nd == 0 or shp[ax] != sv.size:
                return False
            outer = int(np.prod(shp[:ax], dtype=np.int64))
            ln = int(shp[ax])
            inner = int(np.prod(shp[ax + 1:], dtype=np.int64))
        nm = ("Dequantize" if dequant else "Quantize") + f"({y})"
        nb.op([x], [y], lambda P, S: P.quantize(S(x), S(y), dequant, outer, ln, inner, qdt.name, sv, zv, name=nm))
        return True
    return desc
