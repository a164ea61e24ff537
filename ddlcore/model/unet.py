"""The single-frame UNet baseline of the ablations: C3DSU's blocks without Conv3D, T = 1."""

from __future__ import annotations

from typing import Any

import torch

from .c3dsu import SkipUNet


class UNet(SkipUNet):
    """2D UNet reconstructing one frame. Given a clip with T > 1 it reads only the middle frame.

    ``forward(x)``: x float (B, C, T, H, W) -> (B, C, H, W); ``decode`` takes the middle of the T
    feature frames it is given.
    """

    def __init__(self, channels: int, model_cfg: dict[str, Any]) -> None:
        super().__init__(channels, 1, model_cfg, [False, False, False, False])

    def clip_frames(self, x: torch.Tensor) -> torch.Tensor:
        """The middle frame of a clip x (B, C, T, H, W) of any odd T, as (B, C, 1, H, W)."""
        mid = x.shape[2] // 2
        return x[:, :, mid : mid + 1]
