"""The change gate (``score.gate``): still windows are not scored and take the last scored window's score;
the noise level is fitted on calibration footage; offline and live gate the same windows."""

from __future__ import annotations

import json
from dataclasses import replace

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from alarm_fixtures import calibrated_copy, frame_store, to_model_frames
from ddlcore.alarm.calibration import (apply_calibration, gated_calibration, load_calibration, save_calibration,
                                       sidecar_path)
from ddlcore.config import load_config
from ddlcore.live.scorer import LiveScorer
from ddlcore.score.gate import CELL, GATE_SIGMAS, MIN_LEVEL, fit_gate_level, frame_cells, scored_windows
from ddlcore.score.inference import load_model
from ddlcore.score.settings import ScoreSettings

torch.set_num_threads(1)
CPU = torch.device("cpu")
SETTINGS = {"score": {"patch": 8, "runtime": "torch"}, "alarm": {"false_alarms_per_hour": 600.0}}


def still_footage(n: int, noise: float, seed: int = 0, size: tuple[int, int] = (64, 96)) -> np.ndarray:
    """uint8 (n, H, W, 1): one textured scene, each frame with fresh Gaussian pixel noise of std ``noise``."""
    rng = np.random.default_rng(seed)
    scene = rng.uniform(40, 200, size)
    return np.clip(scene + rng.normal(0, noise, (n, *size)), 0, 255).round().astype(np.uint8)[..., None]


def with_square(frames: np.ndarray, first: int, last: int, value: int = 255) -> np.ndarray:
    """``frames`` with a 6x6 square moving right by 2 px a frame over frames first .. last."""
    out = frames.copy()
    for i in range(first, last + 1):
        x = 4 + 2 * (i - first)
        out[i, 20:26, x : x + 6] = value
    return out


def test_noise_level_follows_the_cameras_noise_and_has_a_floor():
    assert fit_gate_level([still_footage(40, 0.0)]) == MIN_LEVEL
    # pixel noise sigma averages over a cell to sigma / CELL; a difference of two frames has sqrt(2) times that
    noisy = fit_gate_level([still_footage(60, 8.0)])
    expected = GATE_SIGMAS * 8.0 / CELL * np.sqrt(2)
    assert expected * 0.85 < noisy < expected * 1.15
    # a moving object in a few cells leaves the median (the noise) where it was
    moving = fit_gate_level([with_square(still_footage(60, 8.0), 5, 40)])
    assert abs(moving - noisy) < 0.1 * noisy


def test_flicker_leaves_the_level_alone_but_a_brightness_change_is_a_change():
    rng = np.random.default_rng(3)
    still = still_footage(120, 2.0)
    gains = 1 + 0.02 * rng.standard_normal(len(still))
    flicker = np.clip(still * gains[:, None, None, None], 0, 255).round().astype(np.uint8)
    # the level is the sensor's noise, the gain taken out: a flickering camera's is a still one's
    assert abs(fit_gate_level([flicker]) - fit_gate_level([still])) < 0.15 * fit_gate_level([still])
    level = fit_gate_level([still])
    assert scored_windows(still, 3, level).sum() <= 3, "noise alone scores (almost) nothing"
    # a brightness change is a change of the model's input: scored beyond the level, whatever its cause
    assert scored_windows(flicker, 3, level).sum() > len(flicker) / 3
    lit = still.copy()
    lit[60:] = np.clip(lit[60:] * 1.1, 0, 255).astype(np.uint8)
    assert scored_windows(lit, 3, level)[58:61].all(), "the lights going on are a change"


def test_still_windows_are_gated_and_motion_is_scored():
    clip = 3
    frames = with_square(still_footage(60, 4.0), 30, 40)
    level = fit_gate_level([still_footage(60, 4.0, seed=1)])
    scored = scored_windows(frames, clip, level)
    assert scored[0], "the first window has nothing to be compared with"
    # every window holding a frame with the square differs from the last scored one, still windows do not
    moving = np.array([any(30 <= j + k <= 40 for k in range(clip)) for j in range(len(scored))])
    assert scored[moving].all()
    # of the still windows, the first and the first after the square left (it differs from the last scored)
    assert np.flatnonzero(scored & ~moving).tolist() == [0, 41]
    assert scored_windows(frames, clip, None).all(), "no level: no gate"


def test_slow_drift_cannot_accumulate_unscored():
    # a dark square brightening by 0.25 gray levels a frame: consecutive frames differ by less than the level,
    # but a window is scored each time the change since the last scored window exceeds it
    frames = np.full((200, 32, 32, 1), 100, np.uint8)
    for i in range(200):
        frames[i, 8:16, 8:16] = 20 + round(0.25 * i)
    scored = scored_windows(frames, 3, MIN_LEVEL)
    drift = 0.25 * 200
    assert 0.5 * drift / MIN_LEVEL <= scored.sum() <= drift / MIN_LEVEL + 1
    assert np.diff(np.flatnonzero(scored)).max() <= 2 * MIN_LEVEL / 0.25 + 1


