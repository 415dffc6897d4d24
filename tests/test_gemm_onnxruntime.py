"""lowp GEMM bit-exact against real onnxruntime single-node MatMulInteger / QLinearMatMul models.

Also checks that tests/reference/ort.py (the MLAS requantization reference the other suites
use) reproduces onnxruntime itself, so that reference is not circular.
"""
import itertools
import zlib

import numpy as np
import pytest

import lowp
from reference import ort as ort_ref
from reference.ort_models import run_matmul_integer, run_qlinear_matmul

pytest.importorskip("onnxruntime")  # a test dependency (pyproject [test]); installed in CI

KERNELS = lowp.kernels()
ALL4 = list(itertools.product([np.uint8, np.int8], [np.uint8, np.int8]))
QL_COMBOS = [(np.uint8, np.uint8), (np.uint8, np.int8), (np.int8, np.int8)]  # what ORT's CPU EP implements
SHAPES = [(1, 1, 1), (1, 7, 1), (5, 1, 9), (3, 17, 33), (19, 64, 16), (33, 130, 47), (64, 257, 65), (2, 1000, 3)]


def _seed(key):
    """A stable seed (hash() of types changes from run to run)."""
    return zlib.crc32(repr(key).encode())


def _rand(rng, dt, shape):
    i = np.iinfo(dt)
    return rng.integers(i.min, i.max, shape, dtype=dt, endpoint=True)


