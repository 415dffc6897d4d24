"""pytest-benchmark cases: lowp vs onnxruntime on a few GEMM shapes (uint8 x int8).

    LOWP_INTREE=1 python -m pytest bench --benchmark-only [--benchmark-group-by=param:shape]

Not collected by `pytest tests`. Every case first checks that lowp's result equals
onnxruntime's bit for bit, so a fast wrong kernel cannot post a number.
"""
import numpy as np
import pytest

import lowp
from lowp.benchmarks import gemm as G

ort = pytest.importorskip("onnxruntime")

SHAPES = [(1, 1000, 1280), (64, 1024, 1024), (196, 1280, 320), (3136, 64, 576)]
THREADS = 1


def _setup(shape):
    M, N, K = shape
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, size=(M, K), dtype=np.uint8)
    b = rng.integers(-128, 128, size=(K, N), dtype=np.int8)
    y_scale = np.float32(0.5)
    mmi, qlmm, _ = G._ort_models(M, N, K, b, y_scale)
    return a, b, y_scale, G._ort_session(mmi, THREADS), G._ort_session(qlmm, THREADS)


@pytest.fixture(scope="module", params=SHAPES, ids=G._fmt_shape)
def case(request):
    return (request.param,) + _setup(request.param)


def test_lowp_matmul_integer(benchmark, case):
    shape, a, b, _, s_mmi, _ = case
    benchmark.group = f"int32 {G._fmt_shape(shape)}"
    packed = lowp.PackedMatrix(b, G.B_ZERO_POINT)
    y = benchmark(lambda: lowp.matmul_integer(a, packed, G.A_ZERO_POINT, num_threads=THREADS))
    np.testing.assert_array_equal(y, s_mmi.run(None, {"A": a})[0])


def test_ort_matmul_integer(benchmark, case):
    shape, a, _, _, s_mmi, _ = case
    benchmark.group = f"int32 {G._fmt_shape(shape)}"
    y = benchmark(lambda: s_mmi.run(None, {"A": a})[0])
    assert y.dtype == np.int32 and y.shape == (shape[0], shape[1])


def test_lowp_qlinear_matmul(benchmark, case):
    shape, a, b, y_scale, _, s_q = case
    benchmark.group = f"uint8 {G._fmt_shape(shape)}"
    packed = lowp.PackedMatrix(b, G.B_ZERO_POINT)
    y = benchmark(lambda: lowp.qlinear_matmul(a, G.A_SCALE, G.A_ZERO_POINT, packed, G.B_SCALE, None, y_scale,
                                              np.uint8(G.Y_ZERO_POINT), rounding="half_even", num_threads=THREADS))
    np.testing.assert_array_equal(y, s_q.run(None, {"A": a})[0])


def test_ort_qlinear_matmul(benchmark, case):
    shape, a, _, _, _, s_q = case
    benchmark.group = f"uint8 {G._fmt_shape(shape)}"
    y = benchmark(lambda: s_q.run(None, {"A": a})[0])
    assert y.dtype == np.uint8 and y.shape == (shape[0], shape[1])
