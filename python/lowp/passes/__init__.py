"""Graph passes: constant folding, QDQ fusion, elementwise chains -> lookup tables, layout, lowering."""


def optimize(g):
    """The standard pipeline: QOperator -> QDQ, constant folding, QDQ fusion, lookup tables."""
    from .fold import fold_constants
    from .qdq import expand_qoperator, fuse_qdq

    fold_constants(g)
    expand_qoperator(g)
    fold_constants(g)
    fuse_qdq(g)
    return g
