"""Your own cameras: one folder per camera, everyday footage in ``normal/``, optional labelled clips in ``test/``.

Layout::

    <root>/<camera>/normal/...       everyday footage: video files of any container, frame folders, or
                                     images directly in normal/ (one image sequence); natural order = time
    <root>/<camera>/test/...         optional clips, same forms, with test/labels.csv (ddlcore.data.camera_labels)

A camera is a scene: it gets its own model and calibration. Its normal footage, taken in time order
as one sequence, is cut once: the first ``1 - calibration_share`` of the frames train the model
(split ``train``), the rest (split ``calibration``) calibrate the alarm threshold, never the same
frames (``calibration_share: 0`` trains on all of it and calibrates on the training footage). A piece shorter than the clip length (where the cut falls near a file's end) is used by
neither. Video names are ``<camera>-<file or folder stem>``.

Problems with one camera (no footage, nothing readable, a bad labels file) print one ``warning:``
line naming the file and leave that camera (or its test clips) out; the others still train.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import DDLError, warn
from .base import DatasetAdapter, Video, VideoInfo
from .camera_labels import LABELS_FILE, clip_labels, read_intervals
from .settings import CamerasSettings, DataSettings
from .video_io import IMAGE_SUFFIXES, natural_key, read_source, source_info

CAMERA_SPLITS = ("train", "calibration", "test")


@dataclass(frozen=True)
class CameraSettings:
    """How camera footage is read and cut: calibration share, rate of frame folders, shortest usable piece."""

    calibration_share: float
    folder_fps: float
    min_piece_frames: int

    @classmethod
    def from_settings(cls, cameras: CamerasSettings, clip_frames: int) -> CameraSettings:
        """From the ``cameras`` section and the clip length ``model.frames``."""
        return cls(float(cameras.calibration_share), float(cameras.folder_fps), int(clip_frames))


@dataclass(frozen=True)
class Piece:
    """Frames ``[start, stop)`` of one source: what a :class:`Video` of this dataset reads."""

    source: Path
    start: int
    stop: int
    info: VideoInfo


def footage_sources(folder: Path) -> list[Path]:
    """The footage of ``folder`` in natural order: its sub-folders (frame folders), its non-image files
    (video files) and, when it holds images itself, the folder (one image sequence). Hidden names skipped."""
    entries = sorted((p for p in folder.iterdir() if not p.name.startswith(".")), key=natural_key)
    images = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    others = [p for p in entries if p.is_dir() or (p.is_file() and p.suffix.lower() not in IMAGE_SUFFIXES + (".csv",))]
    return ([folder] if images else []) + others


def _readable(sources: list[Path], fps: float) -> list[tuple[Path, VideoInfo]]:
    """Sources whose header or first image reads, with their info; one warning per source that does not."""
    found = []
    for source in sources:
        try:
            found.append((source, source_info(source, fps)))
        except DDLError as exc:
            warn(f"{exc}; skipped")
    return found


def _unique_names(camera: str, sources: list[Path]) -> list[str]:
    """``<camera>-<stem>`` per source, the full file name where two stems collide."""
    stems = [s.stem if s.is_file() else s.name for s in sources]
    return [f"{camera}-{stem if stems.count(stem) == 1 else s.name}" for stem, s in zip(stems, sources)]


def split_by_time(footage: list[tuple[Path, VideoInfo]], share: float, min_piece: int) -> dict[str, list[Piece]]:
    """Cut footage (in time order) into ``train`` (first ``1 - share`` of all frames) and ``calibration`` pieces.

    Pieces shorter than ``min_piece`` frames are dropped. Returns {"train": [...], "calibration": [...]}.
    """
    total = sum(info.n_frames for _, info in footage)
    cut = total - round(total * share)
    parts: dict[str, list[Piece]] = {"train": [], "calibration": []}
    offset = 0
    for source, info in footage:
        local_cut = min(max(cut - offset, 0), info.n_frames)
        for split, start, stop in (("train", 0, local_cut), ("calibration", local_cut, info.n_frames)):
            if stop - start >= min_piece:
                parts[split].append(Piece(source, start, stop, info))
        offset += info.n_frames
    return parts


class CamerasDataset(DatasetAdapter):
    """A root of camera folders (see the module docstring); splits ``train``, ``calibration``, ``test``."""

    name = "cameras"
    #: frame labels come from each camera's test/labels.csv
    label_variant = "labels.csv"

    def __init__(self, root: str | Path, settings: CameraSettings) -> None:
        super().__init__(root)
        self.settings = settings
        self._videos: dict[str, list[Video]] = {split: [] for split in CAMERA_SPLITS}
        self._pieces: dict[tuple[str, str], Piece] = {}
        self._labels: dict[str, np.ndarray] = {}
        cameras = sorted((p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=natural_key)
        for folder in cameras:
            self._add_camera(folder)
        if settings.calibration_share == 0:
            warn(f"{self.root}: cameras.calibration_share is 0: alarms are calibrated on the training footage "
                 "(an in-sample false-alarm rate)")
        if not cameras:
            raise DDLError(f"{self.root}: no camera folder in it (one folder per camera, footage in <camera>/normal/: "
                           "docs/cameras.md)")
        if not self._videos["train"]:
            raise DDLError(f"{self.root}: no camera folder with readable footage in <camera>/normal/ (see the warnings above)")

    def _add(self, split: str, name: str, camera: str, piece: Piece) -> None:
        self._videos[split].append(Video(name, camera, split, piece.source))
        self._pieces[(split, name)] = piece

    def _add_camera(self, folder: Path) -> None:
        """List one camera's normal footage (cut by time) and its labelled test clips; warn and skip on problems."""
        normal = folder / "normal"
        sources = footage_sources(normal) if normal.is_dir() else []
        if not sources:
            warn(f"{normal}: no footage (camera {folder.name} left out)")
            return
        footage = _readable(sources, self.settings.folder_fps)
        if not footage:
            warn(f"{normal}: none of its {len(sources)} footage files or folders is readable (camera {folder.name} left out)")
            return
        sizes = sorted({(info.width, info.height) for _, info in footage})
        if len(sizes) > 1:
            warn(f"{normal}: footage of {len(sizes)} sizes ({', '.join(f'{w}x{h}' for w, h in sizes)}); "
                 "each is resized once to frames.height x frames.width")
        names = dict(zip((s for s, _ in footage), _unique_names(folder.name, [s for s, _ in footage])))
        for split, pieces in split_by_time(footage, self.settings.calibration_share, self.settings.min_piece_frames).items():
            for piece in pieces:
                self._add(split, names[piece.source], folder.name, piece)
        if (folder / "test").is_dir():
            self._add_test_clips(folder)

    def _add_test_clips(self, folder: Path) -> None:
        """The clips of ``<camera>/test`` with their labels; none (with a warning) if the labels are missing or wrong."""
        test = folder / "test"
        labels_path = test / LABELS_FILE
        if not labels_path.is_file():
            warn(f"{labels_path}: not found; the test clips of camera {folder.name} are not evaluated")
            return
        clips = _readable(footage_sources(test), self.settings.folder_fps)
        names = _unique_names(folder.name, [s for s, _ in clips])
        try:
            intervals = read_intervals(labels_path)
            known = {s.name for s, _ in clips} | {s.stem for s, _ in clips}
            unknown = sorted({iv.clip for iv in intervals} - known)
            if unknown:
                raise DDLError(f"{labels_path}: clip {unknown[0]} is not in {test}")
            labels = {}
            for (source, info), name in zip(clips, names):
                rows = [iv for iv in intervals if iv.clip in (source.name, source.stem)]
                labels[name] = clip_labels(rows, source.name, info.n_frames, info.fps, labels_path)
        except DDLError as exc:
            warn(f"{exc} (the test clips of camera {folder.name} are not evaluated)")
            return
        for (source, info), name in zip(clips, names):
            self._add("test", name, folder.name, Piece(source, 0, info.n_frames, info))
        self._labels.update(labels)

    def videos(self, split: str) -> list[Video]:
        """The videos of ``split`` (``train``, ``calibration`` or ``test``; test may be empty), cameras in order."""
        if split not in CAMERA_SPLITS:
            raise DDLError(f"unknown split '{split}' of dataset cameras (expected one of: {', '.join(CAMERA_SPLITS)})")
        return list(self._videos[split])

    def piece(self, video: Video) -> Piece:
        """The source frame range ``video`` reads."""
        return self._pieces[(video.split, video.name)]

    def first_frame(self, video: Video) -> int:
        """Index in its source of the piece's first frame."""
        return self.piece(video).start

    def info(self, video: Video) -> VideoInfo:
        """Frames in the video's piece, and its source's size and fps."""
        piece = self.piece(video)
        return VideoInfo(piece.stop - piece.start, piece.info.height, piece.info.width, piece.info.fps)

    def read_frames(self, video: Video) -> Iterator[np.ndarray]:
        """Yield the frames ``[start, stop)`` of the video's source, uint8 (h, w) gray or (h, w, 3) RGB."""
        piece = self.piece(video)
        return itertools.islice(read_source(piece.source), piece.start, piece.stop)

    def frame_labels(self, video: Video) -> np.ndarray | None:
        """uint8 (N,) labels of a test clip (1 = abnormal); None for normal footage."""
        return self._labels[video.name] if video.split == "test" else None



def open_adapter(root: Path, settings: DataSettings) -> CamerasDataset:
    """The adapter of ``settings``' camera root (its root already checked), for :mod:`ddlcore.data.registry`."""
    return CamerasDataset(root, CameraSettings.from_settings(settings.cameras, settings.clip_frames))
