"""lowp elementwise / pooling / LUT / softmax / quantize ops against independent numpy
references: float32 re-derivations of the onnxruntime formulas ("half_even"), the TFLite
reference integer kernels in tests/reference/tflite_eltwise.py ("gemmlowp", "single"), plain
integer definitions for exact ops, and bad-input checks."""
import itertools

import numpy as np
import pytest

import lowp
from reference import tflite_eltwise as tfl

f32 = np.float32
DTYPES = [np.uint8, np.int8]


def rq(rng, dt, shape):
    i = np.iinfo(dt)
    return rng.integers(i.min, i.max + 1, shape, dtype=dt)


def rzp(rng, dt):
    i = np.iinfo(dt)
    return int(rng.integers(i.min, i.max + 1))


def rs(rng, lo=-6.0, hi=1.0):
    return f32(np.exp(rng.uniform(lo, hi)))


# --------------------------------------------------------------------------- quantize / dequantize
def ref_quantize(x, s, z, lo, hi):
    v = (x.astype(f32) / f32(s)).astype(f32)
    v = np.where(np.isnan(v), f32(lo - z), v)
    return (np.rint(np.clip(v, f32(lo - z), f32(hi - z))) + z).astype(np.int64)


@pytest.mark.parametrize("dt", [np.uint8, np.int8, np.int16])
def test_quantize_linear_ref(dt):
    rng = np.random.default_rng(0)
    i = np.iinfo(dt)
    for _ in range(5):
        x = (rng.standard_normal((4, 6, 5)) * 50).astype(f32)
        x[0, 0, :] = [np.nan, np.inf, -np.inf, 0.5, -0.5]
        s = rs(rng, -3, 1)
        z = int(rng.integers(max(i.min, -500), min(i.max, 500) + 1))
        got = lowp.quantize_linear(x, s, np.array(z, dt))
        assert got.dtype == dt
        np.testing.assert_array_equal(got.astype(np.int64), ref_quantize(x, s, z, i.min, i.max))
        sv = np.exp(rng.uniform(-3, 1, 6)).astype(f32)
        zv = rng.integers(max(i.min, -500), min(i.max, 500) + 1, 6)
        got = lowp.quantize_linear(x, sv, zv.astype(dt), axis=1)
        want = ref_quantize(x, sv[None, :, None], zv[None, :, None], i.min, i.max)
        np.testing.assert_array_equal(got.astype(np.int64), want)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(1, 3, 37, 41), (2, 3, 23, 23), (2, 5, 9, 7), (1, 1, 30, 20)])
def test_quantize_nchw_to_nhwc_fused(dt, shape):
    """Graph-boundary kernel: NCHW float32 -> NHWC 8-bit in one call == independent numpy
    quantization (float32 true division, half-to-even, saturation) transposed; several 512-pixel
    blocks with a partial last one, the C == 3 interleave and the generic one."""
    from lowp import _lowp

    rng = np.random.default_rng(18)
    i = np.iinfo(dt)
    x = (rng.standard_normal(shape) * 40).astype(f32)
    x.reshape(-1)[:6] = [np.nan, np.inf, -np.inf, 0.5, -0.5, 1.5]
    s = rs(rng, -2, 0)
    z = int(rng.integers(i.min, i.max + 1))
    got = _lowp.quantize_nchw_to_nhwc(x, s, z, np.dtype(dt).name)
    assert got.dtype == dt and got.shape == (shape[0], shape[2], shape[3], shape[1])
    want = ref_quantize(x, s, z, i.min, i.max).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(got.astype(np.int64), want)
    with pytest.raises(ValueError):
        _lowp.quantize_nchw_to_nhwc(x[:, :, ::2], s, z, np.dtype(dt).name)  # not contiguous
    with pytest.raises(ValueError):
        _lowp.quantize_nchw_to_nhwc(x[0], s, z, np.dtype(dt).name)  # not 4-D


def _near_ties(rng, s, n, zp, lo, hi):
    """float32 inputs whose quotient by s lies within a few ulps of a half-integer (and of the
    clamp bounds), where x * (1 / s) and the true x / s can round to different integers."""
    k = rng.integers(lo - zp - 2, hi - zp + 2, n).astype(np.float64) + 0.5
    with np.errstate(over="ignore"):
        x = (k * np.float64(s)).astype(f32)
    steps = rng.integers(-4, 5, n)
    for d in range(1, 5):
        x = np.where(np.abs(steps) >= d, np.nextafter(x, np.where(steps > 0, np.inf, -np.inf).astype(f32)), x)
    return x.astype(f32)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_quantize_nchw_to_nhwc_rgb_fast_path_ties(dt, threads):
    """The 3-channel kernel multiplies by 1 / scale and divides only near rounding ties: inputs
    packed around every half-integer quotient and the clamp bounds (+- 4 ulps), NaN / inf / huge /
    tiny values, scales whose reciprocal is exact or not, scales where 1 / scale is not a normal
    float (the division path), image sizes with 64-pixel tails and partial 512-pixel blocks, zero
    points at both ends; == the numpy float32 true-division reference and the kernel with SIMD off."""
    from lowp import _lowp

    rng = np.random.default_rng(77 + threads)
    i = np.iinfo(dt)
    scales = [f32(0.0187), f32(0.25), f32(1 / 255), f32(3.0), rs(rng, -5, 2), rs(rng, -5, 2), f32(2e-39), f32(3e38)]
    shapes = [(1, 3, 37, 41), (2, 3, 8, 8), (1, 3, 1, 1100), (1, 3, 5, 13), (1, 3, 33, 64)]
    for s, shape in itertools.product(scales, shapes):
        z = int(rng.choice([i.min, i.max, int(rng.integers(i.min, i.max + 1))]))
        n = int(np.prod(shape))
        x = _near_ties(rng, s, n, z, int(i.min), int(i.max))
        special = np.array([np.nan, np.inf, -np.inf, 3e38, -3e38, 1e-40, -0.0, 0.0], f32)
        x[rng.integers(0, n, 24)] = special[rng.integers(0, len(special), 24)]
        x = x.reshape(shape)
        with np.errstate(over="ignore", invalid="ignore"):
            want = ref_quantize(x, s, z, i.min, i.max).transpose(0, 2, 3, 1)
        got = _lowp.quantize_nchw_to_nhwc(x, float(s), z, np.dtype(dt).name, num_threads=threads)
        np.testing.assert_array_equal(got.astype(np.int64), want, err_msg=f"scale {s!r} zp {z} shape {shape}")
        _lowp._set_eltwise_simd(False)
        try:
            off = _lowp.quantize_nchw_to_nhwc(x, float(s), z, np.dtype(dt).name, num_threads=threads)
        finally:
            _lowp._set_eltwise_simd(True)
        np.testing.assert_array_equal(off, got)


def test_quantize_linear_ties_half_even():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 254.5, 255.5, 300], f32)
    np.testing.assert_array_equal(lowp.quantize_linear(x, 1.0, np.uint8(0)), [0, 2, 2, 0, 0, 0, 254, 255, 255])
    np.testing.assert_array_equal(lowp.quantize_linear(x, 1.0, np.int8(0)), [0, 2, 2, 0, -2, -2, 127, 127, 127])


@pytest.mark.parametrize("dt", [np.uint8, np.int8, np.int16, np.int32])
def test_dequantize_linear_ref(dt):
    rng = np.random.default_rng(1)
    i = np.iinfo(dt)
    x = rng.integers(max(i.min, -2**20), min(i.max, 2**20) + 1, (3, 5, 7), dtype=dt)
    s = rs(rng)
    z = 0 if dt == np.int32 else int(rng.integers(max(i.min, -100), min(i.max, 100) + 1))
    got = lowp.dequantize_linear(x, s, np.array(z, dt))
    assert got.dtype == f32
    np.testing.assert_array_equal(got, (x.astype(np.int64) - z).astype(f32) * s)
    sv = np.exp(rng.uniform(-3, 1, 7)).astype(f32)
    got = lowp.dequantize_linear(x, sv, None, axis=-1)
    np.testing.assert_array_equal(got, x.astype(f32) * sv)


