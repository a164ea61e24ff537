"""``ddl record SOURCE --out CAMERA/normal --minutes M``: collect a camera's everyday footage for training.

Frames are read as ``ddl watch`` reads them (:class:`ddlcore.live.sources.FrameReader`: the same
sources, the same reconnection after a drop, the ``live`` settings) and written as video segment
files of ``record.segment_s`` seconds, named by the wall-clock time of their first frame
(``20261201-221500.mp4``), so that natural order is time order. A segment is written under a
hidden name and renamed when it is closed: a recording killed at any moment leaves only whole
segments (the dataset skips hidden files; the next recording removes the leftover). A change of
frame size (a camera reconnecting at another resolution) starts a new segment.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from ..errors import DDLError
from .output_paths import writable_folder
from .settings import LiveSettings, RecordSettings
from .sources import FrameReader, quiet_capture_logs

PARTIAL_MARK = ".partial"


class SegmentWriter:
    """Writes RGB frames into ``folder`` as whole segment files (hidden while open, renamed on close), under the
    ``record`` settings (segment length, codec, container suffix)."""

    def __init__(self, folder: Path, settings: RecordSettings) -> None:
        self.folder = folder
        self.settings = settings
        self.closed: list[Path] = []
        self._writer: cv2.VideoWriter | None = None
        self._partial: Path | None = None
        self._final: Path | None = None
        self._started = 0.0
        self._size: tuple[int, int] | None = None
        self._frames = 0

    def write(self, image: np.ndarray, wall: float, fps: float) -> None:
        """Add one uint8 (h, w, 3) RGB frame captured at ``wall`` (Unix time); opens and closes segments."""
        size = (image.shape[1], image.shape[0])
        if self._writer is not None and (size != self._size or wall - self._started >= float(self.settings.segment_s)):
            self.close()
        if self._writer is None:
            self._open(wall, size, fps)
        assert self._writer is not None
        self._writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        self._frames += 1

    def _open(self, wall: float, size: tuple[int, int], fps: float) -> None:
        stamp = dt.datetime.fromtimestamp(wall).strftime("%Y%m%d-%H%M%S")
        suffix, fourcc = str(self.settings.suffix), str(self.settings.fourcc)
        final = self.folder / f"{stamp}{suffix}"
        n = 1
        while final.exists():
            n += 1
            final = self.folder / f"{stamp}-{n}{suffix}"
        partial = self.folder / f".{final.stem}{PARTIAL_MARK}{suffix}"
        writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if not writer.isOpened():
            writable_folder(self.folder, "--out")  # the folder, not the codec, may be at fault: that one line first
            raise DDLError(f"{partial}: OpenCV cannot write {suffix} video with codec {fourcc} "
                           "(set record.fourcc / record.suffix, e.g. MJPG / .avi)")
        self._writer, self._partial, self._final = writer, partial, final
        self._started, self._size, self._frames = wall, size, 0

    def close(self) -> None:
        """Finish the open segment (if any) and give it its final name."""
        if self._writer is None:
            return
        self._writer.release()
        assert self._partial is not None and self._final is not None
        os.replace(self._partial, self._final)
        self.closed.append(self._final)
        print(f"recorded {self._final}: {self._frames} frames", file=sys.stderr, flush=True)
        self._writer = self._partial = self._final = None


def remove_partials(folder: Path) -> int:
    """Delete segments a killed recording left open in ``folder``; return how many."""
    leftovers = [p for p in folder.glob(f".*{PARTIAL_MARK}*") if p.is_file()]
    for path in leftovers:
        path.unlink()
    return len(leftovers)


def stop_time(minutes: float | None, until: str | None, now: float) -> float:
    """Unix time to stop at: ``minutes`` from ``now``, or the next ``until`` (HH:MM, local time)."""
    if minutes is not None:
        return now + 60.0 * minutes
    assert until is not None
    try:
        clock = dt.datetime.strptime(until, "%H:%M").time()
    except ValueError as exc:
        raise DDLError(f"ddl record: --until {until!r} is not a time of day HH:MM") from exc
    start = dt.datetime.fromtimestamp(now)
    end = dt.datetime.combine(start.date(), clock)
    if end <= start:
        end += dt.timedelta(days=1)
    return end.timestamp()


def record(source: str, folder: str | Path, stop_at: float, settings: RecordSettings, live: LiveSettings) -> list[Path]:
    """Record ``source`` into ``folder`` until Unix time ``stop_at``, the source's end, or Ctrl-C / SIGTERM (a
    requested stop: the open segment is kept) under the ``record`` settings, reading it under the ``live`` ones;
    return the segments written. DDLError when the source is lost for good before any segment was written."""
    out = writable_folder(folder, "--out")
    if remove_partials(out):
        print(f"{out}: removed the unfinished segment of an earlier recording", file=sys.stderr)
    quiet_capture_logs()
    reader = FrameReader(source, live, float(settings.default_fps)).start()
    writer = SegmentWriter(out, settings)
    try:
        while time.time() < stop_at and not reader.finished:
            frame = reader.get(timeout=0.5)
            if frame is not None:
                writer.write(frame.image, frame.wall, reader.fps)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: a requested stop; the open segment is finished and kept
        pass
    finally:
        reader.stop()
        writer.close()
    if reader.error and not writer.closed:
        raise DDLError(reader.error)
    return writer.closed
