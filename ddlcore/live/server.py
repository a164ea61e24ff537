"""The ``--serve HOST:PORT`` page: live overlay, score curve with the threshold, event list.

A standard-library HTTP server in a background thread. Routes:

- ``/``: the page (:file:`page.html` beside this module): one panel per camera; it polls
  ``/state.json`` a few times a second, reloads each camera's overlay, draws its curve on a canvas
  and lists every camera's events;
- ``/frame/{i}.jpg``: the newest overlay frame of camera i (JPEG; cameras numbered from 0 as listed);
- ``/state.json``: {cameras: [{name, source, threshold, fps, latency_ms, dropped, scores: [[frame, score],
  ...] (the last ``live.curve_frames``), alarmed, error}, ...], events: [...] (all cameras', newest
  first), media: whether events have clips and snapshots};
- ``/events/``: the events folder (clips and snapshots, :mod:`.event_media`), newest first, and
  ``/events/{name}`` each file in it: only names of the pattern :data:`.event_media.MEDIA_NAME`
  that are plain files directly inside that folder are served.

Bind it to 127.0.0.1 unless the page is meant to be seen from other machines: it has no login.
"""

from __future__ import annotations

import html
import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Mapping

import cv2
import numpy as np

from ..errors import DDLError
from .event_media import MEDIA_NAME

PAGE = Path(__file__).with_name("page.html")
#: content types of the events folder's files
MEDIA_TYPES = {".mkv": "video/webm", ".jpg": "image/jpeg"}


class LiveState:
    """What the page shows, updated by the watch loop and read by the server threads."""

    def __init__(self, source: str, threshold: float, curve_frames: int) -> None:
        self._lock = threading.Lock()
        self._jpeg = b""
        self._scores: deque[tuple[int, float]] = deque(maxlen=curve_frames)
        self._events: list[dict[str, Any]] = []
        self._info: dict[str, Any] = {"source": source, "threshold": threshold, "alarmed": False}

    def frame(self, overlay: np.ndarray, index: int, score: float, alarmed: bool) -> None:
        """Record one scored frame: overlay RGB uint8 (h, w, 3), its index, score and the alarm state."""
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
        with self._lock:
            if ok:
                self._jpeg = jpeg.tobytes()
            self._scores.append((index, round(score, 6)))
            self._info["alarmed"] = alarmed

    def event(self, record: dict[str, Any]) -> None:
        """Record an event line (a start, or an end replacing its start)."""
        with self._lock:
            self._events = [e for e in self._events if e["id"] != record["id"]] + [record]

    def stats(self, values: dict[str, Any]) -> None:
        """Record the frame rate and latency figures."""
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
        """The event lines shown (a start, or the end that replaced it), oldest first."""
        with self._lock:
            return list(self._events)


def state_json(cameras: Mapping[str, LiveState], media: bool) -> bytes:
    """``/state.json`` of ``cameras`` {name: state} (see the module docstring)."""
    events = [e for state in cameras.values() for e in state.events()]
    events.sort(key=lambda e: e["start_time"], reverse=True)
    listed = [{"name": name, **state.as_dict()} for name, state in cameras.items()]
    return json.dumps({"cameras": listed, "events": events, "media": media}).encode()


def media_file(folder: Path | None, name: str) -> Path | None:
    """The events folder's file ``name``, or None unless it has a media name and is a plain file right in ``folder``."""
    if folder is None or not MEDIA_NAME.fullmatch(name):
        return None
    path = folder / name
    return path if path.is_file() and not path.is_symlink() else None


def media_listing(folder: Path) -> bytes:
    """An HTML list of the events folder's clips and snapshots, newest first."""
    names = sorted((p.name for p in folder.iterdir() if MEDIA_NAME.fullmatch(p.name)) if folder.is_dir() else [],
                   key=lambda n: (n.split("-")[-2], n), reverse=True)
    items = "".join(f'<li><a href="{html.escape(n)}">{html.escape(n)}</a></li>' for n in names)
    return (f'<!doctype html><meta charset="utf-8"><title>ddl watch events</title><h1>events</h1>'
            f'<p>{len(names)} files</p><ul>{items}</ul>').encode()


def _handler(cameras: Mapping[str, LiveState], events_dir: Path | None) -> type[BaseHTTPRequestHandler]:
    page = PAGE.read_bytes()
    states = list(cameras.values())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            path = self.path.split("?", 1)[0]
            frame = path[len("/frame/"):-len(".jpg")] if path.startswith("/frame/") and path.endswith(".jpg") else ""
            media = media_file(events_dir, path[len("/events/"):]) if path.startswith("/events/") else None
            if path == "/":
                self._send(page, "text/html; charset=utf-8")
            elif path == "/state.json":
                self._send(state_json(cameras, events_dir is not None), "application/json")
            elif frame.isdigit() and int(frame) < len(states) and states[int(frame)].jpeg():
                self._send(states[int(frame)].jpeg(), "image/jpeg")
            elif path == "/events/" and events_dir is not None:
                self._send(media_listing(events_dir), "text/html; charset=utf-8")
            elif media is not None:
                self._send(media.read_bytes(), MEDIA_TYPES[media.suffix])
            else:
                self.send_error(404)

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # quiet: the watch prints its own status
            return

    return Handler


def parse_address(text: str) -> tuple[str, int]:
    """"HOST:PORT" -> (host, port); DDLError when it is not one."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise DDLError(f"--serve {text}: expected HOST:PORT, e.g. 127.0.0.1:8080")
    return host, int(port)


def start_server(address: str, cameras: Mapping[str, LiveState], events_dir: Path | None = None) -> ThreadingHTTPServer:
    """Serve the page of ``cameras`` {name: state} (and the events folder ``events_dir``, when given) at
    ``address`` (HOST:PORT) in a daemon thread; call ``shutdown()`` to stop."""
    host, port = parse_address(address)
    try:
        server = ThreadingHTTPServer((host, port), _handler(cameras, events_dir))
    except OSError as exc:
        raise DDLError(f"--serve {address}: cannot listen there ({exc.strerror})") from exc
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="ddl-watch-server", daemon=True).start()
    return server
