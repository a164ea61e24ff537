"""Region detections: candidate anomalous regions of each frame, with a score each, from its error map.

Method (one per frame, on the error map the frame score is computed from: per-pixel error, after
``score.background``, averaged over ``score.map_stride`` squared cells):

1. smooth the map with a box filter one patch wide (``score.patch`` pixels, in cells), so that a
   cell's value is the mean error of the patch around it, as the frame score pools it;
2. keep the cells at or above ``score.region_level`` times the frame's highest smoothed value;
3. each 8-connected group of kept cells is one region: its box is the group's bounding box in
   pixels, its score the highest smoothed value inside it;
4. the ``score.region_max`` highest-scoring regions of the frame are kept (a frame whose smoothed
   map is all 0 has none).

Region file layout (format version 1), ``scores/{dataset}/{scene}/{run}.regions.h5`` beside the
scores file (:func:`regions_path`)::

    /videos/{video}/frame_offsets  int64   (N+1,)  regions of frame t are rows frame_offsets[t]:frame_offsets[t+1]
    /videos/{video}/boxes          float32 (R, 4)  x0, y0, x1, y1 in frame-store pixels (x1, y1 exclusive)
    /videos/{video}/scores         float32 (R,)    region scores, each frame's rows highest first
    root attrs: as a scores file (model, arch, variant, dataset, seed, ...), format_version=1,
                settings (JSON of the region settings), map_stride
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from scipy import ndimage

from ..errors import DDLError
from ..io_utils import atomic_path
from .settings import ScoreSettings

FORMAT_VERSION = 1
_EIGHT_CONNECTED = np.ones((3, 3), bool)


@dataclass(frozen=True)
class RegionSettings:
    """How regions are cut from an error map (see the module docstring)."""

    patch: int
    level: float
    max_per_frame: int
    map_stride: int

    @classmethod
    def from_settings(cls, score: ScoreSettings) -> "RegionSettings":
        """From the score settings: patch, region_level, region_max, map_stride."""
        return cls(int(score.patch), float(score.region_level), int(score.region_max), int(score.map_stride))


@dataclass(frozen=True)
class RegionTable:
    """One video's regions: frame_offsets int64 (N+1,), boxes float32 (R, 4) x0, y0, x1, y1 pixels, scores float32 (R,)."""

    frame_offsets: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray

    @property
    def n_frames(self) -> int:
        """Number of frames N."""
        return len(self.frame_offsets) - 1

    def frame(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """(boxes (K, 4), scores (K,)) of frame ``t``, highest score first."""
        lo, hi = self.frame_offsets[t], self.frame_offsets[t + 1]
        return self.boxes[lo:hi], self.scores[lo:hi]


def regions_path(scores_path: str | Path) -> Path:
    """The region file beside a scores file: ``S.h5`` -> ``S.regions.h5``."""
    return Path(scores_path).with_suffix(".regions.h5")


def frame_regions(error_map: np.ndarray, settings: RegionSettings) -> tuple[np.ndarray, np.ndarray]:
    """Regions of one frame: error_map float (h, w) cells of ``settings.map_stride`` pixels ->
    (boxes float32 (K, 4) x0, y0, x1, y1 in pixels, scores float32 (K,) highest first), K <= max_per_frame."""
    width = max(1, round(settings.patch / settings.map_stride))
    smooth = ndimage.uniform_filter(np.asarray(error_map, np.float32), size=width, mode="nearest")
    peak = float(smooth.max(initial=0.0))
    if not np.isfinite(peak) or peak <= 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    groups, count = ndimage.label(smooth >= settings.level * peak, structure=_EIGHT_CONNECTED)
    scores = np.asarray(ndimage.maximum(smooth, groups, index=np.arange(1, count + 1)), np.float32).reshape(count)
    s = settings.map_stride
    boxes = np.array([[sl[1].start * s, sl[0].start * s, sl[1].stop * s, sl[0].stop * s]
                      for sl in ndimage.find_objects(groups)], np.float32).reshape(count, 4)
    order = np.argsort(-scores, kind="stable")[: settings.max_per_frame]
    return boxes[order], scores[order]


def video_regions(maps: np.ndarray, settings: RegionSettings) -> RegionTable:
    """Regions of every frame of one video: maps float (N, h, w) error maps -> :class:`RegionTable`."""
    found = [frame_regions(m, settings) for m in maps]
    counts = [len(scores) for _, scores in found]
    return RegionTable(
        frame_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        boxes=np.concatenate([b for b, _ in found]).astype(np.float32) if found else np.zeros((0, 4), np.float32),
        scores=np.concatenate([s for _, s in found]).astype(np.float32) if found else np.zeros(0, np.float32),
    )


def write_regions(path: str | Path, videos: dict[str, RegionTable], settings: RegionSettings,
                  attrs: dict[str, Any]) -> None:
    """Write a region file (layout in the module docstring) atomically; ``attrs``: the scores file's root attributes."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(attrs)
        f.attrs.update(format_version=FORMAT_VERSION, settings=json.dumps(asdict(settings), sort_keys=True),
                       map_stride=settings.map_stride)
        for name, table in videos.items():
            group = f.create_group(f"videos/{name}")
            group.create_dataset("frame_offsets", data=table.frame_offsets)
            group.create_dataset("boxes", data=table.boxes)
            group.create_dataset("scores", data=table.scores)


def read_regions(path: str | Path) -> dict[str, RegionTable]:
    """Read a region file: {video: RegionTable}. DDLError naming ``path`` when it is not a version-1 region file."""
    p = Path(path)
    try:
        with h5py.File(p, "r") as f:
            if f.attrs.get("format_version") != FORMAT_VERSION or "videos" not in f:
                raise DDLError(f"{p}: not a version-{FORMAT_VERSION} region file")
            return {name: RegionTable(g["frame_offsets"][:], g["boxes"][:], g["scores"][:]) for name, g in f["videos"].items()}
    except (OSError, KeyError) as exc:
        raise DDLError(f"{p}: not a readable region file ({exc})") from exc
