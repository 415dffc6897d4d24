"""Conv/depthwise/FC layers of MobileNetV2 and ResNet-18, lowp vs onnxruntime (see
python/lowp/benchmarks/conv.py). Usage: LOWP_INTREE=1 python bench/bench_conv.py [--threads 1]"""
import os
import sys

if os.environ.get("LOWP_INTREE") == "1":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from lowp.benchmarks.conv import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
