"""lowp.matmul_integer / qlinear_matmul / PackedMatrix on every kernel path against numpy int64.

The references are plain numpy int64 matmul (wrapped to int32 like any int32 MatMulInteger)
and the independent requantizers in tests/reference; nothing here is produced by lowp itself.
"""
import itertools
import os
import pickle
import shlex
import subprocess
import sys
import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lowp
from reference import ort as ort_ref
from reference import tflite as tfl

KERNELS = lowp.kernels()
DT = [np.uint8, np.int8]
ALL4 = list(itertools.product(DT, DT))
ROUNDINGS = ["gemmlowp", "single", "half_even"]


# ----------------------------------------------------------------------------- references
def wrap32(y):
    return (np.asarray(y, np.int64) & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


def ref_matmul(a, b, za=0, zb=0):
    """numpy matmul semantics (1-D operands, batch broadcasting) in int64, wrapped to int32."""
    a64 = a.astype(np.int64) - np.int64(za)
    b64 = b.astype(np.int64) - np.asarray(zb, np.int64)
    return wrap32(np.matmul(a64, b64))


def ref_qlinear(a, sa, za, b, sb, zb, sy, zy, ydt, rounding, bias=None, qmin=None, qmax=None):
    acc = ref_matmul(a, b, za, zb).astype(np.int64)
    if bias is not None:
        acc = wrap32(acc + bias.astype(np.int64)).astype(np.int64)
    lo, hi = np.iinfo(ydt).min, np.iinfo(ydt).max
    qmin = lo if qmin is None else qmin
    qmax = hi if qmax is None else qmax
    if rounding == "half_even":
        out = ort_ref.requantize(acc.astype(np.int32), ort_ref.qlinear_scale(sa, sb, sy), int(zy), qmin, qmax)
    else:
        # TFLite: effective scale in double from the float32 scales, then QuantizeMultiplier
        f32 = lambda v: np.asarray(v, np.float32).astype(np.float64)  # noqa: E731
        real = f32(sa).reshape(-1)[0] * f32(sb).reshape(-1) / f32(sy).reshape(-1)[0]
        ms = [tfl.quantize_multiplier(float(r), rounding == "single") for r in real]
        m = np.array([x for x, _ in ms], np.int64)
        s = np.array([x for _, x in ms], np.int64)
        out = tfl.requantize(acc, m, s, int(zy), qmin, qmax, single_rounding=rounding == "single")
    return out.astype(ydt)


def _seed(key):
    """A stable seed (hash() of types changes from run to run)."""
    return zlib.crc32(repr(key).encode())


def rand(rng, dt, shape):
    i = np.iinfo(dt)
    return rng.integers(i.min, i.max, shape, dtype=dt, endpoint=True)


def check_all_kernels(fn, want, msg=""):
    for k in KERNELS:
        with lowp.use_kernel(k):
            assert lowp.current_kernel() == k
            got = fn()
        assert got.dtype == want.dtype, (k, got.dtype, want.dtype)
        assert got.shape == want.shape, (k, got.shape, want.shape)
        np.testing.assert_array_equal(got, want, err_msg=f"kernel={k} {msg}")


def test_kernels_listing_and_forcing():
    assert KERNELS[-1] == "ref"
    assert set(KERNELS) <= set(lowp.compiled_kernels())
    b = lowp.PackedMatrix(np.ones((3, 2), np.int8))
    for k in KERNELS:
        with lowp.use_kernel(k):
            assert b.packed().kernel == k  # forcing really reaches the native layer
    assert lowp.current_kernel() == KERNELS[0]


# ----------------------------------------------------------------------------- matmul_integer
@pytest.mark.parametrize("kernel", KERNELS)
@settings(max_examples=30, deadline=None)
@given(M=st.integers(1, 40), K=st.integers(1, 150), N=st.integers(1, 80), at=st.sampled_from(DT),
       bt=st.sampled_from(DT), per_col=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_matmul_integer_random(kernel, M, K, N, at, bt, per_col, seed):
    rng = np.random.default_rng(seed)
    a, b = rand(rng, at, (M, K)), rand(rng, bt, (K, N))
    za = rand(rng, at, ())
    zb = rand(rng, bt, (N,) if per_col else ())
    with lowp.use_kernel(kernel):
        got = lowp.matmul_integer(a, b, za, zb)
    np.testing.assert_array_equal(got, ref_matmul(a, b, za, zb))


EDGE_SHAPES = [(1, 1, 1), (1, 1, 33), (1, 300, 1), (2, 1, 1), (1, 5, 7), (7, 3, 31), (8, 4, 32), (9, 5, 33),
               (15, 7, 63), (16, 8, 64), (17, 9, 65), (3, 17, 95), (33, 2, 3), (65, 31, 129), (5, 1023, 17),
               (20, 1024, 600)]  # the last exceeds one B block (K*N > 512 KiB)


@pytest.mark.parametrize("at,bt", ALL4)
def test_matmul_integer_edge_shapes(at, bt):
    rng = np.random.default_rng(7)
    for (M, K, N) in EDGE_SHAPES:
        a, b = rand(rng, at, (M, K)), rand(rng, bt, (K, N))
        za, zb = rand(rng, at, ()), rand(rng, bt, (N,))
        check_all_kernels(lambda: lowp.matmul_integer(a, b, za, zb), ref_matmul(a, b, za, zb), str((M, K, N)))
        check_all_kernels(lambda: lowp.matmul_integer(a, b, za, zb[0]), ref_matmul(a, b, za, zb[0]), str((M, K, N)))


@pytest.mark.parametrize("at,bt", ALL4)
def test_matmul_integer_extreme_values(at, bt):
    ia, ib = np.iinfo(at), np.iinfo(bt)
    M, K, N = 9, 67, 35
    for av, bv, za, zb in itertools.product([ia.min, ia.max], [ib.min, ib.max], [ia.min, ia.max], [ib.min, ib.max]):
        a = np.full((M, K), av, at)
        b = np.full((K, N), bv, bt)
        want = ref_matmul(a, b, za, zb)
        assert np.all(want == K * (av - za) * (bv - zb))
        check_all_kernels(lambda: lowp.matmul_integer(a, b, at(za), bt(zb)), want, str((av, bv, za, zb)))
    # mixed extremes in one matrix, per-column zero points at both ends
    rng = np.random.default_rng(11)
    a = rng.choice(np.array([ia.min, ia.max], at), (M, K))
    b = rng.choice(np.array([ib.min, ib.max], bt), (K, N))
    zb = rng.choice(np.array([ib.min, ib.max], bt), N)
    for za in (ia.min, ia.max):
        check_all_kernels(lambda: lowp.matmul_integer(a, b, at(za), zb), ref_matmul(a, b, za, zb))


@pytest.mark.parametrize("at,bt", [(np.uint8, np.int8), (np.int8, np.uint8), (np.uint8, np.uint8)])
def test_matmul_integer_k65536_wraps(at, bt):
    ia, ib = np.iinfo(at), np.iinfo(bt)
    K = 65536
    a = np.full((2, K), ia.max, at)
    a[1, ::3] = ia.min
    b = np.full((K, 3), ib.min, bt)
    b[::5, 1] = ib.max
    za, zb = ia.min, np.array([ib.max, ib.min, ib.max], bt)
    want = ref_matmul(a, b, za, zb)
    exact = (a.astype(np.int64) - za) @ (b.astype(np.int64) - zb.astype(np.int64))
    assert np.any(exact != want)  # the int32 sum really wraps here
    check_all_kernels(lambda: lowp.matmul_integer(a, b, at(za), zb), want)


def test_matmul_integer_large_k_random():
    rng = np.random.default_rng(5)
    a, b = rand(rng, np.int8, (3, 65536)), rand(rng, np.int8, (65536, 5))
    check_all_kernels(lambda: lowp.matmul_integer(a, b, np.int8(-7), np.int8(100)), ref_matmul(a, b, -7, 100))


def test_matmul_integer_default_zero_points():
    rng = np.random.default_rng(2)
    a, b = rand(rng, np.uint8, (6, 10)), rand(rng, np.int8, (10, 4))
    check_all_kernels(lambda: lowp.matmul_integer(a, b), ref_matmul(a, b))
    check_all_kernels(lambda: lowp.matmul_integer(a, b, 3, np.array([1, 2, 3, -4], np.int8)), ref_matmul(a, b, 3, [1, 2, 3, -4]))


# ----------------------------------------------------------------------------- batching / broadcasting
BATCH_CASES = [
    ((13,), (13, 6)),            # 1-D a
    ((4, 13), (13,)),            # 1-D b
    ((13,), (13,)),              # both 1-D -> scalar
    ((3, 4, 13), (13, 6)),       # 3-D a, 2-D b
    ((2, 3, 4, 13), (13, 6)),
    ((4, 13), (3, 13, 6)),       # batched b
    ((3, 4, 13), (3, 13, 6)),
    ((2, 1, 4, 13), (3, 13, 6)),  # broadcast batch dims
    ((1, 4, 13), (5, 13, 6)),
    ((13,), (2, 13, 6)),
    ((2, 4, 13), (13,)),
    ((0, 4, 13), (13, 6)),       # empty batch
    ((0, 13), (13, 6)),          # M = 0
    ((4, 0), (0, 6)),            # K = 0
    ((4, 13), (13, 0)),          # N = 0
]


@pytest.mark.parametrize("ashape,bshape", BATCH_CASES)
def test_matmul_integer_batched_like_numpy(ashape, bshape):
    rng = np.random.default_rng(3)
    a, b = rand(rng, np.uint8, ashape), rand(rng, np.int8, bshape)
    want = ref_matmul(a, b, 9, -5)
    assert want.shape == np.matmul(a.astype(np.int64), b.astype(np.int64)).shape
    check_all_kernels(lambda: np.asarray(lowp.matmul_integer(a, b, np.uint8(9), np.int8(-5))), np.asarray(want),
                      str((ashape, bshape)))


@pytest.mark.parametrize("ashape,bshape", [((3, 4, 13), (13, 6)), ((13,), (13, 6)), ((2, 1, 7, 13), (13, 6))])
def test_qlinear_matmul_batched(ashape, bshape):
    rng = np.random.default_rng(4)
    a, b = rand(rng, np.int8, ashape), rand(rng, np.int8, bshape)
    for r in ROUNDINGS:
        want = ref_qlinear(a, 0.1, 2, b, 0.05, -3, 0.6, 5, np.int8, r)
        check_all_kernels(lambda: lowp.qlinear_matmul(a, 0.1, np.int8(2), b, 0.05, np.int8(-3), 0.6, np.int8(5),
                                                      rounding=r), want, r)


# ----------------------------------------------------------------------------- strides
def test_matmul_integer_non_contiguous():
    rng = np.random.default_rng(6)
    big_a = rand(rng, np.uint8, (40, 90))
    big_b = rand(rng, np.int8, (90, 70))
    cases = [
        (big_a[::2, 1::3], big_b[1::3, ::2]),          # strided slices
        (big_a[3:20, 5:37], big_b[5:37, 10:50]),       # row stride > row length
        (big_a.T[:70, :33], big_b.T[:33, :21]),         # transposes (column-major views)
        (big_a[::-1, ::-1][:, :50], big_b[::-1][:50]),  # negative strides
        (np.asfortranarray(big_a[:, :70]), np.asfortranarray(big_b[:70])),
        (big_a[7], big_b[:, 3]),                        # 1-D strided views
        (np.broadcast_to(big_a[0, :30], (6, 30)), np.broadcast_to(big_b[:30, :1], (30, 5))),  # stride-0
    ]
    for a, b in cases:
        want = ref_matmul(a, b, 100, -9)
        check_all_kernels(lambda: np.asarray(lowp.matmul_integer(a, b, np.uint8(100), np.int8(-9))),
                          np.asarray(want), str((a.shape, a.strides, b.shape, b.strides)))
        pm = lowp.PackedMatrix(b if b.ndim == 2 else b[:, None], np.int8(-9))
        want2 = ref_matmul(a, b if b.ndim == 2 else b[:, None], 100, -9)
        check_all_kernels(lambda: lowp.matmul_integer(a, pm, np.uint8(100)), want2)
    # inputs are not modified
    snap_a, snap_b = big_a.copy(), big_b.copy()
    lowp.matmul_integer(big_a, big_b)
    assert np.array_equal(snap_a, big_a) and np.array_equal(snap_b, big_b)


# ----------------------------------------------------------------------------- PackedMatrix
def test_packed_matrix_reuse_across_calls_and_kernels():
    rng = np.random.default_rng(8)
    b = rand(rng, np.int8, (77, 45))
    zb = rand(rng, np.int8, 45)
    pm = lowp.PackedMatrix(b, zb)
    assert pm.shape == (77, 45) and pm.dtype == np.int8
    assert np.array_equal(pm.zero_point, zb) and np.array_equal(pm.matrix, b)
    b_orig = b.copy()
    b[:] = 0  # the PackedMatrix holds its own copy
    for rep in range(3):
        for k in KERNELS + KERNELS[::-1]:
            a = rand(rng, np.uint8 if rep % 2 else np.int8, (rng.integers(1, 30), 77))
            za = rand(rng, a.dtype.type, ())
            with lowp.use_kernel(k):
                got = lowp.matmul_integer(a, pm, za)
                y = lowp.qlinear_matmul(a, 0.02, za, pm, 0.01, None, 0.3, np.int8(-1), rounding="gemmlowp")
            np.testing.assert_array_equal(got, ref_matmul(a, b_orig, za, zb), err_msg=k)
            np.testing.assert_array_equal(y, ref_qlinear(a, 0.02, za, b_orig, 0.01, zb, 0.3, -1, np.int8, "gemmlowp"))
    assert set(pm._packed) == set(KERNELS)  # one packed form per kernel, cached


def test_packed_matrix_pickle():
    rng = np.random.default_rng(9)
    for zb in (np.int8(-17), rand(rng, np.int8, 12)):
        b = rand(rng, np.int8, (33, 12))
        pm = lowp.PackedMatrix(b, zb)
        a = rand(rng, np.uint8, (5, 33))
        lowp.matmul_integer(a, pm)  # populate the cache before pickling
        pm2 = pickle.loads(pickle.dumps(pm))
        assert pm2.shape == pm.shape and pm2.dtype == pm.dtype
        assert np.array_equal(pm2.zero_point, pm.zero_point) and np.array_equal(pm2.matrix, b)
        check_all_kernels(lambda: lowp.matmul_integer(a, pm2, np.uint8(3)), ref_matmul(a, b, 3, zb))


def test_unpickled_arrays():
    """Arrays that went through pickle (multiprocessing, caches) carry an equal but non-identical
    dtype object. C++ BUG (cpp/python/common.h dtype_of compares dtypes with `is`): lowp raised
    "B has unsupported dtype int8" for them."""
    rng = np.random.default_rng(14)
    a, b = rand(rng, np.uint8, (6, 20)), rand(rng, np.int8, (20, 9))
    a2, b2 = pickle.loads(pickle.dumps(a)), pickle.loads(pickle.dumps(b))
    assert a2.dtype is not np.dtype(np.uint8)  # the situation under test really arises
    want = ref_matmul(a, b, 4, -2)
    check_all_kernels(lambda: lowp.matmul_integer(a2, b2, np.uint8(4), np.int8(-2)), want)
    check_all_kernels(lambda: lowp.matmul_integer(a2, lowp.PackedMatrix(b2, np.int8(-2)), np.uint8(4)), want)
    wantq = ref_qlinear(a, 0.1, 4, b, 0.01, -2, 0.2, 1, np.uint8, "half_even")
    check_all_kernels(lambda: lowp.qlinear_matmul(a2, 0.1, np.uint8(4), b2, 0.01, np.int8(-2), 0.2, np.uint8(1)), wantq)


def test_large_outputs_are_64_byte_aligned_ordinary_arrays():
    """GEMM / conv outputs lowp allocates start on a 64-byte boundary once they are large (numpy's
    own buffers start 16 bytes past one, so every 64-byte store of an int32 row split two cache
    lines), and stay ordinary arrays: C-contiguous, writeable, exact, picklable, usable after the
    inputs are gone."""
    rng = np.random.default_rng(15)
    a, b = rand(rng, np.uint8, (130, 96)), rand(rng, np.int8, (96, 130))
    pm = lowp.PackedMatrix(b)
    want = ref_matmul(a, b, 3)
    wantq = ref_qlinear(a, 0.02, 3, b, 0.01, 0, 0.5, 7, np.uint8, "half_even")
    outs = []
    for k in KERNELS:
        with lowp.use_kernel(k):
            outs += [(lowp.matmul_integer(a, pm, np.uint8(3)), want),
                     (lowp.matmul_integer(a, b, np.uint8(3)), want),  # general path (unpacked B)
                     (lowp.qlinear_matmul(a, 0.02, np.uint8(3), pm, 0.01, None, 0.5, np.uint8(7)), wantq),
                     (lowp.qlinear_matmul(a, 0.02, np.uint8(3), b, 0.01, np.int8(0), 0.5, np.uint8(7)), wantq)]
    # Conv (NHWC: the native layout, returned as computed); a 1x1 conv is a plain GEMM.
    x = rand(rng, np.uint8, (1, 20, 20, 8))
    w = rand(rng, np.int8, (64, 8, 1, 1))
    want_conv = ref_matmul(x.reshape(400, 8), w.reshape(64, 8).T, 5).reshape(1, 20, 20, 64)
    outs.append((lowp.conv_integer(x, w, np.uint8(5), layout="NHWC"), want_conv))
    for got, ref in outs:
        assert got.nbytes >= 16384
        assert got.ctypes.data % 64 == 0
        assert got.flags.c_contiguous and got.flags.writeable and got.flags.aligned
        np.testing.assert_array_equal(got, ref)
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(got)), ref)
        got[0, 0] ^= 1  # writeable, and independent of the other results
        assert np.array_equal(got[0, 0], ref[0, 0] ^ 1)
    del a, b, pm
    np.testing.assert_array_equal(outs[0][0][1:], want[1:])


