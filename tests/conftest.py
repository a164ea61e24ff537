"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest

from alarm_fixtures import read_video, synthetic_scene, tiny_checkpoint, to_model_frames


@pytest.fixture(scope="session")
def alarm_scene(tmp_path_factory):
    """A tiny model and one synthetic scene: 6 normal videos of 300 frames (model-size frames) and one
    test video with anomalies (RGB, with its labels)."""
    root = synthetic_scene(tmp_path_factory.mktemp("scene"), train_videos=6, frames=300)
    normal = [to_model_frames(read_video(p)[0]) for p in sorted((root / "train").glob("*.h5"))]
    test_frames, labels, fps = read_video(next((root / "test").glob("*.h5")))
    model_path = tiny_checkpoint(tmp_path_factory.mktemp("model") / "m.pt")
    return {"root": root, "normal": normal, "test": test_frames, "labels": labels, "fps": fps, "model": model_path}
