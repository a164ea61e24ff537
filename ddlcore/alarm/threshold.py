"""A threshold from a false-alarm budget or a quantile of the calibration scores.

Budget (``alarm.false_alarms_per_hour``): every event on normal calibration footage is a false
alarm. Candidate thresholds are 1025 quantiles of the calibration frame scores; the threshold is
the lowest candidate whose events per hour of calibration footage stay within the budget (binary
search: fewer events as the threshold rises). Footage of D hours cannot tell rates below 1/D per
hour apart from zero: such a budget asks for no event at all on it.

Quantile (``alarm.quantile``, when set): the threshold is that quantile of the frame scores.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import DDLError
from .events import AlarmRule, detect_events
from .settings import AlarmSettings

#: candidate thresholds searched for a budget (quantiles of the calibration scores)
CANDIDATES = 1025


def events_per_hour(videos: Sequence[np.ndarray], rule: AlarmRule, fps: float) -> tuple[int, float]:
    """(events, events per hour) of ``rule`` over per-video scores float (N_i,) at ``fps``."""
    events = sum(len(detect_events(v, None, rule)) for v in videos)
    hours = sum(len(v) for v in videos) / fps / 3600.0
    return events, events / hours


def choose_threshold(videos: Sequence[np.ndarray], fps: float, alarm: AlarmSettings) -> float:
    """The threshold for the alarm settings' budget or quantile over normal videos' scores.

    videos: per-video causal scores float (N_i,), NaN where a frame has no score, at ``fps``; alarm: its
    ``quantile`` when set, else ``false_alarms_per_hour`` with the rule's shaping. DDLError when no frame has a score.
    """
    finite = np.concatenate([v[np.isfinite(v)] for v in videos]) if videos else np.empty(0)
    if finite.size == 0:
        raise DDLError("calibration footage gave no frame score (videos shorter than the model's clip?)")
    if alarm.quantile is not None:
        return float(np.quantile(finite, alarm.quantile))
    candidates = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, CANDIDATES)))
    hours = sum(len(v) for v in videos) / fps / 3600.0
    allowed = alarm.false_alarms_per_hour * hours

    def within(threshold: float) -> bool:
        return events_per_hour(videos, AlarmRule.from_settings(threshold, alarm), fps)[0] <= allowed

    lo, hi = 0, len(candidates) - 1  # the highest candidate (the top score) never alarms: within budget
    while lo < hi:
        mid = (lo + hi) // 2
        if within(candidates[mid]):
            hi = mid
        else:
            lo = mid + 1
    return float(candidates[lo])


def poisson_interval(count: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) two-sided interval (low, high) of a Poisson mean from one observed event ``count``.

    Divide both ends by the hours observed for an interval of the rate per hour.
    """
    from scipy import stats

    tail = (1.0 - confidence) / 2.0
    low = stats.chi2.ppf(tail, 2 * count) / 2.0 if count > 0 else 0.0
    return float(low), float(stats.chi2.ppf(1.0 - tail, 2 * count + 2) / 2.0)
