"""Scoring new footage: any video file or frame folder with a trained model (``ddl score --model M.pt INPUT``).

Frames are converted the way the frame stage does (:func:`ddlcore.data.framestore.resize_frame`):
to the model's channel count (RGB <-> gray) and resized to its height x width, so a model trained
at another resolution or channel count still applies. Outputs:

- a CSV with one row per frame: ``frame, score`` (raw frame score), ``normalised`` (min-max over
  the footage), ``smoothed`` (normalised, then median-filtered with ``metrics.median_window``);
  border frames follow ``score.border`` (``drop``: empty cells); with a calibration (the model's
  ``.alarm.h5`` sidecar, see :mod:`ddlcore.alarm.calibration`) also ``live`` (the causal score
  live scoring computes), ``alarm`` (1 inside an event) and ``gated`` (1 where the frame's window was not
  run through the model, the change gate ``score.gate`` of :mod:`ddlcore.score.gate`: all of its scores are
  those of the last scored window; empty for the border frames, which have no window);
- with a calibration, an events CSV beside it (``<csv stem>.events.csv``): one row per event,
  frames, seconds, peak score and the box (x0, y0, x1, y1, footage pixels) of the worst patch;
- on request, an overlay video: each original frame with the per-pixel error heatmap blended in
  and a strip below it showing the smoothed score curve with the current frame marked
  (``.mp4`` -> mp4v, anything else -> MJPG).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

import cv2
import numpy as np
import pandas as pd
import torch

from ..data.footage_reader import footage_frames, load_footage
from ..errors import DDLError
from ..io_utils import atomic_path
from ..score.heatmap import blend_heatmap
from ..score.inference import fill_border, pool_window_errors, window_errors
from ..score.postprocess import median_smooth, minmax_normalise
from ..score.settings import ScoreSettings
from .calibration import Calibration, calibrated_errors, calibrated_events
from .events import alarm_mask, event_record
from .settings import AlarmSettings

#: height in pixels of the score strip under each overlay frame
STRIP_HEIGHT = 64
#: columns of an events CSV
EVENT_COLUMNS = ["start", "end", "start_s", "end_s", "peak_frame", "peak_score", "x0", "y0", "x1", "y1"]


def footage_scores(scores: np.ndarray, valid: np.ndarray, median_window: int) -> pd.DataFrame:
    """Per-frame table: scores float (N,), valid bool (N,) -> DataFrame frame, score, normalised, smoothed
    (normalised, median-filtered over ``median_window`` frames, ``metrics.median_window``)."""
    table = pd.DataFrame({"frame": np.arange(len(scores)), "score": scores.astype(np.float64)})
    table["normalised"] = np.nan
    table["smoothed"] = np.nan
    norm = minmax_normalise(scores[valid])
    table.loc[valid, "normalised"] = norm
    table.loc[valid, "smoothed"] = median_smooth(norm, median_window)
    return table


def _strip(curve: np.ndarray, current: int, width: int) -> np.ndarray:
    """RGB uint8 (STRIP_HEIGHT, width): the score curve (values in [0, 1], NaN gaps) and a marker."""
    strip = np.full((STRIP_HEIGHT, width, 3), 24, np.uint8)
    n = len(curve)
    xs = np.round(np.arange(n) * (width - 1) / max(n - 1, 1)).astype(np.int32)
    ys = np.round((1 - np.nan_to_num(curve)) * (STRIP_HEIGHT - 5) + 2).astype(np.int32)
    points = np.stack([xs, ys], axis=1)[np.isfinite(curve)]
    if len(points) > 1:
        cv2.polylines(strip, [points.reshape(-1, 1, 2)], False, (80, 200, 255), 1, cv2.LINE_AA)
    cv2.line(strip, (int(xs[current]), 0), (int(xs[current]), STRIP_HEIGHT - 1), (255, 60, 60), 1)
    if np.isfinite(curve[current]):
        cv2.putText(strip, f"{curve[current]:.2f}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    return strip


def write_overlay(source: str | Path, maps: np.ndarray, curve: np.ndarray, out: str | Path, folder_fps: float) -> int:
    """Overlay video of ``source``: frames with the error heatmap blended in, score strip below.

    maps float (N, h, w) per-pixel errors at the model's resolution; curve float (N,) in [0, 1]
    (NaN where no score). Frames are re-read from ``source`` at their original size (a folder's
    at ``folder_fps``). Returns the number of frames written.
    """
    frames, fps = footage_frames(source, folder_fps)
    scale = float(np.quantile(maps, 0.999)) or 1.0
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if out.suffix.lower() == ".mp4" else "MJPG"))
    writer = None
    written = 0
    with atomic_path(out, keep_suffix=True) as tmp:  # OpenCV picks the container from the suffix
        try:
            for i, frame in enumerate(frames):
                if i >= len(maps):
                    break
                rgb = np.repeat(frame[:, :, None], 3, axis=2) if frame.ndim == 2 else frame
                blended = blend_heatmap(rgb, maps[i], scale)
                canvas = np.concatenate([blended, _strip(curve, i, rgb.shape[1])], axis=0)
                if writer is None:
                    writer = cv2.VideoWriter(str(tmp), fourcc, fps, (canvas.shape[1], canvas.shape[0]))
                    if not writer.isOpened():
                        raise DDLError(f"{out}: OpenCV cannot write this video (try .avi or .mp4)")
                writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
                written += 1
        finally:
            if writer is not None:
                writer.release()
    return written


def score_footage(
    model: torch.nn.Module, meta: dict[str, Any], source: str | Path, score: ScoreSettings,
    median_window: int, alarm: AlarmSettings, out_csv: str | Path, overlay: str | Path | None = None,
    calibration: Calibration | None = None, events_csv: str | Path | None = None, roi: np.ndarray | None = None,
) -> pd.DataFrame:
    """Score a video file or frame folder with a loaded model; write the CSV (and the overlay video).

    meta: checkpoint meta (frames, height, width, channels); score: how frames are scored; median_window: the
    ``smoothed`` column's median filter (``metrics.median_window``); alarm: a frame folder's frame rate (``fps``). With a
    ``calibration`` the table gains ``live`` (the causal score) and ``alarm`` (1 inside an event), and the
    events go to ``events_csv`` (one row per event, box in the footage's pixels). ``roi`` bool (H, W) at the
    model's size: only its watched pixels' error counts, in every column and the overlay (with a calibration,
    the ROI it was made with). Returns the per-frame table written to ``out_csv``.
    """
    clip, height, width, channels = (int(meta[k]) for k in ("frames", "height", "width", "channels"))
    footage = load_footage(source, height, width, channels, alarm.fps)
    frames = footage.frames
    if len(frames) < clip:
        raise DDLError(f"{source}: {len(frames)} frames, fewer than the model's clip length {clip}")
    device = next(model.parameters()).device
    scored = None
    if calibration is not None:  # the offline and the causal scores share the errors: the calibration's motion term
        score = replace(score, motion_weight=calibration.score["motion_weight"])
    with torch.no_grad():
        errors: Iterable[torch.Tensor]
        if calibration is None:
            errors = window_errors(model, frames, clip, score.batch_size, device, score.share_encoder,
                                   desc=Path(source).name, autocast=score.autocast_cuda, roi=roi,
                                   motion_weight=score.motion_weight)
        else:  # one pass of the model, through the change gate: the offline and the causal scores share the errors
            gated, scored = calibrated_errors(model, frames, calibration, score, device, Path(source).name, roi)
            errors = [e.cpu() for e in gated]
        windows, maps = pool_window_errors(errors, score.patch, score.shifted_grid, score.batch_size,
                                           1 if overlay else None, score.background)
    if not np.isfinite(windows).all():
        raise DDLError(f"{source}: the model's scores are not finite (NaN or infinity)")
    scores, valid = fill_border(windows, len(frames), clip, score.border)
    table = footage_scores(scores, valid, median_window)
    if calibration is not None:
        live, _, events = calibrated_events(errors, len(frames), calibration)
        table["live"] = live
        table["alarm"] = alarm_mask(events, len(frames)).astype(int)
        gated = np.full(len(frames), np.nan)
        gated[clip // 2 : clip // 2 + len(scored)] = ~scored
        table["gated"] = pd.array(gated, dtype="Int64")
        records = [event_record(e, footage.fps, (height, width), (footage.height, footage.width)) for e in events]
        rows = pd.DataFrame([{**{k: v for k, v in r.items() if k != "box"}, **dict(zip(("x0", "y0", "x1", "y1"), r["box"]))}
                             for r in records], columns=EVENT_COLUMNS)
    with atomic_path(out_csv) as tmp:  # the events file is renamed into place just before its scores file, never alone
        table.to_csv(tmp, index=False)
        if calibration is not None:
            with atomic_path(events_csv or Path(out_csv).with_suffix(".events.csv")) as events_tmp:
                rows.to_csv(events_tmp, index=False)
    if overlay:
        write_overlay(source, fill_border(maps, len(frames), clip, "nearest")[0], table["smoothed"].to_numpy(), overlay,
                      alarm.fps)
    return table
