"""Held-out false alarms: is a calibrated false-alarm budget met on normal footage the model never saw?

For each trained model of a finished workflow run (``results/models/{dataset}/{scene}/{model}.pt``) and each
budget (false alarms per hour, ``--budgets``; default: the budget the run calibrated with):

1. the threshold is chosen as ``ddl calibrate`` chooses it (:func:`ddlcore.alarm.threshold.choose_threshold`)
   from the causal scores of the scene's calibration footage stored in the model's calibration sidecar
   (``M.alarm.h5``), at that budget and the run's other ``alarm`` settings;
2. that threshold's events are found (:func:`ddlcore.alarm.events.detect_events`) in the causal scores of the
   scene's test videos that the workflow's ``live_score`` rule wrote under the same calibration
   (``results/alarms/{dataset}/{scene}/{model}.h5``; the threshold does not change those scores, only the events);
3. false alarms are counted as the event table counts them (:func:`ddlcore.evaluate.event_table.video_figures`): events
   that overlap no abnormal frame, over the minutes of normal (label 0) frames of the test videos, footage the
   model was neither trained nor calibrated on.

No model is run. Counts are summed over scenes and models; their rate per hour gets an exact (Garwood) Poisson
interval at ``--confidence`` (95%). Tolerance rule: the budget is *met within tolerance* when it lies inside that
interval or above it (fewer false alarms than budgeted); equivalently, the observed count is at most the upper
97.5% count of a Poisson law whose mean is the expected events (budget x held-out hours). It is *exceeded*
when it lies below the interval. The interval takes the events as independent: models and seeds of a scene
share its test videos, so the summed counts vary more than a Poisson count and the interval is optimistic.

Calibration footage: a dataset's ``calibration`` split where it has one (``CALIBRATION_SPLIT`` of
:mod:`ddlcore.data.registry`: the cameras only), else the scene's training videos, in-sample (the synthetic
benchmark: the very frames its models were trained on). The script reads which from the run's frame stores.

Run: ``.venv/bin/python benchmarks/bench_heldout_false_alarms.py --run DIR [--budgets 30 60 120]
[--models c3dsu-ddl c3dsu-none-seed0] [--dataset synthetic] [--out rows.csv]``; DIR is the folder snakemake ran
in (it holds ``results/``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from benchlib import cpu_name
from ddlcore.alarm.calibration import Calibration, load_calibration, sidecar_path
from ddlcore.evaluate.event_table import load_live_run, normal_minutes, video_figures
from ddlcore.model.identity import model_fingerprint
from ddlcore.alarm.events import AlarmRule, Event, detect_events
from ddlcore.alarm.threshold import choose_threshold, poisson_interval
from ddlcore.data.registry import CALIBRATION_SPLIT, DATASET_NAMES

#: the table's columns: header, width
COLUMNS = [("group (seeds)", 20), ("models", 6), ("calib min", 9), ("normal min", 10), ("expected", 8),
           ("observed", 8), ("allowed", 7), ("rate/h", 8), ("interval/h", 17), ("inside", 6),
           ("met within tolerance", 0)]


@dataclass
class ModelRun:
    """One trained model: its scene, name (arch-variant), seed, calibration, the split its calibration footage
    is from, and its live scores of the scene's test videos ({video: fields of :func:`load_live_run`}) at ``fps``."""

    scene: str
    model: str
    seed: int
    calibration: Calibration
    calibration_split: str
    videos: dict[str, dict[str, Any]]
    fps: float


def model_files(results: Path, dataset: str, wanted: list[str] | None) -> list[Path]:
    """The run's model checkpoints, sorted, keeping those named in ``wanted`` (``arch-variant`` or
    ``arch-variant-seedN``; None: all). SystemExit when none is left."""
    found = sorted((results / "models" / dataset).glob("*/*.pt"))
    if wanted is not None:
        found = [p for p in found if p.stem in wanted or p.stem.rsplit("-seed", 1)[0] in wanted]
    if not found:
        raise SystemExit(f"no trained model{' of ' + ', '.join(wanted) if wanted else ''} under "
                         f"{results / 'models' / dataset}")
    return found


def calibration_split(results: Path, dataset: str, calibration: Calibration) -> str:
    """The split whose frame stores hold ``calibration``'s videos: the calibration split where the run has one
    for them (as the workflow's ``calibration_stores``), else ``train``. SystemExit when neither holds them all."""
    for split in (CALIBRATION_SPLIT, "train"):
        stores = {p.stem for p in (results / "frames" / dataset / split).glob("*.h5")}
        if set(calibration.videos) <= stores:
            return split
    raise SystemExit(f"{calibration.model}: calibration videos {', '.join(sorted(calibration.videos))} are not "
                     f"frame stores of {results / 'frames' / dataset}")


