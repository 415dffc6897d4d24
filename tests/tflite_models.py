"""Small int8 / uint8 TFLite models written directly as flatbuffers (LiteRT's generated schema classes),
with random weights and quantization parameters: one or a few operators each, for the importer tests.
No TensorFlow needed."""
from __future__ import annotations

import numpy as np

S = None


def _schema():
    global S
    if S is None:
        from ai_edge_litert import schema_py_generated as schema
        S = schema
    return S


_TT = {np.dtype(np.float32): 0, np.dtype(np.int32): 2, np.dtype(np.uint8): 3, np.dtype(np.int64): 4,
       np.dtype(np.int8): 9}


# operators whose version 1 LiteRT does not register
_OP_VERSIONS = {130: 2}  # BROADCAST_TO


class ModelBuilder:
    """Collects tensors / operators of one subgraph and serializes a .tflite file."""

    def __init__(self):
        s = _schema()
        self.tensors, self.buffers, self.ops, self.codes = [], [s.BufferT()], [], []
        self.inputs, self.outputs = [], []

    def tensor(self, shape, dtype, scale=None, zero_point=None, data=None, qdim=0, name=None):
        s = _schema()
        t = s.TensorT()
        t.shape = list(shape)
        t.type = _TT[np.dtype(dtype)]
        t.name = (name or f"t{len(self.tensors)}").encode()
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale = [float(v) for v in np.atleast_1d(scale)]
            q.zeroPoint = [int(v) for v in np.atleast_1d(zero_point if zero_point is not None else 0)]
            q.quantizedDimension = qdim
            t.quantization = q
        if data is not None:
            b = s.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(np.asarray(data, dtype)).tobytes(), np.uint8).tolist()
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        else:
            t.buffer = 0
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, code, ins, outs, opt_type=0, opts=None):
        s = _schema()
        if code not in self.codes:
            self.codes.append(code)
        o = s.OperatorT()
        o.opcodeIndex = self.codes.index(code)
        o.inputs, o.outputs = list(ins), list(outs)
        o.builtinOptionsType = opt_type
        o.builtinOptions = opts
        self.ops.append(o)

    def serialize(self) -> bytes:
        import flatbuffers
        s = _schema()
        sg = s.SubGraphT()
        sg.tensors, sg.operators = self.tensors, self.ops
        sg.inputs, sg.outputs = self.inputs, self.outputs
        m = s.ModelT()
        m.version = 3
        m.subgraphs = [sg]
        m.buffers = self.buffers
        codes = []
        for c in self.codes:
            oc = s.OperatorCodeT()
            oc.builtinCode = c
            oc.deprecatedBuiltinCode = min(c, 127)
            oc.version = _OP_VERSIONS.get(c, 1)
            codes.append(oc)
        m.operatorCodes = codes
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def qparams(rng, dtype):
    """A random activation scale and zero point for dtype."""
    info = np.iinfo(dtype)
    zp = int(rng.integers(info.min // 2, info.max // 2 + 1)) if dtype == np.int8 else int(rng.integers(60, 200))
    return float(np.float32(rng.uniform(0.01, 0.08))), zp


def weights(rng, shape, dtype=np.int8):
    return rng.integers(-127, 128, shape).astype(dtype)


def _conv_weights(mb, rng, dtype, wshape, O, per_channel, qdim, xs, bias):
    """Weights (int8 symmetric, per channel along qdim or per tensor; for uint8 models per-tensor uint8 weights
    with a zero point, as TFLite's uint8 kernels take) and, when `bias`, an int32 bias at scale xs * ws:
    (weights tensor, [bias tensor] or [])."""
    if dtype == np.uint8:
        per_channel = False
    nsc = O if per_channel else 1
    ws = rng.uniform(0.002, 0.02, nsc).astype(np.float32)
    if dtype == np.uint8:
        w = mb.tensor(wshape, np.uint8, ws, [int(rng.integers(100, 156))], rng.integers(0, 256, wshape))
    else:
        w = mb.tensor(wshape, np.int8, ws, np.zeros(nsc, np.int64), weights(rng, wshape), qdim=qdim)
    if not bias:
        return w, []
    bs = (np.float32(xs) * ws).astype(np.float64)
    return w, [mb.tensor([O], np.int32, bs, np.zeros(nsc, np.int64), rng.integers(-3000, 3000, O).astype(np.int32))]


def conv_model(rng, *, dtype=np.int8, hw=(9, 11), cin=5, cout=7, k=(3, 3), stride=(1, 1), dilation=(1, 1),
               padding=0, act=0, depthwise=False, mult=1, per_channel=True, bias=True):
    """input -> CONV_2D / DEPTHWISE_CONV_2D -> output (NHWC, int8 with symmetric per-channel weights)."""
    s = _schema()
    mb = ModelBuilder()
    xs, xz = qparams(rng, dtype)
    ys, yz = qparams(rng, dtype)
    x = mb.tensor([1, *hw, cin], dtype, xs, xz, name="input")
    O = cin * mult if depthwise else cout
    wshape = [1, *k, O] if depthwise else [O, *k, cin]
    w, b = _conv_weights(mb, rng, dtype, wshape, O, per_channel, 3 if depthwise else 0, xs, bias)
    ins = [x, w] + b
    # output spatial size as TFLite computes it
    out = []
    for i in range(2):
        eff = (k[i] - 1) * dilation[i] + 1
        out.append((hw[i] + stride[i] - 1) // stride[i] if padding == 0 else (hw[i] - eff) // stride[i] + 1)
    y = mb.tensor([1, *out, O], dtype, ys, yz, name="output")
    if depthwise:
        o = s.DepthwiseConv2DOptionsT()
        o.depthMultiplier = mult
    else:
        o = s.Conv2DOptionsT()
    o.padding, o.strideW, o.strideH, o.fusedActivationFunction = padding, stride[1], stride[0], act
    o.dilationWFactor, o.dilationHFactor = dilation[1], dilation[0]
    mb.op(4 if depthwise else 3, ins, [y], s.BuiltinOptions.DepthwiseConv2DOptions if depthwise
          else s.BuiltinOptions.Conv2DOptions, o)
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def transpose_conv_model(rng, *, dtype=np.int8, hw=(5, 6), cin=4, cout=6, k=(3, 3), stride=(2, 2), padding=0, act=0,
                         per_channel=True, bias=True, out_hw=None, batch=1):
    """input -> TRANSPOSE_CONV (inputs: output shape, OHWI weights, input[, bias]) -> output. The output size is
    SAME: in * stride, VALID: (in - 1) * stride + k, unless out_hw gives one that maps back to the input."""
    s = _schema()
    mb = ModelBuilder()
    xs, xz = qparams(rng, dtype)
    ys, yz = qparams(rng, dtype)
    x = mb.tensor([batch, *hw, cin], dtype, xs, xz, name="input")
    wshape = [cout, *k, cin]
    w, b = _conv_weights(mb, rng, dtype, wshape, cout, per_channel, 0, xs, bias)
    if out_hw is None:
        out_hw = [hw[i] * stride[i] if padding == 0 else (hw[i] - 1) * stride[i] + k[i] for i in range(2)]
    shp = mb.tensor([4], np.int32, data=np.array([batch, *out_hw, cout], np.int32))
    ins = [shp, w, x] + b
    y = mb.tensor([batch, *out_hw, cout], dtype, ys, yz, name="output")
    o = s.TransposeConvOptionsT()
    o.padding, o.strideW, o.strideH, o.fusedActivationFunction = padding, stride[1], stride[0], act
    mb.op(67, ins, [y], s.BuiltinOptions.TransposeConvOptions, o)
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def fc_model(rng, *, dtype=np.int8, in_shape=(3, 40), N=24, act=0, keep_num_dims=False, bias=True, K=None):
    """input -> FULLY_CONNECTED -> output; K: the weights' depth (default: the input flattened after its first
    axis, or its last axis with keep_num_dims); the input is read as rows of K."""
    s = _schema()
    mb = ModelBuilder()
    xs, xz = qparams(rng, dtype)
    ys, yz = qparams(rng, dtype)
    ys = ys * 4
    x = mb.tensor(list(in_shape), dtype, xs, xz, name="input")
    if K is None:
        K = in_shape[-1] if keep_num_dims else int(np.prod(in_shape[1:]))
    ws = float(np.float32(rng.uniform(0.002, 0.02)))
    if dtype == np.uint8:
        w = mb.tensor([N, K], np.uint8, ws, int(rng.integers(100, 156)), rng.integers(0, 256, (N, K)))
    else:
        w = mb.tensor([N, K], np.int8, ws, 0, weights(rng, (N, K)))
    ins = [x, w]
    if bias:
        ins.append(mb.tensor([N], np.int32, float(np.float32(xs) * np.float32(ws)), 0,
                             rng.integers(-3000, 3000, N).astype(np.int32)))
    oshape = list(in_shape[:-1]) + [N] if keep_num_dims else [int(np.prod(in_shape)) // K, N]
    y = mb.tensor(oshape, dtype, ys, yz, name="output")
    o = s.FullyConnectedOptionsT()
    o.fusedActivationFunction, o.keepNumDims = act, keep_num_dims
    mb.op(9, ins, [y], s.BuiltinOptions.FullyConnectedOptions, o)
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def pool_model(rng, *, dtype=np.int8, hw=(10, 9), c=6, avg=True, k=(3, 3), stride=(2, 2), padding=0, act=0):
    s = _schema()
    mb = ModelBuilder()
    xs, xz = qparams(rng, dtype)
    x = mb.tensor([1, *hw, c], dtype, xs, xz, name="input")
    out = [(hw[i] + stride[i] - 1) // stride[i] if padding == 0 else (hw[i] - k[i]) // stride[i] + 1 for i in range(2)]
    y = mb.tensor([1, *out, c], dtype, xs, xz, name="output")
    o = s.Pool2DOptionsT()
    o.padding, o.strideW, o.strideH, o.filterWidth, o.filterHeight = padding, stride[1], stride[0], k[1], k[0]
    o.fusedActivationFunction = act
    mb.op(1 if avg else 17, [x], [y], s.BuiltinOptions.Pool2DOptions, o)
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def binary_model(rng, *, dtype=np.int8, op="add", a_shape=(1, 5, 6, 8), b_shape=(1, 5, 6, 8), act=0, const_b=False):
    """ADD / SUB / MUL of two 8-bit tensors (b a second input, or a constant: const_b)."""
    s = _schema()
    mb = ModelBuilder()
    (sa, za), (sb, zb), (sc, zc) = qparams(rng, dtype), qparams(rng, dtype), qparams(rng, dtype)
    if op == "mul":
        sc = sa * sb * 40
    a = mb.tensor(list(a_shape), dtype, sa, za, name="a")
    b = mb.tensor(list(b_shape), dtype, sb, zb, name="b", data=_rand8(rng, b_shape, dtype) if const_b else None)
    y = mb.tensor(list(np.broadcast_shapes(a_shape, b_shape)), dtype, sc, zc, name="output")
    if op == "add":
        o = s.AddOptionsT()
        t, code = s.BuiltinOptions.AddOptions, 0
    elif op == "sub":
        o = s.SubOptionsT()
        t, code = s.BuiltinOptions.SubOptions, 41
    else:
        o = s.MulOptionsT()
        t, code = s.BuiltinOptions.MulOptions, 18
    o.fusedActivationFunction = act
    mb.op(code, [a, b], [y], t, o)
    mb.inputs, mb.outputs = ([a] if const_b else [a, b]), [y]
    return mb.serialize()


def softmax_model(rng, *, dtype=np.int8, shape=(2, 10), beta=1.0):
    s = _schema()
    mb = ModelBuilder()
    xs, xz = qparams(rng, dtype)
    x = mb.tensor(list(shape), dtype, xs * 3, xz, name="input")
    y = mb.tensor(list(shape), dtype, 1.0 / 256, -128 if dtype == np.int8 else 0, name="output")
    o = s.SoftmaxOptionsT()
    o.beta = beta
    mb.op(25, [x], [y], s.BuiltinOptions.SoftmaxOptions, o)
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def quant_chain_model(rng, *, dtype=np.int8, shape=(1, 6, 7, 5), reshape_to=(1, 42, 5)):
    """float input -> QUANTIZE -> QUANTIZE (requantize) -> RESHAPE -> DEQUANTIZE -> float output."""
    s = _schema()
    mb = ModelBuilder()
    s1, z1 = qparams(rng, dtype)
    s2, z2 = qparams(rng, dtype)
    x = mb.tensor(list(shape), np.float32, name="input")
    q1 = mb.tensor(list(shape), dtype, s1, z1)
    q2 = mb.tensor(list(shape), dtype, s2, z2)
    r = mb.tensor(list(reshape_to), dtype, s2, z2)
    y = mb.tensor(list(reshape_to), np.float32, name="output")
    mb.op(114, [x], [q1])
    mb.op(114, [q1], [q2])
    o = s.ReshapeOptionsT()
    o.newShape = list(reshape_to)
    mb.op(22, [q2], [r], s.BuiltinOptions.ReshapeOptions, o)
    mb.op(6, [r], [y])
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def unary_model(code, dtype=np.int8):
    """input -> one builtin operator (no options) -> output: e.g. TANH, which lowp does not run."""
    mb = ModelBuilder()
    x = mb.tensor([1, 4], dtype, 0.05, 0, name="input")
    y = mb.tensor([1, 4], dtype, 1.0 / 128, 0, name="output")
    mb.op(code, [x], [y])
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def lut_model(rng, code, *, dtype=np.int8, out_q=None, opt_type=0, opts=None, shape=(1, 16, 16)):
    """input -> one elementwise operator -> output; the input tensor holds all 256 values (shape 1x16x16)."""
    mb = ModelBuilder()
    xs, xz = qparams(rng, dtype)
    ys, yz = out_q if out_q is not None else qparams(rng, dtype)
    x = mb.tensor(list(shape), dtype, xs * 2, xz, name="input")
    y = mb.tensor(list(shape), dtype, ys, yz, name="output")
    mb.op(code, [x], [y], opt_type, opts)
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def leaky_relu_model(rng, alpha, dtype=np.int8):
    s = _schema()
    o = s.LeakyReluOptionsT()
    o.alpha = alpha
    return lut_model(rng, 98, dtype=dtype, opt_type=s.BuiltinOptions.LeakyReluOptions, opts=o)


def pad_model(rng, *, dtype=np.int8, v2_value=None, paddings=((0, 0), (1, 2), (0, 3), (0, 0)), shape=(1, 5, 4, 3)):
    mb = ModelBuilder()
    xs, xz = qparams(rng, dtype)
    x = mb.tensor(list(shape), dtype, xs, xz, name="input")
    p = mb.tensor([len(shape), 2], np.int32, data=np.asarray(paddings, np.int32))
    oshape = [d + a + b for d, (a, b) in zip(shape, paddings)]
    y = mb.tensor(oshape, dtype, xs, xz, name="output")
    ins = [x, p]
    if v2_value is not None:
        ins.append(mb.tensor([1], dtype, xs, xz, data=np.asarray([v2_value], dtype)))
    mb.op(60 if v2_value is not None else 34, ins, [y])
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def concat_model(rng, *, dtype=np.int8, shapes=((1, 4, 5, 3), (1, 4, 5, 6)), axis=3, act=0):
    s = _schema()
    mb = ModelBuilder()
    xs, xz = qparams(rng, dtype)
    xs_ = [mb.tensor(list(sh), dtype, xs, xz, name=f"in{k}") for k, sh in enumerate(shapes)]
    oshape = list(shapes[0])
    oshape[axis] = sum(sh[axis] for sh in shapes)
    y = mb.tensor(oshape, dtype, xs, xz, name="output")
    o = s.ConcatenationOptionsT()
    o.axis, o.fusedActivationFunction = axis, act
    mb.op(2, xs_, [y], s.BuiltinOptions.ConcatenationOptions, o)
    mb.inputs, mb.outputs = xs_, [y]
    return mb.serialize()


def move_model(rng, code, *, dtype=np.int8, shape=(1, 4, 1, 6), out_shape=(1, 4, 6), perm=None):
    """SQUEEZE (code 43) or TRANSPOSE (39) of an 8-bit tensor."""
    s = _schema()
    mb = ModelBuilder()
    xs, xz = qparams(rng, dtype)
    x = mb.tensor(list(shape), dtype, xs, xz, name="input")
    y = mb.tensor(list(out_shape), dtype, xs, xz, name="output")
    ins = [x]
    opt_type, opts = 0, None
    if perm is not None:
        ins.append(mb.tensor([len(perm)], np.int32, data=np.asarray(perm, np.int32)))
    else:
        opts = s.SqueezeOptionsT()
        opts.squeezeDims = [i for i, d in enumerate(shape) if d == 1 and i not in (0,)]
        opt_type = s.BuiltinOptions.SqueezeOptions
    mb.op(code, ins, [y], opt_type, opts)
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def mean_model(rng, *, dtype=np.int8, shape=(1, 7, 5, 16), axes=(1, 2), keep=True, same=False, code=40):
    """MEAN (code 40), SUM (74), REDUCE_MAX (82) or REDUCE_MIN (89) over `axes` (same: the output keeps the
    input's quantization)."""
    s = _schema()
    mb = ModelBuilder()
    xs, xz = qparams(rng, dtype)
    ys, yz = (xs, xz) if same else qparams(rng, dtype)
    x = mb.tensor(list(shape), dtype, xs, xz, name="input")
    a = mb.tensor([len(axes)], np.int32, data=np.asarray(axes, np.int32))
    ax = {k % len(shape) for k in axes}
    osh = [1 if i in ax else d for i, d in enumerate(shape)] if keep else [d for i, d in enumerate(shape) if i not in ax]
    y = mb.tensor(osh, dtype, ys, yz, name="output")
    o = s.ReducerOptionsT()
    o.keepDims = keep
    mb.op(code, [x, a], [y], s.BuiltinOptions.ReducerOptions, o)
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


class NetBuilder(ModelBuilder):
    """ModelBuilder with layer helpers (random int8 per-channel weights, random activation quantization)."""

    def __init__(self, rng, dtype=np.int8):
        super().__init__()
        self.rng, self.dtype = rng, dtype

    def act_q(self, lo=0.02, hi=0.1):
        zp = int(self.rng.integers(-100, 20)) if self.dtype == np.int8 else int(self.rng.integers(20, 150))
        return float(np.float32(self.rng.uniform(lo, hi))), zp

    def conv(self, x, xq, shape_in, cout, k, stride, act, depthwise=False, padding=0):
        s, rng = _schema(), self.rng
        H, W, C = shape_in
        O = C if depthwise else cout
        wshape = [1, k, k, O] if depthwise else [O, k, k, C]
        ws = rng.uniform(0.002, 0.02, O).astype(np.float32) / np.sqrt(k * k * (1 if depthwise else C) / 9)
        ws = ws.astype(np.float32)
        w = self.tensor(wshape, np.int8, ws, np.zeros(O, np.int64), weights(rng, wshape), qdim=3 if depthwise else 0)
        b = self.tensor([O], np.int32, (np.float32(xq[0]) * ws).astype(np.float64), np.zeros(O, np.int64),
                        rng.integers(-2000, 2000, O).astype(np.int32))
        oh = (H + stride - 1) // stride if padding == 0 else (H - k) // stride + 1
        ow = (W + stride - 1) // stride if padding == 0 else (W - k) // stride + 1
        yq = self.act_q()
        y = self.tensor([1, oh, ow, O], self.dtype, yq[0], yq[1])
        o = s.DepthwiseConv2DOptionsT() if depthwise else s.Conv2DOptionsT()
        if depthwise:
            o.depthMultiplier = 1
        o.padding, o.strideW, o.strideH, o.fusedActivationFunction = padding, stride, stride, act
        self.op(4 if depthwise else 3, [x, w, b], [y], s.BuiltinOptions.DepthwiseConv2DOptions if depthwise
                else s.BuiltinOptions.Conv2DOptions, o)
        return y, yq, (oh, ow, O)

    def add(self, a, b, shape):
        s = _schema()
        q = self.act_q()
        y = self.tensor([1, *shape], self.dtype, q[0], q[1])
        self.op(0, [a, b], [y], s.BuiltinOptions.AddOptions, s.AddOptionsT())
        return y, q

    def head(self, x, xq, shape, classes, pool="avg"):
        """Global AVERAGE_POOL_2D -> RESHAPE (pool="mean": MEAN over axes 1, 2 without keep_dims, as Keras'
        GlobalAveragePooling2D converts) -> FULLY_CONNECTED -> SOFTMAX (the output)."""
        s, rng = _schema(), self.rng
        H, W, C = shape
        if pool == "avg":
            qm = xq  # TFLite average pooling keeps the quantization
            mean = self.tensor([1, 1, 1, C], self.dtype, qm[0], qm[1])
            po = s.Pool2DOptionsT()
            po.padding, po.strideW, po.strideH, po.filterWidth, po.filterHeight = 1, 1, 1, W, H
            self.op(1, [x], [mean], s.BuiltinOptions.Pool2DOptions, po)
            flat = self.tensor([1, C], self.dtype, qm[0], qm[1])
            rs = s.ReshapeOptionsT()
            rs.newShape = [-1, C]  # as TFLiteConverter writes it (-1: the batch)
            self.op(22, [mean], [flat], s.BuiltinOptions.ReshapeOptions, rs)
        else:
            qm = self.act_q()
            flat = self.tensor([1, C], self.dtype, qm[0], qm[1])
            axes = self.tensor([2], np.int32, data=np.array([1, 2], np.int32))
            ro = s.ReducerOptionsT()
            ro.keepDims = False
            self.op(40, [x, axes], [flat], s.BuiltinOptions.ReducerOptions, ro)
        wf = self.tensor([classes, C], np.int8, 0.004, 0, weights(rng, (classes, C)))
        bf = self.tensor([classes], np.int32, float(np.float32(qm[0]) * np.float32(0.004)), 0,
                         rng.integers(-500, 500, classes).astype(np.int32))
        qf = self.act_q(0.05, 0.2)
        logits = self.tensor([1, classes], self.dtype, qf[0], qf[1])
        self.op(9, [flat, wf, bf], [logits], s.BuiltinOptions.FullyConnectedOptions, s.FullyConnectedOptionsT())
        prob = self.tensor([1, classes], self.dtype, 1.0 / 256, -128 if self.dtype == np.int8 else 0, name="output")
        so = s.SoftmaxOptionsT()
        so.beta = 1.0
        self.op(25, [logits], [prob], s.BuiltinOptions.SoftmaxOptions, so)
        return prob


def mobilenet_v2_model(rng, res=224, width=1.0, classes=1000, pool="avg"):
    """MobileNetV2's layer plan (inverted residuals, RELU6, per-channel int8 weights) with random weights and
    activation quantization, as TFLite files from Keras have it: for benchmarks and whole-network checks."""
    nb = NetBuilder(rng)
    xq = nb.act_q(0.007, 0.008)
    x = nb.tensor([1, res, res, 3], np.int8, xq[0], xq[1], name="input")

    def ch(c):
        return max(8, int(c * width + 4) // 8 * 8)
    y, q, shp = nb.conv(x, xq, (res, res, 3), ch(32), 3, 2, 3)
    plan = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    for t, c, n, s in plan:
        for i in range(n):
            inp, inq, ishp = y, q, shp
            if t != 1:
                y, q, shp = nb.conv(y, q, shp, shp[2] * t, 1, 1, 3)
            y, q, shp = nb.conv(y, q, shp, 0, 3, s if i == 0 else 1, 3, depthwise=True)
            y, q, shp = nb.conv(y, q, shp, ch(c), 1, 1, 0)
            if (s if i == 0 else 1) == 1 and ishp[2] == shp[2]:
                y, q = nb.add(inp, y, shp)
    y, q, shp = nb.conv(y, q, shp, 1280 if width <= 1.0 else ch(1280), 1, 1, 3)
    prob = nb.head(y, q, shp, classes, pool)
    nb.inputs, nb.outputs = [x], [prob]
    return nb.serialize()


def composite_model(rng, dtype=np.int8, pool="avg"):
    """A MobileNet-style int8 network mixing the importer's operators, NHWC moves between convolutions:
    input 1x16x16x3 -> CONV 3x3/2 RELU6 -> PAD -> DEPTHWISE 3x3 VALID -> CONV 1x1 -+-> ADD -> HARD_SWISH ->
    CONCATENATION(axis 3, with a MAX_POOL branch of the same tensor) -> global AVERAGE_POOL_2D (pool="mean": MEAN over
    axes 1, 2 with its own output quantization) -> RESHAPE -> FULLY_CONNECTED -> SOFTMAX; the ADD's other input is a
    1x1 CONV of the padded tensor's centre crop via a stride-1 VALID conv."""
    s = _schema()
    mb = NetBuilder(rng, dtype)

    def act_q():
        return qparams(rng, dtype)

    def conv(x, xq, shape_in, cout, k, stride, padding, act, depthwise=False):
        return mb.conv(x, xq, shape_in, cout, k, stride, act, depthwise=depthwise, padding=padding)

    xq = act_q()
    x = mb.tensor([1, 16, 16, 3], dtype, xq[0], xq[1], name="input")
    c1, q1, sh1 = conv(x, xq, (16, 16, 3), 8, 3, 2, 0, 3)                     # 8x8x8
    pads = mb.tensor([4, 2], np.int32, data=np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32))
    p1 = mb.tensor([1, 10, 10, 8], dtype, q1[0], q1[1])
    mb.op(34, [c1, pads], [p1])
    d1, qd, shd = conv(p1, q1, (10, 10, 8), 8, 3, 1, 1, 1, depthwise=True)    # 8x8x8
    c2, q2, sh2 = conv(d1, qd, shd, 12, 1, 1, 0, 0)                            # 8x8x12
    c3, q3, sh3 = conv(c1, q1, sh1, 12, 1, 1, 0, 0)                            # 8x8x12
    qa = act_q()
    a = mb.tensor([1, 8, 8, 12], dtype, qa[0], qa[1])
    o = s.AddOptionsT()
    mb.op(0, [c2, c3], [a], s.BuiltinOptions.AddOptions, o)
    qh = act_q()
    h = mb.tensor([1, 8, 8, 12], dtype, qh[0], qh[1])
    mb.op(117, [a], [h])
    m = mb.tensor([1, 8, 8, 12], dtype, qh[0], qh[1])
    po = s.Pool2DOptionsT()
    po.padding, po.strideW, po.strideH, po.filterWidth, po.filterHeight = 0, 1, 1, 3, 3
    mb.op(17, [h], [m], s.BuiltinOptions.Pool2DOptions, po)
    cat = mb.tensor([1, 8, 8, 24], dtype, qh[0], qh[1])
    co = s.ConcatenationOptionsT()
    co.axis = 3
    mb.op(2, [h, m], [cat], s.BuiltinOptions.ConcatenationOptions, co)
    qm = qh if pool == "avg" else act_q()
    mean = mb.tensor([1, 1, 1, 24], dtype, qm[0], qm[1])
    if pool == "avg":
        gp = s.Pool2DOptionsT()
        gp.padding, gp.strideW, gp.strideH, gp.filterWidth, gp.filterHeight = 1, 1, 1, 8, 8
        mb.op(1, [cat], [mean], s.BuiltinOptions.Pool2DOptions, gp)
    else:
        axes = mb.tensor([2], np.int32, data=np.array([1, 2], np.int32))
        ro = s.ReducerOptionsT()
        ro.keepDims = True
        mb.op(40, [cat, axes], [mean], s.BuiltinOptions.ReducerOptions, ro)
    flat = mb.tensor([1, 24], dtype, qm[0], qm[1])
    rs = s.ReshapeOptionsT()
    rs.newShape = [-1, 24]
    mb.op(22, [mean], [flat], s.BuiltinOptions.ReshapeOptions, rs)
    wf = mb.tensor([10, 24], np.int8, 0.01, 0, weights(rng, (10, 24)))
    bf = mb.tensor([10], np.int32, float(np.float32(qm[0]) * np.float32(0.01)), 0,
                   rng.integers(-500, 500, 10).astype(np.int32))
    qf = (qm[0] * 2, qm[1])
    logits = mb.tensor([1, 10], dtype, qf[0], qf[1])
    mb.op(9, [flat, wf, bf], [logits], s.BuiltinOptions.FullyConnectedOptions, s.FullyConnectedOptionsT())
    prob = mb.tensor([1, 10], dtype, 1.0 / 256, -128 if dtype == np.int8 else 0, name="output")
    so = s.SoftmaxOptionsT()
    so.beta = 1.0
    mb.op(25, [logits], [prob], s.BuiltinOptions.SoftmaxOptions, so)
    mb.inputs, mb.outputs = [x], [prob, a]  # the ADD output too: a 4-D output leaves in NHWC
    return mb.serialize()


def resize_model(rng, *, bilinear=False, dtype=np.int8, shape=(1, 5, 7, 3), out_hw=(9, 11), align=False, hpc=False):
    """input -> RESIZE_NEAREST_NEIGHBOR (97) or RESIZE_BILINEAR (23) to out_hw -> output."""
    s = _schema()
    mb = ModelBuilder()
    xs, xz = qparams(rng, dtype)
    x = mb.tensor(list(shape), dtype, xs, xz, name="input")
    size = mb.tensor([2], np.int32, data=np.asarray(out_hw, np.int32))
    y = mb.tensor([shape[0], *out_hw, shape[3]], dtype, xs, xz, name="output")
    o = s.ResizeBilinearOptionsT() if bilinear else s.ResizeNearestNeighborOptionsT()
    o.alignCorners, o.halfPixelCenters = align, hpc
    mb.op(23 if bilinear else 97, [x, size], [y], s.BuiltinOptions.ResizeBilinearOptions if bilinear
          else s.BuiltinOptions.ResizeNearestNeighborOptions, o)
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def select_model(rng, code, *, dtype=np.int8, shape=(1, 6, 5, 8), out_shape=None, consts=(), opt_type=0, opts=None,
                 n_out=1, out_shapes=None, x_first=True):
    """One data-movement operator on an 8-bit input with constant extra inputs: SLICE (65), STRIDED_SLICE (45),
    GATHER (36), SPLIT (49, axis first), SPLIT_V (102)."""
    mb = ModelBuilder()
    xs, xz = qparams(rng, dtype)
    x = mb.tensor(list(shape), dtype, xs, xz, name="input")
    cs = [mb.tensor(list(np.shape(c)), np.int32, data=np.asarray(c, np.int32)) for c in consts]
    shapes = out_shapes or [out_shape]
    ys = [mb.tensor(list(sh), dtype, xs, xz, name=f"out{k}") for k, sh in enumerate(shapes)]
    mb.op(code, ([x] + cs) if x_first else (cs + [x]), ys, opt_type, opts)
    mb.inputs, mb.outputs = [x], ys
    return mb.serialize()


def _rand8(rng, shape, dtype):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, shape).astype(dtype)


def space_depth_model(rng, code, block, shape, *, dtype=np.int8):
    """DEPTH_TO_SPACE (code 5) or SPACE_TO_DEPTH (26) of an NHWC 8-bit tensor."""
    s = _schema()
    mb = ModelBuilder()
    q = qparams(rng, dtype)
    N, H, W, C = shape
    out = [N, H * block, W * block, C // (block * block)] if code == 5 else [N, H // block, W // block, C * block * block]
    x = mb.tensor(list(shape), dtype, *q, name="input")
    y = mb.tensor(out, dtype, *q, name="output")
    o = s.DepthToSpaceOptionsT() if code == 5 else s.SpaceToDepthOptionsT()
    o.blockSize = block
    mb.op(code, [x], [y], s.BuiltinOptions.DepthToSpaceOptions if code == 5 else s.BuiltinOptions.SpaceToDepthOptions, o)
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def expand_dims_model(rng, shape, axis, *, dtype=np.int8):
    s = _schema()
    mb = ModelBuilder()
    q = qparams(rng, dtype)
    x = mb.tensor(list(shape), dtype, *q, name="input")
    a = mb.tensor([1], np.int32, data=np.array([axis], np.int32))
    out = list(shape)
    out.insert(axis % (len(shape) + 1), 1)
    y = mb.tensor(out, dtype, *q, name="output")
    mb.op(70, [x, a], [y], s.BuiltinOptions.ExpandDimsOptions, s.ExpandDimsOptionsT())
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def min_max_model(rng, code, shape_a, shape_b, *, dtype=np.int8, const_b=False):
    """MAXIMUM (55) / MINIMUM (57) / SQUARED_DIFFERENCE (99) of two 8-bit tensors (b a second input, or a
    constant), each with its own quantization parameters (MAXIMUM / MINIMUM compare the stored values)."""
    s = _schema()
    mb = ModelBuilder()
    a = mb.tensor(list(shape_a), dtype, *qparams(rng, dtype), name="input")
    b = mb.tensor(list(shape_b), dtype, *qparams(rng, dtype), data=_rand8(rng, shape_b, dtype) if const_b else None,
                  name="const_b" if const_b else "input_b")
    y = mb.tensor(list(np.broadcast_shapes(tuple(shape_a), tuple(shape_b))), dtype, *qparams(rng, dtype),
                  name="output")
    if code == 99:
        mb.op(code, [a, b], [y], s.BuiltinOptions.SquaredDifferenceOptions, s.SquaredDifferenceOptionsT())
    else:
        mb.op(code, [a, b], [y], s.BuiltinOptions.MaximumMinimumOptions, s.MaximumMinimumOptionsT())
    mb.inputs, mb.outputs = ([a] if const_b else [a, b]), [y]
    return mb.serialize()


def arg_model(rng, code, shape, axis, *, dtype=np.int8, out_type=np.int32):
    """ARG_MAX (56) / ARG_MIN (79) along `axis`."""
    s = _schema()
    mb = ModelBuilder()
    x = mb.tensor(list(shape), dtype, *qparams(rng, dtype), name="input")
    a = mb.tensor([1], np.int32, data=np.array([axis], np.int32))
    out = [d for i, d in enumerate(shape) if i != axis % len(shape)]
    y = mb.tensor(out, out_type, name="output")
    o = s.ArgMaxOptionsT() if code == 56 else s.ArgMinOptionsT()
    o.outputType = _TT[np.dtype(out_type)]
    mb.op(code, [x, a], [y], s.BuiltinOptions.ArgMaxOptions if code == 56 else s.BuiltinOptions.ArgMinOptions, o)
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def prelu_model(rng, shape, alpha_shape, *, dtype=np.int8):
    """PRELU with a constant alpha of its own quantization (alphas from about -0.5 to 1.5)."""
    mb = ModelBuilder()
    x = mb.tensor(list(shape), dtype, *qparams(rng, dtype), name="input")
    info = np.iinfo(dtype)
    az = int(rng.integers(info.min // 4, info.max // 4 + 1)) if dtype == np.int8 else int(rng.integers(40, 90))
    a = mb.tensor(list(alpha_shape), dtype, float(np.float32(rng.uniform(0.004, 0.012))), az,
                  data=_rand8(rng, alpha_shape, dtype))
    y = mb.tensor(list(shape), dtype, *qparams(rng, dtype), name="output")
    mb.op(54, [x, a], [y])
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def batch_matmul_model(rng, lhs_shape, rhs_shape, *, adj_x=False, adj_y=False, const_rhs=False, out_type=np.int8):
    """int8 BATCH_MATMUL (126) of two activations, or of an activation and a constant."""
    s = _schema()
    mb = ModelBuilder()
    lq, rq = qparams(rng, np.int8), qparams(rng, np.int8)
    x = mb.tensor(list(lhs_shape), np.int8, *lq, name="lhs")
    w = mb.tensor(list(rhs_shape), np.int8, *rq, data=_rand8(rng, rhs_shape, np.int8) if const_rhs else None,
                  name="rhs_const" if const_rhs else "rhs")
    lm = lhs_shape[-2:][::-1] if adj_x else lhs_shape[-2:]
    rm = rhs_shape[-2:][::-1] if adj_y else rhs_shape[-2:]
    batch = np.broadcast_shapes(tuple(lhs_shape[:-2]), tuple(rhs_shape[:-2]))
    out = [*batch, lm[0], rm[1]]
    k = lm[1]
    if out_type == np.int8:
        # an output scale that keeps most sums of k products in range
        y = mb.tensor(out, np.int8, float(np.float32(lq[0] * rq[0] * 8 * np.sqrt(k))), int(rng.integers(-20, 20)),
                      name="output")
    else:
        y = mb.tensor(out, np.int32, name="output")
    o = s.BatchMatMulOptionsT()
    o.adjX, o.adjY = adj_x, adj_y
    mb.op(126, [x, w], [y], s.BuiltinOptions.BatchMatMulOptions, o)
    mb.inputs, mb.outputs = ([x] if const_rhs else [x, w]), [y]
    return mb.serialize()


def transformer_block_model(rng, T=8, D=16, heads=2, gelu_approx=False, layer_norm=False):
    """One int8 encoder block as a converter writes it (shapes [1, T, D]): FULLY_CONNECTED (keep_num_dims) q / k / v,
    RESHAPE + TRANSPOSE to [1, heads, T, D/heads], BATCH_MATMUL q k^T (adj_y), SOFTMAX, BATCH_MATMUL with v,
    TRANSPOSE + RESHAPE back, an output FULLY_CONNECTED, ADD (residual), MEAN over the last axis and SUB (centring;
    layer_norm: times RSQRT(MEAN(SQUARED_DIFFERENCE) + eps)), FULLY_CONNECTED -> GELU -> FULLY_CONNECTED, ADD;
    attention tensors are 4-D [1, heads, T, dh]."""
    s = _schema()
    mb = ModelBuilder()
    dh = D // heads

    def q():
        return qparams(rng, np.int8)

    def fc(x, xq, n_in, n_out, shape_in):
        ws = float(np.float32(rng.uniform(0.01, 0.03)))
        w = mb.tensor([n_out, n_in], np.int8, ws, 0, weights(rng, (n_out, n_in)))
        b = mb.tensor([n_out], np.int32, float(np.float32(xq[0]) * np.float32(ws)), 0,
                      rng.integers(-2000, 2000, n_out).astype(np.int32))
        yq = q()
        y = mb.tensor([*shape_in[:-1], n_out], np.int8, *yq)
        o = s.FullyConnectedOptionsT()
        o.keepNumDims = True
        mb.op(9, [x, w, b], [y], s.BuiltinOptions.FullyConnectedOptions, o)
        return y, yq

    def reshape(x, xq, shape):
        y = mb.tensor(list(shape), np.int8, *xq)
        target = [-1, *shape[1:]]  # -1: the batch (times the rows merged into it)
        sh = mb.tensor([len(shape)], np.int32, data=np.array(target, np.int32))
        o = s.ReshapeOptionsT()
        o.newShape = target
        mb.op(22, [x, sh], [y], s.BuiltinOptions.ReshapeOptions, o)
        return y

    def transpose(x, xq, shape, perm):
        y = mb.tensor([shape[p] for p in perm], np.int8, *xq)
        mb.op(39, [x, mb.tensor([len(perm)], np.int32, data=np.array(perm, np.int32))], [y])
        return y

    def bmm(a, aq, b, bq, out_shape, adj_y=False):
        yq = (float(np.float32(aq[0] * bq[0] * 40)), int(rng.integers(-10, 10)))
        y = mb.tensor(list(out_shape), np.int8, *yq)
        o = s.BatchMatMulOptionsT()
        o.adjX, o.adjY = False, adj_y
        mb.op(126, [a, b], [y], s.BuiltinOptions.BatchMatMulOptions, o)
        return y, yq

    def binary(code, a, b, shape, opt_cls, opt_type):
        yq = q()
        y = mb.tensor(list(shape), np.int8, *yq)
        mb.op(code, [a, b], [y], opt_type, opt_cls())
        return y, yq

    xq = q()
    x = mb.tensor([1, T, D], np.int8, *xq, name="input")
    heads_shape = (1, T, heads, dh)
    qkv = []
    for _ in range(3):
        t, tq = fc(x, xq, D, D, (1, T, D))
        qkv.append((transpose(reshape(t, tq, heads_shape), tq, heads_shape, (0, 2, 1, 3)), tq))
    (qh, qq), (kh, kq), (vh, vq) = qkv
    scores, sq = bmm(qh, qq, kh, kq, (1, heads, T, T), adj_y=True)
    prob = mb.tensor([1, heads, T, T], np.int8, 1.0 / 256, -128)
    so = s.SoftmaxOptionsT()
    so.beta = 1.0
    mb.op(25, [scores], [prob], s.BuiltinOptions.SoftmaxOptions, so)
    ctx, cq = bmm(prob, (1.0 / 256, -128), vh, vq, (1, heads, T, dh))
    merged = reshape(transpose(ctx, cq, (1, heads, T, dh), (0, 2, 1, 3)), cq, (1, T, D))
    att, aq = fc(merged, cq, D, D, (1, T, D))
    h, hq = binary(0, x, att, (1, T, D), s.AddOptionsT, s.BuiltinOptions.AddOptions)
    mq = q()
    mean = mb.tensor([1, T, 1], np.int8, *mq)
    ro = s.ReducerOptionsT()
    ro.keepDims = True
    mb.op(40, [h, mb.tensor([1], np.int32, data=np.array([-1], np.int32))], [mean], s.BuiltinOptions.ReducerOptions, ro)
    c, cq2 = binary(41, h, mean, (1, T, D), s.SubOptionsT, s.BuiltinOptions.SubOptions)
    if layer_norm:  # c * rsqrt(mean((h - mean)^2) + eps), as converters decompose LayerNormalization
        sq, _ = binary(99, h, mean, (1, T, D), s.SquaredDifferenceOptionsT, s.BuiltinOptions.SquaredDifferenceOptions)
        vq = q()
        var = mb.tensor([1, T, 1], np.int8, *vq)
        mb.op(40, [sq, mb.tensor([1], np.int32, data=np.array([-1], np.int32))], [var], s.BuiltinOptions.ReducerOptions,
              ro)
        eq = q()
        eps = mb.tensor([1], np.int8, *eq, data=np.array([eq[1] + 3], np.int8))
        ve, veq = binary(0, var, eps, (1, T, 1), s.AddOptionsT, s.BuiltinOptions.AddOptions)
        rq = (float(np.float32(rng.uniform(0.02, 0.1))), int(rng.integers(-100, -60)))
        r = mb.tensor([1, T, 1], np.int8, *rq)
        mb.op(76, [ve], [r])
        c, cq2 = binary(18, c, r, (1, T, D), s.MulOptionsT, s.BuiltinOptions.MulOptions)
    f1, f1q = fc(c, cq2, D, 2 * D, (1, T, D))
    gq = q()
    g = mb.tensor([1, T, 2 * D], np.int8, *gq)
    go = s.GeluOptionsT()
    go.approximate = gelu_approx
    mb.op(150, [f1], [g], s.BuiltinOptions.GeluOptions, go)
    f2, f2q = fc(g, gq, 2 * D, D, (1, T, 2 * D))
    out, _ = binary(0, c, f2, (1, T, D), s.AddOptionsT, s.BuiltinOptions.AddOptions)
    mb.tensors[out].name = b"output"
    mb.inputs, mb.outputs = [x], [out]
    return mb.serialize()


def const_arg_model(rng, code, shape, out_shape, arg, *, dtype=np.int8, opt_type=0, opts=None):
    """input -> an operator with one constant int32 argument (MIRROR_PAD paddings, TILE multiples, REVERSE_V2 axes)
    -> output, one quantization in and out."""
    mb = ModelBuilder()
    q = qparams(rng, dtype)
    x = mb.tensor(list(shape), dtype, *q, name="input")
    arg = np.asarray(arg, np.int32)
    a = mb.tensor(list(arg.shape), np.int32, data=arg)
    y = mb.tensor(list(out_shape), dtype, *q, name="output")
    mb.op(code, [x, a], [y], opt_type, opts)
    mb.inputs, mb.outputs = [x], [y]
    return mb.serialize()


def pack_unpack_model(rng, shape, axis, n, *, dtype=np.int8):
    """n inputs of `shape` -> PACK(axis) -> output, and the packed tensor -> UNPACK(axis) -> n more outputs."""
    s = _schema()
    mb = ModelBuilder()
    q = qparams(rng, dtype)
    xs = [mb.tensor(list(shape), dtype, *q, name=f"input{k}") for k in range(n)]
    r = len(shape) + 1
    ax = axis % r
    packed_shape = list(shape[:ax]) + [n] + list(shape[ax:])
    y = mb.tensor(packed_shape, dtype, *q, name="packed")
    po = s.PackOptionsT()
    po.valuesCount, po.axis = n, axis
    mb.op(83, xs, [y], s.BuiltinOptions.PackOptions, po)
    ys = [mb.tensor(list(shape), dtype, *q, name=f"unpacked{k}") for k in range(n)]
    uo = s.UnpackOptionsT()
    uo.num, uo.axis = n, axis
    mb.op(88, [y], ys, s.BuiltinOptions.UnpackOptions, uo)
    mb.inputs, mb.outputs = xs, [y] + ys[::-1]
    return mb.serialize()


def with_dynamic_batch(data: bytes, batch: int = 2) -> bytes:
    """The same model with a dynamic batch, as TFLiteConverter writes a Keras model whose batch is None: every
    input's shape_signature is [-1, ...], and every tensor's signature has -1 on the axes that change when LiteRT
    resizes the inputs to `batch` (read off LiteRT itself after resize_tensor_input). The shapes stay batch 1."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    s = _schema()
    it = Interpreter(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    for d in it.get_input_details():
        it.resize_tensor_input(d["index"], [batch, *d["shape"][1:]])
    it.allocate_tensors()
    resized = {d["index"]: list(d["shape"]) for d in it.get_tensor_details()}
    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
    for k, t in enumerate(m.subgraphs[0].tensors):
        shape = [int(v) for v in (t.shape if t.shape is not None else [])]
        new = resized.get(k, shape)
        if len(new) == len(shape) and new != shape:
            t.shapeSignature = [-1 if a != b else a for a, b in zip(shape, new)]
    import flatbuffers
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def gather_model(rng, params_shape, idx_shape, axis=0, *, dtype=np.int8, const_params=True, idx_type=np.int32,
                 head=False):
    """GATHER (36) with indices given at run time (input "ids", idx_type): from a constant 8-bit table (an
    embedding lookup, const_params) or from the input "params". head: the gathered [1, S, D] rows then go through
    MEAN over axis 1 and a FULLY_CONNECTED (a bag-of-embeddings classifier)."""
    s = _schema()
    mb = ModelBuilder()
    ps, pz = qparams(rng, dtype)
    if const_params:
        p = mb.tensor(list(params_shape), dtype, ps, pz, _rand8(rng, params_shape, dtype), name="table")
    else:
        p = mb.tensor(list(params_shape), dtype, ps, pz, name="params")
    ids = mb.tensor(list(idx_shape), idx_type, name="ids")
    ax = axis % len(params_shape)
    out_shape = [*params_shape[:ax], *idx_shape, *params_shape[ax + 1:]]
    g = mb.tensor(out_shape, dtype, ps, pz, name="output" if not head else "gathered")
    o = s.GatherOptionsT()
    o.axis = axis
    mb.op(36, [p, ids], [g], s.BuiltinOptions.GatherOptions, o)
    mb.inputs = [ids] if const_params else [p, ids]
    if not head:
        mb.outputs = [g]
        return mb.serialize()
    D = out_shape[-1]
    qm = qparams(rng, dtype)
    mean = mb.tensor([out_shape[0], D], dtype, *qm)
    axes = mb.tensor([1], np.int32, data=np.array([1], np.int32))
    ro = s.ReducerOptionsT()
    ro.keepDims = False
    mb.op(40, [g, axes], [mean], s.BuiltinOptions.ReducerOptions, ro)
    wf = mb.tensor([5, D], np.int8, 0.01, 0, weights(rng, (5, D)))
    bf = mb.tensor([5], np.int32, float(np.float32(qm[0]) * np.float32(0.01)), 0,
                   rng.integers(-500, 500, 5).astype(np.int32))
    y = mb.tensor([out_shape[0], 5], dtype, *qparams(rng, dtype), name="output")
    mb.op(9, [mean, wf, bf], [y], s.BuiltinOptions.FullyConnectedOptions, s.FullyConnectedOptionsT())
    mb.outputs = [y]
    return mb.serialize()


def with_signature(data: bytes, key: str = "serving_default", inputs=None, outputs=None) -> bytes:
    """The same model with one SignatureDef (as TFLiteConverter writes it): inputs / outputs map signature names
    to the subgraph's input / output tensors in order (default: "<tensor name>_sig")."""
    s = _schema()
    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(data, 0))
    sg = m.subgraphs[0]

    def maps(indices, names):
        out = []
        for k, i in enumerate(indices):
            tm = s.TensorMapT()
            tm.name = (names[k] if names else sg.tensors[i].name.decode() + "_sig").encode()
            tm.tensorIndex = int(i)
            out.append(tm)
        return out
    sd = s.SignatureDefT()
    sd.inputs, sd.outputs = maps(sg.inputs, inputs), maps(sg.outputs, outputs)
    sd.signatureKey = key.encode()
    sd.subgraphIndex = 0
    m.signatureDefs = [sd]
    import flatbuffers
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def gather_nd_model(rng, params_shape, idx_shape=None, *, dtype=np.int8, const_idx=None, idx_type=np.int32):
    """GATHER_ND (107) of the 8-bit input "params" with indices given at run time (input "ids") or constant."""
    mb = ModelBuilder()
    q = qparams(rng, dtype)
    p = mb.tensor(list(params_shape), dtype, *q, name="params")
    if const_idx is not None:
        ids = mb.tensor(list(np.shape(const_idx)), idx_type, data=np.asarray(const_idx, idx_type))
        idx_shape = np.shape(const_idx)
    else:
        ids = mb.tensor(list(idx_shape), idx_type, name="ids")
    nd = idx_shape[-1]
    y = mb.tensor([*idx_shape[:-1], *params_shape[nd:]], dtype, *q, name="output")
    mb.op(107, [p, ids], [y])
    mb.inputs = [p] if const_idx is not None else [p, ids]
    mb.outputs = [y]
    return mb.serialize()
