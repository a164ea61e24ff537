"""The single-frame UNet baseline of the ablations: C3DSU's blocks without Conv3D, T = 1."""

from __future__ import annotations

import torch

from .c3dsu import SkipUNet
from .settings import ModelSettings


class UNet(SkipUNet):
    """2D UNet reconstructing one frame. Given a clip with T > 1 it reads only the middle frame.

    ``model``: the ``model`` settings (its ``frames`` and ``input`` are not read).
    ``forward(x)``: x float (B, C, T, H, W) -> (B, C, H, W); ``decode`` takes the middle of the T
    feature frames it is given.
    """

    def __init__(self, channels: int, model: ModelSettings) -> None:
        super().__init__(channels, 1, model, [False, False, False, False])

    def clip_frames(self, x: torch.Tensor) -> torch.Tensor:
        """The middle frame of a clip x (B, C, T, H, W) of any odd T, as (B, C, 1, H, W)."""
        mid = x.shape[2] // 2
        return x[:, :, mid : mid + 1]
