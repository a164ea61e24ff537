"""The tracking and mask stage's typed settings: the track and masks sections (see ddlcore.settings), and the
window settings of the mask stage and the track summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from ..errors import DDLError
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


@dataclass(frozen=True)
class WindowSettings:
    """What the mask stage and the track summary read: the window length ``model.frames`` and the masks section.

    Built without :mod:`ddlcore.model` (and torch), so that the mask jobs' code is the tracking stage's alone.
    """

    frames: int
    masks: MasksSettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WindowSettings:
        """The window settings of a validated, default-filled configuration (``ddlcore.config.load_config``)."""
        if "model" not in config:
            raise DDLError("config: section 'model' is missing "
                           "(load the configuration with ddlcore.config.load_config)")
        return cls(frames=config["model"]["frames"], masks=MasksSettings.from_config(config))
