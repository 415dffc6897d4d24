"""Benchmarks (not part of `pytest tests`): `python -m pytest bench --benchmark-only`, `python -m bench.gemm`."""