def test_region_of_interest_hides_motion_outside_it():
    frames = with_square(still_footage(40, 0.0), 10, 20)
    roi = np.ones(frames.shape[1:3], bool)
    roi[:, :] = False
    roi[40:, :] = True  # the square moves in rows 20..25: outside
    assert scored_windows(frames, 3, MIN_LEVEL, roi).sum() == 1
    assert frame_cells(frames[:1], roi)[0, : 40 // CELL].max() == 0


@pytest.fixture(scope="module")
def calibrated(alarm_scene, tmp_path_factory):
    """(model path with its calibration sidecar, calibration, config)."""
    return calibrated_copy(alarm_scene, tmp_path_factory.mktemp("gate"), SETTINGS)


def still_stretches(frames: np.ndarray) -> np.ndarray:
    """RGB footage (N, h, w, 3) with two still stretches: frames 40 and 120 each repeated 30 times."""
    return np.concatenate([frames[:40], np.repeat(frames[40:41], 30, axis=0), frames[40:120],
                           np.repeat(frames[120:121], 30, axis=0), frames[120:200]])


def test_calibration_stores_the_gate_level_and_an_old_file_loads_without_it(calibrated, tmp_path, capsys):
    model_path, calibration, _ = calibrated
    assert calibration.gate_level is not None and calibration.gate_level >= MIN_LEVEL
    assert load_calibration(sidecar_path(model_path)).gate_level == pytest.approx(calibration.gate_level)
    capsys.readouterr()
    old = tmp_path / "old.alarm.h5"
    save_calibration(calibration, old)
    with h5py.File(old, "a") as f:
        del f.attrs["gate_level"]
    loaded = load_calibration(old)
    lines = capsys.readouterr().err.strip().splitlines()
    assert loaded.gate_level is None
    assert len(lines) == 1 and "change gate" in lines[0] and str(old) in lines[0]


def test_a_gated_window_has_the_score_it_would_have_had(alarm_scene, calibrated):
    # levels below any change: only the windows inside the still stretches (frames repeated exactly) are gated,
    # and their input is exactly their reference's, so their scores are those of every window scored
    model_path, calibration, cfg = calibrated
    exact = replace(calibration, gate_level=1e-3)
    frames = to_model_frames(still_stretches(alarm_scene["test"]))
    model, _ = load_model(model_path, CPU)
    score = ScoreSettings.from_config(cfg)
    scores, _, events, scored = gated_calibration(model, frames, exact, score, CPU)
    assert (~scored).sum() == 2 * (30 - exact.clip + 1)
    plain, _, plain_events = apply_calibration(model, frames, exact, replace(score, gate=False), CPU)
    np.testing.assert_allclose(scores, plain, rtol=1e-5, atol=1e-7)
    assert [(e.start, e.end) for e in events] == [(e.start, e.end) for e in plain_events]


def test_live_equals_offline_with_the_gate(alarm_scene, calibrated):
    model_path, calibration, cfg = calibrated
    frames = still_stretches(alarm_scene["test"])
    model, meta = load_model(model_path, CPU)
    score = ScoreSettings.from_config(cfg)
    scores, boxes, events, scored = gated_calibration(model, to_model_frames(frames), calibration, score, CPU)
    stretches = 2 * (30 - calibration.clip + 1)
    assert score.gate and stretches <= (~scored).sum() < len(scored) - 50, "the still stretches are gated, not all"
    scorer = LiveScorer(model, meta, calibration, score, CPU)
    live = np.full(len(frames), np.nan)
    live_boxes = np.full((len(frames), 4), -1)
    live_gated = np.zeros(len(frames), bool)
    ended = []
    for frame in frames:
        result = scorer.push(frame)
        if result is not None:
            live[result.frame], live_boxes[result.frame] = result.score, result.box
            live_gated[result.frame] = result.gated
            ended += [e for kind, e in result.changes if kind == "end"]
    ended += [e for _, e in scorer.finish()]
    half = calibration.latency
    assert np.array_equal(live_gated[half : half + len(scored)], ~scored)
    has_score = np.isfinite(scores)
    assert np.array_equal(np.isfinite(live), has_score)
    np.testing.assert_allclose(live[has_score], scores[has_score], rtol=1e-4, atol=1e-6)
    assert np.array_equal(live_boxes[has_score], boxes[has_score])
    assert [(e.start, e.end, e.peak_frame) for e in ended] == [(e.start, e.end, e.peak_frame) for e in events]


def test_gate_off_scores_every_window(alarm_scene, calibrated):
    model_path, calibration, _ = calibrated
    model, meta = load_model(model_path, CPU)
    off = ScoreSettings.from_config(load_config(None, json.dumps({"score": {"gate": False}})))
    scorer = LiveScorer(model, meta, calibration, off, CPU)
    results = [scorer.push(f) for f in still_stretches(alarm_scene["test"])[:80]]
    assert not any(r.gated for r in results if r is not None)


def test_cli_score_says_how_many_windows_were_gated(alarm_scene, calibrated, tmp_path, capsys):
    import cv2

    from ddlcore.cli.main import main

    model_path, calibration, cfg = calibrated
    frames = to_model_frames(still_stretches(alarm_scene["test"]))
    store = frame_store(tmp_path / "v.h5", frames, "v", alarm_scene["fps"])
    out = tmp_path / "live.h5"
    settings = json.dumps(SETTINGS)
    main(["score", "--settings", settings, "--model", str(model_path), "--calibration", str(sidecar_path(model_path)),
          "--frames", str(store), "--out", str(out)])
    printed = capsys.readouterr().out
    with h5py.File(out, "r") as f:
        gated = int(f.attrs["gated_windows"])
        per_frame = f["videos/v/gated"][:]
        assert f.attrs["windows"] == len(frames) - calibration.clip + 1
    assert gated >= 50 and per_frame.sum() == gated and f"{gated} of " in printed
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:04d}.png"), frame[..., 0])
    csv = tmp_path / "s.csv"
    main(["score", "--settings", settings, "--model", str(model_path), str(folder), "--out-csv", str(csv)])
    table = pd.read_csv(csv)
    assert table["gated"].sum() == gated and table["gated"].isna().sum() == 2 * calibration.latency


