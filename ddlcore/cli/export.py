"""``ddl export``: its arguments and how they call :func:`ddlcore.score.export.export_model`."""

from __future__ import annotations

import argparse

from ..score.export import export_model


def _run(args: argparse.Namespace) -> None:
    print(f"{args.model}: graphs in {export_model(args.model)}/")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl export``."""
    parser.add_argument("--model", required=True, metavar="M.pt", help="trained model checkpoint")
    parser.set_defaults(func=_run)
