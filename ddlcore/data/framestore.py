"""Frame stores: one HDF5 file per video holding its frames resized once to the training size.

Layout (format version 1)::

    /frames    uint8 (N, H, W, C), chunks (1, H, W, C): one frame per chunk, so reading a
               window of T frames touches exactly T chunks
    attrs: format_version=1, source (str), original_height, original_width, fps, dataset,
           split, video, scene, first_frame (index in source of the first frame; the cameras
           dataset cuts a source into a training and a calibration piece; counted at the analysis
           rate fps, the source's own being source_fps where cameras.fps resamples it)

Files are written under a temporary name and renamed when complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import cv2
import h5py
import numpy as np

from ..errors import DDLError
from ..io_utils import atomic_path

FORMAT_VERSION = 1


def resize_frame(frame: np.ndarray, height: int, width: int, channels: int) -> np.ndarray:
    """Resize an (h, w, 3) RGB or (h, w) gray uint8 frame to (height, width, channels) uint8."""
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.shape[2] == 3 and channels == 1:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[:, :, None]
    elif frame.shape[2] == 1 and channels == 3:
        frame = np.repeat(frame, 3, axis=2)
    if frame.shape[:2] != (height, width):
        interp = cv2.INTER_AREA if frame.shape[0] > height else cv2.INTER_LINEAR
        frame = cv2.resize(frame, (width, height), interpolation=interp)
        if frame.ndim == 2:
            frame = frame[:, :, None]
    return np.ascontiguousarray(frame, dtype=np.uint8)


def write_frame_store(
    path: str | Path,
    frames: Iterable[np.ndarray],
    n_frames: int,
    height: int,
    width: int,
    channels: int,
    attrs: dict[str, Any],
) -> int:
    """Resize and write ``frames`` (iterable of uint8 RGB/gray arrays) to a frame store at ``path``.

    ``n_frames`` is the expected count, used to preallocate; the store holds exactly the frames read
    (adapters raise on a short read, so a shortfall never reaches this point unnoticed).
    ``attrs`` must include ``source``, ``original_height``, ``original_width`` and ``fps``.
    Returns the number of frames written.
    """
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            dset = f.create_dataset(
                "frames",
                shape=(n_frames, height, width, channels),
                maxshape=(None, height, width, channels),
                dtype=np.uint8,
                chunks=(1, height, width, channels),
            )
            count = 0
            for frame in frames:
                if count >= dset.shape[0]:
                    dset.resize(count + 1, axis=0)
                dset[count] = resize_frame(frame, height, width, channels)
                count += 1
            if count == 0:
                raise DDLError(f"{attrs.get('source', path)}: no frames could be read")
            if count != n_frames:
                dset.resize(count, axis=0)
            f.attrs["format_version"] = FORMAT_VERSION
            for key, value in attrs.items():
                f.attrs[key] = "" if value is None else value
    return count


class FrameStore:
    """Read access to one frame store.

    ``store[a:b]`` or ``store.window(centre, T)`` return uint8 arrays of shape (n, H, W, C).
    The file stays open until :meth:`close` (or the ``with`` block ends).
    """

    def __init__(self, path: str | Path, rdcc_nbytes: int = 4 * 1024 * 1024) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DDLError(f"frame store missing: {self.path} (run the extract_frames stage first)")
        try:
            self._file = h5py.File(self.path, "r", rdcc_nbytes=rdcc_nbytes)
        except OSError as exc:
            raise DDLError(f"frame store {self.path} is not a readable HDF5 file: {exc}") from exc
        version = self._file.attrs.get("format_version")
        if version != FORMAT_VERSION or "frames" not in self._file:
            raise DDLError(f"frame store {self.path} has format version {version}, expected {FORMAT_VERSION}")
        self._frames = self._file["frames"]
        self.attrs: dict[str, Any] = dict(self._file.attrs)

    def __len__(self) -> int:
        return int(self._frames.shape[0])

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(N, H, W, C)."""
        return tuple(self._frames.shape)  # type: ignore[return-value]

    def __getitem__(self, index: Any) -> np.ndarray:
        return self._frames[index]

    def window(self, centre: int, length: int) -> np.ndarray:
        """Frames ``centre - length//2 .. centre + length//2`` as (length, H, W, C) uint8."""
        half = length // 2
        if centre - half < 0 or centre + half >= len(self):
            raise IndexError(f"window centred at {centre} of length {length} leaves {self.path} ({len(self)} frames)")
        return self._frames[centre - half : centre + half + 1]

    def close(self) -> None:
        """Close the HDF5 file."""
        self._file.close()

    def __enter__(self) -> "FrameStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
