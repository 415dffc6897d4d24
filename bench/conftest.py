import os
import sys

# Same switch as tests/conftest.py: LOWP_INTREE=1 runs against the in-tree build (tools/dev_build.sh).
_py = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python")
if os.environ.get("LOWP_INTREE") == "1" and _py not in sys.path:
    sys.path.insert(0, _py)
