"""The two arguments every stage command takes: a configuration file and configuration sections as JSON."""

from __future__ import annotations

import argparse
import math
from typing import Any

from ..config import load_config


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--config FILE`` and ``--settings JSON`` (the way the workflow passes settings)."""
    parser.add_argument("--config", metavar="FILE", help="YAML configuration (defaults apply to what it leaves out)")
    parser.add_argument("--settings", metavar="JSON", help="configuration sections as JSON, overriding --config")


def positive_number(text: str) -> float:
    """An argparse ``type``: a finite number above 0 (a duration), else the one-line argparse error."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number above 0")
    return value


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The validated, default-filled configuration given by ``--config`` / ``--settings``."""
    return load_config(args.config, args.settings)
