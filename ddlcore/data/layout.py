"""What the real-benchmark adapters (Ped2, Avenue, ShanghaiTech) share: finding videos in folders,
reading them through :mod:`ddlcore.data.video_io`, and computing all test labels once.
"""

from __future__ import annotations

import abc
import re
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import DDLError
from .base import SPLITS, DatasetAdapter, Video, VideoInfo
from .video_io import list_images, natural_key, read_image, read_source, source_info


def find_subfolders(folder: Path, pattern: str) -> list[Path]:
    """Sub-folders of ``folder`` whose whole name matches the regex ``pattern``, in natural order."""
    regex = re.compile(pattern)
    return sorted((p for p in folder.iterdir() if p.is_dir() and regex.fullmatch(p.name)), key=natural_key)


def find_files(folder: Path, suffix: str) -> list[Path]:
    """Files of ``folder`` ending in ``suffix`` (case-insensitive), hidden files excluded, in natural order."""
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == suffix and not p.name.startswith(".")),
        key=natural_key,
    )


def read_mask_folder(folder: Path, n_frames: int, video: str) -> Iterator[np.ndarray]:
    """Yield bool (h, w) pixel masks (any channel non-zero) from the images of ``folder``.

    DDLError naming the folder if it does not hold exactly ``n_frames`` images (mismatched ground truth).
    """
    files = list_images(folder)
    if len(files) != n_frames:
        raise DDLError(f"{folder}: {len(files)} pixel masks for video {video}, which has {n_frames} frames")
    return (_nonzero(read_image(path)) for path in files)


def _nonzero(image: np.ndarray) -> np.ndarray:
    """bool (h, w): pixels with any non-zero channel."""
    return image.any(axis=2) if image.ndim == 3 else image > 0


def check_split(split: str) -> None:
    """DDLError unless ``split`` is ``train`` or ``test``."""
    if split not in SPLITS:
        raise DDLError(f"unknown split '{split}' (expected one of: {', '.join(SPLITS)})")


class FolderDataset(DatasetAdapter):
    """An adapter whose videos are video files or image folders found by :meth:`_find_videos`.

    Subclasses set ``name`` and ``folder_fps`` (frame rate of image-folder videos; 0 = unknown) and
    implement :meth:`_find_videos` and :meth:`_test_labels`.
    """

    folder_fps: float = 0.0

    def __init__(self, root: str | Path) -> None:
        super().__init__(root)
        if not self.root.is_dir():
            raise DDLError(f"dataset root not found: {self.root}")
        self._videos: dict[str, list[Video]] = {}
        self._labels: dict[str, np.ndarray] | None = None

    @abc.abstractmethod
    def _find_videos(self, split: str) -> tuple[list[Video], Path]:
        """The videos of ``split`` in order, and the folder they were looked for in (for error messages)."""

    @abc.abstractmethod
    def _test_labels(self) -> dict[str, np.ndarray]:
        """uint8 (N,) frame labels of every test video, by video name."""

    def videos(self, split: str) -> list[Video]:
        """All videos of ``split`` in a stable order; DDLError naming the folder if there are none."""
        check_split(split)
        if split not in self._videos:
            found, folder = self._find_videos(split)
            if not found:
                raise DDLError(f"{folder}: no {split} videos of {self.name} found (empty split)")
            self._videos[split] = found
        return self._videos[split]

    def video_lengths(self, split: str) -> dict[str, int]:
        """Frame count of each video of ``split``, by name, in listing order."""
        return {v.name: self.info(v).n_frames for v in self.videos(split)}

    def info(self, video: Video) -> VideoInfo:
        """Frame count, original size and fps (header of a video file, or first image of a folder)."""
        return source_info(video.source, self.folder_fps)

    def read_frames(self, video: Video) -> Iterator[np.ndarray]:
        """Yield the frames of ``video`` as uint8 (h, w) gray or (h, w, 3) RGB arrays."""
        return read_source(video.source)

    def frame_labels(self, video: Video) -> np.ndarray | None:
        """uint8 (N,) labels (1 = abnormal) of a test video; None for a training video."""
        if video.split != "test":
            return None
        if self._labels is None:
            self._labels = self._test_labels()
        if video.name not in self._labels:
            raise DDLError(f"no ground truth for {self.name} test video {video.name} ({video.source})")
        return self._labels[video.name]