# ----------------------------------------------------------------------------- threads
def test_num_threads_identical():
    rng = np.random.default_rng(10)
    a, b = rand(rng, np.uint8, (203, 150)), rand(rng, np.int8, (150, 301))
    zb = rand(rng, np.int8, 301)
    want = ref_matmul(a, b, 77, zb)
    wantq = ref_qlinear(a, 0.03, 77, b, 0.002, zb, 0.2, 10, np.uint8, "single")
    for k in KERNELS:
        with lowp.use_kernel(k):
            for t in (1, 2, 3):
                np.testing.assert_array_equal(lowp.matmul_integer(a, b, np.uint8(77), zb, num_threads=t), want)
                np.testing.assert_array_equal(
                    lowp.qlinear_matmul(a, 0.03, np.uint8(77), b, 0.002, zb, 0.2, np.uint8(10), rounding="single",
                                        num_threads=t), wantq)


def test_set_num_threads_roundtrip():
    n = lowp.get_num_threads()
    assert n >= 1
    try:
        lowp.set_num_threads(2)
        assert lowp.get_num_threads() == 2
        rng = np.random.default_rng(12)
        a, b = rand(rng, np.int8, (64, 40)), rand(rng, np.int8, (40, 64))
        np.testing.assert_array_equal(lowp.matmul_integer(a, b), ref_matmul(a, b))
    finally:
        lowp.set_num_threads(n)


