"""Conv / depthwise / ConvInteger against an independent numpy int64 reference, every GEMM and
depthwise kernel path, the three requantization families, and argument errors."""
import itertools
import zlib
import os
import sys

import numpy as np
import pytest

import lowp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import tflite_conv as tfl  # noqa: E402

GEMM_KERNELS = lowp.kernels()
DW_KERNELS = lowp.depthwise_kernels()


# --------------------------------------------------------------------------- numpy references
def ref_conv_acc(x, w, zx, zw, strides, dilations, pads, group):
    """int64 sum over taps of (x - zx)(w - zw) for NCHW x, (M, C/g, KH, KW) w; explicit pads
    (top, left, bottom, right) filled with zx."""
    N, C, H, W = x.shape
    M, Cg, KH, KW = w.shape
    pt, pl, pb, pr = pads
    xp = np.full((N, C, H + pt + pb, W + pl + pr), zx, np.int64)
    xp[:, :, pt:pt + H, pl:pl + W] = x
    xp -= zx
    wz = w.astype(np.int64) - np.asarray(zw, np.int64).reshape(-1, 1, 1, 1)
    sh, sw = strides
    dh, dw = dilations
    OH = (H + pt + pb - dh * (KH - 1) - 1) // sh + 1
    OW = (W + pl + pr - dw * (KW - 1) - 1) // sw + 1
    y = np.zeros((N, M, OH, OW), np.int64)
    OCg = M // group
    for g in range(group):
        for kh in range(KH):
            for kw in range(KW):
                patch = xp[:, g * Cg:(g + 1) * Cg, kh * dh:kh * dh + sh * (OH - 1) + 1:sh,
                           kw * dw:kw * dw + sw * (OW - 1) + 1:sw]
                y[:, g * OCg:(g + 1) * OCg] += np.einsum("nchw,oc->nohw", patch, wz[g * OCg:(g + 1) * OCg, :, kh, kw])
    return y


def wrap32(v):
    return (((np.asarray(v, np.int64) + 2**31) % 2**32) - 2**31).astype(np.int64)