def test_dynamic_quantize_roundtrip():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((5, 9)) * 3).astype(f32)
    y, s, z = lowp.dynamic_quantize_linear(x)
    assert y.dtype == np.uint8 and s.dtype == f32 and z.dtype == np.uint8
    assert s == f32((max(0, x.max()) - min(0, x.min())) / f32(255))
    np.testing.assert_array_equal(y, lowp.quantize_linear(x, s, z))
    assert np.max(np.abs(lowp.dequantize_linear(y, s, z) - x)) <= s * 1.0001


# --------------------------------------------------------------------------- binary ops
def ref_add_ort(a, b, sa, za, sb, zb, sc, zc, dt, sub=False):
    """Independent float32 re-derivation of onnxruntime's SSE2 QLinearAdd per span variant."""
    a64, b64 = np.broadcast_arrays(a.astype(np.int64), b.astype(np.int64))
    shape = a64.shape
    # innermost output axis of size > 1 decides the variant
    kind = "scalarA"
    for d in range(len(shape) - 1, -1, -1):
        if shape[d] == 1:
            continue
        va, vb = a.shape[d - len(shape)] != 1 if a.ndim >= len(shape) - d else False, \
            b.shape[d - len(shape)] != 1 if b.ndim >= len(shape) - d else False
        if va and vb:
            kind = "both"
        elif va:
            kind = "scalarB"
        elif vb:
            kind = "scalarA"
        else:
            continue
        break
    if kind == "scalarA":
        a64, b64, sa, za, sb, zb = b64, a64, sb, zb, sa, za
        neg_a, neg_b = (sub, False)
    else:
        neg_a, neg_b = (False, sub)
    rA = f32(f32(sa) / f32(sc)) * f32(-1 if neg_a else 1)
    rB = f32(f32(sb) / f32(sc)) * f32(-1 if neg_b else 1)
    fixed = f32(f32(zc) - f32(f32(rA * f32(za)) + f32(rB * f32(zb))))
    A, B = a64.astype(f32), b64.astype(f32)
    v = (fixed + (B * rB).astype(f32)).astype(f32) + (A * rA).astype(f32)
    v = v.astype(f32)
    r = np.where(np.abs(v) < 2**31, np.rint(v), -2**31).astype(np.int64)
    i = np.iinfo(dt)
    return np.clip(r, i.min, i.max)


def ref_mul_ort(a, b, sa, za, sb, zb, sc, zc, dt):
    ratio = f32(f32(f32(sa) * f32(sb)) / f32(sc))
    prod = (a.astype(np.int64) - za) * (b.astype(np.int64) - zb)
    v = (prod.astype(f32) * ratio).astype(f32) + f32(zc)
    v = v.astype(f32)
    r = np.where(np.abs(v) < 2**31, np.rint(v), -2**31).astype(np.int64)
    i = np.iinfo(dt)
    return np.clip(r, i.min, i.max)


SHAPES = [((3, 4, 5), (3, 4, 5)), ((3, 4, 5), (4, 1)), ((5,), ()), ((), (2, 3)), ((2, 1, 7), (1, 3, 1)),
          ((1,), (1,)), ((6, 1), (1, 1))]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shapes", SHAPES)
def test_add_sub_mul_half_even_ref(dt, shapes):
    rng = np.random.default_rng(3)
    for _ in range(6):
        a, b = rq(rng, dt, shapes[0]), rq(rng, dt, shapes[1])
        sa, sb, sc = rs(rng), rs(rng), rs(rng, -7, 0)
        za, zb, zc = rzp(rng, dt), rzp(rng, dt), rzp(rng, dt)
        args = (a, sa, np.array(za, dt), b, sb, np.array(zb, dt), sc, np.array(zc, dt))
        np.testing.assert_array_equal(lowp.qlinear_add(*args).astype(np.int64),
                                      ref_add_ort(a, b, sa, za, sb, zb, sc, zc, dt))
        np.testing.assert_array_equal(lowp.qlinear_sub(*args).astype(np.int64),
                                      ref_add_ort(a, b, sa, za, sb, zb, sc, zc, dt, sub=True))
        np.testing.assert_array_equal(lowp.qlinear_mul(*args).astype(np.int64),
                                      ref_mul_ort(a, b, sa, za, sb, zb, sc, zc, dt))


def ref_avg_pool_ort_s8_as_u8(x, xs, xz, ys, yz, k, s, p, cip):
    """onnxruntime's QLinearAveragePool on an int8 QDQ model after its s8->u8 rewrite: the uint8 op on
    x + 128 with both zero points + 128 (ref_avg_pool_ort's float32 arithmetic), shifted back."""
    xu = (x.astype(np.int64) + 128).astype(np.uint8)
    return ref_avg_pool_ort(xu, xs, xz + 128, ys, yz + 128, k, s, p, cip, np.uint8) - 128


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("k,s,p,cip", [((2, 2), (2, 2), (0, 0, 0, 0), 1), ((3, 3), (2, 2), (1, 1, 1, 1), 0),
                                       ((2, 4), (1, 3), (0, 2, 1, 1), 1), ((4, 4), (4, 4), (0, 0, 0, 0), 0)])
def test_average_pool_s8_as_u8_ref(layout, k, s, p, cip):
    rng = np.random.default_rng(18)
    differ = 0
    for trial in range(6):
        x = rq(rng, np.int8, (2, 3, 9, 10))
        xs, xz, yz = rs(rng, -4, 0), int(rng.integers(-30, 31)), int(rng.integers(-30, 31))
        ys = xs if trial % 2 else f32(xs * rng.uniform(0.3, 1.5))  # same scale: averages on .5 ties
        xin = x if layout == "NCHW" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        y = lowp.qlinear_average_pool(xin, xs, np.int8(xz), ys, np.int8(yz), k, strides=s, pads=p,
                                      count_include_pad=cip, layout=layout, s8_as_u8=True)
        plain = lowp.qlinear_average_pool(xin, xs, np.int8(xz), ys, np.int8(yz), k, strides=s, pads=p,
                                          count_include_pad=cip, layout=layout)
        if layout == "NHWC":
            y, plain = y.transpose(0, 3, 1, 2), plain.transpose(0, 3, 1, 2)
        assert y.dtype == np.int8
        np.testing.assert_array_equal(y.astype(np.int64), ref_avg_pool_ort_s8_as_u8(x, xs, xz, ys, yz, k, s, p, cip))
        differ += int(np.count_nonzero(y != plain))
    if k == (2, 2):
        assert differ > 0  # the two arithmetics do differ on these inputs (this test can fail)