# ----------------------------------------------------------------------------- qlinear_matmul
@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("at,bt", ALL4)
def test_qlinear_matmul_all_roundings(rounding, at, bt):
    rng = np.random.default_rng(_seed((rounding, at, bt)))
    n_mid = n_all = 0
    for (M, K, N) in [(1, 1, 1), (5, 17, 33), (9, 64, 40), (17, 300, 7)]:
        a, b = rand(rng, at, (M, K)), rand(rng, bt, (K, N))
        za, zb = rand(rng, at, ()), rand(rng, bt, (N,))
        acc_rms = max(1.0, float(np.sqrt(np.mean(ref_matmul(a, b, za, zb).astype(np.float64) ** 2))))
        for ydt in DT:
            zy = rand(rng, ydt, ())
            sa, sy = np.float32(0.04), np.float32(0.04 * 0.01 * acc_rms / 50)
            for sb in (np.float32(0.01), np.exp(rng.uniform(np.log(0.003), np.log(0.03), N)).astype(np.float32)):
                bias = rng.integers(-3 * int(acc_rms), 3 * int(acc_rms) + 1, N).astype(np.int32)
                for bias_, act in [(None, (None, None)), (bias, (None, None)),
                                   (bias, (int(zy), None)), (None, (max(np.iinfo(ydt).min, int(zy) - 20), int(zy) + 20 if int(zy) + 20 <= np.iinfo(ydt).max else None))]:
                    want = ref_qlinear(a, sa, za, b, sb, zb, sy, zy, ydt, rounding, bias_, act[0], act[1])
                    fn = lambda: lowp.qlinear_matmul(a, sa, za, b, sb, zb, sy, zy, bias=bias_, rounding=rounding,  # noqa
                                                     activation_min=act[0], activation_max=act[1])
                    check_all_kernels(fn, want, f"{(M, K, N)} {ydt} bias={bias_ is not None} act={act}")
                    n_all += want.size
                    n_mid += np.count_nonzero((want > np.iinfo(ydt).min) & (want < np.iinfo(ydt).max) & (want != zy))
    assert n_mid > n_all // 4


