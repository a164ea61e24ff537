"""Live watching's typed settings: the live, deployment and record sections (see ddlcore.settings), and
:class:`WatchSettings`, the sections a watch reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from ..alarm.settings import AlarmSettings
from ..score.settings import ScoreSettings
from ..settings import Section
from .outputs.settings import OutputSettings


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
    page_request_s: float
    max_cameras: int


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


@dataclass(frozen=True)
class WatchSettings:
    """What ``ddl watch`` reads: the ``live`` section, the ``score`` one (scoring device, runtime, encoder
    sharing), the ``alarm`` one (``fps``: the frame rate assumed for a source that reports none), the
    ``outputs`` one (MQTT, webhooks) and the analysis rate ``cameras.fps``."""

    live: LiveSettings
    score: ScoreSettings
    alarm: AlarmSettings
    outputs: OutputSettings
    #: ``cameras.fps``: the analysis rate a source is resampled to (None: its own; a deployed camera's trained
    #: config sets its own, which this must not contradict)
    analysis_fps: float | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WatchSettings:
        """The four sections of a validated, default-filled configuration (``ddlcore.config.load_config``), and
        its ``cameras.fps``."""
        return cls(LiveSettings.from_config(config), ScoreSettings.from_config(config), AlarmSettings.from_config(config),
                   OutputSettings.from_config(config), config["cameras"]["fps"])