def ref_avg_pool_ort_float(x, xs, xz, ys, yz, k, s, p, cip, dt, order):
    """float32 re-derivation of onnxruntime's DQ -> MLAS float AveragePool -> QuantizeLinear chain:
    float(x - zp) * scale, the window summed in the MLAS kernel's order ("rows": row by row; "columns":
    each column down its rows, then the columns left to right; "lanes4": 4 running sums over the
    flattened whole plane, (s0 + s2) + (s1 + s3), then the tail), divided by the count, then
    rne(avg / y_scale) clamped + y_zp."""
    N, C, H, W = x.shape
    oh = (H + p[0] + p[2] - k[0]) // s[0] + 1
    ow = (W + p[1] + p[3] - k[1]) // s[1] + 1
    deq = ((x.astype(np.int64) - xz).astype(f32) * f32(xs)).astype(f32)
    y = np.empty((N, C, oh, ow), np.int64)
    i_ = np.iinfo(dt)
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * s[0] - p[0], j * s[1] - p[1]
            h1, w1 = min(h0 + k[0], H), min(w0 + k[1], W)
            h0, w0 = max(h0, 0), max(w0, 0)
            acc = np.zeros((N, C), f32)
            if order == "rows":
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        acc = (acc + deq[:, :, h, w]).astype(f32)
            elif order == "columns":
                for w in range(w0, w1):
                    col = np.zeros((N, C), f32)
                    for h in range(h0, h1):
                        col = (col + deq[:, :, h, w]).astype(f32)
                    acc = (acc + col).astype(f32)
            else:
                flat = deq[:, :, h0:h1, w0:w1].reshape(N, C, -1)
                n4 = flat.shape[2] // 4 * 4
                lanes = np.zeros((N, C, 4), f32)
                for q in range(0, n4, 4):
                    lanes = (lanes + flat[:, :, q:q + 4]).astype(f32)
                acc = ((lanes[..., 0] + lanes[..., 2]).astype(f32) + (lanes[..., 1] + lanes[..., 3]).astype(f32))
                acc = acc.astype(f32)
                for q in range(n4, flat.shape[2]):
                    acc = (acc + flat[:, :, q]).astype(f32)
            cnt = k[0] * k[1] if cip else (h1 - h0) * (w1 - w0)
            v = ((acc / f32(cnt)).astype(f32) / f32(ys)).astype(f32)
            v = np.clip(v, f32(i_.min - yz), f32(i_.max - yz))
            y[:, :, i, j] = np.rint(v).astype(np.int64) + yz
    return y


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("k,s,p,cip,orders", [((2, 2), (2, 2), (0, 0, 0, 0), 1, ("rows", "columns")),
                                              ((3, 3), (1, 1), (1, 1, 1, 1), 0, ("rows", "columns")),
                                              ((2, 4), (1, 3), (0, 2, 1, 1), 1, ("rows", "columns")),
                                              ((9, 10), (1, 1), (0, 0, 0, 0), 0, ("rows", "columns", "lanes4"))])
def test_average_pool_ort_float_ref(dt, k, s, p, cip, orders):
    rng = np.random.default_rng(19)
    got = {o: [] for o in orders}
    for trial in range(6):
        x = rq(rng, dt, (2, 3, 9, 10))
        xs, xz, yz = f32(0.1) if trial < 2 else rs(rng, -4, 0), rzp(rng, dt), rzp(rng, dt)
        ys = xs if trial % 2 else f32(xs * rng.uniform(0.3, 1.5))  # same scale: averages on .5 ties
        for layout in ("NCHW", "NHWC"):
            xin = x if layout == "NCHW" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))
            for o in orders:
                y = lowp.qlinear_average_pool(xin, xs, dt(xz), ys, dt(yz), k, strides=s, pads=p, count_include_pad=cip,
                                              layout=layout, ort_float=o)
                if layout == "NHWC":
                    y = y.transpose(0, 3, 1, 2)
                np.testing.assert_array_equal(y.astype(np.int64),
                                              ref_avg_pool_ort_float(x, xs, xz, ys, yz, k, s, p, cip, dt, o))
                got[o].append(y)
    # the orders are really different arithmetics on these inputs (each reference check can fail);
    # (a 90-value whole-plane mean rarely lands on a tie)
    if k in ((2, 2), (3, 3)):
        for o in orders[1:]:
            assert any(not np.array_equal(a, b) for a, b in zip(got[orders[0]], got[o])), o


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(2, 16, 7, 7), (1, 40, 4, 4), (3, 5, 1, 6), (2, 24, 3, 5), (8, 64, 2, 2)])
def test_global_average_pool_ort_float_lanes4_channels_last(dt, shape):
    """The whole-plane "lanes4" order on NHWC input (the channels-in-the-inner-loop pass of ops/pool.cc)
    against the float32 reference, for planes of 4k, 4k+1, 4k+2 and 4k+3 pixels, on NCHW input as well.
    On 2x2 planes with y_scale = x_scale a quarter of the means are .5 ties that the float32 rounding of
    the sums decides, so another association of the four lanes gives other bits (asserted below)."""
    rng = np.random.default_rng(23)
    N, C, H, W = shape
    rows_differ = False
    for trial in range(6):
        x = rq(rng, dt, shape)
        xs, xz, yz = rs(rng, -4, 0), rzp(rng, dt), rzp(rng, dt)
        ys = xs if trial % 2 else f32(xs * rng.uniform(0.3, 1.5))
        want = ref_avg_pool_ort_float(x, xs, xz, ys, yz, (H, W), (1, 1), (0, 0, 0, 0), 0, dt, "lanes4")
        y_nhwc = lowp.qlinear_average_pool(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), xs, dt(xz), ys, dt(yz),
                                           (H, W), layout="NHWC", ort_float="lanes4")
        np.testing.assert_array_equal(y_nhwc.transpose(0, 3, 1, 2).astype(np.int64), want)
        y_nchw = lowp.qlinear_average_pool(x, xs, dt(xz), ys, dt(yz), (H, W), ort_float="lanes4")
        np.testing.assert_array_equal(y_nchw.astype(np.int64), want)
        rows = ref_avg_pool_ort_float(x, xs, xz, ys, yz, (H, W), (1, 1), (0, 0, 0, 0), 0, dt, "rows")
        rows_differ |= not np.array_equal(rows, want)
    if shape[2:] == (2, 2):
        assert rows_differ  # the summation order matters on these inputs: this test can fail


def test_ort_float_pool_order():
    blk = lowp._lowp.ort_nchwc_block_size()
    assert blk in (0, 8, 16)
    order = lowp.ops.eltwise.ort_float_pool_order
    assert order(5, [7, 9], [3, 3], [1, 1], [1, 1], [1, 1]) == "columns"  # MLAS vector kernel
    assert order(5, [7, 9], [3, 3], [3, 3], [1, 1], [1, 1]) == "rows"  # stride 3: generic kernel
    assert order(5, [7, 9], [7, 9], [1, 1], [0, 0], [0, 0]) == "lanes4"  # global kernel
    assert order(5, [7, 9], [7, 9], [2, 2], [0, 0], [0, 0]) == "columns"  # whole window, stride 2
    assert order(5, [1, 9], [1, 3], [1, 2], [0, 0], [0, 0], one_d=True) == "rows"  # 1-D: no vector kernel
    assert order(5, [5000, 3000], [3, 3], [1, 1], [1, 1], [1, 1]) == "rows"  # row beyond the buffer
    if blk:
        assert order(2 * blk, [7, 9], [3, 3], [1, 1], [1, 1], [1, 1]) == "rows"  # NCHWc
        assert order(2 * blk, [7, 9], [7, 9], [1, 1], [0, 0], [0, 0]) == "rows"


def test_average_pool_ort_float_bad_input():
    x = np.zeros((1, 1, 4, 4), np.int8)
    with pytest.raises(ValueError, match="ort_float"):
        lowp.qlinear_average_pool(x, 0.1, np.int8(0), 0.1, np.int8(0), (2, 2), ort_float="diagonal")
    with pytest.raises(ValueError, match="ort_float"):
        lowp.qlinear_average_pool(x, 0.1, np.int8(0), 0.1, np.int8(0), (2, 2), ort_float="rows", s8_as_u8=True)
    with pytest.raises(ValueError, match="4-lane"):  # the global order needs the whole-plane window
        lowp.qlinear_average_pool(x, 0.1, np.int8(0), 0.1, np.int8(0), (2, 2), ort_float="lanes4")


