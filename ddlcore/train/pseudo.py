"""Pseudo-anomaly creator (paper section 3.1, eqs. 1-2) with the anomaly weight sigma(l).

    X_Abar = (1 - s) X + s A          (eq. 1), A uniform noise in [0, 1)
    X_A    = (1 - M) X + M X_Abar     (eq. 2), M the masks of one tracked object

Variants: ``ddl`` (l trainable), ``sdl`` (s fixed at ``train.sdl_sigma``), ``none`` (no pseudo
anomalies: reconstruction only).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import DDLError

VARIANTS = ("none", "sdl", "ddl")
NOISE_MODES = ("per_frame", "shared")


class AnomalyWeight(nn.Module):
    """The scalar l with s = sigma(l); trainable under ``ddl``, fixed under ``sdl`` and ``none``.

    ``l_init`` is l's start under ``ddl``; under ``sdl`` l = logit(``sdl_sigma``).
    """

    def __init__(self, variant: str, l_init: float, sdl_sigma: float) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise DDLError(f"unknown variant {variant!r} (expected one of {', '.join(VARIANTS)})")
        self.variant = variant
        start = l_init if variant == "ddl" else math.log(sdl_sigma / (1.0 - sdl_sigma))
        self.l = nn.Parameter(torch.tensor(float(start)), requires_grad=(variant == "ddl"))

    @property
    def creates_anomalies(self) -> bool:
        """False for ``none`` (no pseudo anomalies, no distinction loss)."""
        return self.variant != "none"

    def forward(self) -> torch.Tensor:
        """sigma(l), a 0-d tensor in (0, 1)."""
        return torch.sigmoid(self.l)


def draw_noise(shape: tuple[int, ...], mode: str, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """The noise A of eq. 1 for clips of ``shape`` (B, C, T, H, W): uniform in [0, 1).

    ``mode`` "per_frame" (paper) draws each of the T frames independently; "shared" draws one frame per
    clip and repeats it over T (a view), so the middle frame's noise is also in the frames around it.
    """
    if mode not in NOISE_MODES:
        raise DDLError(f"unknown noise mode {mode!r} (expected one of {', '.join(NOISE_MODES)})")
    b, c, t, h, w = shape
    drawn = torch.rand((b, c, t if mode == "per_frame" else 1, h, w), generator=generator, device=device)
    return drawn.expand(b, c, t, h, w)


def blend_noise(x: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Eq. 1: X_Abar = (1 - sigma) X + sigma A for x and noise of the same shape, sigma a scalar tensor."""
    return (1.0 - sigma) * x + sigma * noise


def pseudo_anomaly(x: torch.Tensor, mask: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Eq. 2: X_A = (1 - M) X + M X_Abar.

    x and noise (B, C, T, H, W); mask (B, 1 or C, T, H, W) in {0, 1} (broadcast over channels);
    sigma a 0-d tensor. Returns X_A, shaped like x; gradients flow to sigma.
    """
    return (1.0 - mask) * x + mask * blend_noise(x, noise, sigma)
