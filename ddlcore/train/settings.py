"""The training stage's typed settings: the train section (see ddlcore.settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..settings import Section


@dataclass(frozen=True)
class TrainSettings(Section):
    """The ``train`` section of the configuration (meanings and defaults: the schema)."""

    SECTION: ClassVar[str] = "train"

    models: tuple[str, ...]
    ablation: bool
    epochs: int
    steps_per_epoch: int | None
    batch_size: int
    lr: float
    lr_anomaly_weight: float | None
    lr_step_fraction: float
    lr_gamma: float
    lambda_: float = field(metadata={"config_key": "lambda"})
    eps: float
    distinction: str
    l_init: float
    noise: str
    sdl_sigma: float
    joint_batchnorm: bool
    stacked_forward: bool
    pseudo_running_stats: bool
    empty_mask_batch: str
    ema_decay: float
    seed: int
    seeds: tuple[int, ...] | None
    workers: int
    device: str
    threads: int | None
    random_box_size: tuple[float, ...]
    channels_last: bool
    autocast_cpu: bool | str
    compile: bool | str
    compile_min_steps: int
    autocast_cuda: bool
    log_every: int
    cudnn_benchmark: bool
