"""``ddl``: one subcommand per pipeline stage.

Each stage module defines ``configure_parser(parser)``, which adds its arguments and sets
``func`` (called with the parsed args). Modules are imported only when their subcommand
runs, so ``ddl --help`` is instant. A :class:`DDLError` becomes one ``error:`` line, exit 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, Sequence

from .config import load_config
from .errors import DDLError

#: subcommand -> ("module[:function]" whose function (default configure_parser) adds the arguments, help)
COMMANDS: dict[str, tuple[str, str]] = {
    "synthesize": ("ddlcore.data.synthetic", "generate the built-in synthetic benchmark"),
    "frames": ("ddlcore.data.extract", "extract one video's frames into a frame store"),
    "labels": ("ddlcore.data.groundtruth", "write a dataset's frame labels and pixel masks aligned with its frame stores"),
    "detect": ("ddlcore.detect.run", "detect objects in one frame store"),
    "track": ("ddlcore.track.run", "link detections into OC-SORT tracks"),
    "track-summary": ("ddlcore.track.summary", "summarise a dataset's detections and tracks (per-frame counts, track lengths)"),
    "masks": ("ddlcore.track.mask_stage", "build one video's mask cache from its tracks"),
    "export-boxes": ("ddlcore.track.authors_json:configure_export_parser", "export tracks to the authors' tracked_bounding_boxes.json"),
    "import-boxes": ("ddlcore.track.authors_json:configure_import_parser", "import the authors' tracked_bounding_boxes.json as tracks"),
    "train": ("ddlcore.train", "train one model on one scene"),
    "score": ("ddlcore.score", "score test videos (or any video / frame folder) with a trained model"),
    "calibrate": ("ddlcore.alarm.calibration", "score normal footage causally and set the alarm threshold (sidecar next to the model)"),
    "watch": ("ddlcore.live.watch", "score a camera, stream, video file or folder live; events as JSON lines"),
    "deployment": ("ddlcore.live.deployment_writer", "write the file ddl watch --cameras reads: each trained camera and its model"),
    "record": ("ddlcore.live.record", "record a camera or stream into a camera's normal/ folder as whole segment files"),
    "camera-table": ("ddlcore.evaluate.camera_table", "per-camera table: footage, calibration on held-out footage, test AUC or 'no labels'"),
    "events": ("ddlcore.alarm.evaluation", "event-level figures of live scores at the calibrated threshold (table, curves)"),
    "evaluate": ("ddlcore.metrics", "AUCs of one model's scores against the labels"),
    "aggregate": ("ddlcore.report", "AUC and ablation tables, figures"),
    "job-benchmarks": ("ddlcore.job_benchmarks", "tabulate the time and memory of every workflow job"),
    "figures": ("ddlcore.figures", "figures drawn outside aggregate (the qualitative panel of paper Figure 4)"),
}


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--config FILE`` and ``--settings JSON`` (the way the workflow passes settings)."""
    parser.add_argument("--config", metavar="FILE", help="YAML configuration (defaults apply to what it leaves out)")
    parser.add_argument("--settings", metavar="JSON", help="configuration sections as JSON, overriding --config")


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The validated, default-filled configuration given by ``--config`` / ``--settings``."""
    return load_config(args.config, args.settings)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``ddl`` parser; only ``command``'s module is imported (all of them when None)."""
    parser = argparse.ArgumentParser(prog="ddl", description="Dynamic Distinction Learning video anomaly detection")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module_name, _, function = module.partition(":")
            configure = getattr(importlib.import_module(module_name), function or "configure_parser")
            configure(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ddl`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if a in COMMANDS), None)
    try:
        parser = build_parser(command)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0 if not argv or argv[0] in ("-h", "--help") else 2
        args.func(args)
    except DDLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