def test_average_pool_s8_as_u8_bad_input():
    x = np.zeros((1, 1, 4, 4), np.uint8)
    with pytest.raises(ValueError, match="s8_as_u8"):
        lowp.qlinear_average_pool(x, 0.1, np.uint8(0), 0.1, np.uint8(0), (2, 2), s8_as_u8=True)
    with pytest.raises(ValueError, match="s8_as_u8"):
        lowp.qlinear_average_pool(x.view(np.int8), 0.1, np.int8(0), 0.1, np.int8(0), (2, 2), s8_as_u8=True,
                                  rounding="gemmlowp")


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("rounding", ["gemmlowp", "single"])
@pytest.mark.parametrize("shapes", SHAPES[:5])
def test_add_sub_mul_tflite_ref(dt, rounding, shapes):
    rng = np.random.default_rng(4)
    single = rounding == "single"
    for trial in range(8):
        a, b = rq(rng, dt, shapes[0]), rq(rng, dt, shapes[1])
        sa, sb = rs(rng, -6, 0), rs(rng, -6, 0)
        sc = rs(rng, -6, 1) if trial else f32(sa * 2)
        za, zb, zc = rzp(rng, dt), rzp(rng, dt), rzp(rng, dt)
        qmin, qmax = (None, None) if trial % 2 else (zc, np.iinfo(dt).max)  # fused ReLU on odd trials off
        args = (a, sa, np.array(za, dt), b, sb, np.array(zb, dt), sc, np.array(zc, dt))
        kw = dict(rounding=rounding, qmin=qmin, qmax=qmax)
        np.testing.assert_array_equal(lowp.qlinear_add(*args, **kw),
                                      tfl.add(a, b, sa, za, sb, zb, sc, zc, single, qmin=qmin, qmax=qmax))
        np.testing.assert_array_equal(lowp.qlinear_sub(*args, **kw),
                                      tfl.add(a, b, sa, za, sb, zb, sc, zc, single, sub=True, qmin=qmin, qmax=qmax))
        np.testing.assert_array_equal(lowp.qlinear_mul(*args, **kw),
                                      tfl.mul(a, b, sa, za, sb, zb, sc, zc, single, qmin=qmin, qmax=qmax))


@pytest.mark.parametrize("dt", DTYPES)
def test_binary_all_pairs_tflite(dt):
    # every (a, b) value pair with fixed scales, both TFLite roundings
    a = np.arange(256, dtype=np.uint8).view(dt).reshape(256, 1)
    b = np.arange(256, dtype=np.uint8).view(dt).reshape(1, 256)
    for sa, sb, sc in [(0.02, 0.03, 0.05), (0.5, 0.25, 0.125), (0.001, 0.1, 0.07)]:
        for rounding in ("gemmlowp", "single"):
            single = rounding == "single"
            args = (a, f32(sa), dt(3), b, f32(sb), dt(-7 if dt == np.int8 else 200), f32(sc), dt(5))
            np.testing.assert_array_equal(lowp.qlinear_add(*args, rounding=rounding),
                                          tfl.add(a, b, sa, 3, sb, int(args[5]), sc, 5, single))
            np.testing.assert_array_equal(lowp.qlinear_mul(*args, rounding=rounding),
                                          tfl.mul(a, b, sa, 3, sb, int(args[5]), sc, 5, single))


def test_binary_noncontiguous_inputs():
    rng = np.random.default_rng(5)
    a = rq(rng, np.uint8, (6, 8, 10))[:, ::2, 1::3]
    b = rq(rng, np.uint8, (9, 6)).T[:, None, ::3]
    want = lowp.qlinear_add(np.ascontiguousarray(a), 0.1, np.uint8(3), np.ascontiguousarray(b), 0.2, np.uint8(9),
                            0.25, np.uint8(100))
    np.testing.assert_array_equal(lowp.qlinear_add(a, 0.1, np.uint8(3), b, 0.2, np.uint8(9), 0.25, np.uint8(100)),
                                  want)


# --------------------------------------------------------------------------- pooling
def ref_max_pool(x, k, s, d, pt, pl, oh, ow):
    N, C, H, W = x.shape
    y = np.empty((N, C, oh, ow), x.dtype)
    for i in range(oh):
        for j in range(ow):
            hs = [i * s[0] - pt + a * d[0] for a in range(k[0])]
            ws = [j * s[1] - pl + b * d[1] for b in range(k[1])]
            hs = [h for h in hs if 0 <= h < H]
            ws = [w for w in ws if 0 <= w < W]
            y[:, :, i, j] = x[:, :, hs][:, :, :, ws].max(axis=(2, 3))
    return y


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("k,s,d,p", [((3, 3), (1, 1), (1, 1), (1, 1, 1, 1)), ((2, 2), (2, 2), (1, 1), (0, 0, 0, 0)),
                                     ((3, 2), (2, 3), (2, 1), (2, 0, 1, 1)), ((1, 1), (1, 1), (1, 1), (0, 0, 0, 0)),
                                     ((5, 4), (3, 1), (1, 2), (1, 2, 0, 1))])
def test_max_pool_ref(dt, k, s, d, p):
    rng = np.random.default_rng(6)
    x = rq(rng, dt, (2, 3, 11, 10))
    y = lowp.max_pool(x, k, strides=s, dilations=d, pads=p)
    H, W = x.shape[2:]
    oh = (H + p[0] + p[2] - (d[0] * (k[0] - 1) + 1)) // s[0] + 1
    ow = (W + p[1] + p[3] - (d[1] * (k[1] - 1) + 1)) // s[1] + 1
    np.testing.assert_array_equal(y, ref_max_pool(x, k, s, d, p[0], p[1], oh, ow))
    y2 = lowp.max_pool(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), k, strides=s, dilations=d, pads=p, layout="NHWC")
    np.testing.assert_array_equal(y2, y.transpose(0, 2, 3, 1))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("k,s,d,p", [((3, 3), (2, 2), (1, 1), (1, 1, 1, 1)), ((3, 2), (2, 3), (2, 1), (2, 0, 1, 1))])
def test_max_pool_channels_last_fast_path(dt, k, s, d, p):
    """Channels-last kernel (channel stride 1): many channels, contiguous and a channel-sliced view."""
    rng = np.random.default_rng(16)
    wide = rq(rng, dt, (2, 13, 12, 80))
    for x in (np.ascontiguousarray(wide[..., :67]), wide[..., 5:72]):
        y = lowp.max_pool(x, k, strides=s, dilations=d, pads=p, layout="NHWC")
        H, W = x.shape[1:3]
        oh = (H + p[0] + p[2] - (d[0] * (k[0] - 1) + 1)) // s[0] + 1
        ow = (W + p[1] + p[3] - (d[1] * (k[1] - 1) + 1)) // s[1] + 1
        ref = ref_max_pool(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), k, s, d, p[0], p[1], oh, ow)
        np.testing.assert_array_equal(y, ref.transpose(0, 2, 3, 1))
        from lowp import _lowp
        _lowp._set_eltwise_simd(False)  # the portable channels-last loop (AVX2 kernel off)
        try:
            y_ref = lowp.max_pool(x, k, strides=s, dilations=d, pads=p, layout="NHWC")
        finally:
            _lowp._set_eltwise_simd(True)
        np.testing.assert_array_equal(y_ref, y)


def test_max_pool_1d():
    rng = np.random.default_rng(7)
    x = rq(rng, np.int8, (2, 3, 17))
    y = lowp.max_pool(x, [3], strides=[2], pads=[1, 1])
    ref = ref_max_pool(x[:, :, None, :], (1, 3), (1, 2), (1, 1), 0, 1, 1, 9)[:, :, 0, :]
    np.testing.assert_array_equal(y, ref)


def ref_avg_pool_ort(x, xs, xz, ys, yz, k, s, p, cip, dt):
    """float32 re-derivation of onnxruntime's QLinearAveragePool (not the global fallback)."""
    N, C, H, W = x.shape
    oh = (H + p[0] + p[2] - k[0]) // s[0] + 1
    ow = (W + p[1] + p[3] - k[1]) // s[1] + 1
    deq = (f32(xs) * (x.astype(np.int64) - xz).astype(f32)).astype(f32)
    y = np.empty((N, C, oh, ow), np.int64)
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * s[0] - p[0], j * s[1] - p[1]
            h1, w1 = min(h0 + k[0], H), min(w0 + k[1], W)
            h0, w0 = max(h0, 0), max(w0, 0)
            acc = np.zeros((N, C), f32)
            for h in range(h0, h1):
                for w in range(w0, w1):
                    acc = (acc + deq[:, :, h, w]).astype(f32)
            cnt = k[0] * k[1] if cip else (h1 - h0) * (w1 - w0)
            avg = (acc / f32(cnt)).astype(f32)
            v = ((avg / f32(ys)).astype(f32) + f32(yz)).astype(f32)
            y[:, :, i, j] = np.rint(v)
    i_ = np.iinfo(dt)
    return np.clip(y, i_.min, i_.max)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("k,s,p,cip", [((3, 3), (1, 1), (1, 1, 1, 1), 0), ((3, 3), (2, 2), (1, 1, 1, 1), 1),
                                       ((2, 4), (1, 3), (0, 2, 1, 1), 0), ((4, 4), (4, 4), (0, 0, 0, 0), 0)])
