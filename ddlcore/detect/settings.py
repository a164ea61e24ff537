"""The detection stage's typed settings: the detect section (see ddlcore.settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

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
