"""lowp.quantize_multiplier / lowp.requantize against the independent references in tests/reference."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lowp
from reference import ort as ort_ref
from reference import tflite as tfl

I32_MIN, I32_MAX = -(2**31), 2**31 - 1
RNG = np.random.default_rng(20261123)


def _edge_int32():
    v = {I32_MIN, I32_MIN + 1, I32_MAX, I32_MAX - 1, 0, 1, -1}
    for k in range(31):
        for d in (-1, 0, 1):
            v.update({2**k + d, -(2**k) + d})
    v = sorted(x for x in v if I32_MIN <= x <= I32_MAX)
    rand = RNG.integers(I32_MIN, I32_MAX, 2000, endpoint=True, dtype=np.int64)
    small = RNG.integers(-70000, 70000, 2000, dtype=np.int64)
    return np.concatenate([np.array(v, np.int64), rand, small]).astype(np.int32)


EDGE = _edge_int32()


def _reals():
    r = list(np.exp(RNG.uniform(math.log(1e-12), math.log(1e4), 3000)))
    r += [2.0**e for e in range(-45, 45)]
    # values whose Q31 significand rounds up to exactly 2^31 (the 1<<31 fixup)
    r += [math.ldexp(1 - 2.0**-33, e) for e in range(-35, 35)]
    r += [math.ldexp(1 - 2.0**-32, e) for e in range(-35, 35)]   # exact tie -> away -> 2^31
    r += [math.ldexp(0.5 + 2.0**-33, e) for e in (-3, 0, 3)]      # tie just above 0.5 -> away
    r += [math.ldexp(0.75, e) for e in (-32, -31, -30, 29, 30, 31, 32)]
    r += [0.0, 5e-324, 1e-300, 1e300, 2.0**-31, 2.0**-32, 2.0**31, 2.0**30 * 1.5]
    return r


REALS = _reals()


@pytest.mark.parametrize("single", [False, True])
def test_quantize_multiplier_matches_tflite(single):
    bad = []
    for r in REALS:
        want = tfl.quantize_multiplier(r, single)
        got = lowp.quantize_multiplier(r, single_rounding=single)
        if got != want:
            bad.append((r, got, want))
    assert not bad, bad[:5]


def test_quantize_multiplier_properties_and_known_values():
    assert lowp.quantize_multiplier(0.0) == (0, 0)
    assert lowp.quantize_multiplier(1.0) == (2**30, 1)
    assert lowp.quantize_multiplier(0.5) == (2**30, 0)
    assert lowp.quantize_multiplier(math.ldexp(1 - 2.0**-32, 0)) == (2**30, 1)  # fixup
    assert lowp.quantize_multiplier(2.0**-40) == (0, 0)                         # flush
    assert lowp.quantize_multiplier(2.0**40) == (2**30, 41)
    assert lowp.quantize_multiplier(2.0**40, single_rounding=True) == (2**31 - 1, 30)
    for r in REALS:
        m, s = lowp.quantize_multiplier(r)
        if m:
            assert 2**30 <= m < 2**31
            assert abs(m * 2.0 ** (s - 31) - r) <= r * 2.0**-31


@pytest.mark.parametrize("r", [float("nan"), float("inf"), -1.0, -1e-30])
def test_quantize_multiplier_rejects(r):
    with pytest.raises(ValueError):
        lowp.quantize_multiplier(r)


def _params(single, n=None):
    """(multiplier, shift) pairs covering every shift lowp accepts."""
    reals = [2.0**e * f for e in range(-31, 31) for f in (0.5, 0.7071, 0.999999)]
    reals += list(np.exp(RNG.uniform(math.log(1e-9), math.log(1e3), 60)))
    out = []
    for r in reals:
        m, s = tfl.quantize_multiplier(r, single)
        if m and -31 <= s <= 30:
            out.append((m, s))
    out += [(2**31 - 1, 30), (2**31 - 1, -31), (2**30, -31), (2**30, 30), (0, 0), (1, 0), (2**31 - 1, 0)]
    return out


@pytest.mark.parametrize("rounding", ["gemmlowp", "single"])
@pytest.mark.parametrize("dtype,zp,qmin,qmax", [
    (np.int8, 0, -128, 127), (np.int8, -128, -128, 127), (np.int8, 127, -128, 127), (np.int8, 5, -20, 90),
    (np.uint8, 0, 0, 255), (np.uint8, 255, 0, 255), (np.uint8, 128, 0, 255), (np.uint8, 3, 7, 200),
])
def test_requantize_fixed_point_all_edges(rounding, dtype, zp, qmin, qmax):
    single = rounding == "single"
    total = 0
    for m, s in _params(single):
        got = lowp.requantize(EDGE, np.int32(m), np.int32(s), np.array(zp, dtype), qmin, qmax, rounding=rounding)
        assert got.dtype == dtype and got.shape == EDGE.shape
        want = tfl.requantize(EDGE, m, s, zp, qmin, qmax, single_rounding=single)
        bad = np.flatnonzero(got.astype(np.int64) != want)
        assert bad.size == 0, (m, s, EDGE[bad[:5]], got[bad[:5]], want[bad[:5]])
        total += np.count_nonzero((want > qmin) & (want < qmax))
    assert total > 1000  # not everything clamped: the comparison exercises the arithmetic


@pytest.mark.parametrize("rounding", ["gemmlowp", "single"])
def test_requantize_per_channel(rounding):
    single = rounding == "single"
    ps = _params(single)
    C = len(ps)
    mult = np.array([m for m, _ in ps], np.int32)
    shift = np.array([s for _, s in ps], np.int32)
    acc = RNG.choice(EDGE, size=(37, C)).astype(np.int32)
    acc[0] = I32_MIN
    acc[1] = I32_MAX
    got = lowp.requantize(acc, mult, shift, np.int8(-3), -128, 127, rounding=rounding)
    want = tfl.requantize(acc, mult, shift, -3, -128, 127, single_rounding=single)
    np.testing.assert_array_equal(got.astype(np.int64), want)
    # 3-D input: channels still run along the last axis
    acc3 = acc[:36].reshape(3, 12, C)
    got3 = lowp.requantize(acc3, mult, shift, np.uint8(100), 0, 255, rounding=rounding)
    np.testing.assert_array_equal(got3.astype(np.int64), tfl.requantize(acc3, mult, shift, 100, 0, 255, single))


def test_double_vs_single_rounding_differ():
    # -1.5 -> -2 with double rounding (RoundingDivideByPOT: away from zero), -1 with single
    # rounding (half toward +inf); hand-computed, not from either implementation.
    m, s = tfl.quantize_multiplier(0.25)
    assert (m, s) == (2**30, -1)
    acc = np.array([-6, 6, -10, 10], np.int32)
    g = lowp.requantize(acc, np.int32(m), np.int32(s), 0, -128, 127, rounding="gemmlowp", dtype=np.int8)
    sg = lowp.requantize(acc, np.int32(m), np.int32(s), 0, -128, 127, rounding="single", dtype=np.int8)
    assert g.tolist() == [-2, 2, -3, 3]
    assert sg.tolist() == [-1, 2, -2, 3]


SCALES = [0.5, 0.25, 1.0, 1 / 3, 2.0**-20, 1e-3, 7.123e-5, 3.0, 255.0, 0.0]


@pytest.mark.parametrize("dtype,zp,qmin,qmax", [(np.int8, 0, -128, 127), (np.int8, -128, -128, 127),
                                                (np.uint8, 128, 0, 255), (np.uint8, 0, 0, 6), (np.uint8, 255, 0, 255)])
def test_requantize_half_even(dtype, zp, qmin, qmax):
    for sc in SCALES + list(np.exp(RNG.uniform(-20, 2, 30))):
        sc = np.float32(sc)
        got = lowp.requantize(EDGE, sc, None, np.array(zp, dtype), qmin, qmax, rounding="half_even")
        want = ort_ref.requantize(EDGE, sc, zp, qmin, qmax)
        np.testing.assert_array_equal(got.astype(np.int64), want, err_msg=f"scale={sc}")
    # ties really go to even
    got = lowp.requantize(np.array([1, 3, 5, -1, -3, -5], np.int32), np.float32(0.5), None, np.int8(0), -128, 127,
                          rounding="half_even")
    assert got.tolist() == [0, 2, 2, 0, -2, -2]


def test_requantize_half_even_per_channel():
    scales = np.exp(RNG.uniform(-16, 0, 40)).astype(np.float32)
    scales[:4] = [0.5, 0.25, 1.0, 0.0]
    acc = RNG.choice(EDGE, size=(50, 40)).astype(np.int32)
    got = lowp.requantize(acc, scales, None, np.uint8(77), 0, 255, rounding="half_even")
    np.testing.assert_array_equal(got.astype(np.int64), ort_ref.requantize(acc, scales, 77, 0, 255))


@settings(max_examples=150, deadline=None)
@given(acc=st.lists(st.integers(I32_MIN, I32_MAX), min_size=1, max_size=40),
       real=st.floats(1e-10, 1e3), zp=st.integers(-128, 127), single=st.booleans(),
       lohi=st.tuples(st.integers(-128, 127), st.integers(-128, 127)))
def test_requantize_fixed_point_property(acc, real, zp, single, lohi):
    m, s = tfl.quantize_multiplier(real, single)
    if not (-31 <= s <= 30):
        return
    qmin, qmax = min(lohi), max(lohi)
    a = np.array(acc, np.int32)
    got = lowp.requantize(a, np.int32(m), np.int32(s), np.int8(zp), qmin, qmax,
                          rounding="single" if single else "gemmlowp")
    want = tfl.requantize(a, m, s, zp, qmin, qmax, single_rounding=single)
    np.testing.assert_array_equal(got.astype(np.int64), want)
    # the result is within one unit of the exact real product (no wrap when |acc*2^shift| fits)
    if s <= 0:
        exact = np.array(acc, np.float64) * (m * 2.0 ** (s - 31)) + zp
        assert np.all(np.abs(np.clip(exact, qmin, qmax) - got.astype(np.int64)) <= 1)


@settings(max_examples=150, deadline=None)
@given(acc=st.lists(st.integers(I32_MIN, I32_MAX), min_size=1, max_size=40),
       scale=st.floats(0, 10, width=32), zp=st.integers(0, 255))
def test_requantize_half_even_property(acc, scale, zp):
    a = np.array(acc, np.int32)
    got = lowp.requantize(a, np.float32(scale), None, np.uint8(zp), 0, 255, rounding="half_even")
    np.testing.assert_array_equal(got.astype(np.int64), ort_ref.requantize(a, np.float32(scale), zp, 0, 255))


@settings(max_examples=60, deadline=None)
@given(real=st.floats(1e-6, 1.0), zp=st.integers(-128, 127), rounding=st.sampled_from(["gemmlowp", "single"]))
def test_requantize_monotonic(real, zp, rounding):
    m, s = tfl.quantize_multiplier(real, rounding == "single")
    acc = np.sort(RNG.integers(-(2**24), 2**24, 500)).astype(np.int32)
    y = lowp.requantize(acc, np.int32(m), np.int32(s), np.int8(zp), -128, 127, rounding=rounding).astype(np.int64)
    assert np.all(np.diff(y) >= 0)
