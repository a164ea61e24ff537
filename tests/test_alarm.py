"""Alarms: causal scores, the event state machine, thresholds, calibration and its false-alarm rate."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from alarm_fixtures import frame_store
from ddlcore.alarm.calibration import apply_calibration, calibrate, load_calibration, sidecar_path
from ddlcore.alarm.causal import trailing_median
from ddlcore.alarm.events import AlarmRule, EventTracker, detect_events
from ddlcore.alarm.settings import AlarmSettings
from ddlcore.alarm.threshold import choose_threshold, events_per_hour
from ddlcore.config import load_config
from ddlcore.errors import DDLError
from ddlcore.evaluate.settings import MetricsSettings
from ddlcore.score.gate import gate_levels
from ddlcore.score.inference import load_model
from ddlcore.score.patches import patch_peaks, patch_scores
from ddlcore.score.settings import ScoreSettings

torch.set_num_threads(1)
FPS = 10.0


@pytest.mark.parametrize("shifted", [False, True])
def test_patch_peaks_match_patch_scores_and_box_the_worst_patch(shifted):
    error = torch.rand(3, 32, 40) * 0.1
    error[0, 8:16, 16:24] = 1.0  # exactly one grid patch
    error[1, 4:12, 4:12] = 1.0  # a patch of the shifted grid
    scores, boxes = patch_peaks(error, 8, shifted)
    assert torch.allclose(scores, patch_scores(error, 8, shifted))
    assert boxes[0].tolist() == [16, 8, 24, 16]
    assert boxes[1].tolist() == ([4, 4, 12, 12] if shifted else boxes[1].tolist())
    if not shifted:
        assert scores[1] < 0.6  # split over four grid patches


def test_trailing_median_uses_past_values_only():
    rng = np.random.default_rng(0)
    a = rng.random(50)
    b = a.copy()
    b[30:] += 10  # a different future
    sa, sb = trailing_median(a, 5), trailing_median(b, 5)
    assert np.array_equal(sa[:30], sb[:30]) and not np.array_equal(sa[30:], sb[30:])
    assert sa[10] == np.median(a[6:11])
    with_gap = a.copy()
    with_gap[:2] = np.nan
    assert np.isnan(trailing_median(with_gap, 5)[:2]).all() and np.isfinite(trailing_median(with_gap, 5)[2:]).all()


def test_events_hysteresis_min_length_and_merge_gap():
    rule = AlarmRule(threshold=1.0, hysteresis=0.2, min_frames=3, merge_gap=2)
    s = np.zeros(40)
    s[2:4] = 2.0  # two frames only: too short
    s[10:13] = 2.0
    s[13:15] = 0.9  # above the release level 0.8: still alarmed
    s[17:19] = 2.0  # after a gap of 2 quiet frames: the same event
    s[25:30] = 2.0
    s[27] = 5.0
    s[30] = np.nan  # a frame without score ends the alarm
    events = detect_events(s, np.tile([0, 0, 8, 8], (40, 1)), rule)
    assert [(e.start, e.end) for e in events] == [(10, 18), (25, 29)]
    assert events[1].peak_frame == 27 and events[1].peak_score == 5.0 and events[1].confirmed == 27


def test_tracker_reports_start_when_confirmed_and_end_after_the_gap():
    tracker = EventTracker(AlarmRule(1.0, 0.0, 2, 1))
    seen = [(i, kind) for i, v in enumerate([0, 2, 2, 2, 0, 0, 0]) for kind, _ in tracker.update(i, v, (0, 0, 1, 1))]
    assert seen == [(2, "start"), (5, "end")]
    tracker.update(7, 3, (0, 0, 1, 1))
    tracker.update(8, 3, (0, 0, 1, 1))
    assert [k for k, _ in tracker.finish()] == ["end"]


def test_threshold_from_a_quantile_and_from_a_budget():
    rng = np.random.default_rng(1)
    videos = [rng.random(3600) for _ in range(2)]  # 2 x 6 min at 10 fps
    cfg = AlarmSettings.from_config(load_config(None, json.dumps({"alarm": {"quantile": 0.9}})))
    assert choose_threshold(videos, FPS, cfg) == pytest.approx(np.quantile(np.concatenate(videos), 0.9))
    cfg = AlarmSettings.from_config(load_config(None, json.dumps({"alarm": {"false_alarms_per_hour": 30.0,
                                                                             "smooth_frames": 1}})))
    threshold = choose_threshold(videos, FPS, cfg)
    _, rate = events_per_hour(videos, AlarmRule.from_settings(threshold, cfg), FPS)
    assert rate <= 30.0
    _, rate_below = events_per_hour(videos, AlarmRule.from_settings(threshold * 0.99, cfg), FPS)
    assert rate_below > 30.0 * 0.8  # the lowest threshold within the budget, not any threshold
    with pytest.raises(DDLError, match="no frame score"):
        choose_threshold([np.full(5, np.nan)], FPS, cfg)


# Tolerance: a factor of 2 either way. Three videos of 30 s calibrate and three others are held out; they
# differ in traffic, so the held-out figure strays from the requested one (measured: alarmed fraction 0.145
# for a requested 0.10, 640 false alarms per hour for a budget of 600).
@pytest.mark.parametrize(("alarm", "check"), [
    # the fraction of alarmed frames on held-out normal video against 1 - quantile
    ({"quantile": 0.9}, "frames"),
    # false alarms per hour on held-out normal video against the budget
    ({"false_alarms_per_hour": 600.0}, "events"),
])
def test_calibration_gives_the_requested_false_alarm_rate_on_held_out_normal_video(alarm_scene, alarm, check):
    cfg = load_config(None, json.dumps({"score": {"patch": 8}, "alarm": alarm}))
    model, meta = load_model(alarm_scene["model"], torch.device("cpu"))
    score, alarm_settings = ScoreSettings.from_config(cfg), AlarmSettings.from_config(cfg)
    calibration = calibrate(model, meta, {f"n{i}": (v, FPS) for i, v in enumerate(alarm_scene["normal"][:3])}, score,
                            alarm_settings)
    held = [apply_calibration(model, v, calibration, score, torch.device("cpu")) for v in alarm_scene["normal"][3:]]
    if check == "frames":
        scores = np.concatenate([s for s, _, _ in held])
        alarmed = float(np.mean(scores[np.isfinite(scores)] > calibration.threshold))
        assert (1 - alarm["quantile"]) / 2 <= alarmed <= (1 - alarm["quantile"]) * 2
    else:
        assert calibration.summary()["calibration_events_per_hour"] <= alarm["false_alarms_per_hour"]
        hours = sum(len(v) for v in alarm_scene["normal"][3:]) / FPS / 3600
        rate = sum(len(events) for _, _, events in held) / hours
        assert alarm["false_alarms_per_hour"] / 2 <= rate <= alarm["false_alarms_per_hour"] * 2


def test_cli_calibrate_writes_the_sidecar_and_score_writes_events(alarm_scene, tmp_path, capsys):
    import cv2

    from ddlcore.cli.main import main

    stores = [frame_store(tmp_path / f"n{i}.h5", v, f"n{i}", FPS) for i, v in enumerate(alarm_scene["normal"][:2])]
    model = tmp_path / "m.pt"
    model.write_bytes(alarm_scene["model"].read_bytes())
    settings = json.dumps({"score": {"patch": 8}, "alarm": {"false_alarms_per_hour": 600.0}})
    assert main(["calibrate", "--model", str(model), *map(str, stores), "--settings", settings]) == 0
    calibration = load_calibration(sidecar_path(model))
    assert sorted(calibration.videos) == ["n0", "n1"] and calibration.background.shape == (32, 32)
    assert calibration.threshold > 0 and calibration.latency == 1
    levels = gate_levels(calibration.gate_noise, 4.7)  # score.gate_margin's default
    printed = capsys.readouterr().out
    assert f"change gate: cell levels {np.median(levels):.2f} (typical cell) to {levels.max():.2f}" in printed

    video = tmp_path / "test.avi"  # the anomalous test clip as a colour video at 2x the size
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (80, 64))
    for frame in alarm_scene["test"]:
        writer.write(cv2.cvtColor(cv2.resize(frame, (80, 64)), cv2.COLOR_RGB2BGR))
    writer.release()
    csv = tmp_path / "test.csv"
    assert main(["score", "--model", str(model), str(video), "--out-csv", str(csv), "--settings", settings]) == 0
    table = pd.read_csv(csv)
    events = pd.read_csv(tmp_path / "test.events.csv")
    assert {"live", "alarm"} <= set(table.columns) and len(table) == len(alarm_scene["test"])
    assert len(events) >= 1 and table["alarm"].sum() == sum(events["end"] - events["start"] + 1)
    assert ((events[["x1", "y1"]].to_numpy() <= [80, 64]).all() and (events["x1"] > events["x0"]).all())
    assert np.isnan(table["live"].iloc[0]) and (table["live"] > calibration.threshold).any()


def test_missing_or_foreign_sidecar_is_one_line(tmp_path, capsys):
    from ddlcore.cli.main import main

    assert main(["score", "--model", str(tmp_path / "m.pt"), "x.avi", "--calibration", str(tmp_path / "none.h5")]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    with pytest.raises(DDLError, match="calibration file not found"):
        load_calibration(tmp_path / "none.alarm.h5")


@pytest.fixture(scope="module")
def sidecar(alarm_scene, tmp_path_factory):
    """(model path, its calibration file) made by ``ddl calibrate`` on one normal video."""
    from ddlcore.cli.main import main

    folder = tmp_path_factory.mktemp("sidecar")
    model = folder / "m.pt"
    model.write_bytes(alarm_scene["model"].read_bytes())
    store = frame_store(folder / "n0.h5", alarm_scene["normal"][0][:60], "n0", FPS)
    assert main(["calibrate", "--model", str(model), str(store), "--settings", json.dumps({"score": {"patch": 8}})]) == 0
    return model, sidecar_path(model)


def _test_video(alarm_scene, path):
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (40, 32))
    for frame in alarm_scene["test"][:20]:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.mark.parametrize("command", ["score", "watch"])
def test_a_calibration_is_refused_for_a_model_it_was_not_made_with(alarm_scene, sidecar, tmp_path, capsys, command):
    from alarm_fixtures import tiny_checkpoint
    from ddlcore.cli.main import main

    _, calibration = sidecar
    video = _test_video(alarm_scene, tmp_path / "v.avi")
    longer = tiny_checkpoint(tmp_path / "t5.pt", frames=5)  # another clip length: a RuntimeError before
    other = tiny_checkpoint(tmp_path / "other.pt", seed=1)  # same clip and size, other weights: silent before
    for model, words in [(longer, "a calibration of a model with clips of 3 frames of 32x32x1, but"),
                         (other, "a calibration of another model file")]:
        argv = ([command, "--model", str(model), str(video), "--calibration", str(calibration)]
                + (["--out-csv", str(tmp_path / "s.csv")] if command == "score" else []))
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0] and str(calibration) in err[0], err
    assert not (tmp_path / "s.csv").exists()


def test_a_copied_model_keeps_its_calibration_and_an_old_calibration_is_one_line(sidecar, tmp_path):
    import h5py

    from ddlcore.alarm.calibration import check_calibration

    model, path = sidecar
    copy = tmp_path / "copy.pt"
    copy.write_bytes(model.read_bytes())
    _, meta = load_model(copy, torch.device("cpu"))
    check_calibration(load_calibration(path), path, copy, meta)  # the same file contents: accepted
    old = tmp_path / "old.alarm.h5"
    with h5py.File(old, "w") as f:
        f.attrs["format_version"] = 1
        f.create_group("videos")
    with pytest.raises(DDLError, match="a version-1 calibration, which does not record its model"):
        load_calibration(old)


def test_a_model_with_nan_weights_is_one_line_and_nan_scores_stop_the_live_scorer(alarm_scene, sidecar, tmp_path,
                                                                                  capsys):
    from ddlcore.cli.main import main
    from ddlcore.live.scorer import LiveScorer

    payload = torch.load(alarm_scene["model"], weights_only=True)
    name = next(k for k, v in payload["state_dict"].items() if v.is_floating_point())
    payload["state_dict"][name] = torch.full_like(payload["state_dict"][name], float("nan"))
    broken = tmp_path / "nan.pt"
    torch.save(payload, broken)
    video = _test_video(alarm_scene, tmp_path / "v.avi")
    assert main(["score", "--model", str(broken), str(video), "--out-csv", str(tmp_path / "s.csv")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "weights hold NaN or infinite values" in err[0] and "nan.pt" in err[0]

    model, meta = load_model(sidecar[0], torch.device("cpu"))
    with torch.no_grad():
        next(model.parameters()).fill_(float("inf"))  # what a model overflowing at run time gives
    scorer = LiveScorer(model, meta, load_calibration(sidecar[1]), ScoreSettings.from_config(load_config()),
                        torch.device("cpu"))
    with pytest.raises(DDLError, match="the model's score is not finite"):
        for frame in alarm_scene["test"][:3]:
            scorer.push(frame)
    from ddlcore.alarm.footage import score_footage

    config = load_config()
    with pytest.raises(DDLError, match=r"v\.avi: the model's scores are not finite"):
        score_footage(model, meta, video, ScoreSettings.from_config(config), MetricsSettings.from_config(config).median_window,
                      AlarmSettings.from_config(config), tmp_path / "s.csv")
    assert not (tmp_path / "s.csv").exists()
