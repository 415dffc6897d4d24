"""The GEMV path (M <= 4 rows, gemm/gemv.cc) and the PackedMatrix fast path of gemm.py.

Every available kernel is forced in turn (a forced kernel forces its GEMV twin for M <= 4);
expected values are numpy int64 matmuls wrapped to int32 and the independent requantizers of
tests/reference, never lowp itself. The tiled path (GEMV switched off) must agree too.
"""
import contextlib
import itertools

import numpy as np
import pytest

import lowp
from lowp import _lowp

from test_gemm import ROUNDINGS, rand, ref_matmul, ref_qlinear

KERNELS = lowp.kernels()
DT = [np.uint8, np.int8]
GEMV_M = _lowp.GEMV_MAX_M


@contextlib.contextmanager
def gemv_enabled(on):
    old = _lowp._gemv_enabled()
    _lowp._set_gemv(on)
    try:
        yield
    finally:
        _lowp._set_gemv(old)


def run_both(fn):
    """fn() with the GEMV path on and off: both must give the same array; returns it."""
    with gemv_enabled(True):
        y1 = fn()
    with gemv_enabled(False):
        y0 = fn()
    np.testing.assert_array_equal(y1, y0)
    return y1


def test_gemv_max_m_and_switch():
    assert GEMV_M == 4
    assert _lowp._gemv_enabled()
    with gemv_enabled(False):
        assert not _lowp._gemv_enabled()
    assert _lowp._gemv_enabled()


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("at,bt", list(itertools.product(DT, DT)))
def test_gemv_int32_shapes(kernel, at, bt):
    """M = 1..5 (5 leaves the GEMV path), odd N and K around every tail, per-tensor and per-column zb."""
    rng = np.random.default_rng(KERNELS.index(kernel) * 7 + DT.index(at) * 2 + DT.index(bt))
    shapes = [(1, 1, 1), (1, 17, 3), (2, 33, 5), (3, 31, 7), (4, 65, 9), (5, 16, 4), (1, 1000, 1283), (4, 47, 130),
              (2, 96, 64), (3, 1, 255)]
    with lowp.use_kernel(kernel):
        for M, N, K in shapes:
            a = rand(rng, at, (M, K))
            b = rand(rng, bt, (K, N))
            ia, ib = np.iinfo(at), np.iinfo(bt)
            za = int(rng.integers(ia.min, ia.max, endpoint=True))
            for zb in (0, int(rng.integers(ib.min, ib.max, endpoint=True)),
                       rand(rng, bt, (N,))):
                pm = lowp.PackedMatrix(b, zb)
                got = run_both(lambda: lowp.matmul_integer(a, pm, za))
                np.testing.assert_array_equal(got, ref_matmul(a, b, za, zb), err_msg=f"{kernel} {M}x{N}x{K}")
                # 1-D activation (numpy vector semantics) through the general path
                if M == 1:
                    np.testing.assert_array_equal(lowp.matmul_integer(a[0], pm, za), ref_matmul(a[0], b, za, zb))


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("at,bt", [(np.uint8, np.int8), (np.int8, np.uint8), (np.uint8, np.uint8),
                                   (np.int8, np.int8)])
def test_gemv_extremes_k65536_wraps(kernel, at, bt):
    """K = 65536 with the largest products: the int32 sums wrap; every row count of the GEMV path."""
    K, N = 65536, 37
    ia, ib = np.iinfo(at), np.iinfo(bt)
    with lowp.use_kernel(kernel):
        for M in range(1, GEMV_M + 1):
            a = np.full((M, K), ia.max, at)
            a[M - 1, ::3] = ia.min  # rows differ
            b = np.full((K, N), ib.min, bt)
            b[:, ::2] = ib.max
            zb = np.where(np.arange(N) % 3 == 0, ib.max, ib.min).astype(bt)
            pm = lowp.PackedMatrix(b, zb)
            for za in (ia.min, ia.max):
                want = ref_matmul(a, b, za, zb)
                if za == ia.min:  # really wraps
                    assert np.any(np.abs((a.astype(np.int64) - za) @ (b.astype(np.int64) - zb)) > 2**31)
                np.testing.assert_array_equal(lowp.matmul_integer(a, pm, za), want, err_msg=f"{kernel} M={M} za={za}")


