"""The one interface every dataset adapter implements.

An adapter knows a dataset's on-disk layout. Stages above it see only :class:`Video` records,
frames as uint8 arrays, frame labels and pixel masks.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

SPLITS = ("train", "test")


@dataclass(frozen=True)
class Video:
    """One video of a dataset.

    name: unique within the split, used in file names (e.g. ``01``, ``01_0014``, ``Train001``).
    scene: camera id; single-scene datasets use ``"all"``.
    split: ``"train"`` or ``"test"``.
    source: the file or folder the frames come from.
    """

    name: str
    scene: str
    split: str
    source: Path


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a video before reading it: frame count, original size, fps."""

    n_frames: int
    height: int
    width: int
    fps: float


class DatasetAdapter(abc.ABC):
    """Read access to one dataset in one layout. Construct with the dataset root folder."""

    #: dataset name as used in result paths (``ped2``, ``avenue``, ``shanghaitech``, ``synthetic``)
    name: str = ""
    #: the label variant the frame labels come from (stated in every reported figure)
    label_variant: str = "official"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @abc.abstractmethod
    def videos(self, split: str) -> list[Video]:
        """All videos of ``split`` in a stable order. Raises DDLError if the split is empty."""

    def scenes(self, split: str) -> list[str]:
        """Sorted scene ids that have at least one video in ``split``."""
        return sorted({v.scene for v in self.videos(split)})

    @abc.abstractmethod
    def info(self, video: Video) -> VideoInfo:
        """Frame count, original size and fps of ``video`` (cheap: no full decode where avoidable)."""

    @abc.abstractmethod
    def read_frames(self, video: Video) -> Iterator[np.ndarray]:
        """Yield the frames of ``video`` in order as uint8 (h, w, 3) RGB or (h, w) gray arrays.

        Raises DDLError naming the file if a frame cannot be decoded.
        """

    @abc.abstractmethod
    def frame_labels(self, video: Video) -> np.ndarray | None:
        """Test videos: uint8 (N,) with 1 = abnormal frame. Train videos: None."""

    def first_frame(self, video: Video) -> int:
        """Index in ``video.source`` of the video's first frame (0 unless the adapter cuts sources into pieces)."""
        return 0

    def pixel_masks(self, video: Video) -> Iterator[np.ndarray] | None:
        """Test videos with pixel ground truth: yield bool (h, w) masks per frame, else None."""
        return None
