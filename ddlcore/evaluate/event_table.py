"""Event-level figures on labelled test videos (``ddl events``), at each model's calibrated threshold.

Read from live scores files (:mod:`ddlcore.alarm.live_scores`) and the labels file. Per dataset and model:

- ground-truth anomaly segments (runs of frames labelled 1, per video) and how many of them are
  *detected*: an event starts (its score rises above the threshold) at or after the segment's first frame
  and at or before its last. An alarm that was already on at the onset, or that began before it and merged
  across it, is no detection;
- delay of each detection: from the segment's first frame to the moment its first detecting event is
  raised live (the frame that confirms it plus the model's latency of T//2 frames); the median over
  detections, in frames and seconds;
- event precision: the share of events that overlap some frame labelled 1;
- false alarms: events that overlap no frame labelled 1, per hour of normal (label 0) video, with the exact
  (Garwood) 95% interval of that rate (:func:`ddlcore.alarm.threshold.poisson_interval`);
- the live AUC: micro AUC of the causal scores themselves (no normalisation, no centred filter);
- event localisation (datasets with pixel masks): of the events whose confirming (peak) frame has
  ground-truth regions, the share whose box has IoU >= ``metrics.region_iou`` with one of them
  (:func:`ddlcore.evaluate.localisation.event_localisation`).

Outputs: ``events-{dataset}.csv`` / ``.md`` in ``--tables-dir`` and, in ``--figures-dir``, one
figure per model and video: the causal score curve with the threshold, events and ground truth. The scenes
given as ``--unlabelled-scenes`` (trained, calibrated, but without labelled test clips) are named in a line
under the markdown table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..alarm.events import Event
from ..alarm.live_scores import events_from_array
from ..alarm.threshold import poisson_interval
from ..errors import DDLError
from ..io_utils import atomic_path
from ..score.scores_io import read_scores
from .figures import plt
from .localisation import LocalisationCriteria, event_localisation
from .metrics import auc_or_none, load_run
from .tables import checked_unlabelled, group_score_files, markdown, unlabelled_note, write_table

#: columns of the event table
COLUMNS = ["dataset", "model", "seed", "segments", "detected", "detected_pct", "median_delay_frames", "median_delay_s",
           "events", "event_precision_pct", "false_alarms", "normal_minutes", "false_alarms_per_hour",
           "false_alarms_per_hour_low", "false_alarms_per_hour_high", "live_auc",
           "localised_at_confirmation_pct", "localised_at_peak_pct"]


def segments(labels: np.ndarray) -> list[tuple[int, int]]:
    """Ground-truth anomaly segments of labels (N,) as inclusive (first, last) frame pairs."""
    flags = np.concatenate([[0], np.asarray(labels) != 0, [0]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(flags))
    return [(int(a), int(b) - 1) for a, b in zip(edges[0::2], edges[1::2])]


def detection_delays(segs: Sequence[tuple[int, int]], events: Sequence[Event], latency: int) -> list[int | None]:
    """Per segment (first, last): frames from ``first`` until its detection is raised live, or None when missed.

    A segment is detected by the events that start within it (``first <= start <= last``); the earliest of
    them counts, raised at its confirming frame plus ``latency``.
    """
    delays: list[int | None] = []
    for first, last in segs:
        raised = [e.confirmed + latency for e in events if first <= e.start <= last]
        delays.append(min(raised) - first if raised else None)
    return delays


def video_figures(labels: np.ndarray, events: Sequence[Event], latency: int) -> dict[str, Any]:
    """One video's counts: segments, detected, delays (frames, per detected segment), events on an anomaly,
    false alarms (events overlapping no frame labelled 1)."""
    segs = segments(labels)
    delays = [d for d in detection_delays(segs, events, latency) if d is not None]
    abnormal = np.asarray(labels) != 0
    on_anomaly = sum(bool(abnormal[e.start : e.end + 1].any()) for e in events)
    return {"segments": len(segs), "detected": len(delays), "delays": delays, "on_anomaly": on_anomaly,
            "false_alarms": len(events) - on_anomaly}


def normal_minutes(videos: dict[str, dict[str, Any]], fps: float) -> float:
    """Minutes of normal (label 0) frames of ``videos`` ({name: {labels, ...}}) at ``fps``: what false alarms are
    counted per."""
    return sum(int((np.asarray(v["labels"]) == 0).sum()) for v in videos.values()) / fps / 60.0


def event_row(dataset: str, model: str, seed: int, videos: dict[str, dict[str, Any]], fps: float) -> dict[str, Any]:
    """The table row of one model trained with ``seed``: videos {name: {labels, score, valid, events, latency,
    and for localisation boxes, truth (None without pixel masks), criteria}}."""
    counts = [video_figures(v["labels"], v["events"], v["latency"]) for v in videos.values()]
    delays = [d for c in counts for d in c["delays"]]
    normal = normal_minutes(videos, fps)
    total = sum(c["segments"] for c in counts)
    detected = sum(c["detected"] for c in counts)
    false_alarms = sum(c["false_alarms"] for c in counts)
    events = sum(len(v["events"]) for v in videos.values())
    hours = normal / 60.0
    low, high = (bound / hours if hours else None for bound in poisson_interval(false_alarms))
    labels = np.concatenate([np.asarray(v["labels"])[v["valid"]] for v in videos.values()])
    scores = np.concatenate([np.asarray(v["score"])[v["valid"]] for v in videos.values()])
    auc = auc_or_none(labels, scores)
    median = float(np.median(delays)) if delays else None
    located = [event_localisation(v["events"], v["boxes"], v["truth"], v["criteria"])
               for v in videos.values() if v.get("truth") is not None]

    def share(moment: str) -> float | None:
        on = sum(c[f"on_anomaly_{moment}"] for c in located)
        return round(100 * sum(c[f"localised_{moment}"] for c in located) / on, 1) if on else None
    return {
        "dataset": dataset, "model": model, "seed": seed, "segments": total, "detected": detected,
        "detected_pct": round(100 * detected / total, 1) if total else None,
        "median_delay_frames": median, "median_delay_s": None if median is None else round(median / fps, 2),
        "events": events,
        "event_precision_pct": round(100 * sum(c["on_anomaly"] for c in counts) / events, 1) if events else None,
        "false_alarms": false_alarms, "normal_minutes": round(normal, 2),
        "false_alarms_per_hour": round(false_alarms / hours, 2) if hours else None,
        "false_alarms_per_hour_low": None if low is None else round(low, 2),
        "false_alarms_per_hour_high": None if high is None else round(high, 2),
        "live_auc": None if auc is None else round(100 * auc, 2),
        "localised_at_confirmation_pct": share("confirmed"), "localised_at_peak_pct": share("peak"),
    }


def load_live_run(labels_path: str | Path, paths: Sequence[str | Path],
                  criteria: LocalisationCriteria | None = None) -> tuple[dict[str, Any], dict[str, dict[str, Any]], float]:
    """One model's live scores files aligned with the labels: (info, {video: fields}, fps).

    Fields per video: labels, score, valid, events, latency, threshold, scene, boxes (N, 4), truth (the
    ground-truth regions when the labels have pixel masks and ``criteria``, a
    :class:`ddlcore.evaluate.localisation.LocalisationCriteria`, is given, else None), criteria. DDLError naming a
    file that is not a live scores file (no events: made without ``--calibration``).
    """
    info, aligned = load_run(labels_path, paths, criteria)
    videos: dict[str, dict[str, Any]] = {}
    rates = []
    for path in paths:
        attrs, stored = read_scores(path)
        if "threshold" not in attrs:
            raise DDLError(f"{path}: not a live scores file (score it with ddl score --calibration)")
        rates.append(float(attrs["fps"]))
        for name, data in stored.items():
            v = aligned[name]
            videos[name] = {"labels": v.labels, "score": v.score, "valid": v.valid, "scene": v.scene,
                            "events": events_from_array(data["events"]), "latency": int(attrs["latency_frames"]),
                            "threshold": float(attrs["threshold"]), "boxes": data["boxes"], "truth": v.truth,
                            "criteria": criteria}
    return info, videos, float(np.median(rates))


def plot_events(video: dict[str, Any], out: str | Path, title: str) -> None:
    """Causal score curve of one video with its threshold (dashed), events (orange) and ground truth (red)."""
    score, labels = np.asarray(video["score"], np.float64), np.asarray(video["labels"])
    fig, ax = plt.subplots(figsize=(7, 2.4))
    for first, last in segments(labels):
        ax.axvspan(first - 0.5, last + 0.5, color="tab:red", alpha=0.2, linewidth=0)
    for e in video["events"]:
        ax.axvspan(e.start - 0.5, e.end + 0.5, ymin=0.0, ymax=0.08, color="tab:orange", linewidth=0)
        ax.plot([e.confirmed], [e.peak_score], marker="v", color="tab:orange", markersize=5)
    ax.plot(np.arange(len(score)), score, color="tab:blue", linewidth=1.1, label="live score")
    ax.axhline(video["threshold"], color="black", linestyle="--", linewidth=0.9, label="threshold")
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    ax.set_xlim(-0.5, len(score) - 0.5)
    ax.set_xlabel("frame")
    ax.set_ylabel("live score")
    ax.set_title(title, fontsize=9)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def event_tables(labels_path: str | Path, score_paths: Sequence[str | Path], tables_dir: str | Path,
                 figures_dir: str | Path | None = None, origin: dict[str, Any] | None = None,
                 criteria: LocalisationCriteria | None = None, unlabelled_scenes: Sequence[str] = ()) -> str:
    """Evaluate every model among the live ``score_paths``; write the table (and figures). Returns its markdown.

    ``criteria`` (:class:`ddlcore.evaluate.localisation.LocalisationCriteria`): event localisation columns
    for datasets with pixel masks (empty without). ``unlabelled_scenes``: the dataset's scenes that were trained
    but have no labelled test clips, named in a line under the markdown table (the CSV is unchanged).
    """
    rows = []
    drawn: set[tuple[str, str]] = set()
    scored: dict[str, set[str]] = {}
    for (dataset, _arch, _variant, seed), files in group_score_files(score_paths).items():
        info, videos, fps = load_live_run(labels_path, files, criteria)
        rows.append(event_row(info["dataset"], info["model"], seed, videos, fps))
        scored.setdefault(info["dataset"], set()).update(v["scene"] for v in videos.values())
        if figures_dir is not None and (info["dataset"], info["model"]) not in drawn:  # each model's first seed
            drawn.add((info["dataset"], info["model"]))
            Path(figures_dir).mkdir(parents=True, exist_ok=True)
            for name, v in sorted(videos.items()):
                count = len(v["events"])
                title = f"{info['dataset']} {v['scene']}/{name}, {info['model']}: {count} event{'s' * (count != 1)}"
                plot_events(v, Path(figures_dir) / f"{info['dataset']}-{info['model']}-{name}.png", title)
    if not rows:
        raise DDLError("ddl events: no live scores files given")
    note = unlabelled_note(checked_unlabelled(unlabelled_scenes, scored))
    table = pd.DataFrame(rows, columns=COLUMNS)
    texts = []
    for dataset in sorted(table["dataset"].unique()):
        mine = table[table["dataset"] == dataset]
        texts.append(f"Events on {dataset} at the calibrated threshold: anomaly segments detected (an event starting "
                     "after the onset, before the end), median delay from the onset to the live alarm, events on an "
                     "anomaly (precision, %), false alarms per hour of normal video with its 95% interval, AUC (%) of "
                     "the causal scores, events whose box is on the anomaly (IoU >= region_iou) at confirmation and "
                     "at peak (%)\n\n"
                     + markdown(mine) + note)
        write_table(mine, texts[-1], Path(tables_dir) / f"events-{dataset}", origin)
    return "\n".join(texts)
