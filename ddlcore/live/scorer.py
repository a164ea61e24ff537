"""One frame in, one causal score out: the streaming form of :func:`ddlcore.alarm.causal.frame_scores`.

A :class:`LiveScorer` keeps the last T frames (and, for models with ``encode``/``decode``, their
encoder features, so each frame is encoded once). When frame i arrives it scores frame
i - T//2 exactly as offline causal scoring does (same background map, same patch pooling, same
trailing median), and feeds the calibration's event state machine.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..alarm.calibration import Calibration
from ..alarm.causal import subtract_background
from ..score.patches import patch_peaks
from ..alarm.events import Event, EventTracker
from ..data.framestore import resize_frame
from ..errors import DDLError
from ..score.inference import autocast_for, can_share_encoder, pixel_error, to_tensor


@dataclass
class FrameResult:
    """The outcome for one scored frame.

    frame: index of the scored frame among the frames pushed (the newest minus T//2); score: the
    smoothed causal score; box: x0, y0, x1, y1 of its worst patch in model pixels; error: float32
    (H, W) per-pixel error (background removed); alarmed: the alarm state after it; changes:
    [("start" | "end", event)] confirmed or closed at this frame.
    """

    frame: int
    score: float
    box: list[int]
    error: np.ndarray
    alarmed: bool
    changes: list[tuple[str, Event]] = field(default_factory=list)


class LiveScorer:
    """Scores a stream of frames causally under a calibration (see the module docstring)."""

    def __init__(self, model: torch.nn.Module, meta: dict[str, Any], calibration: Calibration,
                 score_cfg: dict[str, Any], device: torch.device) -> None:
        self.model = model
        self.device = device
        self.clip = int(meta["frames"])
        self.size = (int(meta["height"]), int(meta["width"]), int(meta["channels"]))
        self.calibration = calibration
        self.cfg = {**score_cfg, **calibration.score}
        self.share = self.cfg["share_encoder"] and can_share_encoder(model) and getattr(model, "frames", self.clip) > 1
        self.read = list(getattr(model, "read_frames", range(self.clip)))
        self.background = None if calibration.background is None else torch.from_numpy(calibration.background).to(device)
        self.tracker = EventTracker(calibration.rule)
        self.pushed = 0
        self.frames: deque[torch.Tensor] = deque(maxlen=self.clip)
        self.features: deque[list[torch.Tensor]] = deque(maxlen=self.clip)
        self.recent: deque[float] = deque(maxlen=int(calibration.alarm["smooth_frames"]))

    def reset(self) -> None:
        """Forget buffered frames and scores (the source restarted): the next T//2 + 1 frames start a new window."""
        self.frames.clear()
        self.features.clear()
        self.recent.clear()

    @torch.no_grad()
    def push(self, frame: np.ndarray) -> FrameResult | None:
        """Add one frame (uint8 (h, w) or (h, w, 3) RGB, any size); the result for frame newest - T//2, or None
        while fewer than T frames are buffered. DDLError when the model's score is not finite."""
        h, w, c = self.size
        tensor = to_tensor(resize_frame(frame, h, w, c)[None], self.device)
        self.pushed += 1
        self.frames.append(tensor)
        with autocast_for(self.device):
            if self.share:
                self.features.append(self.model.encode(tensor))
            if len(self.frames) < self.clip:
                return None
            if self.share:
                levels = range(len(self.features[0]))
                recon = self.model.decode([torch.stack([self.features[i][lvl] for i in self.read], dim=1) for lvl in levels])
            else:
                recon = self.model(torch.cat(list(self.frames)).permute(1, 0, 2, 3)[None])
        half = self.clip // 2
        error = subtract_background(pixel_error(self.frames[half], recon.float()), self.background)
        raw, box = patch_peaks(error, self.cfg["patch"], self.cfg["shifted_grid"])
        if not np.isfinite(float(raw[0])):
            raise DDLError(f"frame {self.pushed - 1 - half}: the model's score is not finite (NaN or infinity)")
        self.recent.append(float(raw[0]))
        score = float(np.median(np.asarray(self.recent)))
        index = self.pushed - 1 - half
        box_list = [int(v) for v in box[0].tolist()]
        changes = self.tracker.update(index, score, box_list)
        return FrameResult(index, score, box_list, error[0].float().cpu().numpy(), self.tracker.alarmed, changes)

    def finish(self) -> list[tuple[str, Event]]:
        """The source ended for good: close the open event."""
        return self.tracker.finish()
