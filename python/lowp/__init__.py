"""lowp: exact integer inference for quantized neural networks on CPUs."""

__version__ = "0.1.0"

from ._dispatch import (  # noqa: F401
    compiled_kernels,
    current_kernel,
    get_num_threads,
    kernels,
    set_num_threads,
    use_kernel,
)
from .gemm import (  # noqa: F401
    ROUNDINGS,
    PackedMatrix,
    matmul_integer,
    qlinear_matmul,
    quantize_multiplier,
    requantize,
)
from .ops import *  # noqa: F401,F403,E402
from .session import InferenceSession, NodeArg, load  # noqa: E402,F401
from .interpreter import Interpreter  # noqa: E402,F401
