"""Frames in, causal scores out: the streaming form of :func:`ddlcore.alarm.causal.frame_scores`.

A :class:`BatchScorer` scores several sources (cameras) with one model: each call takes the
newest frame of every source that has one and runs them through the model together (one encoder
call for all the frames not encoded yet of the windows it scores, one decoder call for all those windows), so N
cameras cost less than N times one. Per source it keeps the last T frames (and, for models with
``encode``/``decode``, their encoder features, so each frame is encoded once); when frame i of a
source arrives it scores that source's frame i - T//2 exactly as offline causal scoring does
(same region of interest, background map, patch pooling and trailing median) under the source's own
calibration, and feeds that calibration's event state machine. :class:`LiveScorer` is its
one-source form.

With the change gate (``score.gate`` and a calibration with a noise map, :mod:`ddlcore.score.gate`) a
source's window that has not changed since its last scored window is not run through the model (its frames
are not even encoded until a window that needs them is scored): it takes the last scored window's score, box
and error map, as offline scoring under the calibration does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from ..alarm.calibration import Calibration, calibrated_score, calibration_gate_levels
from ..alarm.causal import subtract_background
from ..score.patches import patch_peaks
from ..alarm.events import Event, EventTracker
from ..data.framestore import resize_frame
from ..errors import DDLError
from ..score.gate import WindowGate
from ..score.inference import autocast_for, can_share_encoder, pixel_error, roi_tensor, to_tensor
from ..score.motion import check_motion_clip, motion_error
from ..score.settings import ScoreSettings


@dataclass
class FrameResult:
    """The outcome for one scored frame.

    frame: index of the scored frame among the frames pushed (the newest minus T//2); score: the
    smoothed causal score; box: x0, y0, x1, y1 of its worst patch in model pixels; error: float32
    (H, W) per-pixel error (background removed); alarmed: the alarm state after it; changes:
    [("start" | "end", event)] confirmed or closed at this frame; gated: its window was not run through the
    model (the change gate): score (before smoothing), box and error are the last scored window's.
    """

    frame: int
    score: float
    box: list[int]
    error: np.ndarray
    alarmed: bool
    changes: list[tuple[str, Event]] = field(default_factory=list)
    gated: bool = False


class _Stream:
    """One source's state: its calibration (ROI and background map on the device), its ``score`` settings
    (:func:`calibrated_score`), buffered frames and features (None for a frame not encoded yet), recent scores,
    events, its change gate and the last scored window's raw score, box and error."""

    def __init__(self, calibration: Calibration, score: ScoreSettings, clip: int, device: torch.device) -> None:
        self.calibration = calibration
        self.score = score
        self.roi = roi_tensor(calibration.roi, device)
        self.background = None if calibration.background is None else torch.from_numpy(calibration.background).to(device)
        self.tracker = EventTracker(calibration.rule)
        self.pushed = 0
        self.frames: deque[torch.Tensor] = deque(maxlen=clip)
        self.features: deque[list[torch.Tensor] | None] = deque(maxlen=clip)
        self.recent: deque[float] = deque(maxlen=int(calibration.alarm.smooth_frames))
        self.gate = WindowGate(clip, calibration_gate_levels(calibration, score), calibration.roi)
        self.last: tuple[float, list[int], np.ndarray] | None = None

    def reset(self) -> None:
        self.frames.clear()
        self.features.clear()
        self.recent.clear()
        self.gate.reset()
        self.last = None


class BatchScorer:
    """Scores the newest frames of ``len(calibrations)`` sources causally, all sources in one model call.

    model, meta: a loaded model (torch or :class:`ddlcore.score.runtime.RuntimeModel`) and its checkpoint
    meta; calibrations: one per source (the same one may serve several), all made for this model, any
    with a region of interest (:mod:`ddlcore.data.roi`: its source's error outside it is 0, in the result too);
    score: the job's ``score`` settings; trained: per source, the ``score`` section of the config its model was
    trained with, or None (each source scores with :func:`calibrated_score` of its calibration, ``score`` and
    ``trained``; encoder sharing is the first source's); device: the model's device.

    Call :meth:`push` with one entry per source: a uint8 frame (h, w) or (h, w, 3) RGB of any size (resized
    to the model's), or None for a source without a new frame. It returns one entry per source: the
    :class:`FrameResult` for that source's frame newest - T//2, or None (no new frame, or fewer than T
    buffered since the start or the last :meth:`reset`). Frame indices count each source's pushed frames.
    """

    def __init__(self, model: torch.nn.Module, meta: dict[str, Any], calibrations: Sequence[Calibration],
                 score: ScoreSettings, device: torch.device,
                 trained: Sequence[ScoreSettings | None] | None = None) -> None:
        if not calibrations:
            raise DDLError("live scorer: no sources given")
        trained = trained if trained is not None else [None] * len(calibrations)
        self.model = model
        self.device = device
        self.clip = int(meta["frames"])
        self.size = (int(meta["height"]), int(meta["width"]), int(meta["channels"]))
        self.streams = [_Stream(c, calibrated_score(c, score, t), self.clip, device) for c, t in zip(calibrations, trained)]
        share = self.streams[0].score.share_encoder
        self.share = share and can_share_encoder(model) and getattr(model, "frames", self.clip) > 1
        self.read = list(getattr(model, "read_frames", range(self.clip)))
        for stream in self.streams:
            check_motion_clip(stream.score.motion_weight, self.clip)
        # with any source's ROI, a mask for every row of a batch (all ones for a source without one: the same error)
        self.masks: list[torch.Tensor] | None = None
        if any(s.roi is not None for s in self.streams):
            whole = torch.ones(self.size[:2], device=device)
            self.masks = [whole if s.roi is None else s.roi for s in self.streams]

    @property
    def sources(self) -> int:
        """The number of sources."""
        return len(self.streams)

    def pushed(self, source: int) -> int:
        """Frames pushed so far for ``source`` (0-based position in the list given to the constructor)."""
        return self.streams[source].pushed

    def reset(self, source: int) -> None:
        """Forget ``source``'s buffered frames and scores (it restarted): its next T frames start a new window."""
        self.streams[source].reset()

    def finish(self, source: int) -> list[tuple[str, Event]]:
        """``source`` ended for good: close its open event."""
        return self.streams[source].tracker.finish()

    @torch.no_grad()
    def push(self, frames: Sequence[np.ndarray | None]) -> list[FrameResult | None]:
        """One new frame (or None) per source -> one result (or None) per source; see the class docstring."""
        if len(frames) != len(self.streams):
            raise DDLError(f"live scorer: {len(frames)} frames given for {len(self.streams)} sources")
        h, w, c = self.size
        arrived = [i for i, f in enumerate(frames) if f is not None]
        if not arrived:
            return [None] * len(frames)
        images = np.stack([resize_frame(frames[i], h, w, c) for i in arrived])
        batch = to_tensor(images, self.device)
        for row, i in enumerate(arrived):
            stream = self.streams[i]
            stream.pushed += 1
            stream.frames.append(batch[row : row + 1])
            stream.features.append(None)
            stream.gate.add(images[row])
        ready = [i for i in arrived if len(self.streams[i].frames) == self.clip]
        results: list[FrameResult | None] = [None] * len(frames)
        scoring = []
        for i in ready:  # a gated window takes its source's last scored window's outcome
            if self.streams[i].gate.must_score():
                scoring.append(i)
            else:
                results[i] = self._advance(self.streams[i], gated=True)
        if not scoring:
            return results
        with autocast_for(self.device):
            recon = self._reconstruct([self.streams[i] for i in scoring]).float()
        half = self.clip // 2
        roi = None if self.masks is None else torch.stack([self.masks[i] for i in scoring])
        errors = pixel_error(torch.cat([self.streams[i].frames[half] for i in scoring]), recon, roi,
                             self._motion([self.streams[i] for i in scoring]))
        for row, i in enumerate(scoring):
            results[i] = self._result(self.streams[i], errors[row : row + 1])
        return results

    def _encode_missing(self, streams: list[_Stream]) -> None:
        """Encode, in one call, the buffered frames of ``streams`` that have no features yet."""
        missing = [(s, k) for s in streams for k, f in enumerate(s.features) if f is None]
        if not missing:
            return
        features = self.model.encode(torch.cat([s.frames[k] for s, k in missing]))
        for row, (s, k) in enumerate(missing):
            s.features[k] = [f[row : row + 1] for f in features]

    def _reconstruct(self, streams: list[_Stream]) -> torch.Tensor:
        """The middle frames of the buffered windows of ``streams``, in one model call: (S, C, H, W)."""
        if self.share:
            self._encode_missing(streams)
            buffered = [[f for f in s.features if f is not None] for s in streams]
            levels = range(len(buffered[0][0]))
            return self.model.decode([torch.cat([torch.stack([b[i][lvl] for i in self.read], dim=1)
                                                 for b in buffered]) for lvl in levels])
        return self.model(torch.cat([torch.cat(list(s.frames)).permute(1, 0, 2, 3)[None] for s in streams]))

    def _motion(self, streams: list[_Stream]) -> torch.Tensor | None:
        """The motion term (S, H, W) of each stream's buffered window under its calibration's weight (0 rows for a
        weight of 0), or None when no stream has one."""
        if not any(s.score.motion_weight for s in streams):
            return None
        half = self.clip // 2
        rows = [motion_error(s.frames[half - 1], s.frames[half], s.score.motion_weight) for s in streams]
        h, w, _ = self.size
        return torch.cat([torch.zeros(1, h, w, device=self.device) if r is None else r for r in rows])

    def _result(self, stream: _Stream, error: torch.Tensor) -> FrameResult:
        """Score one source's window from its error (1, H, W): background, patch peak, trailing median, events.

        DDLError when the model's score is not finite."""
        error = subtract_background(error, stream.background)
        raw, box = patch_peaks(error, stream.score.patch, stream.score.shifted_grid)
        if not np.isfinite(float(raw[0])):
            index = stream.pushed - 1 - self.clip // 2
            raise DDLError(f"frame {index}: the model's score is not finite (NaN or infinity)")
        stream.last = (float(raw[0]), [int(v) for v in box[0].tolist()], error[0].float().cpu().numpy())
        return self._advance(stream, gated=False)

    def _advance(self, stream: _Stream, gated: bool) -> FrameResult:
        """The result of a source's newest window from its last scored window's raw score, box and error:
        trailing median, events."""
        assert stream.last is not None  # a source's first window is always scored
        raw, box_list, error = stream.last
        index = stream.pushed - 1 - self.clip // 2
        stream.recent.append(raw)
        score = float(np.median(np.asarray(stream.recent)))
        changes = stream.tracker.update(index, score, box_list)
        return FrameResult(index, score, list(box_list), error, stream.tracker.alarmed, changes, gated)


class LiveScorer:
    """Scores one stream of frames causally under a calibration: one source of a :class:`BatchScorer`.

    Built from a model (model, meta, calibration, ``score`` settings, device: as for :class:`BatchScorer`) it is a
    batch of that source alone; :meth:`of_source` gives the view of one source of a shared batch
    (``ddl watch --cameras``: the cameras of one model file scored in one call).
    """

    def __init__(self, model: torch.nn.Module, meta: dict[str, Any], calibration: Calibration,
                 score: ScoreSettings, device: torch.device) -> None:
        self._bind(BatchScorer(model, meta, [calibration], score, device), 0)

    @classmethod
    def of_source(cls, batch: BatchScorer, source: int) -> "LiveScorer":
        """The scorer of source ``source`` of ``batch`` (push frames through the batch, or through this view)."""
        view = cls.__new__(cls)
        view._bind(batch, source)
        return view

    def _bind(self, batch: BatchScorer, source: int) -> None:
        self.batch, self.source = batch, source
        self.calibration = batch.streams[source].calibration
        self.clip, self.size = batch.clip, batch.size

    @property
    def tracker(self) -> EventTracker:
        """This source's event tracker."""
        return self.batch.streams[self.source].tracker

    @property
    def pushed(self) -> int:
        """Frames pushed so far."""
        return self.batch.pushed(self.source)

    def reset(self) -> None:
        """Forget buffered frames and scores (the source restarted): the next T frames start a new window."""
        self.batch.reset(self.source)

    def push(self, frame: np.ndarray) -> FrameResult | None:
        """Add one frame (uint8 (h, w) or (h, w, 3) RGB, any size); the result for frame newest - T//2, or None
        while fewer than T frames are buffered."""
        frames: list[np.ndarray | None] = [None] * self.batch.sources
        frames[self.source] = frame
        return self.batch.push(frames)[self.source]

    def finish(self) -> list[tuple[str, Event]]:
        """The source ended for good: close the open event."""
        return self.batch.finish(self.source)
