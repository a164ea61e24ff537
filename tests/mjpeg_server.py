"""A loopback MJPEG HTTP server for the live tests: serves a clip at a frame rate, can go away and come back."""

from __future__ import annotations

import itertools
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

BOUNDARY = "ddlframe"


class MJPEGServer:
    """Serves ``frames`` (RGB uint8 (N, h, w, 3)) at ``fps`` as multipart/x-mixed-replace on 127.0.0.1:``port``
    (0: any free port; the chosen one stays for restarts) to each connection, then keeps the connection
    open without frames (a camera showing nothing new) until :meth:`stop`, for ``hold_s`` seconds at most;
    with ``loop`` the frames repeat until :meth:`stop` (a camera that never ends). ``path``: the URL's path and
    query (a camera's own, credentials included, for the soak benchmark)."""

    def __init__(self, frames: np.ndarray, fps: float, port: int = 0, hold_s: float = 60.0, loop: bool = False,
                 path: str = "/stream.mjpg") -> None:
        self.jpegs = [cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes() for f in frames]
        self.fps = fps
        self.hold_s = hold_s
        self.loop = loop
        self.path = path
        self.port = port
        self.served = 0
        self._server: ThreadingHTTPServer | None = None
        self._closing = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> "MJPEGServer":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                start = time.monotonic()
                try:
                    frames = itertools.cycle(owner.jpegs) if owner.loop else owner.jpegs
                    for i, jpeg in enumerate(frames):
                        if owner._closing.is_set():
                            return
                        delay = start + i / owner.fps - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                        self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode())
                        self.wfile.write(jpeg + b"\r\n")
                        owner.served += 1
                    owner._closing.wait(owner.hold_s)
                except OSError:  # the client went away
                    return

            def log_message(self, *args: object) -> None:
                return

        self._closing.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and end the open streams (clients see the connection close)."""
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
