"""``ddl summary``: its arguments and how they call :mod:`ddlcore.evaluate.summary`."""

from __future__ import annotations

import argparse

from ..evaluate.provenance import provenance
from ..evaluate.summary import summarise
from .args import add_config_args, config_from_args


def _run(args: argparse.Namespace) -> None:
    print(summarise(args.metrics, args.tables_dir, provenance(config_from_args(args))))


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl summary``."""
    add_config_args(parser)
    parser.add_argument("--metrics", required=True, nargs="+", metavar="JSON", help="metrics files of the datasets to list")
    parser.add_argument("--tables-dir", required=True, metavar="DIR", help="where auc.md and auc.csv go")
    parser.set_defaults(func=_run)
