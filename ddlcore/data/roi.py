"""A camera's region of interest: an optional ``<root>/<camera>/roi.png`` of dataset ``cameras``, white where
the camera is watched.

The image is read as grayscale; a pixel at or above ``WATCHED_LEVEL`` is watched, darker ones are
masked out. It is resized with nearest-neighbour to the frame size the pipeline scores at
(``frames.height`` x ``frames.width``, the model's), so it must be drawn at the footage's aspect ratio
(on a snapshot of the camera). Scoring multiplies the per-pixel error by it
(:func:`ddlcore.score.inference.pixel_error`), so what moves in the masked part raises no score, box
or alarm; training never reads it.

The workflow finds each camera's file with :func:`camera_rois` (outside the camera adapter's module, so
that this feature's code is no part of the frame extraction's fingerprint) and passes it as ``--roi`` to
``ddl score`` and ``ddl calibrate``; the calibration keeps it for ``ddl watch``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import cv2
import numpy as np

from ..errors import DDLError
from .framestore import FrameStore
from .video_io import source_info

if TYPE_CHECKING:
    from .base import DatasetAdapter, Video

#: the file name of a camera's region of interest, in its camera folder
ROI_FILE = "roi.png"
#: gray level from which a pixel of the ROI image is watched (white); darker pixels are masked out
WATCHED_LEVEL = 128
#: largest relative difference between the ROI image's aspect ratio (width / height) and the footage's
ASPECT_TOLERANCE = 0.1


def load_roi(path: str | Path, height: int, width: int, footage_sizes: Iterable[tuple[int, int]] = ()) -> np.ndarray:
    """The watched pixels of the ROI image ``path`` at the scoring frame size: bool (height, width), True = watched.

    footage_sizes: (height, width) of each source of the footage the ROI is for, in its own pixels; the image's
    aspect ratio must be within ``ASPECT_TOLERANCE`` of each. DDLError, one line naming ``path``, when the file
    is missing or not a readable image, its aspect ratio is far from the footage's, or no pixel is watched
    (before or after resizing).
    """
    p = Path(path)
    image = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) if p.is_file() else None
    if image is None or image.size == 0:
        raise DDLError(f"{p}: not a readable image (a region of interest is a PNG, white where the camera is watched)")
    h, w = image.shape
    for source_h, source_w in footage_sizes:
        if abs((w / h) / (source_w / source_h) - 1) > ASPECT_TOLERANCE:
            raise DDLError(f"{p}: a {w}x{h} image (aspect ratio {w / h:.2f}) for footage of {source_w}x{source_h} "
                           f"({source_w / source_h:.2f}): draw the region of interest on a frame of the footage")
    if not (image >= WATCHED_LEVEL).any():
        raise DDLError(f"{p}: no watched pixel (white, gray level >= {WATCHED_LEVEL}, is watched; black is masked out)")
    roi = cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST) >= WATCHED_LEVEL
    if not roi.any():
        raise DDLError(f"{p}: no watched pixel is left at the frame size {width}x{height}: widen the white region")
    return roi


def footage_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of a footage source in its own pixels: a frame store's original size, else the size of a
    video file's or an image folder's frames."""
    p = Path(path)
    if p.suffix == ".h5":
        with FrameStore(p) as store:
            return int(store.attrs["original_height"]), int(store.attrs["original_width"])
    info = source_info(p, folder_fps=1.0)  # the rate is not needed for the size
    return info.height, info.width


def model_roi(path: str | Path, meta: dict, footage: Sequence[str | Path]) -> np.ndarray:
    """:func:`load_roi` at the frame size of a model (checkpoint ``meta``: height, width), checked against the
    aspect ratio of ``footage`` (frame stores, video files or image folders it will score)."""
    return load_roi(path, int(meta["height"]), int(meta["width"]), [footage_size(f) for f in footage])


def camera_rois(adapter: DatasetAdapter, videos: Iterable[Video], height: int, width: int) -> dict[str, Path]:
    """{camera: its ``roi.png``} for the cameras (scenes) of ``videos`` whose folder ``<adapter.root>/<camera>``
    has one, each checked by :func:`load_roi` at ``height`` x ``width`` against the size of every one of the
    camera's videos (``adapter.info``); DDLError naming the first bad file."""
    sizes: dict[str, set[tuple[int, int]]] = {}
    for video in videos:
        info = adapter.info(video)
        sizes.setdefault(video.scene, set()).add((info.height, info.width))
    rois = {}
    for camera, footage in sorted(sizes.items()):
        path = adapter.root / camera / ROI_FILE
        if path.is_file():
            load_roi(path, height, width, sorted(footage))
            rois[camera] = path
    return rois
