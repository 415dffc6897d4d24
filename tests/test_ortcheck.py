"""lowp._ortcheck: telling whether onnxruntime's int8 products are exact on this CPU (no VNNI:
vpmaddubsw clips pairs of uint8 x int8 products at int16), and the note lowp's demo / compare print."""
import numpy as np
import pytest

from lowp import _ortcheck


class _FakeOrt:
    """Stands in for the onnxruntime module: its MatMulInteger either exact or with int16-saturated pairs."""

    def __init__(self, saturate):
        self.saturate = saturate
        self.calls = 0
        fake = self

        class SessionOptions:
            intra_op_num_threads = 0
            log_severity_level = 2

        class InferenceSession:
            def __init__(self, data, so, providers):
                import onnx

                model = onnx.load_from_string(data)
                self.b = onnx.numpy_helper.to_array(model.graph.initializer[0]).astype(np.int64)

            def run(self, names, feeds):
                fake.calls += 1
                a = feeds["A"].astype(np.int64)
                if not fake.saturate:
                    return [a @ self.b]
                pairs = a.reshape(1, -1, 2)[0][:, :, None] * self.b.reshape(-1, 2, self.b.shape[1])  # [K/2, 2, N]
                return [np.clip(pairs.sum(1), -32768, 32767).sum(0)[None, :].astype(np.int32)]

        self.SessionOptions = SessionOptions
        self.InferenceSession = InferenceSession


def test_saturation_detected_only_when_pairs_clip():
    exact, clipping = _FakeOrt(False), _FakeOrt(True)
    assert _ortcheck.ort_int8_saturates(exact) is False
    assert _ortcheck.ort_int8_saturates(clipping) is True
    # Checked once per runtime module and process.
    assert _ortcheck.ort_int8_saturates(clipping) is True and clipping.calls == 1


def test_installed_onnxruntime_agrees_with_its_own_matmulinteger():
    ort = pytest.importorskip("onnxruntime")
    data, b = _ortcheck._saturation_model()
    a = np.full((1, 64), 255, np.uint8)
    got = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"A": a})[0]
    exact = a.astype(np.int64) @ b.astype(np.int64)
    assert exact.tolist() == [[64 * 255 * 127, -64 * 255 * 128]]
    assert _ortcheck.ort_int8_saturates(ort) == (not np.array_equal(got, exact))


def test_demo_prints_the_note_only_where_onnxruntime_clips(monkeypatch):
    pytest.importorskip("onnxruntime")
    import lowp.demo as demo

    for clips in (False, True):
        monkeypatch.setattr(_ortcheck, "_check", lambda ort, clips=clips: clips)
        lines = []
        res = demo.run_demo(reps=1, out=lines.append)
        assert res["ort_int8_saturates"] is clips
        assert (_ortcheck.NOTE in lines) is clips


def test_compare_prints_the_note_only_where_onnxruntime_clips(monkeypatch, capsys):
    pytest.importorskip("onnxruntime")
    import lowp.demo as demo
    from lowp import cli

    for clips in (False, True):
        monkeypatch.setattr(_ortcheck, "_check", lambda ort, clips=clips: clips)
        assert cli.main(["compare", demo.MODEL_PATH, "--trials", "1"]) == 0
        assert (_ortcheck.NOTE in capsys.readouterr().out) is clips
