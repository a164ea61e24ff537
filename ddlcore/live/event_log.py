"""Event JSON lines of a watch: one line when an event is confirmed, one when it is over."""

from __future__ import annotations

import bisect
import json
import time
from datetime import datetime, timezone
from typing import Any, Callable, Sequence, TextIO

from ..alarm.calibration import Calibration
from ..alarm.events import Event, scale_box
from .page_state import LiveState
from .sources import Frame


def iso_time(wall: float) -> str:
    """A time.time() value as ISO 8601 UTC with milliseconds."""
    return datetime.fromtimestamp(wall, timezone.utc).isoformat(timespec="milliseconds")


class EventLog:
    """Writes the scorer's event changes as JSON lines to ``out`` (and to the page's ``state``).

    Fields: event ("start" | "end"), id, start, end (scored frame numbers; end null on a start line),
    start_time, end_time (when those frames were read), time (of writing), peak_frame, peak_score,
    threshold, box (x0, y0, x1, y1 of the worst patch at the peak, in the pixels of the peak frame as
    read: a source that changes size mid-event gives the box in its size at that moment); and the fields
    ``annotate(kind, event, record)`` returns, when given (a deployment's camera, clip and snapshot).
    """

    def __init__(self, out: TextIO, calibration: Calibration, model_size: tuple[int, int],
                 state: LiveState | None,
                 annotate: Callable[[str, Event, dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self.out = out
        self.annotate = annotate
        self.threshold = calibration.threshold
        self.model_size = model_size
        self.state = state
        self.count = 0
        # read times of recent frames, as far back as an event's start can lie when it is confirmed
        self.keep = calibration.clip + int(calibration.alarm.min_frames) * (int(calibration.alarm.merge_gap) + 1) + 2
        self.walls: dict[int, float] = {}
        # (first frame number, (h, w)) at each change of the source's frame size, the newest last
        self.sizes: list[tuple[int, tuple[int, int]]] = []
        self.opened: dict[int, tuple[int, float]] = {}  # id(event) -> (event number, read time of its start)

    def read(self, index: int, frame: Frame) -> None:
        """Note that the frame numbered ``index`` (pushes to the scorer) is ``frame``."""
        self.walls[index] = frame.wall
        self.walls.pop(index - self.keep, None)
        size = (int(frame.image.shape[0]), int(frame.image.shape[1]))
        if not self.sizes or self.sizes[-1][1] != size:
            self.sizes.append((index, size))

    def frame_size(self, index: int) -> tuple[int, int]:
        """(h, w) of the frame numbered ``index`` as read (the model's size before any frame was read)."""
        at = bisect.bisect_right(self.sizes, index, key=lambda change: change[0]) - 1
        return self.sizes[at][1] if at >= 0 else (self.sizes[0][1] if self.sizes else self.model_size)

    def changes(self, changes: Sequence[tuple[str, Event]]) -> None:
        """Write a line per ("start" | "end", event)."""
        for kind, event in changes:
            self._write(kind, event)

    def _write(self, kind: str, event: Event) -> None:
        if id(event) not in self.opened:
            self.count += 1
            self.opened[id(event)] = (self.count, self.walls.get(event.start, time.time()))
        number, start_wall = self.opened[id(event)] if kind == "start" else self.opened.pop(id(event))
        ended = kind == "end"
        record = {
            "event": kind, "id": number, "start": event.start, "end": event.end if ended else None,
            "start_time": iso_time(start_wall),
            "end_time": iso_time(self.walls.get(event.end, time.time())) if ended else None,
            "time": iso_time(time.time()), "peak_frame": event.peak_frame, "peak_score": round(event.peak_score, 6),
            "threshold": self.threshold, "box": scale_box(event.box, self.model_size, self.frame_size(event.peak_frame)),
        }
        if self.annotate is not None:
            record.update(self.annotate(kind, event, record))
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()
        if self.state is not None:
            self.state.event(record)
