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
than the scorer needs (its clip length) counts as a failed attempt. A drop is reported at once, and an outage
after 1, 2, 4, 8 ... failed attempts in a row (an hour down at one attempt a second is a dozen lines, not
thousands). A video file ends the watch at its end.

Every secret of a stream URL (its password, ``rtsp://user:password@host/...``, and secret-named query
parameters, ``video.cgi?user=admin&pwd=...``) is kept out of every message and of the page: the reader's
:attr:`FrameReader.name` is the URL as :func:`redacted` shows it. A watched folder that cannot be listed any more,
or any other fault of the reader, ends that source with one line in :attr:`FrameReader.error` (no thread traceback).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import unquote, urlsplit, urlunsplit

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


#: kinds of sources whose frames arrive in real time: their rate is measured, not taken from what they report
LIVE_KINDS = ("camera", "stream")
#: frames of one connection a live source's rate is measured over (the latest ones)
MEASURED_RATE_FRAMES = 20


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


#: query parameter names (lower case) whose value is a secret: a name containing any of these is redacted
SECRET_PARAMETER_WORDS = ("pass", "pwd", "token", "key", "auth", "secret", "sig")


def redacted(source: str) -> str:
    """SOURCE as it may be shown: every secret in it replaced by ``***``; anything else unchanged.

    The one place secrets of a source are taken out, applied where a source is first named (the reader's
    :attr:`FrameReader.name`, the page, every message): a URL's password (``rtsp://user:password@host/...``) and
    the value of every query parameter whose name contains a word of :data:`SECRET_PARAMETER_WORDS`
    (``video.cgi?user=admin&pwd=...``, ``?access_token=...``, ``?X-Amz-Signature=...``). A URL that does not
    parse loses its whole credentials part and query.
    """
    if "://" not in source:
        return source
    try:
        parts = urlsplit(source)
        password = parts.password
    except ValueError:  # not a parseable URL: show no credentials part and no query at all
        scheme, _, rest = source.partition("://")
        rest = rest.partition("?")[0] + ("?***" if "?" in rest else "")
        return f"{scheme}://***@{rest.rpartition('@')[2]}" if "@" in rest else f"{scheme}://{rest}"
    netloc = parts.netloc
    if password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc, query=_redacted_query(parts.query)))


def _redacted_query(query: str) -> str:
    """A URL query with the value of each secret-named parameter (:data:`SECRET_PARAMETER_WORDS`) replaced by ``***``."""
    fields = []
    for field in query.split("&") if query else []:
        name, equals, _ = field.partition("=")
        secret = any(word in unquote(name).lower() for word in SECRET_PARAMETER_WORDS)
        fields.append(f"{name}=***" if secret and equals else field)
    return "&".join(fields)


def quiet_capture_logs() -> None:
    """Keep OpenCV's and FFmpeg's own messages (a refused connection, a stalled read) off stderr.

    A watched stream that drops is reported by the reader (its attempts in a row at powers of two); the libraries'
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
    except the newest). Only regular files are read (a FIFO or a device named like an image is passed over). A
    file that does not decode, or a JPEG without its end marker (still being written: OpenCV would fill its
    missing part with grey), is retried at each poll while it may still be being written: skipped only once its
    size and modification time have not changed for ``settle_s`` seconds.

    DDLError (one line) when the folder cannot be listed any more: removed, replaced, a symlink loop, no access.
    """
    seen: set[str] = set()
    existing = _images(folder, seen)
    seen.update(p.name for p in existing[:-1])
    pending: dict[str, tuple[tuple[int, int], float]] = {}  # undecodable file -> ((size, mtime), when first seen so)
    while not stop.is_set():
        new = _images(folder, seen)
        for path in new:
            image = read_complete_image(path)
            if image is None:
                if not _settled(path, pending, settle_s):  # maybe still being written: retry at the next poll
                    break
                warn(f"{path}: not a readable, complete image, skipped")
            seen.add(path.name)
            pending.pop(path.name, None)
            if image is not None:
                yield cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        else:
            if new:
                continue
        stop.wait(poll_s)


def _images(folder: Path, seen: set[str]) -> list[Path]:
    """The image files (regular files with an image suffix) of ``folder`` not in ``seen``, in natural order;
    names no longer in the folder leave ``seen`` (it stays as small as the folder, however long the watch).
    DDLError when the folder cannot be listed."""
    try:
        listed = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        seen.intersection_update(p.name for p in listed)
        return sorted((p for p in listed if p.name not in seen and p.is_file()), key=natural_key)
    except OSError as exc:
        raise DDLError(f"{folder}: the watched folder cannot be read any more "
                       f"({exc.strerror or type(exc).__name__})") from exc


