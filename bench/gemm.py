"""`python -m bench.gemm [options]`: the GEMM microbenchmark from a source checkout.

A thin wrapper around `lowp bench gemm` (python/lowp/benchmarks/gemm.py); see that module or
docs/PERFORMANCE.md for the options. Uses the in-tree build when LOWP_INTREE=1.
"""
import os
import sys

_py = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python")
if os.environ.get("LOWP_INTREE") == "1" and _py not in sys.path:
    sys.path.insert(0, _py)

from lowp.benchmarks.gemm import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
