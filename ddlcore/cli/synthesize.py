"""``ddl synthesize``: its arguments and how they call :mod:`ddlcore.data.synthetic`."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..data.settings import DataSettings
from ..data.synthetic import MANIFEST, generate
from .args import add_config_args, config_from_args


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl synthesize``: --config/--settings and --out ROOT (default: dataset.root)."""
    add_config_args(parser)
    parser.add_argument("--out", metavar="ROOT", help="dataset folder to write (default: the config's dataset.root)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> None:
    """``ddl synthesize``: generate and print one summary line."""
    settings = DataSettings.from_config(config_from_args(args))
    root = Path(args.out or settings.dataset.root)
    start = time.perf_counter()
    generate(settings.synthetic, root)
    test = [e for e in json.loads((root / MANIFEST).read_text())["videos"] if e["split"] == "test"]
    abnormal = sum(e["abnormal_frames"] for e in test) / max(sum(e["n_frames"] for e in test), 1)
    print(f"synthetic benchmark written to {root} in {time.perf_counter() - start:.1f} s: "
          f"{len(test)} test videos, {abnormal:.1%} abnormal test frames")
