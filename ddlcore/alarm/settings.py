"""The alarm stage's typed settings: the alarm section (see ddlcore.settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..settings import Section


@dataclass(frozen=True)
class AlarmSettings(Section):
    """The ``alarm`` section of the configuration (meanings and defaults: the schema)."""

    SECTION: ClassVar[str] = "alarm"

    false_alarms_per_hour: float
    quantile: float | None
    background: str
    background_windows: int
    smooth_frames: int
    hysteresis: float
    min_frames: int
    merge_gap: int
    fps: float
