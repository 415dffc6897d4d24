"""TFLite flatbuffer (.tflite) -> lowp Graph, for fully integer-quantized models (int8 / uint8).

The result is computed the way LiteRT's reference kernels (``OpResolverType.BUILTIN_REF``) compute
it: per-channel weights, ``QuantizeMultiplier`` + gemmlowp double rounding (``rounding="gemmlowp"``)
for CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED, TFLite's fixed-point ADD / MUL, integer
AVERAGE_POOL_2D and SOFTMAX, and QUANTIZE / DEQUANTIZE with TFLite's float rounding.

The file is read with the ``flatbuffers`` runtime and the field numbers of TFLite's schema
(tensorflow/lite/schema/schema.fbs); nothing from TensorFlow is needed. TFLite tensors are NHWC;
lowp's graph IR is NCHW at the ONNX level (kernels run NHWC inside), so every 4-D activation enters
through a Transpose that the lowering turns into a relabelling (no copy) and NHWC semantics (RESHAPE,
FULLY_CONNECTED flattening, axes) are kept by transposing back where they matter. Inputs and outputs
keep TFLite's own shapes (NHWC).

Shape arithmetic on constants (SHAPE -> STRIDED_SLICE -> PACK feeding RESHAPE, as Keras exports
it) is evaluated here. Unsupported operators are reported all at once, by name.
"""
from __future__ import annotations

import numpy as np
from flatbuffers import number_types as _N
from flatbuffers.encode import Get as _get

from ..gemm import _requant_params as _gemm_requant
from ..graph import Graph, Node, ValueInfo

_SOFFSET, _VOFFSET, _UOFFSET = (_N.SOffsetTFlags.packer_type, _N.VOffsetTFlags.packer_type,
                                _N.UOffsetTFlags.packer_type)
_SCALARS = {"b": _N.Int8Flags, "B": _N.Uint8Flags, "i": _N.Int32Flags, "I": _N.Uint32Flags, "f": _N.Float32Flags,
            "q": _N.Int64Flags, "Q": _N.Uint64Flags, "?": _N.BoolFlags}
_SCALARS = {k: v.packer_type for k, v in _SCALARS.items()}

# BuiltinOperator names by code (schema.fbs enum order; '-' = unused code), for naming any operator in errors
_OP_NAMES = (
    "ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE EMBEDDING_LOOKUP FLOOR "
    "FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D LOCAL_RESPONSE_NORMALIZATION LOGISTIC "
    "LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH "
    "SVDF TANH CONCAT_EMBEDDINGS SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN "
    "GATHER BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM "
    "STRIDED_SLICE BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM "
    "CAST PRELU MAXIMUM ARG_MAX MINIMUM LESS NEG PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN "
    "TRANSPOSE_CONV SPARSE_TO_DENSE TILE EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN "
    "FAKE_QUANT REDUCE_PROD REDUCE_MAX PACK LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV "
    "REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD RANGE RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE "
    "MIRROR_PAD ABS SPLIT_V UNIQUE CEIL REVERSE_V2 ADD_N GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG "
    "QUANTIZE MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 SCATTER_ND "
    "SELECT_V2 DENSIFY SEGMENT_SUM BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM CALL_ONCE BROADCAST_TO "
    "RFFT2D CONV_3D IMAG REAL COMPLEX_ABS HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL "
    "CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE ASSIGN_VARIABLE BROADCAST_ARGS RANDOM_STANDARD_NORMAL BUCKETIZE "
    "RANDOM_UNIFORM MULTINOMIAL GELU DYNAMIC_UPDATE_SLICE RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX "
    "UNSORTED_SEGMENT_SUM ATAN2 UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT STABLEHLO_LOGISTIC "
    "STABLEHLO_ADD STABLEHLO_DIVIDE STABLEHLO_MULTIPLY STABLEHLO_MAXIMUM STABLEHLO_RESHAPE STABLEHLO_CLAMP "
    "STABLEHLO_CONCATENATE STABLEHLO_BROADCAST_IN_DIM STABLEHLO_CONVOLUTION STABLEHLO_SLICE STABLEHLO_CUSTOM_CALL "
    "STABLEHLO_REDUCE STABLEHLO_ABS STABLEHLO_AND STABLEHLO_COSINE STABLEHLO_EXPONENTIAL STABLEHLO_FLOOR "
    "STABLEHLO_LOG STABLEHLO_MINIMUM STABLEHLO_NEGATE STABLEHLO_OR STABLEHLO_POWER STABLEHLO_REMAINDER "
    "STABLEHLO_RSQRT STABLEHLO_SELECT STABLEHLO_SUBTRACT STABLEHLO_TANH STABLEHLO_SCATTER STABLEHLO_COMPARE "
    "STABLEHLO_CONVERT STABLEHLO_DYNAMIC_SLICE STABLEHLO_DYNAMIC_UPDATE_SLICE STABLEHLO_PAD STABLEHLO_IOTA "
    "STABLEHLO_DOT_GENERAL STABLEHLO_REDUCE_WINDOW STABLEHLO_SORT STABLEHLO_WHILE STABLEHLO_GATHER "
    "STABLEHLO_TRANSPOSE DILATE STABLEHLO_RNG_BIT_GENERATOR REDUCE_WINDOW STABLEHLO_COMPOSITE STABLEHLO_SHIFT_LEFT "
    "STABLEHLO_CBRT STABLEHLO_CASE "
).split()
_OPS = {i: n for i, n in enumerate(_OP_NAMES) if n != "-"}
# TensorType -> numpy
_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 6: np.bool_, 7: np.int16, 9: np.int8,
          10: np.float64}
_ACT = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
_NCHW = (0, 3, 1, 2)  # NHWC tensor -> NCHW view
_NHWC = (0, 2, 3, 1)  # NCHW -> NHWC

TFLITE_IDENTIFIER = b"TFL3"


def is_tflite(data: bytes) -> bool:
    return len(data) >= 8 and data[4:8] == TFLITE_IDENTIFIER


class _Table:
    """One flatbuffer table: fields by their number in the schema (vtable slot 4 + 2 * n)."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos

    def _field(self, n):
        vtable = self.pos - _get(_SOFFSET, self.buf, self.pos)
        slot = 4 + 2 * n
        if slot >= _get(_VOFFSET, self.buf, vtable):
            return 0
        return _get(_VOFFSET, self.buf, vtable + slot)

    def _deref(self, at):
        return at + _get(_UOFFSET, self.buf, at)

    def scalar(self, n, fmt, default=0):
        o = self._field(n)
        return _get(_SCALARS[fmt], self.buf, self.pos + o) if o else default

    def table(self, n):
        o = self._field(n)
        return _Table(self.buf, self._deref(self.pos + o)) if o else None

    def _vector(self, n):
        o = self._field(n)
        if not o:
            return None, 0
        start = self._deref(self.pos + o)
        return start + 4, _get(_UOFFSET, self.buf, start)

    def tables(self, n):
        start, count = self._vector(n)
        return [] if start is None else [_Table(self.buf, self._deref(start + 4 * i)) for i in range(count)]

    def array(self, n, dtype):
        start, count = self._vector(n)
        dt = np.dtype(dtype).newbyteorder("<")
        if start is None:
            return np.zeros(0, dt)
        if start + count * dt.itemsize > len(self.buf):
            raise ValueError("lowp: corrupt TFLite file (a vector runs past the end of the file)")
        return np.frombuffer(self.buf, dt, count, start).astype(dt.newbyteorder("="))

    def string(self, n):
        start, count = self._vector(n)
        return "" if start is None else bytes(self.buf[start:start + count]).decode("utf-8", "replace")


class _Tensor:
    __slots__ = ("index", "name", "shape", "dtype", "buffer", "scale", "zero_point", "qdim", "dynamic")

    def __init__(self, index, t: _Table, names_seen):
        self.index = index
        name = t.string(3) or f"tensor_{index}"
        if name in names_seen:
            name = f"{name}#{index}"
        names_seen.add(name)
        self.name = name
        self.shape = tuple(int(d) for d in t.array(0, np.int32))
        code = t.scalar(1, "b", 0)
        if code not in _TYPES:
            raise NotImplementedError(f"lowp: TFLite tensor {name!r} has an unsupported type (TensorType {code})")
        self.dtype = np.dtype(_TYPES[code])
        # A damaged file can declare any shape: refuse negative sizes and tensors over 2 GiB here rather than
        # let an allocation fail later (or the OS end the process).
        if any(d < 0 for d in self.shape):
            raise ValueError(f"lowp: corrupt TFLite file: tensor {name!r} has shape {list(self.shape)}")
        self._check_size()
        # shape_signature: -1 marks a dimension fixed only at run time (LiteRT's resize_tensor_input); `shape` holds
        # its size for a batch of 1. Axes of this tensor that are dynamic:
        sig = t.array(7, np.int32)
        self.dynamic = tuple(k for k, d in enumerate(sig) if d == -1) if sig.size == len(self.shape) else ()
        self.buffer = t.scalar(2, "I", 0)
        q = t.table(4)
        if q is not None:
            self.scale = q.array(2, np.float32)
            self.zero_point = q.array(3, np.int64)
            self.qdim = q.scalar(6, "i", 0)
        else:
            self.scale, self.zero_point, self.qdim = np.zeros(0, np.float32), np.zeros(0, np.int64), 0

    def shape_at(self, batch):
        """This tensor's shape when the model's inputs run at `batch`: each dynamic axis (-1 in shape_signature)
        scales with it, its `shape` entry being its size at batch 1 (1, or S where a RESHAPE merged the batch with
        S rows)."""
        return tuple(d * int(batch) if k in self.dynamic else d for k, d in enumerate(self.shape))

    def _check_size(self):
        if int(np.prod(self.shape, dtype=np.float64)) * self.dtype.itemsize >= 1 << 31:
            raise ValueError(f"lowp: TFLite tensor {self.name!r} of shape {list(self.shape)} is over 2 GiB "
                             "(corrupt file?)")

    @property
    def quantized(self):
        return self.scale.size > 0


def _act_range(act, scale, zp, dtype):
    """TFLite CalculateActivationRangeQuantized: zp + round_half_away(f / scale), f in float32."""
    info = np.iinfo(dtype)
    lo, hi = int(info.min), int(info.max)

    def q(f):
        v = np.float32(f) / np.float32(scale)
        return int(zp) + int(np.floor(abs(float(v)) + 0.5) * (1 if v >= 0 else -1))
    name = _ACT.get(act, str(act))
    if name == "NONE":
        return lo, hi
    if name == "RELU":
        return max(lo, q(0.0)), hi
    if name == "RELU6":
        return max(lo, q(0.0)), min(hi, q(6.0))
    if name == "RELU_N1_TO_1":
        return max(lo, q(-1.0)), min(hi, q(1.0))
    raise NotImplementedError(f"lowp: TFLite fused activation {name} is not supported")


# gemmlowp / TFLite fixed point on int64 numpy arrays holding int32 values (load-time tables only)
def _wrap32(v):
    return ((np.asarray(v, np.int64) + (1 << 31)) % (1 << 32)) - (1 << 31)


def _srdhm32(a, b):
    """SaturatingRoundingDoublingHighMul: (a * b + nudge) / 2^31 truncated, nudge 2^30 or 1 - 2^30 by the sign."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    ab = a * b
    s = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    q = np.where(s >= 0, s >> 31, -((-s) >> 31))
    return np.where((a == b) & (a == -(1 << 31)), (1 << 31) - 1, q)


def _rdbpot32(x, e):
    """RoundingDivideByPOT: x / 2^e rounded half away from zero."""
    x = np.asarray(x, np.int64)
    if e == 0:
        return x
    mask = (1 << e) - 1
    return (x >> e) + ((x & mask) > ((mask >> 1) + (x < 0)))


def _sat_mul_pot32(x, e):
    """SaturatingRoundingMultiplyByPOT: x * 2^e saturated to int32 (e >= 0), RoundingDivideByPOT (e < 0)."""
    if e < 0:
        return _rdbpot32(x, -e)
    return np.clip(np.asarray(x, np.int64) << e, -(1 << 31), (1 << 31) - 1)