def test_average_pool_half_even_ref(dt, k, s, p, cip):
    rng = np.random.default_rng(8)
    x = rq(rng, dt, (2, 3, 9, 10))
    xs, xz, yz = rs(rng, -4, 0), rzp(rng, dt), rzp(rng, dt)
    ys = f32(xs * rng.uniform(0.3, 1.5))
    y = lowp.qlinear_average_pool(x, xs, dt(xz), ys, dt(yz), k, strides=s, pads=p, count_include_pad=cip)
    np.testing.assert_array_equal(y.astype(np.int64), ref_avg_pool_ort(x, xs, xz, ys, yz, k, s, p, cip, dt))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("rounding", ["gemmlowp", "single"])
@pytest.mark.parametrize("k,s,pads", [((3, 3), (1, 1), (1, 1, 1, 1)), ((2, 2), (2, 2), (0, 0, 0, 0)),
                                      ((3, 5), (2, 1), (1, 2, 1, 2)), ((7, 7), (1, 1), (0, 0, 0, 0))])
def test_average_pool_tflite_ref(dt, rounding, k, s, pads):
    rng = np.random.default_rng(9)
    x = rq(rng, dt, (2, 7, 7, 5))  # NHWC
    sc, zp = rs(rng), rzp(rng, dt)
    y = lowp.qlinear_average_pool(x, sc, dt(zp), sc, dt(zp), k, strides=s, pads=pads, layout="NHWC",
                                  rounding=rounding)
    oh = (7 + pads[0] + pads[2] - k[0]) // s[0] + 1
    ow = (7 + pads[1] + pads[3] - k[1]) // s[1] + 1
    np.testing.assert_array_equal(y, tfl.average_pool_nhwc(x, k[0], k[1], s[0], s[1], pads[0], pads[1], oh, ow))


def test_global_average_pool_ref():
    rng = np.random.default_rng(10)
    for dt in DTYPES:
        x = rq(rng, dt, (2, 4, 6, 5))
        xs, xz, yz = rs(rng, -4, 0), rzp(rng, dt), rzp(rng, dt)
        ys = f32(xs * 0.7)
        y = lowp.qlinear_global_average_pool(x, xs, dt(xz), ys, dt(yz))
        acc = x.astype(np.int64).sum(axis=(2, 3)) - xz * 30
        scale = f32(f32(xs) / f32(f32(ys) * f32(30)))
        v = np.clip((acc.astype(f32) * scale).astype(f32), np.iinfo(dt).min - yz, np.iinfo(dt).max - yz)
        np.testing.assert_array_equal(y.reshape(2, 4), np.rint(v).astype(np.int64) + yz)
        yt = lowp.qlinear_global_average_pool(x, xs, dt(xz), xs, dt(xz), rounding="gemmlowp")
        ref = tfl.average_pool_nhwc(x.transpose(0, 2, 3, 1), 6, 5, 1, 1, 0, 0, 1, 1)
        np.testing.assert_array_equal(yt.reshape(2, 4), ref.reshape(2, 4))


def test_global_average_pool_channels_last_fast_path():
    """NHWC (channel stride 1) global pool: one pass with per-channel int32 sums, same MLAS arithmetic."""
    rng = np.random.default_rng(17)
    for dt in DTYPES:
        x = rq(rng, dt, (3, 7, 9, 45))
        xs, xz, yz = rs(rng, -4, 0), rzp(rng, dt), rzp(rng, dt)
        ys = f32(xs * 0.6)
        y = lowp.qlinear_global_average_pool(x, xs, dt(xz), ys, dt(yz), layout="NHWC")
        acc = x.astype(np.int64).sum(axis=(1, 2)) - xz * 63
        scale = f32(f32(xs) / f32(f32(ys) * f32(63)))
        v = np.clip((acc.astype(f32) * scale).astype(f32), np.iinfo(dt).min - yz, np.iinfo(dt).max - yz)
        np.testing.assert_array_equal(y.reshape(3, 45), np.rint(v).astype(np.int64) + yz)
        yc = lowp.qlinear_global_average_pool(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), xs, dt(xz), ys, dt(yz))
        np.testing.assert_array_equal(yc.reshape(3, 45), y.reshape(3, 45))


# --------------------------------------------------------------------------- LUT, softmax, concat, data movement
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", sorted(lowp.LUT_FUNCTIONS))
def test_lut_ops_ref(dt, name):
    rng = np.random.default_rng(11)
    x = rq(rng, dt, (3, 50))
    xs, xz, ys, yz = rs(rng, -4, -1), rzp(rng, dt), rs(rng, -7, -2), rzp(rng, dt)
    fn = getattr(lowp, f"qlinear_{name}")
    y = fn(x, xs, dt(xz), ys, dt(yz))
    # independent float64 evaluation; lowp's float32 table may differ by one step only where
    # the float64 value sits within float32 noise of a rounding boundary
    v = xs * (x.astype(np.float64) - xz)
    ref_f = {"sigmoid": lambda t: 1 / (1 + np.exp(-t)), "tanh": np.tanh,
             "hard_sigmoid": lambda t: np.clip(0.2 * t + 0.5, 0, 1), "hard_swish": lambda t: t * np.clip(t / 6 + .5, 0, 1),
             "silu": lambda t: t / (1 + np.exp(-t)), "gelu": lambda t: 0.5 * t * (1 + np.vectorize(__import__("math").erf)(t / np.sqrt(2))),
             "leaky_relu": lambda t: np.where(t >= 0, t, 0.01 * t), "elu": lambda t: np.where(t >= 0, t, np.expm1(np.minimum(t, 0))),
             "exp": np.exp}[name](v)
    q = np.clip(np.rint(ref_f / ys) + yz, np.iinfo(dt).min, np.iinfo(dt).max)
    diff = np.abs(y.astype(np.int64) - q)
    assert diff.max() <= 1
    assert np.mean(diff) < 0.02
    # the LUT kernel itself is exact: y == table[x]
    table = getattr(lowp, f"{name}_table")(xs, dt(xz), ys, dt(yz), x_dtype=dt)
    np.testing.assert_array_equal(y, table[x.view(np.uint8)])


def test_lookup_table_all_bytes():
    t = np.arange(256, dtype=np.uint8)[::-1].copy()
    x = np.arange(256, dtype=np.uint8).view(np.int8).reshape(16, 16)
    np.testing.assert_array_equal(lowp.lookup_table(x, t), t[x.view(np.uint8)])


def test_tflite_table_rounding():
    # TFLite LUTPopulate rounds half away from zero on v * (1 / y_scale)
    t = lowp.build_lookup_table(lambda v: v, 0.5, np.int8(0), 1.0, np.int8(0), x_dtype=np.int8, rounding="gemmlowp")
    x = np.arange(256, dtype=np.uint8).view(np.int8).astype(np.float64) * 0.5
    np.testing.assert_array_equal(t.astype(np.int64), np.clip(np.sign(x) * np.floor(np.abs(x) + 0.5), -128, 127))


