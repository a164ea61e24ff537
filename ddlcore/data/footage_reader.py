"""Reading real footage leniently: score what decodes, warn once, keep going.

Dataset extraction stays strict (:mod:`ddlcore.data.video_io` stops at the first frame that does
not decode, since labels must align). Footage to be scored or calibrated on is taken as it comes:
a container that announces more frames than decode (common with AVI), a frame that fails in the
middle, an image in a folder that is not one. Each problem prints one ``warning:`` line per file.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import DDLError
from .framestore import resize_frame
from .video_io import list_images, video_file_info

#: failed reads in a row after which a video file is taken as finished
MAX_FAILED_READS = 25


def warn(message: str) -> None:
    """One ``warning:`` line on stderr."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def lenient_video_frames(path: Path) -> Iterator[np.ndarray]:
    """Yield the frames of a video file that decode, uint8 (h, w, 3) RGB, skipping ones that fail.

    Stops after ``MAX_FAILED_READS`` failed reads in a row; warns once when fewer frames decoded
    than the container announced. DDLError when the file is missing or does not open at all.
    """
    expected = video_file_info(path).n_frames
    capture = cv2.VideoCapture(str(path))
    decoded = failed = 0
    try:
        while failed < MAX_FAILED_READS:
            ok, frame = capture.read()
            if not ok or frame is None:
                failed += 1
                if decoded + failed >= expected:
                    break
                continue
            failed = 0
            decoded += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    if decoded < expected:
        warn(f"{path}: {decoded} of the {expected} frames its header announces decoded; scoring those")


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
    return lenient_video_frames(p), fps if fps > 0 else folder_fps


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
