"""``ddl track-summary``: its arguments and how they call :mod:`ddlcore.track.summary`."""

from __future__ import annotations

import argparse

from ..io_utils import atomic_path
from ..track.settings import WindowSettings
from ..track.summary import summarise, warn_trackless_scenes
from .args import add_config_args, config_from_args


def _run(args: argparse.Namespace) -> None:
    settings = WindowSettings.from_config(config_from_args(args))
    summary = summarise(args.detections, args.tracks, settings)
    warn_trackless_scenes(summary, settings.masks.no_track)
    with atomic_path(args.out) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.4g")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl track-summary``."""
    add_config_args(parser)
    parser.add_argument("--detections", nargs="+", required=True, metavar="PATH", help="detections files")
    parser.add_argument("--tracks", nargs="+", required=True, metavar="PATH", help="tracks files of the same videos")
    parser.add_argument("--out", required=True, metavar="PATH", help="summary CSV to write")
    parser.set_defaults(func=_run)
