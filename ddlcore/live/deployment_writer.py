"""``ddl deployment``: the file ``ddl watch --cameras`` reads, listing each trained camera and its model.

Written by the workflow as ``results/deploy/<dataset>.yaml``, each camera's ``source`` taken from the
config's ``deployment.sources`` (so a re-run of the workflow, which rewrites the file, keeps them) or left
empty for the user to fill in::

    # written by the workflow from the config's deployment.sources; fill in any empty source (a camera URL,
    # device index, file or folder), or better, add it to deployment.sources: a re-run rewrites this file
    cameras:
      - name: entrance          # the camera folder name
        source: "rtsp://entrance.local/stream"   # deployment.sources
        model: results/models/cameras/entrance/c3dsu-ddl-seed0.pt   # its calibration is the sidecar next to the model
        config: results/deploy/cameras.config.yaml   # the config the model was trained with

Paths are relative to the directory the workflow ran in. The configuration the models were trained
with is written beside it (``--config-out``), so the watch scores as the workflow did.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..errors import DDLError
from ..io_utils import atomic_path
from .settings import DeploymentSettings

HEADER = ("# written by the workflow from the config's deployment.sources; fill in any empty source (a camera URL,\n"
          "# device index, file or folder), or better, add it to deployment.sources: a re-run rewrites this file\n")


def deployment_text(cameras: list[str], models: list[str], config_path: str | None,
                    sources: Mapping[str, str | int] | None = None) -> str:
    """The deployment YAML for ``cameras`` and their ``models`` (same order); each camera's source from
    ``sources`` (camera -> source), empty for a camera it does not name.

    DDLError when the lengths differ or ``sources`` names a camera that is not among ``cameras``.
    """
    if len(cameras) != len(models):
        raise DDLError(f"ddl deployment: {len(cameras)} cameras but {len(models)} models")
    sources = sources or {}
    unknown = sorted(set(sources) - set(cameras))
    if unknown:
        raise DDLError(f"deployment.sources names {', '.join(map(repr, unknown))}, not a trained camera "
                       f"(cameras: {', '.join(cameras)})")
    lines = [HEADER, "cameras:\n"]
    for name, model in zip(cameras, models):
        lines.append(f"  - name: {json.dumps(name)}          # the camera folder name\n")
        if name in sources:
            lines.append(f"    source: {json.dumps(str(sources[name]))}   # deployment.sources\n")
        else:
            lines.append('    source: ""              # fill in, or add it to deployment.sources\n')
        lines.append(f"    model: {json.dumps(model)}   # its calibration is the sidecar next to the model, as ddl calibrate writes it\n")
        if config_path is not None:
            lines.append(f"    config: {json.dumps(config_path)}   # the config the model was trained with\n")
    return "".join(lines)


def write_deployment(cameras: list[str], models: list[str], out: str | Path,
                     deployment: DeploymentSettings | None = None, config: Mapping[str, Any] | None = None,
                     config_out: str | Path | None = None) -> None:
    """Write the deployment file ``out`` for ``cameras`` and their ``models`` (sources from the ``deployment``
    settings when given, else all empty) and, when both are given, the configuration ``config`` (the one the
    models were trained with) as YAML to ``config_out``, which the file then names. DDLError as
    :func:`deployment_text`, before anything is written."""
    sources = deployment.sources if deployment is not None else {}
    config_path = str(config_out) if config is not None and config_out is not None else None
    text = deployment_text(cameras, models, config_path, sources)  # checked before anything is written
    if config_path is not None:
        with atomic_path(config_path) as tmp:
            tmp.write_text("# the configuration the models of this deployment were trained with\n"
                           + yaml.safe_dump(config, sort_keys=False))
    with atomic_path(out) as tmp:
        tmp.write_text(text)
