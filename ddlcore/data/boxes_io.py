"""HDF5 files of per-frame boxes: detections and tracks.

Layout (format version 1), one row per box, rows sorted by frame::

    /frame     int32   (K,)    frame index in the video's frame store
    /box       float32 (K, 4)  x_min, y_min, x_max, y_max in frame-store pixels
    /score     float32 (K,)
    /ident     int32   (K,)    detections: COCO class id (0 for class-less backends);
                               tracks: track id (>= 1)
    attrs: format_version=1, kind ("detections" | "tracks"), n_frames, height, width, plus
           whatever the stage adds (backend, settings fingerprint, ...)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import h5py
import numpy as np

from ..errors import DDLError
from ..io_utils import atomic_path

FORMAT_VERSION = 1


@dataclass
class BoxTable:
    """Boxes of one video. ``ident`` is the class id (detections) or track id (tracks)."""

    frame: np.ndarray
    box: np.ndarray
    score: np.ndarray
    ident: np.ndarray
    n_frames: int
    height: int
    width: int
    kind: str
    attrs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls, n_frames: int, height: int, width: int, kind: str) -> "BoxTable":
        """A table with no rows."""
        return cls(
            frame=np.zeros(0, np.int32), box=np.zeros((0, 4), np.float32), score=np.zeros(0, np.float32),
            ident=np.zeros(0, np.int32), n_frames=n_frames, height=height, width=width, kind=kind,
        )

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[int, int, Sequence[float]]], n_frames: int, height: int, width: int,
                  kind: str, attrs: dict[str, Any] | None = None) -> "BoxTable":
        """A table from (frame, ident, (x_min, y_min, x_max, y_max)) rows, sorted by frame then ident;
        every score is 1 (tracks imported or made by hand carry no confidence)."""
        table = cls.empty(n_frames, height, width, kind)
        table.attrs = dict(attrs or {})
        if rows:
            ordered = sorted(rows, key=lambda r: (r[0], r[1]))
            table.frame = np.array([r[0] for r in ordered], np.int32)
            table.ident = np.array([r[1] for r in ordered], np.int32)
            table.box = np.array([r[2] for r in ordered], np.float32).reshape(-1, 4)
            table.score = np.ones(len(ordered), np.float32)
        return table

    def rows_of_frame(self, t: int) -> slice:
        """The slice of rows belonging to frame ``t`` (rows are sorted by frame)."""
        lo, hi = np.searchsorted(self.frame, [t, t + 1])
        return slice(int(lo), int(hi))

    def __len__(self) -> int:
        return int(self.frame.shape[0])


def write_boxes(path: str | Path, table: BoxTable) -> None:
    """Write ``table`` atomically to ``path`` (rows re-sorted by frame, stable)."""
    order = np.argsort(table.frame, kind="stable")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("frame", data=np.asarray(table.frame, np.int32)[order])
        f.create_dataset("box", data=np.asarray(table.box, np.float32).reshape(-1, 4)[order])
        f.create_dataset("score", data=np.asarray(table.score, np.float32)[order])
        f.create_dataset("ident", data=np.asarray(table.ident, np.int32)[order])
        f.attrs.update(table.attrs)
        f.attrs.update(format_version=FORMAT_VERSION, kind=table.kind, n_frames=table.n_frames,
                       height=table.height, width=table.width)


def read_boxes(path: str | Path, kind: str | None = None) -> BoxTable:
    """Read a box file; ``kind`` (if given) must match. Raises DDLError on a missing or foreign file."""
    p = Path(path)
    if not p.is_file():
        raise DDLError(f"{kind or 'box'} file missing: {p}")
    try:
        with h5py.File(p, "r") as f:
            attrs = dict(f.attrs)
            if attrs.get("format_version") != FORMAT_VERSION:
                raise DDLError(f"{p}: format version {attrs.get('format_version')}, expected {FORMAT_VERSION}")
            if kind is not None and attrs.get("kind") != kind:
                raise DDLError(f"{p}: holds {attrs.get('kind')}, expected {kind}")
            return BoxTable(
                frame=f["frame"][:], box=f["box"][:], score=f["score"][:], ident=f["ident"][:],
                n_frames=int(attrs["n_frames"]), height=int(attrs["height"]), width=int(attrs["width"]),
                kind=str(attrs["kind"]), attrs=attrs,
            )
    except OSError as exc:
        raise DDLError(f"{p} is not a readable HDF5 file: {exc}") from exc
