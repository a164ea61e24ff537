"""``ddl camera-table``: its arguments and how they call :mod:`ddlcore.evaluate.camera_table`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..evaluate.camera_table import camera_markdown, camera_table
from ..io_utils import atomic_path


def _run(args: argparse.Namespace) -> None:
    table = camera_table(args.train_frames, args.calibration_frames, args.calibrations, args.metrics, args.labels,
                         args.live)
    text = camera_markdown(table)
    with atomic_path(args.out) as tmp:
        tmp.write_text(text)
    with atomic_path(Path(args.out).with_suffix(".csv")) as tmp:
        table.to_csv(tmp, index=False)
    print(text)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl camera-table``."""
    parser.add_argument("--train-frames", nargs="+", required=True, metavar="H5", help="training frame stores")
    parser.add_argument("--calibration-frames", nargs="+", required=True, metavar="H5", help="held-out calibration frame stores")
    parser.add_argument("--calibrations", nargs="+", required=True, metavar="ALARM.h5", help="calibration sidecars")
    parser.add_argument("--metrics", metavar="JSON", help="metrics JSON of ddl aggregate (per-camera test AUCs)")
    parser.add_argument("--labels", metavar="H5", help="labels file of the cameras' test clips (with --live)")
    parser.add_argument("--live", nargs="*", default=[], metavar="H5",
                        help="live scores files alarms/<dataset>/<camera>/<run>.h5 of the labelled cameras")
    parser.add_argument("--out", required=True, metavar="MD", help="table to write (a .csv beside it)")
    parser.set_defaults(func=_run)
