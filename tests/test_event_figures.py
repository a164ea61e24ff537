"""The event table's figures on hand-built events: detections after onset, delays, precision, false alarms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ddlcore.evaluate.event_table import detection_delays, event_row, video_figures
from ddlcore.alarm.events import AlarmRule, Event, detect_events
from ddlcore.alarm.threshold import poisson_interval

FPS = 10.0


def labelled(n: int, first: int, last: int) -> np.ndarray:
    """Labels (n,) with one anomaly on frames first..last."""
    labels = np.zeros(n, np.int8)
    labels[first : last + 1] = 1
    return labels


def event(start: int, end: int, confirmed: int | None = None) -> Event:
    """An event on frames start..end, confirmed at ``confirmed`` (default: its first frame)."""
    return Event(start, end, start, 1.0, [], start if confirmed is None else confirmed)


def test_an_alarm_already_on_at_the_onset_is_no_detection():
    labels = labelled(100, 40, 70)
    already_on = [event(30, 60)]  # rose 1 s before the onset, ran through it
    figures = video_figures(labels, already_on, latency=0)
    assert figures["detected"] == 0 and figures["delays"] == []
    assert figures["on_anomaly"] == 1 and figures["false_alarms"] == 0  # it overlaps the anomaly: no false alarm


def test_an_alarm_starting_one_second_after_the_onset_is_a_detection_with_a_delay_of_one_second():
    labels = labelled(100, 40, 70)
    figures = video_figures(labels, [event(50, 60)], latency=0)
    assert figures["detected"] == 1 and figures["delays"] == [int(FPS)]
    # raised live at its confirming frame plus the model's latency
    assert video_figures(labels, [event(50, 60, confirmed=52)], latency=1)["delays"] == [13]


def test_only_events_starting_inside_the_segment_detect_it():
    segs = [(40, 70)]
    assert detection_delays(segs, [event(40, 45)], 0) == [0]  # at the onset itself
    assert detection_delays(segs, [event(70, 80)], 0) == [30]  # at its last frame
    assert detection_delays(segs, [event(71, 80)], 0) == [None]  # after its end
    assert detection_delays(segs, [event(20, 30), event(55, 60), event(45, 50)], 0) == [5]  # the earliest inside


def test_the_state_machine_merging_across_the_onset_gives_no_detection():
    rule = AlarmRule(threshold=1.0, hysteresis=0.0, min_frames=2, merge_gap=5)
    scores = np.zeros(100)
    scores[30:38] = 2.0  # alarm before the onset at 40 ...
    scores[41:50] = 2.0  # ... quiet for 3 frames (< merge_gap), back after the onset: one event
    events = detect_events(scores, None, rule)
    assert [(e.start, e.end) for e in events] == [(30, 49)]
    assert video_figures(labelled(100, 40, 70), events, latency=1)["detected"] == 0


def test_event_row_counts_precision_and_false_alarms_per_hour_with_the_poisson_interval():
    videos = {
        "a": {"labels": labelled(600, 100, 200), "events": [event(120, 150), event(400, 420), event(90, 110)]},
        "b": {"labels": np.zeros(600, np.int8), "events": [event(10, 20)]},
    }
    for v in videos.values():
        v.update(score=np.arange(len(v["labels"]), dtype=float), valid=np.ones(len(v["labels"]), bool), latency=0)
    row = event_row("cameras", "c3dsu-ddl", 0, videos, FPS)
    assert row["segments"] == 1 and row["detected"] == 1 and row["median_delay_s"] == 2.0
    assert row["events"] == 4 and row["event_precision_pct"] == 50.0  # two of four overlap the anomaly
    normal_hours = (600 - 101 + 600) / FPS / 3600
    assert row["false_alarms"] == 2 and row["false_alarms_per_hour"] == pytest.approx(2 / normal_hours, abs=0.01)
    low, high = poisson_interval(2)
    assert row["false_alarms_per_hour_low"] == pytest.approx(low / normal_hours, abs=0.01)
    assert row["false_alarms_per_hour_high"] == pytest.approx(high / normal_hours, abs=0.01)


def test_poisson_interval_covers_its_mean_as_often_as_it_says():
    rng = np.random.default_rng(0)
    counts = rng.poisson(3.0, size=4000)
    bounds = np.array([poisson_interval(int(c)) for c in counts])
    coverage = float(np.mean((bounds[:, 0] <= 3.0) & (3.0 <= bounds[:, 1])))
    assert 0.95 <= coverage <= 0.995  # exact intervals are conservative
    assert poisson_interval(0)[0] == 0.0 and poisson_interval(0)[1] == pytest.approx(stats.chi2.ppf(0.975, 2) / 2)
