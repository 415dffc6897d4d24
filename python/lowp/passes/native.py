"""Lower a Program (lower.py) into native programs (cpp/exec, `lowp._lowp.NativeProgram`) for one
input-shape signature.

Every kernel adapter in kernels.py / lower.py may carry a ``native`` description next to its
Python callable: ``fn.native(nb, inputs, outputs) -> bool`` emits, through the recorder ``nb``,
the native op(s) computing exactly what the callable computes, with every parameter bound (shapes
come from one probe run of the Python steps on inputs of this signature). Steps without a
description (or whose description declines) stay Python steps; maximal runs of native steps become
one NativeProgram each, so a model runs as native segments + Python steps. A segment's tensors
live in one arena planned from their lifetimes (C++: exec::plan_arena); reshapes are aliases.
"""
from __future__ import annotations

import os

import numpy as np


def _strict() -> bool:
    """LOWP_NATIVE_CHECK=1 (tests): a native description or build that fails raises instead of
    quietly leaving its steps to Python."""
    return os.environ.get("LOWP_NATIVE_CHECK", "") == "1"


class Recorder:
    """What a native description sees: shapes / dtypes / constant values of the step's tensors,
    and `op` / `alias` to emit native ops (replayed later into a NativeProgram)."""

    __slots__ = ("env", "constants", "ops")

    def __init__(self, env, constants):
        self.env, self.constants, self.ops = env, constants, []

    def array(self, name):
        v = self.env.get(name)
        return v if isinstance(v, np.ndarray) else None

    def shape(self, name):
        return tuple(self.env[name].shape)

    def dtype(self, name):
        return self.env[name].dtype

    def value(self, name):
        """The constant bound to `name`, or None if it is computed at run time."""
        return self.constants.get(name) if name else None

    def op(self, ins, outs, build):
        """build(P, S): calls one NativeProgram op method; S(name) is the slot of a tensor."""
        self.ops.append((list(ins), list(outs), build))

    def alias(self, out, src):
        self.ops.append(([src], [out], None))


def _describe(step, env, constants):
    desc = getattr(step.fn, "native", None)
    if desc is None:
        return None
    for o in step.outputs:
        if o and not isinstance(env.get(o), np.ndarray):
            return None
    rec = Recorder(env, constants)
    try:
        ok = desc(rec, list(step.inputs), list(step.outputs))
    except (ValueError, TypeError, KeyError, NotImplementedError):
        return None  # parameters the native op does not take: a Python step
    except Exception:
        if _strict():
            raise
        return None
    if not ok:
        return None
    made = {o for _, outs, _ in rec.ops for o in outs}
    if any(o and o not in made for o in step.outputs):
        return None
    for ins, _, _ in rec.ops:
        if any(not isinstance(env.get(i), np.ndarray) for i in ins):
            return None
    return rec.ops


class Segment:
    """One NativeProgram: reads `inputs` (names), returns `outputs` (names)."""

    __slots__ = ("prog", "inputs", "outputs", "in_sig", "steps")

    def __init__(self, prog, inputs, outputs, in_sig, steps):
        self.prog, self.inputs, self.outputs, self.in_sig, self.steps = prog, inputs, outputs, in_sig, steps


def _build_segment(recs, env, constants, needed_after, steps):
    from .. import _lowp

    P = _lowp.NativeProgram()
    slots, in_names, produced = {}, [], []

    def S(name):
        s = slots.get(name)
        if s is None:
            if name in constants:
                s = P.constant(np.ascontiguousarray(constants[name]))
            else:
                s = P.input(env[name].nbytes)
                in_names.append(name)
            slots[name] = s
        return s

    for ops in recs:
        for ins, outs, build in ops:
            if build is None:  # alias: the bytes of ins[0] under a new shape
                src, out = ins[0], outs[0]
                y = env[out]
                if out in needed_after:  # a segment output must own its buffer
                    slots[out] = P.tensor(y.nbytes)
                    P.copy(S(src), slots[out], name=f"copy({out})")
                    produced.append(out)
                else:
                    slots[out] = P.alias(S(src), y.nbytes)
                continue
            for i in ins:
                S(i)
            for o in outs:
                slots[o] = P.tensor(env[o].nbytes)
                produced.append(o)
            build(P, S)
    outs = [o for o in produced if o in needed_after]
    P.finalize([list(env[n].shape) for n in in_names], [env[n].dtype for n in in_names], [slots[o] for o in outs],
               [list(env[o].shape) for o in outs], [env[o].dtype for o in outs])
    sig = tuple((env[n].shape, env[n].dtype) for n in in_names)
    return Segment(P, in_names, outs, sig, steps)


