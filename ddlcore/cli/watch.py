"""``ddl watch``: its arguments and how they call :mod:`ddlcore.live.watch` (or, with ``--cameras``,
:mod:`ddlcore.live.multi_watch`)."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import nullcontext
from pathlib import Path

from ..errors import DDLError
from ..live.output_paths import appendable_file, writable_folder
from ..live.settings import WatchSettings
from ..live.watch import watch
from .args import add_config_args, config_from_args, positive_number


def _run_cameras(args: argparse.Namespace, settings: WatchSettings, token: str | None) -> None:
    """``ddl watch --cameras FILE`` under ``settings``: load the deployment, watch it; DDLError naming the cameras lost."""
    from ..live.deployment import load_deployment
    from ..live.multi_watch import watch_cameras

    misplaced = [flag for flag, value in (("SOURCE", args.source), ("--model", args.model),
                                          ("--calibration", args.calibration), ("--overlay", args.overlay)) if value]
    if misplaced:
        raise DDLError(f"--cameras {args.cameras}: {misplaced[0]} is given per camera in the deployment file, not here")
    cameras = load_deployment(args.cameras)
    if args.events:
        appendable_file(args.events, "--events")
    with open(args.events, "a", encoding="utf-8") if args.events else nullcontext(sys.stdout) as out:
        summary = watch_cameras(cameras, settings, out, args.events_dir, args.serve, args.duration,
                                token=token, allow_hosts=tuple(args.allow_host))
    if summary["errors"]:  # exit status 1: a service manager can restart the watch
        raise DDLError("; ".join(f"camera {name}: {why}" for name, why in summary["errors"].items()))


def _run(args: argparse.Namespace) -> None:
    settings = WatchSettings.from_config(config_from_args(args))
    token = args.token or os.environ.get("DDL_WATCH_TOKEN") or None
    if args.cameras:
        _run_cameras(args, settings, token)
        return
    if not args.source or not args.model:
        raise DDLError("ddl watch: give SOURCE and --model M.pt, or --cameras DEPLOY.yaml")
    if args.events:
        appendable_file(args.events, "--events")
    if args.overlay:
        writable_folder(Path(args.overlay).parent, f"--overlay {args.overlay}: its folder")
    with open(args.events, "a", encoding="utf-8") if args.events else nullcontext(sys.stdout) as out:
        figures = watch(args.source, args.model, settings, out, args.calibration, args.overlay, args.serve, args.duration,
                        token=token, allow_hosts=tuple(args.allow_host))
    if figures["error"]:  # exit status 1: a service manager can restart the watch
        raise DDLError(figures["error"])


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl watch``."""
    add_config_args(parser)
    parser.add_argument("source", metavar="SOURCE", nargs="?",
                        help="camera index (0), stream URL (rtsp://, http://), video file, or folder images are written into")
    parser.add_argument("--model", metavar="M.pt", help="trained model checkpoint (with SOURCE)")
    parser.add_argument("--cameras", metavar="DEPLOY.yaml",
                        help="instead of SOURCE: watch every camera of a deployment file (name, source, model each)")
    parser.add_argument("--events-dir", metavar="DIR", default="results/watch/events",
                        help="with --cameras: each event's clip and snapshot (default: results/watch/events)")
    parser.add_argument("--calibration", metavar="A.h5",
                        help="alarm calibration (default: the model's sidecar M.alarm.h5); the region of interest it "
                             "was made with (ddl calibrate --roi) applies")
    parser.add_argument("--events", metavar="FILE", help="append event JSON lines to FILE instead of stdout")
    parser.add_argument("--overlay", metavar="VIDEO", help="also write the overlay video (.mp4: mp4v, .avi: MJPG)")
    parser.add_argument("--serve", metavar="HOST:PORT", help="serve a live page (overlay, score curve, events), e.g. 127.0.0.1:8080")
    parser.add_argument("--token", metavar="SECRET",
                        help="the page asks for this token (/?token=SECRET); default: $DDL_WATCH_TOKEN; required when "
                             "--serve is not a loopback address (prefer the variable: arguments are visible to other users)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also answer requests for this Host name (repeatable; '*': any), e.g. a reverse proxy's name")
    parser.add_argument("--duration", type=positive_number, metavar="SECONDS", help="stop after this long (default: until the source ends)")
    parser.set_defaults(func=_run)
