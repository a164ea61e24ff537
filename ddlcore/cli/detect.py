"""``ddl detect``: its arguments and how they call :mod:`ddlcore.detect.run`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..detect.run import build_detector, detect_camera, detect_video
from ..detect.settings import DetectRunSettings
from ..errors import DDLError
from .args import add_config_args, config_from_args
from .piece_args import add_piece_job_args, check_piece_job_args


def _run(args: argparse.Namespace) -> None:
    settings = DetectRunSettings.from_config(config_from_args(args))
    if args.input_manifest:
        check_piece_job_args(args, "detect")
        detect_camera(settings, args.input_manifest, tuple(args.splits), args.stamp, args.out_dir, args.manifest,
                      args.threads)
        return
    if not (args.frames and args.out):
        raise DDLError("ddl detect needs --frames and --out (one video), or --input-manifest (a camera's pieces)")
    if not Path(args.frames).is_file():  # checked before the detector loads its weights
        raise DDLError(f"frame store missing: {args.frames} (run the frames stage first)")
    detect_video(build_detector(settings.detect), args.frames, args.out, settings)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl detect``: config, ``--frames``, ``--out``; or the piece-job arguments
    (:func:`.piece_args.add_piece_job_args`)."""
    add_config_args(parser)
    parser.add_argument("--frames", metavar="PATH", help="frame store (.h5) of one video")
    parser.add_argument("--out", metavar="PATH", help="detections file to write (.h5)")
    add_piece_job_args(parser, input_manifest=True)
    parser.set_defaults(func=_run)
