"""Live sources, read by a thread that keeps a bounded backlog of frames and reconnects after a drop.

``SOURCE`` is one of: a camera index (``0``), a stream URL (``rtsp://``, ``http://`` ...: MJPEG,
H.264, anything OpenCV's FFmpeg reads), a video file (played at its own frame rate, as a camera
would deliver it), or a folder that image files are being written into (each new file in natural
order is a frame).

The reader keeps at most ``live.max_backlog`` frames the scorer has not taken yet (a stream
delivers in bursts); when the scorer is slower than the source, the oldest waiting frame is
dropped (and counted), so scoring never falls more than that many frames behind. A stream or camera that stops delivering (closed, or no frame within
``live.open_timeout_s``) is reopened after ``live.reconnect_delay_s``, up to
``live.reconnect_attempts`` times in a row (null: forever); a connection that delivers fewer frames
than the scorer needs (its clip length) counts as a failed attempt. A video file ends the watch at its end.

A stream URL's password (``rtsp://user:password@host/...``) is kept out of every message and of the
page: the reader's :attr:`FrameReader.name` is the URL with it replaced by ``***``.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from ..data.video_io import IMAGE_SUFFIXES, capture_frames, natural_key
from ..errors import DDLError, warn
from .settings import LiveSettings


@dataclass
class Frame:
    """A frame as delivered: RGB uint8 (h, w, 3), when it was read (time.monotonic and wall clock), its
    sequence number, and the connection it came over (0, then 1 after the first reconnection, ...)."""

    image: np.ndarray
    captured: float
    wall: float
    seq: int
    connection: int


def source_kind(source: str) -> str:
    """"camera", "stream", "file" or "folder" for a SOURCE string; DDLError when it is none of them."""
    if source.isdigit():
        return "camera"
    if "://" in source:
        return "stream"
    path = Path(source)
    if path.is_dir():
        return "folder"
    if path.is_file():
        return "file"
    raise DDLError(f"{redacted(source)}: not a camera index, stream URL, video file or folder")


def redacted(source: str) -> str:
    """SOURCE as it may be shown: a URL's password replaced by ``***`` (anything else unchanged)."""
    if "://" not in source:
        return source
    try:
        parts = urlsplit(source)
        password = parts.password
    except ValueError:  # not a parseable URL: show no credentials part at all
        scheme, _, rest = source.partition("://")
        return f"{scheme}://***@{rest.rpartition('@')[2]}" if "@" in rest else source
    if password is None:
        return source
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}"))


def quiet_capture_logs() -> None:
    """Keep OpenCV's and FFmpeg's own messages (a refused connection, a stalled read) off stderr.

    A watched stream that drops is reported by the reader, once per reconnection attempt; the libraries'
    lines about it would repeat that several times. Environment variables the user set
    (``OPENCV_FFMPEG_LOGLEVEL``, ``OPENCV_LOG_LEVEL``) win. Takes effect for captures opened afterwards.
    """
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's AV_LOG_QUIET
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def _capture(source: str, kind: str, timeout_s: float) -> cv2.VideoCapture:
    """An OpenCV capture of a camera, stream or file (the open and read timeouts set for streams)."""
    if kind != "file":
        quiet_capture_logs()
    if kind == "camera":
        return cv2.VideoCapture(int(source))
    if kind == "stream":
        ms = int(timeout_s * 1000)
        return cv2.VideoCapture(source, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
    return cv2.VideoCapture(source)


def source_frames(source: str, kind: str, timeout_s: float, fps_out: list[float]) -> Iterator[np.ndarray]:
    """RGB frames of a camera, stream or file until it stops (the ``live`` policy of the one video reading loop,
    :func:`ddlcore.data.video_io.capture_frames`); DDLError (naming :func:`redacted` SOURCE) when it does not open.

    ``fps_out`` receives the frame rate the source reports (0 when unknown).
    """
    capture = _capture(source, kind, timeout_s)
    if not capture.isOpened():
        capture.release()
        raise DDLError(f"{redacted(source)}: cannot open ({kind})")
    fps_out.append(float(capture.get(cv2.CAP_PROP_FPS) or 0.0))
    yield from capture_frames(capture, redacted(source), "live")


def folder_frames(folder: Path, poll_s: float, settle_s: float, stop: threading.Event) -> Iterator[np.ndarray]:
    """RGB images of ``folder`` as they appear (natural order; files present at the start are skipped
    except the newest). A file that does not decode is retried at each poll while it may still be being
    written: skipped only once its size and modification time have not changed for ``settle_s`` seconds."""
    seen: set[str] = set()
    existing = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=natural_key)
    seen.update(p.name for p in existing[:-1])
    pending: dict[str, tuple[tuple[int, int], float]] = {}  # undecodable file -> ((size, mtime), when first seen so)
    while not stop.is_set():
        new = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.name not in seen),
                     key=natural_key)
        for path in new:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                if not _settled(path, pending, settle_s):  # maybe still being written: retry at the next poll
                    break
                warn(f"{path}: not a readable image, skipped")
            seen.add(path.name)
            pending.pop(path.name, None)
            if image is not None:
                yield cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        else:
            if new:
                continue
        stop.wait(poll_s)


