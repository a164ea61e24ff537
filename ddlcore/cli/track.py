"""``ddl track``: its arguments and how they call :mod:`ddlcore.track.run`."""

from __future__ import annotations

import argparse

from ..errors import DDLError
from ..track.run import track_camera, track_video
from ..track.settings import TrackSettings
from .args import add_config_args, config_from_args
from .piece_args import add_piece_job_args, check_piece_job_args


def _run(args: argparse.Namespace) -> None:
    settings = TrackSettings.from_config(config_from_args(args))
    if args.input_manifest:
        check_piece_job_args(args, "track")
        track_camera(settings, args.input_manifest, tuple(args.splits), args.stamp, args.out_dir, args.manifest,
                     args.threads)
    elif args.detections and args.out:
        track_video(settings, args.detections, args.out)
    else:
        raise DDLError("ddl track needs --detections and --out (one video), or --input-manifest (a camera's pieces)")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl track``: config, ``--detections``, ``--out``; or the piece-job arguments."""
    add_config_args(parser)
    parser.add_argument("--detections", metavar="PATH", help="detections file (.h5) of one video")
    parser.add_argument("--out", metavar="PATH", help="tracks file to write (.h5)")
    add_piece_job_args(parser, input_manifest=True)
    parser.set_defaults(func=_run)
