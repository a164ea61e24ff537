"""The deployment file of ``ddl watch --cameras``: each camera's name, source and model.

The workflow writes ``results/deploy/{dataset}.yaml`` for the cameras it trained; the user fills in
each source::

    cameras:
      - name: entrance                  # the camera folder name
        source: "rtsp://cam1/stream"    # a camera URL, device index, video file or folder
        model: results/models/cameras/entrance/c3dsu-ddl-seed0.pt
        config: config/my-site.yaml     # optional: the config the model was trained with
        calibration: ...                # optional: default the model's sidecar M.alarm.h5

Relative paths are relative to the working directory (where the workflow ran). The camera's
``config`` gives its ``score`` section (encoder sharing); patch, grid and region of interest (the
camera's ``roi.png``, :mod:`ddlcore.data.roi`) come from its calibration, and the scoring device and
batch size from the watch's own config, as all cameras share them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from ..alarm.calibration import sidecar_path
from ..config import load_config
from ..errors import DDLError
from ..score.settings import ScoreSettings
from .event_media import camera_label

#: the keys a camera entry may have
CAMERA_KEYS = ("name", "source", "model", "config", "calibration")


@dataclass(frozen=True)
class DeployedCamera:
    """One camera of a deployment: its name, source, model file, calibration file and ``score`` settings."""

    name: str
    source: str
    model: Path
    calibration: Path
    score: ScoreSettings


def _camera(path: Path, number: int, entry: Any, watch_score: ScoreSettings) -> DeployedCamera:
    where = f"{path}: camera {number}"
    if not isinstance(entry, dict):
        raise DDLError(f"{where}: expected a mapping with {', '.join(CAMERA_KEYS)}")
    unknown = sorted(set(entry) - set(CAMERA_KEYS))
    if unknown:
        raise DDLError(f"{where}: unknown key '{unknown[0]}' (expected {', '.join(CAMERA_KEYS)})")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise DDLError(f"{where}: 'name' must be a non-empty string")
    where = f"{path}: camera '{name}'"
    source = entry.get("source")
    if source is None or str(source).strip() == "" or isinstance(source, bool):
        raise DDLError(f"{where} has no source: fill in a camera URL, device index, video file or folder")
    for key in ("model", "config", "calibration"):
        if key in entry and entry[key] is not None and not isinstance(entry[key], str):
            raise DDLError(f"{where}: '{key}' must be a path")
    if not entry.get("model"):
        raise DDLError(f"{where}: 'model' is missing")
    model = Path(entry["model"])
    if not model.is_file():
        raise DDLError(f"{where}: model file not found: {model} (relative paths are read from the working directory)")
    calibration = Path(entry["calibration"]) if entry.get("calibration") else sidecar_path(model)
    if not calibration.is_file():
        raise DDLError(f"{where}: calibration file not found: {calibration} (run ddl calibrate on held-out normal footage)")
    score = watch_score
    if entry.get("config"):
        try:
            trained = ScoreSettings.from_config(load_config(entry["config"]))
        except DDLError as exc:
            raise DDLError(f"{where}: {exc}") from exc
        score = replace(trained, device=watch_score.device, batch_size=watch_score.batch_size)
    return DeployedCamera(name.strip(), str(source).strip(), model, calibration, score)


def load_deployment(path: str | Path, watch_score: ScoreSettings) -> list[DeployedCamera]:
    """The cameras of the deployment file ``path`` (format in the module docstring).

    watch_score: the watch's ``score`` settings (device and batch size for all cameras; the rest unless a
    camera's config gives it). DDLError, one line naming the file and the camera, when the file is not
    a deployment, a source is empty, names clash, or a model or calibration file is missing.
    """
    p = Path(path)
    if not p.is_file():
        raise DDLError(f"{p}: deployment file not found")
    try:
        document = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DDLError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    entries = document.get("cameras") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise DDLError(f"{p}: expected a 'cameras' list with at least one camera")
    cameras = [_camera(p, i + 1, entry, watch_score) for i, entry in enumerate(entries)]
    labels: dict[str, str] = {}
    for camera in cameras:
        label = camera_label(camera.name)
        if label in labels:
            raise DDLError(f"{p}: cameras '{labels[label]}' and '{camera.name}' have the same name in file names ({label})")
        labels[label] = camera.name
    return cameras