def _mbqm32(x, m, shift):
    """MultiplyByQuantizedMultiplier (int32 x, gemmlowp double rounding)."""
    return _rdbpot32(_srdhm32(_wrap32(np.asarray(x, np.int64) << max(shift, 0)), m), max(-shift, 0))


def _inv_sqrt_multiplier_exp(v):
    """TFLite's GetInvSqrtQuantizedMultiplierExp(v, reverse_shift=-1) for one int32 v > 1: a Q3 Newton iteration
    (5 steps from x = 1) for 1/sqrt of v normalised into [2^27, 2^29), times sqrt(2)/2 in Q0; -> (multiplier, shift)."""
    shift = 11
    while v >= 1 << 29:
        v //= 4
        shift += 1
    pairs = ((32 - int(v).bit_length()) - 1) // 2 - 1  # (CountLeadingZeros - 1) / 2 - 1
    shift -= pairs
    v <<= 2 * pairs
    half_input = int(_rdbpot32(v >> 1, 1))
    half_three = (1 << 28) + (1 << 27)
    x = 1 << 28
    for _ in range(5):
        x3 = int(_sat_mul_pot32(_srdhm32(_srdhm32(x, x), x), 6))
        x = int(_sat_mul_pot32(_wrap32(int(_srdhm32(half_three, x)) - int(_srdhm32(half_input, x3))), 3))
    x = int(_srdhm32(x, 1518500250))
    if shift < 0:
        x, shift = int(_sat_mul_pot32(x, -shift)), 0
    return x, -shift