def _settled(path: Path, pending: dict[str, tuple[tuple[int, int], float]], settle_s: float) -> bool:
    """Whether ``path`` (which did not decode) has kept its size and modification time for ``settle_s`` seconds."""
    try:
        info = path.stat()
    except FileNotFoundError:  # removed meanwhile: nothing left to wait for
        return True
    signature, now = (info.st_size, info.st_mtime_ns), time.monotonic()
    previous = pending.get(path.name)
    if previous is None or previous[0] != signature:
        pending[path.name] = (signature, now)
        return False
    return now - previous[1] >= settle_s


class FrameReader:
    """A thread reading SOURCE; :meth:`get` returns the oldest frame not yet taken, of at most
    ``live.max_backlog`` (older ones are dropped). live: the ``live`` settings (backlog, timeouts,
    reconnection); default_fps: the frame rate assumed until the source reports one; ``min_frames``: frames a
    connection must deliver to count as a working one (the scorer's clip length)."""

    def __init__(self, source: str, live: LiveSettings, default_fps: float,
                 on_status: Callable[[str], None] = warn, min_frames: int = 1) -> None:
        self.source = source
        #: SOURCE as messages and the page show it (no password)
        self.name = redacted(source)
        self.kind = source_kind(source)
        self.min_frames = min_frames
        self.live = live
        self.on_status = on_status
        #: the source's frame rate as it reports it (``default_fps`` until known, or when it reports none)
        self.fps = default_fps
        self._rates: list[float] = []
        self.dropped = 0
        self.read = 0
        self.reconnects = 0
        self.error: str | None = None
        self._waiting: deque[Frame] = deque()
        self._done = False
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="ddl-watch-reader", daemon=True)

    def start(self) -> "FrameReader":
        """Start reading in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the reader to stop and wait for it (a blocked stream read ends within its timeout)."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=self.live.open_timeout_s + 2)

    def get(self, timeout: float) -> Frame | None:
        """The oldest frame not yet taken, waiting up to ``timeout`` s; None on timeout or when the source ended."""
        with self._cond:
            if not self._waiting and not self._done:
                self._cond.wait(timeout)
            return self._waiting.popleft() if self._waiting else None

    @property
    def finished(self) -> bool:
        """True once the source ended for good (file end, gave up reconnecting, or stopped) and every frame was taken."""
        with self._cond:
            return self._done and not self._waiting

    def _offer(self, image: np.ndarray) -> None:
        with self._cond:
            if len(self._waiting) >= self.live.max_backlog:
                self._waiting.popleft()
                self.dropped += 1
            self.read += 1
            if self._rates and 0 < self._rates[0] < 1000:
                self.fps = self._rates[0]
            self._waiting.append(Frame(image, time.monotonic(), time.time(), self.read, self.reconnects))
            self._cond.notify_all()

    def _frames_once(self) -> Iterator[np.ndarray]:
        """Frames of one connection to the source."""
        if self.kind == "folder":
            return folder_frames(Path(self.source), self.live.folder_poll_s, self.live.folder_settle_s, self._stop)
        self._rates.clear()
        frames = source_frames(self.source, self.kind, self.live.open_timeout_s, self._rates)
        return self._paced(frames) if self.kind == "file" else frames

    def _paced(self, frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        """A file's frames at its own frame rate (a camera does not deliver faster than real time)."""
        start = time.monotonic()
        for i, frame in enumerate(frames):
            delay = start + i / self.fps - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            yield frame

    def _loop(self) -> None:
        failures = 0
        try:
            while not self._stop.is_set():
                delivered = 0
                try:
                    for image in self._frames_once():
                        if self._stop.is_set():
                            return
                        delivered += 1
                        if delivered >= self.min_frames:
                            failures = 0
                        self._offer(image)
                except DDLError as exc:
                    if self.kind == "file":
                        raise
                    self.on_status(str(exc))
                if self.kind == "file" or self._stop.is_set():
                    return
                failures = 0 if delivered >= self.min_frames else failures + 1
                limit = self.live.reconnect_attempts
                short = f" (each delivered fewer than the {self.min_frames} frames a clip needs)" if 0 < delivered < self.min_frames else ""
                if limit is not None and failures > limit:
                    self.error = f"{self.name}: gave up after {limit} failed reconnection attempts{short}"
                    return
                self.on_status(f"{self.name}: stream stopped after {delivered} frames; reconnecting in "
                               f"{self.live.reconnect_delay_s} s")
                self.reconnects += 1
                if self._stop.wait(self.live.reconnect_delay_s):
                    return
        except DDLError as exc:
            self.error = str(exc)
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()
