"""``ddl deployment``: the file ``ddl watch --cameras`` reads, listing each trained camera and its model.

Written by the workflow as ``results/deploy/<dataset>.yaml``; the user fills in each ``source``::

    # written by the workflow; fill in each source (a camera URL, device index, file or folder)
    cameras:
      - name: entrance          # the camera folder name
        source: ""              # filled in by the user
        model: results/models/cameras/entrance/c3dsu-ddl-seed0.pt   # its calibration is the sidecar next to the model
        config: results/deploy/cameras.config.yaml   # the config the model was trained with

Paths are relative to the directory the workflow ran in. The configuration the models were trained
with is written beside it (``--config-out``), so the watch scores as the workflow did.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ..errors import DDLError
from ..io_utils import atomic_path

HEADER = "# written by the workflow; fill in each source (a camera URL, device index, file or folder)\n"


def deployment_text(cameras: list[str], models: list[str], config_path: str | None) -> str:
    """The deployment YAML for ``cameras`` and their ``models`` (same order), sources left empty."""
    if len(cameras) != len(models):
        raise DDLError(f"ddl deployment: {len(cameras)} cameras but {len(models)} models")
    lines = [HEADER, "cameras:\n"]
    for name, model in zip(cameras, models):
        lines.append(f"  - name: {json.dumps(name)}          # the camera folder name\n")
        lines.append('    source: ""              # filled in by the user\n')
        lines.append(f"    model: {json.dumps(model)}   # its calibration is the sidecar next to the model, as ddl calibrate writes it\n")
        if config_path is not None:
            lines.append(f"    config: {json.dumps(config_path)}   # the config the model was trained with\n")
    return "".join(lines)


def write_deployment(cameras: list[str], models: list[str], out: str | Path, config: dict | None = None,
                     config_out: str | Path | None = None) -> None:
    """Write the deployment file ``out`` and, when given, ``config`` as YAML to ``config_out`` (which it names)."""
    config_path = None
    if config is not None and config_out is not None:
        with atomic_path(config_out) as tmp:
            tmp.write_text("# the configuration the models of this deployment were trained with\n"
                           + yaml.safe_dump(config, sort_keys=False))
        config_path = str(config_out)
    with atomic_path(out) as tmp:
        tmp.write_text(deployment_text(cameras, models, config_path))
