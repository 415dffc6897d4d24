"""Kernel selection and thread settings shared by every lowp entry point."""
from __future__ import annotations

import contextlib
import contextvars
import os

import numpy as np

from . import _lowp

_MAX_THREADS = 4096  # far above any real machine; keeps the value inside the native int

_forced_kernel: contextvars.ContextVar[str | None] = contextvars.ContextVar("lowp_kernel", default=None)


def kernels() -> list[str]:
    """GEMM kernels this CPU can run, best first (the last is always ``"ref"``)."""
    return list(_lowp.kernels())


def compiled_kernels() -> list[str]:
    """Every GEMM kernel compiled into this build, including ones this CPU cannot run."""
    return list(_lowp.compiled_kernels())


def current_kernel() -> str:
    """The kernel calls made now will use: ``use_kernel`` > ``$LOWP_KERNEL`` > best available."""
    forced = _forced_kernel.get()
    if forced:
        return forced
    return _lowp.default_kernel()


def _kernel_arg() -> str:
    return _forced_kernel.get() or ""


@contextlib.contextmanager
def use_kernel(name: str):
    """Force one GEMM kernel for calls made inside the ``with`` block (this thread/context only).

    >>> with lowp.use_kernel("ref"):
    ...     y = lowp.matmul_integer(a, b)
    """
    if name not in compiled_kernels():
        raise ValueError(f"lowp: unknown kernel {name!r} (compiled: {', '.join(compiled_kernels())})")
    if name not in kernels():
        raise ValueError(f"lowp: kernel {name!r} is not supported by this CPU (available: {', '.join(kernels())})")
    token = _forced_kernel.set(name)
    try:
        yield name
    finally:
        _forced_kernel.reset(token)


def set_num_threads(n: int) -> None:
    """Size of lowp's thread pool (default: ``$LOWP_NUM_THREADS`` or the number of CPUs)."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, (bool, np.bool_)) or not 1 <= n <= _MAX_THREADS:
        raise ValueError(f"lowp: number of threads must be an integer in [1, {_MAX_THREADS}], got {n!r}")
    _lowp.set_num_threads(int(n))


def get_num_threads() -> int:
    return int(_lowp.get_num_threads())


def _threads_arg(num_threads) -> int:
    if num_threads is None:
        return 0
    if not isinstance(num_threads, (int, np.integer)) or isinstance(num_threads, (bool, np.bool_)) \
            or not 1 <= num_threads <= _MAX_THREADS:
        raise ValueError(f"lowp: num_threads must be an integer in [1, {_MAX_THREADS}], got {num_threads!r}")
    return int(num_threads)


if not _lowp.max_isa_valid():
    raise ImportError(f"lowp: LOWP_MAX_ISA={_lowp.max_isa()!r} is not an instruction set level of this "
                      f"{_lowp.arch()} build (one of: {_lowp.isa_levels()}; unset for all the CPU has)")

if os.environ.get("LOWP_KERNEL"):
    # Fail early and clearly on a typo rather than at the first call.
    _name = os.environ["LOWP_KERNEL"]
    if _name not in _lowp.kernels():
        raise ImportError(f"lowp: LOWP_KERNEL={_name!r} is not available here (available: {', '.join(_lowp.kernels())})")
