"""Reading frames from video files (.avi, ...) and from folders of images, with one-line errors.

Frames come out as uint8 arrays, (h, w) for gray images and (h, w, 3) RGB otherwise, which is
what :meth:`ddlcore.data.base.DatasetAdapter.read_frames` promises. Every problem (missing file,
a file OpenCV cannot open, a video that stops decoding before its announced frame count, an
image that does not decode) is a :class:`DDLError` naming the file.

All video is read by one loop, :func:`capture_frames`, under a policy: ``strict`` here (dataset
extraction), ``lenient`` for footage to score (:mod:`.footage_reader`), ``live`` for a watched source
(:mod:`ddlcore.live.sources`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from ..errors import DDLError, warn
from .base import VideoInfo

#: file name endings read as frames (lower case)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
#: how video is read (:func:`capture_frames`): dataset extraction, footage to score, a watched source
READ_POLICIES = ("strict", "lenient", "live")
#: failed reads in a row after which a video file read leniently is taken as finished
MAX_FAILED_READS = 25


def natural_key(path: Path) -> tuple:
    """Sort key that orders ``frame2.jpg`` before ``frame10.jpg`` (digit runs compare as numbers)."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name))


def list_images(folder: Path, suffixes: Sequence[str] = IMAGE_SUFFIXES) -> list[Path]:
    """The image files directly inside ``folder`` whose suffix is in ``suffixes``, in natural order.

    Raises DDLError if ``folder`` is not a directory or holds no such image.
    """
    if not folder.is_dir():
        raise DDLError(f"{folder}: frame folder not found")
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")),
        key=natural_key,
    )
    if not files:
        raise DDLError(f"{folder}: no image files ({', '.join(suffixes)}) in frame folder")
    return files


def read_image(path: Path) -> np.ndarray:
    """Decode one image file to uint8 (h, w) gray or (h, w, 3) RGB.

    Images whose three channels are equal stay 3-channel; the frame store converts as configured.
    Raises DDLError naming ``path`` if the file is missing or does not decode.
    """
    if not path.is_file():
        raise DDLError(f"{path}: image file not found")
    image = cv2.imread(str(path), cv2.IMREAD_ANYCOLOR)
    if image is None or image.size == 0:
        raise DDLError(f"{path}: not a readable image (corrupt, truncated or not an image file)")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    elif image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(image, dtype=np.uint8)


def image_folder_info(files: Sequence[Path], fps: float) -> VideoInfo:
    """Frame count and size of an image sequence (decodes the first image only)."""
    first = read_image(files[0])
    return VideoInfo(n_frames=len(files), height=int(first.shape[0]), width=int(first.shape[1]), fps=float(fps))


def read_image_files(files: Sequence[Path]) -> Iterator[np.ndarray]:
    """Yield the decoded images of ``files`` in order (see :func:`read_image`)."""
    for path in files:
        yield read_image(path)


def _open_video(path: Path) -> cv2.VideoCapture:
    """An opened capture of ``path``; DDLError if the file is missing or OpenCV cannot open it."""
    if not path.is_file():
        raise DDLError(f"{path}: video file not found")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise DDLError(f"{path}: not a readable video (OpenCV cannot open it; corrupt, truncated or unknown codec)")
    return capture


def video_file_info(path: Path) -> VideoInfo:
    """Frame count (from the container header), size and fps of a video file, without decoding it."""
    capture = _open_video(path)
    try:
        info = VideoInfo(
            n_frames=int(round(capture.get(cv2.CAP_PROP_FRAME_COUNT))),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            fps=float(capture.get(cv2.CAP_PROP_FPS)),
        )
    finally:
        capture.release()
    if info.n_frames <= 0 or info.height <= 0 or info.width <= 0:
        raise DDLError(f"{path}: video reports {info.n_frames} frames of {info.width}x{info.height}; not a readable video")
    return info


def capture_frames(capture: cv2.VideoCapture, name: str, policy: str, expected: int = 0) -> Iterator[np.ndarray]:
    """The one loop that reads video: every frame of an opened OpenCV ``capture`` in order, as uint8 (h, w, 3)
    RGB, under ``policy`` (:data:`READ_POLICIES`); the capture is released when the frames end.

    - ``strict`` (dataset extraction: labels must align): stops at the first frame that does not decode;
      DDLError naming ``name`` when fewer than ``expected`` (the frame count its header announces) decoded;
    - ``lenient`` (footage to score or calibrate on): skips frames that do not decode, stopping after
      :data:`MAX_FAILED_READS` failures in a row or once decoded and failed reads reach ``expected``; one
      ``warning:`` line when fewer than ``expected`` decoded;
    - ``live`` (a camera, stream or file being watched): stops at the first read that fails (a stream that
      stopped: the caller reconnects); nothing expected.
    """
    if policy not in READ_POLICIES:
        raise ValueError(f"read policy {policy!r} is not one of {', '.join(READ_POLICIES)}")
    decoded = failed = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok or frame is None:
                failed += 1
                if policy != "lenient" or failed >= MAX_FAILED_READS or decoded + failed >= expected:
                    break
                continue
            failed = 0
            decoded += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    if decoded < expected and policy == "strict":
        raise DDLError(f"{name}: decoding stopped after {decoded} of {expected} frames (truncated or corrupt video)")
    if decoded < expected and policy == "lenient":
        warn(f"{name}: {decoded} of the {expected} frames its header announces decoded; scoring those")


def read_video(path: Path, policy: str = "strict", expected: int | None = None) -> Iterator[np.ndarray]:
    """Every frame of a video file as uint8 (h, w, 3) RGB, read under ``policy`` ``strict`` or ``lenient``
    (:func:`capture_frames`) against ``expected`` frames (None: the frame count its header announces).

    DDLError naming ``path`` when it is missing or OpenCV cannot open it (raised when the frames are first asked
    for), or (strict) when decoding stops early: a short read would silently misalign the frame labels.
    """
    if expected is None:
        expected = video_file_info(path).n_frames
    yield from capture_frames(_open_video(path), str(path), policy, expected)


def decoded_frame_count(path: Path) -> int:
    """How many frames of the video file ``path`` decode, in order up to the first that does not (what a strict
    read yields); decodes the whole file. DDLError naming ``path`` when it is missing or OpenCV cannot open it."""
    return sum(1 for _ in capture_frames(_open_video(path), str(path), "live"))


def source_info(source: Path, folder_fps: float) -> VideoInfo:
    """:class:`VideoInfo` of a video file or an image folder (``folder_fps`` is the folder's frame rate)."""
    if source.is_dir():
        return image_folder_info(list_images(source), folder_fps)
    return video_file_info(source)


def read_source(source: Path, expected: int | None = None) -> Iterator[np.ndarray]:
    """Yield the frames of a video file or an image folder (uint8 (h, w) gray or (h, w, 3) RGB); a video file is
    read strictly against ``expected`` frames (None: its header's count)."""
    if source.is_dir():
        return read_image_files(list_images(source))
    return read_video(source, expected=expected)
