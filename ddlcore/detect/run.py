"""``ddl detect``: detect objects in one frame store and write a detections file.

The detections file (``ddlcore.boxes_io``, kind "detections") holds boxes in frame-store pixels,
scores and class ids, with attrs ``backend``, ``score_threshold`` (the lowest score kept: the
tracker's default ``det_thresh``) and the frame store's ``dataset``, ``split``, ``video``, ``scene``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..boxes_io import write_boxes
from ..cli import add_config_args, config_from_args
from ..data.framestore import FrameStore
from ..errors import DDLError
from .base import Detector, detect_store

#: frame-store attributes copied into the detections file (and from there into the tracks file)
VIDEO_ATTRS = ("dataset", "split", "video", "scene")


def build_detector(cfg: dict[str, Any]) -> Detector:
    """The backend chosen by ``detect.backend``, configured from the ``detect`` section."""
    if cfg["backend"] == "fasterrcnn":
        from .fasterrcnn import FasterRCNNDetector

        return FasterRCNNDetector(cfg)
    from .bgsub import BackgroundSubtractionDetector

    return BackgroundSubtractionDetector(cfg["bgsub"])


def detect_video(detector: Detector, frames_path: str | Path, out_path: str | Path) -> int:
    """Detect objects in the frame store at ``frames_path``; write the detections file ``out_path``.

    Returns the number of detections; prints a warning line naming the video when there are none.
    """
    with FrameStore(frames_path) as store:
        video = str(store.attrs.get("video") or Path(frames_path).stem)
        table = detect_store(detector, store, desc=f"detect {video}")
        table.attrs = {k: store.attrs[k] for k in VIDEO_ATTRS if k in store.attrs}
    table.attrs.update(video=video, backend=detector.name, score_threshold=detector.score_threshold)
    write_boxes(out_path, table)
    if len(table) == 0:
        print(f"warning: video {video}: no detections in any of its {table.n_frames} frames ({frames_path}, "
              f"backend {detector.name}); it will have no tracks", file=sys.stderr)
    return len(table)


def _run(args: argparse.Namespace) -> None:
    cfg = config_from_args(args)
    if not Path(args.frames).is_file():  # checked before the detector loads its weights
        raise DDLError(f"frame store missing: {args.frames} (run the frames stage first)")
    detect_video(build_detector(cfg["detect"]), args.frames, args.out)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl detect``."""
    add_config_args(parser)
    parser.add_argument("--frames", required=True, metavar="PATH", help="frame store (.h5) of one video")
    parser.add_argument("--out", required=True, metavar="PATH", help="detections file to write (.h5)")
    parser.set_defaults(func=_run)
