"""The labels file of a camera's test clips: abnormal intervals per clip, in frames or in seconds.

``<camera>/test/labels.csv``, one row per abnormal interval (a clip without rows is all normal)::

    clip,start,end,unit
    clip01.mp4,40,75,frames      # frames 40..75 (0-based, both ends included)
    clip02,2.5,6.0,seconds       # every frame whose time i / fps lies in [2.5 s, 6.0 s]

``clip`` is the clip's file or folder name in ``test/``, with or without its suffix. ``unit`` is
optional (default ``frames``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DDLError

LABELS_FILE = "labels.csv"
UNITS = ("frames", "seconds")


@dataclass(frozen=True)
class ClipInterval:
    """One abnormal interval of a clip as written in the labels file (``unit``: frames or seconds)."""

    clip: str
    start: float
    end: float
    unit: str


def read_intervals(path: Path) -> list[ClipInterval]:
    """The rows of a camera labels CSV; DDLError naming ``path`` and the row for a malformed one."""
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DDLError(f"{path}: not a readable labels CSV ({exc})") from exc
    intervals = []
    for line, row in enumerate(rows, start=2):
        clip = (row.get("clip") or "").strip()
        unit = (row.get("unit") or "frames").strip() or "frames"
        if not clip:
            raise DDLError(f"{path}: line {line}: no clip name (columns: clip,start,end[,unit])")
        if unit not in UNITS:
            raise DDLError(f"{path}: line {line}: unit '{unit}' (expected one of: {', '.join(UNITS)})")
        try:
            start, end = float(row["start"]), float(row["end"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DDLError(f"{path}: line {line}: start and end must be numbers") from exc
        if start < 0 or end < start:
            raise DDLError(f"{path}: line {line}: interval {start}..{end} is not 0 <= start <= end")
        intervals.append(ClipInterval(clip, start, end, unit))
    return intervals


def clip_labels(intervals: list[ClipInterval], clip: str, n_frames: int, fps: float, path: Path) -> np.ndarray:
    """uint8 (n_frames,) labels of ``clip`` (1 = abnormal) from ``intervals``, all of which are that clip's.

    DDLError naming ``path`` for an interval past the clip's end, or in seconds when its fps is unknown.
    """
    labels = np.zeros(n_frames, dtype=np.uint8)
    for iv in intervals:
        if iv.unit == "seconds":
            if fps <= 0:
                raise DDLError(f"{path}: clip {clip} has no known frame rate; give its intervals in frames")
            first, last = int(np.ceil(iv.start * fps)), int(np.floor(iv.end * fps))
            length = f"{n_frames / fps:.2f} s"
        else:
            first, last = int(iv.start), int(iv.end)
            length = f"{n_frames} frames"
        if last >= n_frames:
            raise DDLError(f"{path}: interval {iv.start:g}..{iv.end:g} {iv.unit} is past the end of clip {clip} ({length})")
        labels[first : last + 1] = 1
    return labels
