"""``ddl score``: its arguments and how they call :mod:`ddlcore.score.frame_stores`."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..alarm.calibration import Calibration, check_calibration, check_roi, load_calibration, sidecar_path
from ..alarm.settings import AlarmSettings
from ..data.roi import model_roi
from ..devices import resolve_device
from ..errors import DDLError
from ..evaluate.settings import MetricsSettings
from ..score.export import scoring_model
from ..score.frame_stores import score_frame_stores
from ..score.inference import load_model
from ..score.settings import ScoreSettings
from .args import add_config_args, config_from_args


def _calibration_for(args: argparse.Namespace) -> tuple[Calibration | None, Path | None]:
    """The calibration ``--calibration`` names, else the model's sidecar when it exists (footage mode only)."""
    path = Path(args.calibration) if args.calibration else sidecar_path(args.model)
    if args.calibration or (args.input is not None and path.is_file()):
        return load_calibration(path), path
    return None, None


def _run(args: argparse.Namespace) -> None:
    cfg = config_from_args(args)
    if (args.input is None) == (not args.frames):
        raise DDLError("ddl score: give either --frames F.h5 ... (test frame stores) or one VIDEO_OR_FOLDER, not both")
    score = ScoreSettings.from_config(cfg)
    calibration, calibration_path = _calibration_for(args)
    device = resolve_device(score.device, "score.device")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = bool(score.cudnn_benchmark)
    model, meta = load_model(args.model, device)
    if calibration is not None:  # before anything is exported
        check_calibration(calibration, calibration_path, args.model, meta)
    model = scoring_model(model, meta, args.model, device, score.runtime, probe=False)  # results: a fixed runtime
    roi = model_roi(args.roi, meta, args.frames or [args.input]) if args.roi else None
    if calibration is not None:  # causal scores ignore what their calibration's ROI masks out, and only that
        if roi is not None:
            check_roi(calibration, calibration_path, roi, args.roi)
        roi = calibration.roi
    if args.frames:
        if not args.out:
            raise DDLError("ddl score: --out S.h5 is required with --frames")
        if calibration is not None:
            from ..alarm.live_scores import write_live_scores

            found = write_live_scores(model, meta, args.frames, args.out, calibration, calibration_path, score, args.model)
            events, gated, windows = (sum(v[k] for v in found.values()) for k in ("events", "gated", "windows"))
            print(f"scored {len(found)} videos live, {events} events, {gated} of {windows} windows gated -> {args.out}")
            return
        written = score_frame_stores(model, meta, args.frames, args.out, score, args.model, roi)
        print(f"scored {len(written)} videos ({sum(written.values())} frames) -> {args.out}")
        return
    from ..alarm.footage import score_footage

    out_csv = args.out_csv or f"{Path(args.input).name}.scores.csv"
    events_csv = args.events or Path(out_csv).with_suffix(".events.csv")
    table = score_footage(model, meta, args.input, score, MetricsSettings.from_config(cfg).median_window,
                          AlarmSettings.from_config(cfg), out_csv, args.overlay, calibration, events_csv, roi)
    gated = f" ({int(table['gated'].sum())} of {int(table['gated'].count())} windows gated)" if "gated" in table else ""
    print(f"scores -> {out_csv}" + (f", events -> {events_csv}{gated}" if calibration is not None else "")
          + (f", overlay -> {args.overlay}" if args.overlay else ""))


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl score`` (two modes: test frame stores, or any video / frame folder)."""
    add_config_args(parser)
    parser.add_argument("--model", required=True, metavar="M.pt", help="trained model checkpoint")
    parser.add_argument("input", nargs="?", metavar="VIDEO_OR_FOLDER", help="score any video file or frame folder")
    parser.add_argument("--frames", nargs="+", metavar="F.h5", help="test frame stores of one scene")
    parser.add_argument("--out", metavar="S.h5", help="scores file (with --frames)")
    parser.add_argument("--out-csv", metavar="CSV", help="per-frame scores of VIDEO_OR_FOLDER (default: <input>.scores.csv)")
    parser.add_argument("--overlay", metavar="VIDEO", help="also write an overlay video (.mp4: mp4v, .avi: MJPG)")
    parser.add_argument("--calibration", metavar="A.h5",
                        help="alarm calibration (ddl calibrate): score causally and detect events; for VIDEO_OR_FOLDER "
                             "the model's sidecar M.alarm.h5 is used when it exists")
    parser.add_argument("--events", metavar="CSV", help="events of VIDEO_OR_FOLDER (default: <out-csv stem>.events.csv)")
    parser.add_argument("--roi", metavar="PNG",
                        help="region of interest, white = watched (a camera's roi.png): the error elsewhere is "
                             "ignored; with a calibration its own ROI applies, and this must be the same")
    parser.set_defaults(func=_run)
