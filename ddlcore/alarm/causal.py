"""Causal frame scores: what a live system can compute, with where in the frame the error is.

The score of frame f needs frames f - T//2 .. f + T//2 (the model's window), so a live system
reports it T//2 frames late (``latency_frames``) and never looks further ahead. Instead of the
per-video statistics of offline scoring (``score.background: video_median``, per-video min-max),
the per-pixel error may have a fixed background map subtracted (the median error over the
calibration footage, ``alarm.background: calibration``), and the frame scores are smoothed by a
trailing median over the last ``alarm.smooth_frames`` scores (past frames only).

The same functions serve calibration, ``ddl score --calibration`` and ``ddl watch``
(:class:`ddlcore.live.scorer.LiveScorer` calls :func:`patch_peaks` and :func:`subtract_background`
one frame at a time), so calibrated thresholds mean the same thing everywhere. A camera's region of
interest (:mod:`ddlcore.data.roi`) is the calibration's: it masks the error before anything here.
"""

from __future__ import annotations

import warnings
from typing import Iterable

import numpy as np
import torch

from ..errors import DDLError
from ..score.inference import FrameSource, autocast_for, pixel_error, roi_tensor, to_tensor, window_errors
from ..score.motion import motion_error
from ..score.patches import patch_peaks
from ..score.settings import ScoreSettings
from .settings import AlarmSettings


def latency_frames(clip: int) -> int:
    """Frames a causal score of frame f waits for after f: T//2 for a clip of T frames."""
    return clip // 2


def subtract_background(error: torch.Tensor, background: torch.Tensor | None) -> torch.Tensor:
    """error float (B, H, W) minus a background map (H, W), clamped at 0; unchanged when None."""
    return error if background is None else (error - background).clamp_min(0)


@torch.no_grad()
def background_map(model: torch.nn.Module, videos: list[FrameSource], clip: int, windows: int,
                   device: torch.device, batch_size: int, roi: np.ndarray | None = None,
                   motion_weight: float = 0.0) -> np.ndarray:
    """Per-pixel median error over ``windows`` windows spread evenly over ``videos``.

    videos: uint8 (N_i, H, W, C) sources, each with N_i >= clip; roi: bool (H, W) watched pixels or None (the
    error elsewhere is 0, as in the scores); motion_weight: the motion term in the error
    (:mod:`ddlcore.score.motion`). Returns float32 (H, W).
    """
    starts = [(v, s) for v, video in enumerate(videos) for s in range(len(video) - clip + 1)]
    if not starts:
        raise DDLError("calibration footage holds no full window of the model's clip length")
    chosen = [starts[int(i)] for i in np.unique(np.linspace(0, len(starts) - 1, min(windows, len(starts))).round())]
    half = clip // 2
    mask = roi_tensor(roi, device)
    errors = []
    for b in range(0, len(chosen), batch_size):
        clips = torch.stack([to_tensor(videos[v][s : s + clip], device) for v, s in chosen[b : b + batch_size]])
        with autocast_for(device):
            recon = model(clips.permute(0, 2, 1, 3, 4))  # (B, C, T, H, W) -> middle frame
        motion = motion_error(clips[:, half - 1], clips[:, half], motion_weight)
        errors.append(pixel_error(clips[:, half], recon.float(), mask, motion).cpu())
    return torch.cat(errors).median(dim=0).values.numpy().astype(np.float32)


def causal_peaks(errors: Iterable[torch.Tensor], patch: int, shifted_grid: bool,
                 background: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Raw causal scores of one video's window errors (no smoothing yet).

    errors: float (b, H, W) batches in window order (:func:`ddlcore.score.inference.window_errors`);
    patch, shifted_grid: the patch pooling (``score.patch``, ``score.shifted_grid``; under a calibration, its
    own); background float (H, W) or None,
    subtracted before pooling. Returns (scores float32 (W,), boxes int32 (W, 4) x0, y0, x1, y1 in
    model pixels) for the W windows, entry j belonging to frame j + clip//2. DDLError when a window's
    score is not finite.
    """
    bg: torch.Tensor | None = None
    scores, boxes = [], []
    for error in errors:
        if background is not None and bg is None:
            bg = torch.from_numpy(background).to(error.device)
        s, b = patch_peaks(subtract_background(error, bg), patch, shifted_grid)
        scores.append(s.cpu().numpy())
        boxes.append(b.cpu().numpy())
    raw = np.concatenate(scores).astype(np.float32)
    if not np.isfinite(raw).all():
        raise DDLError(f"{len(raw) - int(np.isfinite(raw).sum())} of {len(raw)} window scores are not finite "
                       "(the model's output holds NaN or infinity)")
    return raw, np.concatenate(boxes).astype(np.int32)


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


def causal_frame_scores(raw: np.ndarray, raw_boxes: np.ndarray, n_frames: int, clip: int,
                        smooth_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-window causal scores (W,) and boxes (W, 4) -> every frame's smoothed score and box.

    Returns (scores float64 (N,), NaN for the first and last clip//2 frames, which have no window;
    boxes int32 (N, 4) of each frame's worst patch, -1 where there is no score). Smoothing:
    :func:`trailing_median` over ``smooth_frames``.
    """
    half = clip // 2
    scores = np.full(n_frames, np.nan)
    scores[half : half + len(raw)] = raw
    boxes = np.full((n_frames, 4), -1, np.int32)
    boxes[half : half + len(raw)] = raw_boxes
    return trailing_median(scores, smooth_frames), boxes


@torch.no_grad()
def frame_scores(model: torch.nn.Module, frames: FrameSource, clip: int, score: ScoreSettings,
                 alarm: AlarmSettings, background: np.ndarray | None,
                 device: torch.device, roi: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Causal, smoothed score of every frame of one video, as live scoring computes it.

    frames: uint8 (N, H, W, C), N >= clip; score: its patch, shifted_grid, motion_weight, batch_size and share_encoder;
    alarm: its smooth_frames; background float (H, W) or None; roi: bool (H, W) watched pixels or None.
    Returns :func:`causal_frame_scores`.
    """
    errors = window_errors(model, frames, clip, score.batch_size, device, score.share_encoder, roi=roi,
                           motion_weight=score.motion_weight)
    raw, raw_boxes = causal_peaks(errors, score.patch, score.shifted_grid, background)
    return causal_frame_scores(raw, raw_boxes, len(frames), clip, alarm.smooth_frames)
