"""The data stage's typed settings: the dataset, frames, cameras and synthetic sections (see ddlcore.settings),
and :class:`DataSettings`, all the data stage reads of a configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

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
    fps: float | None
    train_hours: float | None


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


@dataclass(frozen=True)
class DataSettings:
    """What the data stage reads of a configuration: its four sections, the clip length ``model.frames`` and
    ``train.batch_size`` (the camera adapter drops footage shorter than a clip and checks each camera has
    enough footage for a batch)."""

    dataset: DatasetSettings
    frames: FramesSettings
    cameras: CamerasSettings
    synthetic: SyntheticSettings
    clip_frames: int
    batch_size: int
    #: where the camera adapter keeps the decoded frame counts of the footage it has seen (set by the workflow;
    #: None: counted afresh each time)
    footage_counts: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DataSettings:
        """The data settings of a validated, default-filled configuration (``ddlcore.config.load_config``)."""
        return cls(DatasetSettings.from_config(config), FramesSettings.from_config(config),
                   CamerasSettings.from_config(config), SyntheticSettings.from_config(config),
                   config["model"]["frames"], config["train"]["batch_size"])
