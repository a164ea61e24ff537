"""The two arguments every stage command takes: a configuration file and configuration sections as JSON."""

from __future__ import annotations

import argparse
from typing import Any

from ..config import load_config


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--config FILE`` and ``--settings JSON`` (the way the workflow passes settings)."""
    parser.add_argument("--config", metavar="FILE", help="YAML configuration (defaults apply to what it leaves out)")
    parser.add_argument("--settings", metavar="JSON", help="configuration sections as JSON, overriding --config")


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The validated, default-filled configuration given by ``--config`` / ``--settings``."""
    return load_config(args.config, args.settings)
