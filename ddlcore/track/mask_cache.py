"""Mask caches: for every training window, the tracks present in all its frames and their boxes.

Layout (format version 1) of ``masks/{dataset}/{split}/{video}.h5``::

    /frame_offsets   int64   (N+1,)  rows of frame t are frame_offsets[t]:frame_offsets[t+1]
    /track_id        int32   (R,)    track id of each row (rows grouped by frame)
    /box             float32 (R, 4)  x_min, y_min, x_max, y_max in frame-store pixels
    /window_offsets  int64   (N+1,)  common tracks of the window centred at t are
    /window_tracks   int32   (S,)    window_tracks[window_offsets[t]:window_offsets[t+1]]
    attrs: format_version=1, window (T), n_frames (N), height, width, min_box_size

A window centred at t spans frames t - T//2 .. t + T//2; centres too close to either end of
the video have no entries. Reading one window touches only its own rows: two offset pairs
and T row ranges. Masks are filled boxes, rasterised on demand (:func:`rasterise_boxes`);
a box rasterises in microseconds, far below the cost of a training step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..data.boxes_io import BoxTable
from ..errors import DDLError
from ..io_utils import atomic_path

FORMAT_VERSION = 1


def common_tracks(tracks: BoxTable, window: int, min_box_size: int = 2) -> list[np.ndarray]:
    """For each centre t of ``tracks``' video, the sorted track ids present in all ``window`` frames.

    Boxes narrower or shorter than ``min_box_size`` pixels do not count as present.
    Returns a list of N int32 arrays (empty for centres without a full window).
    """
    n, half = tracks.n_frames, window // 2
    w = tracks.box[:, 2] - tracks.box[:, 0]
    h = tracks.box[:, 3] - tracks.box[:, 1]
    keep = (w >= min_box_size) & (h >= min_box_size)
    per_frame = [set() for _ in range(n)]
    for t, tid in zip(tracks.frame[keep], tracks.ident[keep]):
        per_frame[int(t)].add(int(tid))
    result = [np.zeros(0, np.int32) for _ in range(n)]
    for t in range(half, n - half):
        ids = set.intersection(*per_frame[t - half : t + half + 1])
        result[t] = np.array(sorted(ids), np.int32)
    return result


def write_mask_cache(path: str | Path, tracks: BoxTable, window: int, min_box_size: int = 2,
                     attrs: dict[str, Any] | None = None) -> int:
    """Build the mask cache of one video from its tracks and write it atomically.

    Returns the number of window centres that have at least one common track.
    """
    order = np.lexsort((tracks.ident, tracks.frame))
    frame = tracks.frame[order]
    frame_offsets = np.searchsorted(frame, np.arange(tracks.n_frames + 1)).astype(np.int64)
    windows = common_tracks(tracks, window, min_box_size)
    window_offsets = np.concatenate([[0], np.cumsum([len(w) for w in windows])]).astype(np.int64)
    window_tracks = np.concatenate(windows).astype(np.int32) if windows else np.zeros(0, np.int32)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("frame_offsets", data=frame_offsets)
        f.create_dataset("track_id", data=tracks.ident[order].astype(np.int32))
        f.create_dataset("box", data=tracks.box[order].astype(np.float32).reshape(-1, 4))
        f.create_dataset("window_offsets", data=window_offsets)
        f.create_dataset("window_tracks", data=window_tracks)
        f.attrs.update(attrs or {})
        f.attrs.update(format_version=FORMAT_VERSION, window=window, n_frames=tracks.n_frames,
                       height=tracks.height, width=tracks.width, min_box_size=min_box_size)
    return int(sum(len(w) > 0 for w in windows))


def rasterise_boxes(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Filled-box masks: boxes (T, 4) x_min, y_min, x_max, y_max -> float32 (T, height, width) in {0, 1}.

    A pixel (row r, column c) is inside when x_min <= c + 0.5 < x_max and y_min <= r + 0.5 < y_max,
    with at least one pixel per non-empty box.
    """
    masks = np.zeros((len(boxes), height, width), np.float32)
    for i, (x0, y0, x1, y1) in enumerate(np.asarray(boxes, np.float64)):
        c0 = int(np.clip(np.floor(x0 + 0.5), 0, width - 1))
        r0 = int(np.clip(np.floor(y0 + 0.5), 0, height - 1))
        c1 = int(np.clip(np.ceil(x1 - 0.5), c0 + 1, width))
        r1 = int(np.clip(np.ceil(y1 - 0.5), r0 + 1, height))
        masks[i, r0:r1, c0:c1] = 1.0
    return masks


class MaskCache:
    """Random access to one video's mask cache. Offsets are held in memory, rows read on demand."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DDLError(f"mask cache missing: {self.path} (run the masks stage first)")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise DDLError(f"mask cache {self.path} is not a readable HDF5 file: {exc}") from exc
        attrs = self._file.attrs
        if attrs.get("format_version") != FORMAT_VERSION:
            raise DDLError(f"mask cache {self.path}: format version {attrs.get('format_version')}, "
                           f"expected {FORMAT_VERSION}")
        self.window = int(attrs["window"])
        self.n_frames = int(attrs["n_frames"])
        self.height = int(attrs["height"])
        self.width = int(attrs["width"])
        self._frame_offsets = self._file["frame_offsets"][:]
        self._window_offsets = self._file["window_offsets"][:]

    def centres_with_tracks(self) -> np.ndarray:
        """Window centres (int64) that have at least one track present in all T frames."""
        return np.flatnonzero(np.diff(self._window_offsets) > 0)

    def tracks_in_window(self, centre: int) -> np.ndarray:
        """Sorted int32 ids of the tracks present in all frames of the window centred at ``centre``."""
        lo, hi = self._window_offsets[centre], self._window_offsets[centre + 1]
        return self._file["window_tracks"][lo:hi]

    def boxes_in_window(self, centre: int, track_id: int) -> np.ndarray:
        """float32 (T, 4) boxes of ``track_id`` in the frames of the window centred at ``centre``."""
        half = self.window // 2
        out = np.zeros((self.window, 4), np.float32)
        for i, t in enumerate(range(centre - half, centre + half + 1)):
            lo, hi = self._frame_offsets[t], self._frame_offsets[t + 1]
            ids = self._file["track_id"][lo:hi]
            hit = np.flatnonzero(ids == track_id)
            if hit.size == 0:
                raise KeyError(f"track {track_id} not in frame {t} of {self.path}")
            out[i] = self._file["box"][lo + hit[0]]
        return out

    def window_mask(self, centre: int, track_id: int) -> np.ndarray:
        """float32 (T, H, W) filled-box masks of ``track_id`` over the window centred at ``centre``."""
        return rasterise_boxes(self.boxes_in_window(centre, track_id), self.height, self.width)

    def close(self) -> None:
        """Close the HDF5 file."""
        self._file.close()

    def __enter__(self) -> "MaskCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
