"""The scoring stage's typed settings: the score section (see ddlcore.settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..settings import Section


@dataclass(frozen=True)
class ScoreSettings(Section):
    """The ``score`` section of the configuration (meanings and defaults: the schema)."""

    SECTION: ClassVar[str] = "score"

    patch: int
    shifted_grid: bool
    background: str
    border: str
    batch_size: int
    device: str
    share_encoder: bool
    save_maps: bool
    map_stride: int
    region_level: float
    region_max: int
    autocast_cuda: bool
    cudnn_benchmark: bool
    runtime: str
    precision: str
    motion_weight: float
    gate: bool
    gate_margin: float
