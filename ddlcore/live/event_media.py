"""Each event's clip and snapshot, in the events folder of a ``ddl watch --cameras`` deployment.

For every event a camera raises, two files named by camera, start time (UTC) and event number::

    {camera}-{YYYYmmddTHHMMSSZ}-{id}.mkv   the overlay from ``live.event_before_s`` before the event's first
                                           frame to ``live.event_after_s`` after its last (VP8 in Matroska:
                                           browsers and VLC play it), at most ``live.event_clip_width`` wide
    {camera}-{YYYYmmddTHHMMSSZ}-{id}.jpg   the source frame at the event's peak, full size, its box drawn,
                                           with camera, time and score written on it

The snapshot is written when the event is confirmed (its peak so far) and again when it ends if the
peak moved; the clip once its last frame is in. Both are written under a temporary name and renamed,
so a file with its final name is complete. Encoding runs in one background thread shared by all
cameras, so that it never holds up scoring; snapshots go first; when more than ``live.event_queue_frames``
jobs wait for it, new clip frames are dropped (and counted).
"""

from __future__ import annotations

import itertools
import os
import queue
import re
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from ..alarm.events import AlarmRule, Event, scale_box
from ..errors import DDLError, warn
from .settings import LiveSettings

#: the names of the files :class:`EventMedia` writes (what the page's ``/events/`` route serves)
MEDIA_NAME = re.compile(r"[A-Za-z0-9_-]+-\d{8}T\d{6}Z-\d+\.(?:mkv|jpg)")


@dataclass(frozen=True)
class MediaSettings:
    """Where event media go and how long and wide clips are (from the ``live`` settings)."""

    folder: Path
    before_s: float
    after_s: float
    clip_width: int
    queue_frames: int

    @classmethod
    def from_settings(cls, live: LiveSettings, folder: str | Path) -> MediaSettings:
        """The media settings of the events folder ``folder`` and the ``live`` settings (event_before_s,
        event_after_s, event_clip_width, event_queue_frames)."""
        return cls(Path(folder), float(live.event_before_s), float(live.event_after_s),
                   int(live.event_clip_width), int(live.event_queue_frames))


#: characters an event file name has beyond its camera label, at most: ``-YYYYmmddTHHMMSSZ-NNNNNN.partial.mkv``
MEDIA_NAME_EXTRA = 36


