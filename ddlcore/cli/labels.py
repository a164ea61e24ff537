"""``ddl labels``: its arguments and how they call :mod:`ddlcore.data.groundtruth`."""

from __future__ import annotations

import argparse
import dataclasses

from ..data.groundtruth import write_labels_file
from ..data.settings import DataSettings
from .args import add_config_args, config_from_args


def _run(args: argparse.Namespace) -> None:
    settings = dataclasses.replace(DataSettings.from_config(config_from_args(args)), footage_counts=args.footage_counts)
    summary = write_labels_file(settings, args.frames_dir, args.out)
    print(
        f"{args.out}: {summary.videos} test videos, {summary.frames} frames, {summary.abnormal} abnormal, "
        f"{summary.with_masks} with pixel masks"
    )


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl labels``: config, ``--frames-dir``, ``--out``, ``--footage-counts``."""
    add_config_args(parser)
    parser.add_argument("--frames-dir", required=True, nargs="+", metavar="DIR",
                        help="folder of the test frame stores ({video}.h5); several (one per camera): the first that "
                        "has a video's store")
    parser.add_argument("--out", required=True, metavar="PATH", help="labels file to write (.h5)")
    parser.add_argument("--footage-counts", metavar="CSV", help="dataset cameras: the decoded frame counts the "
                        "workflow keeps (results/pieces/cameras-footage.csv), so that footage is not decoded again")
    parser.set_defaults(func=_run)
