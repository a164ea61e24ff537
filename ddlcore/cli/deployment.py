"""``ddl deployment``: its arguments and how they call :mod:`ddlcore.live.deployment_writer`."""

from __future__ import annotations

import argparse

from ..live.deployment_writer import write_deployment
from ..live.settings import DeploymentSettings
from .args import add_config_args, config_from_args


def _run(args: argparse.Namespace) -> None:
    config = config_from_args(args)
    deployment = DeploymentSettings.from_config(config)
    write_deployment(args.cameras, args.models, args.out, deployment, config, args.config_out)
    missing = [c for c in args.cameras if c not in deployment.sources]
    todo = f"fill in the sources of {', '.join(missing)} (or add them to deployment.sources), then: " if missing else ""
    print(f"{args.out}: {len(args.cameras)} cameras; {todo}ddl watch --cameras {args.out}")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl deployment``: ``--cameras``, ``--models`` (same order), ``--out``, ``--config-out``."""
    add_config_args(parser)
    parser.add_argument("--cameras", nargs="+", required=True, metavar="NAME", help="camera (scene) names")
    parser.add_argument("--models", nargs="+", required=True, metavar="PT", help="each camera's model, in the same order")
    parser.add_argument("--out", required=True, metavar="YAML", help="deployment file to write")
    parser.add_argument("--config-out", metavar="YAML", help="also write the configuration (--config/--settings) here")
    parser.set_defaults(func=_run)
