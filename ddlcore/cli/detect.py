"""``ddl detect``: its arguments and how they call :mod:`ddlcore.detect.run`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..detect.run import build_detector, detect_video
from ..detect.settings import DetectRunSettings
from ..errors import DDLError
from .args import add_config_args, config_from_args


def _run(args: argparse.Namespace) -> None:
    settings = DetectRunSettings.from_config(config_from_args(args))
    if not Path(args.frames).is_file():  # checked before the detector loads its weights
        raise DDLError(f"frame store missing: {args.frames} (run the frames stage first)")
    detect_video(build_detector(settings.detect), args.frames, args.out, settings)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl detect``."""
    add_config_args(parser)
    parser.add_argument("--frames", required=True, metavar="PATH", help="frame store (.h5) of one video")
    parser.add_argument("--out", required=True, metavar="PATH", help="detections file to write (.h5)")
    parser.set_defaults(func=_run)
