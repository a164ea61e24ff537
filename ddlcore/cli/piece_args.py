"""The arguments of a stage command run as one job per camera (dataset cameras, :mod:`ddlcore.data.piece_jobs`)."""

from __future__ import annotations

import argparse

from ..errors import DDLError


def add_piece_job_args(parser: argparse.ArgumentParser, input_manifest: bool = False) -> None:
    """Add ``--out-dir``, ``--manifest``, ``--stamp``, ``--threads`` (and ``--input-manifest``, ``--splits`` for a
    stage that reads the results of the stage before)."""
    group = parser.add_argument_group("one job per camera (dataset cameras)")
    if input_manifest:
        group.add_argument("--input-manifest", metavar="CSV", help="the camera's manifest of the stage before; each "
                           "piece it lists (of --splits) is processed")
        group.add_argument("--splits", nargs="+", default=["train"], metavar="SPLIT",
                           help="the splits whose pieces are processed (default: train)")
    group.add_argument("--out-dir", metavar="DIR", help="the camera's folder of per-piece results ({split}/{video}.h5); "
                       "results of pieces no longer listed are removed from it")
    group.add_argument("--manifest", metavar="CSV", help="the manifest to write: the camera's pieces and their results")
    group.add_argument("--stamp", default="", metavar="TEXT", help="the stage's settings and code fingerprint: a "
                       "kept result is reused only while it carries the same")
    group.add_argument("--threads", type=int, default=1, metavar="N", help="pieces computed at once (default 1)")


def check_piece_job_args(args: argparse.Namespace, command: str) -> None:
    """DDLError (one line) unless ``--out-dir`` and ``--manifest`` are given, and ``--threads`` is at least 1."""
    if not (args.out_dir and args.manifest):
        raise DDLError(f"ddl {command}: a camera's pieces need --out-dir and --manifest")
    if args.threads < 1:
        raise DDLError(f"ddl {command}: --threads must be at least 1, not {args.threads}")
