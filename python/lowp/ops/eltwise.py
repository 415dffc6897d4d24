"""Pooling, elementwise, lookup-table activations, softmax, quantize/dequantize (issue: CNN operators)."""
__all__: list = []
