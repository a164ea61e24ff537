"""A camera's region of interest (roi.png, white = watched): reading it, the camera adapter finding it, and
offline, causal and live scores ignoring the error outside it (without one, the scores are the same)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import torch
from alarm_fixtures import frame_store
from camera_fixtures import make_camera_root

from ddlcore.alarm.calibration import apply_calibration, calibrate, load_calibration, save_calibration, sidecar_path
from ddlcore.alarm.settings import AlarmSettings
from ddlcore.cli.main import main
from ddlcore.config import load_config, validate_config
from ddlcore.data.settings import DataSettings
from ddlcore.data.registry import list_videos, open_dataset
from ddlcore.data.roi import camera_rois, load_roi
from ddlcore.errors import DDLError
from ddlcore.live.scorer import BatchScorer, LiveScorer
from ddlcore.score.settings import ScoreSettings
from ddlcore.score.inference import window_scores

torch.set_num_threads(1)
CPU = torch.device("cpu")
H, W, CLIP, FPS = 32, 48, 3, 10.0
#: frames of the anomaly (a bright square) in the test clip
ANOMALY = slice(20, 32)
SETTINGS = {"score": {"patch": 8, "runtime": "torch"}, "alarm": {"false_alarms_per_hour": 600.0}}


class FlatReconstruction(torch.nn.Module):
    """Reconstructs every clip's middle frame as flat mid gray: a frame's error is where it differs from it,
    with no spread to neighbouring pixels (so a masked-out anomaly leaves the watched pixels exactly as they were)."""

    def __init__(self) -> None:
        super().__init__()
        self.zero = torch.nn.Parameter(torch.zeros(()))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return torch.full_like(clips[:, :, 0], 128 / 255) + self.zero


META = {"frames": CLIP, "height": H, "width": W, "channels": 1}


def gray_noise(n: int, seed: int) -> np.ndarray:
    """uint8 (n, H, W, 1): mid gray with a little noise (normal footage)."""
    return np.random.default_rng(seed).integers(118, 139, size=(n, H, W, 1), dtype=np.uint8)


def with_square(frames: np.ndarray, x: int) -> np.ndarray:
    """``frames`` with a white 8x8 square (one patch of the grid) at column ``x``, row 8, in the ``ANOMALY`` frames."""
    out = frames.copy()
    out[ANOMALY, 8:16, x : x + 8] = 255
    return out


#: the left half of the frame is masked out, the right half watched; the square at x=8 is masked, at x=32 watched
RIGHT_HALF = np.zeros((H, W), bool)
RIGHT_HALF[:, W // 2 :] = True
MASKED_X, WATCHED_X = 8, 32


def write_png(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
    return path


def offline(frames: np.ndarray, roi: np.ndarray | None) -> np.ndarray:
    return window_scores(FlatReconstruction(), frames, CLIP, 8, False, 16, CPU, roi=roi)[0]


# --- reading roi.png ---------------------------------------------------------------------------------


def test_white_pixels_are_watched_after_a_nearest_neighbour_resize(tmp_path):
    image = np.zeros((96, 128), np.uint8)
    image[:, :32] = 255
    image[:, 32:64] = 128  # the lowest watched level
    image[:, 64:96] = 127  # just below it: masked out
    roi = load_roi(write_png(tmp_path / "roi.png", image), 48, 64)
    assert roi.dtype == bool and roi.shape == (48, 64)
    assert roi[:, :32].all() and not roi[:, 32:].any()  # source columns 0..63 watched, nothing blended at edges


@pytest.mark.parametrize("bad, words", [
    ("unreadable", "not a readable image"),
    ("missing", "not a readable image"),
    ("black", "no watched pixel"),
    ("dot", "no watched pixel is left at the frame size 64x48"),
    ("square", "aspect ratio 1.00) for footage of 64x48"),
])
def test_each_bad_roi_is_one_line_naming_the_file(tmp_path, bad, words):
    path = tmp_path / "cam" / "roi.png"
    path.parent.mkdir()
    if bad == "unreadable":
        path.write_bytes(b"not a png at all")
    elif bad == "black":
        write_png(path, np.full((48, 64), 127, np.uint8))
    elif bad == "dot":  # one white pixel that the 4x smaller nearest-neighbour grid does not sample
        image = np.zeros((192, 256), np.uint8)
        image[1, 1] = 255
        write_png(path, image)
    elif bad == "square":
        write_png(path, np.full((64, 64), 255, np.uint8))
    with pytest.raises(DDLError) as caught:
        load_roi(path, 48, 64, [(48, 64)])
    message = str(caught.value)
    assert str(path) in message and words in message and "\n" not in message


def cameras_config(root: Path) -> DataSettings:
    return DataSettings.from_config(validate_config({"dataset": {"name": "cameras", "root": str(root)},
                                                     "model": {"frames": 7}, "train": {"batch_size": 4}}))


def test_each_cameras_roi_is_found_and_checked_against_its_footage(tmp_path):
    root = make_camera_root(tmp_path / "cams")  # entrance: 64x48 and 80x56 footage, test clip 64x48; yard: 64x48
    config = cameras_config(root)
    adapter = open_dataset(config)
    videos = [v for split in ("train", "calibration", "test") for v in list_videos(config, split)]
    assert camera_rois(adapter, videos, 48, 64) == {}
    roi = write_png(root / "entrance" / "roi.png", np.full((480, 640), 255, np.uint8))  # 4:3, within 10% of 80x56
    assert camera_rois(adapter, videos, 48, 64) == {"entrance": roi}
    write_png(root / "yard" / "roi.png", np.full((640, 480), 255, np.uint8))  # portrait, for landscape footage
    bad = re.escape(str(root / "yard" / "roi.png"))
    with pytest.raises(DDLError, match=rf"^{bad}: a 480x640 image .* footage of 64x48"):
        camera_rois(adapter, videos, 48, 64)


# --- scores ignore the masked-out error ----------------------------------------------------------------


def test_an_anomaly_outside_the_roi_does_not_raise_the_offline_score_inside_it_does():
    normal = gray_noise(50, seed=0)
    plain = offline(normal, RIGHT_HALF)
    masked = offline(with_square(normal, MASKED_X), RIGHT_HALF)
    watched = offline(with_square(normal, WATCHED_X), RIGHT_HALF)
    anomalous = slice(ANOMALY.start - CLIP // 2, ANOMALY.stop - CLIP // 2)  # window j scores frame j + 1
    assert np.array_equal(masked, plain)
    assert (watched[anomalous] > 3 * plain[anomalous]).all()
    assert (offline(with_square(normal, MASKED_X), None)[anomalous] > 3 * plain[anomalous]).all()  # seen without ROI


def test_without_a_roi_scores_are_bit_identical_to_a_roi_watching_everything(alarm_scene):
    from ddlcore.score.inference import load_model

    model, meta = load_model(alarm_scene["model"], CPU)
    frames = alarm_scene["normal"][0][:40]
    everything = np.ones((meta["height"], meta["width"]), bool)
    for shifted in (False, True):
        none, maps = window_scores(model, frames, 3, 8, shifted, 16, CPU, map_stride=4, background="video_median")
        ones, ones_maps = window_scores(model, frames, 3, 8, shifted, 16, CPU, map_stride=4, background="video_median",
                                        roi=everything)
        assert none.dtype == ones.dtype and np.array_equal(none, ones) and np.array_equal(maps, ones_maps)


def flat_calibration(roi: np.ndarray | None):
    cfg = load_config(None, json.dumps(SETTINGS))
    videos = {f"n{i}": (gray_noise(60, seed=10 + i), FPS) for i in range(2)}
    return calibrate(FlatReconstruction(), META, videos, ScoreSettings.from_config(cfg), AlarmSettings.from_config(cfg),
                     roi=roi), cfg


def spans(events: list) -> list[tuple[int, int]]:
    return [(e.start, e.end) for e in events]


def covers_the_anomaly(events: list) -> bool:
    """Some event overlaps the anomaly's frames, with the box of the square's patch."""
    return any(e.start < ANOMALY.stop and e.end >= ANOMALY.start and e.box == [WATCHED_X, 8, WATCHED_X + 8, 16]
               for e in events)


def test_calibration_keeps_its_roi_and_causal_scores_ignore_what_it_masks(tmp_path):
    calibration, cfg = flat_calibration(RIGHT_HALF)
    path = tmp_path / "m.alarm.h5"
    save_calibration(calibration, path)
    loaded = load_calibration(path)
    assert np.array_equal(loaded.roi, RIGHT_HALF) and loaded.roi.dtype == bool
    assert float(loaded.background[:, : W // 2].max()) == 0.0 < float(loaded.background[:, W // 2 :].max())
    normal = gray_noise(50, seed=0)
    runs = {x: apply_calibration(FlatReconstruction(), frames, loaded, ScoreSettings.from_config(cfg), CPU)
            for x, frames in (("plain", normal), ("masked", with_square(normal, MASKED_X)),
                              ("watched", with_square(normal, WATCHED_X)))}
    assert np.array_equal(runs["masked"][0], runs["plain"][0], equal_nan=True)
    assert spans(runs["masked"][2]) == spans(runs["plain"][2]) and not covers_the_anomaly(runs["plain"][2])
    assert covers_the_anomaly(runs["watched"][2])
    unmasked, _ = flat_calibration(None)
    save_calibration(unmasked, tmp_path / "none.alarm.h5")
    assert load_calibration(tmp_path / "none.alarm.h5").roi is None


def live_scores(scorer: LiveScorer, frames: np.ndarray) -> tuple[np.ndarray, list, float]:
    """Smoothed live scores (N,), confirmed events, and the largest error the results show in the left half."""
    scores, events, left = np.full(len(frames), np.nan), [], 0.0
    for frame in frames:
        result = scorer.push(frame[:, :, 0])
        if result is not None:
            scores[result.frame] = result.score
            events += [e for kind, e in result.changes if kind == "start"]
            left = max(left, float(result.error[:, : W // 2].max()))
    return scores, events + [e for kind, e in scorer.finish() if kind == "start"], left


def test_live_scoring_honours_the_calibrations_roi_and_equals_offline_causal_scoring():
    calibration, cfg = flat_calibration(RIGHT_HALF)
    normal = gray_noise(50, seed=0)
    score = ScoreSettings.from_config(cfg)
    model = FlatReconstruction()
    plain, plain_events, _ = live_scores(LiveScorer(model, META, calibration, score, CPU), normal)
    for x in (MASKED_X, WATCHED_X):
        frames = with_square(normal, x)
        live, events, left = live_scores(LiveScorer(model, META, calibration, score, CPU), frames)
        offline_scores, _, offline_events = apply_calibration(model, frames, calibration, score, CPU)
        np.testing.assert_allclose(live, offline_scores, rtol=1e-6, atol=1e-7)
        assert spans(events) == spans(offline_events) and left == 0.0  # the overlay's error map is masked too
        if x == MASKED_X:
            assert np.array_equal(live, plain, equal_nan=True) and spans(events) == spans(plain_events)
        else:
            assert covers_the_anomaly(events)


def test_a_batch_of_sources_with_and_without_a_roi_scores_each_as_alone():
    with_roi, cfg = flat_calibration(RIGHT_HALF)
    without, _ = flat_calibration(None)
    model = FlatReconstruction()
    frames = with_square(gray_noise(40, seed=3), MASKED_X)
    score = ScoreSettings.from_config(cfg)
    batch = BatchScorer(model, META, [with_roi, without], score, CPU)
    together = [np.full(len(frames), np.nan) for _ in range(2)]
    for frame in frames:
        for source, result in enumerate(batch.push([frame[:, :, 0], frame[:, :, 0]])):
            if result is not None:
                together[source][result.frame] = result.score
    for source, calibration in enumerate((with_roi, without)):
        alone = live_scores(LiveScorer(model, META, calibration, score, CPU), frames)[0]
        assert np.array_equal(together[source], alone, equal_nan=True)
    anomalous = slice(ANOMALY.start + 2, ANOMALY.stop)  # past the trailing median's first frames
    assert (together[1][anomalous] > 3 * together[0][anomalous]).all()  # only the source without ROI sees it


# --- the commands: ddl calibrate --roi, ddl score --roi ---------------------------------------------------


@pytest.fixture()
def cli_setup(alarm_scene, tmp_path):
    """A model (32x32 frames), two normal frame stores and a test store, and an ROI watching the left half (the
    untrained model's worst patches of the test store lie in the right half)."""
    model = tmp_path / "m.pt"
    model.write_bytes(alarm_scene["model"].read_bytes())
    stores = [frame_store(tmp_path / f"n{i}.h5", v[:40], f"n{i}", FPS) for i, v in enumerate(alarm_scene["normal"][:2])]
    test = frame_store(tmp_path / "t.h5", alarm_scene["normal"][2][:30], "t", FPS)
    image = np.zeros((64, 64), np.uint8)
    image[:, :32] = 255
    return model, stores, test, write_png(tmp_path / "roi.png", image)


def causal_scores(model_path: Path, store: Path, calibration) -> np.ndarray:
    from ddlcore.score.inference import load_model

    with h5py.File(store) as f:
        frames = f["frames"][:]
    model = load_model(model_path, CPU)[0]
    score = dataclasses.replace(ScoreSettings.from_config(load_config()), batch_size=16, share_encoder=True)
    return apply_calibration(model, frames, calibration, score, CPU)[0]


def test_cli_calibrate_and_score_take_the_roi(cli_setup, tmp_path, capsys):
    model, stores, test, roi = cli_setup
    settings = json.dumps({**SETTINGS, "score": {**SETTINGS["score"], "save_maps": True, "map_stride": 1}})
    assert main(["calibrate", "--model", str(model), "--roi", str(roi), *map(str, stores), "--settings", settings]) == 0
    assert f"region of interest {roi}: 50% of the frame watched" in capsys.readouterr().out
    calibration = load_calibration(sidecar_path(model))
    assert calibration.roi.shape == (32, 32) and calibration.roi[:, :16].all() and not calibration.roi[:, 16:].any()
    for name, extra in (("masked", ["--roi", str(roi)]), ("whole", [])):
        out = tmp_path / f"{name}.h5"
        assert main(["score", "--model", str(model), *extra, "--frames", str(test), "--out", str(out),
                     "--settings", settings]) == 0
    with h5py.File(tmp_path / "masked.h5") as masked, h5py.File(tmp_path / "whole.h5") as whole:
        maps, whole_maps = masked["videos/t/maps"][:], whole["videos/t/maps"][:]
        assert not maps[:, :, 16:].any() and whole_maps[:, :, 16:].any()  # maps (and regions) of the ROI only
        assert np.array_equal(maps[:, :, :16], whole_maps[:, :, :16])
        scores, whole_scores = masked["videos/t/score"][:], whole["videos/t/score"][:]
        assert (scores <= whole_scores).all() and (scores < whole_scores).any()
    live = tmp_path / "live.h5"
    assert main(["score", "--model", str(model), "--calibration", str(sidecar_path(model)), "--frames", str(test),
                 "--out", str(live), "--settings", settings]) == 0  # no --roi: the calibration's applies
    with h5py.File(live) as f:
        live_scores = f["videos/t/score"][:]
    np.testing.assert_allclose(live_scores, causal_scores(model, test, calibration), rtol=1e-6, equal_nan=True)
    unmasked = causal_scores(model, test, dataclasses.replace(calibration, roi=None))
    assert not np.allclose(live_scores, unmasked, rtol=1e-3, equal_nan=True)


def test_cli_refuses_a_roi_other_than_the_calibrations_and_a_roi_of_another_shape(cli_setup, tmp_path, capsys):
    model, stores, test, roi = cli_setup
    settings = json.dumps(SETTINGS)
    assert main(["calibrate", "--model", str(model), *map(str, stores), "--settings", settings]) == 0  # no ROI
    capsys.readouterr()
    assert main(["score", "--model", str(model), "--roi", str(roi), "--calibration", str(sidecar_path(model)),
                 "--frames", str(test), "--out", str(tmp_path / "l.h5"), "--settings", settings]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(roi) in err[0] and "calibrated with no region of interest" in err[0]
    wide = write_png(tmp_path / "wide.png", np.full((32, 96), 255, np.uint8))  # 3:1 for 32x32 footage
    argv = ["calibrate", "--model", str(model), "--roi", str(wide), *map(str, stores), "--settings", settings]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(wide) in err[0] and "footage of 32x32" in err[0]
    assert not (tmp_path / "l.h5").exists()