def camera_label(name: str) -> str:
    """A camera name as it appears in file names: runs of characters other than letters, digits, _ and - become _."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name) or "_"


def media_stem(camera: str, start_time: str, number: int) -> str:
    """``{camera label}-{YYYYmmddTHHMMSSZ}-{number}`` for an event that started at ``start_time`` (ISO 8601)."""
    stamp = datetime.fromisoformat(start_time).strftime("%Y%m%dT%H%M%SZ")
    return f"{camera_label(camera)}-{stamp}-{number}"


class MediaWriter:
    """One background thread running the file writes of every camera's clips and snapshots: snapshots
    first (a reviewer looks at them first), clip frames and closings in the order submitted."""

    def __init__(self, queue_frames: int) -> None:
        self._jobs: queue.PriorityQueue[tuple[int, int, Callable[[], None] | None]] = queue.PriorityQueue()
        self._limit = queue_frames
        self._count = itertools.count()
        self.dropped = 0
        self._thread = threading.Thread(target=self._loop, name="ddl-watch-media", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None], kind: str = "clip") -> None:
        """Run ``job`` in the writer thread. kind: "snapshot" (before anything else waiting), "clip" (a
        clip's closing), or "frame" (a clip frame: dropped, and counted, when the queue is full)."""
        if kind == "frame" and self._jobs.qsize() >= self._limit:
            self.dropped += 1
            return
        self._jobs.put((0 if kind == "snapshot" else 1, next(self._count), job))

    def close(self) -> None:
        """Finish every submitted job, then stop the thread."""
        self._jobs.put((2, next(self._count), None))
        self._thread.join()

    def _loop(self) -> None:
        while (job := self._jobs.get()[2]) is not None:
            try:
                job()
            except (OSError, DDLError, cv2.error) as exc:  # a full disk must not stop the watch
                warn(f"event media: {exc}")


def _partial(path: Path) -> Path:
    """Where ``path`` is written before it is complete (a name :data:`MEDIA_NAME` does not match)."""
    return path.with_name(f"{path.stem}.partial{path.suffix}")


class _Clip:
    """One event's clip file, written frame by frame in the writer thread and renamed when closed."""

    def __init__(self, path: Path, fps: float, until: int | None) -> None:
        self.path = path
        self.fps = fps
        self.until = until  # the last frame it takes (None while its event is open)
        self.last = -1  # the last frame submitted
        self._writer: cv2.VideoWriter | None = None

    def write(self, bgr: np.ndarray) -> None:
        if self._writer is None:
            self._writer = cv2.VideoWriter(str(_partial(self.path)), cv2.VideoWriter_fourcc(*"VP80"), self.fps,
                                           (bgr.shape[1], bgr.shape[0]))
            if not self._writer.isOpened():
                raise DDLError(f"{self.path}: OpenCV cannot write a VP8 clip here")
        self._writer.write(bgr)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            os.replace(_partial(self.path), self.path)


def _write_image(path: Path, bgr: np.ndarray) -> None:
    tmp = _partial(path)
    if not cv2.imwrite(str(tmp), bgr):
        raise DDLError(f"{path}: cannot write the snapshot")
    os.replace(tmp, path)


def snapshot_image(image: np.ndarray, box: list[int], caption: str) -> np.ndarray:
    """RGB uint8 (h, w, 3) source frame -> BGR uint8 (h, w, 3) with ``box`` (x0, y0, x1, y1, source pixels)
    drawn in red and ``caption`` written at the top."""
    out = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    h = out.shape[0]
    if len(box) == 4:
        x0, y0, x1, y1 = box
        cv2.rectangle(out, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), (40, 40, 255), max(2, h // 120))
    scale = max(0.4, h / 700)
    cv2.putText(out, caption, (6, int(22 * scale) + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, caption, (6, int(22 * scale) + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


class EventMedia:
    """The clips and snapshots of one camera's events.

    camera: its name; settings: where the files go, clip length and width; fps: the source's frame rate (known
    once it opened); model_size: the model's frame (h, w); rule: the calibration's alarm rule (how late an event
    is confirmed); writer: the background writer. Per scored frame the watch calls :meth:`frame` (before writing
    that frame's event changes); the event log calls :meth:`event` for each start and end line and adds the
    fields it returns to the line.
    """

    def __init__(self, camera: str, settings: MediaSettings, fps: Callable[[], float], model_size: tuple[int, int],
                 rule: AlarmRule, writer: MediaWriter) -> None:
        self.camera = camera
        self.settings = settings
        self.fps = fps  # the source's frame rate (known once it opened)
        self.model_size = model_size
        self.writer = writer
        # an event is confirmed up to min_frames * (merge_gap + 1) frames after its first frame
        self.reach = int(rule.min_frames) * (int(rule.merge_gap) + 1) + 2
        self.recent: deque[tuple[int, np.ndarray]] = deque()
        self.clips: dict[int, _Clip] = {}  # id(event) -> its clip
        self.stems: dict[int, str] = {}  # id(event) -> its file stem
        self.shown: dict[int, int] = {}  # id(event) -> the peak frame its snapshot shows
        self.peak: tuple[int, np.ndarray, float] | None = None  # the latest candidate's peak: (frame, image, score)
        self.index = -1
        self.frame_size = model_size

    def frame(self, index: int, overlay: np.ndarray, image: np.ndarray, candidate: Event | None) -> None:
        """One scored frame: ``index`` (scorer frame number), its overlay and source image (RGB uint8 (h, w, 3)),
        and the event candidate after it (the scorer's tracker's, None when quiet)."""
        self.index = index
        self.frame_size = image.shape[:2]
        small = self._clip_frame(overlay)
        self.recent.append((index, small))
        while self.recent[0][0] < index - self._frames(self.settings.before_s) - self.reach:
            self.recent.popleft()
        if candidate is not None and candidate.peak_frame == index:
            self.peak = (index, image, candidate.peak_score)
        for key, clip in list(self.clips.items()):
            self._feed(clip, index, small)
            if clip.until is not None and index >= clip.until:
                self._close(key)

    def event(self, kind: str, event: Event, record: dict[str, Any]) -> dict[str, Any]:
        """A start or end line about to be written: opens or schedules the end of the clip, writes the snapshot;
        returns the fields {"clip": file name, "snapshot": file name} for the line."""
        key = id(event)
        if kind == "start":
            self.stems[key] = media_stem(self.camera, record["start_time"], record["id"])
            clip = _Clip(self.settings.folder / f"{self.stems[key]}.mkv", self.fps(), None)
            self.clips[key] = clip
            for index, small in self.recent:
                if index >= event.start - self._frames(self.settings.before_s):
                    self._feed(clip, index, small)
        stem = self.stems[key]
        self._snapshot(key, event, record, stem)
        if kind == "end":
            self.stems.pop(key)
            self.shown.pop(key, None)
            if key in self.clips:
                self.clips[key].until = event.end + self._frames(self.settings.after_s)
                if self.index >= self.clips[key].until:
                    self._close(key)
        return {"clip": f"{stem}.mkv", "snapshot": f"{stem}.jpg"}

    def close(self) -> None:
        """The watch ended: close the clips still being written (shorter than planned)."""
        for key in list(self.clips):
            self._close(key)

    def _frames(self, seconds: float) -> int:
        return round(seconds * self.fps())

    def _clip_frame(self, overlay: np.ndarray) -> np.ndarray:
        h, w = overlay.shape[:2]
        if w > self.settings.clip_width:
            size = (self.settings.clip_width, max(2, round(h * self.settings.clip_width / w)) // 2 * 2)
            overlay = cv2.resize(overlay, size, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR)

    def _feed(self, clip: _Clip, index: int, small: np.ndarray) -> None:
        if index > clip.last:
            clip.last = index
            self.writer.submit(lambda: clip.write(small), "frame")

    def _close(self, key: int) -> None:
        clip = self.clips.pop(key)
        self.writer.submit(clip.close)

    def _snapshot(self, key: int, event: Event, record: dict[str, Any], stem: str) -> None:
        if self.peak is None or self.peak[0] != event.peak_frame or self.shown.get(key) == event.peak_frame:
            return  # the peak frame's image is not at hand, or the snapshot already shows it
        self.shown[key] = event.peak_frame
        _, image, score = self.peak
        box = scale_box(event.box, self.model_size, image.shape[:2]) if event.box else []
        caption = f"{self.camera}  {record['start_time'][:19].replace('T', ' ')} UTC  score {score:.4g}"
        path = self.settings.folder / f"{stem}.jpg"
        self.writer.submit(lambda: _write_image(path, snapshot_image(image, box, caption)), "snapshot")
