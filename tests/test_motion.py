"""The motion term of the anomaly map: optical-flow speed, in offline, causal and calibrated scores."""

from __future__ import annotations

import json

import cv2
import h5py
import numpy as np
import pytest
import torch

from ddlcore.alarm.calibration import Calibration, load_calibration, save_calibration, sidecar_path
from ddlcore.alarm.settings import AlarmSettings
from ddlcore.config import load_config
from ddlcore.errors import DDLError
from ddlcore.score.inference import window_scores
from ddlcore.score.motion import flow_speed, gray_frames, motion_error

torch.set_num_threads(1)
CPU = torch.device("cpu")
H, W = 48, 64


class MiddleFrame(torch.nn.Module):
    """Reconstructs every clip's middle frame exactly: its reconstruction error is 0, so a score is motion alone."""

    def __init__(self) -> None:
        super().__init__()
        self.zero = torch.nn.Parameter(torch.zeros(()))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return clips[:, :, clips.shape[2] // 2] + self.zero


def textured_background(seed: int = 0) -> np.ndarray:
    """A smooth random gray texture uint8 (H, W)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 120, size=(H // 8, W // 8)).astype(np.float32)
    return cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC).astype(np.uint8)


def moving_square(steps: list[int]) -> np.ndarray:
    """uint8 (len(steps) + 1, H, W, 1): a textured bright square crossing a static background, moving
    ``steps[i]`` pixels to the right between frame i and i + 1."""
    background = textured_background()
    rng = np.random.default_rng(1)
    square = rng.integers(180, 255, size=(12, 12)).astype(np.uint8)
    frames, x = [], 2
    for step in [0, *steps]:
        x += step
        frame = background.copy()
        frame[18:30, x : x + 12] = square
        frames.append(frame)
    return np.stack(frames)[..., None]


def test_flow_speed_measures_the_displacement_of_a_moving_object():
    frames = moving_square([1] * 3 + [4] * 3)
    speed = flow_speed(frames[:-1, ..., 0], frames[1:, ..., 0])
    inside = [float(np.median(s[20:28, 20:40][s[20:28, 20:40] > 0.3])) for s in speed]
    assert inside[1] == pytest.approx(1.0, abs=0.4) and inside[4] == pytest.approx(4.0, abs=1.0)
    far = speed[:, :, 52:]  # background columns at least 20 px from the square: the flow's window never reaches
    assert float(far.max()) < 0.3


def test_gray_frames_round_trip_the_uint8_pixels():
    pixels = np.random.default_rng(0).integers(0, 256, size=(2, 1, H, W), dtype=np.uint8)
    assert np.array_equal(gray_frames(torch.from_numpy(pixels).float() / 255.0), pixels[:, 0])


def test_no_weight_no_term_and_the_term_scales_with_its_weight():
    frames = torch.from_numpy(moving_square([3, 3])).permute(0, 3, 1, 2).float() / 255.0
    assert motion_error(frames[:1], frames[1:2], 0.0) is None
    once, twice = motion_error(frames[:1], frames[1:2], 1.0), motion_error(frames[:1], frames[1:2], 2.0)
    assert once.shape == (1, H, W) and float(once.max()) > 1.0
    torch.testing.assert_close(twice, 2 * once)


def test_with_motion_a_fast_object_outscores_a_slow_one_and_without_it_nothing_moves_the_score():
    frames = moving_square([1] * 8 + [4] * 8)
    args = (MiddleFrame(), frames, 3, 8, False, 4, CPU)
    still, _ = window_scores(*args)
    assert float(np.abs(still).max()) == 0.0  # a perfect reconstruction and no motion term: nothing
    scores, _ = window_scores(*args, motion_weight=1.0)
    slow, fast = scores[1:6], scores[10:15]  # windows whose middle frame moved 1 px, and 4 px
    assert fast.min() > 2 * slow.max()


def test_a_motion_term_needs_a_frame_before_the_middle_one():
    with pytest.raises(DDLError, match="motion_weight 1 needs a model reading at least 3 frames"):
        window_scores(MiddleFrame(), moving_square([1] * 4), 1, 8, False, 4, CPU, motion_weight=1.0)


def test_a_calibration_keeps_its_motion_weight_and_one_made_without_reads_as_zero(tmp_path):
    alarm = AlarmSettings.from_config(load_config(None, json.dumps({})))
    for weight in (0.0, 0.25):
        calibration = Calibration(model="m.pt", threshold=1.0, fps=10.0, clip=3, alarm=alarm,
                                  score={"patch": 8, "shifted_grid": False, "motion_weight": weight},
                                  background=None, videos={"a": np.ones(5, np.float32)}, size=(H, W, 1))
        path = sidecar_path(tmp_path / f"m{weight}.pt")
        save_calibration(calibration, path)
        assert load_calibration(path).score["motion_weight"] == weight
    with h5py.File(sidecar_path(tmp_path / "m0.0.pt"), "r") as f:  # the paper's score: stored as before the term
        assert json.loads(f.attrs["score"]) == {"patch": 8, "shifted_grid": False}
