"""The model's typed settings: the model section (see ddlcore.settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..settings import Section


@dataclass(frozen=True)
class ModelSettings(Section):
    """The ``model`` section of the configuration (meanings and defaults: the schema)."""

    SECTION: ClassVar[str] = "model"

    frames: int
    widths: tuple[int, ...]
    heads: tuple[int, ...]
    resize: str
    post_conv_kernel: int
    conv3d_bottleneck: bool
    input: str
    coarse_levels: int
    output: str
