"""Reading real footage leniently: score what decodes, warn once, keep going.

Dataset extraction stays strict (:mod:`ddlcore.data.video_io` stops at the first frame that does
not decode, since labels must align). Footage to be scored or calibrated on is taken as it comes
(video files by the same reading loop under its ``lenient`` policy): a container that announces more
frames than decode (common with AVI), a frame that fails in the middle, an image in a folder that is
not one. Each problem prints one ``warning:`` line per file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import DDLError, warn
from .framestore import resize_frame
from .video_io import list_images, read_video, video_file_info


def lenient_image_frames(folder: Path) -> Iterator[np.ndarray]:
    """Yield the images of ``folder`` that decode, in natural order; one warning for those that do not."""
    bad: list[str] = []
    for path in list_images(folder):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None or image.size == 0:
            bad.append(path.name)
            continue
        yield cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if bad:
        warn(f"{folder}: {len(bad)} images did not decode and were skipped (first: {bad[0]})")


def footage_frames(path: str | Path, folder_fps: float) -> tuple[Iterator[np.ndarray], float]:
    """(frames as uint8 RGB (h, w, 3), fps) of a video file or a folder of images, read leniently.

    ``folder_fps`` is the rate of a folder, and of a video whose container records none.
    DDLError naming ``path`` when it is missing or unreadable.
    """
    p = Path(path)
    if p.is_dir():
        return lenient_image_frames(p), folder_fps
    if not p.exists():
        raise DDLError(f"{p}: no such video file or frame folder")
    fps = video_file_info(p).fps
    return read_video(p, "lenient"), fps if fps > 0 else folder_fps


@dataclass
class Footage:
    """Decoded footage: frames uint8 (N, H, W, C) at the model's size, its fps, and its own frame size."""

    frames: np.ndarray
    fps: float
    height: int
    width: int


def load_footage(path: str | Path, height: int, width: int, channels: int, folder_fps: float) -> Footage:
    """All decodable frames of ``path`` converted to uint8 (N, height, width, channels), with fps and original size."""
    frames, fps = footage_frames(path, folder_fps)
    converted, size = [], (0, 0)
    for frame in frames:
        size = frame.shape[:2]
        converted.append(resize_frame(frame, height, width, channels))
    if not converted:
        raise DDLError(f"{path}: no frames could be read")
    return Footage(np.stack(converted), fps, int(size[0]), int(size[1]))
