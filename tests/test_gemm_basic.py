"""matmul_integer / qlinear_matmul basics against a numpy int64 reference, every kernel path."""
import numpy as np
import pytest

import lowp

KERNELS = lowp.kernels()


def ref_matmul(a, b, za, zb):
    y = (a.astype(np.int64) - np.int64(za)) @ (b.astype(np.int64) - np.asarray(zb, np.int64))
    return (y & 0xFFFFFFFF).astype(np.uint32).view(np.int32) if y.ndim else y


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("at,bt", [(np.uint8, np.int8), (np.uint8, np.uint8), (np.int8, np.int8), (np.int8, np.uint8)])
def test_matmul_integer_random(kernel, at, bt):
    rng = np.random.default_rng(0)
    a = rng.integers(np.iinfo(at).min, np.iinfo(at).max + 1, (37, 91), dtype=at)
    b = rng.integers(np.iinfo(bt).min, np.iinfo(bt).max + 1, (91, 45), dtype=bt)
    za = np.array(rng.integers(np.iinfo(at).min, np.iinfo(at).max + 1), at)
    zb = rng.integers(np.iinfo(bt).min, np.iinfo(bt).max + 1, 45, dtype=bt)
    with lowp.use_kernel(kernel):
        y = lowp.matmul_integer(a, b, za, zb)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, ref_matmul(a, b, za, zb))


def test_kernels_listing():
    assert KERNELS[-1] == "ref"
    assert set(KERNELS) <= set(lowp.compiled_kernels())
    with pytest.raises(ValueError, match="unknown kernel"):
        with lowp.use_kernel("nope"):
            pass
