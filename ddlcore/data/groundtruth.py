"""``ddl labels``: one file with the frame labels (and pixel masks) of every test video, aligned with
the frame stores; and the reader API the evaluation uses.

Labels file layout (format version 1)::

    /videos/{video}/labels  uint8 (N,), 1 = abnormal; N = frames in that video's frame store
    /videos/{video}/masks   uint8 (N, H, W) 0/1 pixel masks at frame-store size (only when the dataset has them)
    /videos/{video} attrs:  scene
    root attrs:             format_version=1, dataset, label_variant
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import h5py
import numpy as np
from tqdm import tqdm

from ..errors import DDLError
from ..io_utils import atomic_path
from .base import DatasetAdapter, Video
from .framestore import FrameStore
from .registry import open_dataset, select_scenes
from .settings import DataSettings

FORMAT_VERSION = 1


@dataclass(frozen=True)
class VideoLabels:
    """Ground truth of one test video: its scene and uint8 (N,) frame labels (1 = abnormal)."""

    scene: str
    labels: np.ndarray


@dataclass(frozen=True)
class LabelsSummary:
    """What :func:`write_labels_file` wrote: number of videos, frames, abnormal frames, videos with masks."""

    videos: int
    frames: int
    abnormal: int
    with_masks: int


def _write_masks(group: h5py.Group, masks: Iterator[np.ndarray], n_frames: int, height: int, width: int, video: Video) -> None:
    """Resize each bool (h, w) mask to (height, width) (nearest) into ``group["masks"]`` uint8 (N, H, W)."""
    dset = group.create_dataset(
        "masks", shape=(n_frames, height, width), dtype=np.uint8, chunks=(1, height, width), compression="gzip"
    )
    count = 0
    for mask in masks:
        if count >= n_frames:
            raise DDLError(f"pixel masks of test video {video.name} ({video.source}) outnumber its {n_frames} stored frames")
        small = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
        dset[count] = small
        count += 1
    if count != n_frames:
        raise DDLError(f"test video {video.name} ({video.source}) has {count} pixel masks but {n_frames} stored frames")


def _write_video(f: h5py.File, adapter: DatasetAdapter, video: Video, store_path: Path) -> tuple[np.ndarray, bool]:
    """Write one video's group; return its labels and whether it has pixel masks."""
    with FrameStore(store_path) as store:
        n_frames, height, width, _ = store.shape
    labels = adapter.frame_labels(video)
    if labels is None:
        raise DDLError(f"dataset {adapter.name} gives no frame labels for test video {video.name} ({video.source})")
    if len(labels) != n_frames:
        raise DDLError(
            f"test video {video.name}: {len(labels)} frame labels but frame store {store_path} has {n_frames} frames"
        )
    group = f.create_group(f"videos/{video.name}")
    group.attrs["scene"] = video.scene
    group.create_dataset("labels", data=np.asarray(labels, dtype=np.uint8))
    masks = adapter.pixel_masks(video)
    if masks is not None:
        _write_masks(group, masks, n_frames, height, width, video)
    return labels, masks is not None


def write_labels_file(settings: DataSettings, frames_dir: str | Path | Sequence[str | Path], out: str | Path
                      ) -> LabelsSummary:
    """Write the labels file of every test video of ``settings``' dataset (in ``dataset.scenes``) to ``out``.

    ``frames_dir`` holds the test frame stores ``{video}.h5`` (several folders: each video's store is taken from
    the first that has it, e.g. one folder per camera); labels must have one entry per stored
    frame (DDLError naming the video and both lengths otherwise), pixel masks are resized to the
    stored frame size. Returns what was written; nothing is left at ``out`` on failure.
    """
    adapter = open_dataset(settings)
    videos = select_scenes(adapter.videos("test"), settings, "test")
    folders = [Path(frames_dir)] if isinstance(frames_dir, (str, Path)) else [Path(d) for d in frames_dir]
    frames = abnormal = with_masks = 0
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["dataset"] = adapter.name
        f.attrs["label_variant"] = adapter.label_variant
        f.create_group("videos")
        for video in tqdm(videos, desc="labels", unit="video", disable=None):
            store = next((d / f"{video.name}.h5" for d in folders if (d / f"{video.name}.h5").is_file()),
                         folders[0] / f"{video.name}.h5")
            labels, has_masks = _write_video(f, adapter, video, store)
            frames += len(labels)
            abnormal += int(np.count_nonzero(labels))
            with_masks += has_masks
    return LabelsSummary(videos=len(videos), frames=frames, abnormal=abnormal, with_masks=with_masks)


def _open_labels(path: str | Path) -> h5py.File:
    """Open a labels file for reading; DDLError if it is missing, not HDF5 or of another format version."""
    path = Path(path)
    if not path.is_file():
        raise DDLError(f"labels file missing: {path} (run the labels stage first)")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DDLError(f"labels file {path} is not a readable HDF5 file: {exc}") from exc
    version = f.attrs.get("format_version")
    if version != FORMAT_VERSION or "videos" not in f:
        f.close()
        raise DDLError(f"labels file {path} has format version {version}, expected {FORMAT_VERSION}")
    return f


def read_labels(path: str | Path) -> dict[str, VideoLabels]:
    """Frame labels of every video in the labels file ``path``, by video name (sorted by name)."""
    with _open_labels(path) as f:
        return {
            name: VideoLabels(scene=str(group.attrs["scene"]), labels=group["labels"][()])
            for name, group in f["videos"].items()
        }


def read_pixel_masks(path: str | Path, video: str) -> np.ndarray | None:
    """uint8 (N, H, W) 0/1 pixel masks of ``video`` from the labels file, or None if it has none."""
    with _open_labels(path) as f:
        if video not in f["videos"]:
            raise DDLError(f"labels file {path} has no video '{video}'")
        group = f["videos"][video]
        return group["masks"][()] if "masks" in group else None


def label_variant(path: str | Path) -> str:
    """The label variant (e.g. ``official``, ``mnad``) the labels file was written with."""
    with _open_labels(path) as f:
        return str(f.attrs["label_variant"])
