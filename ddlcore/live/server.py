"""The ``--serve HOST:PORT`` page: live overlay, score curve with the threshold, event list.

A standard-library HTTP server in a background thread. Routes:

- ``/``: the page (:file:`page.html` beside this module): it reloads ``/frame.jpg`` and polls
  ``/state.json`` a few times a second, draws the curve on a canvas and lists the events;
- ``/frame.jpg``: the newest overlay frame (JPEG);
- ``/state.json``: {source, threshold, fps, latency_ms, dropped, frames, scores: [[frame, score], ...]
  (the last ``live.curve_frames``), events: [...] (newest first), alarmed}.

Bind it to 127.0.0.1 unless the page is meant to be seen from other machines: it has no login.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import DDLError

PAGE = Path(__file__).with_name("page.html")


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

    def as_json(self) -> bytes:
        """The state as JSON bytes (see the module docstring)."""
        with self._lock:
            state = {**self._info, "scores": list(self._scores), "events": self._events[::-1]}
        return json.dumps(state).encode()


def _handler(state: LiveState) -> type[BaseHTTPRequestHandler]:
    page = PAGE.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            path = self.path.split("?", 1)[0]
            if path == "/":
                self._send(page, "text/html; charset=utf-8")
            elif path == "/state.json":
                self._send(state.as_json(), "application/json")
            elif path == "/frame.jpg" and state.jpeg():
                self._send(state.jpeg(), "image/jpeg")
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


def start_server(address: str, state: LiveState) -> ThreadingHTTPServer:
    """Serve the page for ``state`` at ``address`` (HOST:PORT) in a daemon thread; call ``shutdown()`` to stop."""
    host, port = parse_address(address)
    try:
        server = ThreadingHTTPServer((host, port), _handler(state))
    except OSError as exc:
        raise DDLError(f"--serve {address}: cannot listen there ({exc.strerror})") from exc
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="ddl-watch-server", daemon=True).start()
    return server
