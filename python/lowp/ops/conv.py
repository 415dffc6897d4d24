"""Conv, depthwise conv, fully connected, matmul of activations (issue: CNN operators)."""
__all__: list = []