def _int64_gemm(a, b, za, zb):
    y = (a.astype(np.int64) - np.int64(za)) @ (b.astype(np.int64) - np.asarray(zb, np.int64))
    return (y & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


@pytest.mark.parametrize("at,bt", ALL4)
@pytest.mark.parametrize("per_col", [False, True])
def test_matmul_integer_vs_ort(at, bt, per_col):
    rng = np.random.default_rng(_seed((at, bt, per_col)))
    for (M, K, N) in SHAPES:
        a, b = _rand(rng, at, (M, K)), _rand(rng, bt, (K, N))
        za = _rand(rng, at, ())
        zb = _rand(rng, bt, (N,)) if per_col else _rand(rng, bt, ())
        want = run_matmul_integer(a, b, za, zb, b_const=per_col)
        assert np.array_equal(want, _int64_gemm(a, b, za, zb))  # ORT agrees with plain integer math
        for k in KERNELS:
            with lowp.use_kernel(k):
                got = lowp.matmul_integer(a, b, za, zb)
            assert got.dtype == np.int32
            np.testing.assert_array_equal(got, want, err_msg=f"{k} {(M, K, N)}")


def test_matmul_integer_vs_ort_batched_and_wrapping():
    rng = np.random.default_rng(1)
    a = _rand(rng, np.uint8, (3, 5, 40))
    b = _rand(rng, np.int8, (40, 11))
    want = run_matmul_integer(a, b, np.uint8(7), np.int8(-3))
    # int32 wrap-around: K = 65536 with maximal products (255 - 0) * (-128 - 127)
    a2 = np.full((2, 65536), 255, np.uint8)
    b2 = np.full((65536, 3), -128, np.int8)
    want2 = run_matmul_integer(a2, b2, np.uint8(0), np.int8(127))
    assert int(want2[0, 0]) == ((255 * -255 * 65536 + 2**31) % 2**32) - 2**31
    for k in KERNELS:
        with lowp.use_kernel(k):
            np.testing.assert_array_equal(lowp.matmul_integer(a, b, np.uint8(7), np.int8(-3)), want)
            np.testing.assert_array_equal(lowp.matmul_integer(a2, b2, np.uint8(0), np.int8(127)), want2)


def _scale_cases(rng, N, acc_std):
    yield 0.05, 0.02, float(0.05 * 0.02 * acc_std / 40)   # outputs spread over ~[-120, 120]
    yield 0.05, 0.02, 1.3            # ordinary
    yield 1.0, 0.5, 1.0              # scale 0.5: every odd accumulator is a tie
    yield 0.5, 0.25, 2.0             # 1/16
    yield 0.01, np.exp(rng.uniform(-8, -2, N)).astype(np.float32), 0.003
    yield 2e-3, 1e-3, 1e-5           # scale > 1: heavy clamping
    yield 1e-4, 1e-4, 1.0            # tiny scale: nearly everything rounds to zp


@pytest.mark.parametrize("at,bt", QL_COMBOS)
@pytest.mark.parametrize("per_col", [False, True])
def test_qlinear_matmul_vs_ort(at, bt, per_col):
    rng = np.random.default_rng(_seed((at, bt, per_col, 2)))
    yt = at
    n_cmp = n_mid = 0
    for (M, K, N) in SHAPES[1:]:
        a, b = _rand(rng, at, (M, K)), _rand(rng, bt, (K, N))
        za = _rand(rng, at, ())
        zb = _rand(rng, bt, (N,)) if per_col else _rand(rng, bt, ())
        zy = _rand(rng, yt, ())
        for sa, sb, sy in _scale_cases(rng, N, max(1.0, np.sqrt(np.mean(_int64_gemm(a, b, za, zb).astype(np.float64) ** 2)))):
            sb = np.asarray(sb, np.float32)
            if per_col and sb.ndim == 0:
                sb = np.full(N, sb, np.float32) * np.linspace(0.5, 1.5, N).astype(np.float32)
            if not per_col and sb.ndim == 1:
                sb = sb[0]
            want = run_qlinear_matmul(a, sa, za, b, sb, zb, sy, zy, b_const=per_col)
            assert want.dtype == yt
            # the independent MLAS reference reproduces ORT exactly
            ref = ort_ref.requantize(_int64_gemm(a, b, za, zb), ort_ref.qlinear_scale(sa, sb, sy), int(zy),
                                     np.iinfo(yt).min, np.iinfo(yt).max)
            np.testing.assert_array_equal(ref, want.astype(np.int64), err_msg="reference/ort.py disagrees with ORT")
            for k in KERNELS:
                with lowp.use_kernel(k):
                    got = lowp.qlinear_matmul(a, np.float32(sa), za, b, sb, zb, np.float32(sy), zy)
                assert got.dtype == yt
                np.testing.assert_array_equal(got, want, err_msg=f"{k} {(M, K, N)} scales {(sa, sb, sy)}")
            n_cmp += want.size
            n_mid += np.count_nonzero((want > np.iinfo(yt).min) & (want < np.iinfo(yt).max) & (want != zy))
    assert n_mid > n_cmp // 40  # over a thousand outputs are neither clamped nor trivially the zero point


def test_qlinear_matmul_vs_ort_packed_and_batched():
    rng = np.random.default_rng(3)
    a = _rand(rng, np.uint8, (2, 3, 9, 70))
    b = _rand(rng, np.int8, (70, 21))
    zb = _rand(rng, np.int8, (21,))
    sb = np.exp(rng.uniform(-6, -3, 21)).astype(np.float32)
    want = run_qlinear_matmul(a, 0.02, np.uint8(120), b, sb, zb, 0.05, np.uint8(100), b_const=True)
    pm = lowp.PackedMatrix(b, zb)
    for k in KERNELS:
        with lowp.use_kernel(k):
            got = lowp.qlinear_matmul(a, np.float32(0.02), np.uint8(120), pm, sb, None, np.float32(0.05), np.uint8(100))
        np.testing.assert_array_equal(got, want, err_msg=k)


def test_requantize_half_even_vs_ort():
    """lowp.requantize('half_even') against ORT on chosen accumulators.

    A (M x K) @ ones(K x 1) with za = 128 makes each row's accumulator any chosen integer in
    [-128K, 127K], so ORT's QLinearMatMul output stage is probed directly at ties and clamps.
    """
    K = 300
    targets = np.concatenate([np.arange(-700, 701), np.array([-38400, 38100, 12345, -12345, 2**15 + 1])])
    a = np.full((targets.size, K), 128, np.int64)
    for i, t in enumerate(targets):  # spread t over the row: entries in [0, 255]
        q, r = divmod(abs(int(t)), K)
        row = np.full(K, q, np.int64)
        row[:r] += 1
        a[i] = 128 + np.sign(t) * row
    a = a.astype(np.uint8)
    b = np.ones((K, 1), np.uint8)
    acc = _int64_gemm(a, b, 128, 0)[:, 0]
    assert np.array_equal(acc, targets)
    for (sa, sb, sy), zy in itertools.product([(1.0, 0.5, 1.0), (1.0, 0.25, 1.0), (0.5, 0.125, 2.0),
                                               (0.3, 0.7, 11.0), (1e-3, 1e-2, 1e-4)], [0, 128, 255]):
        want = run_qlinear_matmul(a, sa, np.uint8(128), b, sb, np.uint8(0), sy, np.uint8(zy))[:, 0]
        scale = ort_ref.qlinear_scale(sa, sb, sy)
        got = lowp.requantize(acc, scale, None, np.uint8(zy), 0, 255, rounding="half_even")
        np.testing.assert_array_equal(got, want, err_msg=str((sa, sb, sy, zy)))
