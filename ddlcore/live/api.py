"""The events API and metrics of the ``--serve`` page server: JSON for scripts and dashboards, Prometheus text
for monitoring. Same Host check and token as the page (:mod:`.server`); every route answers GET only.

- ``/api/events``: the events kept (:class:`EventHistory`: the newest ``outputs.api_events``), newest first,
  as the ``after`` STATE of their latest message (:mod:`.outputs.messages`): ``{"events": [...], "total": N,
  "offset": O, "limit": L}``; ``?camera=NAME``, ``?since=T`` (start_time >= T, seconds since the epoch),
  ``?offset=O&limit=L`` (default 0 and 50, limit at most 500); 400 for a malformed value;
- ``/api/events/ID``: one event's STATE (404 when not kept); ``/api/events/ID/snapshot.jpg`` and
  ``/api/events/ID/clip.mkv``: its files in the events folder, once written (404 before);
- ``/api/cameras``: ``{"cameras": [{name, state, source, threshold, fps, source_fps, latency_ms,
  decision_latency_ms, read, scored, dropped, reconnects, gated, gated_share, error}]}``, state ``ok``,
  ``alarm`` (its score is above the threshold) or ``ended`` (stream lost for good, or file over; ``error`` says
  which); the figures are those of the last ``stats:`` line (every ``live.stats_every_s``);
- ``/api/health``: ``{"status": "ok" | "degraded" | "down", "cameras": {name: state}, "uptime_s": s}``: 200
  while some camera is watched, 503 once none is;
- ``/metrics``: Prometheus text (prometheus-client), per camera (label ``camera``): counters
  ``ddl_frames_read_total``, ``ddl_frames_scored_total``, ``ddl_frames_dropped_total``, ``ddl_reconnects_total``,
  ``ddl_events_total``, ``ddl_windows_gated_total`` (windows not run through the model, the change gate); the
  histogram ``ddl_latency_seconds`` (from reading a frame to its score, every frame
  scored: :func:`latency_histogram`); gauges ``ddl_camera_up``, ``ddl_anomaly`` (1 during an event), ``ddl_fps``,
  ``ddl_gated_share`` (share of the windows gated over the last stats period),
  ``ddl_decision_latency_seconds`` (median from reading a frame to the alarm decision about it), ``ddl_threshold``;
  and ``ddl_uptime_seconds``.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any, Iterator, Mapping
from urllib.parse import parse_qs, unquote

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from .outputs.messages import camera_name
from .page_state import LiveState
from .server import MEDIA_TYPES, media_file

#: (status, body, content type) of an answer
Answer = tuple[int, bytes, str]
JSON = "application/json"
MAX_LIMIT = 500
#: upper bounds (s) of the latency histogram's buckets
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def latency_histogram() -> Histogram:
    """``ddl_latency_seconds`` by ``camera``: the time from reading a frame to its score, observed for every frame
    scored (:meth:`.outputs.alarm_outputs.AlarmOutputs.frame`); in no registry until :class:`Api` takes it."""
    return Histogram("ddl_latency_seconds", "time from reading a frame to its score", ["camera"],
                     buckets=LATENCY_BUCKETS, registry=None)


class EventHistory:
    """The newest ``keep`` events of a watch, each as the ``after`` STATE of its latest message, and the events
    counted per camera; fed by :class:`.outputs.alarm_outputs.AlarmOutputs` (from the watch loop), read by the
    page server's threads."""

    name = "events API"

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._events: OrderedDict[str, dict[str, Any]] = OrderedDict()  # by id, oldest first
        self._open: set[str] = set()
        self.counts: Counter[str] = Counter()

    def event(self, message: dict[str, Any]) -> None:
        """An event message: its ``after`` state replaces the event's."""
        state = message["after"]
        with self._lock:
            if message["type"] == "new":
                self.counts[state["camera"]] += 1
                self._open.add(state["id"])
            elif message["type"] == "end":
                self._open.discard(state["id"])
            self._events[state["id"]] = state
            while len(self._events) > self._keep:
                self._open.discard(self._events.popitem(last=False)[0])

    def close(self, timeout_s: float) -> None:
        """Nothing waits: the history is kept in memory."""

    def newest_first(self) -> list[dict[str, Any]]:
        """Every kept event's state, newest start first."""
        with self._lock:
            events = list(self._events.values())
        return sorted(events, key=lambda e: e["start_time"], reverse=True)

    def get(self, event_id: str) -> dict[str, Any] | None:
        """The state of event ``event_id``, or None when it is not kept."""
        with self._lock:
            return self._events.get(event_id)

    def open_cameras(self) -> set[str]:
        """The cameras with an event going on."""
        with self._lock:
            return {self._events[i]["camera"] for i in self._open}


def camera_state(info: Mapping[str, Any]) -> str:
    """``ok``, ``alarm`` or ``ended`` of a camera's ``/state.json`` entry (see the module docstring)."""
    if info.get("error"):
        return "ended"
    return "alarm" if info.get("alarmed") else "ok"


