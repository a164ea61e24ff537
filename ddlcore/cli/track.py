"""``ddl track``: its arguments and how they call :mod:`ddlcore.track.run`."""

from __future__ import annotations

import argparse

from ..track.run import track_video
from ..track.settings import TrackSettings
from .args import add_config_args, config_from_args


def _run(args: argparse.Namespace) -> None:
    track_video(TrackSettings.from_config(config_from_args(args)), args.detections, args.out)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl track``."""
    add_config_args(parser)
    parser.add_argument("--detections", required=True, metavar="PATH", help="detections file (.h5) of one video")
    parser.add_argument("--out", required=True, metavar="PATH", help="tracks file to write (.h5)")
    parser.set_defaults(func=_run)
