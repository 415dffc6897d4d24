"""Small test models defined in PyTorch, exported to ONNX and quantized with onnxruntime (no downloads)."""
