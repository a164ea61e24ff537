"""Alarms and events: one state machine, fed a frame at a time, live and offline alike.

A frame is *alarmed* when its score rises above the threshold; it stays alarmed until the score
falls below ``(1 - hysteresis) x threshold`` (a score of NaN, a frame without a score, ends it).
Alarmed frames separated by at most ``merge_gap`` quiet frames belong to one candidate event;
a candidate becomes an *event* once it holds ``min_frames`` alarmed frames (the moment it is
reported: ``confirmed``), and it ends at its last alarmed frame, reported ``merge_gap`` frames later
when no alarm has come back. Candidates that never reach ``min_frames`` are dropped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from .settings import AlarmSettings


@dataclass(frozen=True)
class AlarmRule:
    """Threshold and shaping of alarms (see the module docstring)."""

    threshold: float
    hysteresis: float
    min_frames: int
    merge_gap: int

    @classmethod
    def from_settings(cls, threshold: float, alarm: AlarmSettings) -> "AlarmRule":
        """The rule of ``threshold`` with the alarm settings' hysteresis, min_frames, merge_gap."""
        return cls(float(threshold), float(alarm.hysteresis), int(alarm.min_frames), int(alarm.merge_gap))


@dataclass
class Event:
    """One event. Frames are indices in the scored sequence; box is x0, y0, x1, y1 of the worst patch
    at the peak frame (the caller's pixel units; x1, y1 exclusive)."""

    start: int
    end: int
    peak_frame: int
    peak_score: float
    box: list[int] = field(default_factory=list)
    confirmed: int = -1

    def as_dict(self) -> dict[str, Any]:
        """JSON-able fields."""
        return asdict(self)


class EventTracker:
    """Feeds on (frame, score, box) one frame at a time; returns what changed at that frame."""

    def __init__(self, rule: AlarmRule) -> None:
        self.rule = rule
        self.alarmed = False
        self.candidate: Event | None = None
        self.count = 0

    def update(self, frame: int, score: float, box: Sequence[int]) -> list[tuple[str, Event]]:
        """Process one frame; returns [("start" | "end", event)] for events confirmed or closed now.

        frame: increasing index; score: float or NaN; box: x0, y0, x1, y1 of the frame's worst patch.
        """
        changes: list[tuple[str, Event]] = []
        r = self.rule
        finite = np.isfinite(score)
        self.alarmed = bool(finite and (score >= r.threshold * (1 - r.hysteresis) if self.alarmed else score > r.threshold))
        c = self.candidate
        if self.alarmed:
            if c is None:
                c = self.candidate = Event(frame, frame, frame, float(score), list(map(int, box)))
                self.count = 0
            c.end = frame
            self.count += 1
            if score > c.peak_score:
                c.peak_frame, c.peak_score, c.box = frame, float(score), list(map(int, box))
            if c.confirmed < 0 and self.count >= r.min_frames:
                c.confirmed = frame
                changes.append(("start", c))
        elif c is not None and frame - c.end > r.merge_gap:
            if c.confirmed >= 0:
                changes.append(("end", c))
            self.candidate = None
        return changes

    def finish(self) -> list[tuple[str, Event]]:
        """The source ended: close the open event (if confirmed)."""
        c, self.candidate, self.alarmed = self.candidate, None, False
        return [("end", c)] if c is not None and c.confirmed >= 0 else []


def detect_events(scores: np.ndarray, boxes: np.ndarray | None, rule: AlarmRule) -> list[Event]:
    """Events of one whole sequence: scores float (N,) (NaN = no score), boxes int (N, 4) or None."""
    tracker = EventTracker(rule)
    events: list[Event] = []
    for i, s in enumerate(np.asarray(scores, np.float64)):
        events += [e for kind, e in tracker.update(i, s, boxes[i] if boxes is not None else ()) if kind == "end"]
    return events + [e for _, e in tracker.finish()]


def alarm_mask(events: Sequence[Event], n_frames: int) -> np.ndarray:
    """bool (n_frames,): True from each event's start to its end (inclusive)."""
    mask = np.zeros(n_frames, bool)
    for e in events:
        mask[e.start : e.end + 1] = True
    return mask


def scale_box(box: Sequence[int], model_size: tuple[int, int], frame_size: tuple[int, int]) -> list[int]:
    """A box x0, y0, x1, y1 in model pixels (height, width = model_size) in the pixels of a frame of frame_size."""
    sy, sx = frame_size[0] / model_size[0], frame_size[1] / model_size[1]
    x0, y0, x1, y1 = box
    return [round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy)]


def event_record(event: Event, fps: float, model_size: tuple[int, int], frame_size: tuple[int, int]) -> dict[str, Any]:
    """An event as reported: frames, times in seconds at ``fps``, peak, box in frame pixels."""
    return {
        "start": event.start, "end": event.end, "start_s": round(event.start / fps, 3),
        "end_s": round((event.end + 1) / fps, 3), "peak_frame": event.peak_frame,
        "peak_score": round(event.peak_score, 6), "box": scale_box(event.box, model_size, frame_size) if event.box else [],
    }
