"""The detection stage's typed settings: the detect section (see ddlcore.settings), and :class:`DetectRunSettings`,
all ``ddl detect`` reads of a configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from ..data.settings import DataSettings
from ..settings import Section


@dataclass(frozen=True)
class BgsubSettings(Section):
    """The ``detect.bgsub`` section of the configuration (meanings and defaults: the schema)."""

    method: str
    history: int
    var_threshold: float
    warmup_passes: int
    open_kernel: int
    close_kernel: int
    min_area: int
    max_area_fraction: float
    min_fill: float


@dataclass(frozen=True)
class FasterrcnnSettings(Section):
    """The ``detect.fasterrcnn`` section of the configuration (meanings and defaults: the schema)."""

    model: str
    weights: str
    batch_size: int
    min_size: int
    max_size: int
    device: str


@dataclass(frozen=True)
class DetectSettings(Section):
    """The ``detect`` section of the configuration (meanings and defaults: the schema)."""

    SECTION: ClassVar[str] = "detect"

    backend: str
    source: str
    max_side: int
    score_threshold: float
    classes: tuple[int, ...]
    bgsub: BgsubSettings
    fasterrcnn: FasterrcnnSettings


@dataclass(frozen=True)
class DetectRunSettings:
    """What detecting one video reads of a configuration: the detect section and the data settings that open
    its dataset (for ``detect.source: dataset``)."""

    detect: DetectSettings
    data: DataSettings

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DetectRunSettings:
        """The settings of a validated, default-filled configuration (``ddlcore.config.load_config``)."""
        return cls(DetectSettings.from_config(config), DataSettings.from_config(config))
