"""``ddl camera-table``: one row per camera and model: footage it trained and calibrated on, its
calibration figures, and its test AUC, or ``no labels`` for a camera without labelled test clips; for a camera
with labelled clips also its events on them at the calibrated threshold: anomalies detected after their onset,
median delay and event precision (as the event table counts them, :mod:`.event_table`).

Inputs are what the workflow already wrote: the training and calibration frame stores (their
``scene`` attribute names the camera), the calibration sidecars ``models/<dataset>/<camera>/<run>.alarm.h5``
and, when some camera has labelled clips, the metrics JSON of ``ddl aggregate`` (per-scene AUCs), the labels
file and the live scores files ``alarms/<dataset>/<camera>/<run>.h5``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import pandas as pd

from ..alarm.calibration import load_calibration
from ..data.framestore import FrameStore
from .event_table import event_row, load_live_run
from .tables import NO_LABELS, markdown


def frames_per_camera(stores: Sequence[str | Path]) -> dict[str, int]:
    """Frames of the frame stores ``stores``, summed by their ``scene`` attribute."""
    totals: dict[str, int] = defaultdict(int)
    for path in stores:
        with FrameStore(path) as store:
            totals[str(store.attrs["scene"])] += len(store)
    return dict(totals)


def scene_aucs(metrics_path: str | Path | None) -> dict[tuple[str, str], float | None]:
    """(camera, run name ``<model>-seed<seed>``) -> micro AUC (%) of its test clips, from a metrics JSON."""
    if metrics_path is None:
        return {}
    results = json.loads(Path(metrics_path).read_text())["results"]
    return {(scene, f"{r['model']}-seed{r.get('seed', 0)}"): (None if auc is None else 100.0 * auc)
            for r in results for scene, auc in r["scene_aucs"].items()}


def labelled_clip_events(labels_path: str | Path | None,
                         live: Sequence[str | Path]) -> dict[tuple[str, str], dict[str, object]]:
    """(camera, run name) -> its events on its labelled clips: ``detected`` ("d of n" anomalies detected after their
    onset), ``median_delay_s``, ``event_precision_pct``; from live scores files ``<camera>/<run>.h5``."""
    if labels_path is None:
        return {}
    figures = {}
    for path in live:
        p = Path(path)
        info, videos, fps = load_live_run(labels_path, [p])
        row = event_row(info["dataset"], info["model"], 0, videos, fps)
        figures[(p.parent.name, p.stem)] = {"detected": f"{row['detected']} of {row['segments']}",
                                             "median_delay_s": row["median_delay_s"],
                                             "event_precision_pct": row["event_precision_pct"]}
    return figures


def camera_table(train_stores: Sequence[str | Path], calibration_stores: Sequence[str | Path],
                 calibrations: Sequence[str | Path], metrics_path: str | Path | None = None,
                 labels_path: str | Path | None = None, live: Sequence[str | Path] = ()) -> pd.DataFrame:
    """One row per calibration sidecar: camera, run, training / calibration frames, minutes, threshold,
    false alarms on the held-out footage (events, per hour), test AUC (%), ``no labels``, or ``one class``
    (labelled clips all normal or all abnormal), and with ``labels_path`` and the ``live`` scores files of the
    labelled cameras their events on the test clips (:func:`labelled_clip_events`; ``no labels`` for the others)."""
    trained, held_out = frames_per_camera(train_stores), frames_per_camera(calibration_stores)
    aucs = scene_aucs(metrics_path)
    events = labelled_clip_events(labels_path, live)
    rows = []
    for path in calibrations:
        p = Path(path)
        camera, run = p.parent.name, p.name.removesuffix(".alarm.h5")
        facts = load_calibration(p).summary()
        auc = aucs.get((camera, run), NO_LABELS)
        rows.append({
            "camera": camera, "model": run, "training_frames": trained.get(camera, 0),
            "calibration_frames": held_out.get(camera, 0), "calibration_minutes": 60.0 * facts["calibration_hours"],
            "threshold": facts["threshold"], "calibration_events": facts["calibration_events"],
            "false_alarms_per_hour": facts["calibration_events_per_hour"],
            "test_auc": auc if auc is not None else "one class",
            **(events.get((camera, run), dict.fromkeys(("detected", "median_delay_s", "event_precision_pct"), NO_LABELS))
               if labels_path is not None else {}),
        })
    return pd.DataFrame(rows)


def camera_markdown(table: pd.DataFrame) -> str:
    """The camera table as markdown, with readable headers."""
    shown = table.rename(columns={
        "camera": "Camera", "model": "Model", "training_frames": "Training frames",
        "calibration_frames": "Calibration frames (held out)", "calibration_minutes": "Calibration (min)",
        "threshold": "Threshold", "calibration_events": "Events on calibration footage",
        "false_alarms_per_hour": "False alarms / h (calibration)", "test_auc": "Test AUC (%)",
        "detected": "Anomalies detected after onset", "median_delay_s": "Median delay (s)",
        "event_precision_pct": "Events on an anomaly (%)",
    })
    return "Per camera: footage, alarm calibration on held-out normal footage, test AUC\n\n" + markdown(shown)