@pytest.mark.parametrize("at", DT)
def test_qlinear_matmul_full_row_tiles_every_width(at):
    """Full row tiles (M a multiple of 12 / 16 plus a partial panel), every column count 1..67 (full,
    partial and missing second vectors of a 32-column tile), K in place (K % 4 == 0, uint8) or
    packed, both output types with and without an activation clamp, per-column B zero points and
    scales on both sides of 1 (the packed half_even output stage of avx512vnni needs |scale| < 1:
    its fallback is exercised too). Accumulators span the whole int32 output range."""
    rng = np.random.default_rng(_seed(("full_tiles", at)))
    for M, K in [(24, 64), (37, 30), (49, 128), (28, 64), (8, 30)]:
        for N in list(range(1, 34)) + [47, 48, 63, 64, 67]:
            a, b = rand(rng, at, (M, K)), rand(rng, np.int8, (K, N))
            za, zb = rand(rng, at, ()), rand(rng, np.int8, (N,))
            pm = lowp.PackedMatrix(b, zb)
            want_acc = ref_matmul(a, b, za, zb)
            check_all_kernels(lambda: lowp.matmul_integer(a, pm, za), want_acc, f"{(M, K, N)}")
            rms = max(1.0, float(np.sqrt(np.mean(want_acc.astype(np.float64) ** 2))))
            for ydt in DT:
                zy = rand(rng, ydt, ())
                lo, hi = int(np.iinfo(ydt).min), int(np.iinfo(ydt).max)
                sa = np.float32(0.05)
                sy = np.float32(0.05 * 0.01 * rms / 60)
                for sb in (np.float32(0.01), np.exp(rng.uniform(np.log(0.002), np.log(0.05), N)).astype(np.float32),
                           np.float32(sy / sa * 1.5)):  # last: every scale > 1
                    for act in [(None, None), (max(lo, int(zy) - 30), min(hi, int(zy) + 40))]:
                        want = ref_qlinear(a, sa, za, b, sb, zb, sy, zy, ydt, "half_even", None, act[0], act[1])
                        check_all_kernels(lambda: lowp.qlinear_matmul(a, sa, za, pm, sb, None, sy, zy,
                                                                      activation_min=act[0], activation_max=act[1]),
                                          want, f"{(M, K, N)} {ydt} sb={np.ravel(sb)[:2]} act={act}")


