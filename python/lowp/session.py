"""lowp.InferenceSession: run a quantized ONNX model with lowp's exact integer kernels.

A drop-in for the common onnxruntime calls::

    sess = lowp.InferenceSession("model_int8.onnx")
    (logits,) = sess.run(None, {"input": x})

Import -> passes (constant folding, QDQ fusion, lookup tables) -> lowering to prepacked kernel
calls happens once in the constructor. For each input-shape signature the steps are then lowered
once more into native programs (cpp/exec) that run the whole model in one native call with the GIL
released (python/lowp/passes/native.py); steps without a native form run as Python steps between
them. The compiled program is immutable and each run uses its own arena / environment, so one
session can serve many Python threads at once. Sessions pickle as their model bytes.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from .graph import ValueInfo
from .importers.onnx import import_onnx, load_model_bytes
from .passes import optimize
from .passes.lower import lower

__all__ = ["InferenceSession", "NodeArg", "load"]


class NodeArg:
    """Name, shape and type of a model input or output (like onnxruntime.NodeArg)."""

    def __init__(self, vi: ValueInfo):
        self.name = vi.name
        self.shape = [d for d in vi.shape] if vi.shape is not None else []
        self.type = vi.type
        self.dtype = None if vi.dtype is None else np.dtype(vi.dtype)

    def __repr__(self):
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape})"


def _batch_axes(vi: ValueInfo, axes) -> ValueInfo:
    """vi with its dynamic axes named: "batch" for axis 0, None for another axis that follows the batch."""
    if not axes:
        return vi
    shape = tuple(("batch" if k == 0 else None) if k in axes else d for k, d in enumerate(vi.shape))
    return ValueInfo(vi.name, vi.dtype, shape)


class InferenceSession:
    """Runs a quantized ONNX model (QDQ or QOperator format) with lowp's integer kernels.

    path_or_bytes: a file path, the serialized model, or an onnx.ModelProto.
    num_threads: threads for lowp's kernels (default: lowp's pool size).
    native: run through native programs (default True unless the environment sets LOWP_NATIVE=0);
    False keeps the pure-Python step loop (same bits, slower; for comparison and debugging).
    ort_float: "all" (default) | "auto" | "off" -- for int8-activation QDQ nodes that onnxruntime runs
    in float32, reproduce its float32 arithmetic bit for bit ("all"), only the cheap ones ("auto"), or
    keep lowp's exact integer arithmetic ("off": fastest, differs from onnxruntime by 1 LSB where its
    float32 rounds differently). Environment LOWP_ORT_FLOAT sets the default.
    providers / sess_options are accepted (and ignored) for drop-in compatibility with onnxruntime.
    """

    def __init__(self, path_or_bytes, sess_options=None, providers=None, *, num_threads=None, native=None,
                 ort_float=None, **kwargs):
        from ._dispatch import _threads_arg
        from .passes.qdq import ort_float_policy

        threads = _threads_arg(num_threads) or None  # ValueError outside [1, 4096]
        # int8-activation QDQ nodes onnxruntime runs in float32: reproduce its float arithmetic for
        # "all" (default: onnxruntime's bits), "auto" (the cheap ones) or "off" (lowp's exact integers,
        # fastest); see passes/qdq.py
        self._ort_float = ort_float_policy(ort_float)
        self._model_bytes = load_model_bytes(path_or_bytes)
        self._num_threads = threads
        self._native = None if native is None else bool(native)
        self._build()

    def _build(self):
        from .importers.tflite import import_tflite, is_tflite

        self._batch_inputs = ()
        if is_tflite(self._model_bytes):
            # A .tflite model: lowp integer nodes with TFLite's reference arithmetic (importers/tflite.py)
            g = import_tflite(self._model_bytes)
            # A dynamic batch (shape_signature [-1, ...]) shows as "batch", as an ONNX dim_param would; each batch
            # size then gets its own import + lowering (_program_for), as LiteRT re-prepares after a resize.
            self._batch_inputs = g.batch_inputs
            self._inputs = [NodeArg(_batch_axes(v, (0,) if v.name in g.batch_inputs else ())) for v in g.inputs]
            self._outputs = [NodeArg(_batch_axes(v, g.batch_outputs.get(v.name, ()))) for v in g.outputs]
            g.remove_dead()
        else:
            g = import_onnx(self._model_bytes)
            self._inputs = [NodeArg(v) for v in g.inputs]
            self._outputs = [NodeArg(v) for v in g.outputs]
            optimize(g)
            from .passes.qdq import apply_ort_float_policy

            apply_ort_float_policy(g, self._ort_float)
        self._graph = g
        self._program = lower(g, self._num_threads or 0, native=self._native)
        self._fast = None  # Program.fast_path of the last signature run (see run)
        if getattr(g, "source_format", "") == "tflite":
            self._check_tflite(self._program, g)
        self._batch_programs = OrderedDict({1: self._program})  # dynamic-batch TFLite: batch size -> Program
        self._batch_lock = threading.Lock()

    MAX_BATCH_PROGRAMS = 8

    @staticmethod
    def _check_tflite(program, g):
        # TFLite files declare every tensor's shape: one probe run checks them all at load, so a damaged or
        # inconsistent file fails here with its tensor named, not later inside a kernel.
        zeros = {a.name: np.zeros([int(d) for d in a.shape], a.dtype) for a in g.inputs}
        program.check_shapes(zeros, g.value_info)

    def _program_for(self, feed):
        """The Program for this feed: the one built at load, or for a dynamic-batch TFLite model, the one for the
        feed's batch size (imported and lowered on first use; the last MAX_BATCH_PROGRAMS sizes are kept)."""
        if not self._batch_inputs:
            return self._program
        sizes = {feed[n].shape[0] for n in self._batch_inputs}
        if len(sizes) != 1:
            raise ValueError(f"lowp: the dynamic-batch inputs {list(self._batch_inputs)} must have the same batch "
                             f"size, got {sorted(sizes)}")
        batch = sizes.pop()
        if batch < 1:
            raise ValueError("lowp: batch size 0: this TFLite model needs at least one item per input")
        with self._batch_lock:
            prog = self._batch_programs.get(batch)
            if prog is not None:
                self._batch_programs.move_to_end(batch)
                return prog
        from .importers.tflite import import_tflite

        g = import_tflite(self._model_bytes, batch)
        g.remove_dead()
        prog = lower(g, self._num_threads or 0, native=self._native)
        self._check_tflite(prog, g)
        with self._batch_lock:
            prog = self._batch_programs.setdefault(batch, prog)
            while len(self._batch_programs) > self.MAX_BATCH_PROGRAMS:
                self._batch_programs.popitem(last=False)
        return prog

    # ------------------------------------------------------------------ onnxruntime-style API
    def get_inputs(self):
        return list(self._inputs)

    def get_outputs(self):
        return list(self._outputs)

    def get_providers(self):
        return ["lowp"]

    @property
    def graph(self):
        """The optimized lowp graph (read it, do not modify it)."""
        return self._graph

    def _check_feed(self, input_feed):
        if not isinstance(input_feed, dict):
            raise TypeError(f"lowp: input_feed must be a dict name -> numpy array, got {type(input_feed).__name__}")
        names = {i.name for i in self._inputs}
        unknown = sorted(set(input_feed) - names)
        missing = [i.name for i in self._inputs if i.name not in input_feed]
        if unknown:
            raise ValueError(f"lowp: unknown input name(s) {unknown}; the model's inputs are {sorted(names)}")
        if missing:
            raise ValueError(f"lowp: missing input(s) {missing}")
        feed = {}
        for arg in self._inputs:
            x = input_feed[arg.name]
            if not isinstance(x, np.ndarray):
                x = np.asarray(x)
            if arg.dtype is not None and x.dtype != arg.dtype:
                raise TypeError(f"lowp: input {arg.name!r} must be {arg.type} ({arg.dtype}), got {x.dtype}")
            if len(arg.shape) and x.ndim != len(arg.shape):
                raise ValueError(f"lowp: input {arg.name!r} must have rank {len(arg.shape)} (shape {arg.shape}), "
                                 f"got shape {x.shape}")
            for k, (d, e) in enumerate(zip(x.shape, arg.shape)):
                if isinstance(e, int) and d != e:
                    raise ValueError(f"lowp: input {arg.name!r} dimension {k} must be {e} (shape {arg.shape}), "
                                     f"got shape {x.shape}")
            feed[arg.name] = x
        return feed

    def run(self, output_names, input_feed, run_options=None):
        """Returns the requested outputs (all when output_names is None) as a list of numpy arrays."""
        fast = self._fast
        if fast is not None and output_names is None and type(input_feed) is dict:
            # The inputs of the previous call's signature, run as one native program: skip the general
            # checks (the native program checks sizes again) -- a few microseconds on small models.
            outs = fast(input_feed)
            if outs is not None:
                return outs
        feed = self._check_feed(input_feed)
        all_names = [o.name for o in self._outputs]
        if output_names is None:
            output_names = all_names
        else:
            if isinstance(output_names, str):
                raise TypeError("lowp: output_names must be a list of names or None")
            bad = [n for n in output_names if n not in all_names]
            if bad:
                raise ValueError(f"lowp: unknown output name(s) {bad}; the model's outputs are {all_names}")
        program = self._program_for(feed)
        env = program.run(feed)
        alias = program.output_aliases
        if output_names is all_names:
            self._fast = program.fast_path(feed, all_names)
        return [np.asarray(env[alias[n]]) for n in output_names]

    def memory_plan(self, input_feed=None, batch: int = 1):
        """Static arena plan (lowp.passes.memory.MemoryPlan) for these inputs (default: zeros, `batch`).

        ``plan.peak_bytes`` is the arena a preallocated executor needs for every intermediate
        tensor; ``plan.total_bytes`` what keeping them all alive would cost; ``plan.native_bytes``
        the arena(s) the native programs actually use per run (reshapes are aliases there).
        """
        from .passes.memory import plan_memory

        if input_feed is None:
            input_feed = {}
            for a in self._inputs:
                shape = [d if isinstance(d, int) and d > 0 else (batch if k == 0 else 1) for k, d in enumerate(a.shape)]
                input_feed[a.name] = np.zeros(shape, a.dtype or np.float32)
        feed = self._check_feed(input_feed)
        program = self._program_for(feed)
        sizes = {}
        env = dict(program.constants)
        env.update(feed)
        for step in program.steps:
            outs = step.fn(*[env[i] if i else None for i in step.inputs])
            for name, v in zip(step.outputs, outs):
                if name:
                    env[name] = v
                    sizes[name] = int(np.asarray(v).nbytes)
        plan = plan_memory(program, sizes)
        plan.check()
        if program.native:
            plan.native_bytes = sum(p.arena_bytes for p in program.native_programs(feed))
        return plan

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        return {"model": self._model_bytes, "num_threads": self._num_threads, "native": self._native,
                "ort_float": self._ort_float}

    def __setstate__(self, state):
        self._model_bytes = state["model"]
        self._num_threads = state["num_threads"]
        self._native = state.get("native")
        self._ort_float = state.get("ort_float", "all")
        self._build()

    def __repr__(self):
        ins = ", ".join(f"{i.name}{i.shape}" for i in self._inputs)
        return f"lowp.InferenceSession(inputs=[{ins}], {len(self._program.steps)} steps)"


def load(path_or_bytes, *, num_threads=None, native=None, ort_float=None) -> InferenceSession:
    """Same as lowp.InferenceSession(path_or_bytes, num_threads=num_threads, native=native, ort_float=ort_float)."""
    return InferenceSession(path_or_bytes, num_threads=num_threads, native=native, ort_float=ort_float)
