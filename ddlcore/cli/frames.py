"""``ddl frames``: its arguments and how they call :mod:`ddlcore.data.extract`."""

from __future__ import annotations

import argparse

from ..data.extract import extract_frames, extract_piece
from ..data.settings import DataSettings
from .args import add_config_args, config_from_args


def _run(args: argparse.Namespace) -> None:
    settings = DataSettings.from_config(config_from_args(args))
    if args.pieces:
        extract_piece(settings, args.pieces, args.split, args.video, args.out)
    else:
        extract_frames(settings, args.split, args.video, args.out)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl frames``: config, ``--split``, ``--video``, ``--out``, ``--pieces``."""
    add_config_args(parser)
    parser.add_argument("--split", required=True, choices=("train", "test", "calibration"),
                        help="which split the video is in (calibration: held-out normal footage, dataset cameras)")
    parser.add_argument("--video", required=True, metavar="NAME", help="video name as listed by the dataset adapter")
    parser.add_argument("--out", required=True, metavar="PATH", help="frame store to write (.h5)")
    parser.add_argument("--pieces", metavar="CSV", help="dataset cameras: the pieces sheet the workflow wrote; the "
                        "video's row names its footage, which alone is read")
    parser.set_defaults(func=_run)
