"""Your own cameras: one folder per camera, everyday footage in ``normal/``, optional labelled clips in ``test/``.

Layout::

    <root>/<camera>/normal/...       everyday footage: video files of any container, frame folders, or
                                     images directly in normal/ (one image sequence); natural order = time
    <root>/<camera>/test/...         optional clips, same forms, with test/labels.csv (ddlcore.data.camera_labels)

A camera is a scene: it gets its own model and calibration. Its normal footage, taken in time order
as one sequence, is cut once: the first ``1 - calibration_share`` of the frames train the model
(split ``train``), the rest (split ``calibration``) calibrate the alarm threshold, never the same
frames (``calibration_share: 0`` trains on all of it and calibrates on the training footage). A piece shorter
than the clip length (where the cut falls near a file's end) is used by neither. With ``train_hours`` only the
latest that many hours of normal footage are cut; older footage is left out. Video names are
``<camera>-<file or folder stem>``.

Frame counts are the frames that decode (:mod:`.footage_counts`), not what a header claims, taken to the
analysis rate ``fps`` (:mod:`.resample`) when one is set: a piece's ``start`` and ``stop`` count frames at that rate.

Problems with one camera (no footage, nothing readable, a bad labels file) print one ``warning:``
line naming the file and leave that camera (or its test clips) out; the others still train.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import DDLError, warn
from .base import DatasetAdapter, Video, VideoInfo
from .camera_labels import LABELS_FILE, clip_labels, read_intervals
from .footage_counts import FootageCounts
from .pieces import PIECE_COLUMNS, Piece, read_piece
from .resample import analysis_frames, analysis_rate, resample
from .settings import CamerasSettings, DataSettings
from .video_io import IMAGE_SUFFIXES, natural_key

CAMERA_SPLITS = ("train", "calibration", "test")


@dataclass(frozen=True)
class CameraSettings:
    """How camera footage is read and cut: calibration share, rate of frame folders, shortest usable piece, the
    analysis rate (None: each source's own) and the hours of latest footage used (None: all)."""

    calibration_share: float
    folder_fps: float
    min_piece_frames: int
    fps: float | None = None
    train_hours: float | None = None

    @classmethod
    def from_settings(cls, cameras: CamerasSettings, clip_frames: int) -> CameraSettings:
        """From the ``cameras`` section and the clip length ``model.frames``."""
        return cls(float(cameras.calibration_share), float(cameras.folder_fps), int(clip_frames),
                   None if cameras.fps is None else float(cameras.fps),
                   None if cameras.train_hours is None else float(cameras.train_hours))


def footage_sources(folder: Path) -> list[Path]:
    """The footage of ``folder`` in natural order: its sub-folders (frame folders), its non-image files
    (video files) and, when it holds images itself, the folder (one image sequence). Hidden names skipped."""
    entries = sorted((p for p in folder.iterdir() if not p.name.startswith(".")), key=natural_key)
    images = [p for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    others = [p for p in entries if p.is_dir() or (p.is_file() and p.suffix.lower() not in IMAGE_SUFFIXES + (".csv",))]
    return ([folder] if images else []) + others


def _readable(sources: list[Path], counts: FootageCounts, folder_fps: float) -> tuple[list[tuple[Path, VideoInfo]],
                                                                                    list[str]]:
    """Sources with frames that decode, with their info (decoded frames, own rate), and the problems of the
    others (one line each)."""
    found, problems = [], []
    for source in sources:
        try:
            found.append((source, counts.info(source, folder_fps)))
        except DDLError as exc:
            problems.append(str(exc))
    return found, problems


def at_analysis_rate(info: VideoInfo, fps: float | None) -> VideoInfo:
    """``info`` (a source's own frames and rate) at the analysis rate ``fps`` (None: unchanged)."""
    rate = analysis_rate(info.fps, fps)
    return dataclasses.replace(info, n_frames=analysis_frames(info.n_frames, info.fps, fps), fps=rate)


def older_frames(footage: list[tuple[Path, VideoInfo]], hours: float | None) -> int:
    """Frames of ``footage`` (in time order) older than its latest ``hours`` (None: 0), counted from the start."""
    if hours is None:
        return 0
    budget, kept = hours * 3600.0, 0
    for _, info in reversed(footage):
        seconds = info.n_frames / info.fps
        if seconds >= budget:
            kept += round(budget * info.fps)
            break
        budget -= seconds
        kept += info.n_frames
    return sum(info.n_frames for _, info in footage) - kept


def _unique_names(camera: str, sources: list[Path]) -> list[str]:
    """``<camera>-<stem>`` per source, the full file name where two stems collide."""
    stems = [s.stem if s.is_file() else s.name for s in sources]
    return [f"{camera}-{stem if stems.count(stem) == 1 else s.name}" for stem, s in zip(stems, sources)]


def split_by_time(footage: list[tuple[Path, VideoInfo]], share: float, min_piece: int, skip: int = 0,
                  source_fps: dict[Path, float] | None = None) -> dict[str, list[Piece]]:
    """Cut footage (in time order, frame counts at the analysis rate) into ``train`` (the first ``1 - share`` of
    its frames after the ``skip`` oldest) and ``calibration`` (the rest) pieces.

    Pieces shorter than ``min_piece`` frames are dropped; ``source_fps`` gives each source's own rate (default:
    its info's). Returns {"train": [...], "calibration": [...]}.
    """
    total = sum(info.n_frames for _, info in footage)
    kept = total - skip
    cut = total - round(kept * share)
    parts: dict[str, list[Piece]] = {"train": [], "calibration": []}
    offset = 0
    for source, info in footage:
        first = min(max(skip - offset, 0), info.n_frames)
        local_cut = min(max(cut - offset, first), info.n_frames)
        own_fps = (source_fps or {}).get(source, info.fps)
        for split, start, stop in (("train", first, local_cut), ("calibration", local_cut, info.n_frames)):
            if stop - start >= min_piece:
                parts[split].append(Piece(source, start, stop, info, own_fps))
        offset += info.n_frames
    return parts


class CamerasDataset(DatasetAdapter):
    """A root of camera folders (see the module docstring); splits ``train``, ``calibration``, ``test``."""

    name = "cameras"
    #: frame labels come from each camera's test/labels.csv
    label_variant = "labels.csv"

    def __init__(self, root: str | Path, settings: CameraSettings, counts: FootageCounts | None = None) -> None:
        super().__init__(root)
        self.settings = settings
        self.counts = counts or FootageCounts(None)
        self._videos: dict[str, list[Video]] = {split: [] for split in CAMERA_SPLITS}
        self._pieces: dict[tuple[str, str], Piece] = {}
        self._labels: dict[str, np.ndarray] = {}
        cameras = sorted((p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=natural_key)
        for folder in cameras:
            self._add_camera(folder)
        self.counts.save()
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
        footage, problems = _readable(sources, self.counts, self.settings.folder_fps)
        if not footage:
            warn(f"{normal}: none of its {len(sources)} footage files or folders is readable, e.g. {problems[0]} "
                 f"(camera {folder.name} left out)")
            return
        for problem in problems:
            warn(f"{problem}; skipped")
        sizes = sorted({(info.width, info.height) for _, info in footage})
        if len(sizes) > 1:
            warn(f"{normal}: footage of {len(sizes)} sizes ({', '.join(f'{w}x{h}' for w, h in sizes)}); "
                 "each is resized once to frames.height x frames.width")
        names = dict(zip((s for s, _ in footage), _unique_names(folder.name, [s for s, _ in footage])))
        own_fps = {source: info.fps for source, info in footage}
        footage = [(source, at_analysis_rate(info, self.settings.fps)) for source, info in footage]
        skip = older_frames(footage, self.settings.train_hours)
        cut = split_by_time(footage, self.settings.calibration_share, self.settings.min_piece_frames, skip, own_fps)
        for split, pieces in cut.items():
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
        clips, problems = _readable(footage_sources(test), self.counts, self.settings.folder_fps)
        for problem in problems:
            warn(f"{problem}; skipped")
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
                own = clip_labels(rows, source.name, info.n_frames, info.fps, labels_path)
                labels[name] = np.fromiter(resample(own, info.fps, self.settings.fps), np.uint8)
        except DDLError as exc:
            warn(f"{exc} (the test clips of camera {folder.name} are not evaluated)")
            return
        for (source, info), name in zip(clips, names):
            analysed = at_analysis_rate(info, self.settings.fps)
            self._add("test", name, folder.name, Piece(source, 0, analysed.n_frames, analysed, info.fps))
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
        """Yield the frames ``[start, stop)`` (at the analysis rate) of the video's source, uint8 (h, w) gray or
        (h, w, 3) RGB."""
        return read_piece(self.piece(video))

    def frame_labels(self, video: Video) -> np.ndarray | None:
        """uint8 (N,) labels of a test clip (1 = abnormal); None for normal footage."""
        return self._labels[video.name] if video.split == "test" else None



def piece_rows(adapter: CamerasDataset) -> list[dict[str, str]]:
    """One row of the pieces sheet (:mod:`.pieces`: column -> text) per piece of ``adapter``'s cameras, splits in
    :data:`CAMERA_SPLITS` order."""
    rows = []
    for split in CAMERA_SPLITS:
        for video in adapter.videos(split):
            piece = adapter.piece(video)
            values = (split, video.name, video.scene, str(piece.source), piece.start, piece.stop,
                      piece.stop - piece.start, piece.info.height, piece.info.width, piece.info.fps, piece.source_fps)
            rows.append(dict(zip(PIECE_COLUMNS, map(str, values))))
    return rows


def open_adapter(root: Path, settings: DataSettings) -> CamerasDataset:
    """The adapter of ``settings``' camera root (its root already checked), for :mod:`ddlcore.data.registry`; it
    keeps the decoded frame counts in ``settings.footage_counts`` when set."""
    return CamerasDataset(root, CameraSettings.from_settings(settings.cameras, settings.clip_frames),
                          FootageCounts(settings.footage_counts))
