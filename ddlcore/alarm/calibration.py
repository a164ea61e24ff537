"""Calibration (``ddl calibrate``): a model's causal scores on normal footage, and the threshold they give.

The sidecar file lies next to the model (``M.pt`` -> ``M.alarm.h5``); ``ddl score`` and
``ddl watch`` find it there. Layout (format version 1)::

    /background        float32 (H, W)  median per-pixel error over the calibration footage
                                       (only with ``alarm.background: calibration``)
    /videos/{name}     float32 (N,)    causal, smoothed frame scores of each calibration video
                                       (NaN where a frame has no score)
    attrs: format_version=1, model, threshold, fps, latency_frames, clip_frames,
           calibration_frames, calibration_hours, calibration_events,
           alarm (JSON of the alarm section), score (JSON of patch and shifted_grid)

Every calibration video is taken as normal: its events are false alarms.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from ..errors import DDLError
from ..inference import FrameSource
from ..io_utils import atomic_path
from .causal import background_map, frame_scores, latency_frames
from .events import AlarmRule, Event, detect_events
from .threshold import choose_threshold, events_per_hour

FORMAT_VERSION = 1
#: the score settings a calibration fixes (the rest, batch size and device, may differ at use)
FIXED_SCORE_KEYS = ("patch", "shifted_grid")


@dataclass
class Calibration:
    """A model's alarm calibration: threshold, the rule around it, and the footage it came from.

    background float32 (H, W) or None; videos: {name: scores float32 (N,)}; alarm and score: the
    config sections it was made with (score: only ``FIXED_SCORE_KEYS``).
    """

    model: str
    threshold: float
    fps: float
    clip: int
    alarm: dict[str, Any]
    score: dict[str, Any]
    background: np.ndarray | None
    videos: dict[str, np.ndarray]

    @property
    def rule(self) -> AlarmRule:
        """The alarm rule: threshold, hysteresis, minimum length, merge gap."""
        return AlarmRule.from_config(self.threshold, self.alarm)

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
            "calibration_events_per_hour": rate, "alarm": self.alarm, "score": self.score,
        }


def sidecar_path(model_path: str | Path) -> Path:
    """Where a model's calibration lives: ``M.pt`` -> ``M.alarm.h5`` beside it."""
    p = Path(model_path)
    return p.with_name(f"{p.stem}.alarm.h5")


def save_calibration(calibration: Calibration, path: str | Path) -> None:
    """Write ``calibration`` to ``path`` (layout in the module docstring), atomically."""
    facts = calibration.summary()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(
            format_version=FORMAT_VERSION, model=calibration.model, threshold=calibration.threshold,
            fps=calibration.fps, latency_frames=calibration.latency, clip_frames=calibration.clip,
            calibration_frames=facts["calibration_frames"], calibration_hours=facts["calibration_hours"],
            calibration_events=facts["calibration_events"],
            alarm=json.dumps(calibration.alarm, sort_keys=True), score=json.dumps(calibration.score, sort_keys=True),
        )
        if calibration.background is not None:
            f.create_dataset("background", data=calibration.background.astype(np.float32), compression="gzip")
        for name, scores in calibration.videos.items():
            f.create_dataset(f"videos/{name}", data=np.asarray(scores, np.float32))