class Api:
    """Answers the API routes and ``/metrics`` (see the module docstring) for ``cameras`` {name: page state},
    ``history``, the events folder ``events_dir`` (None: no media) and the ``latency`` histogram (None: none)."""

    def __init__(self, cameras: Mapping[str, LiveState], history: EventHistory, events_dir: Path | None,
                 latency: Histogram | None = None) -> None:
        self.cameras = cameras
        self.history = history
        self.events_dir = events_dir
        self.started = time.monotonic()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)
        if latency is not None:
            self.registry.register(latency)

    def __call__(self, path: str, query: str) -> Answer | None:
        """The answer to GET ``path`` with ``query``, or None when the path is none of these routes."""
        if path == "/metrics":
            return 200, generate_latest(self.registry), CONTENT_TYPE_LATEST
        if path == "/api/cameras":
            return _json({"cameras": self._cameras()})
        if path == "/api/health":
            return self._health()
        if path == "/api/events":
            return self._events(parse_qs(query, keep_blank_values=True))
        if path.startswith("/api/events/"):
            return self._event(path[len("/api/events/"):])
        return None

    def _cameras(self) -> list[dict[str, Any]]:
        listed = []
        for name, state in self.cameras.items():
            info = state.as_dict()
            info.pop("scores", None)
            listed.append({"name": camera_name(name), "state": camera_state(info), **info})
        return listed

    def _health(self) -> Answer:
        states = {c["name"]: c["state"] for c in self._cameras()}
        watched = sum(s != "ended" for s in states.values())
        status = "ok" if watched == len(states) else "degraded" if watched else "down"
        code, body, kind = _json({"status": status, "cameras": states,
                                  "uptime_s": round(time.monotonic() - self.started, 1)})
        return (503 if status == "down" else code), body, kind

    def _events(self, query: dict[str, list[str]]) -> Answer:
        try:
            offset = _integer(query, "offset", 0, 0, None)
            limit = _integer(query, "limit", 50, 1, MAX_LIMIT)
            since = float(query["since"][-1]) if "since" in query else None
            if since is not None and not math.isfinite(since):
                raise ValueError("since")
        except ValueError as exc:
            why = f"bad query parameter {exc}: offset >= 0, 1 <= limit <= {MAX_LIMIT}, since: seconds since the epoch\n"
            return 400, why.encode(), "text/plain; charset=utf-8"
        events = self.history.newest_first()
        if "camera" in query:
            events = [e for e in events if e["camera"] == query["camera"][-1]]
        if since is not None:
            events = [e for e in events if e["start_time"] >= since]
        return _json({"events": events[offset : offset + limit], "total": len(events), "offset": offset,
                      "limit": limit})

    def _event(self, rest: str) -> Answer | None:
        event_id, _, file = unquote(rest).partition("/")
        state = self.history.get(event_id)
        if state is None:
            return None
        if not file:
            return _json(state)
        name = {"snapshot.jpg": state["snapshot"], "clip.mkv": state["clip"]}.get(file)
        media = media_file(self.events_dir, name) if name else None
        if media is None:
            return None
        return 200, media.read_bytes(), MEDIA_TYPES[media.suffix]

    def collect(self) -> Iterator[Metric]:
        """The metric families of ``/metrics`` (prometheus-client's collector protocol)."""
        counters = {"frames_read": ("read", "frames read from the source"),
                    "frames_scored": ("scored", "frames scored"),
                    "frames_dropped": ("dropped", "frames dropped unscored to keep up"),
                    "reconnects": ("reconnects", "reconnections to the source"),
                    "windows_gated": ("gated", "windows not run through the model: unchanged since the last scored")}
        gauges = {"fps": ("fps", 1.0, "frames scored per second over the last stats period"),
                  "gated_share": ("gated_share", 1.0, "share of the windows gated over the last stats period"),
                  "decision_latency_seconds": ("decision_latency_ms", 1e-3,
                                               "median time from reading a frame to the alarm decision about it"),
                  "threshold": ("threshold", 1.0, "the camera's alarm threshold")}
        families: dict[str, Metric] = {}
        for key, (_, text) in counters.items():
            families[key] = CounterMetricFamily(f"ddl_{key}", text, labels=["camera"])
        families["events"] = CounterMetricFamily("ddl_events", "events raised", labels=["camera"])
        for key, (_, _, text) in gauges.items():
            families[key] = GaugeMetricFamily(f"ddl_{key}", text, labels=["camera"])
        families["up"] = GaugeMetricFamily("ddl_camera_up", "1 while the camera is watched, 0 once ended",
                                           labels=["camera"])
        families["anomaly"] = GaugeMetricFamily("ddl_anomaly", "1 during an event", labels=["camera"])
        open_cameras = self.history.open_cameras()
        for camera in self._cameras():
            name = camera["name"]
            for key, (field, _) in counters.items():
                if camera.get(field) is not None:
                    families[key].add_metric([name], camera[field])
            families["events"].add_metric([name], self.history.counts[name])
            for key, (field, scale, _) in gauges.items():
                if camera.get(field) is not None:
                    families[key].add_metric([name], camera[field] * scale)
            families["up"].add_metric([name], float(camera["state"] != "ended"))
            families["anomaly"].add_metric([name], float(name in open_cameras))
        yield from families.values()
        yield GaugeMetricFamily("ddl_uptime_seconds", "seconds since the page server started",
                                value=time.monotonic() - self.started)


def _integer(query: dict[str, list[str]], key: str, default: int, low: int, high: int | None) -> int:
    """Query parameter ``key`` as an integer in [low, high]; ValueError naming it otherwise."""
    if key not in query:
        return default
    text = query[key][-1]
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise ValueError(key)
    value = int(text)
    if value < low or (high is not None and value > high):
        raise ValueError(key)
    return value


def _json(value: Any) -> Answer:
    return 200, json.dumps(value).encode(), JSON