@pytest.mark.parametrize("rounding", ROUNDINGS + [None])
@pytest.mark.parametrize("M", [8, 16, 28, 64, 196])
def test_tail_panels_every_output_stage(M, rounding):
    """M = 12p + 4 and 8 rows (a short last A panel after full ones, or only one) through every
    output stage (int32, the three roundings, avx512vnni's packed half_even and its fallback), with
    per-tensor and per-column B zero points, A read in place (uint8, K % 4 == 0) and packed, 1 and
    2 threads, every kernel."""
    rng = np.random.default_rng(_seed(("tail_panels", M, rounding)))
    N = 70
    for at, K in [(np.uint8, 64), (np.uint8, 30), (np.int8, 64), (np.uint8, 1024)]:
        a, b = rand(rng, at, (M, K)), rand(rng, np.int8, (K, N))
        za = rand(rng, at, ())
        for zb in (rand(rng, np.int8, ()), rand(rng, np.int8, (N,))):
            pm = lowp.PackedMatrix(b, zb)
            for threads in (1, 2):
                if rounding is None:
                    check_all_kernels(lambda: lowp.matmul_integer(a, pm, za, num_threads=threads),
                                      ref_matmul(a, b, za, zb), f"{(M, K, at, zb.shape, threads)}")
                    continue
                rms = max(1.0, float(np.sqrt(np.mean(ref_matmul(a, b, za, zb).astype(np.float64) ** 2))))
                sa, sy = np.float32(0.05), np.float32(0.05 * 0.01 * rms / 60)
                for sb in (np.float32(0.01), np.float32(sy / sa * 1.5)):  # packed half_even stage, then scale > 1
                    for ydt in DT:
                        zy = rand(rng, ydt, ())
                        want = ref_qlinear(a, sa, za, b, sb, zb, sy, zy, ydt, rounding)
                        check_all_kernels(lambda: lowp.qlinear_matmul(a, sa, za, pm, sb, None, sy, zy, rounding=rounding,
                                                                      num_threads=threads),
                                          want, f"{(M, K, at, zb.shape, threads, ydt, float(sb))}")


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_qlinear_matmul_rounding_families_really_differ(rounding):
    """Scale 0.25 (Q31 multiplier 2^30, shift -1), hand-computed:
    acc -3 -> -0.75: all -1.   acc -6 -> -1.5: half_even -2, gemmlowp -2 (away), single -1 (up).
    acc 10 -> 2.5: half_even 2, gemmlowp 3, single 3.
    acc 5 -> 1.25: half_even 1, single 1, gemmlowp 2 (double rounding: SRDHM 2.5 -> 3, then 3/2 -> 2)."""
    a = np.array([[-3], [-6], [10], [5]], np.int8)
    b = np.ones((1, 1), np.int8)
    y = lowp.qlinear_matmul(a, 1.0, np.int8(0), b, 0.25, np.int8(0), 1.0, np.int8(0), rounding=rounding)
    want = {"half_even": [-1, -2, 2, 1], "gemmlowp": [-1, -2, 3, 2], "single": [-1, -1, 3, 1]}[rounding]
    assert y[:, 0].tolist() == want


