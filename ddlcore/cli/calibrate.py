"""``ddl calibrate``: its arguments and how they call :mod:`ddlcore.alarm.calibration`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..alarm.calibration import Calibration, calibrate, save_calibration, sidecar_path
from ..alarm.settings import AlarmSettings
from ..errors import DDLError
from ..score.gate import gate_levels
from ..score.settings import ScoreSettings
from .args import add_config_args, config_from_args


def _run(args: argparse.Namespace) -> None:
    from ..alarm.footage_input import open_inputs
    from ..data.roi import model_roi
    from ..devices import resolve_device
    from ..score.export import scoring_model
    from ..score.inference import load_model

    cfg = config_from_args(args)
    score, alarm = ScoreSettings.from_config(cfg), AlarmSettings.from_config(cfg)
    device = resolve_device(score.device, "score.device")
    model, meta = load_model(args.model, device)
    model = scoring_model(model, meta, args.model, device, score.runtime, probe=False)  # fp32, fixed: the reference
    roi = model_roi(args.roi, meta, args.inputs) if args.roi else None
    with open_inputs(args.inputs, meta, alarm.fps) as videos:
        calibration = calibrate(model, meta, videos, score, alarm, args.model, roi)
        out = Path(args.out) if args.out else sidecar_path(args.model)
        save_calibration(calibration, out)
        int8 = _int8_graphs(model, meta, args.model, videos, calibration, score) \
            if score.precision != "fp32" and device.type == "cpu" else None
    facts = calibration.summary()
    watched = "" if roi is None else f"; region of interest {args.roi}: {100 * roi.mean():.0f}% of the frame watched"
    print(f"threshold {calibration.threshold:.6g}: {facts['calibration_events']} events in "
          f"{60 * facts['calibration_hours']:.1f} min of normal footage "
          f"({facts['calibration_events_per_hour']:.2f} per hour) -> {out}{watched}")
    if calibration.gate_noise is not None:
        levels = gate_levels(calibration.gate_noise, score.gate_margin)
        print(f"change gate: cell levels {np.median(levels):.2f} (typical cell) to {levels.max():.2f} gray levels "
              f"(score.gate_margin {score.gate_margin:g} x the noise map)")
    if int8:
        print(int8)
    if alarm.quantile is None and alarm.false_alarms_per_hour * facts["calibration_hours"] < 1:
        print(f"note: {60 * facts['calibration_hours']:.1f} min of footage cannot show a rate of "
              f"{alarm.false_alarms_per_hour} per hour; the threshold allows no event on it")


def _int8_graphs(model: Any, meta: dict[str, Any], model_path: str, videos: dict[str, Any], calibration: Calibration,
                 score: ScoreSettings) -> str:
    """Make and check the int8 graphs (:func:`ddlcore.alarm.int8_check.make_checked_int8`): the line to print.
    A failure is a note on stderr (the calibration is saved; ddl watch then scores in float32)."""
    from ..alarm.int8_check import make_checked_int8

    try:
        record = make_checked_int8(model, meta, model_path, videos, calibration, score)
    except DDLError as exc:
        print(f"note: no int8 graphs: {exc}", file=sys.stderr)
        return ""
    return (f"int8 graphs for score.precision {score.precision} (checked on {record['held_out_frames']} held-out "
            "frames): " + "; ".join(f"{runtime} {'passed' if r['passed'] else 'FAILED'} ({r['reason']})"
                                    for runtime, r in record["runtimes"].items()))


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl calibrate``."""
    add_config_args(parser)
    parser.add_argument("--model", required=True, metavar="M.pt", help="trained model checkpoint")
    parser.add_argument("inputs", nargs="+", metavar="NORMAL",
                        help="normal footage: frame stores (.h5), video files or frame folders")
    parser.add_argument("--out", metavar="A.h5", help="calibration file (default: next to the model, M.alarm.h5)")
    parser.add_argument("--roi", metavar="PNG",
                        help="region of interest, white = watched (a camera's roi.png): kept in the calibration, so "
                             "every score made under it (ddl score, ddl watch) ignores the error elsewhere")
    parser.set_defaults(func=_run)
