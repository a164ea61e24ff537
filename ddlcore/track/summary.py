"""``ddl track-summary``: per-video and per-dataset figures of detections and tracks, as CSV.

Columns: video, scene, frames, detections, detections_per_frame, tracks, track_length_mean,
track_length_median, track_length_max (frames in which a track is reported), windows_with_track
(window centres of ``model.frames`` frames with a track present in all of them). The last row,
video ``ALL``, pools every video. A scene whose videos yield no track at all gets a warning line
naming the fallback training will use (``masks.no_track``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.boxes_io import BoxTable, read_boxes
from ..errors import DDLError
from .mask_cache import common_tracks
from .mask_stage import FALLBACKS
from .settings import WindowSettings

DATASET_ROW = "ALL"


def _video_name(table: BoxTable, path: str | Path) -> str:
    return str(table.attrs.get("video") or Path(path).stem)


def _row(video: str, scene: str, frames: int, detections: int, lengths: np.ndarray, windows: int) -> dict[str, Any]:
    """One summary row from a video's (or the pooled) counts; ``lengths`` (tracks,) frames per track."""
    return {
        "video": video, "scene": scene, "frames": frames, "detections": detections,
        "detections_per_frame": detections / max(frames, 1), "tracks": len(lengths),
        "track_length_mean": float(lengths.mean()) if len(lengths) else 0.0,
        "track_length_median": float(np.median(lengths)) if len(lengths) else 0.0,
        "track_length_max": int(lengths.max()) if len(lengths) else 0, "windows_with_track": windows,
    }


def summarise(detection_paths: list[str], track_paths: list[str], settings: WindowSettings) -> pd.DataFrame:
    """Summary table (one row per video, then the ``ALL`` row) of matching detection and tracks files.

    Files are paired by video name; windows of ``settings.frames`` frames, boxes below
    ``settings.masks.min_box_size`` left out. Raises DDLError when a video has one file but not the other.
    """
    detections = {}
    for p in detection_paths:
        table = read_boxes(p, kind="detections")
        detections[_video_name(table, p)] = table
    rows, all_lengths, seen = [], [], set()
    for p in track_paths:
        tracks = read_boxes(p, kind="tracks")
        video = _video_name(tracks, p)
        if video not in detections:
            raise DDLError(f"{p}: tracks of video {video} but no detections file of that video was given")
        seen.add(video)
        lengths = np.unique(tracks.ident, return_counts=True)[1]
        windows = sum(len(w) > 0 for w in common_tracks(tracks, settings.frames, settings.masks.min_box_size))
        rows.append(_row(video, str(tracks.attrs.get("scene", "all")), tracks.n_frames, len(detections[video]),
                         lengths, windows))
        all_lengths.append(lengths)
    missing = sorted(set(detections) - seen)
    if missing:
        raise DDLError(f"no tracks file given for video(s) {', '.join(missing)} (detections given)")
    pooled = np.concatenate(all_lengths) if all_lengths else np.zeros(0, int)
    rows.append(_row(DATASET_ROW, "", sum(r["frames"] for r in rows), sum(r["detections"] for r in rows), pooled,
                     sum(r["windows_with_track"] for r in rows)))
    return pd.DataFrame(rows)


def warn_trackless_scenes(summary: pd.DataFrame, no_track: str) -> list[str]:
    """Print (and return) a warning line for each scene whose videos have no track at all."""
    videos = summary[summary["video"] != DATASET_ROW]
    lines = []
    for scene, group in videos.groupby("scene", sort=True):
        if group["tracks"].sum() == 0:
            lines.append(f"warning: scene {scene}: its {len(group)} video(s) yield no track at all; training uses "
                         f"masks.no_track={no_track} ({FALLBACKS[no_track]})")
    for line in lines:
        print(line, file=sys.stderr)
    return lines
