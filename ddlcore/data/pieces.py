"""The pieces sheet of a camera root: every piece of footage of every camera, one CSV row each, written once when
the workflow plans a run; each camera's frames job reads its camera's rows (:func:`camera_rows`), then each piece's
own footage only (never the whole camera root). Also the :class:`Piece` a row stands for and how it is read; the
camera adapter (:mod:`.cameras`) makes the rows, imported by the workflow only (a frame job never lists cameras).

Columns: ``split``, ``video``, ``camera``, ``source`` (the video file or frame folder), ``start`` and ``stop`` (the
piece's frames ``[start, stop)`` at the analysis rate), ``frames`` (``stop - start``), ``height`` and ``width``
(the source's), ``fps`` (the analysis rate) and ``source_fps`` (the source's own rate). Frame counts are the
frames that decode (:mod:`.footage_counts`).
"""

from __future__ import annotations

import csv
import io
import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import DDLError
from ..io_utils import read_csv_rows
from .base import VideoInfo
from .resample import resample, source_index
from .video_io import read_source

PIECE_COLUMNS = ("split", "video", "camera", "source", "start", "stop", "frames", "height", "width", "fps",
                 "source_fps")


@dataclass(frozen=True)
class Piece:
    """Frames ``[start, stop)`` at the analysis rate of one source: what a video of the cameras dataset reads.
    ``info`` is the whole source's at the analysis rate (frames that decode, size, analysis fps); ``source_fps``
    its own rate."""

    source: Path
    start: int
    stop: int
    info: VideoInfo
    source_fps: float

    def source_frames(self) -> int:
        """Frames of the source read to yield the piece (up to its last frame's source index)."""
        return source_index(self.stop - 1, self.source_fps, self.info.fps) + 1 if self.stop > self.start else 0


def read_piece(piece: Piece) -> Iterator[np.ndarray]:
    """The piece's frames at the analysis rate, uint8 (h, w) gray or (h, w, 3) RGB, reading its source only (up
    to the piece's last frame). DDLError naming the source when fewer frames decode than were counted."""
    frames = read_source(piece.source, expected=piece.source_frames())
    return itertools.islice(resample(frames, piece.source_fps, piece.info.fps), piece.start, piece.stop)


def sheet_text(rows: list[dict[str, str]]) -> str:
    """The CSV text of ``rows`` with its header line."""
    out = io.StringIO()
    writer = csv.DictWriter(out, PIECE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_pieces_sheet(rows: list[dict[str, str]], path: str | Path) -> bool:
    """Write the sheet of ``rows`` to ``path`` when its content changed (left untouched otherwise); True if written."""
    path, text = Path(path), sheet_text(rows)
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)
    return True


def _sheet_rows(path: str | Path) -> list[dict[str, str]]:
    """Every row of the pieces sheet at ``path``; DDLError naming it when missing or of other columns."""
    return read_csv_rows(path, PIECE_COLUMNS, "pieces sheet", "the workflow writes it when it plans a run")


def camera_rows(path: str | Path, camera: str) -> list[dict[str, str]]:
    """The rows of ``camera`` in the sheet at ``path``, in sheet order; DDLError naming the sheet when it has none."""
    rows = [row for row in _sheet_rows(path) if row["camera"] == camera]
    if not rows:
        raise DDLError(f"{path}: no piece of camera '{camera}' (plan the run again)")
    return rows


def row_piece(row: dict[str, str]) -> Piece:
    """The :class:`Piece` a sheet row describes (its ``info.n_frames``: the source's frames up to the piece's end)."""
    source, start, stop = Path(row["source"]), int(row["start"]), int(row["stop"])
    info = VideoInfo(stop, int(row["height"]), int(row["width"]), float(row["fps"]))
    return Piece(source, start, stop, info, float(row["source_fps"]))
