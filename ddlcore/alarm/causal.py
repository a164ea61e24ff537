"""Causal frame scores: what a live system can compute, with where in the frame the error is.

The score of frame f needs frames f - T//2 .. f + T//2 (the model's window), so a live system
reports it T//2 frames late (``latency_frames``) and never looks further ahead. Instead of the
per-video statistics of offline scoring (``score.background: video_median``, per-video min-max),
the per-pixel error may have a fixed background map subtracted (the median error over the
calibration footage, ``alarm.background: calibration``), and the frame scores are smoothed by a
trailing median over the last ``alarm.smooth_frames`` scores (past frames only).

The same functions serve calibration, ``ddl score --calibration`` and ``ddl watch``
(:class:`ddlcore.live.scorer.LiveScorer` calls :func:`patch_peaks` and :func:`subtract_background`
one frame at a time), so calibrated thresholds mean the same thing everywhere.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DDLError
from ..inference import FrameSource, autocast_for, pixel_error, to_tensor, window_errors


def latency_frames(clip: int) -> int:
    """Frames a causal score of frame f waits for after f: T//2 for a clip of T frames."""
    return clip // 2


def patch_peaks(error: torch.Tensor, patch: int, shifted_grid: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame scores and the box of the patch that gives each.

    error: float (B, H, W). Returns (scores float (B,), equal to
    :func:`ddlcore.inference.patch_scores`; boxes long (B, 4) as x0, y0, x1, y1 in error-map
    pixels, x1 and y1 exclusive). With ``shifted_grid`` the grid shifted by patch//2 competes too.
    """
    if error.shape[-2] < patch or error.shape[-1] < patch:
        raise DDLError(f"config: key 'score.patch': patch {patch} exceeds frame size {tuple(error.shape[-2:])}")
    maps = error[:, None]

    def best_of(grid: torch.Tensor, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = F.avg_pool2d(grid, patch, stride=patch)
        columns = pooled.shape[-1]
        value, index = pooled.flatten(1).max(dim=1)
        y0 = torch.div(index, columns, rounding_mode="floor") * patch + offset
        x0 = (index % columns) * patch + offset
        return value, torch.stack([x0, y0, x0 + patch, y0 + patch], dim=1)

    scores, boxes = best_of(maps, 0)
    shift = patch // 2
    if shifted_grid and shift > 0 and min(maps.shape[-2:]) - shift >= patch:
        shifted, shifted_boxes = best_of(maps[..., shift:, shift:], shift)
        better = shifted > scores
        scores = torch.where(better, shifted, scores)
        boxes = torch.where(better[:, None], shifted_boxes, boxes)
    return scores, boxes


def subtract_background(error: torch.Tensor, background: torch.Tensor | None) -> torch.Tensor:
    """error float (B, H, W) minus a background map (H, W), clamped at 0; unchanged when None."""
    return error if background is None else (error - background).clamp_min(0)


@torch.no_grad()
def background_map(model: torch.nn.Module, videos: list[FrameSource], clip: int, windows: int,
                   device: torch.device, batch_size: int) -> np.ndarray:
    """Per-pixel median error over ``windows`` windows spread evenly over ``videos``.

    videos: uint8 (N_i, H, W, C) sources, each with N_i >= clip. Returns float32 (H, W).
    """
    starts = [(v, s) for v, video in enumerate(videos) for s in range(len(video) - clip + 1)]
    if not starts:
        raise DDLError("calibration footage holds no full window of the model's clip length")
    chosen = [starts[int(i)] for i in np.unique(np.linspace(0, len(starts) - 1, min(windows, len(starts))).round())]
    half = clip // 2
    errors = []
    for b in range(0, len(chosen), batch_size):
        clips = torch.stack([to_tensor(videos[v][s : s + clip], device) for v, s in chosen[b : b + batch_size]])
        with autocast_for(device):
            recon = model(clips.permute(0, 2, 1, 3, 4))  # (B, C, T, H, W) -> middle frame
        errors.append(pixel_error(clips[:, half], recon.float()).cpu())
    return torch.cat(errors).median(dim=0).values.numpy().astype(np.float32)


@torch.no_grad()
def causal_window_scores(model: torch.nn.Module, frames: FrameSource, clip: int, score_cfg: dict[str, Any],
                         background: np.ndarray | None, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Raw causal scores of every full window of one video (no smoothing yet).

    frames: uint8 (N, H, W, C), N >= clip; background float (H, W) or None; score_cfg: the
    ``score`` section (patch, shifted_grid, batch_size, share_encoder). Returns (scores float32
    (N - clip + 1,), boxes int32 (N - clip + 1, 4) x0, y0, x1, y1 in model pixels), entry j
    belonging to frame j + clip//2.
    """
    bg = None if background is None else torch.from_numpy(background).to(device)
    scores, boxes = [], []
    for error in window_errors(model, frames, clip, score_cfg["batch_size"], device, score_cfg["share_encoder"]):
        s, b = patch_peaks(subtract_background(error, bg), score_cfg["patch"], score_cfg["shifted_grid"])
        scores.append(s.cpu().numpy())
        boxes.append(b.cpu().numpy())
    return np.concatenate(scores).astype(np.float32), np.concatenate(boxes).astype(np.int32)


def trailing_median(scores: np.ndarray, frames: int) -> np.ndarray:
    """(N,) -> float64 (N,): median of the last ``frames`` values up to each one, NaNs ignored.

    Only past values enter, so smoothing adds no latency; a NaN entry (a frame without a score) stays NaN.
    """
    s = np.asarray(scores, np.float64)
    if frames <= 1 or s.size == 0:
        return s.copy()
    padded = np.concatenate([np.full(frames - 1, np.nan), s])
    windows = np.lib.stride_tricks.sliding_window_view(padded, frames)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
        smoothed = np.nanmedian(windows, axis=1)
    smoothed[np.isnan(s)] = np.nan
    return smoothed


def frame_scores(model: torch.nn.Module, frames: FrameSource, clip: int, score_cfg: dict[str, Any],
                 alarm_cfg: dict[str, Any], background: np.ndarray | None,
                 device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Causal, smoothed score of every frame of one video, as live scoring computes it.

    frames: uint8 (N, H, W, C), N >= clip. Returns (scores float64 (N,), NaN for the first and
    last clip//2 frames, which have no window; boxes int32 (N, 4) of each frame's worst patch,
    -1 where there is no score). Smoothing: :func:`trailing_median` over ``alarm.smooth_frames``.
    DDLError when a window's score is not finite.
    """
    raw, raw_boxes = causal_window_scores(model, frames, clip, score_cfg, background, device)
    if not np.isfinite(raw).all():
        raise DDLError(f"{len(raw) - int(np.isfinite(raw).sum())} of {len(raw)} window scores are not finite "
                       "(the model's output holds NaN or infinity)")
    half = clip // 2
    scores = np.full(len(frames), np.nan)
    scores[half : half + len(raw)] = raw
    boxes = np.full((len(frames), 4), -1, np.int32)
    boxes[half : half + len(raw)] = raw_boxes
    return trailing_median(scores, alarm_cfg["smooth_frames"]), boxes
