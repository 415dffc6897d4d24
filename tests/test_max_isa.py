"""LOWP_MAX_ISA: capping the instruction sets lowp's kernels use (what an older CPU would run).

Each case starts a fresh interpreter (the cap is read once, when the extension loads) and checks
the kernel list, the peak probes, onnxruntime's modelled NCHWc block (not capped: onnxruntime ignores
the variable), and that a model gives the same bytes as the uncapped run in this process."""
import os
import subprocess

import numpy as np
import pytest

import lowp
from lowp import _lowp
from test_gemm import _env_with_lowp, _python_cmd

X86 = _lowp.arch() == "x86_64"
LEVELS = [s.strip() for s in _lowp.isa_levels().split(",")]

_PROBE = r"""
import sys, numpy as np, lowp
from lowp import _lowp
import lowp.demo as demo
x = demo.load_data()[0][:16]
s = lowp.InferenceSession(demo.MODEL_PATH)
y = s.run(None, {s.get_inputs()[0].name: x})[0]
print("|".join([_lowp.max_isa(), ",".join(lowp.kernels()), ",".join(_lowp.peak_probe_isas()),
                str(_lowp.ort_nchwc_block_size()), y.tobytes().hex()]))
"""


def _run(cap):
    r = subprocess.run([*_python_cmd(), "-c", _PROBE], env=_env_with_lowp(LOWP_MAX_ISA=cap), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().split("|")


def _uncapped_output():
    import lowp.demo as demo

    x = demo.load_data()[0][:16]
    s = lowp.InferenceSession(demo.MODEL_PATH)
    return s.run(None, {s.get_inputs()[0].name: x})[0].tobytes().hex()


def test_levels_of_this_architecture():
    assert LEVELS[0] == "scalar"
    assert LEVELS == (["scalar", "avx2", "avx512", "avx512vnni", "amx"] if X86 else
                      ["scalar", "neon", "neondot", "i8mm"] if _lowp.arch() == "aarch64" else ["scalar"])
    if not os.environ.get("LOWP_MAX_ISA"):
        assert _lowp.max_isa() == "" and _lowp.max_isa_valid()


@pytest.mark.parametrize("cap", [c for c in ("scalar", "avx2", "avx512", "neon", "neondot") if c in LEVELS])
def test_cap_limits_kernels_and_keeps_results(cap):
    got_cap, kernels, probes, block, out = _run(cap)
    kernels, probes = kernels.split(","), [p for p in probes.split(",") if p]
    assert got_cap == cap and kernels[-1] == "ref"
    allowed = {"scalar": {"ref"}, "avx2": {"avx2", "ref"}, "avx512": {"avx2", "ref"}, "neon": {"neon", "ref"},
               "neondot": {"neondot", "neon", "ref"}}[cap]
    assert set(kernels) <= allowed
    assert set(kernels) == allowed & set(lowp.kernels())  # everything allowed that the CPU has stays
    assert set(probes) == set(kernels) & {"avx2", "avx512vnni", "amx"}  # the probes of allowed ISAs only (x86)
    # onnxruntime's NCHWc block is what onnxruntime does on this CPU, whatever lowp may use.
    assert int(block) == _lowp.ort_nchwc_block_size()
    # Other kernels, same bytes (the exact integer arithmetic, and the same float emulation).
    assert out == _uncapped_output()


def test_unknown_level_is_an_import_error():
    r = subprocess.run([*_python_cmd(), "-c", "import lowp"], env=_env_with_lowp(LOWP_MAX_ISA="avx9000"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "LOWP_MAX_ISA='avx9000'" in r.stderr and "scalar" in r.stderr


def test_cli_kernels_reports_the_cap():
    code = "import sys; from lowp import cli; sys.exit(cli.main(['kernels']))"
    caps = [c for c in ("avx2", "neon") if c in LEVELS] or ["scalar"]
    r = subprocess.run([*_python_cmd(), "-c", code], env=_env_with_lowp(LOWP_MAX_ISA=caps[0]), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"LOWP_MAX_ISA={caps[0]}:" in r.stdout and "available GEMM kernels" in r.stdout
