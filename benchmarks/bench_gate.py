"""The change gate (``score.gate``): its cost per frame, and what it changes on labelled footage.

    python benchmarks/bench_gate.py cost [--height 176 --width 320 --frames 2000]
        -> microseconds per frame of the gate's measure (cells of a frame, and one window's comparison)
    python benchmarks/bench_gate.py accuracy --model M.pt --labels L.h5 --out DIR FRAMES.h5 ...
        [--calibrate NORMAL.h5 ... --settings JSON]
        -> live scores of the test frame stores under the model's calibration with the gate off and on
           (DIR/gate-off.h5, DIR/gate-on.h5), and per run: frame-level AUC of the causal scores, anomaly
           segments detected at the calibrated threshold, events, false alarms, windows gated and the seconds
           the scoring took (process CPU time and wall time)

``--calibrate`` first calibrates the model (its sidecar) on the given normal frame stores with ``--settings``
(the settings the model's workflow used: ``score`` and ``alarm`` sections), so that the calibration holds the
gate's levels. Exits 1 when the runs detect different anomaly segments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ddlcore.alarm.calibration import calibrate, load_calibration, save_calibration, sidecar_path
from ddlcore.alarm.footage_input import open_inputs
from ddlcore.alarm.live_scores import write_live_scores
from ddlcore.alarm.settings import AlarmSettings
from ddlcore.config import load_config
from ddlcore.evaluate.event_table import detection_delays, event_row, load_live_run, segments
from ddlcore.score.export import scoring_model
from ddlcore.score.gate import CELL, WindowGate, frame_cells, gate_levels
from ddlcore.score.inference import load_model
from ddlcore.score.settings import ScoreSettings


def cost(height: int, width: int, frames: int, clip: int) -> None:
    """Print the gate's cost per frame on random gray frames of height x width (one thread)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (frames, height, width, 1), np.uint8)
    start = time.perf_counter()
    for image in images:
        frame_cells(image[None])
    cells_us = 1e6 * (time.perf_counter() - start) / frames
    gate = WindowGate(clip, np.full((height // CELL, width // CELL), 1e9, np.float32))  # never changed: every window
    # compares all T frames
    start = time.perf_counter()
    for image in images:
        gate.add(image)
        if len(gate.cells) == clip:
            gate.must_score()
    total_us = 1e6 * (time.perf_counter() - start) / frames
    print(f"{height}x{width} gray, clip {clip}: cells {cells_us:.0f} us/frame; cells and a still window's "
          f"comparison (the worst case) {total_us:.0f} us/frame")


def accuracy(args: argparse.Namespace) -> int:
    """The accuracy runs of the module docstring; 1 when the detected segments differ."""
    torch.set_num_threads(1)
    cpu = torch.device("cpu")
    cfg = load_config(None, args.settings)
    model, meta = load_model(args.model, cpu)
    model = scoring_model(model, meta, args.model, cpu, ScoreSettings.from_config(cfg).runtime)
    if args.calibrate:
        with open_inputs(args.calibrate, meta, AlarmSettings.from_config(cfg).fps) as videos:
            made = calibrate(model, meta, videos, ScoreSettings.from_config(cfg), AlarmSettings.from_config(cfg),
                             args.model)
        save_calibration(made, sidecar_path(args.model))
    calibration_path = sidecar_path(args.model)
    calibration = load_calibration(calibration_path)
    noise = calibration.gate_noise
    if noise is not None:
        levels = gate_levels(noise, ScoreSettings.from_config(cfg).gate_margin)
        low, high = np.quantile(levels, [0.05, 0.95])
        print(f"gate levels (gray levels per cell): median {np.median(levels):.2f}, 5-95% {low:.2f}-{high:.2f}, "
              f"max {levels.max():.2f}; threshold {calibration.threshold:.6g}")
    else:
        print(f"no gate noise map; threshold {calibration.threshold:.6g}")
    args.out.mkdir(parents=True, exist_ok=True)
    detected: dict[bool, list[tuple[str, int, int]]] = {}
    for gate in (False, True):
        score = ScoreSettings.from_config(load_config(None, json.dumps({**json.loads(args.settings or "{}"),
                                                                        "score": {**cfg["score"], "gate": gate}})))
        out = args.out / f"gate-{'on' if gate else 'off'}.h5"
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        found = write_live_scores(model, meta, args.frames, out, calibration, calibration_path, score, args.model)
        cpu_s, wall_s = time.process_time() - cpu_start, time.perf_counter() - wall_start
        info, videos, fps = load_live_run(args.labels, [out])
        row = event_row("", info["model"], 0, videos, fps)
        windows = sum(v["windows"] for v in found.values())
        gated = sum(v["gated"] for v in found.values())
        detected[gate] = [(name, *seg) for name, v in sorted(videos.items())
                          for seg, delay in zip(segments(v["labels"]), detection_delays(segments(v["labels"]),
                                                                                       v["events"], v["latency"]))
                          if delay is not None]
        print(f"gate {'on ' if gate else 'off'}: AUC {row['live_auc']}, detected {row['detected']} of "
              f"{row['segments']} segments, {row['events']} events, {row['false_alarms']} false alarms, "
              f"{gated} of {windows} windows gated ({100 * gated / windows:.1f}%), scoring {cpu_s:.1f} s CPU "
              f"{wall_s:.1f} s wall")
    same = detected[False] == detected[True]
    print("same segments detected" if same else
          f"segments detected differ: off only {sorted(set(detected[False]) - set(detected[True]))}, on only "
          f"{sorted(set(detected[True]) - set(detected[False]))}")
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("cost", help="the gate's cost per frame")
    c.add_argument("--height", type=int, default=176)
    c.add_argument("--width", type=int, default=320)
    c.add_argument("--frames", type=int, default=2000)
    c.add_argument("--clip", type=int, default=7)
    a = sub.add_parser("accuracy", help="AUC, detections and gated share with the gate off and on")
    a.add_argument("--model", type=Path, required=True)
    a.add_argument("--labels", type=Path, required=True)
    a.add_argument("--out", type=Path, required=True)
    a.add_argument("--calibrate", nargs="+", type=Path, metavar="NORMAL.h5")
    a.add_argument("--settings", default=None, help="JSON of the score and alarm settings the model's workflow used")
    a.add_argument("frames", nargs="+", type=Path, metavar="FRAMES.h5")
    args = parser.parse_args()
    if args.command == "cost":
        cost(args.height, args.width, args.frames, args.clip)
        return 0
    return accuracy(args)


if __name__ == "__main__":
    sys.exit(main())
