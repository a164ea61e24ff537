"""Scoring new footage: any video file or frame folder with a trained model (``ddl score --model M.pt INPUT``).

Frames are converted the way the frame stage does (:func:`ddlcore.data.framestore.resize_frame`):
to the model's channel count (RGB <-> gray) and resized to its height x width, so a model trained
at another resolution or channel count still applies. Outputs:

- a CSV with one row per frame: ``frame, score`` (raw frame score), ``normalised`` (min-max over
  the footage), ``smoothed`` (normalised, then median-filtered with ``metrics.median_window``);
  border frames follow ``score.border`` (``drop``: empty cells);
- on request, an overlay video: each original frame with the per-pixel error heatmap blended in
  and a strip below it showing the smoothed score curve with the current frame marked
  (``.mp4`` -> mp4v, anything else -> MJPG).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np
import pandas as pd
import torch

from .data.framestore import resize_frame
from .data.video_io import list_images, read_image_files, read_video_file, video_file_info
from .errors import DDLError
from .io_utils import atomic_path

#: fps of the overlay video made from a frame folder (folders carry no frame rate)
FOLDER_FPS = 25.0
#: height in pixels of the score strip under each overlay frame
STRIP_HEIGHT = 64


def footage_frames(path: str | Path) -> tuple[Iterator[np.ndarray], float]:
    """(frames as uint8 (h, w) or (h, w, 3) RGB, fps) of a video file or a folder of images.

    DDLError naming ``path`` when it is missing or unreadable.
    """
    p = Path(path)
    if p.is_dir():
        return read_image_files(list_images(p)), FOLDER_FPS
    if not p.exists():
        raise DDLError(f"{p}: no such video file or frame folder")
    fps = video_file_info(p).fps
    return read_video_file(p), fps if fps > 0 else FOLDER_FPS


def load_footage(path: str | Path, height: int, width: int, channels: int) -> tuple[np.ndarray, float]:
    """All frames of ``path`` converted to uint8 (N, height, width, channels), and the fps."""
    frames, fps = footage_frames(path)
    converted = [resize_frame(f, height, width, channels) for f in frames]
    if not converted:
        raise DDLError(f"{path}: no frames could be read")
    return np.stack(converted), fps


def footage_scores(scores: np.ndarray, valid: np.ndarray, metrics_cfg: dict[str, Any]) -> pd.DataFrame:
    """Per-frame table: scores float (N,), valid bool (N,) -> DataFrame frame, score, normalised, smoothed."""
    from .metrics import median_smooth, minmax_normalise

    table = pd.DataFrame({"frame": np.arange(len(scores)), "score": scores.astype(np.float64)})
    table["normalised"] = np.nan
    table["smoothed"] = np.nan
    norm = minmax_normalise(scores[valid])
    table.loc[valid, "normalised"] = norm
    table.loc[valid, "smoothed"] = median_smooth(norm, metrics_cfg["median_window"])
    return table


def _heatmap(error: np.ndarray, scale: float, size: tuple[int, int]) -> np.ndarray:
    """Error map (h, w) -> RGB uint8 heatmap of ``size`` (height, width); ``scale`` maps to full colour."""
    level = np.clip(error.astype(np.float32) / scale, 0, 1)
    coloured = cv2.applyColorMap((level * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.cvtColor(cv2.resize(coloured, (size[1], size[0]), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)


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


def write_overlay(source: str | Path, maps: np.ndarray, curve: np.ndarray, out: str | Path) -> int:
    """Overlay video of ``source``: frames with the error heatmap blended in, score strip below.

    maps float (N, h, w) per-pixel errors at the model's resolution; curve float (N,) in [0, 1]
    (NaN where no score). Frames are re-read from ``source`` at their original size.
    Returns the number of frames written.
    """
    frames, fps = footage_frames(source)
    scale = float(np.quantile(maps, 0.999)) or 1.0
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if out.suffix.lower() == ".mp4" else "MJPG"))
    # OpenCV picks the container from the suffix, so the temporary name keeps it (atomic_path's does not)
    tmp = out.with_name(f".{out.stem}.tmp{os.getpid()}{out.suffix}")
    writer = None
    written = 0
    try:
        for i, frame in enumerate(frames):
            if i >= len(maps):
                break
            rgb = np.repeat(frame[:, :, None], 3, axis=2) if frame.ndim == 2 else frame
            blended = cv2.addWeighted(rgb, 0.6, _heatmap(maps[i], scale, rgb.shape[:2]), 0.4, 0)
            canvas = np.concatenate([blended, _strip(curve, i, rgb.shape[1])], axis=0)
            if writer is None:
                writer = cv2.VideoWriter(str(tmp), fourcc, fps, (canvas.shape[1], canvas.shape[0]))
                if not writer.isOpened():
                    raise DDLError(f"{out}: OpenCV cannot write this video (try .avi or .mp4)")
            writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
            written += 1
        writer.release()
        os.replace(tmp, out)
    finally:
        if writer is not None:
            writer.release()
        tmp.unlink(missing_ok=True)
    return written


def score_footage(
    model: torch.nn.Module, meta: dict[str, Any], source: str | Path, cfg: dict[str, Any],
    out_csv: str | Path, overlay: str | Path | None = None,
) -> pd.DataFrame:
    """Score a video file or frame folder with a loaded model; write the CSV (and the overlay video).

    meta: checkpoint meta (frames, height, width, channels); cfg: the full config (score and
    metrics sections). Returns the per-frame table written to ``out_csv``.
    """
    from .inference import fill_border, window_scores

    clip, height, width, channels = (int(meta[k]) for k in ("frames", "height", "width", "channels"))
    frames, _ = load_footage(source, height, width, channels)
    if len(frames) < clip:
        raise DDLError(f"{source}: {len(frames)} frames, fewer than the model's clip length {clip}")
    sc = cfg["score"]
    device = next(model.parameters()).device
    windows, maps = window_scores(model, frames, clip, sc["patch"], sc["shifted_grid"], sc["batch_size"], device,
                                  sc["share_encoder"], 1 if overlay else None, desc=Path(source).name,
                                  background=sc["background"])
    scores, valid = fill_border(windows, len(frames), clip, sc["border"])
    table = footage_scores(scores, valid, cfg["metrics"])
    with atomic_path(out_csv) as tmp:
        table.to_csv(tmp, index=False)
    if overlay:
        write_overlay(source, fill_border(maps, len(frames), clip, "nearest")[0], table["smoothed"].to_numpy(), overlay)
    return table
