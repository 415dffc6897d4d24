"""Builders for the session tests: tiny PyTorch networks with the structure of real ones
(MobileNetV2 inverted residuals, ResNet basic blocks, MobileNetV3 SE + hard-swish, EfficientNet SiLU,
ShuffleNet concat/channel shuffle), random weights with realistic BatchNorm statistics, exported
with torch.onnx.export(dynamo=False) and quantized with onnxruntime's quantize_static."""
from __future__ import annotations

import io
import os

import numpy as np

C_IN, H_IN = 3, 16


def _nn():
    import torch
    import torch.nn as nn

    return torch, nn


def _bn(nn, c):
    b = nn.BatchNorm2d(c)
    return b


def _realistic_bn(model, seed):
    torch, nn = _nn()
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.2)
    return model.eval()


def build(name: str):
    torch, nn = _nn()
    torch.manual_seed(0)

    def cbr(cin, cout, k=3, s=1, groups=1, act=None):
        layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), _bn(nn, cout)]
        if act is not None:
            layers.append(act())
        return layers

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, s, e):
            super().__init__()
            hid = cin * e
            self.conv = nn.Sequential(*cbr(cin, hid, 1, act=nn.ReLU6), *cbr(hid, hid, 3, s, groups=hid, act=nn.ReLU6),
                                      *cbr(hid, cout, 1))
            self.res = s == 1 and cin == cout

        def forward(self, x):
            return x + self.conv(x) if self.res else self.conv(x)

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, s):
            super().__init__()
            self.body = nn.Sequential(*cbr(cin, cout, 3, s, act=nn.ReLU), *cbr(cout, cout, 3))
            self.down = nn.Sequential(*cbr(cin, cout, 1, s)) if (s != 1 or cin != cout) else nn.Identity()
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.body(x) + self.down(x))

    class SE(nn.Module):
        def __init__(self, c, r, gate):
            super().__init__()
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc1 = nn.Conv2d(c, r, 1)
            self.fc2 = nn.Conv2d(r, c, 1)
            self.act = nn.ReLU()
            self.gate = gate()

        def forward(self, x):
            return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))

    class Shuffle(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.b1 = nn.Sequential(*cbr(c // 2, c // 2, 1, act=nn.ReLU), *cbr(c // 2, c // 2, 3, groups=c // 2))
            self.c = c

        def forward(self, x):
            a, b = x.chunk(2, dim=1)
            y = torch.cat([a, self.b1(b)], dim=1)
            n, c, h, w = y.shape
            return y.reshape(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)

    head = lambda c: [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10)]  # noqa: E731
    if name == "plain":  # everything integer in onnxruntime: conv, relu, maxpool, flatten, gemm
        m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, stride=2),
                          nn.ReLU(), nn.Conv2d(16, 16, 1), nn.ReLU6(), nn.Flatten(), nn.Linear(16 * 3 * 3, 10))
    elif name == "mobilenetv2":
        m = nn.Sequential(*cbr(3, 16, 3, 2, act=nn.ReLU6), InvertedResidual(16, 16, 1, 4),
                          InvertedResidual(16, 24, 2, 4), InvertedResidual(24, 24, 1, 4), *head(24))
    elif name == "resnet":
        m = nn.Sequential(*cbr(3, 16, 3, 1, act=nn.ReLU), nn.MaxPool2d(3, 2, 1), BasicBlock(16, 16, 1),
                          BasicBlock(16, 32, 2), *head(32))
    elif name == "mobilenetv3":  # hard-swish, SE with hard-sigmoid
        m = nn.Sequential(*cbr(3, 16, 3, 2, act=nn.Hardswish), *cbr(16, 16, 3, 1, groups=16, act=nn.Hardswish),
                          SE(16, 8, nn.Hardsigmoid), *cbr(16, 24, 1), *cbr(24, 24, 5, 1, groups=24, act=nn.Hardswish),
                          *head(24))
    elif name == "efficientnet":  # SiLU, SE with sigmoid
        m = nn.Sequential(*cbr(3, 16, 3, 2, act=nn.SiLU), *cbr(16, 16, 3, 1, groups=16, act=nn.SiLU),
                          SE(16, 4, nn.Sigmoid), *cbr(16, 24, 1), *head(24))
    elif name == "shufflenet":  # split, concat, channel shuffle, max-pool
        m = nn.Sequential(*cbr(3, 16, 3, 1, act=nn.ReLU), nn.MaxPool2d(2), Shuffle(16), Shuffle(16), *head(16))
    elif name == "yolo":  # SiLU, Split, Concat, MaxPool (SPPF), nearest Resize (FPN), two outputs merged
        class C2f(nn.Module):
            def __init__(self, c):
                super().__init__()
                self.cv1 = nn.Sequential(*cbr(c, c, 1, act=nn.SiLU))
                self.m = nn.Sequential(*cbr(c // 2, c // 2, 3, act=nn.SiLU))
                self.cv2 = nn.Sequential(*cbr(c + c // 2, c, 1, act=nn.SiLU))

            def forward(self, x):
                a, b = self.cv1(x).split(x.shape[1] // 2, dim=1)
                return self.cv2(torch.cat([a, b, self.m(b)], dim=1))

        class Yolo(nn.Module):
            def __init__(self):
                super().__init__()
                self.stem = nn.Sequential(*cbr(3, 16, 3, 2, act=nn.SiLU))
                self.c2f = C2f(16)
                self.down = nn.Sequential(*cbr(16, 32, 3, 2, act=nn.SiLU))
                self.pool = nn.MaxPool2d(5, 1, 2)
                self.up = nn.Upsample(scale_factor=2, mode="nearest")
                self.head = nn.Conv2d(16 + 64, 10, 1)
                self.gap = nn.AdaptiveAvgPool2d(1)

            def forward(self, x):
                p3 = self.c2f(self.stem(x))
                p4 = self.down(p3)
                s = torch.cat([p4, self.pool(p4)], dim=1)
                y = self.head(torch.cat([p3, self.up(s)], dim=1))
                return self.gap(y).flatten(1)

        m = Yolo()
    elif name == "avgpool":  # AveragePool with and without counting padding, LeakyReLU, Sub of activations
        m = nn.Sequential(*cbr(3, 16, 3, 1, act=lambda: nn.LeakyReLU(0.1)),
                          nn.AvgPool2d(3, 2, 1, count_include_pad=False), *cbr(16, 16, 3, 1, act=nn.ReLU),
                          nn.AvgPool2d(2, 2), *cbr(16, 24, 1, act=nn.Tanh), *head(24))
    elif name == "attention":  # conv stem + one self-attention block: MatMul of activations, Softmax
        class Attn(nn.Module):
            def __init__(self, c):
                super().__init__()
                self.stem = nn.Sequential(*cbr(3, c, 3, 2, act=nn.ReLU))
                self.qkv = nn.Linear(c, 3 * c)
                self.proj = nn.Linear(c, c)
                self.fc = nn.Linear(c, 10)
                self.c = c

            def forward(self, x):
                t = self.stem(x).flatten(2).transpose(1, 2)  # (N, 64 tokens, c)
                q, k, v = self.qkv(t).split(self.c, dim=2)
                a = torch.softmax(torch.matmul(q, k.transpose(1, 2)) * (self.c ** -0.5), dim=-1)
                return self.fc(self.proj(torch.matmul(a, v)).mean(dim=1))

        m = Attn(16)
    else:
        raise ValueError(name)
    return _realistic_bn(m, seed=len(name))


MODELS = ["plain", "mobilenetv2", "resnet", "mobilenetv3", "efficientnet", "shufflenet", "yolo", "avgpool"]


def export(model, path, shape=(1, C_IN, H_IN, H_IN), opset=13):
    torch, _ = _nn()
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, torch.randn(*shape), buf, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=opset,
                          dynamo=False)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return path


def inputs(n, seed, shape=(C_IN, H_IN, H_IN)):
    return np.random.default_rng(seed).standard_normal((n,) + tuple(shape)).astype(np.float32)


def quantize(float_path, out_path, calib, input_name="input", fmt="QDQ", per_channel=True, act="u8", weight="s8",
             extra_options=None):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{input_name: calib[i:i + 1]} for i in range(len(calib))])

        def get_next(self):
            return next(self.it, None)

    qt = {"u8": QuantType.QUInt8, "s8": QuantType.QInt8}
    import logging

    logging.getLogger().setLevel(logging.ERROR)
    quantize_static(float_path, out_path, Reader(), quant_format=QuantFormat.QDQ if fmt == "QDQ" else QuantFormat.QOperator,
                    per_channel=per_channel, activation_type=qt[act], weight_type=qt[weight],
                    extra_options=extra_options or {})
    return out_path


def build_quantized(name, directory, fmt="QDQ", per_channel=True, act="u8", opset=13):
    """Path of the quantized model `name` (float export and quantization cached in `directory`).
    opset >= 14 exports nn.Hardswish as the HardSwish op (13: HardSigmoid + Mul)."""
    sfx = "" if opset == 13 else f"_op{opset}"
    fp = os.path.join(directory, f"{name}_float{sfx}.onnx")
    if not os.path.exists(fp):
        export(build(name), fp, opset=opset)
    qp = os.path.join(directory, f"{name}_{fmt}_{'pc' if per_channel else 'pt'}_{act}{sfx}.onnx")
    if not os.path.exists(qp):
        quantize(fp, qp, inputs(16, seed=1), fmt=fmt, per_channel=per_channel, act=act)
    return qp


# --------------------------------------------------------------------------- full-size networks (benchmarks)
def build_full(name: str):
    """Full-size MobileNetV2 1.0 / ResNet-18 (torchvision's structure, random weights, realistic BN)."""
    torch, nn = _nn()
    torch.manual_seed(0)

    def cbr(cin, cout, k=3, s=1, groups=1, act=None):
        layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        if act is not None:
            layers.append(act())
        return layers

    if name == "mobilenetv2_224":
        class IR(nn.Module):
            def __init__(self, cin, cout, s, e):
                super().__init__()
                hid = cin * e
                layers = [] if e == 1 else cbr(cin, hid, 1, act=nn.ReLU6)
                layers += cbr(hid, hid, 3, s, groups=hid, act=nn.ReLU6) + cbr(hid, cout, 1)
                self.conv = nn.Sequential(*layers)
                self.res = s == 1 and cin == cout

            def forward(self, x):
                return x + self.conv(x) if self.res else self.conv(x)

        layers = cbr(3, 32, 3, 2, act=nn.ReLU6)
        cin = 32
        for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                           (6, 160, 3, 2), (6, 320, 1, 1)]:
            for i in range(n):
                layers.append(IR(cin, c, s if i == 0 else 1, t))
                cin = c
        layers += cbr(320, 1280, 1, act=nn.ReLU6) + [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, 1000)]
        m = nn.Sequential(*layers)
    elif name == "resnet18_224":
        class Basic(nn.Module):
            def __init__(self, cin, cout, s):
                super().__init__()
                self.body = nn.Sequential(*cbr(cin, cout, 3, s, act=nn.ReLU), *cbr(cout, cout, 3))
                self.down = nn.Sequential(*cbr(cin, cout, 1, s)) if (s != 1 or cin != cout) else nn.Identity()
                self.relu = nn.ReLU()

            def forward(self, x):
                return self.relu(self.body(x) + self.down(x))

        layers = cbr(3, 64, 7, 2, act=nn.ReLU) + [nn.MaxPool2d(3, 2, 1)]
        cin = 64
        for c, s in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [Basic(cin, c, s), Basic(c, c, 1)]
            cin = c
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
        m = nn.Sequential(*layers)
    else:
        raise ValueError(name)
    return _realistic_bn(m, seed=len(name))


def build_full_quantized(name, directory, fmt="QDQ", per_channel=True, act="u8"):
    """(float path, quantized path) of a full-size network at 224x224 (cached in `directory`)."""
    fp = os.path.join(directory, f"{name}_float.onnx")
    if not os.path.exists(fp):
        export(build_full(name), fp, shape=(1, 3, 224, 224))
    qp = os.path.join(directory, f"{name}_{fmt}_{'pc' if per_channel else 'pt'}_{act}.onnx")
    if not os.path.exists(qp):
        quantize(fp, qp, inputs(4, seed=1, shape=(3, 224, 224)), fmt=fmt, per_channel=per_channel, act=act)
    return fp, qp


if __name__ == "__main__":
    # python tests/models/builders.py OUT_DIR  -> full-size int8 models for `lowp bench`
    import sys

    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    for n in ("mobilenetv2_224", "resnet18_224"):
        print(build_full_quantized(n, out))