def _same_pads(in_hw, k, s, d, padding):
    """TFLite padding (SAME = 0, VALID = 1) -> ONNX pads [top, left, bottom, right]."""
    if padding == 1:
        return [0, 0, 0, 0]
    pads = []
    for i in range(2):
        eff = (k[i] - 1) * d[i] + 1
        out = (in_hw[i] + s[i] - 1) // s[i]
        total = max((out - 1) * s[i] + eff - in_hw[i], 0)
        pads.append((total // 2, total - total // 2))
    return [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]


def _strided_slice_axes(shape, begin, end, strides, opts: _Table):
    """TFLite STRIDED_SLICE as the source indices of every axis (a shrunk axis keeps its one index; the caller
    reshapes to the output shape)."""
    begin_mask, end_mask = opts.scalar(0, "i"), opts.scalar(1, "i")
    if opts.scalar(2, "i") or opts.scalar(3, "i") or opts.scalar(5, "?", False):
        raise NotImplementedError("lowp: TFLite STRIDED_SLICE with ellipsis / new-axis masks or offset")
    shrink = opts.scalar(4, "i")
    axes = []
    for ax, dim in enumerate(shape):
        if shrink >> ax & 1:
            axes.append(np.arange(dim)[int(begin[ax]):][:1])
        else:
            b = None if begin_mask >> ax & 1 else int(begin[ax])
            e = None if end_mask >> ax & 1 else int(end[ax])
            axes.append(np.arange(dim)[b:e:int(strides[ax])])
    return axes


def batch_inputs(tensors, input_indices):
    """Indices of the subgraph inputs whose batch (axis 0) is dynamic, when the model can be run at any batch size:
    every input is either static or dynamic in axis 0 only (shape_signature [-1, ...]). () otherwise."""
    dyn = [i for i in input_indices if tensors[i].dynamic]
    if not dyn or any(tensors[i].dynamic != (0,) or tensors[i].shape[0] != 1 for i in dyn):
        return ()
    return tuple(dyn)


class _Builder:
    def __init__(self, data: bytes, batch: int | None = None):
        self.data = data
        root = _Table(data, int(np.frombuffer(data, "<u4", 1, 0)[0]))
        self.version = root.scalar(0, "I", 0)
        subgraphs = root.tables(2)
        if not subgraphs:
            raise ValueError("lowp: the TFLite file has no subgraph")
        if len(subgraphs) > 1:
            raise NotImplementedError(f"lowp: TFLite models with {len(subgraphs)} subgraphs (control flow) are not "
                                      "supported")
        self.sg = subgraphs[0]
        self.codes = []
        for oc in root.tables(1):
            code = max(oc.scalar(3, "i", 0), oc.scalar(0, "b", 0))
            custom = oc.string(1)
            self.codes.append(("CUSTOM:" + custom) if custom else _OPS.get(code, f"BuiltinOperator {code}"))
        self.buffers = root.tables(4)
        seen: set = set()
        self.tensors = [_Tensor(i, t, seen) for i, t in enumerate(self.sg.tables(0))]
        self.batch_inputs = batch_inputs(self.tensors, [int(i) for i in self.sg.array(1, np.int32)])
        if batch is not None and batch != 1:
            self._set_batch(batch)
        self.nodes: list = []
        self.constants: dict = {}
        self.value_info: dict = {}
        self.folded: dict = {}  # TFLite tensor index -> value of constant shape arithmetic evaluated here
        self.nhwc: dict = {}  # TFLite tensor index -> its NHWC-order name (nhwc_of)
        self.pad_fold: dict = {}  # PAD output index -> (its input index, [top, left, bottom, right]) folded into convs
        self.logical: dict = {}  # TFLite tensor index -> name of its value in the graph (NCHW for 4-D)
        self._n = 0

    def _set_batch(self, batch):
        """Every shape as LiteRT's resize_tensor_input(input, [batch, ...]) makes it (_Tensor.shape_at). Static
        tensors keep their shapes; the load-time shape check (InferenceSession) catches a file whose operators do
        not follow this rule."""
        if not self.batch_inputs:
            raise ValueError("lowp: this TFLite model has a fixed batch size (no input's shape_signature is "
                             "[-1, ...])")
        if not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ValueError(f"lowp: batch size must be a positive integer, got {batch!r}")
        for t in self.tensors:
            if t.dynamic:
                t.shape = t.shape_at(batch)
                t._check_size()

    # ------------------------------------------------------------------ helpers
    def vi(self, name, shape, dtype):
        """Records a graph value's shape (the logical one: NCHW for 4-D activations) and dtype."""
        self.value_info[name] = ValueInfo(name, np.dtype(dtype), tuple(int(d) for d in shape))
        return name

    def logical_shape(self, i):
        shp = self.tensors[i].shape
        return tuple(shp[k] for k in _NCHW) if len(shp) == 4 else shp

    def fresh(self, base):
        self._n += 1
        return f"{base}__lowp{self._n}"

    def const_value(self, i):
        """The constant data of tensor i (None when it is computed at run time)."""
        if i < 0:
            return None
        t = self.tensors[i]
        if i in self.folded:
            return self.folded[i]
        if t.buffer <= 0 or t.buffer >= len(self.buffers):
            return None
        b = self.buffers[t.buffer]
        off, size = b.scalar(1, "Q", 0), b.scalar(2, "Q", 0)
        if off > 1:
            if off + size > len(self.data):
                raise ValueError(f"lowp: corrupt TFLite file (buffer of tensor {t.name!r} runs past the end)")
            raw = np.frombuffer(self.data, np.uint8, size, off)
        else:
            raw = b.array(0, np.uint8)
        if raw.size == 0:
            return None
        n = int(np.prod(t.shape, dtype=np.int64)) if t.shape else 1
        if raw.size != n * t.dtype.itemsize:
            raise ValueError(f"lowp: corrupt TFLite file: tensor {t.name!r} {t.shape} {t.dtype} has {raw.size} bytes "
                             "of data")
        return np.frombuffer(raw.tobytes(), t.dtype.newbyteorder("<")).astype(t.dtype).reshape(t.shape)

    def qparams(self, i, what):
        t = self.tensors[i]
        if not t.quantized or t.dtype not in (np.dtype(np.int8), np.dtype(np.uint8)):
            raise NotImplementedError(f"lowp: {what}: tensor {t.name!r} is {t.dtype}"
                                      f"{'' if t.quantized else ' without quantization'}; lowp runs int8 / uint8 "
                                      "quantized TFLite models (float ops only at QUANTIZE / DEQUANTIZE boundaries)")
        if t.scale.size != 1:
            raise NotImplementedError(f"lowp: {what}: activation {t.name!r} has per-axis quantization")
        return np.float32(t.scale[0]), t.dtype.type(int(t.zero_point[0]) if t.zero_point.size else 0)

    def name_of(self, i):
        """Graph name holding tensor i (logical NCHW when 4-D); constants are added on first use."""
        if i in self.logical:
            return self.logical[i]
        v = self.const_value(i)
        if v is None:
            raise ValueError(f"lowp: TFLite tensor {self.tensors[i].name!r} is used before it is computed")
        name = self.tensors[i].name
        self.constants[name] = np.ascontiguousarray(v.transpose(_NCHW)) if v.ndim == 4 else v  # logical NCHW
        self.logical[i] = name
        return name

    def rank(self, i):
        return len(self.tensors[i].shape)

    def nhwc_of(self, i, q):
        """Name of tensor i in TFLite's own (NHWC) element order."""
        name = self.name_of(i)
        if self.rank(i) != 4:
            return name
        if i not in self.nhwc and self.const_value(i) is not None:
            # a constant: its data is in TFLite's order already (no Transpose step of the logical copy)
            self.nhwc[i] = self.fresh(self.tensors[i].name + "@nhwc")
            self.constants[self.nhwc[i]] = self.const_value(i)
        if i not in self.nhwc:  # one Transpose per tensor, however many operators read it in NHWC order
            out = self.fresh(self.tensors[i].name + "@nhwc")
            t = self.tensors[i]
            self.move("Transpose", [name], out, {"perm": list(_NHWC)}, q, t.shape, t.dtype)
            self.nhwc[i] = out
        return self.nhwc[i]

    def move(self, op, ins, out, attrs, q, shape=None, dtype=None):
        """8-bit data movement (lowp.QMove) or float glue (the ONNX op) from ins[0] to out (of shape / dtype
        when given: recorded in value_info)."""
        if shape is not None:
            self.vi(out, shape, dtype)
        if q is None:
            self.nodes.append(Node(op, ins, [out], attrs, out))
        else:
            self.nodes.append(Node("QMove", ins, [out], dict(onnx_op=op, onnx_attrs=attrs, scale=q[0],
                                                             zero_point=q[1]), out, "lowp"))

    def define(self, i, nhwc_name, q):
        """Tensor i is computed (in TFLite order) as nhwc_name: record its logical name."""
        t = self.tensors[i]
        self.vi(nhwc_name, t.shape, t.dtype)
        if self.rank(i) == 4:
            name = self.fresh(t.name + "@nchw")
            self.move("Transpose", [nhwc_name], name, {"perm": list(_NCHW)}, q, self.logical_shape(i), t.dtype)
            self.logical[i] = name
            self.nhwc[i] = nhwc_name  # readers in TFLite order take it as computed (no Transpose back)
        else:
            self.logical[i] = nhwc_name

    def out_name(self, i):
        """Name for an op's output tensor i, computed directly in logical layout."""
        name = self.tensors[i].name if self.rank(i) != 4 else self.fresh(self.tensors[i].name + "@nchw")
        self.logical[i] = name
        return self.vi(name, self.logical_shape(i), self.tensors[i].dtype)

    # ------------------------------------------------------------------ ops
    def build(self) -> Graph:
        inputs = []
        for i in self.sg.array(1, np.int32):
            t = self.tensors[int(i)]
            inputs.append(ValueInfo(t.name, t.dtype, t.shape))
            self.define(int(i), t.name, self._q_or_none(int(i)))
        ops = self.sg.tables(3)
        bad = []
        # tensor index -> (kind, input position) of every operator reading it (the PAD -> conv fold)
        self.readers: dict = {}
        for op in ops:
            idx = op.scalar(0, "I", 0)
            if idx >= len(self.codes):
                raise ValueError("lowp: corrupt TFLite file (operator code index out of range)")
            kind = self.codes[idx]
            if not hasattr(self, "op_" + kind.replace(":", "_")):
                bad.append(kind)
            for pos, v in enumerate(op.array(1, np.int32)):
                self.readers.setdefault(int(v), []).append((kind, pos))
        if bad:
            raise NotImplementedError(f"lowp: unsupported TFLite operator(s): {', '.join(sorted(set(bad)))}")
        self.graph_outputs = {int(v) for v in self.sg.array(2, np.int32)}
        for k, op in enumerate(ops):
            kind = self.codes[op.scalar(0, "I", 0)]
            ins = [int(v) for v in op.array(1, np.int32)]
            outs = [int(v) for v in op.array(2, np.int32)]
            for v in ins + outs:
                if v >= len(self.tensors):
                    raise ValueError(f"lowp: corrupt TFLite file (operator {k} names tensor {v})")
            getattr(self, "op_" + kind)(ins, outs, op.table(4) or _Table(b"\x00" * 8, 4), f"{kind}_{k}")
        outputs = []
        for i in self.sg.array(2, np.int32):
            i = int(i)
            t = self.tensors[i]
            src = self.nhwc_of(i, self._q_or_none(i)) if i in self.logical else self.name_of(i)
            if src != t.name:
                self.move("Identity", [src], t.name, {}, self._q_or_none(i))
            outputs.append(ValueInfo(t.name, t.dtype, t.shape))
        g = Graph(self.nodes, inputs, outputs, self.constants, self.value_info, {}, 13)
        g.source_format = "tflite"
        return g

    def _q_or_none(self, i):
        t = self.tensors[i]
        if t.dtype in (np.dtype(np.int8), np.dtype(np.uint8)) and t.quantized and t.scale.size == 1:
            return (np.float32(t.scale[0]), t.dtype.type(int(t.zero_point[0]) if t.zero_point.size else 0))
        return None

    def _io_q(self, ins, outs, kind):
        x = self.qparams(ins[0], kind)
        y = self.qparams(outs[0], kind)
        if self.tensors[ins[0]].dtype != self.tensors[outs[0]].dtype:
            raise NotImplementedError(f"lowp: {kind} with {self.tensors[ins[0]].dtype} input and "
                                      f"{self.tensors[outs[0]].dtype} output")
        return x, y

    def _weights(self, i, what, axis):
        w = self.const_value(i)
        t = self.tensors[i]
        if w is None:
            raise NotImplementedError(f"lowp: {what}: weights {t.name!r} are not constant")
        if t.dtype not in (np.dtype(np.int8), np.dtype(np.uint8)) or not t.quantized:
            raise NotImplementedError(f"lowp: {what}: weights {t.name!r} are {t.dtype} (hybrid / float models are "
                                      "not supported)")
        n = w.shape[axis]
        if t.scale.size not in (1, n) or (t.scale.size == n and n > 1 and t.qdim != axis):
            raise NotImplementedError(f"lowp: {what}: weights {t.name!r} are quantized along axis {t.qdim}")
        ws = np.broadcast_to(t.scale.astype(np.float32), (n,)).copy()
        wz = np.broadcast_to(t.zero_point.astype(np.int64) if t.zero_point.size else np.zeros(1, np.int64), (n,))
        return w, ws, wz.astype(t.dtype)

    def _bias(self, ins, n, what):
        if len(ins) < 3 or ins[2] < 0:
            return None
        b = self.const_value(ins[2])
        if b is None or b.dtype != np.int32:
            raise NotImplementedError(f"lowp: {what}: bias must be a constant int32 tensor")
        if b.size != n:
            raise ValueError(f"lowp: {what}: bias has {b.size} values for {n} output channels")
        return np.ascontiguousarray(b.reshape(-1))

    def _conv(self, ins, outs, opts, name, depthwise):
        kind = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
        (xs, xz), (ys, yz) = self._io_q(ins, outs, kind)
        x_shape = self.tensors[ins[0]].shape
        pre = self.pad_fold.get(ins[0])  # a PAD of the zero point folded into this conv's padding
        if len(x_shape) != 4:
            raise NotImplementedError(f"lowp: {kind} needs a 4-D input, got {x_shape}")
        padding, sw, sh = opts.scalar(0, "b", 0), opts.scalar(1, "i", 1), opts.scalar(2, "i", 1)
        if depthwise:
            mult, act = opts.scalar(3, "i", 1), opts.scalar(4, "b", 0)
            dw, dh = opts.scalar(5, "i", 1), opts.scalar(6, "i", 1)
            w, ws, wz = self._weights(ins[1], kind, 3)
            _one, kh, kw, O = w.shape
            C = x_shape[3]
            if O % C:
                raise ValueError(f"lowp: {name}: {O} output channels for {C} input channels")
            w_oihw = np.ascontiguousarray(w[0].transpose(2, 0, 1)[:, None])
            group = C
        else:
            act, dw, dh = opts.scalar(3, "b", 0), opts.scalar(4, "i", 1), opts.scalar(5, "i", 1)
            w, ws, wz = self._weights(ins[1], kind, 0)
            O, kh, kw, Cg = w.shape
            if x_shape[3] % Cg:
                raise ValueError(f"lowp: {name}: input has {x_shape[3]} channels, the filter {Cg}")
            w_oihw = np.ascontiguousarray(w.transpose(0, 3, 1, 2))
            group = x_shape[3] // Cg
        lo, hi = _act_range(act, ys, yz, self.tensors[outs[0]].dtype)
        pads = _same_pads(x_shape[1:3], (kh, kw), (sh, sw), (dh, dw), padding)
        x_in = ins[0]
        if pre is not None:
            x_in, extra = pre  # [top, left, bottom, right] of the PAD, read as the zero point like conv padding
            pads = [p + e for p, e in zip(pads, extra)]
        attrs = dict(w=w_oihw, w_scale=ws, w_zero_point=wz, bias=self._bias(ins, O, kind),
                     strides=[sh, sw], dilations=[dh, dw], pads=pads, group=group,
                     auto_pad="NOTSET", kernel_shape=[kh, kw], x_scale=xs, x_zero_point=xz, y_scale=ys,
                     y_zero_point=yz, qmin=lo, qmax=hi, rounding="gemmlowp")
        self.nodes.append(Node("QConv", [self.name_of(x_in)], [self.out_name(outs[0])], attrs, name, "lowp"))

    def op_CONV_2D(self, ins, outs, opts, name):
        self._conv(ins, outs, opts, name, False)

    def op_DEPTHWISE_CONV_2D(self, ins, outs, opts, name):
        self._conv(ins, outs, opts, name, True)

    def op_FULLY_CONNECTED(self, ins, outs, opts, name):
        (xs, xz), (ys, yz) = self._io_q(ins, outs, "FULLY_CONNECTED")
        act, fmt, keep = opts.scalar(0, "b", 0), opts.scalar(1, "b", 0), opts.scalar(2, "?", False)
        if fmt != 0:
            raise NotImplementedError("lowp: FULLY_CONNECTED with shuffled weights")
        w, ws, wz = self._weights(ins[1], "FULLY_CONNECTED", 0)
        N, Kd = w.shape
        x_shape = self.tensors[ins[0]].shape
        q = (xs, xz)
        x = self.nhwc_of(ins[0], q)
        rows = int(np.prod(x_shape, dtype=np.int64)) // Kd if Kd else 0
        if rows * Kd != int(np.prod(x_shape, dtype=np.int64)):
            raise ValueError(f"lowp: {name}: input {x_shape} does not flatten to rows of {Kd}")
        if len(x_shape) != 2 or x_shape[-1] != Kd:
            flat = self.fresh(name + "_flat")
            shp = self.fresh(name + "_shape")
            self.constants[shp] = np.array([rows, Kd], np.int64)
            self.move("Reshape", [x, shp], flat, {}, q, (rows, Kd), self.tensors[ins[0]].dtype)
            x = flat
        lo, hi = _act_range(act, ys, yz, self.tensors[outs[0]].dtype)
        attrs = dict(w=np.ascontiguousarray(w.T), w_scale=ws, w_zero_point=wz, bias=self._bias(ins, N, name),
                     x_scale=xs, x_zero_point=xz, y_scale=ys, y_zero_point=yz, qmin=lo, qmax=hi, rounding="single")
        out_shape = self.tensors[outs[0]].shape
        y = self.fresh(name + "_y") if (keep or tuple(out_shape) != (rows, N)) else self.tensors[outs[0]].name
        self.vi(y, (rows, N), self.tensors[outs[0]].dtype)
        self.nodes.append(Node("QGemm", [x], [y], attrs, name, "lowp"))
        if y != self.tensors[outs[0]].name:
            shp = self.fresh(name + "_oshape")
            self.constants[shp] = np.array(out_shape, np.int64)
            r = self.fresh(name + "_out")
            self.move("Reshape", [y, shp], r, {}, (ys, yz), out_shape, self.tensors[outs[0]].dtype)
            self.define(outs[0], r, (ys, yz))
        else:
            self.logical[outs[0]] = y

    def _pool(self, ins, outs, opts, name, avg):
        kind = "AVERAGE_POOL_2D" if avg else "MAX_POOL_2D"
        (xs, xz), (ys, yz) = self._io_q(ins, outs, kind)
        x_shape = self.tensors[ins[0]].shape
        padding, sw, sh = opts.scalar(0, "b", 0), opts.scalar(1, "i", 1), opts.scalar(2, "i", 1)
        fw, fh, act = opts.scalar(3, "i", 1), opts.scalar(4, "i", 1), opts.scalar(5, "b", 0)
        if xs != ys or xz != yz:
            raise NotImplementedError(f"lowp: {kind} with different input and output quantization")
        pads = _same_pads(x_shape[1:3], (fh, fw), (sh, sw), (1, 1), padding)
        lo, hi = _act_range(act, ys, yz, self.tensors[outs[0]].dtype)
        x = self.name_of(ins[0])
        if avg:
            attrs = dict(x_scale=xs, x_zero_point=xz, y_scale=ys, y_zero_point=yz, qmin=lo, qmax=hi,
                         rounding="gemmlowp", pool=dict(kernel_shape=[fh, fw], strides=[sh, sw], pads=pads,
                                                        count_include_pad=0))
            self.nodes.append(Node("QAvgPool", [x], [self.out_name(outs[0])], attrs, name, "lowp"))
            return
        info = np.iinfo(self.tensors[outs[0]].dtype)
        full = (lo, hi) == (int(info.min), int(info.max))
        y = self.out_name(outs[0]) if full else self.vi(self.fresh(name + "_max"), self.logical_shape(outs[0]),
                                                         self.tensors[outs[0]].dtype)
        attrs = dict(kernel_shape=[fh, fw], strides=[sh, sw], pads=pads)
        self.nodes.append(Node("QMaxPool", [x], [y], attrs, name, "lowp"))
        if not full:
            self._clamp(y, self.out_name(outs[0]), lo, hi, self.tensors[outs[0]].dtype, name)

    def _clamp(self, x, y, lo, hi, dtype, name):
        v = np.arange(256, dtype=np.int32) + (np.iinfo(dtype).min if dtype == np.int8 else 0)
        table = np.clip(v, lo, hi).astype(dtype)
        if dtype == np.int8:
            table = np.roll(table, -128)  # table index = the byte's unsigned value
        self.nodes.append(Node("QLut", [x], [y], dict(table=table), name + "_act", "lowp"))

    def op_AVERAGE_POOL_2D(self, ins, outs, opts, name):
        self._pool(ins, outs, opts, name, True)

    def op_MAX_POOL_2D(self, ins, outs, opts, name):
        self._pool(ins, outs, opts, name, False)

    def _binary(self, ins, outs, opts, name, op):
        a = self.qparams(ins[0], op.upper())
        b = self.qparams(ins[1], op.upper())
        y = self.qparams(outs[0], op.upper())
        dts = {self.tensors[i].dtype for i in (ins[0], ins[1], outs[0])}
        if len(dts) != 1:
            raise NotImplementedError(f"lowp: {op.upper()} with mixed types {sorted(str(d) for d in dts)}")
        lo, hi = _act_range(opts.scalar(0, "b", 0), y[0], y[1], self.tensors[outs[0]].dtype)
        ra, rb = self.rank(ins[0]), self.rank(ins[1])
        names = []
        for i, r, q in ((ins[0], ra, a), (ins[1], rb, b)):
            if max(ra, rb) == 4 and r != 4:
                # broadcast in TFLite (NHWC) order: left-pad the shape with ones, then view it as NCHW
                shp = self.fresh(name + "_b4")
                s4 = (1,) * (4 - r) + self.tensors[i].shape
                self.constants[shp] = np.array(s4, np.int64)
                r4 = self.fresh(name + "_r4")
                self.move("Reshape", [self.name_of(i), shp], r4, {}, q, s4, self.tensors[i].dtype)
                v = self.fresh(name + "_v4")
                self.move("Transpose", [r4], v, {"perm": list(_NCHW)}, q, tuple(s4[k] for k in _NCHW),
                          self.tensors[i].dtype)
                names.append(v)
            else:
                names.append(self.name_of(i))
        attrs = dict(a_scale=a[0], a_zero_point=a[1], b_scale=b[0], b_zero_point=b[1], y_scale=y[0],
                     y_zero_point=y[1], qmin=lo, qmax=hi, rounding="gemmlowp")
        self.nodes.append(Node("Q" + op, names, [self.out_name(outs[0])], attrs, name, "lowp"))

    def op_ADD(self, ins, outs, opts, name):
        self._binary(ins, outs, opts, name, "Add")

    def op_MUL(self, ins, outs, opts, name):
        self._binary(ins, outs, opts, name, "Mul")

    def op_SOFTMAX(self, ins, outs, opts, name):
        (xs, xz), (ys, yz) = self._io_q(ins, outs, "SOFTMAX")
        beta = opts.scalar(0, "f", 0.0)
        attrs = dict(x_scale=xs, x_zero_point=xz, y_scale=ys, y_zero_point=yz, axis=-1, rounding="gemmlowp",
                     beta=float(beta))
        if self.rank(ins[0]) == 4:  # along TFLite's last axis, on the tensor in TFLite order (attention scores)
            y = self.fresh(name + "_y")
            self.nodes.append(Node("QSoftmax", [self.nhwc_of(ins[0], (xs, xz))], [y], attrs, name, "lowp"))
            self.define(outs[0], y, (ys, yz))
            return
        self.nodes.append(Node("QSoftmax", [self.name_of(ins[0])], [self.out_name(outs[0])], attrs, name, "lowp"))

    def _shape_arg(self, ins, opts):
        if len(ins) > 1 and ins[1] >= 0:
            v = self.const_value(ins[1])
            if v is None:
                raise NotImplementedError("lowp: RESHAPE with a shape computed at run time")
            return [int(d) for d in v.reshape(-1)]
        return [int(d) for d in opts.array(0, np.int32)]

    def op_RESHAPE(self, ins, outs, opts, name):
        out_shape = self.tensors[outs[0]].shape
        shape = list(out_shape) if out_shape else self._shape_arg(ins, opts)
        i = ins[0]
        if self.const_value(i) is not None and i not in self.logical:
            self.folded[outs[0]] = self.const_value(i).reshape(shape)
            return
        q = self._q_or_none(i)
        x = self.nhwc_of(i, q)
        shp = self.fresh(name + "_shape")
        self.constants[shp] = np.array(shape, np.int64)
        y = self.fresh(name + "_y") if len(shape) == 4 else self.tensors[outs[0]].name
        self.move("Reshape", [x, shp], y, {}, q, self.tensors[outs[0]].shape, self.tensors[outs[0]].dtype)
        self.define(outs[0], y, q)

    def op_QUANTIZE(self, ins, outs, opts, name):
        t_in, t_out = self.tensors[ins[0]], self.tensors[outs[0]]
        ys, yz = self.qparams(outs[0], "QUANTIZE")
        x = self.name_of(ins[0])
        if self.rank(outs[0]) != self.rank(ins[0]):
            raise ValueError(f"lowp: {name}: input and output ranks differ")
        y = self.out_name(outs[0])
        if t_in.dtype == np.float32:
            self.nodes.append(Node("TfliteQuantize", [x], [y], dict(scale=ys, zero_point=yz), name, "lowp"))
            return
        xs, xz = self.qparams(ins[0], "QUANTIZE")
        # 8-bit -> 8-bit: TFLite Requantize (QuantizeMultiplier(in_scale / out_scale), gemmlowp rounding)
        from ..gemm import requantize
        from .. import _lowp
        real = float(np.float64(xs) / np.float64(ys))
        m, s = _lowp.quantize_multiplier(real, False)
        vals = np.arange(256, dtype=np.int32) + (-128 if t_in.dtype == np.int8 else 0)
        info = np.iinfo(t_out.dtype)
        table = requantize(vals - int(xz), m, s, t_out.dtype.type(yz), int(info.min), int(info.max),
                           rounding="gemmlowp")
        if t_in.dtype == np.int8:
            table = np.roll(table, -128)
        self.nodes.append(Node("QLut", [x], [y], dict(table=np.ascontiguousarray(table)), name, "lowp"))

    def op_DEQUANTIZE(self, ins, outs, opts, name):
        xs, xz = self.qparams(ins[0], "DEQUANTIZE")
        # TFLite's float(double(scale) * (q - zp)) and ONNX DequantizeLinear's float(q - zp) * scale in float32 are
        # the same number: the exact product of a float32 and an integer below 2^9 fits a double, and both round
        # it once to float32.
        s, z = self.fresh(name + "_scale"), self.fresh(name + "_zp")
        self.constants[s], self.constants[z] = np.float32(xs), np.asarray(xz)
        self.nodes.append(Node("DequantizeLinear", [self.name_of(ins[0]), s, z], [self.out_name(outs[0])], {}, name))

    # 8-bit -> 8-bit maps of one tensor: a 256-entry table computed here with TFLite's arithmetic
    def _table(self, ins, outs, name, fn, kind):
        t_in, t_out = self.tensors[ins[0]], self.tensors[outs[0]]
        (xs, xz), (ys, yz) = self.qparams(ins[0], kind), self.qparams(outs[0], kind)
        if t_in.dtype != t_out.dtype:
            raise NotImplementedError(f"lowp: {kind} with {t_in.dtype} input and {t_out.dtype} output")
        info = np.iinfo(t_out.dtype)
        vals = np.arange(256, dtype=np.int64) + int(info.min)
        out = np.clip(np.asarray(fn(vals, xs, int(xz), ys, int(yz), int(info.min), int(info.max)), np.int64),
                      info.min, info.max).astype(t_out.dtype)
        table = np.roll(out, -128) if t_out.dtype == np.int8 else out  # index = the stored byte
        self.nodes.append(Node("QLut", [self.name_of(ins[0])], [self.out_name(outs[0])],
                               dict(table=np.ascontiguousarray(table), function=kind.lower()), name, "lowp"))

    @staticmethod
    def _mbqm(v, real, zp, lo, hi):
        """clamp(zp + MultiplyByQuantizedMultiplier(v, QuantizeMultiplier(real)), lo, hi), gemmlowp rounding."""
        from .. import _lowp
        from ..gemm import requantize
        m, sh = _lowp.quantize_multiplier(float(real), False)
        dt = np.int8 if lo < 0 else np.uint8
        return requantize(np.asarray(v, np.int32), m, sh, dt(zp), lo, hi, rounding="gemmlowp").astype(np.int64)

    def _relu(self, ins, outs, name, lo_f, hi_f, kind):
        def fn(v, xs, xz, ys, yz, lo, hi):
            # QuantizedReluX: bounds zp + roundf(bound / scale) (float32 quotient, ties away from zero)
            def q(f):
                r = np.float32(f) / np.float32(ys)
                return yz + int(np.sign(r) * np.floor(abs(float(r)) + 0.5))
            amin = max(lo, q(lo_f))
            amax = hi if hi_f is None else min(hi, q(hi_f))
            real = float(np.float32(xs) / np.float32(ys))  # input->params.scale / output->params.scale, float32
            return self._mbqm(v - xz, real, yz, amin, amax)
        self._table(ins, outs, name, fn, kind)

    def op_RELU(self, ins, outs, opts, name):
        self._relu(ins, outs, name, 0.0, None, "RELU")

    def op_RELU6(self, ins, outs, opts, name):
        self._relu(ins, outs, name, 0.0, 6.0, "RELU6")

    def op_RELU_N1_TO_1(self, ins, outs, opts, name):
        self._relu(ins, outs, name, -1.0, 1.0, "RELU_N1_TO_1")

    def op_LEAKY_RELU(self, ins, outs, opts, name):
        alpha = np.float32(opts.scalar(0, "f", 0.0))
        if not alpha >= 0:
            raise NotImplementedError("lowp: LEAKY_RELU with a negative alpha")

        def fn(v, xs, xz, ys, yz, lo, hi):
            # float32 products / quotients, as TFLite's Prepare writes them
            ident = float(np.float32(xs) / np.float32(ys))
            alph = float(np.float32(np.float32(xs) * alpha) / np.float32(ys))
            d = v - xz
            return np.where(d >= 0, self._mbqm(d, ident, yz, lo, hi),
                            self._mbqm(d, alph, yz, lo, hi) if alpha > 0 else np.full(d.shape, min(max(yz, lo), hi)))
        self._table(ins, outs, name, fn, "LEAKY_RELU")

    def _float_table(self, ins, outs, name, f, kind):
        """TFLite's PopulateLookupTable: dequantize in float32, transform, round(t / out_scale) half away + zp."""
        def fn(v, xs, xz, ys, yz, lo, hi):
            deq = np.float32(xs) * (v - xz).astype(np.float32)
            tr = np.array([np.float32(f(float(d))) for d in deq], np.float32)  # correctly rounded transform
            inv = np.float32(1) / np.float32(ys)
            r = (tr * inv).astype(np.float64)
            return (np.sign(r) * np.floor(np.abs(r) + 0.5)).astype(np.int64) + yz
        self._table(ins, outs, name, fn, kind)

    def op_LOGISTIC(self, ins, outs, opts, name):
        import math
        self._float_table(ins, outs, name, lambda d: 1.0 / (1.0 + math.exp(-d)), "LOGISTIC")

    def op_TANH(self, ins, outs, opts, name):
        import math
        self._float_table(ins, outs, name, math.tanh, "TANH")

    def op_GELU(self, ins, outs, opts, name):
        """LiteRT's GeluTransform / GeluTransformApproximate in float32 (each operation rounded to float32 in the
        order the C++ writes them; erfc / tanh correctly rounded)."""
        import math
        f32 = np.float32
        if opts.scalar(0, "?", False):
            c = f32(2.0 / math.sqrt(math.pi) * math.sqrt(0.5))  # kSqrt2dPi, a float constant from doubles

            def gelu(d):
                x = f32(d)
                inner = f32(x + f32(f32(f32(f32(0.044715) * x) * x) * x))
                return float(f32(f32(f32(0.5) * x) * f32(f32(1) + f32(math.tanh(float(f32(c * inner)))))))
        else:
            def gelu(d):
                x = f32(d)
                return float(f32(f32(f32(0.5) * x) * f32(math.erfc(float(f32(x * f32(-math.sqrt(0.5))))))))
        self._float_table(ins, outs, name, gelu, "GELU")

    def op_ABS(self, ins, outs, opts, name):
        """int8 ABS: |x - zx| + zy, requantized (gemmlowp, QuantizeMultiplier(x_scale / y_scale)) when the scales
        differ; a 256-entry table."""
        if self.tensors[ins[0]].dtype != np.dtype(np.int8):
            raise NotImplementedError(f"lowp: ABS on {self.tensors[ins[0]].dtype} (int8 only)")

        def fn(v, xs, xz, ys, yz, lo, hi):
            a = np.abs(v - xz)
            if np.float32(xs) == np.float32(ys):
                return a + yz
            return self._mbqm(a, float(np.float64(np.float32(xs)) / np.float64(np.float32(ys))), yz, lo, hi)
        self._table(ins, outs, name, fn, "ABS")

    def op_RSQRT(self, ins, outs, opts, name):
        """int8 RSQRT (LiteRT's RsqrtEvalQuantized) as a 256-entry table: v = x - zx; v == 0 -> 127; else
        MBQM(MBQM(1, inv_sqrt(v), shift + 20), m, s - 20) + zy with (inv_sqrt, shift) from
        GetInvSqrtQuantizedMultiplierExp and (m, s) = QuantizeMultiplier(1 / (sqrtf(x_scale) * y_scale)). LiteRT
        refuses inputs below the zero point at run time; the table gives them 127."""
        from .. import _lowp
        if self.tensors[ins[0]].dtype != np.dtype(np.int8):
            raise NotImplementedError(f"lowp: RSQRT on {self.tensors[ins[0]].dtype} (int8 only)")

        def fn(vals, xs, xz, ys, yz, lo, hi):
            m, s = _lowp.quantize_multiplier(float(1.0 / float(np.float32(np.sqrt(np.float32(xs))) * np.float32(ys))),
                                             False)
            out = []
            for q in vals:
                v = int(q) - xz
                if v <= 0:
                    out.append(hi)
                    continue
                if v <= 1:
                    im, ish = (1 << 31) - 1, 0
                else:
                    im, ish = _inv_sqrt_multiplier_exp(v)
                data = int(_mbqm32(1, im, ish + 20))
                out.append(int(_mbqm32(data, m, s - 20)) + yz)
            return np.array(out, np.int64)
        self._table(ins, outs, name, fn, "RSQRT")

    def op_SQUARED_DIFFERENCE(self, ins, outs, opts, name):
        """int8 SQUARED_DIFFERENCE (LiteRT's reference): both inputs to a common 2 * max(scale) with 7 bits of
        headroom, the difference squared in int32, requantized (gemmlowp, multipliers below one); every pair of
        stored bytes in a 64 KiB table, applied with broadcasting in TFLite's order."""
        kind = "SQUARED_DIFFERENCE"
        dts = {self.tensors[i].dtype for i in (ins[0], ins[1], outs[0])}
        if dts != {np.dtype(np.int8)}:
            raise NotImplementedError(f"lowp: {kind} on {sorted(str(d) for d in dts)} (int8 only)")
        from .. import _lowp
        (s1, z1), (s2, z2), (so, zo) = (self.qparams(i, kind) for i in (ins[0], ins[1], outs[0]))
        twice = float(np.float32(2) * max(np.float32(s1), np.float32(s2)))
        m1, e1 = _lowp.quantize_multiplier(float(np.float32(s1)) / twice, False)
        m2, e2 = _lowp.quantize_multiplier(float(np.float32(s2)) / twice, False)
        mo, eo = _lowp.quantize_multiplier(twice * twice / float(np.float32(1 << 14) * np.float32(so)), False)
        a = np.arange(-128, 128, dtype=np.int64)[:, None]
        b = np.arange(-128, 128, dtype=np.int64)[None, :]
        d = _mbqm32((a - int(z1)) << 7, m1, e1) - _mbqm32((b - int(z2)) << 7, m2, e2)
        t = np.clip(_mbqm32(_wrap32(d * d), mo, eo) + int(zo), -128, 127).astype(np.int8)
        table = np.roll(np.roll(t, -128, axis=0), -128, axis=1).reshape(-1)  # index = stored byte a << 8 | byte b
        xa, xb = self.nhwc_of(ins[0], (s1, z1)), self.nhwc_of(ins[1], (s2, z2))
        y = self.fresh(name + "_y")
        self.vi(y, self.tensors[outs[0]].shape, np.int8)
        self.nodes.append(Node("TflitePairTable", [xa, xb], [y], dict(table=np.ascontiguousarray(table),
                                                                      out_shape=list(self.tensors[outs[0]].shape)),
                               name, "lowp"))
        self.define(outs[0], y, (so, zo))

    def op_EXP(self, ins, outs, opts, name):
        import math
        if self.tensors[ins[0]].dtype != np.dtype(np.int8):
            raise NotImplementedError(f"lowp: EXP on {self.tensors[ins[0]].dtype} (LiteRT runs int8 EXP only)")
        self._float_table(ins, outs, name, lambda d: math.exp(d) if d < 89 else math.inf, "EXP")

    def op_HARD_SWISH(self, ins, outs, opts, name):
        """TFLite's reference HardSwish on 8-bit data (int16 fixed point), evaluated here for the 256 inputs."""
        from .. import _lowp

        def i16(v):
            return ((np.asarray(v, np.int64) + 32768) % 65536) - 32768

        def srdhm16(a, b):  # gemmlowp SaturatingRoundingDoublingHighMul, int16
            ab = a * b
            nudge = np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
            r = i16(np.trunc((ab + nudge) / (1 << 15)).astype(np.int64))
            return np.where((a == b) & (a == -32768), 32767, r)

        def sat_left(x, k):
            return np.clip(x * (1 << k), -32768, 32767)

        def down16(m32):  # DownScaleInt32ToInt16Multiplier
            return 32767 if m32 >= 2**31 - 1 - (1 << 15) else (m32 + (1 << 15)) >> 16

        def fn(v, xs, xz, ys, yz, lo, hi):
            hires_scale = np.float32(1.0 / 128.0) * np.float32(xs)
            out_m, out_e = _lowp.quantize_multiplier(float(hires_scale / np.float32(ys)), False)
            rel_m, rel_e = _lowp.quantize_multiplier(float(hires_scale / np.float32(3.0 / 32768.0)), False)
            if out_e > 0:
                raise NotImplementedError("lowp: HARD_SWISH whose output scale is below input_scale / 128")
            out_m16, rel_m16 = down16(out_m), down16(rel_m)
            x = i16(v - xz)
            hires = i16(x * 128)
            pre = srdhm16(hires, out_m16)
            rel = hires
            if rel_e > 0:
                rel = sat_left(rel, rel_e - 1)
            rel = srdhm16(rel, rel_m16)
            if rel_e > 0:
                rel = sat_left(rel, 1)
            if rel_e < 0:
                rel = _rdbpot32(rel, -rel_e)
            rel = (rel + (1 << 15)) >> 1
            prod = rel * pre  # SaturatingDoublingHighMul: truncating division by 2^15
            preshift = np.where((rel == pre) & (rel == -32768), 32767,
                                i16(np.trunc(prod / (1 << 15)).astype(np.int64)))
            return _rdbpot32(preshift, -out_e) + yz
        self._table(ins, outs, name, fn, "HARD_SWISH")

    # data movement in TFLite's (NHWC) element order
    def _same_q(self, ins, outs, kind):
        q = self._q_or_none(outs[0])
        for i in ins:
            if self._q_or_none(i) is None or q is None or (self._q_or_none(i)[0] != q[0]) or \
                    (self._q_or_none(i)[1] != q[1]):
                raise NotImplementedError(f"lowp: {kind} with different input and output quantization")
        return q

    def op_PAD(self, ins, outs, opts, name, value=None):
        q = self._same_q(ins[:1], outs, "PAD")
        pads = self.const_value(ins[1])
        if pads is None:
            raise NotImplementedError("lowp: PAD with paddings computed at run time")
        pads = np.asarray(pads, np.int64).reshape(-1, 2)
        o = outs[0]
        if (value is None and len(pads) == 4 and not pads[0].any() and not pads[3].any() and (pads >= 0).all()
                and o not in self.graph_outputs and self.readers.get(o)
                and all(k in ("CONV_2D", "DEPTHWISE_CONV_2D") and pos == 0 for k, pos in self.readers[o])):
            # Only convolutions read this zero-point PAD (as their input): fold it into their padding, which
            # reads the zero point too -- the same sums, and no padded copy.
            self.pad_fold[o] = (ins[0], [int(pads[1, 0]), int(pads[2, 0]), int(pads[1, 1]), int(pads[2, 1])])
            return
        x = self.nhwc_of(ins[0], q)
        pn = self.fresh(name + "_pads")
        self.constants[pn] = np.concatenate([pads[:, 0], pads[:, 1]]).astype(np.int64)
        y = self.fresh(name + "_y")
        ins2 = [x, pn]
        if value is not None:
            vn = self.fresh(name + "_value")
            self.constants[vn] = np.float32((int(value) - int(q[1])) * np.float32(q[0]))
            ins2.append(vn)
        self.move("Pad", ins2, y, {"mode": "constant"}, q, self.tensors[outs[0]].shape, self.tensors[outs[0]].dtype)
        self.define(outs[0], y, q)

    def op_PADV2(self, ins, outs, opts, name):
        v = self.const_value(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
        self.op_PAD(ins[:2], outs, opts, name, None if v is None else int(np.asarray(v).reshape(-1)[0]))

    def op_CONCATENATION(self, ins, outs, opts, name):
        q = self._same_q(ins, outs, "CONCATENATION")
        axis = opts.scalar(0, "i", 0)
        if opts.scalar(1, "b", 0):
            raise NotImplementedError("lowp: CONCATENATION with a fused activation (LiteRT rejects it for 8-bit data)")
        r = self.rank(outs[0])
        axis = axis + r if axis < 0 else axis
        xs = [self.nhwc_of(i, q) for i in ins]
        y = self.fresh(name + "_y")
        self.move("Concat", xs, y, {"axis": axis}, q, self.tensors[outs[0]].shape, self.tensors[outs[0]].dtype)
        self.define(outs[0], y, q)

    def _reshape_like(self, ins, outs, name, kind):
        q = self._same_q(ins[:1], outs, kind)
        x = self.nhwc_of(ins[0], q)
        shp = self.fresh(name + "_shape")
        self.constants[shp] = np.array(self.tensors[outs[0]].shape, np.int64)
        y = self.fresh(name + "_y")
        self.move("Reshape", [x, shp], y, {}, q, self.tensors[outs[0]].shape, self.tensors[outs[0]].dtype)
        self.define(outs[0], y, q)

    def op_SQUEEZE(self, ins, outs, opts, name):
        self._reshape_like(ins, outs, name, "SQUEEZE")

    def op_EXPAND_DIMS(self, ins, outs, opts, name):
        self._reshape_like(ins, outs, name, "EXPAND_DIMS")

    def _moves(self, ins, outs, name, kind, steps):
        """A chain of Reshape / Transpose moves in TFLite's element order (steps: ("Reshape", shape) or
        ("Transpose", perm)); the last result is the output."""
        q = self._same_q(ins[:1], outs, kind)
        y = self.nhwc_of(ins[0], q)
        dt = self.tensors[outs[0]].dtype
        shape = list(self.tensors[ins[0]].shape)
        for op, arg in steps:
            z = self.fresh(name + "_m")
            if op == "Reshape":
                shape = list(arg)
                sn = self.fresh(name + "_shape")
                self.constants[sn] = np.array(shape, np.int64)
                self.move("Reshape", [y, sn], z, {}, q, tuple(shape), dt)
            else:
                shape = [shape[p] for p in arg]
                self.move("Transpose", [y], z, {"perm": list(arg)}, q, tuple(shape), dt)
            y = z
        if shape != list(self.tensors[outs[0]].shape):
            raise ValueError(f"lowp: {name}: {kind} gives {shape}, the file declares {list(self.tensors[outs[0]].shape)}")
        self.define(outs[0], y, q)

    def op_DEPTH_TO_SPACE(self, ins, outs, opts, name):
        """output[n, h*b + dy, w*b + dx, c] = input[n, h, w, (dy*b + dx) * C/b^2 + c] (TFLite's DCR order)."""
        b = opts.scalar(0, "i", 0)
        N, H, W, C = self._shape4(ins[0], "DEPTH_TO_SPACE")
        if b < 1 or C % (b * b):
            raise ValueError(f"lowp: {name}: DEPTH_TO_SPACE block {b} does not divide {C} channels")
        c = C // (b * b)
        self._moves(ins, outs, name, "DEPTH_TO_SPACE", [("Reshape", (N, H, W, b, b, c)),
                                                         ("Transpose", (0, 1, 3, 2, 4, 5)),
                                                         ("Reshape", (N, H * b, W * b, c))])

    def op_SPACE_TO_DEPTH(self, ins, outs, opts, name):
        """output[n, h, w, (dy*b + dx) * C + c] = input[n, h*b + dy, w*b + dx, c]."""
        b = opts.scalar(0, "i", 0)
        N, H, W, C = self._shape4(ins[0], "SPACE_TO_DEPTH")
        if b < 1 or H % b or W % b:
            raise ValueError(f"lowp: {name}: SPACE_TO_DEPTH block {b} does not divide {H}x{W}")
        self._moves(ins, outs, name, "SPACE_TO_DEPTH", [("Reshape", (N, H // b, b, W // b, b, C)),
                                                         ("Transpose", (0, 1, 3, 2, 4, 5)),
                                                         ("Reshape", (N, H // b, W // b, b * b * C))])

    def _shape4(self, i, kind):
        shape = self.tensors[i].shape
        if len(shape) != 4:
            raise NotImplementedError(f"lowp: {kind} needs a 4-D input, got {list(shape)}")
        return tuple(int(d) for d in shape)

    def _raw_binary(self, ins, outs, name, kind, onnx_op):
        """MAXIMUM / MINIMUM: TFLite compares the stored 8-bit values (no requantization, whatever the
        quantization parameters) with broadcasting in TFLite's order."""
        dts = {self.tensors[i].dtype for i in (ins[0], ins[1], outs[0])}
        if len(dts) != 1 or not dts <= {np.dtype(np.int8), np.dtype(np.uint8)}:
            raise NotImplementedError(f"lowp: {kind} on {sorted(str(d) for d in dts)} (8-bit tensors only)")
        a, b = (self.nhwc_of(i, self._q_or_none(i)) for i in ins[:2])
        y = self.fresh(name + "_y")
        self.vi(y, self.tensors[outs[0]].shape, self.tensors[outs[0]].dtype)
        self.nodes.append(Node(onnx_op, [a, b], [y], {}, name))
        self.define(outs[0], y, self._q_or_none(outs[0]))

    def op_MAXIMUM(self, ins, outs, opts, name):
        self._raw_binary(ins, outs, name, "MAXIMUM", "Max")

    def op_MINIMUM(self, ins, outs, opts, name):
        self._raw_binary(ins, outs, name, "MINIMUM", "Min")

    def _arg_min_max(self, ins, outs, name, kind, is_max):
        t = self.tensors[ins[0]]
        if t.dtype not in (np.dtype(np.int8), np.dtype(np.uint8)):
            raise NotImplementedError(f"lowp: {kind} on {t.dtype} (8-bit tensors only)")
        if t.quantized and np.any(np.asarray(t.scale) <= 0):
            raise NotImplementedError(f"lowp: {kind} of a tensor with a non-positive scale")
        axis = self.const_value(ins[1])
        if axis is None or np.size(axis) != 1:
            raise NotImplementedError(f"lowp: {kind} needs one constant axis")
        r = len(t.shape)
        ax = int(np.asarray(axis).reshape(-1)[0])
        if not -r <= ax < r:
            raise ValueError(f"lowp: {name}: {kind} axis {ax} out of range for a {r}-D tensor")
        od = self.tensors[outs[0]].dtype
        if od not in (np.dtype(np.int32), np.dtype(np.int64)):
            raise NotImplementedError(f"lowp: {kind} with {od} output")
        x = self.nhwc_of(ins[0], self._q_or_none(ins[0]))
        y = self.fresh(name + "_y")
        self.vi(y, self.tensors[outs[0]].shape, od)
        self.nodes.append(Node("TfliteArgMinMax", [x], [y], dict(axis=ax % r, is_max=is_max, dtype=od.name,
                                                                 out_shape=list(self.tensors[outs[0]].shape)),
                               name, "lowp"))
        self.define(outs[0], y, None)

    def op_ARG_MAX(self, ins, outs, opts, name):
        self._arg_min_max(ins, outs, name, "ARG_MAX", True)

    def op_ARG_MIN(self, ins, outs, opts, name):
        self._arg_min_max(ins, outs, name, "ARG_MIN", False)

    def op_PRELU(self, ins, outs, opts, name):
        """LiteRT's reference PRELU: x - zx >= 0 ? MBQM(x - zx, in / out) : MBQM((x - zx) * (alpha - za),
        in * alpha / out), + zp, saturated; the real multipliers in float32 as its Prepare computes them."""
        (xs, xz), (ys, yz) = self._io_q(ins, outs, "PRELU")
        alpha = self.const_value(ins[1])
        if alpha is None:
            raise NotImplementedError("lowp: PRELU with an alpha computed at run time")
        (as_, az) = self.qparams(ins[1], "PRELU alpha")
        if self.tensors[ins[1]].dtype != self.tensors[ins[0]].dtype:
            raise NotImplementedError("lowp: PRELU with alpha of another type than the input")
        shape = self.tensors[ins[0]].shape
        if alpha.ndim > len(shape) or any(a not in (1, d) for a, d in zip(alpha.shape[::-1], shape[::-1])):
            raise ValueError(f"lowp: {name}: PRELU alpha {list(alpha.shape)} does not broadcast to {list(shape)}")
        from .. import _lowp
        m1, s1 = _lowp.quantize_multiplier(float(np.float32(xs) / np.float32(ys)), False)
        m2, s2 = _lowp.quantize_multiplier(float(np.float32(np.float32(xs) * np.float32(as_)) / np.float32(ys)), False)
        x = self.nhwc_of(ins[0], (xs, xz))
        y = self.fresh(name + "_y")
        self.vi(y, shape, self.tensors[outs[0]].dtype)
        self.nodes.append(Node("TflitePrelu", [x], [y], dict(
            alpha=np.ascontiguousarray(alpha.astype(np.int32) - int(az)), x_zero_point=xz, y_zero_point=yz,
            multiplier=[m1, m2], shift=[s1, s2]), name, "lowp"))
        self.define(outs[0], y, (ys, yz))

    def op_TRANSPOSE(self, ins, outs, opts, name):
        q = self._same_q(ins[:1], outs, "TRANSPOSE")
        perm = self.const_value(ins[1])
        if perm is None:
            raise NotImplementedError("lowp: TRANSPOSE with a permutation computed at run time")
        x = self.nhwc_of(ins[0], q)
        y = self.fresh(name + "_y")
        self.move("Transpose", [x], y, {"perm": [int(p) for p in np.asarray(perm).reshape(-1)]}, q,
                  self.tensors[outs[0]].shape, self.tensors[outs[0]].dtype)
        self.define(outs[0], y, q)

    def op_RESIZE_NEAREST_NEIGHBOR(self, ins, outs, opts, name):
        """TFLite's reference ResizeNearestNeighbor (source index per output row / column computed here in
        float32 as it does), as two 8-bit gathers in TFLite's element order."""
        q = self._same_q(ins[:1], outs, "RESIZE_NEAREST_NEIGHBOR")
        if self.rank(ins[0]) != 4:
            raise NotImplementedError("lowp: RESIZE_NEAREST_NEIGHBOR needs a 4-D input")
        align, hpc = bool(opts.scalar(0, "?", False)), bool(opts.scalar(1, "?", False))
        _n, H, W, _c = self.tensors[ins[0]].shape
        _n2, OH, OW, _c2 = self.tensors[outs[0]].shape

        def index(n_in, n_out):
            scale = (np.float32(n_in - 1) / np.float32(n_out - 1)) if (align and n_out > 1) else \
                np.float32(n_in) / np.float32(n_out)
            v = (np.arange(n_out, dtype=np.float32) + np.float32(0.5 if hpc else 0.0)) * scale
            v = v.astype(np.float64)
            i = (np.sign(v) * np.floor(np.abs(v) + 0.5)) if align else np.floor(v)
            i = np.minimum(i.astype(np.int64), n_in - 1)
            return np.maximum(i, 0) if hpc else i
        y = self.nhwc_of(ins[0], q)
        shp = list(self.tensors[ins[0]].shape)
        for axis, idx in ((1, index(H, OH)), (2, index(W, OW))):
            iname = self.fresh(name + f"_idx{axis}")
            self.constants[iname] = idx
            shp[axis] = len(idx)
            g = self.fresh(name + f"_g{axis}")
            self.move("Gather", [y, iname], g, {"axis": axis}, q, tuple(shp), self.tensors[ins[0]].dtype)
            y = g
        self.define(outs[0], y, q)

    def op_RESIZE_BILINEAR(self, ins, outs, opts, name):
        """TFLite's reference int8 ResizeBilinear: 10-bit fixed-point source coordinates and weights, int64 sums,
        (sum +- 2^19) / 2^20 truncated (the uint8 kernel computes in float and is not taken)."""
        q = self._same_q(ins[:1], outs, "RESIZE_BILINEAR")
        if self.tensors[ins[0]].dtype != np.int8 or self.rank(ins[0]) != 4:
            raise NotImplementedError("lowp: RESIZE_BILINEAR on other than 4-D int8 data (TFLite's uint8 kernel "
                                      "computes in float)")
        align, hpc = bool(opts.scalar(2, "?", False)), bool(opts.scalar(3, "?", False))
        _n, H, W, _c = self.tensors[ins[0]].shape
        _n2, OH, OW, _c2 = self.tensors[outs[0]].shape

        def cdiv(a, b):  # C division, truncating toward zero
            return np.where(a >= 0, a // b, -((-a) // b))

        def coords(n_in, n_out):
            if align and n_out > 1:
                sc = ((1 << 10) * (n_in - 1) + (n_out - 1) // 2) // (n_out - 1)
            else:
                sc = ((1 << 10) * n_in + n_out // 2) // n_out
            v = np.arange(n_out, dtype=np.int64)
            sv = v * sc + sc // 2 - (1 << 9) if hpc else v * sc
            lo = np.maximum(cdiv(sv, 1 << 10), 0)
            hi = np.minimum(cdiv(sv + (1 << 10) - 1, 1 << 10), n_in - 1)
            return lo, hi, sv - (1 << 10) * lo
        y0, y1, wy = coords(H, OH)
        x0, x1, wx = coords(W, OW)
        x = self.nhwc_of(ins[0], q)
        y = self.fresh(name + "_y")
        self.vi(y, self.tensors[outs[0]].shape, np.int8)
        self.nodes.append(Node("TfliteResizeBilinear", [x], [y], dict(y0=y0, y1=y1, wy=wy, x0=x0, x1=x1, wx=wx),
                               name, "lowp"))
        self.define(outs[0], y, q)

    def op_SUB(self, ins, outs, opts, name):
        self._binary(ins, outs, opts, name, "Sub")

    def op_TRANSPOSE_CONV(self, ins, outs, opts, name):
        """TFLite TRANSPOSE_CONV (inputs: output shape, OHWI weights, input[, bias]) as LiteRT's reference computes it:
        int32 sums of (x - x_zp) * (w - w_zp) scattered to out = in * stride - pad + k, + bias, per-channel
        MultiplyByQuantizedMultiplier (gemmlowp) + zp, clamped to the fused activation's range. pad is the floor half
        of the padding a forward conv from the output size to the input size would have (SAME / VALID)."""
        kind = "TRANSPOSE_CONV"
        if len(ins) < 3:
            raise ValueError(f"lowp: {name}: TRANSPOSE_CONV needs output shape, weights and input")
        x_i = ins[2]
        (xs, xz), (ys, yz) = self._io_q([x_i], outs, kind)
        x_shape = self.tensors[x_i].shape
        y_shape = list(self.tensors[outs[0]].shape)
        w, ws, wz = self._weights(ins[1], kind, 0)
        if len(x_shape) != 4 or w.ndim != 4:
            raise NotImplementedError(f"lowp: {kind} needs a 4-D input and 4-D weights, got {x_shape} / {w.shape}")
        O, kh, kw, C = w.shape
        if C != x_shape[3]:
            raise ValueError(f"lowp: {name}: input has {x_shape[3]} channels, the filter {C}")
        oshape = self.const_value(ins[0])
        if oshape is None or [int(v) for v in np.asarray(oshape).reshape(-1)] != y_shape:
            raise NotImplementedError(f"lowp: {name}: the output shape must be a constant equal to the declared "
                                      f"{y_shape}")
        if len(y_shape) != 4 or y_shape[0] != x_shape[0] or y_shape[3] != O:
            raise ValueError(f"lowp: {name}: output shape {y_shape} does not fit input {x_shape} / weights {w.shape}")
        padding, sw, sh, act = opts.scalar(0, "b", 0), opts.scalar(1, "i", 1), opts.scalar(2, "i", 1), \
            opts.scalar(3, "b", 0)
        if sw < 1 or sh < 1:
            raise ValueError(f"lowp: {name}: strides must be >= 1")
        pads = []
        for size, k, st in ((y_shape[1], kh, sh), (y_shape[2], kw, sw)):
            n = (size + st - 1) // st if padding == 0 else (size - k + st) // st
            pads.append(max((n - 1) * st + k - size, 0) // 2)
        lo, hi = _act_range(act, ys, yz, self.tensors[outs[0]].dtype)
        bias = self._bias([None, None, ins[3]] if len(ins) > 3 else [], O, kind)
        mult = _gemm_requant("gemmlowp", xs, ws, ys, O)
        x = self.nhwc_of(x_i, (xs, xz))
        y = self.fresh(name + "_y")
        self.vi(y, y_shape, self.tensors[outs[0]].dtype)
        self.nodes.append(Node("TfliteTransposeConv", [x], [y], dict(
            w=np.ascontiguousarray(w.transpose(3, 1, 2, 0).reshape(C, kh * kw * O)), w_zero_point=np.asarray(wz),
            kernel=[kh, kw], strides=[sh, sw], pads=pads, bias=bias, x_zero_point=xz, multiplier=mult["multiplier"],
            shift=mult["shift"], y_zero_point=yz, qmin=lo, qmax=hi, out_shape=y_shape), name, "lowp"))
        self.define(outs[0], y, (ys, yz))

    def _reduce_axes(self, ins, name, kind):
        axes = self.const_value(ins[1])
        if axes is None:
            raise NotImplementedError(f"lowp: {kind} with axes computed at run time")
        shape = self.tensors[ins[0]].shape
        r = len(shape)
        raw = [int(a) for a in np.asarray(axes).reshape(-1)]
        if any(not -r <= a < r for a in raw):
            raise ValueError(f"lowp: {name}: {kind} axes {raw} out of range for a {r}-D tensor")
        axes = sorted({a % r for a in raw})
        count = int(np.prod([shape[a] for a in axes], dtype=np.int64))
        if count < 1:
            raise ValueError(f"lowp: {name}: {kind} over an empty axis")
        return axes, count

    def op_BATCH_MATMUL(self, ins, outs, opts, name):
        """int8 BATCH_MATMUL (LiteRT's reference): sum_k (lhs - zl)(rhs - zr) in int32 over the last axes (adj_x / adj_y
        transpose them), batch axes broadcast; MultiplyByQuantizedMultiplier (gemmlowp) with lhs * rhs / out scales,
        + zp, saturated (no fused activation). An int32 output holds sum_k lhs * rhs of the stored values, zero points
        left out, as LiteRT's int8 -> int32 kernel computes it."""
        kind = "BATCH_MATMUL"
        lt, rt, ot = (self.tensors[i] for i in (ins[0], ins[1], outs[0]))
        if lt.dtype != np.dtype(np.int8) or rt.dtype != np.dtype(np.int8):
            raise NotImplementedError(f"lowp: {kind} with {lt.dtype} x {rt.dtype} inputs (int8 x int8 only)")
        (ls, lz), (rs, rz) = self.qparams(ins[0], kind), self.qparams(ins[1], kind)
        if not 2 <= len(lt.shape) <= 5 or not 2 <= len(rt.shape) <= 5:
            raise NotImplementedError(f"lowp: {kind} of ranks {len(lt.shape)} and {len(rt.shape)} (2 to 5 supported)")
        adj_x, adj_y = bool(opts.scalar(0, "?", False)), bool(opts.scalar(1, "?", False))
        a = dict(adj_x=adj_x, adj_y=adj_y, lhs_zero_point=int(lz), rhs_zero_point=int(rz),
                 out_shape=list(ot.shape), dtype=ot.dtype.name, rhs_const=self.const_value(ins[1]) is not None)
        q = None
        if ot.dtype == np.dtype(np.int8):
            ys, yz = self.qparams(outs[0], kind)
            mult = _gemm_requant("gemmlowp", ls, np.array([rs], np.float32), ys, 1)
            a.update(multiplier=int(mult["multiplier"][0]), shift=int(mult["shift"][0]), y_zero_point=int(yz))
            q = (ys, yz)
        elif ot.dtype != np.dtype(np.int32):
            raise NotImplementedError(f"lowp: {kind} with a {ot.dtype} output")
        xl, xr = self.nhwc_of(ins[0], (ls, lz)), self.nhwc_of(ins[1], (rs, rz))
        y = self.fresh(name + "_y")
        self.vi(y, ot.shape, ot.dtype)
        self.nodes.append(Node("TfliteBatchMatMul", [xl, xr], [y], a, name, "lowp"))
        self.define(outs[0], y, q)

    def op_MEAN(self, ins, outs, opts, name):
        """TFLite MEAN of 8-bit data over constant axes (any set; keep_dims or not): LiteRT's reference
        QuantizedMeanOrSum, int32 sums of x - zp requantized with gemmlowp rounding by QuantizeMultiplier(in / out)
        with 1 / count folded in (ops.eltwise.tflite_mean_multiplier). (SUM is not taken: LiteRT 2.3's reference
        kernel returns 0 / -1 for int8 sums its optimized kernel computes, and the two disagree elsewhere.)"""
        from ..ops.eltwise import tflite_mean_multiplier
        kind = "MEAN"
        (xs, xz), (ys, yz) = self._io_q(ins, outs, kind)
        axes, count = self._reduce_axes(ins, name, kind)
        if count >= 1 << 23:
            raise NotImplementedError(f"lowp: {name}: {kind} over {count} values (int32 sums need < 2^23)")
        m, sh = tflite_mean_multiplier(xs, ys, count)
        x = self.nhwc_of(ins[0], (xs, xz))
        y = self.fresh(name + "_y")
        self.vi(y, self.tensors[outs[0]].shape, self.tensors[outs[0]].dtype)
        self.nodes.append(Node("TfliteMean", [x], [y], dict(axes=axes, keepdims=bool(opts.scalar(0, "?", False)),
                                                            x_zero_point=xz, multiplier=m, shift=sh, y_zero_point=yz,
                                                            out_shape=list(self.tensors[outs[0]].shape)),
                               name, "lowp"))
        self.define(outs[0], y, (ys, yz))

    def _reduce_max_min(self, ins, outs, opts, name, kind, is_max):
        """REDUCE_MAX / REDUCE_MIN: LiteRT requires the same quantization in and out and reduces the stored values."""
        q = self._same_q(ins[:1], outs, kind)
        axes, _count = self._reduce_axes(ins, name, kind)
        x = self.nhwc_of(ins[0], q)
        y = self.fresh(name + "_y")
        self.vi(y, self.tensors[outs[0]].shape, self.tensors[outs[0]].dtype)
        self.nodes.append(Node("TfliteReduceMaxMin", [x], [y], dict(axes=axes, keepdims=bool(opts.scalar(0, "?", False)),
                                                                    is_max=is_max,
                                                                    out_shape=list(self.tensors[outs[0]].shape)),
                               name, "lowp"))
        self.define(outs[0], y, q)

    def op_REDUCE_MAX(self, ins, outs, opts, name):
        self._reduce_max_min(ins, outs, opts, name, "REDUCE_MAX", True)

    def op_REDUCE_MIN(self, ins, outs, opts, name):
        self._reduce_max_min(ins, outs, opts, name, "REDUCE_MIN", False)

    # constant shape arithmetic (folded here)
    def _fold(self, outs, value, name):
        t = self.tensors[outs[0]]
        v = np.asarray(value).astype(t.dtype)
        if v.size != int(np.prod(t.shape, dtype=np.int64)):
            raise ValueError(f"lowp: {name}: computes {v.size} values, the file declares shape {list(t.shape)}")
        self.folded[outs[0]] = v.reshape(t.shape)

    def _const_inputs(self, ins, kind):
        vals = []
        for i in ins:
            v = self.const_value(i) if i not in self.logical or i in self.folded else None
            if v is None:
                raise NotImplementedError(f"lowp: {kind} on a tensor computed at run time (only constant shape "
                                          "arithmetic is supported)")
            vals.append(v)
        return vals

    def op_SHAPE(self, ins, outs, opts, name):
        self._fold(outs, np.array(self.tensors[ins[0]].shape, np.int64), name)

    def op_STRIDED_SLICE(self, ins, outs, opts, name):
        b, e, st = self._const_inputs(ins[1:4], "STRIDED_SLICE")
        axes = _strided_slice_axes(self.tensors[ins[0]].shape, b, e, st, opts)
        x = self.const_value(ins[0])
        if x is None:  # an activation
            return self._select(ins, outs, name, "STRIDED_SLICE", axes)
        self._fold(outs, x[np.ix_(*axes)], name)

    def _select(self, ins, outs, name, kind, axes):
        """Output = the input at the per-axis source indices `axes` (TFLite order), reshaped to the output's
        shape: one native gather per axis that changes."""
        q = self._same_q(ins[:1], outs, kind)
        shape = self.tensors[ins[0]].shape
        y = self.nhwc_of(ins[0], q)
        shp = list(shape)
        for ax, idx in enumerate(axes):
            if np.array_equal(idx, np.arange(shape[ax])):
                continue
            iname = self.fresh(name + f"_idx{ax}")
            self.constants[iname] = np.asarray(idx, np.int64)
            shp[ax] = len(idx)
            g = self.fresh(name + f"_g{ax}")
            self.move("Gather", [y, iname], g, {"axis": ax}, q, tuple(shp), self.tensors[ins[0]].dtype)
            y = g
        out_shape = self.tensors[outs[0]].shape
        if int(np.prod(shp, dtype=np.int64)) != int(np.prod(out_shape, dtype=np.int64)):
            raise ValueError(f"lowp: {name}: {kind} selects {shp}, the file declares {list(out_shape)}")
        r = self.fresh(name + "_r")  # also names the result when nothing was gathered
        sn = self.fresh(name + "_shape")
        self.constants[sn] = np.array(out_shape, np.int64)
        self.move("Reshape", [y, sn], r, {}, q, out_shape, self.tensors[outs[0]].dtype)
        self.define(outs[0], r, q)

    def op_MIRROR_PAD(self, ins, outs, opts, name):
        """REFLECT (mode 0: the edge not repeated) or SYMMETRIC (1) padding: per-axis source indices."""
        pads = self.const_value(ins[1])
        if pads is None:
            raise NotImplementedError("lowp: MIRROR_PAD with paddings computed at run time")
        shape = self.tensors[ins[0]].shape
        pads = np.asarray(pads, np.int64).reshape(-1, 2)
        mode = "symmetric" if opts.scalar(0, "b", 0) == 1 else "reflect"
        if len(pads) != len(shape) or (pads < 0).any() or \
                any(p.max() > (d if mode == "symmetric" else d - 1) for p, d in zip(pads, shape)):
            raise ValueError(f"lowp: {name}: MIRROR_PAD paddings {pads.tolist()} do not fit {list(shape)} ({mode})")
        self._select(ins, outs, name, "MIRROR_PAD",
                     [np.pad(np.arange(d), (int(b), int(a)), mode=mode) for d, (b, a) in zip(shape, pads)])

    def op_TILE(self, ins, outs, opts, name):
        (mult,) = self._const_inputs(ins[1:2], "TILE")
        shape = self.tensors[ins[0]].shape
        mult = [int(m) for m in np.asarray(mult).reshape(-1)]
        if len(mult) != len(shape) or min(mult, default=1) < 0:
            raise ValueError(f"lowp: {name}: TILE multiples {mult} for a {len(shape)}-D tensor")
        self._select(ins, outs, name, "TILE", [np.tile(np.arange(d), m) for d, m in zip(shape, mult)])

    def op_BROADCAST_TO(self, ins, outs, opts, name):
        (target,) = self._const_inputs(ins[1:2], "BROADCAST_TO")
        shape = list(self.tensors[ins[0]].shape)
        out = [int(d) for d in np.asarray(target).reshape(-1)]
        lead = len(out) - len(shape)
        if not shape or lead < 0 or any(d != o and d != 1 for d, o in zip(shape, out[lead:])):
            raise ValueError(f"lowp: {name}: BROADCAST_TO cannot broadcast {shape} to {out}")
        # per input axis: its own indices, or zeros where a size-1 axis broadcasts; new leading axes repeat the
        # whole tensor (axis 0's indices tiled) before the final reshape to the output shape
        axes = [np.zeros(o, np.int64) if d == 1 and o != 1 else np.arange(d) for d, o in zip(shape, out[lead:])]
        axes[0] = np.tile(axes[0], int(np.prod(out[:lead], dtype=np.int64)))
        self._select(ins, outs, name, "BROADCAST_TO", axes)

    def op_REVERSE_V2(self, ins, outs, opts, name):
        (axes,) = self._const_inputs(ins[1:2], "REVERSE_V2")
        shape = self.tensors[ins[0]].shape
        r = len(shape)
        axes = {int(a) % r for a in np.asarray(axes).reshape(-1) if -r <= int(a) < r}
        self._select(ins, outs, name, "REVERSE_V2", [np.arange(d)[::-1] if i in axes else np.arange(d)
                                                       for i, d in enumerate(shape)])

    def op_SLICE(self, ins, outs, opts, name):
        begin, size = (np.asarray(v).reshape(-1) for v in self._const_inputs(ins[1:3], "SLICE"))
        shape = self.tensors[ins[0]].shape
        axes = [np.arange(d)[int(b):(d if int(n) == -1 else int(b) + int(n))] for d, b, n in zip(shape, begin, size)]
        self._select(ins, outs, name, "SLICE", axes)

    def op_GATHER(self, ins, outs, opts, name):
        q = self._same_q(ins[:1], outs, "GATHER")
        axis, batch_dims = opts.scalar(0, "i", 0), opts.scalar(1, "i", 0)
        idx = self.const_value(ins[1])
        if batch_dims != 0:
            raise NotImplementedError("lowp: GATHER with batch_dims")
        shape = self.tensors[ins[0]].shape
        axis = axis + len(shape) if axis < 0 else axis
        if not 0 <= axis < len(shape):
            raise ValueError(f"lowp: {name}: GATHER axis {axis} of a rank-{len(shape)} tensor")
        if idx is None:  # indices given at run time (token ids into an embedding table): checked on every run
            t_idx = self.tensors[ins[1]]
            if t_idx.dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
                raise NotImplementedError(f"lowp: {name}: GATHER indices of type {t_idx.dtype}")
            y = self.fresh(name + "_g")
            self.vi(y, self.tensors[outs[0]].shape, self.tensors[outs[0]].dtype)
            self.nodes.append(Node("TfliteGather", [self.nhwc_of(ins[0], q), self.nhwc_of(ins[1], None)], [y],
                                   dict(axis=axis, out_shape=self.tensors[outs[0]].shape), name, "lowp"))
            self.define(outs[0], y, q)
            return
        idx = np.asarray(idx, np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= shape[axis]):
            raise ValueError(f"lowp: {name}: GATHER index out of range")
        y = self.nhwc_of(ins[0], q)
        iname = self.fresh(name + "_idx")
        self.constants[iname] = idx
        g = self.fresh(name + "_g")
        self.move("Gather", [y, iname], g, {"axis": axis}, q, self.tensors[outs[0]].shape, self.tensors[outs[0]].dtype)
        self.define(outs[0], g, q)

    def op_GATHER_ND(self, ins, outs, opts, name):
        q = self._same_q(ins[:1], outs, "GATHER_ND")
        shape = list(self.tensors[ins[0]].shape)
        t_idx = self.tensors[ins[1]]
        if t_idx.dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
            raise NotImplementedError(f"lowp: {name}: GATHER_ND indices of type {t_idx.dtype}")
        nd = t_idx.shape[-1] if t_idx.shape else 0
        if not t_idx.shape or not 1 <= nd <= len(shape):
            raise ValueError(f"lowp: {name}: GATHER_ND indices of shape {list(t_idx.shape)} for params {shape}")
        out_shape = self.tensors[outs[0]].shape
        if list(out_shape) != list(t_idx.shape[:-1]) + shape[nd:]:
            raise ValueError(f"lowp: {name}: GATHER_ND gives {list(t_idx.shape[:-1]) + shape[nd:]}, the file "
                             f"declares {list(out_shape)}")
        # params viewed as [prod(shape[:nd]), rest...]: each index tuple is one row of that (the step checks ranges)
        x = self.nhwc_of(ins[0], q)
        flat = self.fresh(name + "_rows")
        sn = self.fresh(name + "_shape")
        self.constants[sn] = np.array([int(np.prod(shape[:nd], dtype=np.int64))] + shape[nd:], np.int64)
        self.move("Reshape", [x, sn], flat, {}, q, tuple(self.constants[sn]), self.tensors[ins[0]].dtype)
        y = self.fresh(name + "_g")
        self.vi(y, out_shape, self.tensors[outs[0]].dtype)
        self.nodes.append(Node("TfliteGatherNd", [flat, self.nhwc_of(ins[1], None)], [y],
                               dict(dims=shape[:nd], out_shape=out_shape), name, "lowp"))
        self.define(outs[0], y, q)

    def _split(self, x_i, outs, name, kind, axis, sizes):
        q = self._same_q([x_i], outs[:1], kind)
        for o in outs:
            self._same_q([x_i], [o], kind)
        shape = self.tensors[x_i].shape
        axis = axis + len(shape) if axis < 0 else axis
        if sum(sizes) != shape[axis] or any(sz < 0 for sz in sizes):
            raise ValueError(f"lowp: {name}: split sizes {sizes} do not cover axis {axis} of {shape}")
        y = self.nhwc_of(x_i, q)
        sn = self.fresh(name + "_sizes")
        self.constants[sn] = np.array(sizes, np.int64)
        names = [self.fresh(name + f"_{k}") for k in range(len(outs))]
        for n_, o in zip(names, outs):
            self.vi(n_, self.tensors[o].shape, self.tensors[o].dtype)
        self.nodes.append(Node("QMove", [y, sn], names, dict(onnx_op="Split", onnx_attrs={"axis": axis}, scale=q[0],
                                                               zero_point=q[1]), name, "lowp"))
        for n_, o in zip(names, outs):
            self.define(o, n_, q)

    def op_SPLIT(self, ins, outs, opts, name):
        (axis,) = self._const_inputs(ins[:1], "SPLIT")
        n = opts.scalar(0, "i", len(outs)) or len(outs)
        axis = int(np.asarray(axis).reshape(-1)[0])
        dim = self.tensors[ins[1]].shape[axis]
        if n != len(outs) or dim % n:
            raise ValueError(f"lowp: {name}: SPLIT of {dim} into {n} equal parts / {len(outs)} outputs")
        self._split(ins[1], outs, name, "SPLIT", axis, [dim // n] * n)

    def op_SPLIT_V(self, ins, outs, opts, name):
        sizes, axis = self._const_inputs(ins[1:3], "SPLIT_V")
        sizes = [int(v) for v in np.asarray(sizes).reshape(-1)]
        axis = int(np.asarray(axis).reshape(-1)[0])
        dim = self.tensors[ins[0]].shape[axis]
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = dim - (sum(sizes) + 1)
        self._split(ins[0], outs, name, "SPLIT_V", axis, sizes)

    def op_PACK(self, ins, outs, opts, name):
        """PACK of constants is folded; of 8-bit activations (one quantization) a Reshape of each input to the
        packed rank and a Concat along the new axis."""
        axis = opts.scalar(1, "i", 0)
        if all(self.const_value(i) is not None for i in ins):
            self._fold(outs, np.stack(self._const_inputs(ins, "PACK"), axis=axis), name)
            return
        q = self._same_q(ins, outs, "PACK")
        out_shape = list(self.tensors[outs[0]].shape)
        axis = axis + len(out_shape) if axis < 0 else axis
        if not 0 <= axis < len(out_shape) or out_shape[axis] != len(ins):
            raise ValueError(f"lowp: {name}: PACK of {len(ins)} tensors along axis {axis} into {out_shape}")
        one = out_shape[:axis] + [1] + out_shape[axis + 1:]
        dt = self.tensors[outs[0]].dtype
        parts = []
        for k, i in enumerate(ins):
            if list(self.tensors[i].shape) != out_shape[:axis] + out_shape[axis + 1:]:
                raise ValueError(f"lowp: {name}: PACK input {k} has shape {list(self.tensors[i].shape)}")
            sn = self.fresh(name + "_shape")
            self.constants[sn] = np.array(one, np.int64)
            r = self.fresh(name + f"_r{k}")
            self.move("Reshape", [self.nhwc_of(i, q), sn], r, {}, q, tuple(one), dt)
            parts.append(r)
        y = self.fresh(name + "_y")
        self.move("Concat", parts, y, {"axis": axis}, q, tuple(out_shape), dt)
        self.define(outs[0], y, q)

    def op_UNPACK(self, ins, outs, opts, name):
        """UNPACK of an 8-bit activation: output k is the input at index k of the axis (a gather), reshaped."""
        shape = self.tensors[ins[0]].shape
        axis = opts.scalar(1, "i", 0)
        axis = axis + len(shape) if axis < 0 else axis
        if not 0 <= axis < len(shape) or shape[axis] != len(outs):
            raise ValueError(f"lowp: {name}: UNPACK of axis {axis} of {list(shape)} into {len(outs)} outputs")
        for k, o in enumerate(outs):
            self._select(ins, [o], f"{name}_{k}", "UNPACK",
                         [np.array([k]) if a == axis else np.arange(d) for a, d in enumerate(shape)])


def import_tflite(data: bytes, batch: int | None = None) -> Graph:
    """Parses a .tflite flatbuffer into a lowp Graph of lowp integer nodes (TFLite arithmetic).

    batch: for a model whose inputs have a dynamic batch (shape_signature [-1, ...], as TFLiteConverter writes for
    Keras models), the graph for that batch size (what LiteRT computes after resize_tensor_input); None: the shapes
    the file declares (batch 1). The graph's `batch_inputs` lists the names of the dynamic-batch inputs."""
    if not is_tflite(data):
        raise ValueError("lowp: not a TFLite flatbuffer (no 'TFL3' identifier)")
    try:
        b = _Builder(data, batch)
        g = b.build()
        g.batch_inputs = tuple(b.tensors[i].name for i in b.batch_inputs)
        # the outputs' axes that follow the batch (dynamic in shape_signature), for a dynamic-batch model
        g.batch_outputs = {b.tensors[int(i)].name: b.tensors[int(i)].dynamic for i in b.sg.array(2, np.int32)
                           if b.batch_inputs and b.tensors[int(i)].dynamic}
        return g
    except (NotImplementedError, ValueError, TypeError):
        raise
    except Exception as e:  # struct.error, IndexError, ... from a damaged file
        raise ValueError(f"lowp: corrupt TFLite file ({type(e).__name__}: {e})") from None