def test_watch_stats_and_summary_lines_say_how_many_windows_were_gated(alarm_scene, calibrated, tmp_path, capsys):
    import cv2

    from ddlcore.cli.main import main

    model_path, _, _ = calibrated
    frames = still_stretches(alarm_scene["test"])
    video = tmp_path / "camera.avi"  # played at its own rate: 100 frames/s keeps the test short
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 100, (frames.shape[2], frames.shape[1]))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    settings = {**SETTINGS, "live": {"stats_every_s": 0.5, "max_backlog": 100000}}
    assert main(["watch", str(video), "--model", str(model_path), "--events", str(tmp_path / "events.jsonl"),
                 "--settings", json.dumps(settings)]) == 0
    err = capsys.readouterr().err.splitlines()
    stats = [json.loads(line.split(": ", 1)[1]) for line in err if line.startswith("stats: ")]
    (summary,) = [json.loads(line.split(": ", 1)[1]) for line in err if line.startswith("summary: ")]
    assert stats and all("gated" in s and "gated_share" in s for s in stats)
    # MJPG is lossy: the repeated frames decode alike, so the still stretches are gated
    assert summary["gated"] >= 40 and 0 < summary["gated_share"] < 1
    assert summary["gated_share"] == round(summary["gated"] / summary["scored"], 3)


def test_a_batch_of_cameras_gates_each_camera_on_its_own(alarm_scene, calibrated):
    # one camera still for stretches, one not: in the same model calls, each gets its own offline scores
    from ddlcore.live.scorer import BatchScorer

    model_path, calibration, cfg = calibrated
    model, meta = load_model(model_path, CPU)
    score = ScoreSettings.from_config(cfg)
    cameras = [still_stretches(alarm_scene["test"])[:150], alarm_scene["test"][100:250]]
    offline = [gated_calibration(model, to_model_frames(frames), calibration, score, CPU) for frames in cameras]
    batch = BatchScorer(model, meta, [calibration, calibration], score, CPU)
    live = [np.full(150, np.nan), np.full(150, np.nan)]
    gated = [np.zeros(150, bool), np.zeros(150, bool)]
    for i in range(150):
        for source, result in enumerate(batch.push([cameras[0][i], cameras[1][i]])):
            if result is not None:
                live[source][result.frame], gated[source][result.frame] = result.score, result.gated
    half = calibration.latency
    for source, (scores, _, _, scored) in enumerate(offline):
        assert np.array_equal(gated[source][half : half + len(scored)], ~scored)
        has_score = np.isfinite(scores)
        np.testing.assert_allclose(live[source][has_score], scores[has_score], rtol=1e-4, atol=1e-6)
    assert (~offline[0][3]).sum() > (~offline[1][3]).sum()
