"""score.runtime / score.precision auto: the probe's cache, int8 graphs made from normal frames and their check."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from alarm_fixtures import tiny_checkpoint
from ddlcore.alarm.events import Event
from ddlcore.alarm.int8_check import MAX_DEVIATION, compare
from ddlcore.cli.main import main
from ddlcore.data.framestore import write_frame_store
from ddlcore.errors import DDLError
from ddlcore.score import export as ex
from ddlcore.score import probe
from ddlcore.score.inference import load_model, window_scores
from ddlcore.score.quantize import check_file, int8_check, quantize_graphs, save_int8_check
from ddlcore.score.runtime import RuntimeModel, graph_files, runtime_model

torch.set_num_threads(1)
CPU = torch.device("cpu")


def _frames(n: int, seed: int) -> np.ndarray:
    """n 32x32 gray frames: a noisy background with a bright square moving across."""
    rng = np.random.default_rng(seed)
    frames = np.repeat(rng.integers(30, 200, (1, 32, 32, 1), dtype=np.uint8), n, axis=0)
    frames = np.clip(frames + rng.integers(0, 12, frames.shape), 0, 255).astype(np.uint8)
    for i in range(n):
        x = (3 * i) % 24
        frames[i, 10:18, x : x + 8] = 250
    return frames


@pytest.fixture(scope="module")
def quantised(tmp_path_factory):
    """A tiny C3DSU checkpoint with its float32 graphs exported and int8 graphs quantised on normal frames."""
    path = tiny_checkpoint(tmp_path_factory.mktemp("int8") / "m.pt")
    model, meta = load_model(path, CPU)
    quantize_graphs(model, meta, path, [_frames(40, 0)])
    return path


@pytest.fixture
def fast_probe(monkeypatch):
    """A probe of a few calls, and the list of the candidate sets it measured."""
    probed = []
    measure = probe.measure

    def counted(steps, seconds=0.0):
        probed.append(sorted(steps))
        return measure(steps, 0.0)

    monkeypatch.setattr(probe, "measure", counted)
    monkeypatch.setattr(probe, "PROBE_CALLS", (1, 2))
    monkeypatch.setattr(ex, "_ANNOUNCED", set())
    return probed


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_int8_scores_stay_close_to_float32(quantised, runtime):
    assert all(p.is_file() and p.parent.name == "m.int8" for p in graph_files(quantised, load_model(quantised, CPU)[1], "int8"))
    frames = _frames(30, 1)  # other frames than the quantiser saw
    fp32, _ = window_scores(load_model(quantised, CPU, runtime)[0], frames, 3, 8, True, 5, CPU, True)
    model, meta = load_model(quantised, CPU)
    int8 = runtime_model(model, meta, quantised, runtime, precision="int8")
    assert isinstance(int8, RuntimeModel) and int8.precision == "int8"
    scores, _ = window_scores(int8, frames, 3, 8, True, 5, CPU, True)
    assert not np.array_equal(scores, fp32)  # really another arithmetic
    np.testing.assert_allclose(scores, fp32, rtol=0.05)
    assert np.corrcoef(scores, fp32)[0, 1] > 0.95


def test_the_probe_is_cached_per_cpu_and_thread_count(quantised, fast_probe, capsys):
    model, meta = load_model(quantised, CPU)
    chosen = ex.scoring_model(model, meta, quantised, CPU, "auto")
    cache = json.loads(probe.probe_file(quantised).read_text())
    (key, entry), = cache["probes"].items()
    assert entry["threads"] == 1 and entry["cpu"] == probe.cpu_identity() and len(fast_probe) == 1
    assert set(entry["cpu_ms"]) == {"torch fp32", "onnxruntime fp32", "openvino fp32"}  # fp32 asked: no int8 candidate
    assert getattr(chosen, "runtime", "torch") + " fp32" == entry["chosen"]
    err = capsys.readouterr().err
    assert f"{entry['chosen']} for {quantised}" in err and "probe, CPU a frame: " in err
    ex.scoring_model(model, meta, quantised, CPU, "auto")  # the same CPU and threads: the cache answers
    assert len(fast_probe) == 1 and "probe" not in capsys.readouterr().err  # printed once per process
    ex.scoring_model(model, meta, quantised, CPU, "auto", threads=2)
    assert len(fast_probe) == 2 and len(json.loads(probe.probe_file(quantised).read_text())["probes"]) == 2
    assert "on 2 thread(s) (probe" in capsys.readouterr().err
    ex.scoring_model(model, meta, quantised, CPU, "onnxruntime")  # a runtime named: nothing to probe
    fixed = ex.scoring_model(model, meta, quantised, CPU, "auto", threads=3, probe=False)  # ddl score's fixed choice
    assert len(fast_probe) == 2 and fixed.runtime == "onnxruntime"


def test_a_corrupt_probe_cache_is_probed_again_with_one_note(quantised, fast_probe, capsys):
    model, meta = load_model(quantised, CPU)
    probe.probe_file(quantised).write_text("{not json")
    ex.scoring_model(model, meta, quantised, CPU, "auto")
    notes = [line for line in capsys.readouterr().err.splitlines() if "unreadable probe cache" in line]
    assert len(notes) == 1 and len(fast_probe) == 1
    assert json.loads(probe.probe_file(quantised).read_text())["probes"]


def test_cpu_identity_names_the_cpu_its_speed_flags_and_isa_limits(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n"
                       "processor\t: 1\nmodel name\t: Test CPU 9000\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n")
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert probe.cpu_identity(cpuinfo) == "Test CPU 9000; avx2 avx512f avx512_bf16; ONEDNN_MAX_CPU_ISA=AVX2"
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    assert probe.cpu_identity(cpuinfo) == "Test CPU 9000; avx2 avx512f avx512_bf16"
    assert probe.cpu_identity(tmp_path / "none").startswith("unknown CPU")


def _int8_made_fastest(monkeypatch):
    def measure(steps, seconds=0.0):  # a CPU on which int8 is fastest: what the choice does with that
        return {c: (1.0 if c[1] == "int8" else 5.0) + (c[0] == "openvino") for c in steps}

    monkeypatch.setattr(probe, "measure", measure)
    monkeypatch.setattr(ex, "_ANNOUNCED", set())


def test_auto_precision_takes_int8_only_where_its_check_passed(quantised, monkeypatch, capsys):
    _int8_made_fastest(monkeypatch)
    model, meta = load_model(quantised, CPU)
    figures = {"max_deviation": 0.001, "decisions_changed": 0, "same_events": True, "reason": "kept"}
    save_int8_check(quantised, {"runtimes": {"onnxruntime": {**figures, "passed": True},
                                             "openvino": {**figures, "passed": True}}, "passed": True})
    chosen = ex.scoring_model(model, meta, quantised, CPU, "auto", "auto")
    assert (chosen.runtime, chosen.precision) == ("onnxruntime", "int8")
    save_int8_check(quantised, {"runtimes": {"onnxruntime": {**figures, "passed": False, "reason": "events changed"},
                                             "openvino": {**figures, "passed": True}}, "passed": True})
    chosen = ex.scoring_model(model, meta, quantised, CPU, "auto", "auto")
    assert (chosen.runtime, chosen.precision) == ("openvino", "int8")  # int8 only where it passed
    save_int8_check(quantised, {"runtimes": {r: {**figures, "passed": False, "reason": "events changed"}
                                             for r in ("onnxruntime", "openvino")}, "passed": False})
    chosen = ex.scoring_model(model, meta, quantised, CPU, "auto", "auto")
    assert getattr(chosen, "precision", "fp32") == "fp32"  # failed everywhere: auto falls back to float32
    chosen = ex.scoring_model(model, meta, quantised, CPU, "onnxruntime", "int8")  # asked for: used, with a note
    assert chosen.precision == "int8" and "failed their accuracy check on onnxruntime (events changed)" in capsys.readouterr().err
    check_file(quantised).write_text("[")  # an unreadable record: no int8 for auto
    assert int8_check(quantised, meta) is None
    assert getattr(ex.scoring_model(model, meta, quantised, CPU, "auto", "auto"), "precision", "fp32") == "fp32"


def test_int8_needs_its_graphs_and_a_graph_runtime(tmp_path):
    path = tiny_checkpoint(tmp_path / "m.pt")
    model, meta = load_model(path, CPU)
    with pytest.raises(DDLError, match=r"no int8 graphs .*m\.int8/ .*ddl calibrate with score\.precision"):
        ex.scoring_model(model, meta, path, CPU, "onnxruntime", "int8")
    with pytest.raises(DDLError, match="int8 runs through onnxruntime or openvino, not torch"):
        ex.scoring_model(model, meta, path, CPU, "torch", "int8")
    with pytest.raises(DDLError, match="score.precision"):
        ex.scoring_model(model, meta, path, CPU, "torch", "fp16")
    assert ex.scoring_model(model, meta, path, CPU, "torch", "auto") is model  # nothing quantised: float32


def _scored(scores, events):
    return np.asarray(scores, float), [Event(start, end, start, 1.0) for start, end in events]


def test_the_check_fails_on_a_changed_decision_event_or_a_large_score_change():
    fp32 = [_scored([0.1, 0.2, 0.9, 0.3], [(2, 2)])]
    assert compare(fp32, [_scored([0.1, 0.2, 0.9, 0.3], [(2, 2)])], 0.5)["passed"]
    moved = compare(fp32, [_scored([0.1, 0.2 + MAX_DEVIATION, 0.9, 0.3], [(2, 2)])], 0.5)
    assert not moved["passed"] and "scores moved" in moved["reason"] and moved["decisions_changed"] == 0
    flipped = compare(fp32, [_scored([0.1, 0.2, 0.49, 0.3], [])], 0.5)
    assert not flipped["passed"] and flipped["decisions_changed"] == 1 and not flipped["same_events"]
    assert flipped["events_fp32"] == 1 and flipped["events_int8"] == 0


def test_ddl_calibrate_with_precision_auto_makes_and_checks_int8_graphs(quantised, tmp_path, capsys):
    path = tmp_path / "m.pt"  # the module's model with its float32 graphs (exporting is slow), no int8 yet
    path.write_bytes(quantised.read_bytes())
    shutil.copytree(quantised.with_suffix(".onnx"), path.with_suffix(".onnx"))
    store = tmp_path / "normal.h5"
    frames = _frames(48, 3)
    write_frame_store(store, iter(frames), len(frames), 32, 32, 1,
                      {"source": "n", "original_height": 32, "original_width": 32, "fps": 25, "video": "n"})
    settings = json.dumps({"score": {"patch": 8, "precision": "auto", "runtime": "onnxruntime"}})
    assert main(["calibrate", "--model", str(path), str(store), "--settings", settings]) == 0
    out = capsys.readouterr().out
    record = int8_check(path, load_model(path, CPU)[1])
    assert record is not None and set(record["runtimes"]) == {"onnxruntime", "openvino"}
    assert record["held_out_frames"] == 24 and record["quantiser_frames"] == 24
    assert "int8 graphs for score.precision auto (checked on 24 held-out frames): onnxruntime " in out
    assert all(0 <= r["max_deviation"] < 1 for r in record["runtimes"].values())
    fp32 = tmp_path / "fp32.pt"
    fp32.write_bytes(path.read_bytes())
    settings = json.dumps({"score": {"patch": 8, "runtime": "torch"}})
    assert main(["calibrate", "--model", str(fp32), str(store), "--settings", settings]) == 0
    assert not fp32.with_suffix(".int8").exists()  # fp32 (the default): nothing quantised
