"""``ddl record``: its arguments and how they call :mod:`ddlcore.live.record`."""

from __future__ import annotations

import argparse
import sys
import time

from ..live.record import record, stop_time
from ..live.settings import LiveSettings, RecordSettings
from .args import add_config_args, config_from_args, positive_number


def _run(args: argparse.Namespace) -> None:
    config = config_from_args(args)
    segments = record(args.source, args.out, stop_time(args.minutes, args.until, time.time()),
                      RecordSettings.from_config(config), LiveSettings.from_config(config))
    print(f"{args.out}: {len(segments)} segments recorded", file=sys.stderr)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl record``: SOURCE, ``--out``, ``--minutes`` or ``--until``, config."""
    parser.add_argument("source", metavar="SOURCE", help="camera index, stream URL, video file or folder of arriving images")
    parser.add_argument("--out", required=True, metavar="FOLDER", help="where segments go: a camera's normal/ folder")
    stop = parser.add_mutually_exclusive_group(required=True)
    stop.add_argument("--minutes", type=positive_number, metavar="M", help="record for M minutes")
    stop.add_argument("--until", metavar="HH:MM", help="record until this time of day (local)")
    add_config_args(parser)
    parser.set_defaults(func=_run)
