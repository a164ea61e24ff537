"""``ddl``: one subcommand per pipeline stage.

Each command has a module in this package (the only code in ddlcore that parses arguments): its
``configure_parser(parser)`` adds the arguments and sets ``func``, which calls the stage's functions
with the parsed arguments. Modules are imported only when their subcommand runs, so ``ddl --help``
is instant. A :class:`DDLError` becomes one ``error:`` line, exit 1.
SIGTERM (a service manager or a SLURM job stopping) ends the command as Ctrl-C does, exit 143,
so temporary files are removed and old outputs stay as they were.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading
from typing import Any, Iterator, Sequence

from ..errors import DDLError

#: subcommand -> ("module[:function]" whose function (default configure_parser) adds the arguments, help)
COMMANDS: dict[str, tuple[str, str]] = {
    "synthesize": ("ddlcore.cli.synthesize", "generate the built-in synthetic benchmark"),
    "frames": ("ddlcore.cli.frames", "extract one video's frames into a frame store"),
    "labels": ("ddlcore.cli.labels", "write a dataset's frame labels and pixel masks aligned with its frame stores"),
    "detect": ("ddlcore.cli.detect", "detect objects in one frame store"),
    "track": ("ddlcore.cli.track", "link detections into OC-SORT tracks"),
    "track-summary": ("ddlcore.cli.track_summary", "summarise a dataset's detections and tracks (per-frame counts, track lengths)"),
    "masks": ("ddlcore.cli.masks", "build one video's mask cache from its tracks"),
    "export-boxes": ("ddlcore.cli.boxes:configure_export_parser", "export tracks to the authors' tracked_bounding_boxes.json"),
    "import-boxes": ("ddlcore.cli.boxes:configure_import_parser", "import the authors' tracked_bounding_boxes.json as tracks"),
    "train": ("ddlcore.cli.train", "train one model on one scene"),
    "export": ("ddlcore.cli.export", "export a trained model's inference graphs for score.runtime onnxruntime and openvino (beside it: M.onnx/)"),
    "score": ("ddlcore.cli.score", "score test videos (or any video / frame folder) with a trained model"),
    "calibrate": ("ddlcore.cli.calibrate", "score normal footage causally and set the alarm threshold (sidecar next to the model)"),
    "watch": ("ddlcore.cli.watch", "score a camera, stream, video file or folder live (or every camera of a deployment: --cameras); events as JSON lines"),
    "deployment": ("ddlcore.cli.deployment", "write the file ddl watch --cameras reads: each trained camera and its model"),
    "record": ("ddlcore.cli.record", "record a camera or stream into a camera's normal/ folder as whole segment files"),
    "camera-table": ("ddlcore.cli.camera_table", "per-camera table: footage, calibration on held-out footage, test AUC or 'no labels'"),
    "events": ("ddlcore.cli.events", "event-level figures of live scores at the calibrated threshold (table, curves)"),
    "evaluate": ("ddlcore.cli.evaluate", "AUCs of one model's scores against the labels"),
    "aggregate": ("ddlcore.cli.aggregate", "one dataset's AUC and ablation tables, figures"),
    "summary": ("ddlcore.cli.summary", "one AUC table over the datasets whose metrics files are given"),
    "job-benchmarks": ("ddlcore.cli.job_benchmarks", "tabulate the time and memory of every workflow job"),
    "figures": ("ddlcore.cli.figures", "figures drawn outside aggregate (the qualitative panel of paper Figure 4)"),
}


def command_modules(command: str) -> list[str]:
    """The dotted modules ``ddl <command>`` runs (what the workflow fingerprints for a rule, with their imports).

    Its stage module and the configuration loader every command goes through; this dispatcher itself
    is left out (it only chooses the module), so editing one command's entry re-runs no other's jobs.
    """
    if command not in COMMANDS:
        raise DDLError(f"unknown ddl command '{command}' (known: {', '.join(COMMANDS)})")
    return [COMMANDS[command][0].partition(":")[0], "ddlcore.config"]


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


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwinds like Ctrl-C (every ``finally`` runs)."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` in the main thread (elsewhere: no change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
        with sigterm_unwinds():
            args.func(args)
    except DDLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
