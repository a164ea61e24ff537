"""Calibration (``ddl calibrate``): a model's causal scores on normal footage, and the threshold they give.

The sidecar file lies next to the model (``M.pt`` -> ``M.alarm.h5``); ``ddl score`` and
``ddl watch`` find it there, and refuse it for another model (:func:`check_calibration`: the model
file's SHA-256, clip length and frame size must be those it was made with). Layout (format version 2)::

    /background        float32 (H, W)  median per-pixel error over the calibration footage
                                       (only with ``alarm.background: calibration``)
    /roi               uint8 (H, W)    the camera's region of interest, 1 = watched (only when it was
                                       calibrated with one, ``ddl calibrate --roi``): every score made
                                       under this calibration ignores the error outside it
    /gate_noise        float32 (h, w)  the change gate's noise map, gray levels per 4x4-pixel cell
                                       (:func:`ddlcore.score.gate.fit_gate_noise`; absent in a file made
                                       before it: such a file, with a single ``gate_level`` attribute or
                                       none, loads with the gate off and says so in one line)
    /videos/{name}     float32 (N,)    causal, smoothed frame scores of each calibration video
                                       (NaN where a frame has no score)
    attrs: format_version=2, model, model_sha256, height, width, channels, threshold, fps, latency_frames, clip_frames,
           calibration_frames, calibration_hours, calibration_events,
           alarm (JSON of the alarm section), score (JSON of patch and shifted_grid)

Every calibration video is taken as normal: its events are false alarms.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable

import h5py
import numpy as np
import torch

from ..config import FIXED_SCORE_KEYS
from ..errors import DDLError, warn
from ..io_utils import atomic_path
from ..model.checkpoint import MAX_SIDE  # the longest frame side a calibration may record: a model's
from ..model.identity import model_fingerprint
from ..score.gate import CELL, fit_gate_noise, gate_levels, gated_window_errors, scored_windows
from ..score.inference import FrameSource
from ..score.settings import ScoreSettings
from .causal import background_map, causal_frame_scores, causal_peaks, frame_scores, latency_frames
from .events import AlarmRule, Event, detect_events
from .settings import AlarmSettings
from .threshold import choose_threshold, events_per_hour

FORMAT_VERSION = 2
#: ``score`` settings of the process that scores (its hardware), taken from the job's own section even when
#: a model's training config gives the rest (:func:`calibrated_score`)
PROCESS_SCORE_KEYS = ("device", "batch_size", "runtime", "precision", "gate", "gate_margin")


@dataclass
class Calibration:
    """A model's alarm calibration: threshold, the rule around it, and the footage it came from.

    background float32 (H, W) or None; videos: {name: scores float32 (N,)}; alarm: the alarm settings it was
    made with; score: the score settings it fixes, {key: value} of ``FIXED_SCORE_KEYS`` (under a calibration
    they replace the job's, :func:`calibrated_score`); model_sha256: SHA-256 of the model file
    (:func:`ddlcore.model.identity.model_fingerprint`; empty when made without one); size: the model's (height,
    width, channels); roi: bool (H, W) watched pixels (:mod:`ddlcore.data.roi`), None for the whole frame;
    gate_noise: float32 (h, w) the change gate's noise map (:func:`ddlcore.score.gate.fit_gate_noise`), None when
    made without one.
    """

    model: str
    threshold: float
    fps: float
    clip: int
    alarm: AlarmSettings
    score: dict[str, Any]
    background: np.ndarray | None
    videos: dict[str, np.ndarray]
    model_sha256: str = ""
    size: tuple[int, int, int] = (0, 0, 0)
    roi: np.ndarray | None = None
    gate_noise: np.ndarray | None = None

    def __post_init__(self) -> None:
        # a calibration always fixes the motion term: one made without it (before it existed, or by hand) scores without
        self.score = {"motion_weight": 0.0, **self.score}

    @property
    def rule(self) -> AlarmRule:
        """The alarm rule: threshold, hysteresis, minimum length, merge gap."""
        return AlarmRule.from_settings(self.threshold, self.alarm)

    @property
    def latency(self) -> int:
        """Frames a live score waits for after its frame (half the clip)."""
        return latency_frames(self.clip)

    def summary(self) -> dict[str, Any]:
        """JSON-able facts: threshold, footage length, events and rate on it, the settings."""
        frames = sum(len(v) for v in self.videos.values())
        events, rate = events_per_hour(list(self.videos.values()), self.rule, self.fps)
        return {
            "model": self.model, "threshold": self.threshold, "fps": self.fps, "latency_frames": self.latency,
            "calibration_videos": len(self.videos), "calibration_frames": frames,
            "calibration_hours": frames / self.fps / 3600.0, "calibration_events": events,
            "calibration_events_per_hour": rate, "alarm": self.alarm.as_config(), "score": self.score,
        }


def calibrated_score(calibration: Calibration, job: ScoreSettings, trained: ScoreSettings | None = None) -> ScoreSettings:
    """The ``score`` settings of scoring under ``calibration``: the one place a calibration and a job's settings
    are merged, for every caller (live scores files, footage, ``ddl watch``).

    job: the scoring process's own ``score`` section; trained: the one of the config the model was trained
    with (a deployed camera's ``config``), when given, for how the model is run (encoder sharing ...), with the
    job's :data:`PROCESS_SCORE_KEYS` (device, batch size, runtime, precision, the change gate and its margin) in place. The
    calibration's fixed keys (``FIXED_SCORE_KEYS``: patch, shifted grid, motion weight) replace both.
    """
    base = job if trained is None else replace(trained, **{k: getattr(job, k) for k in PROCESS_SCORE_KEYS})
    return replace(base, **calibration.score)


def sidecar_path(model_path: str | Path) -> Path:
    """Where a model's calibration lives: ``M.pt`` -> ``M.alarm.h5`` beside it."""
    p = Path(model_path)
    return p.with_name(f"{p.stem}.alarm.h5")


def check_calibration(calibration: Calibration, calibration_path: str | Path, model_path: str | Path,
                      meta: dict[str, Any]) -> None:
    """DDLError naming ``calibration_path`` unless ``calibration`` was made with the model file at ``model_path``
    (meta: its checkpoint meta): same clip length, frame size and file contents."""
    clip = int(meta["frames"])
    size = (int(meta["height"]), int(meta["width"]), int(meta["channels"]))
    if (calibration.clip, tuple(calibration.size)) != (clip, size):
        h, w, c = calibration.size
        raise DDLError(f"{calibration_path}: a calibration of a model with clips of {calibration.clip} frames of "
                       f"{h}x{w}x{c}, but {model_path} takes {clip} frames of {size[0]}x{size[1]}x{size[2]}: "
                       f"run ddl calibrate --model {model_path}")
    if calibration.model_sha256 != model_fingerprint(model_path):
        raise DDLError(f"{calibration_path}: a calibration of another model file ({calibration.model}), not of "
                       f"{model_path}: run ddl calibrate --model {model_path}")


def check_roi(calibration: Calibration, calibration_path: str | Path, roi: np.ndarray, roi_path: str | Path) -> None:
    """DDLError naming ``roi_path`` unless ``roi`` (bool (H, W), :func:`ddlcore.data.roi.load_roi`) is the region
    of interest ``calibration`` was made with: its threshold holds for the scores of that ROI only."""
    if calibration.roi is None or not np.array_equal(roi, calibration.roi):
        made_with = "another region of interest" if calibration.roi is not None else "no region of interest"
        raise DDLError(f"{roi_path}: {calibration_path} was calibrated with {made_with}: "
                       f"calibrate again with ddl calibrate --roi {roi_path}")


def save_calibration(calibration: Calibration, path: str | Path) -> None:
    """Write ``calibration`` to ``path`` (layout in the module docstring), atomically."""
    facts = calibration.summary()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(
            format_version=FORMAT_VERSION, model=calibration.model, model_sha256=calibration.model_sha256,
            height=calibration.size[0], width=calibration.size[1], channels=calibration.size[2],
            threshold=calibration.threshold,
            fps=calibration.fps, latency_frames=calibration.latency, clip_frames=calibration.clip,
            calibration_frames=facts["calibration_frames"], calibration_hours=facts["calibration_hours"],
            calibration_events=facts["calibration_events"],
            alarm=json.dumps(calibration.alarm.as_config(), sort_keys=True),
            score=json.dumps(stored_score(calibration.score), sort_keys=True),
        )
        if calibration.gate_noise is not None:
            f.create_dataset("gate_noise", data=calibration.gate_noise.astype(np.float32))
        if calibration.background is not None:
            f.create_dataset("background", data=calibration.background.astype(np.float32), compression="gzip")
        if calibration.roi is not None:
            f.create_dataset("roi", data=calibration.roi.astype(np.uint8), compression="gzip")
        for name, scores in calibration.videos.items():
            f.create_dataset(f"videos/{name}", data=np.asarray(scores, np.float32))


def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration sidecar; DDLError naming ``path`` when it is missing or not one."""
    p = Path(path)
    if not p.is_file():
        raise DDLError(f"calibration file not found: {p} (run ddl calibrate first)")
    try:
        with h5py.File(p, "r") as f:
            if f.attrs.get("format_version") == 1:
                raise DDLError(f"{p}: a version-1 calibration, which does not record its model: run ddl calibrate again")
            if f.attrs.get("format_version") != FORMAT_VERSION or "videos" not in f:
                raise DDLError(f"{p}: not a version-{FORMAT_VERSION} calibration file")
            a = f.attrs
            calibration = Calibration(
                model=str(a["model"]), threshold=float(a["threshold"]), fps=float(a["fps"]), clip=int(a["clip_frames"]),
                alarm=AlarmSettings.from_section(json.loads(a["alarm"]), f"{p}: alarm"),
                score=json.loads(a["score"]),
                background=f["background"][:] if "background" in f else None,
                videos={name: d[:] for name, d in f["videos"].items()}, model_sha256=str(a["model_sha256"]),
                size=(int(a["height"]), int(a["width"]), int(a["channels"])),
                roi=f["roi"][:].astype(bool) if "roi" in f else None,
                gate_noise=f["gate_noise"][:] if "gate_noise" in f else None,
            )
    except OSError as exc:
        raise DDLError(f"{p}: not a readable HDF5 calibration file ({exc})") from exc
    check_loaded(calibration, p)
    if calibration.gate_noise is None:
        warn(f"{p}: made before the change gate's per-cell noise map: every window is scored; run ddl calibrate "
             "again to gate still windows")
    return calibration


def check_loaded(calibration: Calibration, path: Path) -> None:
    """DDLError naming ``path`` when a read calibration's figures cannot be a calibration's: a threshold that is
    not a finite positive number (no alarm ever, or every frame alarmed), a frame rate or clip length that is not
    positive, a frame size past :data:`MAX_SIDE` (before a scorer allocates anything of that size)."""
    c = calibration
    if not (np.isfinite(c.threshold) and c.threshold > 0):
        raise DDLError(f"{path}: threshold {c.threshold} is not a finite positive number (a damaged or edited "
                       "calibration): run ddl calibrate again")
    if not (np.isfinite(c.fps) and c.fps > 0) or c.clip < 1:
        raise DDLError(f"{path}: frame rate {c.fps} and clip length {c.clip} must be positive: run ddl calibrate again")
    height, width, channels = c.size
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE and channels in (1, 3)):
        raise DDLError(f"{path}: frame size {height}x{width}x{channels} is not a model's (sides 1 to {MAX_SIDE}, "
                       "1 or 3 channels): run ddl calibrate again")
    cells = (max(1, height // CELL), max(1, width // CELL))
    noise = c.gate_noise
    if noise is not None and (noise.shape != cells or not (np.isfinite(noise).all() and (noise > 0).all())):
        raise DDLError(f"{path}: the gate's noise map ({'x'.join(map(str, noise.shape))} cells) is not finite "
                       f"positive numbers over {cells[0]}x{cells[1]} cells: run ddl calibrate again")


def calibration_gate_levels(calibration: Calibration, settings: ScoreSettings) -> np.ndarray | None:
    """The change gate's levels, float32 (h, w) gray levels per cell, of scoring under ``calibration`` with
    ``settings`` (:func:`calibrated_score`): ``score.gate_margin`` x the calibration's noise map when
    ``score.gate`` is on (:func:`ddlcore.score.gate.gate_levels`), None (every window scored) when it is off or
    the calibration has no map."""
    if not settings.gate or calibration.gate_noise is None:
        return None
    return gate_levels(calibration.gate_noise, settings.gate_margin)


def calibrated_errors(model: torch.nn.Module, frames: FrameSource, calibration: Calibration, settings: ScoreSettings,
                      device: torch.device, desc: str = "score",
                      roi: np.ndarray | None = None) -> tuple[Iterable[torch.Tensor], np.ndarray]:
    """The window errors of one video under ``calibration``, through its change gate (:mod:`ddlcore.score.gate`).

    frames: uint8 (N, H, W, C) at the model's size; settings: :func:`calibrated_score`'s (batch size, encoder
    sharing, motion term, ``gate``); roi: the error's region of interest, by default the calibration's (the gate
    watches the calibration's). Returns (float (b, H, W) batches of every window in order, a gated window's row
    a copy of the last scored one's; scored bool (N - T + 1,), False for the gated windows). Call under no_grad.
    """
    clip = calibration.clip
    scored = scored_windows(frames, clip, calibration_gate_levels(calibration, settings), calibration.roi)
    errors = gated_window_errors(model, frames, clip, settings.batch_size, device, scored, settings.share_encoder,
                                 desc, settings.autocast_cuda, calibration.roi if roi is None else roi,
                                 settings.motion_weight)
    return errors, scored


@torch.no_grad()
def apply_calibration(model: torch.nn.Module, frames: FrameSource, calibration: Calibration, score: ScoreSettings,
                      device: torch.device) -> tuple[np.ndarray, np.ndarray, list[Event]]:
    """Causal scores and events of one video under ``calibration``: :func:`gated_calibration` without the
    gate's decisions."""
    return gated_calibration(model, frames, calibration, score, device)[:3]


@torch.no_grad()
def gated_calibration(model: torch.nn.Module, frames: FrameSource, calibration: Calibration, score: ScoreSettings,
                      device: torch.device) -> tuple[np.ndarray, np.ndarray, list[Event], np.ndarray]:
    """Causal scores, events and gate decisions of one video under ``calibration``.

    frames: uint8 (N, H, W, C) at the model's size. ``score``: the job's settings (:func:`calibrated_score`:
    batch size, encoder sharing and the change gate; patch and shifted grid are the calibration's, the one
    source of those settings for causal scores). Returns :func:`calibrated_events` and scored bool (N - T + 1,)
    (:func:`calibrated_errors`).
    """
    errors, scored = calibrated_errors(model, frames, calibration, calibrated_score(calibration, score), device)
    return (*calibrated_events(errors, len(frames), calibration), scored)


def calibrated_events(errors: Iterable[torch.Tensor], n_frames: int,
                      calibration: Calibration) -> tuple[np.ndarray, np.ndarray, list[Event]]:
    """Causal scores and events of one video from its window errors (float (b, H, W) batches in order, made
    with the calibration's ROI).

    Returns (scores float64 (N,), boxes int32 (N, 4) in model pixels, events).
    """
    raw, raw_boxes = causal_peaks(errors, calibration.score["patch"], calibration.score["shifted_grid"],
                                  calibration.background)
    scores, boxes = causal_frame_scores(raw, raw_boxes, n_frames, calibration.clip, calibration.alarm.smooth_frames)
    return scores, boxes, detect_events(scores, boxes, calibration.rule)


def stored_score(score: dict[str, Any]) -> dict[str, Any]:
    """The fixed score settings as a calibration file stores them: without ``motion_weight`` when it is 0 (the
    paper's score), so that such a file is the one made before the motion term existed (:class:`Calibration`
    fills it in when read)."""
    return {k: v for k, v in score.items() if k != "motion_weight" or v}


def calibrate(model: torch.nn.Module, meta: dict[str, Any], videos: dict[str, tuple[FrameSource, float]],
              score: ScoreSettings, alarm: AlarmSettings, model_path: str | Path = "",
              roi: np.ndarray | None = None) -> Calibration:
    """Score normal ``videos`` causally and choose the threshold of the ``alarm`` settings.

    videos: {name: (uint8 frames (N, H, W, C) at the model's size, fps)}; score, alarm: the settings the
    causal scores and the threshold are made with (kept in the calibration: alarm whole, score its
    ``FIXED_SCORE_KEYS``); meta: the checkpoint meta (``frames``: clip length, frame size);
    model_path: the model's file (its fingerprint goes into the calibration); roi: bool (H, W), the camera's
    watched pixels (:mod:`ddlcore.data.roi`), kept in the calibration so that every causal score made
    under it ignores the same pixels; None: the whole frame. The footage's frame rate is the median of
    the videos' rates. The footage is scored without the change gate (every window), whose noise map is fitted
    on it (:func:`ddlcore.score.gate.fit_gate_noise`).
    """
    clip = int(meta["frames"])
    short = [name for name, (frames, _) in videos.items() if len(frames) < clip]
    if short:
        raise DDLError(f"calibration video {short[0]}: fewer frames than the model's clip length {clip}")
    if not videos:
        raise DDLError("ddl calibrate: no calibration footage given")
    device = next(model.parameters()).device
    sources = [frames for frames, _ in videos.values()]
    background = None
    if alarm.background == "calibration":
        background = background_map(model, sources, clip, alarm.background_windows, device, score.batch_size, roi,
                                    score.motion_weight)
    scores = {name: frame_scores(model, frames, clip, score, alarm, background, device, roi)[0]
              for name, (frames, _) in videos.items()}
    noise = fit_gate_noise(sources, roi)
    fps = float(np.median([fps for _, fps in videos.values()]))
    return Calibration(
        model=str(model_path), threshold=choose_threshold(list(scores.values()), fps, alarm), fps=fps, clip=clip,
        alarm=alarm, score={k: getattr(score, k) for k in FIXED_SCORE_KEYS}, background=background, videos=scores,
        model_sha256=model_fingerprint(model_path), size=(int(meta["height"]), int(meta["width"]), int(meta["channels"])),
        roi=roi, gate_noise=noise,
    )
