"""Inference runtimes (score.runtime) and the batched live scorer: same scores as PyTorch float32, graph cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from alarm_fixtures import tiny_checkpoint
from ddlcore.alarm.calibration import Calibration
from ddlcore.alarm.settings import AlarmSettings
from ddlcore.cli.main import main
from ddlcore.config import load_config
from ddlcore.data.framestore import write_frame_store
from ddlcore.errors import DDLError
from ddlcore.score.inference import load_model, window_scores
from ddlcore.live.scorer import BatchScorer, LiveScorer
from ddlcore.score import export as ex
from ddlcore.score import runtime as rt
from ddlcore.score.export import export_model, scoring_model
from ddlcore.score.scores_io import read_scores
from ddlcore.score.settings import ScoreSettings

torch.set_num_threads(1)
CPU = torch.device("cpu")
RUNTIMES = ["onnxruntime", "openvino"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny C3DSU checkpoint whose ONNX graphs are exported once for the module's tests (``ddl export``)."""
    path = tiny_checkpoint(tmp_path_factory.mktemp("runtime") / "m.pt")
    assert main(["export", "--model", str(path)]) == 0
    assert export_model(path) == path.with_suffix(".onnx") and len(list(path.with_suffix(".onnx").iterdir())) == 2
    return path


def _frames(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frames = np.repeat(rng.integers(30, 200, (1, 32, 32, 1), dtype=np.uint8), n, axis=0)
    for i in range(n):  # a bright square moving across a noisy background
        x = (3 * i) % 24
        frames[i, 10:18, x : x + 8] = 250
    return frames


@pytest.mark.parametrize("share_encoder", [True, False])
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_runtime_frame_scores_match_torch_float32(exported, runtime, share_encoder):
    frames = _frames(23, 0)
    reference, _ = load_model(exported, CPU, "torch")
    model, _ = load_model(exported, CPU, runtime)
    assert isinstance(model, rt.RuntimeModel) and model.runtime == runtime
    expected, maps_expected = window_scores(reference, frames, 3, 8, True, 5, CPU, share_encoder, map_stride=4)
    scores, maps = window_scores(model, frames, 3, 8, True, 5, CPU, share_encoder, map_stride=4)
    assert scores.shape == expected.shape == (21,)
    np.testing.assert_allclose(scores, expected, rtol=1e-4)
    np.testing.assert_allclose(maps.astype(np.float32), maps_expected.astype(np.float32), rtol=1e-3, atol=1e-4)


def test_ddl_score_through_each_runtime_gives_the_torch_scores_and_says_which_ran(exported, tmp_path):
    frames = _frames(30, 2)
    store = tmp_path / "v.h5"
    write_frame_store(store, iter(frames), len(frames), 32, 32, 1,
                      {"source": "v", "original_height": 32, "original_width": 32, "fps": 25, "video": "v"})
    found = {}
    for runtime in ["torch", *RUNTIMES]:
        out = tmp_path / f"{runtime}.h5"
        settings = json.dumps({"score": {"patch": 8, "runtime": runtime}})
        assert main(["score", "--model", str(exported), "--frames", str(store), "--out", str(out), "--settings", settings]) == 0
        attrs, videos = read_scores(out)
        assert attrs["runtime"] == runtime
        found[runtime] = videos["v"]["score"]
    for runtime in RUNTIMES:
        np.testing.assert_allclose(found[runtime], found["torch"], rtol=1e-4)


def test_graphs_are_cached_beside_the_model_and_rebuilt_when_it_changes(tmp_path, monkeypatch):
    exports = []

    def fake_export(module, example, out):  # records what would be exported; the graph content is not at stake
        exports.append(out.name)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(b"graph")

    monkeypatch.setattr(ex, "_export", fake_export)
    path = tiny_checkpoint(tmp_path / "m.pt")
    with pytest.raises(DDLError, match=r"m\.pt: no onnxruntime graphs exported .*run ddl export --model"):
        load_model(path, CPU, "onnxruntime")  # loading never exports
    model, meta = load_model(path, CPU)
    first = ex.export_graphs(model, meta, path)
    assert [p.parent for p in first] == [tmp_path / "m.onnx"] * 2 and len(exports) == 2
    assert ex.export_graphs(model, meta, path) == first and len(exports) == 2  # cached: no second export
    assert rt.graph_files(path, meta) == first
    assert scoring_model(model, meta, path, CPU, "torch") is model and len(exports) == 2  # torch runs no graph
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    torch.save({**torch.load(path, weights_only=True), "state_dict": model.state_dict()}, path)  # "retrained"
    second = ex.export_graphs(model, meta, path)
    assert second != first and len(exports) == 4
    assert sorted((tmp_path / "m.onnx").iterdir()) == sorted(second)  # the stale graphs are gone
    other = ex.export_graphs(model, {**meta, "height": 64}, path)  # another input shape, another key
    assert other != second and "1x64x32" in other[0].name


def test_resolve_runtime_auto_and_errors():
    assert rt.resolve_runtime("auto", CPU) == rt.AUTO_RUNTIME["cpu"]
    assert rt.resolve_runtime("auto", torch.device("cuda")) == "torch"
    assert rt.resolve_runtime("openvino", CPU) == "openvino"
    with pytest.raises(DDLError, match="score.runtime"):
        rt.resolve_runtime("tensorrt", CPU)
    with pytest.raises(DDLError, match="runs on the CPU"):
        rt.resolve_runtime("onnxruntime", torch.device("cuda"))


def test_runtime_config_default_is_auto():
    assert load_config(None, "{}")["score"]["runtime"] == "auto"


def _calibration(path, threshold: float, background: np.ndarray | None) -> Calibration:
    alarm = AlarmSettings.from_config(load_config(None, "{}"))
    return Calibration(str(path), threshold, 25.0, 3, alarm, {"patch": 8, "shifted_grid": True}, background,
                       {"normal": np.zeros(1, np.float32)})


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
def test_batch_scorer_equals_one_scorer_per_source(exported, runtime):
    """Three cameras scored in one batched call give each camera's results of a scorer of its own."""
    model, meta = load_model(exported, CPU, runtime)
    score = ScoreSettings.from_config(load_config(None, "{}"))
    rng = np.random.default_rng(1)
    calibrations = [_calibration(exported, 1e9, None), _calibration(exported, 0.0, None),
                    _calibration(exported, 0.0, rng.uniform(0, 0.05, (32, 32)).astype(np.float32))]
    videos = [_frames(14, seed) for seed in range(3)]
    # camera 1 misses frame 5 (None): its later frames keep their own count; camera 2 starts late
    pushes = [[v[t] if not (cam == 1 and t == 5) and not (cam == 2 and t < 4) else None for cam, v in enumerate(videos)]
              for t in range(14)]
    batch = BatchScorer(model, meta, calibrations, score, CPU)
    singles = [LiveScorer(model, meta, c, score, CPU) for c in calibrations]
    for frames in pushes:
        batched = batch.push(frames)
        for cam, frame in enumerate(frames):
            alone = singles[cam].push(frame) if frame is not None else None
            assert (batched[cam] is None) == (alone is None)
            if alone is not None:
                got = batched[cam]
                assert (got.frame, got.box, got.alarmed) == (alone.frame, alone.box, alone.alarmed)
                assert got.score == pytest.approx(alone.score, rel=1e-5)
                assert [(k, e.start) for k, e in got.changes] == [(k, e.start) for k, e in alone.changes]
    assert [batch.pushed(cam) for cam in range(3)] == [14, 13, 10]
    assert batch.finish(1) and batch.finish(2)  # threshold 0: the alarmed cameras have an open event to close
    assert not batch.finish(0)
    with pytest.raises(DDLError, match="2 frames given for 3 sources"):
        batch.push([None, None])


def test_runtime_model_needs_encode_decode(tmp_path):
    with pytest.raises(DDLError, match="encode/decode"):
        rt.runtime_model(torch.nn.Linear(2, 2), {}, tmp_path / "n.pt", "onnxruntime")


SIGNAL_AFTER_OPENVINO = """
import gc, os, signal, sys
from pathlib import Path
from ddlcore.score.runtime import openvino_runner
from ddlcore.score.signal_stack import current_signal_stack

before = current_signal_stack()
first, second = (openvino_runner(Path(p), 1) for p in sys.argv[1:3])
assert current_signal_stack() == before, (before, current_signal_stack())
del first  # freed before the model compiled after it, as a runtime model's graphs may be
gc.collect()
del second
gc.collect()
assert current_signal_stack() == before, (before, current_signal_stack())
handled = []
signal.signal(signal.SIGUSR1, lambda *_: handled.append(1))
os.kill(os.getpid(), signal.SIGUSR1)
assert handled == [1]
print("handled")
"""


def test_a_signal_after_openvino_models_are_freed_is_handled(exported, tmp_path):
    """OpenVINO replaces the compiling thread's signal stack; freed out of order, its models left a freed one
    installed and the next handled signal crashed the process (the CI run's segmentation fault)."""
    import subprocess
    import sys

    encoder, decoder = sorted(rt.graph_folder(exported).glob("*.onnx"))[:2]
    run = subprocess.run([sys.executable, "-X", "faulthandler", "-c", SIGNAL_AFTER_OPENVINO, str(encoder), str(decoder)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "handled", (run.returncode, run.stderr[-2000:])
