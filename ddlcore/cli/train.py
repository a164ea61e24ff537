"""``ddl train``: its arguments and how they call :mod:`ddlcore.train.trainer`."""

from __future__ import annotations

import argparse

from ..model.settings import ModelSettings
from ..track.settings import MasksSettings
from ..train.settings import TrainSettings
from ..train.trainer import train_model
from .args import add_config_args, config_from_args


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl train``."""
    add_config_args(parser)
    parser.add_argument("--scene", required=True, help="scene id (recorded in the model's metadata)")
    parser.add_argument("--arch", required=True, choices=["c3dsu", "unet"])
    parser.add_argument("--variant", required=True, choices=["none", "sdl", "ddl"])
    parser.add_argument("--frames", nargs="+", required=True, metavar="H5", help="training frame stores")
    parser.add_argument("--masks", nargs="+", required=True, metavar="H5", help="their mask caches, same order")
    parser.add_argument("--out", required=True, help="model file to write (.pt)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads when train.threads is null")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> None:
    config = config_from_args(args)
    train_model(TrainSettings.from_config(config), ModelSettings.from_config(config), MasksSettings.from_config(config),
                args.scene, args.arch, args.variant, args.frames, args.masks, args.out, args.threads)