def _settled(path: Path, pending: dict[str, tuple[tuple[int, int], float]], settle_s: float) -> bool:
    """Whether ``path`` (which did not decode) has kept its size and modification time for ``settle_s`` seconds."""
    try:
        info = path.stat()
    except OSError:  # removed meanwhile (or no longer a file one can stat): nothing left to wait for
        return True
    signature, now = (info.st_size, info.st_mtime_ns), time.monotonic()
    previous = pending.get(path.name)
    if previous is None or previous[0] != signature:
        pending[path.name] = (signature, now)
        return False
    return now - previous[1] >= settle_s


#: the last two bytes of every complete JPEG (End Of Image); trailing padding after it is allowed
JPEG_END = b"\xff\xd9"


def read_complete_image(path: Path) -> np.ndarray | None:
    """BGR uint8 (h, w, 3) of image file ``path``, or None when it cannot be read, does not decode, or is a JPEG
    whose end marker is missing (a partly written JPEG decodes "successfully", with grey for the missing part)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if path.suffix.lower() in (".jpg", ".jpeg") and not data.rstrip(b"\0\r\n ").endswith(JPEG_END):
        return None
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None


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
        #: the source's frame rate: a file's or folder's as it reports it (``default_fps`` until known, or when it
        #: reports none); a live source's (camera, stream) as measured from its frames' arrival once
        #: :data:`MEASURED_RATE_FRAMES` arrived over one connection (until then as reported): an MJPEG or RTSP
        #: stream often reports a rate it does not deliver (FFmpeg says 25 for an MJPEG stream of any rate)
        self.fps = default_fps
        self._rates: list[float] = []
        self._arrivals: deque[float] = deque(maxlen=MEASURED_RATE_FRAMES)
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
        if self._thread.ident is not None:  # a reader never started (the watch failed to start) has nothing to join
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
            now = time.monotonic()
            self._arrivals.append(now)
            measured = self._arrivals[-1] - self._arrivals[0]
            if self.kind in LIVE_KINDS and len(self._arrivals) == MEASURED_RATE_FRAMES and measured > 0:
                self.fps = (MEASURED_RATE_FRAMES - 1) / measured
            elif self._rates and 0 < self._rates[0] < 1000:
                self.fps = self._rates[0]
            self._waiting.append(Frame(image, now, time.time(), self.read, self.reconnects))
            self._cond.notify_all()

    def _frames_once(self) -> Iterator[np.ndarray]:
        """Frames of one connection to the source."""
        if self.kind == "folder":
            return folder_frames(Path(self.source), self.live.folder_poll_s, self.live.folder_settle_s, self._stop)
        self._rates.clear()
        self._arrivals.clear()  # a new connection: its rate is measured anew
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
                failure = ""
                try:
                    for image in self._frames_once():
                        if self._stop.is_set():
                            return
                        delivered += 1
                        if delivered >= self.min_frames:
                            failures = 0
                        self._offer(image)
                except (DDLError, OSError) as exc:
                    if self.kind in ("file", "folder"):
                        raise
                    failure = f"{exc}; "
                if self.kind in ("file", "folder") or self._stop.is_set():
                    return
                failures = 0 if delivered >= self.min_frames else failures + 1
                limit = self.live.reconnect_attempts
                short = f" (each delivered fewer than the {self.min_frames} frames a clip needs)" if 0 < delivered < self.min_frames else ""
                if limit is not None and failures > limit:
                    self.error = f"{failure or f'{self.name}: '}gave up after {limit} failed reconnection attempts{short}"
                    return
                if failures & (failures - 1) == 0:  # 0, 1, 2, 4, 8 ... failures in a row: a long outage, few lines
                    again = f" ({failures} failed reconnection attempts in a row)" if failures else ""
                    self.on_status(f"{failure or f'{self.name}: '}stream stopped after {delivered} frames{again}; "
                                   f"reconnecting in {self.live.reconnect_delay_s} s")
                self.reconnects += 1
                if self._stop.wait(self.live.reconnect_delay_s):
                    return
        except DDLError as exc:
            self.error = str(exc)
        except Exception as exc:  # any other fault of the source: one line, and the watch ends with an error
            self.error = f"{self.name}: the reader failed ({type(exc).__name__}: {redacted(str(exc))})"
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()
