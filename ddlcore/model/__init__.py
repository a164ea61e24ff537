"""Reconstruction models: C3DSU (Conv3D skip connections over T frames) and the single-frame UNet."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..errors import DDLError
from .blocks import SplitBatchNorm2d
from .c3dsu import C3DSU
from .checkpoint import load_trained_model, save_trained_model
from .settings import ModelSettings
from .unet import UNet

ARCHS = ("c3dsu", "unet")
#: the BatchNorm layers whose statistics the context managers below steer
BATCHNORM_KINDS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)

__all__ = ["ARCHS", "C3DSU", "UNet", "build_model", "frozen_batchnorm_statistics", "load_trained_model",
           "save_trained_model", "split_batchnorm", "use_channels_last"]


def build_model(arch: str, model: ModelSettings, channels: int) -> nn.Module:
    """A new model. ``arch`` "c3dsu" | "unet"; ``model`` the ``model`` settings; channels 1 or 3.

    C3DSU reads clips of ``model.frames`` (odd) frames (with ``model.input`` "neighbours" it
    encodes all but the middle one); UNet reads T = 1 (the middle frame).
    ``forward(x)``: x float (B, channels, T, H, W) in [0, 1], H and W divisible by 16 -> (B, channels, H, W).
    """
    if channels not in (1, 3):
        raise DDLError(f"model: channels must be 1 or 3, got {channels}")
    if arch == "c3dsu":
        frames = int(model.frames)
        if frames < 1 or frames % 2 != 1:
            raise DDLError(f"config: key 'model.frames': clip length must be odd, got {frames}")
        return C3DSU(channels, frames, model)
    if arch == "unet":
        return UNet(channels, model)
    raise DDLError(f"unknown model architecture {arch!r} (expected one of {', '.join(ARCHS)})")


def use_channels_last(model: nn.Module) -> None:
    """Store the model's 2D convolution weights channels-last and have it feed them channels-last input.

    On CPU this makes a training step of C3DSU about 2x faster (benchmarks/bench_train.py); Conv3d
    weights stay as they are (the temporal skips run as 2D convolutions on reshaped features).
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.to(memory_format=torch.channels_last)
    model.channels_last = True


@contextmanager
def frozen_batchnorm_statistics(model: nn.Module, enabled: bool = True) -> Iterator[None]:
    """Within the block, forwards in train mode normalise by batch statistics but leave the running ones as they are.

    Each BatchNorm layer's momentum is set to 0 (running = running) and restored on exit. ``enabled`` False
    changes nothing.
    """
    layers = [m for m in model.modules() if isinstance(m, BATCHNORM_KINDS)] if enabled else []
    saved = [m.momentum for m in layers]
    for m in layers:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, momentum in zip(layers, saved):
            m.momentum = momentum


@contextmanager
def split_batchnorm(model: nn.Module, part_updates: tuple[bool, ...], enabled: bool = True) -> Iterator[None]:
    """Within the block, training forwards of ``model`` take a batch of k = len(part_updates) stacked parts.

    Every :class:`~ddlcore.model.blocks.SplitBatchNorm2d` normalises each part by its own batch statistics, and
    updates its running statistics with part i only where ``part_updates[i]``: the same as k forwards of the
    parts in order (with the others under :func:`frozen_batchnorm_statistics`), in one forward. Raises DDLError
    if the model holds another kind of BatchNorm, which would mix the parts. ``enabled`` False changes nothing
    (the batch is normalised as one).
    """
    layers = [m for m in model.modules() if isinstance(m, BATCHNORM_KINDS)] if enabled else []
    if any(not isinstance(m, SplitBatchNorm2d) for m in layers):
        raise DDLError(f"split_batchnorm: {type(model).__name__} has BatchNorm layers that cannot split a batch")
    for m in layers:
        m.part_updates = tuple(part_updates)
    try:
        yield
    finally:
        for m in layers:
            m.part_updates = None
