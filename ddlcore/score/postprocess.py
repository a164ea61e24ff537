"""Post-processing of one video's frame scores: min-max normalisation and the median filter.

Applied to each video separately, on its valid frames only (the evaluation protocol of
:mod:`ddlcore.evaluate.metrics`, and the smoothed column of scored footage).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import medfilt

from ..errors import DDLError


def minmax_normalise(scores: np.ndarray) -> np.ndarray:
    """(N,) -> (N,) float64 scaled to [0, 1] by the video's min and max (constant -> all 0)."""
    s = np.asarray(scores, np.float64)
    lo, hi = s.min(initial=np.inf), s.max(initial=-np.inf)
    return (s - lo) / (hi - lo) if hi > lo else np.zeros_like(s)


def effective_window(window: int, n_frames: int) -> int:
    """The median window used for a video of ``n_frames``: ``window``, or the largest odd length <= n_frames."""
    if window % 2 != 1:
        raise DDLError(f"config: key 'metrics.median_window': must be odd, got {window}")
    if n_frames >= window:
        return window
    return max(1, n_frames if n_frames % 2 == 1 else n_frames - 1)


def median_smooth(scores: np.ndarray, window: int) -> np.ndarray:
    """(N,) -> (N,) float64 median-filtered with ``scipy.signal.medfilt`` (zero-padded ends).

    ``window`` must be odd; videos shorter than it use :func:`effective_window`.
    """
    s = np.asarray(scores, np.float64)
    w = effective_window(window, len(s))
    return medfilt(s, w) if w > 1 else s.copy()


def process_scores(score: np.ndarray, valid: np.ndarray, normalise: bool, window: int) -> np.ndarray:
    """The evaluated scores of one video: valid frames, normalised (optional), median-filtered.

    score float (N,), valid bool (N,) -> float64 (valid.sum(),).
    """
    s = np.asarray(score, np.float64)[valid]
    if normalise:
        s = minmax_normalise(s)
    return median_smooth(s, window)
