"""The `lowp` command line on the bundled demo model: demo, info, run, compare, bench."""
import os
import time

import numpy as np
import pytest

import lowp
from lowp import cli

DEMO_DIR = os.path.join(os.path.dirname(lowp.__file__), "demo")
DEMO_MODEL = os.path.join(DEMO_DIR, "mnist_cnn_int8.onnx")


def test_demo_files_are_small_and_real():
    assert os.path.getsize(DEMO_MODEL) < 500_000
    assert os.path.getsize(os.path.join(DEMO_DIR, "mnist_test.npz")) < 1_000_000
    with np.load(os.path.join(DEMO_DIR, "mnist_test.npz")) as d:
        assert d["images"].shape == (1000, 1, 28, 28) and d["images"].dtype == np.uint8
        assert sorted(set(d["labels"].tolist())) == list(range(10))


def test_cli_demo(capsys):
    pytest.importorskip("onnxruntime")
    from lowp.demo import run_demo

    res = run_demo(batch=250, reps=2, out=lambda *a: None)
    assert res["accuracy"] > 0.95
    assert res["same_predictions"] == res["n"] == 1000
    assert res["bit_exact_images"] == 1000 and res["mismatching_values"] == 0
    assert cli.main(["demo", "--reps", "2", "--batch", "500"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "bit-exact outputs: 1000/1000" in out and "latency" in out


def test_cli_info(capsys):
    assert cli.main(["info", DEMO_MODEL]) == 0
    out = capsys.readouterr().out
    assert "lowp.QConv" in out and "integer kernel" in out and "parameters: 30,108" in out
    # MACs of the demo CNN: 3 convs + FC (independently computed from the architecture).
    macs = 28 * 28 * 16 * 9 + 14 * 14 * 32 * 16 * 9 + 7 * 7 * 32 * 32 * 9 + 10 * 32 * 7 * 7
    assert f"{macs:,}" in out


def test_cli_info_reports_unsupported(tmp_path, capsys):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    m = helper.make_model(helper.make_graph([helper.make_node("Hardmax", ["x"], ["y"], name="e")], "g", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 17)])
    p = tmp_path / "m.onnx"
    p.write_bytes(m.SerializeToString())
    assert cli.main(["info", str(p)]) == 1
    assert "UNSUPPORTED" in capsys.readouterr().out


def test_cli_run_and_compare(tmp_path, capsys):
    with np.load(os.path.join(DEMO_DIR, "mnist_test.npz")) as d:
        x = d["images"][:4].astype(np.float32) / np.float32(255)
        labels = d["labels"][:4]
    np.save(tmp_path / "x.npy", x)
    out_path = tmp_path / "y.npz"
    assert cli.main(["run", DEMO_MODEL, "--input", str(tmp_path / "x.npy"), "-o", str(out_path)]) == 0
    y = np.load(out_path)["logits"]
    np.testing.assert_array_equal(y, lowp.InferenceSession(DEMO_MODEL).run(None, {"image": x})[0])
    assert (y.argmax(1) == labels).sum() >= 3
    pytest.importorskip("onnxruntime")
    capsys.readouterr()
    assert cli.main(["compare", DEMO_MODEL, "--batch", "3", "--trials", "2"]) == 0
    assert "BIT-EXACT" in capsys.readouterr().out
    assert cli.main(["compare", DEMO_MODEL, "--batch", "2", "--trials", "1", "--all-tensors"]) == 0
    out = capsys.readouterr().out
    assert "comparing 9 tensors" in out and "BIT-EXACT" in out


def test_cli_bench_model(capsys):
    assert cli.main(["bench", DEMO_MODEL, "--runs", "5", "--warmup", "1", "--no-ort"]) == 0
    out = capsys.readouterr().out
    assert "p50" in out and "lowp" in out


def test_cli_bench_per_op_native_timer(capsys):
    assert cli.main(["bench", DEMO_MODEL, "--runs", "5", "--warmup", "1", "--no-ort", "--per-op"]) == 0
    out = capsys.readouterr().out
    assert "native program timer" in out and "QConv" in out and "lowp overhead" in out


def test_bench_takes_turns_by_block_with_an_untimed_first_run():
    log = []
    runners = {k: (lambda k=k: log.append(k)) for k in ("lowp", "ort")}
    times = cli._time_runs(runners, runs=5, block=2, interleave=False, settle=0)
    assert {k: len(v) for k, v in times.items()} == {"lowp": 5, "ort": 5}
    assert "".join(x[0] for x in log) == "lll" "ooo" "lll" "ooo" "ll" "oo"
    log.clear()
    times = cli._time_runs(runners, runs=3, block=2, interleave=True)
    assert "".join(x[0] for x in log) == "lo" * 3 and len(times["ort"]) == 3
    log.clear()
    t0 = time.perf_counter()
    cli._time_runs(runners, runs=2, block=1, interleave=False, settle=0.01)  # 4 blocks, 10 ms idle before each
    assert time.perf_counter() - t0 >= 0.04 and "".join(x[0] for x in log) == "lloo" * 2


def test_cli_bench_model_against_onnxruntime(capsys):
    pytest.importorskip("onnxruntime")
    assert cli.main(["bench", DEMO_MODEL, "--runs", "3", "--warmup", "1", "--block", "2", "--settle-ms", "1", "--ort-spin", "both",
                     "--threads", "2"]) == 0
    out = capsys.readouterr().out
    assert "blocks of 2 runs (each after 1 ms idle" in out and "ort no-spin" in out and "lowp / onnxruntime (p50)" in out
    assert cli.main(["bench", DEMO_MODEL, "--runs", "2", "--warmup", "0", "--interleave", "--no-ort"]) == 0
    assert "interleaved run by run" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["bench", DEMO_MODEL, "--block", "0"])


def test_cli_run_on_an_image(tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image")
    with np.load(os.path.join(DEMO_DIR, "mnist_test.npz")) as d:
        img, label = d["images"][0, 0], int(d["labels"][0])
    Image.fromarray(img).save(tmp_path / "digit.png")
    assert cli.main(["run", DEMO_MODEL, "--input", str(tmp_path / "digit.png")]) == 0
    out = capsys.readouterr().out
    assert f"argmax: [{label}]" in out
