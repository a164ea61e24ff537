"""``ddl events``: its arguments and how they call :mod:`ddlcore.evaluate.event_table`."""

from __future__ import annotations

import argparse

from ..evaluate.event_table import event_tables
from ..evaluate.localisation import LocalisationCriteria
from ..evaluate.settings import MetricsSettings
from .args import add_config_args, config_from_args


def _run(args: argparse.Namespace) -> None:
    from ..evaluate.provenance import provenance

    cfg = config_from_args(args)
    print(event_tables(args.labels, args.scores, args.tables_dir, args.figures_dir, provenance(cfg),
                       LocalisationCriteria.from_settings(MetricsSettings.from_config(cfg)), args.unlabelled_scenes))


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl events``."""
    add_config_args(parser)
    parser.add_argument("--labels", required=True, metavar="L.h5", help="labels file of the dataset")
    parser.add_argument("--scores", required=True, nargs="+", metavar="L.h5", help="live scores files (ddl score --calibration)")
    parser.add_argument("--tables-dir", required=True, metavar="DIR", help="where events-{dataset}.csv/.md go")
    parser.add_argument("--figures-dir", metavar="DIR", help="score curves with threshold and events (none when omitted)")
    parser.add_argument("--unlabelled-scenes", nargs="+", default=[], metavar="SCENE",
                        help="scenes that were trained but have no labelled test clips: named under the table")
    parser.set_defaults(func=_run)