def load_model_run(results: Path, dataset: str, model_path: Path) -> ModelRun:
    """A model's calibration and live scores; SystemExit when one is missing or not made with this model file
    (a calibration of another checkpoint, live scores made under another calibration)."""
    scene = model_path.parent.name
    live = results / "alarms" / dataset / scene / f"{model_path.stem}.h5"
    for path, rule in ((sidecar_path(model_path), "calibrate"), (live, "live_score")):
        if not path.is_file():
            raise SystemExit(f"{path} is missing: the workflow's {rule} rule writes it")
    calibration = load_calibration(sidecar_path(model_path))
    if calibration.model_sha256 != model_fingerprint(model_path):
        raise SystemExit(f"{sidecar_path(model_path)}: a calibration of another model file than {model_path}")
    info, videos, fps = load_live_run(results / "labels" / f"{dataset}.h5", [live])
    if any(v["threshold"] != calibration.threshold for v in videos.values()):
        raise SystemExit(f"{live}: scored under another calibration than {sidecar_path(model_path)}")
    return ModelRun(scene, info["model"], int(info["seed"]), calibration,
                    calibration_split(results, dataset, calibration), videos, fps)


def budget_rule(calibration: Calibration, budget: float) -> AlarmRule:
    """The alarm rule ``ddl calibrate`` would choose at ``budget`` false alarms per hour of the calibration
    footage, with the calibration's other alarm settings."""
    alarm = replace(calibration.alarm, false_alarms_per_hour=budget, quantile=None)
    return AlarmRule.from_settings(choose_threshold(list(calibration.videos.values()), calibration.fps, alarm), alarm)


def false_alarms(videos: dict[str, dict[str, Any]], rule: AlarmRule) -> int:
    """Events of ``rule`` on the live scores of ``videos`` that overlap no abnormal frame."""
    return sum(video_figures(v["labels"], detect_events(v["score"], v["boxes"], rule), v["latency"])["false_alarms"]
               for v in videos.values())


def calibration_minutes(calibration: Calibration) -> float:
    """Minutes of calibration footage (every frame, scored or not, as the budget counts them)."""
    return sum(len(v) for v in calibration.videos.values()) / calibration.fps / 60.0


def event_frames(events: list[Event]) -> list[tuple[int, int, int, int]]:
    """(start, end, peak frame, confirming frame) of each event: what stored and recomputed events share exactly."""
    return [(e.start, e.end, e.peak_frame, e.confirmed) for e in events]


def reproduced(run: ModelRun) -> tuple[bool, bool]:
    """(the threshold chosen again at the run's own budget is the stored one, the events found again at the
    stored threshold are the stored events) for one model."""
    alarm = run.calibration.alarm
    same_threshold = alarm.quantile is None and bool(np.isclose(
        budget_rule(run.calibration, alarm.false_alarms_per_hour).threshold, run.calibration.threshold, rtol=1e-5))
    rule = run.calibration.rule
    same_events = all(event_frames(detect_events(v["score"], v["boxes"], rule)) == event_frames(v["events"])
                      for v in run.videos.values())
    return same_threshold, same_events


def rows(runs: list[ModelRun], budgets: list[float]) -> pd.DataFrame:
    """One row per budget and model: threshold, calibration and held-out normal minutes, false alarms."""
    out = []
    for budget in budgets:
        for run in runs:
            rule = budget_rule(run.calibration, budget)
            out.append({"budget_per_hour": budget, "scene": run.scene, "model": run.model, "seed": run.seed,
                        "threshold": rule.threshold, "calibration_minutes": calibration_minutes(run.calibration),
                        "normal_minutes": normal_minutes(run.videos, run.fps),
                        "false_alarms": false_alarms(run.videos, rule)})
    return pd.DataFrame(out)


def verdict(budget: float, low: float, high: float) -> str:
    """The tolerance rule: met when the budget lies inside the rate's interval [low, high] or above it."""
    if budget < low:
        return "no (exceeded)"
    return "yes" if budget <= high else "yes (under budget)"


def table_line(cells: list[str]) -> str:
    """Cells in the columns of ``COLUMNS``: the first left-aligned, numbers right-aligned, the last two left."""
    widths = [w for _, w in COLUMNS]
    return "  " + " ".join([cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:-2], widths[1:-2])]
                           + [cells[-2].ljust(widths[-2]), cells[-1]])


def group_line(label: str, group: pd.DataFrame, budget: float, confidence: float) -> str:
    """One table line: models, minutes, expected and observed false alarms, rate, interval, verdict."""
    hours = group["normal_minutes"].sum() / 60.0
    if hours == 0:
        raise SystemExit(f"{label}: the test videos of its scenes hold no normal frame")
    count = int(group["false_alarms"].sum())
    low, high = (bound / hours for bound in poisson_interval(count, confidence))
    allowed = int(stats.poisson.ppf(1.0 - (1.0 - confidence) / 2.0, budget * hours))
    return table_line([label, str(len(group)), f"{group['calibration_minutes'].sum():.2f}", f"{60 * hours:.2f}",
                       f"{budget * hours:.2f}", str(count), str(allowed), f"{count / hours:.1f}",
                       f"[{low:.1f}, {high:.1f}]", "yes" if low <= budget <= high else "no",
                       verdict(budget, low, high)])


