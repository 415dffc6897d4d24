"""Smoke test of the GEMM microbenchmark (`lowp bench gemm`) and the native peak probes.

Runs the benchmark's real code path with --quick on a tiny shape: it must produce the
markdown/PNG/JSON reports, verify lowp == onnxruntime bits before timing, flag a wrong result,
and skip a missing optional peer with a note instead of crashing. No timing is asserted.
"""
import builtins
import json
import os

import numpy as np
import pytest

import lowp
from lowp import _lowp
from lowp.benchmarks import gemm as G

ort = pytest.importorskip("onnxruntime")  # part of the [test] extra

TINY = ["--quick", "--shapes", "5x24x40", "--threads", "1", "--repeat", "2", "--min-time", "0.0002"]


def test_bench_quick_writes_reports_and_checks_exactness(tmp_path):
    res = G.run(TINY + ["--out", str(tmp_path)])
    assert res["failures"] == 0
    md = (tmp_path / "gemm.md").read_text()
    assert "5x24x40" in md and "ORT MatMulInteger" in md and "best lowp" in md
    png = (tmp_path / "gemm.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    data = json.loads((tmp_path / "gemm.json").read_text())
    impls = {r["impl"] for r in data["rows"]}
    for k in [k for k in lowp.kernels() if k != "ref"]:
        assert f"lowp {k} i32" in impls and f"lowp {k} u8" in impls
    assert {"ORT MatMulInteger", "ORT QLinearMatMul", "numpy f32 matmul", "ORT f32 MatMul"} <= impls
    assert all(r["gops"] > 0 and r["samples"] == 2 for r in data["rows"])
    # The harness compared every lowp kernel with onnxruntime before timing, and found them equal.
    nk = len([k for k in lowp.kernels() if k != "ref"])
    lowp_checks = [c for c in res["checks"] if c["what"].startswith("lowp") and c["shape"] == "5x24x40 t=1"]
    assert len(lowp_checks) == 2 * nk
    assert all(c["exact"] and c["mismatches"] == 0 and c["total"] == 5 * 24 for c in lowp_checks)
    # ... and on the per-call overhead shape, which gets its own table.
    assert len([c for c in res["checks"] if c["shape"].startswith("1x16x64") and c["exact"]]) >= 2 * nk
    assert "Per-call overhead" in md and len(res["overhead"]) == len({r.impl for r in res["rows"]})


def test_bench_models_match_numpy_reference():
    # Independent of the harness: the ORT model the bench builds and lowp both equal numpy int64.
    M, N, K = 3, 17, 70
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, size=(M, K), dtype=np.uint8)
    b = rng.integers(-128, 128, size=(K, N), dtype=np.int8)
    ref = ((a.astype(np.int64) - G.A_ZERO_POINT) @ (b.astype(np.int64) - G.B_ZERO_POINT)).astype(np.int32)
    mmi, _, fmm = G._ort_models(M, N, K, b, np.float32(1.0))
    y_ort = G._ort_session(mmi, 1).run(None, {"A": a})[0]
    np.testing.assert_array_equal(y_ort, ref)
    np.testing.assert_array_equal(lowp.matmul_integer(a, lowp.PackedMatrix(b, G.B_ZERO_POINT), G.A_ZERO_POINT), ref)
    y_f = G._ort_session(fmm, 1).run(None, {"A": a.astype(np.float32)})[0]
    np.testing.assert_array_equal(y_f, a.astype(np.float32) @ b.astype(np.float32))


def test_bench_flags_a_wrong_result(monkeypatch, tmp_path):
    real = lowp.matmul_integer

    def off_by_one(*args, **kw):
        y = real(*args, **kw)
        y[0, 0] += 1
        return y

    monkeypatch.setattr(lowp, "matmul_integer", off_by_one)
    res = G.run(TINY + ["--no-fp32", "--no-torch", "--no-overhead"])
    assert res["failures"] == len([k for k in lowp.kernels() if k != "ref"])  # one int32 check per kernel
    assert any("MISMATCH" in n for n in res["notes"])
    assert G.main(TINY + ["--no-fp32", "--no-torch", "--no-overhead"]) == 1


