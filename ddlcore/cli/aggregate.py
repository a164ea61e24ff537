"""``ddl aggregate``: its arguments and how they call :mod:`ddlcore.evaluate.aggregate`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..evaluate.aggregate import aggregate
from ..evaluate.provenance import provenance
from ..evaluate.settings import MetricsSettings
from .args import add_config_args, config_from_args


def _run(args: argparse.Namespace) -> None:
    cfg = config_from_args(args)
    logs = list(args.train_logs or [])
    if args.models_dir:
        logs += sorted(str(p) for p in Path(args.models_dir).glob("*/*/*.csv"))
    print(aggregate(args.labels, args.scores, MetricsSettings.from_config(cfg), args.tables_dir, args.figures_dir, logs,
                    args.metrics_out, provenance(cfg), args.unlabelled_scenes))


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl aggregate``."""
    add_config_args(parser)
    parser.add_argument("--labels", required=True, nargs="+", metavar="L.h5", help="labels file(s), one per dataset")
    parser.add_argument("--scores", required=True, nargs="+", metavar="S.h5", help="all scores files to tabulate")
    parser.add_argument("--tables-dir", "--out-dir", dest="tables_dir", required=True, metavar="DIR",
                        help="where auc/ablation/scenes tables go")
    parser.add_argument("--figures-dir", metavar="DIR", help="score curves and sigma plots (none when omitted)")
    parser.add_argument("--train-logs", nargs="*", metavar="CSV", help="training logs models/{dataset}/{scene}/{model}.csv")
    parser.add_argument("--models-dir", metavar="DIR", help="results/models: use every {dataset}/{scene}/{model}.csv in it")
    parser.add_argument("--metrics-out", metavar="JSON", help="all evaluated figures as JSON")
    parser.add_argument("--unlabelled-scenes", nargs="+", default=[], metavar="SCENE",
                        help="scenes that were trained but have no labelled test clips (one dataset): 'no labels' "
                             "rows of the per-scene table and a line under the AUC table")
    parser.set_defaults(func=_run)
