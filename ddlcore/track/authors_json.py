"""The authors' ``tracked_bounding_boxes.json``: export tracks files to it, import it as tracks files.

Format: ``{frame key: {track id: {"box": [x_min, y_min, x_max, y_max]}}}`` with the box normalised
by the frame width and height (values in [0, 1] for boxes inside the frame). Frame keys written
here are ``<video>/<frame number>.jpg``, the number being the frame-store index plus
``first_index``, zero-padded to ``digits``: ``01/0000.jpg``. On import any key whose last two path
parts are ``<video>/<anything><number>.<extension>`` is understood (``/data/ped2/training/frames/01/012.jpg``
-> video ``01``, frame ``12 - first_index``); track ids are kept, shifted up when the file has ids
below 1 (so that the smallest becomes 1). Imported tracks have score 1.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..data.boxes_io import BoxTable
from ..errors import DDLError

_KEY = re.compile(r"(?:^|/)(?P<video>[^/]+)/[^/]*?(?P<number>\d+)\.[A-Za-z0-9]+$")


def frame_key(video: str, frame: int, first_index: int = 0, digits: int = 4) -> str:
    """The JSON key of frame-store index ``frame`` of ``video``."""
    return f"{video}/{frame + first_index:0{digits}d}.jpg"


def parse_frame_key(key: str) -> tuple[str, int] | None:
    """(video, frame number) of a frame key, or None when the key does not have that shape."""
    m = _KEY.search(key.replace("\\", "/"))
    return (m["video"], int(m["number"])) if m else None


def tracks_to_json(tables: dict[str, BoxTable], first_index: int = 0, digits: int = 4) -> dict[str, Any]:
    """Tracks tables by video name -> the authors' structure (frames without tracks are left out)."""
    out: dict[str, Any] = {}
    for video, table in tables.items():
        scale = np.array([table.width, table.height, table.width, table.height], np.float64)
        for t, tid, box in zip(table.frame.tolist(), table.ident.tolist(), table.box.astype(np.float64) / scale):
            out.setdefault(frame_key(video, t, first_index, digits), {})[str(tid)] = {"box": box.tolist()}
    return out


def load_authors_json(path: str | Path) -> dict[str, dict[str, list[float]]]:
    """Read and check a box file -> {frame key: {track id: [4 normalised coordinates]}}.

    Raises DDLError naming the file and the first problem (unreadable JSON, wrong structure).
    """
    p = Path(path)
    if not p.is_file():
        raise DDLError(f"box file missing: {p}")
    try:
        data = json.loads(p.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DDLError(f"{p}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise DDLError(f"{p}: top level must be an object of frame paths, got {type(data).__name__}")
    result: dict[str, dict[str, list[float]]] = {}
    for key, tracks in data.items():
        if not isinstance(tracks, dict):
            raise DDLError(f"{p}: frame {key!r}: expected an object of track ids, got {type(tracks).__name__}")
        result[key] = {}
        for tid, entry in tracks.items():
            where = f"{p}: frame {key!r} track {tid!r}"
            if not re.fullmatch(r"-?\d+", str(tid)):
                raise DDLError(f"{where}: track id is not an integer")
            box = entry.get("box") if isinstance(entry, dict) else None
            if (not isinstance(box, list) or len(box) != 4
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in box)):
                raise DDLError(f"{where}: expected {{\"box\": [x_min, y_min, x_max, y_max]}} with 4 finite numbers")
            if box[2] < box[0] or box[3] < box[1]:
                raise DDLError(f"{where}: box {box} has x_max < x_min or y_max < y_min")
            result[key][str(tid)] = [float(v) for v in box]
    return result


def tracks_from_json(data: dict[str, dict[str, list[float]]], video: str, n_frames: int, height: int, width: int,
                     first_index: int = 0, source: str = "box file") -> BoxTable:
    """The tracks of ``video`` in checked box data (:func:`load_authors_json`) as a "tracks" table
    in pixels of a ``height`` x ``width`` frame store of ``n_frames`` frames."""
    rows: list[tuple[int, int, list[float]]] = []
    for key, tracks in data.items():
        parsed = parse_frame_key(key)
        if parsed is None or parsed[0] != video:
            continue
        t = parsed[1] - first_index
        if not 0 <= t < n_frames:
            raise DDLError(f"{source}: frame {key!r} is frame {t} of video {video}, which has {n_frames} frames "
                           f"(check first_index)")
        rows.extend((t, int(tid), box) for tid, box in tracks.items())
    shift = max(0, 1 - min((r[1] for r in rows), default=1))
    scale = np.array([width, height, width, height], np.float64)
    return BoxTable.from_rows([(t, tid + shift, np.asarray(box, np.float64) * scale) for t, tid, box in rows],
                              n_frames, height, width, "tracks")
