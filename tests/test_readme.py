"""The README's API tour runs as written (the model path points at the bundled demo model)."""
import os
import re

import lowp

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def test_readme_api_tour_runs(tmp_path):
    text = open(README, encoding="utf-8").read()
    code = "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    assert "InferenceSession" in code and "qlinear_matmul" in code
    demo = os.path.join(os.path.dirname(lowp.__file__), "demo", "mnist_cnn_int8.onnx")
    code = code.replace('"model_int8.onnx"', repr(demo))
    import numpy as np
    import tflite_models
    tfl = os.path.join(str(tmp_path), "model_int8.tflite")
    with open(tfl, "wb") as f:
        f.write(tflite_models.with_dynamic_batch(tflite_models.conv_model(np.random.default_rng(0))))  # "batch"
    code = code.replace('"model_int8.tflite"', repr(tfl))
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["y"].dtype.name in ("uint8", "float32")
    assert scope["y32"].dtype.name == "int32"
    assert scope["y8"].dtype.name == "int8" and scope["y8"].shape == (1, 9, 11, 7)
