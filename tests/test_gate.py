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
from ddlcore.errors import DDLError
from ddlcore.score.gate import (CELL, HISTOGRAM_BINS, MIN_NOISE, NOISE_CEILING, NOISE_QUANTILE, fit_gate_noise,
                                  frame_cells, gate_levels, scored_windows)
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


def noisy_regions(n: int, quiet: float, noisy: float, seed: int = 0, size: tuple[int, int] = (64, 96)) -> np.ndarray:
    """uint8 (n, H, W, 1): ``still_footage`` with pixel noise of std ``quiet``, except a noisy top-left quarter
    (rows :H/2, columns :W/2) whose noise has std ``noisy``."""
    rng = np.random.default_rng(seed)
    scene = rng.uniform(40, 200, size)
    std = np.full(size, quiet)
    std[: size[0] // 2, : size[1] // 2] = noisy
    return np.clip(scene + rng.normal(0, 1, (n, *size)) * std, 0, 255).round().astype(np.uint8)[..., None]


def cell_noise(pixel_std: float) -> float:
    """The noise a cell of Gaussian pixel noise of std ``pixel_std`` should get: NOISE_QUANTILE of |a - b|, a and
    b cell means (std pixel_std / CELL each)."""
    from scipy.stats import norm

    return float(norm.ppf(0.5 + NOISE_QUANTILE / 2) * np.sqrt(2) * pixel_std / CELL)


def test_noise_map_follows_each_cells_noise_between_a_floor_and_a_ceiling():
    assert np.all(fit_gate_noise([still_footage(40, 0.0)]) == MIN_NOISE), "no noise: the lowest noise"
    noise = fit_gate_noise([noisy_regions(200, 2.0, 3.4)])
    assert noise.shape == (64 // CELL, 96 // CELL) and noise.dtype == np.float32
    quiet, noisy = noise[8:, 12:], noise[:8, :12]
    assert abs(np.median(quiet) - cell_noise(2.0)) < 0.15 * cell_noise(2.0)
    assert abs(np.median(noisy) - cell_noise(3.4)) < 0.15 * cell_noise(3.4)
    assert quiet.min() >= np.median(quiet), "no cell is taken as quieter than the typical one"
    # a region far noisier than the rest is held at NOISE_CEILING x the typical cell: it cannot hide an object
    loud = fit_gate_noise([noisy_regions(120, 2.0, 20.0)])
    assert np.allclose(loud[:8, :12], NOISE_CEILING * np.median(loud[8:, 12:]))
    # a moving object crossing a few cells in a fifth of the frames leaves their noise alone
    plain = fit_gate_noise([still_footage(120, 4.0)])
    moving = fit_gate_noise([with_square(still_footage(120, 4.0), 5, 40)])
    path = (slice(20 // CELL, 26 // CELL), slice(4 // CELL, 80 // CELL))
    assert np.abs(moving[path] - plain[path]).max() <= 0.2 * np.median(plain)
    assert abs(np.median(moving) - np.median(plain)) <= 1 / HISTOGRAM_BINS


def test_a_quiet_cells_change_below_the_noisy_cells_level_is_scored_and_noise_alone_is_gated():
    # a margin far in the noise's tail (10 standard deviations of a cell's change), so that the test is about the
    # map, not about the noise's tail
    levels = gate_levels(fit_gate_noise([noisy_regions(300, 1.5, 3.0, seed=1)]), 8.0)
    quiet_level, noisy_level = float(np.median(levels[8:, 12:])), float(np.median(levels[:8, :12]))
    assert noisy_level > 1.7 * quiet_level
    frames = noisy_regions(80, 1.5, 3.0, seed=2)
    assert scored_windows(frames, 3, levels).sum() <= 2, "noise alone scores (almost) nothing, in either region"
    step = 1.05 * quiet_level  # above the quiet cells' level, below the noisy cells'
    in_quiet, in_noisy = frames.astype(np.float32), frames.astype(np.float32)
    in_quiet[40:52, 48:56, 64:72] += step  # 2 x 2 cells of the quiet region brighten for frames 40 .. 51
    in_noisy[40:52, 8:16, 16:24] += step  # the same in the noisy region
    scored = scored_windows(in_quiet.round().astype(np.uint8), 3, levels)
    assert scored[38:41].any() and scored[50:53].any(), "the quiet cells' change is scored, and its end"
    assert scored_windows(in_noisy.round().astype(np.uint8), 3, levels).sum() <= 2, "within the noisy cells' noise"


def test_flicker_leaves_the_noise_alone_but_a_brightness_change_is_a_change():
    rng = np.random.default_rng(3)
    still = still_footage(120, 2.0)
    gains = 1 + 0.02 * rng.standard_normal(len(still))
    flicker = np.clip(still * gains[:, None, None, None], 0, 255).round().astype(np.uint8)
    # the noise is the sensor's, the gain taken out: a flickering camera's is a still one's
    typical = np.median(fit_gate_noise([still]))
    assert abs(np.median(fit_gate_noise([flicker])) - typical) < 0.15 * typical
    levels = gate_levels(fit_gate_noise([still]), 8.0)
    assert scored_windows(still, 3, levels).sum() <= 3, "noise alone scores (almost) nothing"
    # a brightness change is a change of the model's input: scored beyond the level, whatever its cause
    assert scored_windows(flicker, 3, levels).sum() > len(flicker) / 3
    lit = still.copy()
    lit[60:] = np.clip(lit[60:] * 1.1, 0, 255).astype(np.uint8)
    assert scored_windows(lit, 3, levels)[58:61].all(), "the lights going on are a change"


def test_still_windows_are_gated_and_motion_is_scored():
    clip = 3
    frames = with_square(still_footage(60, 4.0), 30, 40)
    levels = gate_levels(fit_gate_noise([still_footage(60, 4.0, seed=1)]), 8.0)
    scored = scored_windows(frames, clip, levels)
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
    level = 1.0
    scored = scored_windows(frames, 3, np.full((32 // CELL, 32 // CELL), level, np.float32))
    drift = 0.25 * 200
    assert 0.5 * drift / level <= scored.sum() <= drift / level + 1
    assert np.diff(np.flatnonzero(scored)).max() <= 2 * level / 0.25 + 1


def test_region_of_interest_hides_motion_outside_it():
    frames = with_square(still_footage(40, 0.0), 10, 20)
    roi = np.ones(frames.shape[1:3], bool)
    roi[:, :] = False
    roi[40:, :] = True  # the square moves in rows 20..25: outside
    assert scored_windows(frames, 3, np.ones((64 // CELL, 96 // CELL), np.float32), roi).sum() == 1
    assert frame_cells(frames[:1], roi)[0, : 40 // CELL].max() == 0


@pytest.fixture(scope="module")
def calibrated(alarm_scene, tmp_path_factory):
    """(model path with its calibration sidecar, calibration, config)."""
    return calibrated_copy(alarm_scene, tmp_path_factory.mktemp("gate"), SETTINGS)


def still_stretches(frames: np.ndarray) -> np.ndarray:
    """RGB footage (N, h, w, 3) with two still stretches: frames 40 and 120 each repeated 30 times."""
    return np.concatenate([frames[:40], np.repeat(frames[40:41], 30, axis=0), frames[40:120],
                           np.repeat(frames[120:121], 30, axis=0), frames[120:200]])


def test_calibration_stores_the_noise_map_and_an_old_file_loads_without_it(calibrated, tmp_path, capsys):
    model_path, calibration, _ = calibrated
    h, w, _ = calibration.size
    assert calibration.gate_noise.shape == (h // CELL, w // CELL) and calibration.gate_noise.min() >= MIN_NOISE
    assert np.array_equal(load_calibration(sidecar_path(model_path)).gate_noise, calibration.gate_noise)
    capsys.readouterr()
    old = tmp_path / "old.alarm.h5"  # a calibration of the first gate: one level for every cell
    save_calibration(calibration, old)
    with h5py.File(old, "a") as f:
        del f["gate_noise"]
        f.attrs["gate_level"] = 1.0
    loaded = load_calibration(old)
    lines = capsys.readouterr().err.strip().splitlines()
    assert loaded.gate_noise is None and loaded.threshold == calibration.threshold
    assert len(lines) == 1 and "change gate" in lines[0] and str(old) in lines[0]
    damaged = tmp_path / "damaged.alarm.h5"
    save_calibration(replace(calibration, gate_noise=calibration.gate_noise[:, :-1]), damaged)
    with pytest.raises(DDLError, match="noise map"):
        load_calibration(damaged)


def test_a_gated_window_has_the_score_it_would_have_had(alarm_scene, calibrated):
    # levels below any change: only the windows inside the still stretches (frames repeated exactly) are gated,
    # and their input is exactly their reference's, so their scores are those of every window scored
    model_path, calibration, cfg = calibrated
    exact = replace(calibration, gate_noise=np.full_like(calibration.gate_noise, 1e-4))
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
