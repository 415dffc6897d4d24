"""Benchmarks shipped with the package (`lowp bench gemm`)."""