def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration sidecar; DDLError naming ``path`` when it is missing or not one."""
    p = Path(path)
    if not p.is_file():
        raise DDLError(f"calibration file not found: {p} (run ddl calibrate first)")
    try:
        with h5py.File(p, "r") as f:
            if f.attrs.get("format_version") != FORMAT_VERSION or "videos" not in f:
                raise DDLError(f"{p}: not a version-{FORMAT_VERSION} calibration file")
            a = f.attrs
            return Calibration(
                model=str(a["model"]), threshold=float(a["threshold"]), fps=float(a["fps"]), clip=int(a["clip_frames"]),
                alarm=json.loads(a["alarm"]), score=json.loads(a["score"]),
                background=f["background"][:] if "background" in f else None,
                videos={name: d[:] for name, d in f["videos"].items()},
            )
    except OSError as exc:
        raise DDLError(f"{p}: not a readable HDF5 calibration file ({exc})") from exc


def apply_calibration(model: torch.nn.Module, frames: FrameSource, calibration: Calibration, score_cfg: dict[str, Any],
                      device: torch.device) -> tuple[np.ndarray, np.ndarray, list[Event]]:
    """Causal scores and events of one video under ``calibration``.

    frames: uint8 (N, H, W, C) at the model's size. ``score_cfg`` supplies batch size and encoder
    sharing; patch and shifted grid are the calibration's. Returns (scores float64 (N,), boxes int32
    (N, 4) in model pixels, events).
    """
    cfg = {**score_cfg, **calibration.score}
    scores, boxes = frame_scores(model, frames, calibration.clip, cfg, calibration.alarm, calibration.background, device)
    return scores, boxes, detect_events(scores, boxes, calibration.rule)


def calibrate(model: torch.nn.Module, meta: dict[str, Any], videos: dict[str, tuple[FrameSource, float]],
              cfg: dict[str, Any], model_path: str | Path = "") -> Calibration:
    """Score normal ``videos`` causally and choose the threshold of the ``alarm`` config section.

    videos: {name: (uint8 frames (N, H, W, C) at the model's size, fps)}; cfg: the full config
    (``score`` and ``alarm`` sections); meta: the checkpoint meta (``frames``: clip length).
    The footage's frame rate is the median of the videos' rates.
    """
    clip = int(meta["frames"])
    short = [name for name, (frames, _) in videos.items() if len(frames) < clip]
    if short:
        raise DDLError(f"calibration video {short[0]}: fewer frames than the model's clip length {clip}")
    if not videos:
        raise DDLError("ddl calibrate: no calibration footage given")
    device = next(model.parameters()).device
    alarm_cfg = cfg["alarm"]
    score_cfg = cfg["score"]
    sources = [frames for frames, _ in videos.values()]
    background = None
    if alarm_cfg["background"] == "calibration":
        background = background_map(model, sources, clip, alarm_cfg["background_windows"], device, score_cfg["batch_size"])
    scores = {name: frame_scores(model, frames, clip, score_cfg, alarm_cfg, background, device)[0]
              for name, (frames, _) in videos.items()}
    fps = float(np.median([fps for _, fps in videos.values()]))
    return Calibration(
        model=str(model_path), threshold=choose_threshold(list(scores.values()), fps, alarm_cfg), fps=fps, clip=clip,
        alarm=dict(alarm_cfg), score={k: score_cfg[k] for k in FIXED_SCORE_KEYS}, background=background, videos=scores,
    )


def _run(args: argparse.Namespace) -> None:
    from ..cli import config_from_args
    from ..devices import resolve_device
    from ..inference import load_model
    from .footage_input import open_inputs

    cfg = config_from_args(args)
    device = resolve_device(cfg["score"]["device"], "score.device")
    model, meta = load_model(args.model, device, cfg["score"]["runtime"])
    with open_inputs(args.inputs, meta, cfg["alarm"]["fps"]) as videos:
        calibration = calibrate(model, meta, videos, cfg, args.model)
    out = Path(args.out) if args.out else sidecar_path(args.model)
    save_calibration(calibration, out)
    facts = calibration.summary()
    print(f"threshold {calibration.threshold:.6g}: {facts['calibration_events']} events in "
          f"{60 * facts['calibration_hours']:.1f} min of normal footage "
          f"({facts['calibration_events_per_hour']:.2f} per hour) -> {out}")
    if cfg["alarm"]["quantile"] is None and cfg["alarm"]["false_alarms_per_hour"] * facts["calibration_hours"] < 1:
        print(f"note: {60 * facts['calibration_hours']:.1f} min of footage cannot show a rate of "
              f"{cfg['alarm']['false_alarms_per_hour']} per hour; the threshold allows no event on it")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl calibrate``."""
    from ..cli import add_config_args

    add_config_args(parser)
    parser.add_argument("--model", required=True, metavar="M.pt", help="trained model checkpoint")
    parser.add_argument("inputs", nargs="+", metavar="NORMAL",
                        help="normal footage: frame stores (.h5), video files or frame folders")
    parser.add_argument("--out", metavar="A.h5", help="calibration file (default: next to the model, M.alarm.h5)")
    parser.set_defaults(func=_run)
