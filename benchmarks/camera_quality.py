"""How good are a camera root's alarms? Runs the camera road and prints each camera's figures.

    python benchmarks/camera_quality.py [--root ../shared/data/umn-dev] [--configfile config/cameras.yaml]
        [--config key=value ...] [--out results/camera-quality/NAME] [--cores 2] [--no-run]

The camera road is the workflow of ``dataset.name: cameras`` on ``--root`` (camera folders with labelled
clips in ``<camera>/test/labels.csv``, docs/cameras.md): one model per camera trained on the first part of its
normal footage, calibrated on the latest part, then its test clips scored offline and causally. ``--config``
entries go to Snakemake's ``--config`` after the dataset (e.g. ``score='{motion_weight: 0.5}'``); ``--no-run``
reads a finished ``--out``. Per camera and model it prints:

- test AUC (%): the offline frame-level micro AUC of the camera's test clips (the AUC table's protocol);
- causal AUC (%): the same of the causal scores ``ddl watch`` computes (no look-ahead, no per-clip statistics);
- held-out AUC (%): causal scores of the labelled abnormal frames against those of the camera's held-out normal
  calibration footage: does the score tell the anomaly from the camera's everyday, whatever a test clip's
  unlabelled lead-in holds;
- anomalies detected after their onset (an event starts inside the anomaly; docs/alarms.md), the median delay
  from onset to the live alarm, event precision (events on an anomaly, %), and false alarms per hour of the test
  clips' normal frames with its 95% interval;
- per anomaly: when the first event overlapping it started, relative to the labelled onset (negative: before);
- per test clip, a check of its labels: the mean optical-flow speed (pixels per frame at the model's size) of its
  labelled-normal frames before the first anomaly, beside the median and 99th percentile of the per-frame mean
  speed over the camera's normal footage. A "normal" lead-in moving far faster than every normal frame is
  probably the anomaly's start, labelled late: no detector that responds to it can start *after* the onset.

Nothing is timed here; the workflow's own benchmark files hold the jobs' times.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ddlcore.alarm.calibration import load_calibration, sidecar_path
from ddlcore.data.framestore import FrameStore
from ddlcore.evaluate.event_table import event_row, load_live_run, segments
from ddlcore.evaluate.metrics import auc_or_none
from ddlcore.score.motion import flow_speed, gray_frames

REPO = Path(__file__).resolve().parent.parent
DEVELOPMENT_ROOT = REPO.parent / "shared" / "data" / "umn-dev"


def run_workflow(root: Path, configfile: Path, out: Path, extra: list[str], cores: int) -> None:
    """Run the camera workflow on ``root`` into ``out`` (SystemExit with the workflow's code if it fails)."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(REPO),
               "--cores", str(cores), "--configfile", str(configfile), "--config", f"results={out}",
               f"dataset={{name: cameras, root: {root}}}", *extra]
    print("$", " ".join(command), flush=True)
    code = subprocess.call(command)
    if code:
        raise SystemExit(f"camera_quality: the workflow failed (exit {code}); its logs are under {out}/logs")


def held_out_auc(videos: dict, calibration_path: Path) -> float | None:
    """AUC of the causal scores of the labelled abnormal frames of ``videos`` against those of the calibration
    footage (every frame normal); None without abnormal frames."""
    normal = np.concatenate([v[np.isfinite(v)] for v in load_calibration(calibration_path).videos.values()])
    abnormal = [np.asarray(v["score"])[(np.asarray(v["labels"]) != 0) & v["valid"]] for v in videos.values()]
    positives = np.concatenate(abnormal) if abnormal else np.empty(0)
    if positives.size == 0 or normal.size == 0:
        return None
    labels = np.concatenate([np.zeros(normal.size), np.ones(positives.size)])
    return auc_or_none(labels, np.concatenate([normal, positives]))


def onset_lines(videos: dict, fps: float) -> list[str]:
    """One line per labelled anomaly: its clip, onset and end, and when the first event overlapping it started."""
    lines = []
    for name, v in sorted(videos.items()):
        for first, last in segments(v["labels"]):
            overlapping = [e for e in v["events"] if e.start <= last and e.end >= first]
            start = min((e.start for e in overlapping), default=None)
            when = "no event" if start is None else f"first event starts {(start - first) / fps:+.2f} s from the onset"
            lines.append(f"    {name} frames {first}-{last} ({(last - first + 1) / fps:.1f} s): {when}")
    return lines


