"""The tracking and mask stage's typed settings: the track and masks sections (see ddlcore.settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..settings import Section


@dataclass(frozen=True)
class TrackSettings(Section):
    """The ``track`` section of the configuration (meanings and defaults: the schema)."""

    SECTION: ClassVar[str] = "track"

    det_thresh: float | None
    max_age: int
    min_hits: int
    iou_threshold: float
    delta_t: int
    inertia: float
    use_byte: bool
    low_thresh: float


@dataclass(frozen=True)
class MasksSettings(Section):
    """The ``masks`` section of the configuration (meanings and defaults: the schema)."""

    SECTION: ClassVar[str] = "masks"

    no_track: str
    min_box_size: int
