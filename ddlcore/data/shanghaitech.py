"""ShanghaiTech Campus: training videos, test frame folders, per-video frame and pixel masks.

Layout::

    training/videos/01_001.avi ...          (or training/frames/01_001/000.jpg ...)
    testing/frames/01_0014/000.jpg ...
    testing/test_frame_mask/01_0014.npy     (N,) 0/1 frame labels    (also accepted at the root: test_frame_mask/)
    testing/test_pixel_mask/01_0014.npy     (N, H, W) pixel masks, optional

The scene is the ``NN`` prefix of a video name; test scenes come from the test listing (a scene may
have training videos only). ``dataset.labels_file`` may name one .npy with every test video's labels
concatenated in listing (sorted name) order, like MNAD's ``frame_labels_shanghai.npy``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import DDLError
from .base import Video, VideoInfo
from .label_sources import check_length, read_npy_labels, split_concatenated
from .layout import FolderDataset, find_files, find_subfolders
from .settings import DataSettings
from .video_io import video_file_info


def scene_of(name: str, source: Path) -> str:
    """The ``NN`` scene prefix of a ShanghaiTech video name such as ``01_0014``."""
    scene, sep, _ = name.partition("_")
    if not sep or not scene:
        raise DDLError(f"{source}: ShanghaiTech video names must look like <scene>_<number> (e.g. 01_0014)")
    return scene


class ShanghaiTechDataset(FolderDataset):
    """ShanghaiTech Campus; ``labels_file`` (.npy, concatenated) overrides the per-video frame masks."""

    name = "shanghaitech"

    def __init__(self, root: str | Path, labels_file: str | Path | None = None) -> None:
        super().__init__(root)
        self.labels_file = Path(labels_file) if labels_file else None
        self._fps: dict[str, float] = {}
        if not (self.root / "training").is_dir() and not (self.root / "testing").is_dir():
            raise DDLError(f"{self.root}: no ShanghaiTech layout found (expected training/videos/ and testing/frames/ under it)")

    def _find_videos(self, split: str) -> tuple[list[Video], Path]:
        if split == "train":
            folder = self.root / "training" / "videos"
            if folder.is_dir():
                sources = find_files(folder, ".avi")
                return [Video(p.stem, scene_of(p.stem, p), split, p) for p in sources], folder
            folder = self.root / "training" / "frames"
        else:
            folder = self.root / "testing" / "frames"
        sources = find_subfolders(folder, r"[^.].*") if folder.is_dir() else []
        return [Video(p.name, scene_of(p.name, p), split, p) for p in sources], folder

    def _scene_fps(self, scene: str) -> float:
        """Frame rate of the scene's first training video file (test frame folders carry none); 0 = unknown."""
        if scene not in self._fps:
            folder = self.root / "training" / "videos"
            files = find_files(folder, ".avi") if folder.is_dir() else []
            first = next((p for p in files if p.stem.startswith(f"{scene}_")), None)
            self._fps[scene] = video_file_info(first).fps if first is not None else 0.0
        return self._fps[scene]

    def info(self, video: Video) -> VideoInfo:
        """Frame count, size and fps; a frame folder takes the fps of its scene's training videos."""
        info = super().info(video)
        if video.source.is_dir():
            info = VideoInfo(info.n_frames, info.height, info.width, self._scene_fps(video.scene))
        return info

    def _ground_truth_file(self, kind: str, video: Video) -> Path | None:
        """``testing/<kind>/<video>.npy`` (or ``<kind>/<video>.npy`` at the root) if it exists."""
        candidates = [self.root / "testing" / kind / f"{video.name}.npy", self.root / kind / f"{video.name}.npy"]
        return next((c for c in candidates if c.is_file()), None)

    def _test_labels(self) -> dict[str, np.ndarray]:
        if self.labels_file is not None:
            return split_concatenated(read_npy_labels(self.labels_file), self.video_lengths("test"), self.labels_file)
        labels = {}
        for video in self.videos("test"):
            path = self._ground_truth_file("test_frame_mask", video)
            if path is None:
                raise DDLError(f"{self.root / 'testing' / 'test_frame_mask' / (video.name + '.npy')}: frame labels not found")
            labels[video.name] = check_length(read_npy_labels(path), self.info(video).n_frames, path, video.name)
        return labels

    def pixel_masks(self, video: Video) -> Iterator[np.ndarray] | None:
        """bool (h, w) masks per frame from ``test_pixel_mask/<video>.npy`` when present, else None."""
        if video.split != "test":
            return None
        path = self._ground_truth_file("test_pixel_mask", video)
        if path is None:
            return None
        try:
            masks = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DDLError(f"{path}: not a readable .npy pixel-mask array ({exc})") from exc
        n_frames = self.info(video).n_frames
        if masks.ndim != 3 or masks.shape[0] != n_frames:
            raise DDLError(f"{path}: pixel masks of shape {masks.shape} for video {video.name}, expected ({n_frames}, H, W)")
        return (np.asarray(m) > 0 for m in masks)


def open_adapter(root: Path, settings: DataSettings) -> ShanghaiTechDataset:
    """The adapter of ``settings``' dataset (its root already checked), for :mod:`ddlcore.data.registry`."""
    return ShanghaiTechDataset(root, labels_file=settings.dataset.labels_file)
