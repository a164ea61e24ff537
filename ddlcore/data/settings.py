"""The data stage's typed settings: the dataset, frames, cameras and synthetic sections (see ddlcore.settings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..settings import Section


@dataclass(frozen=True)
class DatasetSettings(Section):
    """The ``dataset`` section of the configuration (meanings and defaults: the schema)."""

    SECTION: ClassVar[str] = "dataset"

    name: str
    root: str
    labels: str
    labels_file: str | None
    scenes: tuple[str, ...] | None


@dataclass(frozen=True)
class FramesSettings(Section):
    """The ``frames`` section of the configuration (meanings and defaults: the schema)."""

    SECTION: ClassVar[str] = "frames"

    height: int
    width: int
    channels: int


@dataclass(frozen=True)
class CamerasSettings(Section):
    """The ``cameras`` section of the configuration (meanings and defaults: the schema)."""

    SECTION: ClassVar[str] = "cameras"

    calibration_share: float
    folder_fps: float


@dataclass(frozen=True)
class AnomalySpeedSettings(Section):
    """The ``synthetic.anomaly_speed`` section of the configuration (meanings and defaults: the schema)."""

    cart: tuple[float, ...]
    cyclist: tuple[float, ...]
    runner: tuple[float, ...]
    erratic: tuple[float, ...]


@dataclass(frozen=True)
class SyntheticSettings(Section):
    """The ``synthetic`` section of the configuration (meanings and defaults: the schema)."""

    SECTION: ClassVar[str] = "synthetic"

    seed: int
    scenes: int
    train_videos: int
    test_videos: int
    frames: int
    height: int
    width: int
    fps: float
    person_height: tuple[float, ...]
    horizon_band: tuple[float, ...]
    walkways: tuple[int, ...]
    occluders: tuple[int, ...]
    pedestrian_rate: float
    walk_speed: tuple[float, ...]
    anomaly_kinds: tuple[str, ...]
    anomaly_speed: AnomalySpeedSettings
    erratic_jitter_deg: float
    anomalies_per_video: tuple[int, ...]
    abnormal_fraction: tuple[float, ...]
    noise_std: float
    flicker: float
    exposure: float
    visible_alpha: float
    supersample: int
