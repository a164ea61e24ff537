"""Live scores files: test frame stores scored causally under a calibration, with their events.

Written by ``ddl score --frames F.h5 ... --calibration A.h5 --out L.h5``. The layout is that of a
scores file (:mod:`ddlcore.score.scores_io`), so AUCs apply to it unchanged, with::

    /videos/{video}/score   float32 (N,)    causal, smoothed score (NaN: no score, the first and
                                            last T//2 frames)
    /videos/{video}/valid   bool    (N,)    the frames with a score
    /videos/{video}/boxes   int32   (N, 4)  x0, y0, x1, y1 of each frame's worst patch, model pixels
    /videos/{video}/events  float64 (K, 9)  one row per event, columns ``EVENT_FIELDS``
    /videos/{video}/gated   bool    (N,)    the frames whose window was not run through the model (the change
                                            gate ``score.gate``, :mod:`ddlcore.score.gate`: its raw score is the
                                            last scored window's); video attrs windows, gated_windows
    root attrs: as a scores file, plus threshold, latency_frames, fps, calibration (its path),
                alarm (JSON of the calibration's alarm section), windows, gated_windows (all videos)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np
import torch

from ..data.framestore import FrameStore
from ..io_utils import atomic_path
from ..score.scores_io import model_attrs, video_of_store
from ..score.settings import ScoreSettings
from .calibration import Calibration, calibrated_score, gated_calibration
from .events import Event

#: columns of an ``events`` dataset
EVENT_FIELDS = ("start", "end", "peak_frame", "confirmed", "peak_score", "x0", "y0", "x1", "y1")


def events_array(events: Sequence[Event]) -> np.ndarray:
    """Events -> float64 (K, 9) with columns ``EVENT_FIELDS``."""
    rows = [[e.start, e.end, e.peak_frame, e.confirmed, e.peak_score, *(e.box or [-1] * 4)] for e in events]
    return np.asarray(rows, np.float64).reshape(len(rows), len(EVENT_FIELDS))


def events_from_array(rows: np.ndarray) -> list[Event]:
    """float (K, 9) rows with columns ``EVENT_FIELDS`` -> events."""
    return [Event(int(r[0]), int(r[1]), int(r[2]), float(r[4]), [int(v) for v in r[5:9]], int(r[3])) for r in rows]


def write_live_scores(model: torch.nn.Module, meta: dict[str, Any], frame_paths: Sequence[str | Path], out: str | Path,
                      calibration: Calibration, calibration_path: str | Path, score: ScoreSettings,
                      model_path: str | Path = "") -> dict[str, dict[str, int]]:
    """Score frame stores causally under ``calibration``; write the live scores file ``out``.

    meta: the checkpoint meta; score: the job's score settings (batch size, encoder sharing; the file's
    ``settings`` records them with the calibration's fixed keys in place); model_path: the model file, recorded.
    Each store must hold frames of the model's size, at least T of them. Returns {video: {"events": events,
    "windows": windows, "gated": windows gated}}.
    """
    device = next(model.parameters()).device
    found: dict[str, dict[str, int]] = {}
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(
            model_attrs(meta, model_path),
            settings=json.dumps(calibrated_score(calibration, score).as_config(), sort_keys=True),
            runtime=getattr(model, "runtime", "torch"),
            threshold=calibration.threshold, latency_frames=calibration.latency, fps=calibration.fps,
            calibration=str(calibration_path), alarm=json.dumps(calibration.alarm.as_config(), sort_keys=True),
        )
        for path in frame_paths:
            with FrameStore(path) as store:
                name = video_of_store(store, path, meta)
                scores, boxes, events, scored = gated_calibration(model, store, calibration, score, device)
            group = f.create_group(f"videos/{name}")
            group.attrs.update(frames=str(path), n_frames=len(scores), windows=len(scored),
                               gated_windows=int((~scored).sum()))
            group.create_dataset("score", data=scores.astype(np.float32))
            group.create_dataset("valid", data=np.isfinite(scores))
            group.create_dataset("boxes", data=boxes)
            group.create_dataset("events", data=events_array(events))
            gated = np.zeros(len(scores), bool)
            gated[calibration.latency : calibration.latency + len(scored)] = ~scored
            group.create_dataset("gated", data=gated)
            found[name] = {"events": len(events), "windows": len(scored), "gated": int((~scored).sum())}
        f.attrs.update(windows=sum(v["windows"] for v in found.values()),
                       gated_windows=sum(v["gated"] for v in found.values()))
    return found
