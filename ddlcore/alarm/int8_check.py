"""int8 graphs made and checked at calibration (``score.precision``): do the camera's alarm decisions survive int8?

``ddl calibrate`` has what the check needs: the camera's own normal frames, the float32 model and the threshold it
just chose. Each calibration video is split in two: the first half calibrates the quantiser's activation ranges
(:func:`ddlcore.score.quantize.quantize_graphs`), a block of the second half (never seen by the quantiser, at most
:data:`CHECK_FRAMES` frames a video, :data:`CHECK_TOTAL` in all) is scored causally under the calibration
(:func:`.calibration.apply_calibration`) by the float32 graphs and by the int8 ones, for each installed runtime.
The int8 graphs pass on a runtime when no frame's alarm decision (score above the threshold) changes, the events
are the same, and no causal score moves by more than :data:`MAX_DEVIATION` of the threshold. Scores this close keep the ranking AUC is made of and the
alarms of footage near the threshold; benchmarks/int8_accuracy.py checks that proxy against the AUC and events of
labelled footage (docs/speed.md). The result is recorded beside the graphs (:func:`ddlcore.score.quantize.
save_int8_check`); ``score.precision: auto`` uses int8 only on a runtime that passed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..score.inference import FrameSource, FrameSpan
from ..score.quantize import quantize_graphs, save_int8_check
from ..score.runtime import RUNNERS, importable, runtime_model
from ..score.settings import ScoreSettings
from .calibration import Calibration, apply_calibration

#: held-out frames checked per calibration video (a contiguous block of its second half), and in all
CHECK_FRAMES = 600
CHECK_TOTAL = 3000
#: the largest change of a causal score int8 may make, as a fraction of the threshold
MAX_DEVIATION = 0.02


def split_footage(videos: dict[str, tuple[FrameSource, float]], clip: int) -> tuple[list[FrameSpan], list[FrameSpan]]:
    """(quantiser parts, check parts) of each video at least two clips long: its first half, and up to
    :data:`CHECK_FRAMES` frames from the start of its second half (:data:`CHECK_TOTAL` frames in all at most)."""
    tune, check = [], []
    left = CHECK_TOTAL
    for frames, _ in videos.values():
        half = len(frames) // 2
        if half >= clip:
            tune.append(FrameSpan(frames, 0, half))
            if left >= clip:
                check.append(FrameSpan(frames, half, min(len(frames), half + CHECK_FRAMES, half + left)))
                left -= len(check[-1])
    return tune, check


def compare(fp32: list[tuple[np.ndarray, list]], int8: list[tuple[np.ndarray, list]], threshold: float) -> dict[str, Any]:
    """The check's figures from (causal scores (N,), events) of each check part scored by fp32 and by int8:
    max_deviation (largest score change / threshold), decisions_changed (frames whose side of the threshold
    changed), events_fp32 / events_int8 (counts), same_events, passed and reason."""
    deviation = max(float(np.nanmax(np.abs(a - b))) for (a, _), (b, _) in zip(fp32, int8)) / max(threshold, 1e-12)
    changed = sum(int(np.sum((a > threshold) != (b > threshold))) for (a, _), (b, _) in zip(fp32, int8))
    spans = [[(e.start, e.end) for e in events] for _, events in fp32], [[(e.start, e.end) for e in events] for _, events in int8]
    same = spans[0] == spans[1]
    reasons = [f"{changed} alarm decisions changed"] * bool(changed) + ["events changed"] * (not same) + \
        [f"scores moved by {100 * deviation:.1f}% of the threshold (> {100 * MAX_DEVIATION:g}%)"] * (deviation > MAX_DEVIATION)
    return {"max_deviation": round(deviation, 5), "decisions_changed": changed,
            "events_fp32": sum(map(len, spans[0])), "events_int8": sum(map(len, spans[1])), "same_events": same,
            "passed": not reasons, "reason": "; ".join(reasons) or "decisions, events and scores kept"}


def make_checked_int8(model: nn.Module, meta: dict[str, Any], model_path: str | Path,
                      videos: dict[str, tuple[FrameSource, float]], calibration: Calibration,
                      score: ScoreSettings) -> dict[str, Any]:
    """Quantise the model file ``model_path`` (model: it loaded in torch; meta: its checkpoint meta) on the first
    halves of the calibration ``videos`` ({name: (uint8 frames (N, H, W, C) at the model's size, fps)}), check the
    int8 graphs against float32 on held-out frames under ``calibration`` (the threshold just chosen) with each
    installed graph runtime, and record the result. Returns the record ({runtime: figures of :func:`compare`},
    ``passed``: on some runtime). DDLError when the footage is too short or quantisation fails.
    """
    cpu = torch.device("cpu")
    torch_model = getattr(model, "torch_model", model).cpu().eval()
    tune, check = split_footage(videos, calibration.clip)
    quantize_graphs(torch_model, meta, model_path, tune or [frames for frames, _ in videos.values()])
    runtimes: dict[str, Any] = {}
    for runtime in [r for r in RUNNERS if importable(r)]:
        scored = {}
        for precision in ("fp32", "int8"):
            graphs = runtime_model(torch_model, meta, model_path, runtime, precision=precision)
            scored[precision] = [apply_calibration(graphs, part, calibration, score, cpu)[::2] for part in check]
        runtimes[runtime] = compare(scored["fp32"], scored["int8"], calibration.threshold) if check else \
            {"passed": False, "reason": "no held-out footage (each video needs two clips)"}
    record = {"runtimes": runtimes, "passed": any(r["passed"] for r in runtimes.values()),
              "held_out_frames": sum(len(p) for p in check), "quantiser_frames": sum(len(p) for p in tune),
              "threshold": calibration.threshold}
    save_int8_check(model_path, record)
    return record
