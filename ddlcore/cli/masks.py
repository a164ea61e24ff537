"""``ddl masks``: its arguments and how they call :mod:`ddlcore.track.mask_stage`."""

from __future__ import annotations

import argparse

from ..errors import DDLError
from ..track.mask_stage import build_mask_cache, mask_camera
from ..track.settings import WindowSettings
from .args import add_config_args, config_from_args
from .piece_args import add_piece_job_args, check_piece_job_args


def _run(args: argparse.Namespace) -> None:
    settings = WindowSettings.from_config(config_from_args(args))
    if args.input_manifest:
        check_piece_job_args(args, "masks")
        mask_camera(settings, args.input_manifest, tuple(args.splits), args.stamp, args.out_dir, args.manifest,
                    args.threads)
    elif args.tracks and args.out:
        build_mask_cache(settings, args.tracks, args.out)
    else:
        raise DDLError("ddl masks needs --tracks and --out (one video), or --input-manifest (a camera's pieces)")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl masks``: config, ``--tracks``, ``--out``; or the piece-job arguments."""
    add_config_args(parser)
    parser.add_argument("--tracks", metavar="PATH", help="tracks file (.h5) of one video")
    parser.add_argument("--out", metavar="PATH", help="mask cache to write (.h5)")
    add_piece_job_args(parser, input_manifest=True)
    parser.set_defaults(func=_run)
