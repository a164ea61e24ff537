"""The deployment file of ``ddl watch --cameras``: each camera's name, source and model.

The workflow writes ``results/deploy/{dataset}.yaml`` for the cameras it trained; the user fills in
each source::

    cameras:
      - name: entrance                  # the camera folder name
        source: "rtsp://cam1/stream"    # a camera URL, device index, video file or folder
        model: results/models/cameras/entrance/c3dsu-ddl-seed0.pt
        config: config/my-site.yaml     # optional: the config the model was trained with
        calibration: ...                # optional: default the model's sidecar M.alarm.h5

The file is validated by the JSON schema ``ddlcore/schemas/deployment.schema.yaml`` (one-line errors naming
the key). Relative paths are relative to the working directory (where the workflow ran). The camera's
``config`` gives its ``score`` section (encoder sharing); patch, grid and region of interest (the
camera's ``roi.png``, :mod:`ddlcore.data.roi`) come from its calibration, and the scoring device,
batch size and runtime from the watch's own config, as all cameras share them
(:func:`ddlcore.alarm.calibration.calibrated_score` merges them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..alarm.calibration import sidecar_path
from ..config import SCHEMAS, load_config, load_schema, validate_document
from ..errors import DDLError
from ..score.settings import ScoreSettings
from .event_media import camera_label

#: the JSON schema a deployment file is validated against
DEPLOYMENT_SCHEMA = SCHEMAS / "deployment.schema.yaml"


@dataclass(frozen=True)
class DeployedCamera:
    """One camera of a deployment: its name, source, model file, calibration file and the ``score`` section and
    analysis rate of the config its model was trained with (None: the watch's own)."""

    name: str
    source: str
    model: Path
    calibration: Path
    trained: ScoreSettings | None = None
    #: the analysis rate (``cameras.fps``) of the config its model was trained with; None: its footage's own rate,
    #: or no config
    trained_fps: float | None = None


def _camera(path: Path, entry: dict[str, Any]) -> DeployedCamera:
    """One camera entry of the deployment file ``path`` (valid by the schema): its files checked, its config read."""
    name = entry["name"].strip()
    where = f"{path}: camera '{name}'"
    source = entry.get("source")
    if source is None or str(source).strip() == "":
        raise DDLError(f"{where} has no source: fill in a camera URL, device index, video file or folder")
    model = Path(entry["model"])
    if not model.is_file():
        raise DDLError(f"{where}: model file not found: {model} (relative paths are read from the working directory)")
    calibration = Path(entry["calibration"]) if entry.get("calibration") else sidecar_path(model)
    if not calibration.is_file():
        raise DDLError(f"{where}: calibration file not found: {calibration} (run ddl calibrate on held-out normal footage)")
    trained, trained_fps = None, None
    if entry.get("config"):
        try:
            config = load_config(entry["config"])
        except DDLError as exc:
            raise DDLError(f"{where}: {exc}") from exc
        trained, trained_fps = ScoreSettings.from_config(config), config["cameras"]["fps"]
    return DeployedCamera(name, str(source).strip(), model, calibration, trained, trained_fps)


def watch_rate(camera: DeployedCamera, calibration_fps: float, watch_fps: float | None) -> float | None:
    """The analysis rate ``camera`` is watched at: its trained config's ``cameras.fps`` when it has a config, else the
    watch's ``watch_fps`` (None: the source's own rate). DDLError (one line) when the watch's rate contradicts the
    trained one, or the calibration (``calibration_fps``: the rate of the frames it was fitted on) is at another."""
    rate = camera.trained_fps if camera.trained is not None else watch_fps
    if camera.trained is not None and watch_fps is not None and watch_fps != rate:
        raise DDLError(f"cameras.fps is {watch_fps:g} but the model was trained at "
                       f"{'its footage rate' if rate is None else f'{rate:g} frames/s'}: train and watch at one rate")
    if rate is not None and abs(calibration_fps - rate) > 1e-6:
        raise DDLError(f"{camera.calibration}: calibrated at {calibration_fps:g} frames/s but cameras.fps is {rate:g}: "
                       "train and watch at one rate")
    return rate


def load_deployment(path: str | Path) -> list[DeployedCamera]:
    """The cameras of the deployment file ``path`` (format in the module docstring).

    DDLError, one line naming the file (and the key or camera), when the file does not fit the deployment schema
    (:data:`DEPLOYMENT_SCHEMA`), a source is empty, names clash, or a model or calibration file is missing.
    """
    p = Path(path)
    if not p.is_file():
        raise DDLError(f"{p}: deployment file not found")
    try:
        document = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DDLError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    validate_document(document, load_schema(DEPLOYMENT_SCHEMA), str(p))
    cameras = [_camera(p, entry) for entry in document["cameras"]]
    labels: dict[str, str] = {}
    for camera in cameras:
        label = camera_label(camera.name)
        if label in labels:
            raise DDLError(f"{p}: cameras '{labels[label]}' and '{camera.name}' have the same name in file names ({label})")
        labels[label] = camera.name
    return cameras
