"""Shared fixtures of the alarm and live tests: a tiny model and synthetic normal and anomalous footage."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from ddlcore.config import load_config
from ddlcore.data.framestore import resize_frame, write_frame_store

#: model input size of the tiny test model
SIZE = 32


def tiny_checkpoint(path: Path, frames: int = 3, seed: int = 0) -> Path:
    """Write a real (untrained) narrow C3DSU checkpoint for clips of ``frames`` 32x32 gray frames to ``path``
    (weights drawn with ``seed``)."""
    import torch

    from ddlcore.model import build_model, save_trained_model
    from ddlcore.model.settings import ModelSettings

    model_cfg = load_config(None, json.dumps({"model": {"widths": [4, 4, 8, 8], "frames": frames}}))["model"]
    meta = dict(arch="c3dsu", variant="ddl", channels=1, height=SIZE, width=SIZE, frames=frames, model_cfg=model_cfg,
                dataset="synthetic", scene="01")
    torch.manual_seed(seed)
    save_trained_model(path, build_model("c3dsu", ModelSettings.from_section(model_cfg), 1), meta, [0.5])
    return path


def synthetic_scene(root: Path, train_videos: int, frames: int, test_videos: int = 1) -> Path:
    """Generate a one-scene synthetic benchmark of small frames under ``root``; returns root."""
    from ddlcore.data.settings import SyntheticSettings
    from ddlcore.data.synthetic import generate

    cfg = load_config(None, json.dumps({"synthetic": {
        "scenes": 1, "train_videos": train_videos, "test_videos": test_videos, "frames": frames,
        "height": 32, "width": 40, "pedestrian_rate": 0.2, "anomaly_kinds": ["cart", "cyclist"]}}))
    generate(SyntheticSettings.from_config(cfg), root)
    return root


def read_video(path: Path) -> tuple[np.ndarray, np.ndarray | None, float]:
    """(RGB frames uint8 (N, h, w, 3), labels (N,) or None, fps) of one generated synthetic video."""
    with h5py.File(path, "r") as f:
        labels = f["labels"][:] if "labels" in f else None
        return f["frames"][:], labels, float(f.attrs["fps"])


def to_model_frames(frames: np.ndarray) -> np.ndarray:
    """RGB frames (N, h, w, 3) -> the tiny model's uint8 (N, 32, 32, 1)."""
    return np.stack([resize_frame(x, SIZE, SIZE, 1) for x in frames])


def frame_store(path: Path, frames: np.ndarray, name: str, fps: float) -> Path:
    """Write model-size frames (N, 32, 32, 1) as a frame store at ``path``."""
    write_frame_store(path, iter(frames), len(frames), SIZE, SIZE, 1,
                      {"source": name, "original_height": SIZE, "original_width": SIZE, "fps": fps, "video": name})
    return path


def calibrated_copy(scene: dict, folder: Path, settings: dict):
    """Copy the scene's model into ``folder``, calibrate it on three of the scene's normal videos under
    ``settings`` (sidecar beside the copy); returns (model path, calibration, full config)."""
    import shutil

    import torch

    from ddlcore.alarm.calibration import calibrate, save_calibration, sidecar_path
    from ddlcore.alarm.settings import AlarmSettings
    from ddlcore.score.inference import load_model
    from ddlcore.score.settings import ScoreSettings

    model_path = folder / "m.pt"
    shutil.copy(scene["model"], model_path)
    cfg = load_config(None, json.dumps(settings))
    model, meta = load_model(model_path, torch.device("cpu"))
    normal = {f"n{i}": (v, scene["fps"]) for i, v in enumerate(scene["normal"][:3])}
    calibration = calibrate(model, meta, normal, ScoreSettings.from_config(cfg), AlarmSettings.from_config(cfg), model_path)
    save_calibration(calibration, sidecar_path(model_path))
    return model_path, calibration, cfg
