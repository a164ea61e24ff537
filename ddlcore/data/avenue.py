"""CUHK Avenue, as .avi videos or as ano_pred frame folders, with two label variants.

Videos::

    training_videos/01.avi ...  testing_videos/01.avi ...        (or training/frames/01/, testing/frames/01/)

Labels (``dataset.labels``):

- ``official``: ``ground_truth_demo/testing_label_mask/N_label.mat`` (N = video number without zero padding),
  MATLAB v5, variable ``volLabel`` = 1xT cell of uint8 masks; a frame is abnormal when its mask is non-empty.
  These masks are also the pixel ground truth.
- ``mnad``: ``frame_labels_avenue.npy``, shape (1, total), all test videos concatenated in order. No pixel masks.

``dataset.labels_file`` overrides the mask folder (official) or the .npy file (mnad). One scene, ``"all"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import DDLError
from .base import Video
from .label_sources import load_mat_variable, read_npy_labels, split_concatenated
from .layout import FolderDataset, find_files, find_subfolders
from .settings import DataSettings

SCENE = "all"
LABEL_VARIANTS = ("official", "mnad")


class AvenueDataset(FolderDataset):
    """CUHK Avenue; ``labels`` is ``official`` or ``mnad``, ``labels_file`` overrides where they are read."""

    name = "avenue"
    #: Avenue was recorded at 25 frames per second (used for frame-folder copies, which carry no rate)
    folder_fps = 25.0

    def __init__(self, root: str | Path, labels: str = "official", labels_file: str | Path | None = None) -> None:
        super().__init__(root)
        if labels not in LABEL_VARIANTS:
            raise DDLError(f"config: key 'dataset.labels': unknown Avenue label variant '{labels}' (expected official or mnad)")
        self.label_variant = labels
        self.labels_file = Path(labels_file) if labels_file else None
        if (self.root / "training_videos").is_dir() or (self.root / "testing_videos").is_dir():
            self.layout = "videos"
        elif (self.root / "training" / "frames").is_dir() or (self.root / "testing" / "frames").is_dir():
            self.layout = "frames"
        else:
            raise DDLError(
                f"{self.root}: no CUHK Avenue layout found (expected training_videos/ and testing_videos/, "
                "or training/frames/ and testing/frames/ under it)"
            )

    def _find_videos(self, split: str) -> tuple[list[Video], Path]:
        if self.layout == "videos":
            folder = self.root / ("training_videos" if split == "train" else "testing_videos")
            sources = find_files(folder, ".avi") if folder.is_dir() else []
            return [Video(p.stem, SCENE, split, p) for p in sources], folder
        folder = self.root / ("training" if split == "train" else "testing") / "frames"
        sources = find_subfolders(folder, r"[^.].*") if folder.is_dir() else []
        return [Video(p.name, SCENE, split, p) for p in sources], folder

    def _mask_folder(self) -> Path:
        """Folder of the official ``N_label.mat`` files."""
        if self.labels_file is not None:
            if not self.labels_file.is_dir():
                raise DDLError(
                    f"config: key 'dataset.labels_file': {self.labels_file} must be the folder of N_label.mat "
                    "files for official Avenue labels"
                )
            return self.labels_file
        candidates = [self.root / "ground_truth_demo" / "testing_label_mask", self.root / "testing_label_mask"]
        found = next((c for c in candidates if c.is_dir()), None)
        if found is None:
            raise DDLError(f"{candidates[0]}: official Avenue label masks not found (or set dataset.labels: mnad)")
        return found

    def _official_masks(self, video: Video) -> tuple[list[np.ndarray], Path]:
        """The uint8 (h, w) masks of one test video from its ``N_label.mat``, and that file's path."""
        number = int(video.name) if video.name.isdigit() else video.name
        path = self._mask_folder() / f"{number}_label.mat"
        cells = np.asarray(load_mat_variable(path, "volLabel"), dtype=object).ravel()
        masks = [np.asarray(c) for c in cells]
        n_frames = self.info(video).n_frames
        if len(masks) != n_frames:
            raise DDLError(f"{path}: {len(masks)} label masks for video {video.name}, which has {n_frames} frames")
        return masks, path

    def _test_labels(self) -> dict[str, np.ndarray]:
        if self.label_variant == "mnad":
            path = self.labels_file or self.root / "frame_labels_avenue.npy"
            return split_concatenated(read_npy_labels(path), self.video_lengths("test"), path)
        labels = {}
        for video in self.videos("test"):
            masks, _ = self._official_masks(video)
            labels[video.name] = np.array([m.any() for m in masks], dtype=np.uint8)
        return labels

    def pixel_masks(self, video: Video) -> Iterator[np.ndarray] | None:
        """bool (h, w) masks per frame of a test video with the official labels; None otherwise."""
        if video.split != "test" or self.label_variant != "official":
            return None
        masks, _ = self._official_masks(video)
        return (m > 0 for m in masks)


def open_adapter(root: Path, settings: DataSettings) -> AvenueDataset:
    """The adapter of ``settings``' dataset (its root already checked), for :mod:`ddlcore.data.registry`."""
    return AvenueDataset(root, labels=settings.dataset.labels, labels_file=settings.dataset.labels_file)
