"""Scoring (``ddl score``): per-frame anomaly scores of test frame stores or of any footage.

``ddl score`` has two modes: ``--frames F1.h5 ... --out S.h5`` scores test frame stores into a
scores file (layout in :mod:`ddlcore.scores_io`, scores as in :mod:`ddlcore.inference`); a
positional ``VIDEO_OR_FOLDER`` scores any footage (see :mod:`ddlcore.footage`). With an alarm
calibration (``--calibration A.h5``; for footage the model's ``M.alarm.h5`` sidecar when present)
frame stores are scored causally into a live scores file with events
(:mod:`ddlcore.alarm.live_scores`), and footage gets a causal score column and an events CSV.
Scoring frame stores also writes each frame's region detections beside the scores file
(``S.regions.h5``, :mod:`ddlcore.score.regions`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np
import torch

from .data.framestore import FrameStore
from .devices import resolve_device
from .errors import DDLError
from .inference import fill_border, load_model, window_scores
from .io_utils import atomic_path
from .scores_io import model_attrs, video_of_store

# transitional, until the restructuring (issue 24) makes ddlcore.score a package: lets ddlcore/score/regions.py
# import as ddlcore.score.regions beside this module
__path__ = [str(Path(__file__).with_suffix(""))]


def score_frame_stores(
    model: torch.nn.Module,
    meta: dict[str, Any],
    frame_paths: Sequence[str | Path],
    out: str | Path,
    score_cfg: dict[str, Any],
    model_path: str | Path = "",
) -> dict[str, int]:
    """Score the test frame stores ``frame_paths`` with ``model`` and write the scores file ``out`` and,
    beside it, the region file (:func:`ddlcore.score.regions.regions_path`).

    meta: the checkpoint meta (arch, variant, frames, height, width, channels, dataset, scene).
    score_cfg: the ``score`` config section. Each store's frames must match the model's size and
    channels and hold at least ``frames`` (T) frames, else DDLError naming the store.
    Returns {video name: frame count}.
    """
    from .score.regions import RegionSettings, RegionTable, regions_path, video_regions, write_regions

    clip = int(meta["frames"])
    device = next(model.parameters()).device
    region_settings = RegionSettings.from_config(score_cfg)
    regions: dict[str, RegionTable] = {}
    written: dict[str, int] = {}
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        attrs = {**model_attrs(meta, model_path), "settings": json.dumps(score_cfg, sort_keys=True)}
        f.attrs.update(attrs)
        for path in frame_paths:
            with FrameStore(path) as store:
                name = video_of_store(store, path, meta)
                if name in written:
                    raise DDLError(f"{path}: video {name!r} given twice")
                scores, maps = window_scores(
                    model, store, clip, score_cfg["patch"], score_cfg["shifted_grid"], score_cfg["batch_size"],
                    device, score_cfg["share_encoder"], score_cfg["map_stride"], desc=name, background=score_cfg["background"],
                    autocast=score_cfg["autocast_cuda"],
                )
                group = f.create_group(f"videos/{name}")
                group.attrs.update(frames=str(path), n_frames=len(store))
                score, valid = fill_border(scores, len(store), clip, score_cfg["border"])
                group.create_dataset("score", data=score.astype(np.float32))
                group.create_dataset("valid", data=valid)
                maps = fill_border(maps, len(store), clip, "nearest")[0]
                if score_cfg["save_maps"]:
                    group.create_dataset("maps", data=maps, compression="gzip")
                regions[name] = video_regions(maps, region_settings)
                written[name] = len(store)
    write_regions(regions_path(out), regions, region_settings, attrs)
    return written


def _calibration_for(args: argparse.Namespace) -> tuple[Any, Path | None]:
    """The calibration ``--calibration`` names, else the model's sidecar when it exists (footage mode only)."""
    from .alarm.calibration import load_calibration, sidecar_path

    path = Path(args.calibration) if args.calibration else sidecar_path(args.model)
    if args.calibration or (args.input is not None and path.is_file()):
        return load_calibration(path), path
    return None, None


def _run(args: argparse.Namespace) -> None:
    from .cli import config_from_args

    cfg = config_from_args(args)
    if (args.input is None) == (not args.frames):
        raise DDLError("ddl score: give either --frames F.h5 ... (test frame stores) or one VIDEO_OR_FOLDER, not both")
    calibration, calibration_path = _calibration_for(args)
    device = resolve_device(cfg["score"]["device"], "score.device")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = bool(cfg["score"]["cudnn_benchmark"])
    model, meta = load_model(args.model, device)
    if args.frames:
        if not args.out:
            raise DDLError("ddl score: --out S.h5 is required with --frames")
        if calibration is not None:
            from .alarm.live_scores import write_live_scores

            found = write_live_scores(model, meta, args.frames, args.out, calibration, calibration_path, cfg["score"], args.model)
            print(f"scored {len(found)} videos live, {sum(found.values())} events -> {args.out}")
            return
        written = score_frame_stores(model, meta, args.frames, args.out, cfg["score"], args.model)
        print(f"scored {len(written)} videos ({sum(written.values())} frames) -> {args.out}")
        return
    from .footage import score_footage

    out_csv = args.out_csv or f"{Path(args.input).name}.scores.csv"
    events_csv = args.events or Path(out_csv).with_suffix(".events.csv")
    score_footage(model, meta, args.input, cfg, out_csv, args.overlay, calibration, events_csv)
    print(f"scores -> {out_csv}" + (f", events -> {events_csv}" if calibration is not None else "")
          + (f", overlay -> {args.overlay}" if args.overlay else ""))


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl score`` (two modes: test frame stores, or any video / frame folder)."""
    from .cli import add_config_args

    add_config_args(parser)
    parser.add_argument("--model", required=True, metavar="M.pt", help="trained model checkpoint")
    parser.add_argument("input", nargs="?", metavar="VIDEO_OR_FOLDER", help="score any video file or frame folder")
    parser.add_argument("--frames", nargs="+", metavar="F.h5", help="test frame stores of one scene")
    parser.add_argument("--out", metavar="S.h5", help="scores file (with --frames)")
    parser.add_argument("--out-csv", metavar="CSV", help="per-frame scores of VIDEO_OR_FOLDER (default: <input>.scores.csv)")
    parser.add_argument("--overlay", metavar="VIDEO", help="also write an overlay video (.mp4: mp4v, .avi: MJPG)")
    parser.add_argument("--calibration", metavar="A.h5",
                        help="alarm calibration (ddl calibrate): score causally and detect events; for VIDEO_OR_FOLDER "
                             "the model's sidecar M.alarm.h5 is used when it exists")
    parser.add_argument("--events", metavar="CSV", help="events of VIDEO_OR_FOLDER (default: <out-csv stem>.events.csv)")
    parser.set_defaults(func=_run)
