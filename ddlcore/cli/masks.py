"""``ddl masks``: its arguments and how they call :mod:`ddlcore.track.mask_stage`."""

from __future__ import annotations

import argparse

from ..track.mask_stage import build_mask_cache
from ..track.settings import WindowSettings
from .args import add_config_args, config_from_args


def _run(args: argparse.Namespace) -> None:
    build_mask_cache(WindowSettings.from_config(config_from_args(args)), args.tracks, args.out)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl masks``."""
    add_config_args(parser)
    parser.add_argument("--tracks", required=True, metavar="PATH", help="tracks file (.h5) of one video")
    parser.add_argument("--out", required=True, metavar="PATH", help="mask cache to write (.h5)")
    parser.set_defaults(func=_run)
