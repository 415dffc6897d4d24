import os
import sys

# Allow running against an in-tree developer build (tools/dev_build.sh) as well as an installed wheel.
_here = os.path.dirname(os.path.abspath(__file__))
_py = os.path.join(os.path.dirname(_here), "python")
if os.environ.get("LOWP_INTREE") == "1" and _py not in sys.path:
    sys.path.insert(0, _py)

# Every model a test runs through lowp.InferenceSession also runs the pure-Python step loop and
# asserts that the native program (cpp/exec) gives the same bits (python/lowp/passes/lower.py).
os.environ.setdefault("LOWP_NATIVE_CHECK", "1")