@settings(max_examples=30, deadline=None)
@given(M=st.integers(1, 20), K=st.integers(1, 100), N=st.integers(1, 40), rounding=st.sampled_from(ROUNDINGS),
       at=st.sampled_from(DT), bt=st.sampled_from(DT), ydt=st.sampled_from(DT), per_col=st.booleans(),
       log_sy=st.floats(-8, 2), seed=st.integers(0, 2**32 - 1), kernel=st.sampled_from(KERNELS))
def test_qlinear_matmul_property(M, K, N, rounding, at, bt, ydt, per_col, log_sy, seed, kernel):
    rng = np.random.default_rng(seed)
    a, b = rand(rng, at, (M, K)), rand(rng, bt, (K, N))
    za, zb, zy = rand(rng, at, ()), rand(rng, bt, (N,) if per_col else ()), rand(rng, ydt, ())
    sb = np.exp(rng.uniform(-7, -3, N if per_col else ())).astype(np.float32)
    sa, sy = np.float32(0.02), np.float32(np.exp(log_sy))
    bias = rng.integers(-5000, 5000, N).astype(np.int32) if seed % 2 else None
    want = ref_qlinear(a, sa, za, b, sb, zb, sy, zy, ydt, rounding, bias)
    with lowp.use_kernel(kernel):
        got = lowp.qlinear_matmul(a, sa, za, b, sb, zb, sy, zy, bias=bias, rounding=rounding)
    np.testing.assert_array_equal(got, want)