def same_pads(in_hw, k, s, d, upper):
    begin, end = [], []
    for i in range(2):
        out = -(-in_hw[i] // s[i])
        total = max(0, (out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - in_hw[i])
        small = total // 2
        begin.append(small if upper else total - small)
        end.append(total - small if upper else small)
    return (begin[0], begin[1], end[0], end[1])


def ref_requant(acc, family, x_scale, w_scale, y_scale, zy, qmin, qmax, M):
    """acc: (N, M, OH, OW) int64 (already wrapped, bias included). Independent per-family math."""
    ws = np.broadcast_to(np.asarray(w_scale, np.float32).reshape(-1), (M,))
    if family == "half_even":
        scale = (np.float32(x_scale) * ws) / np.float32(y_scale)  # float32, onnxruntime's order
        f = acc.astype(np.float32) * scale.reshape(1, -1, 1, 1)
        f = np.clip(f, np.float32(qmin - zy), np.float32(qmax - zy))
        return np.rint(f).astype(np.int64) + zy
    mult, shift = tfl.multipliers(x_scale, ws, y_scale, M, family == "single")
    accT = np.moveaxis(acc, 1, -1)
    out = tfl.multiply_by_quantized_multiplier(accT, mult, shift, family == "single") + zy
    return np.moveaxis(np.clip(out, qmin, qmax), -1, 1)


# --------------------------------------------------------------------------- parameter grid
def make_cases():
    rng = np.random.default_rng(1234)
    cases = []
    kinds = ["dense", "group", "depthwise", "depthwise_mult"]
    pad_modes = ["explicit", "SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET0"]
    i = 0
    for k, s, d in itertools.product(range(1, 8), range(1, 4), range(1, 3)):
        kind = kinds[i % 4]
        pad = pad_modes[(i // 4 + i) % 5]
        layout = "NCHW" if i % 3 else "NHWC"
        i += 1
        kh, kw = k, max(1, k - (i % 2) * (k > 2))  # some non-square kernels
        H = int(rng.integers((kh - 1) * d + 1, (kh - 1) * d + 8))
        W = int(rng.integers((kw - 1) * d + 1, (kw - 1) * d + 9))
        if kind == "dense":
            group, cg, ocg = 1, int(rng.integers(1, 20)), int(rng.integers(1, 24))
        elif kind == "group":
            group, cg, ocg = int(rng.integers(2, 4)), int(rng.integers(1, 6)), int(rng.integers(1, 6))
        elif kind == "depthwise":
            group, cg, ocg = int(rng.choice([3, 16, 19, 33, 40])), 1, 1
        else:
            group, cg, ocg = int(rng.choice([2, 5, 17])), 1, int(rng.choice([2, 3]))
        N = 1 + (i % 2)
        cases.append(dict(N=N, H=H, W=W, group=group, cg=cg, ocg=ocg, k=(kh, kw), s=(s, s if i % 5 else max(1, s - 1)),
                          d=(d, d), pad=pad, layout=layout, pads=tuple(int(v) for v in rng.integers(0, 3, 4))))
    return cases


CASES = make_cases()


def case_id(c):
    return (f"{c['k'][0]}x{c['k'][1]}-s{c['s'][0]}{c['s'][1]}-d{c['d'][0]}-g{c['group']}c{c['cg']}o{c['ocg']}-"
            f"{c['pad']}-{c['layout']}-n{c['N']}")


def build(c, rng, xdt=np.uint8, wdt=np.int8, per_channel_zw=True):
    C = c["group"] * c["cg"]
    M = c["group"] * c["ocg"]
    lo, hi = (0, 256) if xdt == np.uint8 else (-128, 128)
    x = rng.integers(lo, hi, (c["N"], C, c["H"], c["W"])).astype(xdt)
    wlo, whi = (0, 256) if wdt == np.uint8 else (-128, 128)
    w = rng.integers(wlo, whi, (M, c["cg"]) + c["k"]).astype(wdt)
    zx = int(rng.integers(lo, hi))
    zw = rng.integers(wlo, whi, M).astype(wdt) if per_channel_zw else np.array(int(rng.integers(wlo, whi)), wdt)
    kw = dict(strides=c["s"], dilations=c["d"], group=c["group"])
    if c["pad"] == "explicit":
        kw["pads"] = c["pads"]
        pads = c["pads"]
    elif c["pad"] == "NOTSET0":
        pads = (0, 0, 0, 0)
    else:
        kw["auto_pad"] = c["pad"]
        if c["pad"] == "VALID":
            pads = (0, 0, 0, 0)
        else:
            pads = same_pads((c["H"], c["W"]), c["k"], c["s"], c["d"], c["pad"] == "SAME_UPPER")
    return x, w, zx, zw, kw, pads


def paths(c):
    return DW_KERNELS if c["cg"] == 1 and c["group"] > 1 else GEMM_KERNELS


def run_path(c, path, fn):
    if c["cg"] == 1 and c["group"] > 1:
        with lowp.use_depthwise_kernel(path):
            return fn()
    with lowp.use_kernel(path):
        return fn()


def to_layout(x, layout):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if layout == "NHWC" else x


def from_layout(y, layout):
    return y.transpose(0, 3, 1, 2) if layout == "NHWC" else y


# --------------------------------------------------------------------------- ConvInteger grid
@pytest.mark.parametrize("c", CASES, ids=case_id)
def test_conv_integer_grid_every_path(c):
    rng = np.random.default_rng(zlib.crc32(case_id(c).encode()))
    x, w, zx, zw, kw, pads = build(c, rng, per_channel_zw=bool(c["N"] % 2))
    expect = wrap32(ref_conv_acc(x, w, zx, zw, c["s"], c["d"], pads, c["group"]))
    for path in paths(c):
        y = run_path(c, path, lambda: lowp.conv_integer(to_layout(x, c["layout"]), w, zx, zw, layout=c["layout"], **kw))
        y = from_layout(y, c["layout"])
        assert y.dtype == np.int32
        assert y.shape == expect.shape, (path, y.shape, expect.shape)
        np.testing.assert_array_equal(y, expect, err_msg=f"path {path}")


# --------------------------------------------------------------------------- requantized grid
@pytest.mark.parametrize("family", ["half_even", "gemmlowp", "single"])
@pytest.mark.parametrize("types", [(np.uint8, np.int8), (np.int8, np.int8), (np.uint8, np.uint8)],
                         ids=["u8s8", "s8s8", "u8u8"])
def test_qlinear_conv_families(family, types):
    xdt, wdt = types
    rng = np.random.default_rng(7)
    for c in CASES[::5]:
        x, w, zx, zw, kw, pads = build(c, rng, xdt, wdt)
        M = w.shape[0]
        K = w[0].size
        bias = rng.integers(-5000, 5000, M).astype(np.int32)
        x_scale = np.float32(rng.uniform(0.005, 0.05))
        w_scale = rng.uniform(0.002, 0.02, M).astype(np.float32)
        y_scale = np.float32(x_scale * np.median(w_scale) * np.sqrt(K) * 40 * rng.uniform(0.5, 2))
        ydt = xdt
        lo, hi = (0, 255) if ydt == np.uint8 else (-128, 127)
        zy = ydt(rng.integers(lo, hi + 1))
        qmin, qmax = (int(zy), hi) if c["N"] == 2 else (lo, hi)  # fused ReLU on some
        acc = wrap32(ref_conv_acc(x, w, zx, zw, c["s"], c["d"], pads, c["group"]) + bias.reshape(1, -1, 1, 1))
        expect = ref_requant(acc, family, x_scale, w_scale, y_scale, int(zy), qmin, qmax, M)
        for path in paths(c):
            y = run_path(c, path, lambda: lowp.qlinear_conv(
                to_layout(x, c["layout"]), x_scale, xdt(zx), w, w_scale, zw, y_scale, zy, bias, layout=c["layout"],
                rounding=family, activation_min=qmin, activation_max=qmax, **kw))
            y = from_layout(y, c["layout"])
            assert y.dtype == ydt
            np.testing.assert_array_equal(y.astype(np.int64), expect, err_msg=f"{case_id(c)} path {path}")


# Wide accumulators and extreme multipliers: exercise the SIMD requantization edge cases.
@pytest.mark.parametrize("family", ["half_even", "gemmlowp", "single"])
def test_depthwise_requant_extremes(family):
    rng = np.random.default_rng(3)
    C = 70
    x = rng.choice(np.array([0, 255], np.uint8), (1, C, 6, 7))
    w = rng.choice(np.array([-128, 127], np.int8), (C, 1, 5, 5))
    bias = rng.integers(-2**20, 2**20, C).astype(np.int32)
    w_scale = np.exp(rng.uniform(np.log(1e-6), np.log(10.0), C)).astype(np.float32)
    acc = wrap32(ref_conv_acc(x, w, 128, 0, (1, 1), (1, 1), (2, 2, 2, 2), C) + bias.reshape(1, -1, 1, 1))
    expect = ref_requant(acc, family, 0.5, w_scale, 1.0, 3, 0, 255, C)
    for k in DW_KERNELS:
        with lowp.use_depthwise_kernel(k):
            y = lowp.qlinear_conv(x, 0.5, np.uint8(128), w, w_scale, np.int8(0), 1.0, np.uint8(3), bias, pads=(2, 2, 2, 2),
                                  group=C, rounding=family)
        np.testing.assert_array_equal(y.astype(np.int64), expect, err_msg=k)


# --------------------------------------------------------------------------- TFLite reference arithmetic
@pytest.mark.parametrize("single", [False, True], ids=["gemmlowp", "single"])
@pytest.mark.parametrize("depthwise", [False, True], ids=["conv", "depthwise"])
def test_against_tflite_reference_arithmetic(single, depthwise):
    """lowp's fixed-point families vs the TFLite reference kernels' integer arithmetic
    (per-channel int8: filter zero point 0, input_offset = -zx, output_offset = zy)."""
    rng = np.random.default_rng(11 + depthwise + 2 * single)
    for trial in range(6):
        C = int(rng.integers(1, 40)) if not depthwise else int(rng.choice([8, 17, 32, 45]))
        mult_d = int(rng.choice([1, 1, 2])) if depthwise else None
        M = C * mult_d if depthwise else int(rng.integers(1, 40))
        k = int(rng.choice([1, 3, 5])) if not depthwise else int(rng.choice([3, 5, 4]))
        s = int(rng.integers(1, 3))
        d = int(rng.integers(1, 3))
        H, W = int(rng.integers(k * d, k * d + 9)), int(rng.integers(k * d, k * d + 9))
        pt, pl = (k - 1) * d // 2, (k - 1) * d // 2
        OH = (H + 2 * pt - d * (k - 1) - 1) // s + 1
        OW = (W + 2 * pl - d * (k - 1) - 1) // s + 1
        x_nhwc = rng.integers(-128, 128, (2, H, W, C)).astype(np.int8)
        zx = int(rng.integers(-128, 128))
        w_ohwi = rng.integers(-127, 128, (M, k, k, 1 if depthwise else C)).astype(np.int8)
        bias = rng.integers(-20000, 20000, M).astype(np.int32)
        x_scale = np.float32(0.02)
        w_scale = rng.uniform(0.001, 0.05, M).astype(np.float32)
        y_scale = np.float32(rng.uniform(0.05, 0.5))
        zy = int(rng.integers(-128, 128))
        act = (-128, 127) if trial % 2 else (zy, 127)
        mult, shift = tfl.multipliers(x_scale, w_scale, y_scale, M, single)
        if depthwise:
            w_tfl = np.ascontiguousarray(w_ohwi.transpose(3, 1, 2, 0))  # 1HWO
        else:
            w_tfl = w_ohwi
        expect = tfl.conv_reference(x_nhwc, w_tfl, bias, -zx, 0, zy, mult, shift, (s, s), (d, d), (pt, pl), (OH, OW),
                                    act[0], act[1], depth_mult=mult_d, single_rounding=single)
        w_oihw = np.ascontiguousarray(w_ohwi.transpose(0, 3, 1, 2))
        paths_ = DW_KERNELS if depthwise and C > 1 else GEMM_KERNELS
        for p in paths_:
            ctx = lowp.use_depthwise_kernel(p) if depthwise and C > 1 else lowp.use_kernel(p)
            with ctx:
                y = lowp.qlinear_conv(x_nhwc, x_scale, np.int8(zx), w_oihw, w_scale, np.int8(0), y_scale, np.int8(zy),
                                      bias, strides=(s, s), dilations=(d, d), pads=(pt, pl, pt, pl),
                                      group=C if depthwise else 1, layout="NHWC",
                                      rounding="single" if single else "gemmlowp", activation_min=act[0],
                                      activation_max=act[1])
            np.testing.assert_array_equal(y.astype(np.int64), expect, err_msg=f"trial {trial} path {p}")


# --------------------------------------------------------------------------- prepacked object
def test_prepacked_conv_reuse_and_batch():
    rng = np.random.default_rng(5)
    w = rng.integers(-128, 128, (24, 24, 3, 3)).astype(np.int8)
    ws = rng.uniform(0.01, 0.02, 24).astype(np.float32)
    conv = lowp.QLinearConv(w, ws, np.zeros(24, np.int8), None, pads=(1, 1, 1, 1), group=1)
    dw = lowp.QLinearConv(w[:, :1], ws, 0, None, strides=(2, 2), auto_pad="SAME_UPPER", group=24)
    assert dw.is_depthwise and not conv.is_depthwise
    x = rng.integers(0, 256, (3, 24, 10, 10)).astype(np.uint8)
    y1 = conv(x, 0.02, np.uint8(100), 0.5, np.uint8(10))
    y2 = conv(x, 0.02, np.uint8(100), 0.5, np.uint8(10))
    np.testing.assert_array_equal(y1, y2)
    yb = np.concatenate([conv(x[i:i + 1], 0.02, np.uint8(100), 0.5, np.uint8(10)) for i in range(3)])
    np.testing.assert_array_equal(y1, yb)
    acc = conv.conv_integer(x, np.uint8(100))
    np.testing.assert_array_equal(acc, wrap32(ref_conv_acc(x, w, 100, 0, (1, 1), (1, 1), (1, 1, 1, 1), 1)))
    z = dw(x, 0.02, np.uint8(100), 0.5, np.uint8(10))
    assert z.shape == (3, 24, 5, 5)
    # threads do not change results
    np.testing.assert_array_equal(conv(x, 0.02, np.uint8(100), 0.5, np.uint8(10), num_threads=1),
                                  conv(x, 0.02, np.uint8(100), 0.5, np.uint8(10), num_threads=2))


def test_conv1d():
    rng = np.random.default_rng(9)
    x = rng.integers(0, 256, (2, 6, 17)).astype(np.uint8)
    w = rng.integers(0, 256, (5, 3, 4)).astype(np.uint8)
    w6 = np.concatenate([w, w[:1]])[:6, :3]
    y = lowp.conv_integer(x, w6, np.uint8(9), np.uint8(200), strides=(2,), pads=(1, 2), group=2)
    expect = ref_conv_acc(x[:, :, None, :], w6[:, :, None, :], 9, 200, (1, 2), (1, 1), (0, 1, 0, 2), 2)[:, :, 0]
    np.testing.assert_array_equal(y, expect)


# --------------------------------------------------------------------------- FC and activations matmul
@pytest.mark.parametrize("family", ["half_even", "gemmlowp", "single"])
def test_fully_connected(family):
    rng = np.random.default_rng(21)
    x = rng.integers(0, 256, (4, 7, 50)).astype(np.uint8)
    w = rng.integers(-128, 128, (33, 50)).astype(np.int8)
    bias = rng.integers(-1000, 1000, 33).astype(np.int32)
    ws = rng.uniform(0.001, 0.01, 33).astype(np.float32)
    acc = wrap32((x.astype(np.int64) - 3) @ w.astype(np.int64).T + bias)
    M = 33
    expect = ref_requant(np.moveaxis(acc.reshape(-1, 33), 1, 1)[:, :, None, None], family, 0.05, ws, 0.3, 128, 0, 255, M)
    expect = expect[:, :, 0, 0].reshape(4, 7, 33)
    fc = lowp.QLinearFullyConnected(w, ws, np.int8(0), bias)
    for k in GEMM_KERNELS:
        with lowp.use_kernel(k):
            y = fc(x, 0.05, np.uint8(3), 0.3, np.uint8(128), rounding=family)
            y2 = lowp.qlinear_fully_connected(x, 0.05, np.uint8(3), w, ws, np.int8(0), 0.3, np.uint8(128), bias,
                                              rounding=family)
        np.testing.assert_array_equal(y.astype(np.int64), expect, err_msg=k)
        np.testing.assert_array_equal(y2, y)


def test_matmul_of_two_activations():
    rng = np.random.default_rng(22)
    a = rng.integers(-128, 128, (2, 3, 9, 16)).astype(np.int8)
    b = rng.integers(-128, 128, (2, 3, 16, 11)).astype(np.int8)
    acc = (a.astype(np.int64) - 5) @ (b.astype(np.int64) + 7)
    y = lowp.qlinear_matmul_activations(a, 0.1, np.int8(5), b, 0.05, np.int8(-7), 2.0, np.int8(1))
    f = acc.astype(np.float32) * ((np.float32(0.1) * np.float32(0.05)) / np.float32(2.0))
    expect = np.clip(np.rint(np.clip(f, -129, 126)) + 1, -128, 127)
    np.testing.assert_array_equal(y.astype(np.int64), expect.astype(np.int64))
    with pytest.raises(ValueError):
        lowp.qlinear_matmul_activations(a, 0.1, np.int8(5), b, np.ones(11, np.float32), np.int8(0), 2.0, np.int8(1))


# --------------------------------------------------------------------------- errors
def test_errors():
    x = np.zeros((1, 4, 5, 5), np.uint8)
    w = np.zeros((4, 2, 3, 3), np.int8)
    with pytest.raises(TypeError):
        lowp.conv_integer(x.astype(np.float32), w)
    with pytest.raises(TypeError):
        lowp.conv_integer(x, w.astype(np.int16))
    with pytest.raises(ValueError, match="channels"):
        lowp.conv_integer(x, w)  # C=4 but weights expect 2 (group=1)
    with pytest.raises(ValueError, match="divisible"):
        lowp.conv_integer(x, np.zeros((3, 2, 3, 3), np.int8), group=2)
    with pytest.raises(ValueError, match="larger"):
        lowp.conv_integer(x, np.zeros((4, 4, 7, 7), np.int8))
    with pytest.raises(ValueError, match="auto_pad"):
        lowp.conv_integer(x, np.zeros((4, 4, 3, 3), np.int8), auto_pad="SAME")
    with pytest.raises(ValueError, match="pads"):
        lowp.conv_integer(x, np.zeros((4, 4, 3, 3), np.int8), pads=(1, 1))
    with pytest.raises(ValueError, match="strides"):
        lowp.conv_integer(x, np.zeros((4, 4, 3, 3), np.int8), strides=(0, 1))
    with pytest.raises(ValueError, match="layout"):
        lowp.conv_integer(x, np.zeros((4, 4, 3, 3), np.int8), layout="CHWN")
    with pytest.raises(ValueError, match="kernel_shape"):
        lowp.conv_integer(x, np.zeros((4, 4, 3, 3), np.int8), kernel_shape=(2, 2))
    with pytest.raises(ValueError, match="w_zero_point"):
        lowp.conv_integer(x, np.zeros((4, 4, 3, 3), np.int8), 0, np.zeros(3, np.int8))
    with pytest.raises(TypeError, match="bias"):
        lowp.qlinear_conv(x, 0.1, 0, np.zeros((4, 4, 3, 3), np.int8), 0.1, 0, 0.1, np.uint8(0), np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="bias"):
        lowp.qlinear_conv(x, 0.1, 0, np.zeros((4, 4, 3, 3), np.int8), 0.1, 0, 0.1, np.uint8(0), np.zeros(3, np.int32))
    with pytest.raises(ValueError, match="scale"):
        lowp.qlinear_conv(x, 0.1, 0, np.zeros((4, 4, 3, 3), np.int8), np.ones(3, np.float32), 0, 0.1, np.uint8(0))
    with pytest.raises(ValueError, match="scale"):
        lowp.qlinear_conv(x, -0.1, 0, np.zeros((4, 4, 3, 3), np.int8), 0.1, 0, 0.1, np.uint8(0))
    with pytest.raises(ValueError, match="rounding"):
        lowp.qlinear_conv(x, 0.1, 0, np.zeros((4, 4, 3, 3), np.int8), 0.1, 0, 0.1, np.uint8(0), rounding="up")
    with pytest.raises(ValueError, match="zero_point"):
        lowp.qlinear_conv(x, 0.1, 300, np.zeros((4, 4, 3, 3), np.int8), 0.1, 0, 0.1, np.uint8(0))
    with pytest.raises(ValueError, match="activation"):
        lowp.qlinear_conv(x, 0.1, 0, np.zeros((4, 4, 3, 3), np.int8), 0.1, 0, 0.1, np.uint8(0), activation_min=10,
                          activation_max=5)
    with pytest.raises(ValueError):
        lowp.conv_integer(np.zeros((1, 4, 5), np.uint8), np.zeros((4, 4, 3, 3), np.int8))
    with pytest.raises(ValueError, match="depthwise"):
        with lowp.use_depthwise_kernel("nope"):
            pass
    with pytest.raises(ValueError):
        lowp.QLinearFullyConnected(np.zeros((3, 4, 5), np.int8), 0.1)


def test_prepacked_call_cache_does_not_hide_changes():
    """Repeated calls hit a per-argument cache; changing any argument must change the result."""
    rng = np.random.default_rng(8)
    w = rng.integers(-128, 128, (8, 8, 3, 3)).astype(np.int8)
    conv = lowp.QLinearConv(w, 0.01, 0, None, pads=(1, 1, 1, 1))
    x = rng.integers(0, 256, (1, 8, 6, 6)).astype(np.uint8)
    base = conv(x, 0.02, np.uint8(100), 0.5, np.uint8(10))
    np.testing.assert_array_equal(conv(x, 0.02, np.uint8(100), 0.5, np.uint8(10)), base)
    for args in [(0.03, np.uint8(100), 0.5, np.uint8(10)), (0.02, np.uint8(90), 0.5, np.uint8(10)),
                 (0.02, np.uint8(100), 0.4, np.uint8(10)), (0.02, np.uint8(100), 0.5, np.uint8(20))]:
        acc = ref_conv_acc(x, w, int(args[1]), 0, (1, 1), (1, 1), (1, 1, 1, 1), 1)
        expect = ref_requant(wrap32(acc), "half_even", args[0], 0.01, args[2], int(args[3]), 0, 255, 8)
        np.testing.assert_array_equal(conv(x, *args).astype(np.int64), expect)
    with pytest.raises(TypeError):
        conv(x, 0.02, 100.5, 0.5, np.uint8(10))
    with pytest.raises(ValueError):
        conv(x[:, :4], 0.02, np.uint8(100), 0.5, np.uint8(10))


DW_CASES = [c for c in CASES if c["cg"] == 1 and c["group"] > 1]


@pytest.mark.parametrize("xdt", [np.uint8, np.int8], ids=["u8", "s8"])
@pytest.mark.parametrize("family", ["int32", "half_even", "gemmlowp", "single"])
def test_depthwise_int8_weight_paths(family, xdt):
    """Weights with w - zw inside int8 (int8 with zero point 0, or uint8 near its zero point): this
    is where the VNNI row kernel runs (it falls back otherwise), every depthwise kernel."""
    rng = np.random.default_rng(31)
    for i, c in enumerate(DW_CASES):
        x, w, zx, zw, kw, pads = build(c, rng, xdt, np.int8)
        if i % 3 == 2:  # uint8 weights with w - zw in [-128, 127]
            zw = np.uint8(rng.integers(100, 156))
            w = (rng.integers(-100, 100, w.shape) + int(zw)).clip(0, 255).astype(np.uint8)
        else:
            zw = np.zeros(w.shape[0], np.int8)
        M = w.shape[0]
        acc = wrap32(ref_conv_acc(x, w, zx, zw, c["s"], c["d"], pads, c["group"]))
        if family == "int32":
            expect = acc
        else:
            bias = rng.integers(-4000, 4000, M).astype(np.int32)
            acc = wrap32(acc + bias.reshape(1, -1, 1, 1))
            ws = rng.uniform(0.002, 0.02, M).astype(np.float32)
            lo, hi = (0, 255) if xdt == np.uint8 else (-128, 127)
            zy = xdt(rng.integers(lo, hi + 1))
            ys = np.float32(0.01 * 0.01 * 40 * np.prod(c["k"]) ** 0.5)
            expect = ref_requant(acc, family, 0.01, ws, ys, int(zy), lo, hi, M)
        for k in DW_KERNELS:
            with lowp.use_depthwise_kernel(k):
                xin = to_layout(x, c["layout"])
                if family == "int32":
                    y = lowp.conv_integer(xin, w, xdt(zx), zw, layout=c["layout"], **kw)
                else:
                    y = lowp.qlinear_conv(xin, 0.01, xdt(zx), w, ws, zw, ys, zy, bias, layout=c["layout"],
                                          rounding=family, **kw)
            np.testing.assert_array_equal(from_layout(y, c["layout"]).astype(np.int64), expect,
                                          err_msg=f"{case_id(c)} kernel {k}")


def test_fully_connected_call_cache():
    rng = np.random.default_rng(23)
    w = rng.integers(-128, 128, (12, 20)).astype(np.int8)
    fc = lowp.QLinearFullyConnected(w, 0.01, np.int8(0))
    x = rng.integers(0, 256, (3, 20)).astype(np.uint8)
    for args in [(0.02, np.uint8(100), 0.5, np.uint8(10)), (0.02, np.uint8(100), 0.5, np.uint8(10)),
                 (0.03, np.uint8(90), 0.4, np.uint8(20)), (0.03, np.uint8(90), 0.4, np.uint8(20))]:
        acc = (x.astype(np.int64) - int(args[1])) @ w.astype(np.int64).T
        expect = ref_requant(acc[:, :, None, None], "half_even", args[0], 0.01, args[2], int(args[3]), 0, 255, 12)
        np.testing.assert_array_equal(fc(x, *args).astype(np.int64), expect[:, :, 0, 0])
        np.testing.assert_array_equal(fc(x[0], *args).astype(np.int64), expect[0, :, 0, 0])
    with pytest.raises(ValueError):
        fc(x[:, :10], 0.02, np.uint8(100), 0.5, np.uint8(10))


@pytest.mark.parametrize("ydt", [np.uint8, np.int8])
def test_depthwise_half_even_saturation_small_scales(ydt):
    """All scales < 0.5 (the VNNI kernel's round-then-saturate path) with accumulators that push
    far past the output range, and a narrowed activation range."""
    rng = np.random.default_rng(4)
    C = 130
    x = rng.choice(np.array([0, 255], np.uint8), (2, C, 5, 6))
    w = rng.choice(np.array([-128, 127], np.int8), (C, 1, 3, 3))
    bias = rng.integers(-2**24, 2**24, C).astype(np.int32)
    w_scale = np.exp(rng.uniform(np.log(1e-7), np.log(0.9), C)).astype(np.float32)
    lo, hi = (0, 255) if ydt == np.uint8 else (-128, 127)
    zy, amin, amax = (lo + 30, lo + 30, hi - 40)
    acc = wrap32(ref_conv_acc(x, w, 77, 0, (1, 1), (1, 1), (1, 1, 1, 1), C) + bias.reshape(1, -1, 1, 1))
    expect = ref_requant(acc, "half_even", 0.5, w_scale, 1.0, zy, amin, amax, C)
    for k in DW_KERNELS:
        with lowp.use_depthwise_kernel(k):
            y = lowp.qlinear_conv(x, 0.5, np.uint8(77), w, w_scale, np.int8(0), 1.0, ydt(zy), bias, pads=(1, 1, 1, 1),
                                  group=C, activation_min=amin, activation_max=amax)
        np.testing.assert_array_equal(y.astype(np.int64), expect, err_msg=k)


def test_prepacked_objects_pickle():
    import pickle

    rng = np.random.default_rng(12)
    x = rng.integers(0, 256, (1, 6, 7, 7)).astype(np.uint8)
    for w, g in [(rng.integers(-128, 128, (6, 3, 3, 3)).astype(np.int8), 2),
                 (rng.integers(-128, 128, (6, 1, 3, 3)).astype(np.int8), 6)]:
        conv = lowp.QLinearConv(w, 0.01, 0, None, pads=(1, 1, 1, 1), group=g)
        y = conv(x, 0.02, np.uint8(100), 0.5, np.uint8(10))
        conv2 = pickle.loads(pickle.dumps(conv))
        np.testing.assert_array_equal(conv2(x, 0.02, np.uint8(100), 0.5, np.uint8(10)), y)
        xp = pickle.loads(pickle.dumps(x))  # equal-but-distinct dtype object
        xh = pickle.loads(pickle.dumps(np.ascontiguousarray(x.transpose(0, 2, 3, 1))))
        for _ in range(2):  # second call takes the cached fast path
            np.testing.assert_array_equal(conv2(xp, 0.02, np.uint8(100), 0.5, np.uint8(10)), y)
            np.testing.assert_array_equal(conv2(xh, 0.02, np.uint8(100), 0.5, np.uint8(10), layout="NHWC"),
                                          y.transpose(0, 2, 3, 1))
    fc = lowp.QLinearFullyConnected(rng.integers(-128, 128, (5, 49)).astype(np.int8), 0.01, np.int8(0))
    xf = x[0, 0].reshape(1, 49)
    yf = fc(xf, 0.02, np.uint8(100), 0.5, np.uint8(10))
    fc2 = pickle.loads(pickle.dumps(fc))
    for _ in range(2):
        np.testing.assert_array_equal(fc2(pickle.loads(pickle.dumps(xf)), 0.02, np.uint8(100), 0.5, np.uint8(10)), yf)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_match_reference(threads):
    rng = np.random.default_rng(40 + threads)
    for (C, M, H, k, s, g) in [(16, 24, 20, 3, 1, 1), (3, 8, 33, 3, 2, 1), (12, 18, 17, 5, 2, 3), (40, 40, 15, 3, 1, 40),
                               (8, 16, 12, 1, 1, 1)]:
        w = rng.integers(-128, 128, (M, C // g, k, k)).astype(np.int8)
        x = rng.integers(0, 256, (2, C, H, H)).astype(np.uint8)
        p = k // 2
        y = lowp.conv_integer(x, w, np.uint8(7), np.int8(0), pads=(p, p, p, p), strides=(s, s), group=g,
                              num_threads=threads)
        np.testing.assert_array_equal(y, wrap32(ref_conv_acc(x, w, 7, 0, (s, s), (1, 1), (p, p, p, p), g)))
