"""The evaluation stage's typed settings: the metrics section (see ddlcore.settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..settings import Section


@dataclass(frozen=True)
class MetricsSettings(Section):
    """The ``metrics`` section of the configuration (meanings and defaults: the schema)."""

    SECTION: ClassVar[str] = "metrics"

    normalise: bool
    median_window: int
    pixel_threshold: float
    summary_datasets: tuple[str, ...]
    region_iou: float
    track_fraction: float
    track_link_iou: float
    region_min_pixels: int