def test_qlinear_matmul_y_dtype():
    rng = np.random.default_rng(13)
    a, b = rand(rng, np.int8, (4, 9)), rand(rng, np.int8, (9, 3))
    want = ref_qlinear(a, 0.1, 0, b, 0.1, 0, 0.5, 128, np.uint8, "half_even")
    got = lowp.qlinear_matmul(a, 0.1, 0, b, 0.1, 0, 0.5, 128, y_dtype=np.uint8)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)
    got2 = lowp.qlinear_matmul(a, 0.1, 0, b, 0.1, 0, 0.5, np.uint8(128))
    np.testing.assert_array_equal(got2, want)


# ----------------------------------------------------------------------------- LOWP_KERNEL
def _python_cmd():
    """The command that starts this Python in a subprocess: LOWP_TEST_PYTHON when set (e.g. "qemu-aarch64 -L
    ROOT ROOT/usr/bin/python3" for the aarch64 run under emulation, .ci/aarch64_python.sh), else sys.executable."""
    cmd = os.environ.get("LOWP_TEST_PYTHON")
    return shlex.split(cmd) if cmd else [sys.executable]


def _env_with_lowp(**extra):
    env = dict(os.environ)
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(lowp.__file__)))
    env["PYTHONPATH"] = pkg_parent + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