@pytest.mark.parametrize("kernel", KERNELS)
def test_gemv_k65536_random(kernel):
    rng = np.random.default_rng(5)
    a = rand(rng, np.uint8, (1, 65536))
    b = rand(rng, np.int8, (65536, 19))
    zb = rand(rng, np.int8, (19,))
    pm = lowp.PackedMatrix(b, zb)
    with lowp.use_kernel(kernel):
        np.testing.assert_array_equal(lowp.matmul_integer(a, pm, 255), ref_matmul(a, b, 255, zb))


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_gemv_requant_all_stages(kernel, rounding):
    """uint8/int8 outputs, per-tensor and per-column scales, bias, clamps, zero points at both ends."""
    rng = np.random.default_rng(ROUNDINGS.index(rounding) + 10 * KERNELS.index(kernel))
    with lowp.use_kernel(kernel):
        for M, N, K in [(1, 45, 77), (2, 64, 33), (3, 17, 130), (4, 100, 9), (1, 1, 1)]:
            for at, bt, ydt in [(np.uint8, np.int8, np.uint8), (np.int8, np.int8, np.int8),
                                (np.int8, np.uint8, np.uint8), (np.uint8, np.uint8, np.int8)]:
                a = rand(rng, at, (M, K))
                b = rand(rng, bt, (K, N))
                ia, ib, iy = np.iinfo(at), np.iinfo(bt), np.iinfo(ydt)
                za = int(rng.choice([ia.min, ia.max, int(rng.integers(ia.min, ia.max))]))
                zb = rand(rng, bt, (N,)) if rng.integers(2) else int(rng.integers(ib.min, ib.max, endpoint=True))
                sb = (rng.uniform(0.001, 0.05, N).astype(np.float32) if rng.integers(2) else 0.01)
                sa, sy = 0.02, float(np.float32(0.02 * 0.01 * np.sqrt(K) * 30 * rng.uniform(0.2, 3)))
                zy = ydt(rng.choice([iy.min, iy.max, (int(iy.min) + int(iy.max)) // 2]))
                bias = rand(rng, np.int32, (N,)) // 1024 if rng.integers(2) else None
                qmin = int(iy.min) + 3 if rng.integers(2) else None
                qmax = int(iy.max) - 5 if rng.integers(2) else None
                pm = lowp.PackedMatrix(b, zb)
                got = run_both(lambda: lowp.qlinear_matmul(a, sa, za, pm, sb, None, sy, zy, bias=bias, rounding=rounding,
                                                           activation_min=qmin, activation_max=qmax))
                want = ref_qlinear(a, sa, za, b, sb, zb, sy, zy, ydt, rounding, bias, qmin, qmax)
                assert got.dtype == want.dtype
                np.testing.assert_array_equal(got, want, err_msg=f"{kernel} {rounding} {M}x{N}x{K} {at} {bt} {ydt}")


@pytest.mark.parametrize("kernel", KERNELS)
def test_gemv_threads_split_identical(kernel):
    """Weights above the GEMV's parallel threshold: 1 and 2 threads agree with the reference."""
    rng = np.random.default_rng(3)
    K, N = 1100, 1001  # ~1.1 MB of weights, N not a multiple of any panel width
    b = rand(rng, np.int8, (K, N))
    zb = rand(rng, np.int8, (N,))
    pm = lowp.PackedMatrix(b, zb)
    with lowp.use_kernel(kernel):
        for M in (1, 3):
            a = rand(rng, np.uint8, (M, K))
            want = ref_matmul(a, b, 7, zb)
            for t in (1, 2):
                np.testing.assert_array_equal(lowp.matmul_integer(a, pm, 7, num_threads=t), want)
            y1 = lowp.qlinear_matmul(a, 0.5, 7, pm, 0.01, None, 40.0, np.uint8(128), num_threads=1)
            y2 = lowp.qlinear_matmul(a, 0.5, 7, pm, 0.01, None, 40.0, np.uint8(128), num_threads=2)
            np.testing.assert_array_equal(y1, y2)
            np.testing.assert_array_equal(y1, ref_qlinear(a, 0.5, 7, b, 0.01, zb, 40.0, 128, np.uint8, "half_even"))


@pytest.mark.parametrize("kernel", KERNELS)
def test_gemv_strided_and_sliced_activations(kernel):
    rng = np.random.default_rng(11)
    K, N = 70, 40
    b = rand(rng, np.int8, (K, N))
    pm = lowp.PackedMatrix(b, 3)
    big = rand(rng, np.uint8, (9, 2 * K + 1))
    with lowp.use_kernel(kernel):
        # row strides > K, negative row stride and strided columns (copied by the general path)
        for a in (big[:3, :K], big[2:6, 5:5 + K], big[::3, :K], big[-1:, K + 1:], big[:2, :K][::-1], big[:4, :2 * K:2]):
            np.testing.assert_array_equal(lowp.matmul_integer(a, pm, 100), ref_matmul(a, b, 100, 3))


def test_fast_path_falls_back_for_unusual_inputs():
    """Inputs the native fast path declines still work (or raise) through the general path."""
    rng = np.random.default_rng(2)
    b = rand(rng, np.int8, (8, 5))
    pm = lowp.PackedMatrix(b)
    a = rand(rng, np.uint8, (2, 8))
    want = ref_matmul(a, b, 4)
    np.testing.assert_array_equal(lowp.matmul_integer(a, pm, np.uint8(4)), want)
    np.testing.assert_array_equal(lowp.matmul_integer(a, pm, np.int64(4)), want)
    np.testing.assert_array_equal(lowp.matmul_integer(np.asfortranarray(a), pm, 4), want)
    np.testing.assert_array_equal(lowp.matmul_integer(a, pm, 4, num_threads=np.int64(1)), want)
    with pytest.raises(ValueError, match="a_zero_point out of range"):
        lowp.matmul_integer(a, pm, 256)
    with pytest.raises(ValueError, match="not aligned"):
        lowp.matmul_integer(a[:, :7], pm, 4)
    with pytest.raises(TypeError, match="a must be uint8 or int8, got int16"):
        lowp.matmul_integer(a.astype(np.int16), pm)
    # bias forms: list (general path), int32 view with a stride, wrong dtype / shape raise
    bias = np.arange(10, dtype=np.int32)[::2]
    want_q = ref_qlinear(a, 0.1, 4, b, 0.1, 0, 0.5, 9, np.uint8, "half_even", bias)
    np.testing.assert_array_equal(lowp.qlinear_matmul(a, 0.1, 4, pm, 0.1, None, 0.5, np.uint8(9), bias=bias), want_q)
    with pytest.raises(TypeError, match="bias must be int32, got int64"):
        lowp.qlinear_matmul(a, 0.1, 4, pm, 0.1, None, 0.5, np.uint8(9), bias=bias.astype(np.int64))
    with pytest.raises(ValueError, match=r"bias must have shape \(5,\), got \(1, 5\)"):
        lowp.qlinear_matmul(a, 0.1, 4, pm, 0.1, None, 0.5, np.uint8(9), bias=bias[None])


def test_qlinear_spec_memo_distinguishes_argument_types():
    """Equal-valued arguments of different types give different outputs: the memo must not mix them."""
    rng = np.random.default_rng(4)
    b = rand(rng, np.int8, (16, 6))
    pm = lowp.PackedMatrix(b)
    a = rand(rng, np.int8, (1, 16))
    y_u8 = lowp.qlinear_matmul(a, 0.1, 0, pm, 0.1, None, 0.3, np.uint8(5))
    y_i8 = lowp.qlinear_matmul(a, 0.1, 0, pm, 0.1, None, 0.3, np.int8(5))
    y_int = lowp.qlinear_matmul(a, 0.1, 0, pm, 0.1, None, 0.3, 5)  # plain int: output dtype of a (int8)
    assert y_u8.dtype == np.uint8 and y_i8.dtype == np.int8 and y_int.dtype == np.int8
    np.testing.assert_array_equal(y_u8, ref_qlinear(a, 0.1, 0, b, 0.1, 0, 0.3, 5, np.uint8, "half_even"))
    np.testing.assert_array_equal(y_i8, ref_qlinear(a, 0.1, 0, b, 0.1, 0, 0.3, 5, np.int8, "half_even"))
    # same scales as float32 and float64 values that differ: different results
    s64 = 0.1 + 1e-9
    for rounding in ROUNDINGS:
        for sa in (np.float32(0.1), 0.1, s64):
            got = lowp.qlinear_matmul(a, sa, 0, pm, 0.1, None, 0.003, np.int8(0), rounding=rounding)
            np.testing.assert_array_equal(got, ref_qlinear(a, sa, 0, b, 0.1, 0, 0.003, 0, np.int8, rounding))
    # per-column scale arrays that change between calls
    for k in range(3):
        sb = (np.arange(6, dtype=np.float32) + 1 + k) * 0.01
        got = lowp.qlinear_matmul(a, 0.1, 0, pm, sb, None, 0.01, np.int8(0))
        np.testing.assert_array_equal(got, ref_qlinear(a, 0.1, 0, b, sb, 0, 0.01, 0, np.int8, "half_even"))


@pytest.mark.parametrize("kernel", KERNELS)
def test_gemv_concurrent_first_calls(kernel):
    """Several Python threads make the first GEMV calls on one fresh PackedMatrix at once (the GIL is
    released; a kernel's own GEMV layout is built once, thread-safely): all results exact."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(8)
    K, N = 300, 77
    b = rand(rng, np.uint8, (K, N))
    rows = [rand(rng, np.int8, (1 + i % GEMV_M, K)) for i in range(8)]
    for _ in range(3):
        pm = lowp.PackedMatrix(b, 131)

        def run(a):
            with lowp.use_kernel(kernel):
                return lowp.matmul_integer(a, pm, -3)

        with ThreadPoolExecutor(4) as ex:
            outs = list(ex.map(run, rows))
        for a, y in zip(rows, outs):
            np.testing.assert_array_equal(y, ref_matmul(a, b, -3, 131))


@pytest.mark.parametrize("kernel", KERNELS)
def test_lowp_kernel_env_forces_the_gemv_twin(kernel):
    """LOWP_KERNEL=<k>: M = 1 calls through the PackedMatrix fast path pack for <k> only (and so
    run <k>'s GEMV twin) and are exact."""
    import subprocess
    import sys

    from test_gemm import _env_with_lowp, _python_cmd

    code = ("import numpy as np, lowp\n"
            "rng = np.random.default_rng(1)\n"
            "b = rng.integers(-128, 128, (333, 71), dtype=np.int8)\n"
            "a = rng.integers(0, 256, (1, 333), dtype=np.uint8)\n"
            "pm = lowp.PackedMatrix(b, np.arange(-35, 36, dtype=np.int8))\n"
            "y = lowp.matmul_integer(a, pm, 9)\n"
            "q = lowp.qlinear_matmul(a, 0.1, 9, pm, 0.01, None, 0.7, np.uint8(3), rounding='gemmlowp')\n"
            "print(','.join(sorted(pm._packed)), int(y.astype(np.int64).sum()), int(q.astype(np.int64).sum()))\n")
    r = subprocess.run([*_python_cmd(), "-c", code], env=_env_with_lowp(LOWP_KERNEL=kernel), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rng = np.random.default_rng(1)
    b = rng.integers(-128, 128, (333, 71), dtype=np.int8)
    a = rng.integers(0, 256, (1, 333), dtype=np.uint8)
    zb = np.arange(-35, 36, dtype=np.int8)
    want_y = int(ref_matmul(a, b, 9, zb).astype(np.int64).sum())
    want_q = int(ref_qlinear(a, 0.1, 9, b, 0.01, zb, 0.7, 3, np.uint8, "gemmlowp").astype(np.int64).sum())
    assert r.stdout.split() == [kernel, str(want_y), str(want_q)]


@pytest.mark.parametrize("K", [27, 128, 129, 300])
def test_fast_path_uses_the_depth_default_kernel(K):
    """The PackedMatrix fast path packs for the same kernel as packed("") (the default may depend
    on K, e.g. a shallow-K variant), for GEMV and tiled row counts alike."""
    rng = np.random.default_rng(K)
    b = rand(rng, np.int8, (K, 40))
    for M in (1, 9):
        pm = lowp.PackedMatrix(b)
        a = rand(rng, np.uint8, (M, K))
        np.testing.assert_array_equal(lowp.matmul_integer(a, pm, 1), ref_matmul(a, b, 1))
        lowp.qlinear_matmul(a, 0.1, 1, pm, 0.1, None, 0.4, np.uint8(0))
        assert len(pm._packed) == 1
        assert next(iter(pm._packed.values())) is pm.packed()