def report_budget(table: pd.DataFrame, budget: float, confidence: float) -> list[str]:
    """The lines of one budget: a note on footage too short for it, all models together, then each model."""
    mine = table[table["budget_per_hour"] == budget]
    short = int((budget * mine["calibration_minutes"] / 60.0 < 1.0).sum())
    note = (f"; on {short} of {len(mine)} models' calibration footage it allows less than one event, so their "
            "threshold allows none" if short else "")
    lines = [f"budget {budget:g} false alarms per hour{note}", table_line([name for name, _ in COLUMNS]),
             group_line("all", mine, budget, confidence)]
    for model, group in mine.groupby("model", sort=True):
        seeds = ", ".join(str(s) for s in sorted(group["seed"].unique()))
        lines.append(group_line(f"{model} ({seeds})", group, budget, confidence))
    return lines


def footage_text(runs: list[ModelRun]) -> str:
    """Which footage the thresholds were calibrated on, and whether the models were trained on it."""
    splits = sorted({r.calibration_split for r in runs})
    if splits == ["train"]:
        return ("each scene's normal training videos, in-sample: the frames its models were trained on (the dataset "
                f"has no separate '{CALIBRATION_SPLIT}' part)")
    if splits == [CALIBRATION_SPLIT]:
        return f"each scene's held-out '{CALIBRATION_SPLIT}' split (normal footage never trained on)"
    return f"mixed: the '{CALIBRATION_SPLIT}' split for some scenes, the training videos (in-sample) for others"


def header(run_dir: Path, dataset: str, runs: list[ModelRun], confidence: float) -> list[str]:
    """What was measured: the run, the CPU, the models, the two kinds of footage, the tolerance rule, the check."""
    scenes = sorted({r.scene for r in runs})
    per_model = {m: sorted({r.seed for r in runs if r.model == m}) for m in sorted({r.model for r in runs})}
    calib = {r.scene: calibration_minutes(r.calibration) for r in runs}
    normal = {r.scene: normal_minutes(r.videos, r.fps) for r in runs}
    checks = [reproduced(r) for r in runs]
    own = sorted({r.calibration.alarm.false_alarms_per_hour for r in runs})
    tail = 100 * (1 - (1 - confidence) / 2)
    return [
        f"Held-out false alarms of calibrated thresholds: run {run_dir}, dataset {dataset}",
        f"CPU: {cpu_name()}; no model is run: the run's stored causal scores are thresholded again",
        (f"{len(runs)} trained models: {len(scenes)} scenes ({', '.join(scenes)}) x "
         + ", ".join(f"{m} (seeds {', '.join(map(str, s))})" for m, s in per_model.items())),
        f"calibration footage: {footage_text(runs)}; {sum(calib.values()):.2f} min over the {len(scenes)} scenes",
        (f"held-out normal footage: the normal (label 0) frames of each scene's test videos, never trained nor "
         f"calibrated on; {sum(normal.values()):.2f} min over the {len(scenes)} scenes; an event overlapping an "
         "abnormal frame is not a false alarm"),
        (f"tolerance: a budget is met when it lies inside the exact (Garwood) {100 * confidence:g}% Poisson interval "
         f"of the observed rate or above it; equivalently the observed count is at most 'allowed', the {tail:g}% "
         "count of a Poisson law with the expected events as mean; it is exceeded when it lies below the interval"),
        ("columns: minutes and counts are summed over the row's models (each model over its scene's footage); "
         f"expected = budget x held-out normal hours; interval/h: the {100 * confidence:g}% interval of the rate"),
        (f"check at the run's own budget ({', '.join(f'{b:g}' for b in own)} per hour): threshold chosen again = "
         f"stored for {sum(t for t, _ in checks)} of {len(runs)} models, events found again = stored for "
         f"{sum(e for _, e in checks)} of {len(runs)}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, type=Path, metavar="DIR",
                        help="folder snakemake ran in (holds results/)")
    parser.add_argument("--budgets", nargs="+", type=float, metavar="PER_HOUR",
                        help="false alarms per hour (default: the budget the run calibrated with)")
    parser.add_argument("--models", nargs="+", metavar="NAME", help="arch-variant or arch-variant-seedN (default: all)")
    parser.add_argument("--dataset", default="synthetic", choices=DATASET_NAMES, help="the run's dataset")
    parser.add_argument("--confidence", type=float, default=0.95, help="level of the Poisson interval (default 0.95)")
    parser.add_argument("--out", type=Path, metavar="CSV", help="also write one row per budget and model here")
    args = parser.parse_args()
    results = args.run / "results"
    runs = [load_model_run(results, args.dataset, p) for p in model_files(results, args.dataset, args.models)]
    budgets = args.budgets or sorted({r.calibration.alarm.false_alarms_per_hour for r in runs})
    table = rows(runs, budgets)
    print("\n".join(header(args.run, args.dataset, runs, args.confidence)))
    for budget in budgets:
        print("\n" + "\n".join(report_budget(table, budget, args.confidence)))
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"\nrows -> {args.out}")


if __name__ == "__main__":
    main()
