"""Whether a camera is scored at the frame rate its calibration was made at.

A calibration sets its threshold from scores of every frame of normal footage at ``calibration.fps``. A watch
scoring fewer frames a second (a slow device dropping frames to keep up, or a slower camera) scores clips that
span more time, whose scores are not the calibrated ones: the false-alarm rate is no longer the calibration's
(issue 36 measured it: scoring every third frame of normal footage gave 5 false alarms where the calibration
promised 1). The watch warns once per camera when that happens in two reporting periods in a row (one slow period, such as
the first model call's warm-up, is not enough), and every ``stats:`` line says whether its period was below
(``below_calibration_rate``).
"""

from __future__ import annotations

from typing import Callable

from ..alarm.calibration import Calibration
from ..errors import warn

#: the share of the calibration's frame rate below which a scoring rate counts as too low
RATE_TOLERANCE = 0.8


class RateCheck:
    """Compares a camera's scoring rate with its calibration's frame rate; ``on_warning`` gets the one warning."""

    def __init__(self, calibration: Calibration, on_warning: Callable[[str], None] = warn) -> None:
        self.calibration = calibration
        self.on_warning = on_warning
        self.warned = False
        self.below_before = False  # whether the previous period was below

    def check(self, scoring_fps: float, dropped: int) -> dict[str, bool]:
        """``{"below_calibration_rate": ...}`` for a period scored at ``scoring_fps`` frames/s with ``dropped``
        frames dropped so far; warns (once) the first time the rate is below :data:`RATE_TOLERANCE` of the
        calibration's in two periods in a row."""
        expected = float(self.calibration.fps)
        below = 0 < scoring_fps < RATE_TOLERANCE * expected
        twice, self.below_before = below and self.below_before, below
        if twice and not self.warned:
            self.warned = True
            alarm = self.calibration.alarm
            budget = (f"{alarm.false_alarms_per_hour:g} per hour" if alarm.quantile is None
                      else f"its quantile {alarm.quantile:g}")
            self.on_warning(f"scoring {scoring_fps:.1f} frames/s ({dropped} frames dropped so far), below the "
                            f"{expected:g} frames/s the calibration was made at: each clip spans "
                            f"{expected / scoring_fps:.1f}x the time, so the calibrated false-alarm rate ({budget}) "
                            "no longer holds and is typically exceeded; score faster (device, score.runtime, fewer "
                            "cameras) or calibrate on footage at this rate")
        return {"below_calibration_rate": below}
