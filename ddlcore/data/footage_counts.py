"""How many frames of each footage source decode, counted once when the source is first seen and kept.

A video file's header may claim more frames than decode (common for files written by OpenCV and webcams); the
camera adapter cuts footage by the frames that decode. Counting decodes the whole file, so the counts are kept
in a CSV file (one row per source: its path, size in bytes and modification time, the frames that decode, the
frames its header claims, its size and rate) and a source is counted again only when its size or time changes.
"""

from __future__ import annotations

import csv
import os
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from ..errors import DDLError, warn
from .base import VideoInfo
from .video_io import decoded_frame_count, list_images, source_info


@dataclass(frozen=True)
class Counted:
    """One source's row: what identifies its version on disk, and its decoded and claimed frame counts."""

    source: str
    bytes: int
    mtime_ns: int
    frames: int
    header_frames: int
    height: int
    width: int
    fps: float


COLUMNS = [f.name for f in fields(Counted)]


def _version(source: Path) -> tuple[int, int]:
    """(size, modification time in ns) of a file; (image count, time) of a frame folder (adding images changes it)."""
    stat = source.stat()
    size = len(list_images(source)) if source.is_dir() else stat.st_size
    return int(size), int(stat.st_mtime_ns)


class FootageCounts:
    """Decoded frame counts of footage sources, kept in ``path`` (None: counted afresh, kept in memory only)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._rows: dict[str, Counted] = {}
        self._changed = False
        if self.path is not None and self.path.is_file():
            with self.path.open(newline="") as f:
                for row in csv.DictReader(f):
                    counted = Counted(row["source"], *(int(row[c]) for c in COLUMNS[1:7]), float(row["fps"]))
                    self._rows[counted.source] = counted

    def info(self, source: Path, folder_fps: float) -> VideoInfo:
        """:class:`VideoInfo` of ``source`` (a video file or an image folder) with the frames that decode; one
        ``warning:`` line naming a video whose header claims more. DDLError naming it when nothing decodes."""
        size, mtime = _version(source)
        counted = self._rows.get(str(source))
        if counted is None or (counted.bytes, counted.mtime_ns) != (size, mtime):
            header = source_info(source, folder_fps)
            frames = header.n_frames if source.is_dir() else decoded_frame_count(source)
            fps = header.fps if header.fps > 0 else folder_fps
            counted = Counted(str(source), size, mtime, frames, header.n_frames, header.height, header.width, fps)
            self._rows[counted.source] = counted
            self._changed = True
        if counted.frames == 0:
            raise DDLError(f"{source}: no frame decodes (corrupt, truncated or unknown codec)")
        if counted.frames < counted.header_frames:
            warn(f"{source}: {counted.frames} of the {counted.header_frames} frames its header claims decode; "
                 "using those")
        return VideoInfo(counted.frames, counted.height, counted.width, counted.fps)

    def save(self) -> None:
        """Write the counts to the file, when there is one and something was counted since it was read."""
        if self.path is None or not self._changed:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.partial")
        with partial.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            writer.writerows(astuple(c) for c in sorted(self._rows.values(), key=lambda c: c.source))
        os.replace(partial, self.path)
        self._changed = False