def ref_softmax_ort(x, xs, ys, yz, dt):
    D = x.shape[-1]
    ratio = f32(np.finfo(f32).max) / f32(D)
    bs = max(0.0, float(np.log(np.float64(ratio))) - 5.0) / float(xs)
    tab = np.exp((np.arange(256) - 255 + bs) * float(xs)).astype(f32)
    out = np.empty(x.shape, np.int64)
    for r in range(x.shape[0]):
        row = x[r].astype(np.int64)
        vt = tab[255 - row.max() + row]
        vsum = f32(0)
        for v in vt:
            vsum = f32(vsum + v)
        q = np.rint(((vt * f32(np.floor(f32(1) / f32(ys)))).astype(f32) / vsum).astype(f32))
        out[r] = np.clip(np.minimum(q, 1e6).astype(np.int64) + yz, np.iinfo(dt).min, np.iinfo(dt).max)
    return out


@pytest.mark.parametrize("dt", DTYPES)
def test_softmax_ref(dt):
    rng = np.random.default_rng(12)
    for D in (3, 17, 100):
        x = rq(rng, dt, (4, D))
        xs = rs(rng, -4, 0)
        yz = 0 if dt == np.uint8 else -128
        y = lowp.qlinear_softmax(x, xs, dt(0), f32(1 / 256), dt(yz))
        np.testing.assert_array_equal(y.astype(np.int64), ref_softmax_ort(x, xs, f32(1 / 256), yz, dt))
        yf = lowp.qlinear_softmax(x, xs, dt(0), f32(1 / 256), dt(yz), output="float32")
        xi = x.astype(np.int64)
        true = np.exp(xs * (xi - xi.max(axis=1, keepdims=True)).astype(np.float64))
        np.testing.assert_allclose(yf, true / true.sum(axis=1, keepdims=True), rtol=2e-5, atol=1e-7)


def test_concat_copy_and_requant():
    rng = np.random.default_rng(13)
    a, b = rq(rng, np.uint8, (2, 3)), rq(rng, np.uint8, (2, 4))
    y = lowp.qlinear_concat([a, b], [0.1, 0.2], [np.uint8(10), np.uint8(5)], 0.1, np.uint8(10), axis=1)
    np.testing.assert_array_equal(y[:, :3], a)
    deq = f32(0.2) * (b.astype(f32) - 5)
    np.testing.assert_array_equal(y[:, 3:], np.clip(np.rint(deq / f32(0.1)) + 10, 0, 255))


