"""Functional operator API, named after the ONNX operators it mirrors (snake_case), NCHW by default."""
from .conv import *  # noqa: F401,F403
from .eltwise import *  # noqa: F401,F403
from .conv import __all__ as _conv_all
from .eltwise import __all__ as _elt_all

__all__ = list(_conv_all) + list(_elt_all)
