"""Frame rate, latency and gated share of a watch: what ``stats:`` lines and the page report."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np

from .sources import Frame, FrameReader


class Stats:
    """Frame rate, latency and the windows gated (not run through the model, :mod:`ddlcore.score.gate`) over the
    last reporting period and over the whole run."""

    def __init__(self) -> None:
        self.start: float | None = None  # the first result
        self.scored = 0
        self.period_start = time.monotonic()
        self.period_scored = 0
        self.gated = 0
        self.period_gated = 0
        self.latency: deque[float] = deque(maxlen=500)
        self.decision: deque[float] = deque(maxlen=500)

    def add(self, newest: Frame, scored: Frame, gated: bool = False) -> None:
        """One result: ``newest`` the frame just pushed, ``scored`` the frame it scored (T//2 older), ``gated``
        whether its window was gated."""
        now = time.monotonic()
        if self.start is None:
            self.start = self.period_start = now
        self.scored += 1
        self.period_scored += 1
        self.gated += gated
        self.period_gated += gated
        self.latency.append(now - newest.captured)
        self.decision.append(now - scored.captured)

    def run_gated_share(self) -> float | None:
        """The share of the whole run's windows that were gated (None before any)."""
        return round(self.gated / self.scored, 3) if self.scored else None

    def report(self, reader: FrameReader) -> dict[str, Any]:
        """The figures of the period since the last report (then a new period starts): ``scored`` and ``gated``
        count the whole run's windows, ``gated_share`` is the period's share of gated windows (None before any)."""
        now = time.monotonic()
        figures = {
            "fps": round(self.period_scored / max(now - self.period_start, 1e-9), 2),
            "source_fps": round(reader.fps, 2),
            "latency_ms": round(1000 * float(np.median(self.latency)), 1) if self.latency else None,
            "latency_p95_ms": round(1000 * float(np.percentile(self.latency, 95)), 1) if self.latency else None,
            "decision_latency_ms": round(1000 * float(np.median(self.decision)), 1) if self.decision else None,
            "dropped": reader.dropped, "read": reader.read, "scored": self.scored, "reconnects": reader.reconnects,
            "gated": self.gated,
            "gated_share": round(self.period_gated / self.period_scored, 3) if self.period_scored else None,
        }
        self.period_start, self.period_scored, self.period_gated = now, 0, 0
        return figures