def mean_speeds(store_path: Path, stop: int | None = None) -> np.ndarray:
    """Per-frame mean optical-flow speed (pixels per frame) of a frame store's frames [0, stop): float (n - 1,)."""
    with FrameStore(store_path) as store:
        frames = store[0 : len(store) if stop is None else min(stop, len(store))]
    gray = gray_frames(torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0)  # as the scorer sees them
    return flow_speed(gray[:-1], gray[1:]).mean(axis=(1, 2)) if len(gray) > 1 else np.empty(0)


def lead_in_lines(out: Path, camera: str, videos: dict) -> list[str]:
    """The label check of the module docstring for one camera's test clips ``videos`` (names, labels)."""
    frames = out / "frames" / "cameras"
    normal = [mean_speeds(p) for split in ("train", "calibration") for p in sorted((frames / split).glob(f"{camera}-*.h5"))]
    everyday = np.concatenate(normal) if normal else np.empty(0)
    if everyday.size == 0:
        return []
    lines = [f"    normal footage: mean speed median {np.median(everyday):.3f}, 99th percentile "
             f"{np.percentile(everyday, 99):.3f} px/frame"]
    for name, v in sorted(videos.items()):
        abnormal = np.flatnonzero(np.asarray(v["labels"]) != 0)
        onset = int(abnormal[0]) if abnormal.size else len(v["labels"])
        if onset < 2:
            continue
        lead = mean_speeds(frames / "test" / f"{name}.h5", onset)
        above = float(np.mean(lead > np.percentile(everyday, 99)))
        lines.append(f"    {name}: lead-in (frames 0-{onset - 1}) mean speed {lead.mean():.3f} px/frame, "
                     f"{100 * above:.0f}% of its frames above the normal footage's 99th percentile")
    return lines


def offline_aucs(out: Path) -> dict[tuple[str, str], float]:
    """(camera, model) -> test micro AUC (%) of each camera's clips, from the workflow's metrics JSON."""
    metrics = out / "metrics" / "cameras.json"
    if not metrics.is_file():
        return {}
    results = json.loads(metrics.read_text())["results"]
    return {(scene, r["model"]): round(100 * auc, 2) for r in results for scene, auc in r["scene_aucs"].items()
            if auc is not None}


def camera_rows(out: Path) -> list[dict]:
    """Per camera and model run: the figures of the module docstring, from a finished run in ``out``."""
    labels = out / "labels" / "cameras.h5"
    offline = offline_aucs(out)
    rows = []
    for live in sorted((out / "alarms" / "cameras").glob("*/*.h5")):
        camera, run = live.parent.name, live.stem
        info, videos, fps = load_live_run(labels, [live])
        row = event_row("cameras", info["model"], 0, videos, fps)
        model = out / "models" / "cameras" / camera / f"{run}.pt"
        auc = held_out_auc(videos, sidecar_path(model))
        rows.append({"camera": camera, "run": run, "test_auc": offline.get((camera, info["model"])),
                     "causal_auc": row["live_auc"], "held_out_auc": None if auc is None else round(100 * auc, 2),
                     **{k: row[k] for k in ("segments", "detected", "median_delay_s", "events", "event_precision_pct",
                                            "false_alarms", "false_alarms_per_hour", "false_alarms_per_hour_low",
                                            "false_alarms_per_hour_high")},
                     "onsets": onset_lines(videos, fps) + lead_in_lines(out, camera, videos)})
    if not rows:
        raise SystemExit(f"camera_quality: no live scores under {out}/alarms/cameras (no camera with labelled clips?)")
    return rows


def report(rows: list[dict]) -> str:
    """The table and per-anomaly lines as text."""
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "onsets"} for r in rows])
    lines = [table.to_string(index=False), ""]
    for r in rows:
        lines += [f"{r['camera']} {r['run']}:", *r["onsets"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=DEVELOPMENT_ROOT, help="camera root with labelled test clips")
    parser.add_argument("--configfile", type=Path, default=REPO / "config" / "cameras.yaml")
    parser.add_argument("--config", nargs="*", default=[], help="more Snakemake --config entries (key=value)")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "camera-quality", help="the run's results folder")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--no-run", action="store_true", help="read a finished run in --out")
    parser.add_argument("--csv", type=Path, help="also write the table here")
    args = parser.parse_args()
    if not args.no_run:
        if not args.root.is_dir():
            raise SystemExit(f"camera_quality: camera root not found: {args.root}")
        run_workflow(args.root.resolve(), args.configfile.resolve(), args.out.resolve(), args.config, args.cores)
    rows = camera_rows(args.out)
    print(report(rows))
    if args.csv:
        pd.DataFrame([{k: v for k, v in r.items() if k != "onsets"} for r in rows]).to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
