"""Live watching's typed settings: the live, deployment and record sections (see ddlcore.settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Mapping

from ..settings import Section


@dataclass(frozen=True)
class LiveSettings(Section):
    """The ``live`` section of the configuration (meanings and defaults: the schema)."""

    SECTION: ClassVar[str] = "live"

    reconnect_delay_s: float
    reconnect_attempts: int | None
    open_timeout_s: float
    max_backlog: int
    folder_poll_s: float
    stats_every_s: float
    curve_frames: int
    page_events: int
    page_threads: int
    page_timeout_s: float
    page_connections: int
    folder_settle_s: float
    event_before_s: float
    event_after_s: float
    event_clip_width: int
    event_queue_frames: int


@dataclass(frozen=True)
class DeploymentSettings(Section):
    """The ``deployment`` section of the configuration (meanings and defaults: the schema)."""

    SECTION: ClassVar[str] = "deployment"

    sources: Mapping[str, str | int]


@dataclass(frozen=True)
class RecordSettings(Section):
    """The ``record`` section of the configuration (meanings and defaults: the schema)."""

    SECTION: ClassVar[str] = "record"

    segment_s: float
    fourcc: str
    suffix: str
    default_fps: float
