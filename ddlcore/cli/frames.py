"""``ddl frames``: its arguments and how they call :mod:`ddlcore.data.extract`."""

from __future__ import annotations

import argparse

from ..data.extract import extract_camera, extract_frames
from ..data.settings import DataSettings
from ..errors import DDLError
from .args import add_config_args, config_from_args
from .piece_args import add_piece_job_args, check_piece_job_args


def _run(args: argparse.Namespace) -> None:
    settings = DataSettings.from_config(config_from_args(args))
    if args.camera:
        if not args.pieces:
            raise DDLError("ddl frames --camera needs --pieces (the pieces sheet the workflow wrote)")
        check_piece_job_args(args, "frames")
        extract_camera(settings, args.pieces, args.camera, args.stamp, args.out_dir, args.manifest, args.threads)
    elif args.split and args.video and args.out:
        extract_frames(settings, args.split, args.video, args.out)
    else:
        raise DDLError("ddl frames needs --split, --video and --out (one video), or --camera (all of a camera's pieces)")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl frames``: config, ``--split``, ``--video``, ``--out`` (one video); or ``--camera`` and
    ``--pieces`` with the piece-job arguments (:func:`.piece_args.add_piece_job_args`)."""
    add_config_args(parser)
    parser.add_argument("--split", choices=("train", "test", "calibration"),
                        help="which split the video is in (calibration: held-out normal footage, dataset cameras)")
    parser.add_argument("--video", metavar="NAME", help="video name as listed by the dataset adapter")
    parser.add_argument("--out", metavar="PATH", help="frame store to write (.h5)")
    parser.add_argument("--pieces", metavar="CSV", help="dataset cameras: the pieces sheet the workflow wrote; the "
                        "camera's rows name its footage, which alone is read")
    parser.add_argument("--camera", metavar="NAME", help="dataset cameras: write the frame stores of all of this "
                        "camera's pieces in the sheet (one job per camera; with --out-dir, --manifest, --stamp)")
    add_piece_job_args(parser)
    parser.set_defaults(func=_run)
