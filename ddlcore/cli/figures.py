"""``ddl figures``: its arguments and how they call :mod:`ddlcore.evaluate.figures`."""

from __future__ import annotations

import argparse

from ..evaluate.figures import qualitative_figure
from ..train.settings import TrainSettings
from .args import add_config_args, config_from_args


def _run_qualitative(args: argparse.Namespace) -> None:
    cfg = config_from_args(args)
    n = qualitative_figure(args.model, args.frames, args.masks, args.out, TrainSettings.from_config(cfg), args.windows)
    print(f"qualitative panel ({n} windows) -> {args.out}")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """``ddl figures qualitative --model M.pt --frames F.h5 --masks C.h5 --out P.png``."""
    sub = parser.add_subparsers(dest="figure", metavar="FIGURE", required=True)
    q = sub.add_parser("qualitative", help="X^t, f(X), X_A^t, f(X_A) and error maps of training windows (Figure 4)")
    add_config_args(q)
    q.add_argument("--model", required=True, metavar="M.pt")
    q.add_argument("--frames", required=True, metavar="F.h5", help="a training frame store of the model's scene")
    q.add_argument("--masks", required=True, metavar="C.h5", help="that video's mask cache")
    q.add_argument("--out", required=True, metavar="PNG")
    q.add_argument("--windows", type=int, default=4, help="rows of the panel (default 4)")
    q.set_defaults(func=_run_qualitative)
