"""``ddl evaluate``: its arguments and how they call :mod:`ddlcore.evaluate.metrics`."""

from __future__ import annotations

import argparse
import json

from ..evaluate.metrics import evaluate
from ..evaluate.settings import MetricsSettings
from ..io_utils import atomic_path
from .args import add_config_args, config_from_args


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def _run(args: argparse.Namespace) -> None:
    cfg = config_from_args(args)
    result = evaluate(args.labels, args.scores, MetricsSettings.from_config(cfg))
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    line = f"{result['model']} (seed {result['seed']}) on {result['dataset']}: micro AUC {_percent(result['micro_auc'])}"
    if result["scene_median_auc"] is not None:
        line += f", median of scene AUCs {_percent(result['scene_median_auc'])}"
    line += f", macro AUC {_percent(result['macro_auc'])} ({result['macro_left_out']} one-class videos left out)"
    if result["rbdc"] is not None:
        line += f", RBDC {_percent(result['rbdc'])}, TBDC {_percent(result['tbdc'])}"
    print(line)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl evaluate``."""
    add_config_args(parser)
    parser.add_argument("--labels", required=True, metavar="L.h5", help="results/labels/{dataset}.h5")
    parser.add_argument("--scores", required=True, nargs="+", metavar="S.h5", help="one model's scores files (one per scene)")
    parser.add_argument("--out", required=True, metavar="JSON", help="metrics file")
    parser.set_defaults(func=_run)
