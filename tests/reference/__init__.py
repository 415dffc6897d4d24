"""Independent pure-Python/numpy reference implementations used by the test suite.

Nothing here imports lowp: these are written from the published semantics of TFLite/gemmlowp
(tflite.py) and onnxruntime MLAS (ort.py) so that lowp is never checked against itself.
"""
