"""Frame rate and latency of a watch: what ``stats:`` lines and the page report."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np

from .sources import Frame, FrameReader


class Stats:
    """Frame rate and latency over the last reporting period and over the whole run."""

    def __init__(self) -> None:
        self.start: float | None = None  # the first result
        self.scored = 0
        self.period_start = time.monotonic()
        self.period_scored = 0
        self.latency: deque[float] = deque(maxlen=500)
        self.decision: deque[float] = deque(maxlen=500)

    def add(self, newest: Frame, scored: Frame) -> None:
        """One result: ``newest`` the frame just pushed, ``scored`` the frame it scored (T//2 older)."""
        now = time.monotonic()
        if self.start is None:
            self.start = self.period_start = now
        self.scored += 1
        self.period_scored += 1
        self.latency.append(now - newest.captured)
        self.decision.append(now - scored.captured)

    def report(self, reader: FrameReader) -> dict[str, Any]:
        """The figures of the period since the last report (then a new period starts)."""
        now = time.monotonic()
        figures = {
            "fps": round(self.period_scored / max(now - self.period_start, 1e-9), 2),
            "source_fps": round(reader.fps, 2),
            "latency_ms": round(1000 * float(np.median(self.latency)), 1) if self.latency else None,
            "latency_p95_ms": round(1000 * float(np.percentile(self.latency, 95)), 1) if self.latency else None,
            "decision_latency_ms": round(1000 * float(np.median(self.decision)), 1) if self.decision else None,
            "dropped": reader.dropped, "read": reader.read, "scored": self.scored, "reconnects": reader.reconnects,
        }
        self.period_start, self.period_scored = now, 0
        return figures