def test_bench_skips_missing_optional_peers(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def fake_import(name, *args, **kw):
        if name.split(".")[0] in ("torch", "matplotlib"):
            raise ImportError(f"No module named {name!r} (simulated)")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    res = G.run(TINY + ["--no-fp32", "--no-overhead", "--out", str(tmp_path)])
    assert res["failures"] == 0
    assert any("torch is not installed" in n for n in res["notes"])
    assert any("matplotlib is not installed" in n for n in res["notes"])
    assert not any(r.impl.startswith("torch") for r in res["rows"])
    assert (tmp_path / "gemm.md").exists() and not (tmp_path / "gemm.png").exists()
    assert "torch is not installed" in (tmp_path / "gemm.md").read_text()


def test_bench_rejects_bad_arguments():
    with pytest.raises(SystemExit):
        G.run(["--shapes", "4x4"])
    with pytest.raises(SystemExit):
        G.run(["--shapes", "0x4x4"])
    with pytest.raises(SystemExit):
        G.run(["--kernels", "no_such_kernel", "--shapes", "2x2x2"])


@pytest.mark.parametrize("isa", _lowp.peak_probe_isas())
def test_peak_probe_runs(isa):
    one = _lowp.peak_probe(isa, 0.02)
    assert np.isfinite(one) and one > 1.0  # GOP/s; any working core does far more than 1
    assert _lowp.peak_probe(isa, 0.02, 2) > 1.0


def test_peak_probe_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown peak-probe ISA"):
        _lowp.peak_probe("sse9", 0.01)
    isas = _lowp.peak_probe_isas()
    if isas:
        with pytest.raises(ValueError, match="seconds"):
            _lowp.peak_probe(isas[0], -1.0)
        with pytest.raises(ValueError, match="threads"):
            _lowp.peak_probe(isas[0], 0.01, 0)
    missing = [i for i in ("amx", "avx512vnni", "avx2") if i not in isas]
    for isa in missing:
        with pytest.raises(ValueError, match="does not support"):
            _lowp.peak_probe(isa, 0.01)
    with pytest.raises(TypeError):
        _lowp.peak_probe(3, 0.01)


def test_bench_models_one_small_model(tmp_path):
    """bench/bench_models.py's timing loop on a 16x16 test-set network: three runtimes interleaved,
    lowp's output compared with onnxruntime's (no timing asserted)."""
    import importlib.util

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location("bench_models", os.path.join(root, "bench", "bench_models.py"))
    bm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bm)
    qp = bm.B.build_quantized("mobilenetv3", str(tmp_path))
    fp = os.path.join(str(tmp_path), "mobilenetv3_float.onnx")
    times, mism, total = bm.bench_one(fp, qp, (3, 16, 16), threads=1, runs=2, warmup=1)
    assert set(times) == {"lowp", "ort_int8", "ort_f32"} and all(p50 >= mn > 0 for p50, mn in times.values())
    assert mism == 0 and total == 10
    assert bm.B.parse_variant("QOperator_pt_s8") == dict(fmt="QOperator", per_channel=False, act="s8")
    with pytest.raises(ValueError):
        bm.B.parse_variant("QDQ_xx_u8")


def test_gemm_threads_scaling_runs_both_outputs(capsys):
    """bench/gemm_threads.py (lowp's 2-thread / 1-thread scaling): one tiny shape, every output."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "gemm_threads.py")
    spec = importlib.util.spec_from_file_location("gemm_threads", path)
    gt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gt)
    for out in ("i32", "u8"):
        one, two = gt.scaling("24x48x64", "ref", out, rounds=1, calls=2)
        assert one > 0 and two > 0
    assert gt.main(["--kernel", "ref", "--shapes", "8x16x32"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[-1].startswith("| 8x16x32 |") and table[-1].count("x |") == 2