@pytest.mark.parametrize("kernel", KERNELS)
def test_lowp_kernel_env_var(kernel):
    code = ("import numpy as np, lowp\n"
            "b = lowp.PackedMatrix(np.arange(-60, 60, dtype=np.int8).reshape(10, 12))\n"
            "a = np.arange(30, dtype=np.uint8).reshape(3, 10)\n"
            "print(lowp.current_kernel(), b.packed().kernel, int(lowp.matmul_integer(a, b).astype(np.int64).sum()))\n")
    r = subprocess.run([*_python_cmd(), "-c", code], env=_env_with_lowp(LOWP_KERNEL=kernel), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    a = np.arange(30, dtype=np.uint8).reshape(3, 10)
    b = np.arange(-60, 60, dtype=np.int8).reshape(10, 12)
    assert r.stdout.split() == [kernel, kernel, str(int(ref_matmul(a, b).astype(np.int64).sum()))]


def test_lowp_kernel_env_var_unknown():
    r = subprocess.run([*_python_cmd(), "-c", "import lowp"], env=_env_with_lowp(LOWP_KERNEL="no_such_kernel"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "no_such_kernel" in r.stderr and "LOWP_KERNEL" in r.stderr


@pytest.mark.parametrize("rounding", ["gemmlowp", "single"])
def test_qlinear_matmul_multiplier_is_derived_in_double(rounding):
    """TFLite forms the effective scale as double(a_scale) * double(b_scale) / double(y_scale).
    Doing it in float32 changes the low bits of the Q31 multiplier, which shows only on
    accumulators whose product lands next to a rounding boundary: search for such accumulators,
    feed them through the bias (a = za, so the GEMM sum is 0) and require the double result."""
    single = rounding == "single"
    rng = np.random.default_rng(_seed(("derive", rounding)))
    # real ~ 1e-7 lets |acc| reach ~1e9, where a few ulps of multiplier move the output by > 1e-6
    for _ in range(1000):
        sa, sb, sy = (np.float32(v) for v in np.exp(rng.uniform([-6, -9, -1], [-4, -7, 0])))
        real64 = float(np.float64(sa) * np.float64(sb) / np.float64(sy))
        real32 = float(np.float32(np.float32(sa * sb) / sy))
        m64, s64 = tfl.quantize_multiplier(real64, single)
        m32, s32 = tfl.quantize_multiplier(real32, single)
        if 3e-8 < real64 < 3e-7 and s64 == s32 and abs(m64 - m32) > 30:
            break
    assert (m64, s64) != (m32, s32)
    # accumulators next to every rounding boundary (t + 1/2) / real of the outputs t in [-120, 120)
    centers = np.round((np.arange(-120, 120) + 0.5) / real64).astype(np.int64)
    acc = (centers[:, None] + np.arange(-40, 41)[None, :]).reshape(-1).astype(np.int32)
    y64 = tfl.requantize(acc, m64, s64, 0, -128, 127, single)
    y32 = tfl.requantize(acc, m32, s32, 0, -128, 127, single)
    bias = acc[y64 != y32][:64]
    assert bias.size >= 4, "no distinguishing accumulator found"
    bias = np.concatenate([bias, acc[:64]])
    N = bias.size
    a = np.full((2, 3), 7, np.int8)
    b = rand(rng, np.int8, (3, N))
    want = tfl.requantize(np.broadcast_to(bias, (2, N)), m64, s64, 0, -128, 127, single).astype(np.int8)
    check_all_kernels(lambda: lowp.qlinear_matmul(a, sa, np.int8(7), b, sb, np.int8(0), sy, np.int8(0), bias=bias,
                                                  rounding=rounding), want)
