"""Scoring (``ddl score``): per-frame anomaly scores of test frame stores or of any footage.

``ddl score`` has two modes: ``--frames F1.h5 ... --out S.h5`` scores test frame stores into a
scores file (layout in :mod:`ddlcore.score.scores_io`, scores as in :mod:`ddlcore.score.inference`); a
positional ``VIDEO_OR_FOLDER`` scores any footage (see :mod:`ddlcore.alarm.footage`). With an alarm
calibration (``--calibration A.h5``; for footage the model's ``M.alarm.h5`` sidecar when present)
frame stores are scored causally into a live scores file with events
(:mod:`ddlcore.alarm.live_scores`), and footage gets a causal score column and an events CSV.
Scoring frame stores also writes each frame's region detections beside the scores file
(``S.regions.h5``, :mod:`ddlcore.score.regions`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np
import torch

from ..data.framestore import FrameStore
from ..errors import DDLError
from .regions import RegionSettings, RegionTable, regions_path, video_regions, write_regions
from .inference import fill_border, window_scores
from ..io_utils import atomic_path
from .scores_io import model_attrs, video_of_store
from .settings import ScoreSettings


def score_frame_stores(
    model: torch.nn.Module,
    meta: dict[str, Any],
    frame_paths: Sequence[str | Path],
    out: str | Path,
    score: ScoreSettings,
    model_path: str | Path = "",
    roi: np.ndarray | None = None,
) -> dict[str, int]:
    """Score the test frame stores ``frame_paths`` with ``model`` and write the scores file ``out`` and,
    beside it, the region file (:func:`ddlcore.score.regions.regions_path`).

    meta: the checkpoint meta (arch, variant, frames, height, width, channels, dataset, scene).
    score: the score settings (recorded in the file's ``settings``). Each store's frames must match the model's
    size and channels and hold at least ``frames`` (T) frames, and the scores must be finite, else DDLError naming the store.
    roi: bool (H, W), the camera's watched pixels (:mod:`ddlcore.data.roi`): the error elsewhere is 0 in scores,
    maps and regions; None: the whole frame. Returns {video name: frame count}.
    """
    clip = int(meta["frames"])
    device = next(model.parameters()).device
    region_settings = RegionSettings.from_settings(score)
    regions: dict[str, RegionTable] = {}
    written: dict[str, int] = {}
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        attrs = {**model_attrs(meta, model_path), "settings": json.dumps(score.as_config(), sort_keys=True),
                 "runtime": getattr(model, "runtime", "torch")}
        f.attrs.update(attrs)
        for path in frame_paths:
            with FrameStore(path) as store:
                name = video_of_store(store, path, meta)
                if name in written:
                    raise DDLError(f"{path}: video {name!r} given twice")
                scores, maps = window_scores(
                    model, store, clip, score.patch, score.shifted_grid, score.batch_size,
                    device, score.share_encoder, score.map_stride, desc=name, background=score.background,
                    autocast=score.autocast_cuda, roi=roi, motion_weight=score.motion_weight,
                )
                if not np.isfinite(scores).all():
                    raise DDLError(f"{path}: the model's scores of video {name} are not finite (NaN or infinity)")
                group = f.create_group(f"videos/{name}")
                group.attrs.update(frames=str(path), n_frames=len(store))
                filled, valid = fill_border(scores, len(store), clip, score.border)
                group.create_dataset("score", data=filled.astype(np.float32))
                group.create_dataset("valid", data=valid)
                maps = fill_border(maps, len(store), clip, "nearest")[0]
                if score.save_maps:
                    group.create_dataset("maps", data=maps, compression="gzip")
                regions[name] = video_regions(maps, region_settings)
                written[name] = len(store)
    write_regions(regions_path(out), regions, region_settings, attrs)
    return written