# Ops whose output shape depends on the *values* of inputs after the first (all inputs for Range /
# ConstantOfShape): their output shape is fixed by the signature only when those inputs are.
_VALUE_SHAPED = {"Reshape", "Expand", "Slice", "Pad", "Resize", "Split", "Squeeze", "Unsqueeze", "TopK", "Tile",
                 "OneHot", "Upsample"}
_VALUE_SHAPED_ALL = {"Range", "ConstantOfShape", "NonZero", "Compress", "Unique"}


def static_steps(program):
    """Steps whose outputs are fixed by the input-shape signature: shape arithmetic (Shape / Size of
    a tensor whose shape the signature fixes, then any step on such values and constants). For one
    signature they are constants, so a native build drops them."""
    determined = set(program.inputs) | set(program.constants)
    static = set(program.constants)
    out = set()
    for k, st in enumerate(program.steps):
        ins = [i for i in st.inputs if i]
        op = st.kind[5:] if st.kind.startswith("lowp.") else st.kind
        if (ins and all(i in static for i in ins)) or (st.kind in ("Shape", "Size") and ins and ins[0] in determined):
            out.add(k)
            static.update(o for o in st.outputs if o)
            determined.update(o for o in st.outputs if o)
            continue
        if op in _VALUE_SHAPED_ALL or st.kind == "lowp.QMove" and not all(i in static for i in ins[1:]):
            continue
        if op in _VALUE_SHAPED and not all(i in static for i in ins[1:]):
            continue
        if all(i in determined for i in ins):
            determined.update(o for o in st.outputs if o)
    return out


def compile_native(program, env):
    """(items, static values) for Program.run: items ("native", Segment) and ("py", step) in order;
    static values: outputs of the signature-fixed steps (static_steps), now constants. `env` holds
    every tensor of one Python run (constants, inputs, all step outputs) for this input signature."""
    fixed = static_steps(program)
    statics = {o: env[o] for k in fixed for o in program.steps[k].outputs if o}
    steps = [s for k, s in enumerate(program.steps) if k not in fixed]
    constants = dict(program.constants)
    constants.update({k: v for k, v in statics.items() if isinstance(v, np.ndarray)})
    descs = [_describe(s, env, constants) for s in steps]
    # Group maximal runs of native steps.
    groups, cur = [], []
    for k, d in enumerate(descs):
        if d is None:
            if cur:
                groups.append(("native", cur))
                cur = []
            groups.append(("py", k))
        else:
            cur.append(k)
    if cur:
        groups.append(("native", cur))
    # Names each group reads (for segment outputs: what is needed after a segment).
    reads = []
    for kind, g in groups:
        if kind == "py":
            reads.append(set(steps[g].inputs))
        else:
            reads.append({i for k in g for i in steps[k].inputs})
    items = []
    after = set(program.outputs)
    needed_after = [None] * len(groups)
    for gi in range(len(groups) - 1, -1, -1):
        needed_after[gi] = set(after)
        after |= reads[gi]
    for gi, (kind, g) in enumerate(groups):
        if kind == "py":
            items.append(("py", steps[g]))
        else:
            try:
                seg = _build_segment([descs[k] for k in g], env, constants, needed_after[gi], [steps[k] for k in g])
            except Exception:
                if _strict():
                    raise
                items.extend(("py", steps[k]) for k in g)  # correctness first: run these steps in Python
                continue
            items.append(("native", seg))
    return items, statics
