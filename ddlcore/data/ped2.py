"""UCSD Ped2 in either of its two common layouts, detected under the root.

Official (UCSD Anomaly Detection Dataset v1p2)::

    [UCSDped2/]Train/Train001/001.tif ...     Test/Test001/001.tif ...
    [UCSDped2/]Test/Test001_gt/001.bmp ...    (pixel masks)   Test/UCSDped2.m (frame-level intervals)

ano_pred (JPEG conversion; 0-based frame names)::

    training/frames/01/000.jpg ...    testing/frames/01/000.jpg ...
    ped2.mat (gt: 1x12 cell of [start; end], 1-based inclusive) or frame_labels_ped2.npy ((1, total))
    gt_pixel_masks/Test001_gt/001.png ...    (optional pixel masks)

One scene, ``"all"``. Video names are the folder names (``Train001`` / ``Test001`` or ``01``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import DDLError
from .base import Video
from .label_sources import intervals_to_labels, read_interval_cells, read_npy_labels, read_ucsd_m_file, split_concatenated
from .layout import FolderDataset, find_subfolders, read_mask_folder
from .settings import DataSettings

SCENE = "all"


class Ped2Dataset(FolderDataset):
    """UCSD Ped2. ``labels_file`` (.mat, .npy or .m) overrides the frame-label file found under the root."""

    name = "ped2"
    #: UCSD Ped2 was recorded at 10 frames per second
    folder_fps = 10.0

    def __init__(self, root: str | Path, labels_file: str | Path | None = None) -> None:
        super().__init__(root)
        self.labels_file = Path(labels_file) if labels_file else None
        official = next((b for b in (self.root / "UCSDped2", self.root) if (b / "Train").is_dir() or (b / "Test").is_dir()), None)
        if official is not None:
            self.layout = "official"
            self.base = official
        elif (self.root / "training").is_dir() or (self.root / "testing").is_dir():
            self.layout = "ano_pred"
            self.base = self.root
        else:
            raise DDLError(
                f"{self.root}: no UCSD Ped2 layout found (expected UCSDped2/Train, Train/ or training/frames/ under it)"
            )

    def _split_folder(self, split: str) -> Path:
        if self.layout == "official":
            return self.base / ("Train" if split == "train" else "Test")
        return self.base / ("training" if split == "train" else "testing") / "frames"

    def _find_videos(self, split: str) -> tuple[list[Video], Path]:
        folder = self._split_folder(split)
        if not folder.is_dir():
            return [], folder
        pattern = (r"Train\d+" if split == "train" else r"Test\d+") if self.layout == "official" else r"[^.].*"
        return [Video(p.name, SCENE, split, p) for p in find_subfolders(folder, pattern)], folder

    def _label_path(self) -> Path:
        """The frame-label file: the configured override, else the first of the usual places that exists."""
        if self.labels_file is not None:
            return self.labels_file
        if self.layout == "official":
            candidates = [self.base / "Test" / "UCSDped2.m", self.base / "UCSDped2.m"]
        else:
            candidates = [
                self.base / "ped2.mat",
                self.base / "frame_labels_ped2.npy",
                self.base / "gt_pixel_masks" / "UCSDped2.m",
                self.base / "UCSDped2.m",
            ]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise DDLError(f"{self.base}: no Ped2 frame labels found (looked for {', '.join(c.name for c in candidates)})")
        return found

    def _test_labels(self) -> dict[str, np.ndarray]:
        lengths = self.video_lengths("test")
        path = self._label_path()
        suffix = path.suffix.lower()
        if suffix == ".npy":
            return split_concatenated(read_npy_labels(path), lengths, path)
        if suffix == ".m":
            intervals = read_ucsd_m_file(path)
        elif suffix == ".mat":
            intervals = read_interval_cells(path, "gt")
        else:
            raise DDLError(f"{path}: unsupported Ped2 label file (expected .mat, .npy or .m)")
        if len(intervals) != len(lengths):
            raise DDLError(f"{path}: ground truth for {len(intervals)} test videos, but {len(lengths)} test videos found")
        return {name: intervals_to_labels(iv, n, path, name) for (name, n), iv in zip(lengths.items(), intervals)}

    def _mask_folder(self, video: Video) -> Path | None:
        """Where the pixel masks of a test video would be (None if its name has no video number)."""
        if self.layout == "official":
            return self.base / "Test" / f"{video.name}_gt"
        if not video.name.isdigit():
            return None
        return self.base / "gt_pixel_masks" / f"Test{int(video.name):03d}_gt"

    def pixel_masks(self, video: Video) -> Iterator[np.ndarray] | None:
        """bool (h, w) masks per frame of a test video when its ``*_gt`` folder exists, else None."""
        if video.split != "test":
            return None
        folder = self._mask_folder(video)
        if folder is None or not folder.is_dir():
            return None
        return read_mask_folder(folder, self.info(video).n_frames, video.name)


def open_adapter(root: Path, settings: DataSettings) -> Ped2Dataset:
    """The adapter of ``settings``' dataset (its root already checked), for :mod:`ddlcore.data.registry`."""
    return Ped2Dataset(root, labels_file=settings.dataset.labels_file)