def test_pad_transpose_reshape_resize():
    rng = np.random.default_rng(14)
    x = rq(rng, np.uint8, (1, 2, 3, 4))
    y = lowp.pad(x, [0, 0, 1, 2, 0, 0, 3, 1], constant_value=7)
    assert y.shape == (1, 2, 7, 7)
    assert np.all(y[:, :, :1] == 7) and np.all(y[:, :, 4:] == 7)
    np.testing.assert_array_equal(y[:, :, 1:4, 2:6], x)
    np.testing.assert_array_equal(lowp.pad(x, [0, 0, -1, 0, 0, 0, 0, -1]), x[:, :, 1:, :3])
    np.testing.assert_array_equal(lowp.transpose(x, [0, 2, 3, 1]), x.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(lowp.reshape(x, [0, -1]), x.reshape(1, 24))
    up = lowp.resize(x, scales=[1, 1, 2, 2], mode="nearest", coordinate_transformation_mode="asymmetric",
                     nearest_mode="floor")
    np.testing.assert_array_equal(up, x.repeat(2, axis=2).repeat(2, axis=3))
    same = lowp.resize(x, sizes=[1, 2, 3, 4], mode="linear")
    np.testing.assert_array_equal(same, x)


# --------------------------------------------------------------------------- bad input
def test_bad_inputs():
    a = np.zeros((2, 3), np.uint8)
    with pytest.raises(TypeError, match="same dtype"):
        lowp.qlinear_add(a, 1.0, 0, a.view(np.int8), 1.0, 0, 1.0, 0)
    with pytest.raises(ValueError, match="broadcast"):
        lowp.qlinear_add(a, 1.0, 0, np.zeros((4,), np.uint8), 1.0, 0, 1.0, 0)
    with pytest.raises(ValueError, match="rounding"):
        lowp.qlinear_mul(a, 1.0, 0, a, 1.0, 0, 1.0, 0, rounding="nope")
    with pytest.raises(ValueError, match="finite and > 0"):
        lowp.qlinear_add(a, -1.0, 0, a, 1.0, 0, 1.0, 0)
    with pytest.raises(ValueError, match="out of range"):
        lowp.qlinear_add(a, 1.0, 300, a, 1.0, 0, 1.0, 0)
    with pytest.raises(TypeError, match="uint8 or int8"):
        lowp.qlinear_add(a.astype(np.int32), 1.0, 0, a, 1.0, 0, 1.0, 0)
    with pytest.raises(TypeError, match="float"):
        lowp.quantize_linear(a, 1.0)
    with pytest.raises(ValueError, match="axis"):
        lowp.quantize_linear(np.zeros((2, 3), f32), np.ones(3, f32), axis=0)
    with pytest.raises(ValueError, match="kernel_shape"):
        lowp.max_pool(np.zeros((1, 1, 4, 4), np.uint8), [0, 2])
    with pytest.raises(ValueError, match="larger than"):
        lowp.max_pool(np.zeros((1, 1, 2, 2), np.uint8), [3, 3])
    with pytest.raises(ValueError, match="same scale"):
        lowp.qlinear_average_pool(np.zeros((1, 1, 4, 4), np.uint8), 1.0, 0, 2.0, 0, [2, 2], rounding="gemmlowp")
    with pytest.raises(ValueError, match="3-D or 4-D"):
        lowp.max_pool(np.zeros((4, 4), np.uint8), [2, 2])
    with pytest.raises(ValueError, match="256"):
        lowp.lookup_table(a, np.zeros(255, np.uint8))
    with pytest.raises(ValueError, match="layout"):
        lowp.max_pool(np.zeros((1, 1, 4, 4), np.uint8), [2, 2], layout="NCWH")
    with pytest.raises(ValueError, match="axis"):
        lowp.qlinear_softmax(a, 1.0, 0, 1 / 256, 0, axis=5)
    with pytest.raises(ValueError, match="one scale"):
        lowp.qlinear_concat([a, a], [1.0], [0, 0], 1.0, 0, axis=0)


@pytest.mark.parametrize("dt", DTYPES)
def test_reduce_mean_ref(dt):
    rng = np.random.default_rng(15)
    x = rq(rng, dt, (2, 5, 6, 7))
    xs, xz, yz = rs(rng, -4, 0), rzp(rng, dt), rzp(rng, dt)
    ys = f32(xs * 0.8)
    for axes, keep in [((2, 3), 1), ((1,), 0), (None, 1), ((-1, 0), 0)]:
        ax = tuple(range(4)) if axes is None else tuple(a % 4 for a in axes)
        cnt = int(np.prod([x.shape[a] for a in ax]))
        acc = x.astype(np.int64).sum(axis=ax, keepdims=bool(keep))
        y = lowp.qlinear_reduce_mean(x, xs, dt(xz), ys, dt(yz), axes=axes, keepdims=keep)
        scale = f32(f32(xs) / f32(f32(ys) * f32(cnt)))
        v = np.clip(((acc - xz * cnt).astype(f32) * scale).astype(f32), np.iinfo(dt).min - yz,
                    np.iinfo(dt).max - yz)
        np.testing.assert_array_equal(y, (np.rint(v) + yz).astype(dt))
        for rounding in ("gemmlowp", "single"):  # TFLite MEAN (LiteRT's reference; test_tflite checks LiteRT itself)
            yt = lowp.qlinear_reduce_mean(x, xs, dt(xz), ys, dt(yz), axes=axes, keepdims=keep, rounding=rounding)
            np.testing.assert_array_equal(yt, tfl.mean(x, ax, bool(keep), xs, xz, ys, yz, rounding == "single"))
        # the mean is close to the float mean of the dequantized values (at most 1 step)
        true = (xs * (x.astype(np.float64) - xz)).mean(axis=ax, keepdims=bool(keep)) / ys + yz
        assert np.max(np.abs(np.clip(true, np.iinfo(dt).min, np.iinfo(dt).max) - y)) <= 1.0 + 1e-6


def test_reduce_mean_matches_global_average_pool():
    rng = np.random.default_rng(16)
    for dt in DTYPES:
        x = rq(rng, dt, (3, 4, 5, 6))
        args = (x, f32(0.05), dt(3), f32(0.03), dt(-2 if dt == np.int8 else 9))
        np.testing.assert_array_equal(lowp.qlinear_reduce_mean(*args, axes=(2, 3)),
                                      lowp.qlinear_global_average_pool(*args))


@pytest.mark.parametrize("dt", DTYPES)
def test_simd_rows_match_scalar_reference(dt):
    """The vectorised half_even row kernels against the scalar reference kernels (every value
    pair, row lengths around the vector width, all span kinds)."""
    from lowp import _lowp
    rng = np.random.default_rng(17)
    cases = [((256, 1), (1, 256)), ((1, 256), (256, 1)), ((256, 256), (256, 256)), ((3, 7), (3, 7)),
             ((5, 17), (5, 1)), ((4, 33), (33,)), ((9,), (9,)), ((2, 47), (2, 47)), ((3, 16), (3, 1))]
    with pytest.raises(ValueError, match="not available"):
        _lowp._force_eltwise_kernel("nope")
    for sa, sb, sc in [(0.5, 0.25, 1.0), (1e-3, 2e-3, 1e-7), (0.0876729, 0.013228908, 0.0012737392)]:
        for sh in cases:
            if sh[0] == (256, 1):
                a = np.arange(256, dtype=np.uint8).view(dt).reshape(256, 1)
                b = a.reshape(1, 256).copy()
            elif sh[0] == (1, 256):
                b = np.arange(256, dtype=np.uint8).view(dt).reshape(256, 1)
                a = b.reshape(1, 256).copy()
            else:
                a, b = rq(rng, dt, sh[0]), rq(rng, dt, sh[1])
            args = (a, f32(sa), dt(rzp(rng, dt)), b, f32(sb), dt(rzp(rng, dt)), f32(sc), dt(rzp(rng, dt)))
            for fn in (lowp.qlinear_add, lowp.qlinear_sub, lowp.qlinear_mul):
                _lowp._set_eltwise_simd(False)
                try:
                    ref = fn(*args)
                finally:
                    _lowp._set_eltwise_simd(True)
                for kname in _lowp._eltwise_kernels():
                    _lowp._force_eltwise_kernel(kname)
                    try:
                        fast = fn(*args)
                    finally:
                        _lowp._force_eltwise_kernel("")
                    np.testing.assert_array_equal(fast, ref, err_msg=kname)


def test_lut_simd_matches_scalar():
    from lowp import _lowp
    rng = np.random.default_rng(18)
    t = rng.integers(0, 256, 256, dtype=np.uint8)
    for n in (0, 1, 63, 64, 65, 127, 128, 1000, 4099):
        x = rng.integers(0, 256, n, dtype=np.uint8)
        fast = lowp.lookup_table(x, t)
        _lowp._set_lut_simd(False)
        try:
            ref = lowp.lookup_table(x, t)
        finally:
            _lowp._set_lut_simd(True)
        np.testing.assert_array_equal(fast, t[x])
        np.testing.assert_array_equal(ref, t[x])


@pytest.mark.parametrize("dt", [np.uint8, np.int8, np.int16])
def test_quantize_simd_matches_scalar(dt):
    from lowp import _lowp
    rng = np.random.default_rng(19)
    x = (rng.standard_normal(1037) * 300).astype(f32)
    x[:8] = [np.nan, np.inf, -np.inf, 0.5, 1.5, -2.5, 3e9, -3e9]
    for s in (f32(0.37), f32(1.0), f32(1e-3)):
        z = np.array(3, dt)
        fast = lowp.quantize_linear(x, s, z)
        _lowp._set_eltwise_simd(False)
        try:
            ref = lowp.quantize_linear(x, s, z)
        finally:
            _lowp._set_eltwise_simd(True)
        np.testing.assert_array_equal(fast, ref)


@pytest.mark.parametrize("dt", DTYPES)
def test_requantize_linear_per_tensor_and_axis(dt):
    rng = np.random.default_rng(20)
    x = rq(rng, dt, (2, 5, 3, 4))
    i = np.iinfo(dt)
    # per tensor: the ONNX QDQ composition in float32
    xs, xz, ys, yz = rs(rng, -4, 0), rzp(rng, dt), rs(rng, -4, 0), rzp(rng, dt)
    want = lowp.quantize_linear(lowp.dequantize_linear(x, xs, np.array(xz, dt)), ys, np.array(yz, dt))
    np.testing.assert_array_equal(lowp.requantize_linear(x, xs, np.array(xz, dt), ys, np.array(yz, dt)), want)
    # per axis 1, mixed scalar / vector parameters
    xsv = np.exp(rng.uniform(-4, 0, 5)).astype(f32)
    xzv = rng.integers(i.min, i.max + 1, 5).astype(dt)
    ysv = np.exp(rng.uniform(-4, 0, 5)).astype(f32)
    got = lowp.requantize_linear(x, xsv, xzv, ysv, np.array(yz, dt), axis=1)
    deq = (xsv[None, :, None, None] * (x.astype(np.int64) - xzv.astype(np.int64)[None, :, None, None]).astype(f32))
    v = (deq.astype(f32) / ysv[None, :, None, None]).astype(f32)
    ref = np.clip(np.rint(np.clip(v, i.min - yz, i.max - yz)) + yz, i.min, i.max)
    np.testing.assert_array_equal(got, ref.astype(dt))
    with pytest.raises(ValueError, match="entries"):
        lowp.requantize_linear(x, np.ones(4, f32), 0, 1.0, 0, axis=1)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("rounding", ["gemmlowp", "single"])
def test_logistic_tflite_reference(dt, rounding):
    x = np.arange(256, dtype=np.uint8).view(dt)
    yz = dt(-128) if dt == np.int8 else dt(0)
    rng = np.random.default_rng(21)
    for xs in [f32(0.1), f32(0.0234), f32(1 / 16), f32(0.5), rs(rng, -5, -1), rs(rng, -5, -1)]:
        xz = rzp(rng, dt)
        got = lowp.qlinear_sigmoid(x, xs, dt(xz), f32(1 / 256), yz, rounding=rounding)
        want = tfl.logistic(x, xs, xz, single_rounding=rounding == "single")
        np.testing.assert_array_equal(got, want)
        # and it is a faithful logistic: within 1 step of the float function
        true = 1 / (1 + np.exp(-float(xs) * (x.astype(np.float64) - xz))) * 256 + int(yz)
        assert np.max(np.abs(got.astype(np.float64) - np.clip(true, np.iinfo(dt).min, np.iinfo(dt).max))) <= 1.0
    with pytest.raises(ValueError, match="1/256"):
        lowp.qlinear_sigmoid(x, 0.1, dt(0), 0.01, yz, rounding=rounding)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("rounding", ["gemmlowp", "single"])
def test_softmax_tflite_reference(dt, rounding):
    rng = np.random.default_rng(22)
    yz = dt(-128) if dt == np.int8 else dt(0)
    for D, xs, beta in [(10, f32(0.1), 1.0), (37, f32(0.02), 1.0), (5, f32(0.5), 2.0), (64, rs(rng, -6, 0), 0.7),
                        (1, f32(0.1), 1.0), (300, f32(1.0), 1.0)]:
        x = rq(rng, dt, (4, D))
        got = lowp.qlinear_softmax(x, xs, dt(0), f32(1 / 256), yz, rounding=rounding, beta=beta)
        np.testing.assert_array_equal(got, tfl.softmax(x, xs, beta, single_rounding=rounding == "single"))
        xi = x.astype(np.float64) * float(xs) * beta
        p = np.exp(xi - xi.max(axis=1, keepdims=True))
        p = p / p.sum(axis=1, keepdims=True) * 256 + int(yz)
        assert np.max(np.abs(got - np.clip(p, np.iinfo(dt).min, np.iinfo(dt).max))) <= 1.0
    x = rq(rng, dt, (2, 3, 5))
    np.testing.assert_array_equal(
        lowp.qlinear_softmax(x, 0.1, dt(0), 1 / 256, yz, axis=1, rounding=rounding),
        np.moveaxis(tfl.softmax(np.moveaxis(x, 1, -1), 0.1, 1.0, rounding == "single"), -1, 1))


def test_edge_shapes_and_views():
    rng = np.random.default_rng(23)
    x = rq(rng, np.uint8, (2, 3, 5, 6))
    xr = x[:, :, ::-1, ::-2]  # negative and non-unit strides
    xc = np.ascontiguousarray(xr)
    u8 = np.uint8
    np.testing.assert_array_equal(lowp.qlinear_add(xr, 0.1, u8(3), xr, 0.2, u8(4), 0.3, u8(5)),
                                  lowp.qlinear_add(xc, 0.1, u8(3), xc, 0.2, u8(4), 0.3, u8(5)))
    np.testing.assert_array_equal(lowp.max_pool(xr, [2, 2]), lowp.max_pool(xc, [2, 2]))
    np.testing.assert_array_equal(lowp.qlinear_average_pool(xr, 0.1, u8(3), 0.1, u8(3), [2, 2]),
                                  lowp.qlinear_average_pool(xc, 0.1, u8(3), 0.1, u8(3), [2, 2]))
    np.testing.assert_array_equal(lowp.qlinear_global_average_pool(xr, 0.1, u8(3), 0.2, u8(3)),
                                  lowp.qlinear_global_average_pool(xc, 0.1, u8(3), 0.2, u8(3)))
    e = np.zeros((0, 3, 4, 4), u8)
    assert lowp.qlinear_add(e, 0.1, u8(0), np.zeros((1, 3, 1, 1), u8), 0.1, u8(0), 0.1, u8(0)).shape == e.shape
    assert lowp.max_pool(e, [2, 2]).shape == (0, 3, 3, 3)
    assert lowp.qlinear_global_average_pool(e, 0.1, u8(0), 0.1, u8(0)).shape == (0, 3, 1, 1)
    assert lowp.quantize_linear(np.float32(2.5), 1.0, u8(0)).shape == ()
    assert lowp.quantize_linear(np.float32(2.5), 1.0, u8(0)) == 2
    assert lowp.dequantize_linear(np.uint8(3), 0.5, u8(1)) == 1.0
    with pytest.raises(ValueError, match="empty plane"):
        lowp.qlinear_global_average_pool(np.zeros((1, 3, 0, 4), u8), 0.1, u8(0), 0.1, u8(0))
    with pytest.raises(ValueError, match="8 dimensions"):
        lowp.qlinear_add(np.zeros((1,) * 9, u8), 0.1, 0, np.zeros((1,) * 9, u8), 0.1, 0, 0.1, 0)


def test_out_parameter():
    rng = np.random.default_rng(24)
    a, b = rq(rng, np.uint8, (3, 40)), rq(rng, np.uint8, (1, 40))
    args = (a, 0.1, np.uint8(3), b, 0.2, np.uint8(4), 0.3, np.uint8(5))
    o = np.empty((3, 40), np.uint8)
    r = lowp.qlinear_add(*args, out=o)
    assert r is o or np.shares_memory(r, o)
    np.testing.assert_array_equal(o, lowp.qlinear_add(*args))
    t = np.arange(256, dtype=np.uint8)[::-1].copy()
    o2 = np.empty_like(a)
    lowp.lookup_table(a, t, out=o2)
    np.testing.assert_array_equal(o2, t[a])
    with pytest.raises(ValueError, match="shape"):
        lowp.qlinear_mul(*args, out=np.empty((3, 41), np.uint8))
    with pytest.raises(ValueError, match="dtype"):
        lowp.qlinear_mul(*args, out=np.empty((3, 40), np.int8))
    with pytest.raises(ValueError, match="contiguous"):
        lowp.qlinear_mul(*args, out=np.empty((40, 3), np.uint8).T)
    with pytest.raises(TypeError, match="numpy array"):
        lowp.qlinear_mul(*args, out=[0] * 120)


def ref_resize_linear(x, OH, OW, sh, sw, ctm):
    """float32 re-derivation of onnxruntime's bilinear resize on 8-bit NCHW (truncating)."""
    def coords(n_out, n_in, scale):
        o = np.arange(n_out).astype(f32)
        s = f32(scale)
        if ctm == "half_pixel":
            c = ((o + f32(0.5)) / s).astype(f32) - f32(0.5)
        elif ctm == "asymmetric":
            c = (o / s).astype(f32)
        else:  # align_corners
            c = ((o * f32(n_in - 1)).astype(f32) / f32(n_out - 1)) if n_out > 1 else np.zeros(n_out, f32)
        c = np.maximum(f32(0), np.minimum(c.astype(f32), f32(n_in - 1)))
        i1 = np.minimum(c.astype(np.int64), n_in - 1)
        i2 = np.minimum(i1 + 1, n_in - 1)
        d1 = np.abs(c - i1.astype(f32)).astype(f32)
        d2 = np.abs(c - i2.astype(f32)).astype(f32)
        d1[i1 == i2] = f32(0.5)
        d2[i1 == i2] = f32(0.5)
        return i1, i2, d1, d2
    y1, y2, dy1, dy2 = coords(OH, x.shape[2], sh)
    x1, x2, dx1, dx2 = coords(OW, x.shape[3], sw)
    X = x.astype(f32)
    g = lambda r, c: X[:, :, r][:, :, :, c]  # noqa: E731
    DX1, DX2, DY1, DY2 = dx1[None, None, None], dx2[None, None, None], dy1[None, None, :, None], dy2[None, None, :, None]
    t = lambda a, b, c: ((a * b).astype(f32) * c).astype(f32)  # noqa: E731
    v = ((t(DX2, DY2, g(y1, x1)) + t(DX1, DY2, g(y1, x2))).astype(f32) + t(DX2, DY1, g(y2, x1))).astype(f32)
    v = (v + t(DX1, DY1, g(y2, x2))).astype(f32)
    return np.trunc(v).astype(x.dtype)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("ctm", ["half_pixel", "asymmetric", "align_corners"])
def test_resize_linear_ref(dt, ctm):
    rng = np.random.default_rng(25)
    x = rq(rng, dt, (2, 3, 6, 7))
    for sh, sw in [(2.0, 2.0), (1.5, 0.5), (3.0, 1.7)]:
        OH, OW = int(f32(sh) * f32(6)), int(f32(sw) * f32(7))
        got = lowp.resize(x, scales=[1, 1, sh, sw], mode="linear", coordinate_transformation_mode=ctm)
        np.testing.assert_array_equal(got, ref_resize_linear(x, OH, OW, sh, sw, ctm))


@pytest.mark.parametrize("dt", DTYPES)
def test_dequantize_simd_matches_scalar(dt):
    from lowp import _lowp
    rng = np.random.default_rng(26)
    x = rq(rng, dt, (3, 5, 37))
    sv = np.exp(rng.uniform(-4, 2, 5)).astype(f32)
    zv = rng.integers(np.iinfo(dt).min, np.iinfo(dt).max + 1, 5).astype(dt)
    fast = lowp.dequantize_linear(x, sv, zv, axis=1)
    _lowp._set_eltwise_simd(False)
    try:
        ref = lowp.dequantize_linear(x, sv, zv, axis=1)
    finally:
        _lowp._set_eltwise_simd(True)
    np.testing.assert_array_equal(fast, ref)
    want = (x.astype(np.int64) - zv.astype(np.int64)[None, :, None]).astype(f32) * sv[None, :, None]
    np.testing.assert_array_equal(fast, want)
