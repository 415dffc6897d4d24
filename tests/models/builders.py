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
    elif name in FULL_EXTRA:
        m = _build_full_extra(name, nn, cbr)
    else:
        raise ValueError(name)
    return _realistic_bn(m, seed=len(name))


def _make_div(v, d=8):
    n = max(d, int(v + d / 2) // d * d)
    return n + d if n < 0.9 * v else n


def _build_full_extra(name, nn, cbr):
    """Full-size versions of the test set's other structures (torchvision / ultralytics layer plans)."""
    torch = __import__("torch")

    class SE(nn.Module):
        def __init__(self, c, r, act, gate):
            super().__init__()
            self.pool, self.fc1, self.act = nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, r, 1), act()
            self.fc2, self.gate = nn.Conv2d(r, c, 1), gate()

        def forward(self, x):
            return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))

    class IR(nn.Module):  # MobileNetV3 / EfficientNet inverted residual (expand, depthwise, SE, project)
        def __init__(self, cin, k, hid, cout, se, act, s, se_c, gate):
            super().__init__()
            layers = [] if hid == cin else cbr(cin, hid, 1, act=act)
            layers += cbr(hid, hid, k, s, groups=hid, act=act)
            if se:
                layers.append(SE(hid, se_c, nn.ReLU if gate is nn.Hardsigmoid else nn.SiLU, gate))
            self.conv = nn.Sequential(*layers, *cbr(hid, cout, 1))
            self.res = s == 1 and cin == cout

        def forward(self, x):
            return x + self.conv(x) if self.res else self.conv(x)

    if name.startswith("mobilenetv3"):
        RE, HS = nn.ReLU, nn.Hardswish
        large = [(16, 3, 16, 16, 0, RE, 1), (16, 3, 64, 24, 0, RE, 2), (24, 3, 72, 24, 0, RE, 1),
                 (24, 5, 72, 40, 1, RE, 2), (40, 5, 120, 40, 1, RE, 1), (40, 5, 120, 40, 1, RE, 1),
                 (40, 3, 240, 80, 0, HS, 2), (80, 3, 200, 80, 0, HS, 1), (80, 3, 184, 80, 0, HS, 1),
                 (80, 3, 184, 80, 0, HS, 1), (80, 3, 480, 112, 1, HS, 1), (112, 3, 672, 112, 1, HS, 1),
                 (112, 5, 672, 160, 1, HS, 2), (160, 5, 960, 160, 1, HS, 1), (160, 5, 960, 160, 1, HS, 1)]
        small = [(16, 3, 16, 16, 1, RE, 2), (16, 3, 72, 24, 0, RE, 2), (24, 3, 88, 24, 0, RE, 1),
                 (24, 5, 96, 40, 1, HS, 2), (40, 5, 240, 40, 1, HS, 1), (40, 5, 240, 40, 1, HS, 1),
                 (40, 5, 120, 48, 1, HS, 1), (48, 5, 144, 48, 1, HS, 1), (48, 5, 288, 96, 1, HS, 2),
                 (96, 5, 576, 96, 1, HS, 1), (96, 5, 576, 96, 1, HS, 1)]
        cfg, last, fc = (large, 960, 1280) if "large" in name else (small, 576, 1024)
        layers = cbr(3, 16, 3, 2, act=HS)
        for cin, k, hid, cout, se, act, s in cfg:
            layers.append(IR(cin, k, hid, cout, se, act, s, _make_div(hid // 4), nn.Hardsigmoid))
        layers += cbr(cfg[-1][3], last, 1, act=HS)
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(last, fc), HS(),
                             nn.Linear(fc, 1000))
    if name == "efficientnet_b0_224":
        layers, cin = cbr(3, 32, 3, 2, act=nn.SiLU), 32
        for e, k, s, cout, n in [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                                 (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]:
            for i in range(n):
                layers.append(IR(cin, k, cin * e, cout, 1, nn.SiLU, s if i == 0 else 1, max(1, cin // 4), nn.Sigmoid))
                cin = cout
        layers += cbr(320, 1280, 1, act=nn.SiLU)
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, 1000))
    if name == "resnet50_224":
        class Bottleneck(nn.Module):
            def __init__(self, cin, w, s):
                super().__init__()
                self.body = nn.Sequential(*cbr(cin, w, 1, act=nn.ReLU), *cbr(w, w, 3, s, act=nn.ReLU), *cbr(w, 4 * w, 1))
                self.down = nn.Sequential(*cbr(cin, 4 * w, 1, s)) if (s != 1 or cin != 4 * w) else nn.Identity()
                self.relu = nn.ReLU()

            def forward(self, x):
                return self.relu(self.body(x) + self.down(x))

        layers, cin = cbr(3, 64, 7, 2, act=nn.ReLU) + [nn.MaxPool2d(3, 2, 1)], 64
        for w, n, s in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
            for i in range(n):
                layers.append(Bottleneck(cin, w, s if i == 0 else 1))
                cin = 4 * w
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000))
    if name == "shufflenetv2_224":  # x1.0: split, concat, channel shuffle, max-pool
        def shuffle(x):
            n, c, h, w = x.shape
            return x.reshape(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)

        class Unit(nn.Module):
            def __init__(self, cin, cout, s):
                super().__init__()
                b = cout // 2
                self.s = s
                if s > 1:
                    self.b1 = nn.Sequential(*cbr(cin, cin, 3, s, groups=cin), *cbr(cin, b, 1, act=nn.ReLU))
                self.b2 = nn.Sequential(*cbr(cin if s > 1 else b, b, 1, act=nn.ReLU), *cbr(b, b, 3, s, groups=b),
                                        *cbr(b, b, 1, act=nn.ReLU))

            def forward(self, x):
                if self.s == 1:
                    a, b = x.chunk(2, dim=1)
                    return shuffle(torch.cat([a, self.b2(b)], dim=1))
                return shuffle(torch.cat([self.b1(x), self.b2(x)], dim=1))

        layers, cin = cbr(3, 24, 3, 2, act=nn.ReLU) + [nn.MaxPool2d(3, 2, 1)], 24
        for c, n in [(116, 4), (232, 8), (464, 4)]:
            for i in range(n):
                layers.append(Unit(cin, c, 2 if i == 0 else 1))
                cin = c
        layers += cbr(464, 1024, 1, act=nn.ReLU)
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, 1000))
    if name == "squeezenet_224":  # SqueezeNet 1.1 (BatchNorm after each conv to keep random activations sane)
        class Fire(nn.Module):
            def __init__(self, cin, sq, e1, e3):
                super().__init__()
                self.sq = nn.Sequential(*cbr(cin, sq, 1, act=nn.ReLU))
                self.e1 = nn.Sequential(*cbr(sq, e1, 1, act=nn.ReLU))
                self.e3 = nn.Sequential(*cbr(sq, e3, 3, act=nn.ReLU))

            def forward(self, x):
                x = self.sq(x)
                return torch.cat([self.e1(x), self.e3(x)], dim=1)

        mp = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
        return nn.Sequential(nn.Conv2d(3, 64, 3, 2), nn.ReLU(), mp(), Fire(64, 16, 64, 64), Fire(128, 16, 64, 64),
                             mp(), Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), mp(),
                             Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
                             Fire(512, 64, 256, 256), nn.Conv2d(512, 1000, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten())
    if name == "yolo_320":  # YOLOv8n layer plan: C2f, SPPF, nearest Upsample + Concat (PAN), 3 detection heads
        conv = lambda ci, co, k=1, s=1: nn.Sequential(*cbr(ci, co, k, s, act=nn.SiLU))  # noqa: E731

        class Bott(nn.Module):
            def __init__(self, c, sc):
                super().__init__()
                self.cv, self.sc = nn.Sequential(conv(c, c, 3), conv(c, c, 3)), sc

            def forward(self, x):
                return x + self.cv(x) if self.sc else self.cv(x)

        class C2f(nn.Module):
            def __init__(self, ci, co, n, sc):
                super().__init__()
                self.c = co // 2
                self.cv1, self.cv2 = conv(ci, 2 * self.c), conv((2 + n) * self.c, co)
                self.m = nn.ModuleList(Bott(self.c, sc) for _ in range(n))

            def forward(self, x):
                y = list(self.cv1(x).split(self.c, dim=1))
                for m in self.m:
                    y.append(m(y[-1]))
                return self.cv2(torch.cat(y, dim=1))

        class SPPF(nn.Module):
            def __init__(self, c):
                super().__init__()
                self.cv1, self.cv2, self.m = conv(c, c // 2), conv(2 * c, c), nn.MaxPool2d(5, 1, 2)

            def forward(self, x):
                y = [self.cv1(x)]
                for _ in range(3):
                    y.append(self.m(y[-1]))
                return self.cv2(torch.cat(y, dim=1))

        class Yolo(nn.Module):
            def __init__(self):
                super().__init__()
                self.b1 = nn.Sequential(conv(3, 16, 3, 2), conv(16, 32, 3, 2), C2f(32, 32, 1, True),
                                        conv(32, 64, 3, 2), C2f(64, 64, 2, True))
                self.b2 = nn.Sequential(conv(64, 128, 3, 2), C2f(128, 128, 2, True))
                self.b3 = nn.Sequential(conv(128, 256, 3, 2), C2f(256, 256, 1, True), SPPF(256))
                self.up = nn.Upsample(scale_factor=2, mode="nearest")
                self.n4, self.n3 = C2f(384, 128, 1, False), C2f(192, 64, 1, False)
                self.d3, self.o4 = conv(64, 64, 3, 2), C2f(192, 128, 1, False)
                self.d4, self.o5 = conv(128, 128, 3, 2), C2f(384, 256, 1, False)
                self.heads = nn.ModuleList(nn.Sequential(conv(c, 64, 3), nn.Conv2d(64, 84, 1)) for c in (64, 128, 256))

            def forward(self, x):
                p3 = self.b1(x)
                p4 = self.b2(p3)
                p5 = self.b3(p4)
                n4 = self.n4(torch.cat([self.up(p5), p4], 1))
                o3 = self.n3(torch.cat([self.up(n4), p3], 1))
                o4 = self.o4(torch.cat([self.d3(o3), n4], 1))
                o5 = self.o5(torch.cat([self.d4(o4), p5], 1))
                return torch.cat([h(o).flatten(2) for h, o in zip(self.heads, (o3, o4, o5))], 2)

        return Yolo()
    raise ValueError(name)


FULL = ["mobilenetv2_224", "resnet18_224", "mobilenetv3_small_224", "mobilenetv3_large_224", "resnet50_224",
        "efficientnet_b0_224", "shufflenetv2_224", "squeezenet_224", "yolo_320"]
FULL_EXTRA = FULL[2:]


def full_shape(name):
    """Input shape (C, H, W) of a full-size network."""
    return (3, 320, 320) if name.startswith("yolo") else (3, 224, 224)


def build_full_quantized(name, directory, fmt="QDQ", per_channel=True, act="u8"):
    """(float path, quantized path) of a full-size network at 224x224 (cached in `directory`)."""
    fp = os.path.join(directory, f"{name}_float.onnx")
    shape = full_shape(name)
    if not os.path.exists(fp):
        export(build_full(name), fp, shape=(1,) + shape)
    qp = os.path.join(directory, f"{name}_{fmt}_{'pc' if per_channel else 'pt'}_{act}.onnx")
    if not os.path.exists(qp):
        quantize(fp, qp, inputs(4, seed=1, shape=shape), fmt=fmt, per_channel=per_channel, act=act)
    return fp, qp


VARIANTS = ["QDQ_pc_u8", "QDQ_pc_s8", "QDQ_pt_u8", "QOperator_pc_u8"]


def parse_variant(v):
    """'QDQ_pc_u8' -> dict(fmt='QDQ', per_channel=True, act='u8')."""
    fmt, pc, act = v.split("_")
    if fmt not in ("QDQ", "QOperator") or pc not in ("pc", "pt") or act not in ("u8", "s8"):
        raise ValueError(f"bad variant {v!r}: expected FORMAT_pc|pt_u8|s8, e.g. QDQ_pc_u8")
    return dict(fmt=fmt, per_channel=pc == "pc", act=act)


if __name__ == "__main__":
    # python tests/models/builders.py OUT_DIR [--models a,b] [--variants QDQ_pc_u8,...] [--small]
    #   -> float originals + quantized full-size networks for `lowp bench` / bench/bench_models.py
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default=".")
    ap.add_argument("--models", default="mobilenetv2_224,resnet18_224",
                    help=f"comma list, or 'all' ({','.join(FULL)})")
    ap.add_argument("--variants", default="QDQ_pc_u8", help=f"comma list, or 'all' ({','.join(VARIANTS)})")
    ap.add_argument("--small", action="store_true", help=f"also the 16x16 test-set networks ({','.join(MODELS)})")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    variants = VARIANTS if a.variants == "all" else a.variants.split(",")
    for n in FULL if a.models == "all" else a.models.split(","):
        for v in variants:
            print(*build_full_quantized(n, a.out, **parse_variant(v)))
    if a.small:
        for n in MODELS:
            for v in variants:
                print(build_quantized(n, a.out, **parse_variant(v)))
