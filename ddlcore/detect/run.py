"""``ddl detect``: detect objects in one video and write a detections file.

Detection runs on the dataset's own frames (``detect.source: dataset``, the default: a person a few
pixels wide at the training size is tens of pixels wide there), downscaled to ``detect.max_side``, or on
the frame store itself (``detect.source: frames``). Either way boxes are stored in frame-store pixels.
The detections file (``ddlcore.data.boxes_io``, kind "detections") holds boxes in frame-store pixels,
scores and class ids, with attrs ``backend``, ``score_threshold`` (the lowest score kept: the
tracker's default ``det_thresh``) and the frame store's ``dataset``, ``split``, ``video``, ``scene``.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..data.boxes_io import write_boxes
import cv2
import numpy as np

from ..data.base import VideoInfo
from ..data.framestore import FrameStore
from ..data.piece_jobs import PieceJob, run_stage_after
from ..data.pieces import Piece, read_piece
from ..data.registry import open_dataset
from ..data.settings import DataSettings
from ..errors import DDLError
from .base import Detector, detect_store
from .settings import DetectRunSettings, DetectSettings

#: frame-store attributes copied into the detections file (and from there into the tracks file)
VIDEO_ATTRS = ("dataset", "split", "video", "scene")


def build_detector(detect: DetectSettings) -> Detector:
    """The backend chosen by ``detect.backend``, configured from the ``detect`` section."""
    if detect.backend == "fasterrcnn":
        from .fasterrcnn import FasterRCNNDetector

        return FasterRCNNDetector(detect)
    from .bgsub import BackgroundSubtractionDetector

    return BackgroundSubtractionDetector(detect.bgsub)


class SourceFrames:
    """One video's source frames (uint8 (h, w) or (h, w, 3), any size), downscaled to a long side of at most
    ``max_side``, with ``channels`` channels.

    Offers what detectors use of a :class:`FrameStore`: ``shape`` (N, H, W, C), ``len`` and slicing.
    """

    def __init__(self, frames: Iterable[np.ndarray], max_side: int, channels: int) -> None:
        scaled = []
        for frame in frames:
            scale = max_side / max(frame.shape[:2])
            if scale < 1:
                frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            if frame.ndim == 2:
                frame = frame[:, :, None]
            if channels == 1 and frame.shape[2] == 3:
                frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[:, :, None]
            scaled.append(frame)
        self._frames = np.stack(scaled)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(N, H, W, C) at detection resolution."""
        return tuple(self._frames.shape)  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self._frames)

    def __getitem__(self, index: Any) -> np.ndarray:
        return self._frames[index]


def dataset_frames(data: DataSettings, store: FrameStore, video: str) -> Iterator[np.ndarray]:
    """The source frames a frame store was made from: a camera piece's from its own footage (the store's attrs name
    it: ``source``, ``first_frame``, ``fps``, ``source_fps``), else those of ``video`` as ``data``'s dataset reads it."""
    attrs = store.attrs
    if attrs.get("dataset") == "cameras" and "source_fps" in attrs:
        start, stop = int(attrs["first_frame"]), int(attrs["first_frame"]) + len(store)
        info = VideoInfo(stop, int(attrs["original_height"]), int(attrs["original_width"]), float(attrs["fps"]))
        return read_piece(Piece(Path(str(attrs["source"])), start, stop, info, float(attrs["source_fps"])))
    dataset, split = open_dataset(data), str(attrs["split"])
    matches = [v for v in dataset.videos(split) if v.name == video]
    if not matches:
        raise DDLError(f"video {video} not found in the {split} split of {dataset.root}")
    return dataset.read_frames(matches[0])


def detect_video(detector: Detector, frames_path: str | Path, out_path: str | Path,
                 settings: DetectRunSettings | None = None) -> int:
    """Detect objects in one video; write the detections file ``out_path`` in frame-store pixels.

    ``frames_path`` is the video's frame store. With ``settings`` (and ``detect.source: dataset``) the
    detector sees the dataset's own frames instead, and boxes are scaled to the frame store's size.
    Returns the number of detections; prints a warning line naming the video when there are none.
    """
    with FrameStore(frames_path) as store:
        video = str(store.attrs.get("video") or Path(frames_path).stem)
        n, height, width, channels = store.shape
        source: Any = store
        if settings is not None and settings.detect.source == "dataset":
            source = SourceFrames(dataset_frames(settings.data, store, video), settings.detect.max_side, channels)
            if len(source) != n:
                raise DDLError(f"video {video}: the dataset yields {len(source)} frames but its frame store "
                               f"{frames_path} holds {n}; re-run the frames stage")
        table = detect_store(detector, source, desc=f"detect {video}")
        table.attrs = {k: store.attrs[k] for k in VIDEO_ATTRS if k in store.attrs}
    if source is not store:
        src_h, src_w = source.shape[1:3]
        table.box *= np.array([width / src_w, height / src_h, width / src_w, height / src_h], np.float32)
        table.height, table.width = height, width
    table.attrs.update(video=video, backend=detector.name, score_threshold=detector.score_threshold)
    write_boxes(out_path, table)
    if len(table) == 0:
        print(f"warning: video {video}: no detections in any of its {table.n_frames} frames ({frames_path}, "
              f"backend {detector.name}); it will have no tracks", file=sys.stderr)
    return len(table)


#: the detector of this process's piece jobs: (its settings, it), built by the first piece (:func:`detect_camera`)
_PROCESS_DETECTOR: list[tuple[DetectSettings, Detector]] = []


def _detect_job(settings: DetectRunSettings, job: PieceJob, out: Path) -> None:
    """:func:`detect_video` of ``job``'s frame store into ``out``, with this process's detector (a piece job)."""
    if not _PROCESS_DETECTOR or _PROCESS_DETECTOR[0][0] != settings.detect:
        _PROCESS_DETECTOR[:] = [(settings.detect, build_detector(settings.detect))]
    detect_video(_PROCESS_DETECTOR[0][1], job.source, out, settings)


def detect_camera(settings: DetectRunSettings, frames_manifest: str | Path, splits: tuple[str, ...], stamp: str,
                  folder: str | Path, manifest: str | Path, threads: int) -> tuple[int, int]:
    """The detections of every piece of ``splits`` a camera's frame-store manifest lists (one job per camera,
    :mod:`ddlcore.data.piece_jobs`): ``folder/{split}/{video}.h5``, computed ``threads`` at a time (each worker
    builds the detector once), unchanged ones kept; then the ``manifest`` listing them. Returns (computed, kept)."""
    return run_stage_after(frames_manifest, splits, stamp, folder, manifest, threads, partial(_detect_job, settings), "detect")
