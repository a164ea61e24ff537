"""``ddl calibrate``: its arguments and how they call :mod:`ddlcore.alarm.calibration`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..alarm.calibration import calibrate, save_calibration, sidecar_path
from ..alarm.settings import AlarmSettings
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
    model = scoring_model(model, meta, args.model, device, score.runtime)
    roi = model_roi(args.roi, meta, args.inputs) if args.roi else None
    with open_inputs(args.inputs, meta, alarm.fps) as videos:
        calibration = calibrate(model, meta, videos, score, alarm, args.model, roi)
    out = Path(args.out) if args.out else sidecar_path(args.model)
    save_calibration(calibration, out)
    facts = calibration.summary()
    watched = "" if roi is None else f"; region of interest {args.roi}: {100 * roi.mean():.0f}% of the frame watched"
    print(f"threshold {calibration.threshold:.6g}: {facts['calibration_events']} events in "
          f"{60 * facts['calibration_hours']:.1f} min of normal footage "
          f"({facts['calibration_events_per_hour']:.2f} per hour) -> {out}{watched}")
    if alarm.quantile is None and alarm.false_alarms_per_hour * facts["calibration_hours"] < 1:
        print(f"note: {60 * facts['calibration_hours']:.1f} min of footage cannot show a rate of "
              f"{alarm.false_alarms_per_hour} per hour; the threshold allows no event on it")


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
