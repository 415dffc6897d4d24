"""Static memory plan: tensor lifetimes -> offsets in one arena (greedy best fit by size).

The plan is computed for concrete input shapes (the sizes of every intermediate come from one
probe run) and reports the peak arena bytes a preallocated executor needs, against the sum of
all intermediate tensors. Graph inputs, outputs and constants are not part of the arena.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ALIGN = 64


@dataclass
class MemoryPlan:
    offsets: dict = field(default_factory=dict)  # tensor name -> byte offset in the arena
    sizes: dict = field(default_factory=dict)  # tensor name -> bytes
    lifetimes: dict = field(default_factory=dict)  # tensor name -> (first step, last step)
    peak_bytes: int = 0  # arena size
    total_bytes: int = 0  # sum of all intermediate tensors (no reuse)
    native_bytes: int = 0  # arenas of the native programs for these inputs (cpp/exec's own plan; 0: Python path)

    def check(self) -> None:
        """Asserts that no two tensors alive at the same time overlap in the arena."""
        items = list(self.offsets)
        for i, a in enumerate(items):
            for b in items[i + 1:]:
                (sa, ea), (sb, eb) = self.lifetimes[a], self.lifetimes[b]
                if sa <= eb and sb <= ea:
                    oa, ob = self.offsets[a], self.offsets[b]
                    if oa < ob + self.sizes[b] and ob < oa + self.sizes[a]:
                        raise AssertionError(f"tensors {a} and {b} overlap in the memory plan")


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def plan_memory(program, sizes: dict) -> MemoryPlan:
    """sizes: tensor name -> bytes for every intermediate produced by program.steps."""
    keep = set(program.outputs) | set(program.inputs) | set(program.constants)
    first, last = {}, {}
    for k, step in enumerate(program.steps):
        for o in step.outputs:
            if o and o not in keep and o in sizes:
                first.setdefault(o, k)
                last.setdefault(o, k)
        for i in step.inputs:
            if i in first:
                last[i] = k
    plan = MemoryPlan(sizes={n: _align(sizes[n]) for n in first},
                      lifetimes={n: (first[n], last[n]) for n in first})
    plan.total_bytes = sum(plan.sizes.values())
    # Place the largest tensors first, each at the lowest offset free during its whole lifetime.
    placed = []
    for n in sorted(first, key=lambda t: (-plan.sizes[t], first[t])):
        s, e = plan.lifetimes[n]
        size = plan.sizes[n]
        busy = sorted((plan.offsets[m], plan.offsets[m] + plan.sizes[m]) for m in placed
                      if plan.lifetimes[m][0] <= e and s <= plan.lifetimes[m][1])
        off = 0
        for lo, hi in busy:
            if off + size <= lo:
                break
            off = max(off, hi)
        plan.offsets[n] = off
        placed.append(n)
        plan.peak_bytes = max(plan.peak_bytes, off + size)
    return plan
