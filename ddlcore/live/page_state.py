"""What the ``--serve`` page shows of each camera (:class:`LiveState`), kept apart from its transport
(:mod:`.server`): the watch loop writes it, the server's threads read it as ``/state.json`` and the overlay JPEG.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from typing import Any, Mapping

import cv2
import numpy as np

from .sources import redacted


class LiveState:
    """What the page shows, updated by the watch loop and read by the server threads."""

    def __init__(self, source: str, threshold: float, curve_frames: int, events: int) -> None:
        self._lock = threading.Lock()
        self._jpeg = b""
        self._scores: deque[tuple[int, float]] = deque(maxlen=curve_frames)
        self._keep_events = events
        self._events: list[dict[str, Any]] = []
        self._info: dict[str, Any] = {"source": redacted(source), "threshold": threshold, "alarmed": False}

    def frame(self, overlay: np.ndarray, index: int, score: float, alarmed: bool) -> None:
        """Record one scored frame: overlay RGB uint8 (h, w, 3), its index, score and the alarm state."""
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
        with self._lock:
            if ok:
                self._jpeg = jpeg.tobytes()
            self._scores.append((index, round(score, 6)))
            self._info["alarmed"] = alarmed

    def event(self, record: dict[str, Any]) -> None:
        """Record an event line (a start, or an end replacing its start); the newest ``events`` are kept."""
        with self._lock:
            kept = [e for e in self._events if e["id"] != record["id"]] + [record]
            self._events = kept[-self._keep_events :]

    def stats(self, values: dict[str, Any]) -> None:
        """Record the figures of a ``stats:`` line (frame rate, latency, gated share, ...)."""
        with self._lock:
            self._info.update(values)

    def jpeg(self) -> bytes:
        """The newest overlay as JPEG bytes (empty before the first scored frame)."""
        with self._lock:
            return self._jpeg

    def as_dict(self) -> dict[str, Any]:
        """The camera's entry of ``/state.json`` (see the module docstring), without its events."""
        with self._lock:
            return {**self._info, "scores": list(self._scores)}

    def events(self) -> list[dict[str, Any]]:
        """The event lines kept (a start, or the end that replaced it), oldest first."""
        with self._lock:
            return list(self._events)


def state_json(cameras: Mapping[str, LiveState], media: bool, events: int) -> bytes:
    """``/state.json`` of ``cameras`` {name: state} (see the module docstring): the newest ``events`` events."""
    # each camera's newest first, then by start time: a stable sort keeps a camera's order among equal times
    lines = [e for state in cameras.values() for e in reversed(state.events())]
    lines.sort(key=lambda e: str(e.get("start_time") or ""), reverse=True)
    listed = [{"name": name, **state.as_dict()} for name, state in cameras.items()]
    return json.dumps({"cameras": listed, "events": lines[:events], "media": media}).encode()
