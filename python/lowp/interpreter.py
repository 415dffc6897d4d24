"""lowp.Interpreter: LiteRT's (TFLite's) Interpreter calls over lowp, for code written against
``ai_edge_litert.interpreter.Interpreter`` / ``tf.lite.Interpreter``::

    it = lowp.Interpreter(model_path="model_int8.tflite")
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    it.set_tensor(inp["index"], x)
    it.invoke()
    y = it.get_tensor(out["index"])

The model runs in a lowp.InferenceSession (the bits of LiteRT's reference kernels). Tensor indices, names, shapes,
shape signatures, dtypes and quantization parameters in the details are the file's own. What differs from LiteRT:
only the model's inputs and outputs can be read (lowp does not keep intermediate tensors), and only a dynamic batch
can be resized (a model whose inputs' shape_signature is [-1, ...]); the interpreter options of LiteRT (delegates,
op resolver, ...) are accepted and ignored.
"""
from __future__ import annotations

import numpy as np

__all__ = ["Interpreter"]


class Interpreter:
    """A LiteRT-style interpreter running a .tflite model with lowp (see the module docstring)."""

    def __init__(self, model_path=None, model_content=None, experimental_delegates=None, num_threads=None, **kwargs):
        from .importers.tflite import _Builder, _Table, is_tflite
        from .session import InferenceSession

        if (model_path is None) == (model_content is None):
            raise ValueError("lowp: pass exactly one of model_path and model_content")
        if model_path is not None:
            with open(model_path, "rb") as f:
                data = f.read()
        else:
            data = bytes(model_content)
        if not is_tflite(data):
            raise ValueError("lowp: not a TFLite flatbuffer (no 'TFL3' identifier)")
        self._session = InferenceSession(data, num_threads=num_threads)
        b = _Builder(data)
        self._tensors = b.tensors
        self._dynamic = bool(b.batch_inputs)
        self._in = [int(i) for i in b.sg.array(1, np.int32)]
        self._out = [int(i) for i in b.sg.array(2, np.int32)]
        self._batch = 1
        self._values: dict = {}  # tensor index -> the array last set (inputs) or computed (outputs)
        self._allocated = False
        # SignatureDefs (TFLiteConverter writes "serving_default"): key -> ([(name, index)] in, [(name, index)] out)
        self._signatures = {}
        try:
            root = _Table(data, int(np.frombuffer(data, "<u4", 1, 0)[0]))
            for sd in root.tables(7):
                if sd.scalar(4, "I", 0) != 0:  # another subgraph (lowp runs single-subgraph models)
                    continue
                maps = [[(m.string(0), int(m.scalar(1, "I", 0))) for m in sd.tables(k)] for k in (0, 1)]
                if all(i < len(self._tensors) for _, i in maps[0] + maps[1]):
                    self._signatures[sd.string(2)] = (maps[0], maps[1])
        except ValueError:
            raise
        except Exception as e:  # struct.error, IndexError, ... from a damaged file
            raise ValueError(f"lowp: corrupt TFLite file (signature defs: {type(e).__name__}: {e})") from None

    # ------------------------------------------------------------------ details
    def _shape(self, i):
        t = self._tensors[i]
        return list(t.shape_at(self._batch) if self._dynamic else t.shape)

    def _details(self, i):
        t = self._tensors[i]
        sig = [-1 if k in t.dynamic else d for k, d in enumerate(t.shape)]
        scales = np.asarray(t.scale, np.float32)
        zps = np.asarray(t.zero_point, np.int32)
        dup = f"#{i}"  # the importer's suffix for a repeated tensor name
        return {"name": t.name[:-len(dup)] if t.name.endswith(dup) else t.name, "index": i,
                "shape": np.array(self._shape(i), np.int32), "shape_signature": np.array(sig, np.int32),
                "dtype": t.dtype.type,
                "quantization": (float(scales[0]), int(zps[0])) if scales.size == 1 else (0.0, 0),
                "quantization_parameters": {"scales": scales, "zero_points": zps, "quantized_dimension": int(t.qdim),
                                            "block_size": 0},
                "sparsity_parameters": {}}

    def get_input_details(self):
        return [self._details(i) for i in self._in]

    def get_output_details(self):
        return [self._details(i) for i in self._out]

    def get_tensor_details(self):
        """Details of every tensor of the model (weights and intermediates included: their names, shapes and
        quantization; only inputs and outputs can be read with get_tensor)."""
        return [self._details(i) for i in range(len(self._tensors))]

    # ------------------------------------------------------------------ running
    def allocate_tensors(self):
        self._allocated = True

    def resize_tensor_input(self, input_index, tensor_size, strict=False):
        """Sets the batch of a dynamic-batch model's inputs (lowp resizes nothing else); allocate_tensors() follows,
        as with LiteRT."""
        if input_index not in self._in:
            raise ValueError(f"lowp: tensor {input_index} is not an input of this model (inputs: {self._in})")
        size = [int(d) for d in np.asarray(tensor_size).reshape(-1)]
        t = self._tensors[input_index]
        if len(size) != len(t.shape):
            raise ValueError(f"lowp: input {t.name!r} has rank {len(t.shape)}, cannot resize it to {size}")
        if size == self._shape(input_index):
            return
        if not self._dynamic or t.dynamic != (0,) or size[1:] != list(t.shape[1:]) or size[0] < 1:
            raise ValueError(f"lowp: cannot resize input {t.name!r} from {self._shape(input_index)} to {size}: lowp "
                             "changes only the batch of a model whose inputs' shape_signature is [-1, ...]")
        self._batch = size[0]
        self._values = {}
        self._allocated = False

    def _check_index(self, i):
        if not isinstance(i, (int, np.integer)) or not 0 <= i < len(self._tensors):
            raise ValueError(f"lowp: invalid tensor index {i} (the model has {len(self._tensors)} tensors)")

    def set_tensor(self, tensor_index, value):
        self._check_index(tensor_index)
        if tensor_index not in self._in:
            raise ValueError(f"lowp: tensor {tensor_index} is not an input of this model (inputs: {self._in})")
        if not self._allocated:
            raise ValueError("lowp: cannot set tensor: call allocate_tensors() first")
        t = self._tensors[tensor_index]
        value = np.asarray(value)
        if value.dtype != t.dtype:
            raise ValueError(f"lowp: cannot set tensor: got a value of type {value.dtype} but input {tensor_index} "
                             f"({t.name!r}) is {t.dtype}")
        want = self._shape(tensor_index)
        if list(value.shape) != want:
            raise ValueError(f"lowp: cannot set tensor: got shape {list(value.shape)} but input {tensor_index} "
                             f"({t.name!r}) has shape {want}")
        self._values[tensor_index] = value.copy()

    def invoke(self):
        if not self._allocated:
            raise RuntimeError("lowp: invoke() before allocate_tensors()")
        missing = [self._tensors[i].name for i in self._in if i not in self._values]
        if missing:
            raise ValueError(f"lowp: inputs {missing} were not set")
        feed = {self._tensors[i].name: self._values[i] for i in self._in}
        for i, y in zip(self._out, self._session.run(None, feed)):
            self._values[i] = y

    def get_tensor(self, tensor_index):
        self._check_index(tensor_index)
        if tensor_index not in self._in and tensor_index not in self._out:
            raise ValueError(f"lowp: tensor {tensor_index} ({self._tensors[tensor_index].name!r}) is an intermediate "
                             "tensor; lowp keeps only the model's inputs and outputs")
        if tensor_index not in self._values:
            raise ValueError(f"lowp: tensor {tensor_index} has no value yet (set the inputs and invoke())")
        return self._values[tensor_index].copy()

    # ------------------------------------------------------------------ SignatureDefs
    def get_signature_list(self):
        """{signature key: {"inputs": [names], "outputs": [names]}}, as LiteRT gives it."""
        return {k: {"inputs": [n for n, _ in ins], "outputs": [n for n, _ in outs]}
                for k, (ins, outs) in self._signatures.items()}

    def get_signature_runner(self, signature_key=None):
        """A callable runner(**inputs) -> {output name: array} for one SignatureDef (None: the model's only one)."""
        if signature_key is None:
            if len(self._signatures) != 1:
                raise ValueError(f"lowp: signature_key is None and the model has {len(self._signatures)} signatures")
            signature_key = next(iter(self._signatures))
        if signature_key not in self._signatures:
            raise ValueError(f"lowp: no signature {signature_key!r} (the model's: {sorted(self._signatures)})")
        return _SignatureRunner(self, *self._signatures[signature_key])


class _SignatureRunner:
    """LiteRT's SignatureRunner: inputs by their signature names, resized to the values given (the batch)."""

    def __init__(self, interpreter, inputs, outputs):
        self._it, self._inputs, self._outputs = interpreter, dict(inputs), list(outputs)

    def get_input_details(self):
        return {n: self._it._details(i) for n, i in self._inputs.items()}

    def get_output_details(self):
        return {n: self._it._details(i) for n, i in self._outputs}

    def __call__(self, **kwargs):
        if len(kwargs) != len(self._inputs):
            raise ValueError(f"lowp: the signature takes {len(self._inputs)} inputs ({sorted(self._inputs)}), got "
                             f"{len(kwargs)}")
        bad = sorted(set(kwargs) - set(self._inputs))
        if bad:
            raise ValueError(f"lowp: unknown signature input(s) {bad} (inputs: {sorted(self._inputs)})")
        it = self._it
        values = {n: np.asarray(v) for n, v in kwargs.items()}
        for n, v in values.items():
            it.resize_tensor_input(self._inputs[n], v.shape)
        it.allocate_tensors()
        for n, v in values.items():
            it.set_tensor(self._inputs[n], v)
        it.invoke()
        return {n: it.get_tensor(i) for n, i in self._outputs}
