"""Reconstruction and distinction losses (paper section 3.3, eqs. 3-7).

    L_recon = ||X^t - f(X)||,  P = ||M^t (X^t - f(X_A))||,  N = ||M^t (X_A^t - f(X_A))||
    L_dist = (P + eps) / (N + eps),  L = L_recon + lambda L_dist

Two readings of ||.|| and L_dist (``train.distinction``):

- ``norm_ratio`` (paper): ||v|| of one sample is its root-mean-square, ||v||_2 / sqrt(C H W)
  (the L2 norm scaled so that it does not grow with the frame size; P/N is unchanged by the scale).
  L_recon, P and N are batch means of per-sample norms; L_dist is the mean of the per-sample ratios
  (P_i + eps) / (N_i + eps) over the samples that have a mask.
- ``pixel_ratio`` (authors): e(v) per pixel = L2 norm over channels / sqrt(C), not squared.
  L_recon = mean of e over all pixels of the batch; P and N = means of e over masked pixels;
  L_dist = mean over masked pixels of the per-pixel ratio (e_P + eps) / (e_N + eps).

Samples without a mask (all-zero M^t) contribute no distinction term; a batch with no mask at all
has L_dist = 0 and P = N = NaN (reported, never added to the loss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

DISTINCTIONS = ("norm_ratio", "pixel_ratio")


@dataclass
class LossTerms:
    """The loss and its terms for one batch (0-d tensors; p, n and l_dist only meaningful with masks)."""

    loss: torch.Tensor
    l_recon: torch.Tensor
    p: torch.Tensor
    n: torch.Tensor
    l_dist: torch.Tensor


def sample_rms(v: torch.Tensor) -> torch.Tensor:
    """Per-sample root-mean-square: v (B, C, H, W) -> (B,)."""
    return v.flatten(1).pow(2).mean(dim=1).sqrt()


def pixel_norm(v: torch.Tensor) -> torch.Tensor:
    """Per-pixel L2 norm over channels divided by sqrt(C): v (B, C, H, W) -> (B, H, W)."""
    return torch.linalg.vector_norm(v, dim=1) / math.sqrt(v.shape[1])


def reconstruction_loss(target: torch.Tensor, recon: torch.Tensor, distinction: str) -> torch.Tensor:
    """L_recon for target middle frames and reconstructions (B, C, H, W) in the ``distinction`` reading."""
    if distinction == "pixel_ratio":
        return pixel_norm(target - recon).mean()
    return sample_rms(target - recon).mean()


def masked_means(p: torch.Tensor, n: torch.Tensor, weight: torch.Tensor,
                 eps: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Means of p, n and (p + eps) / (n + eps) over the entries where ``weight`` (0 or 1, shaped like p and n) is 1.

    Returns 0-d tensors P, N (NaN when no entry counts) and L_dist (0 when none counts, with zero gradients).
    Computed on the device as weighted sums: no host-device synchronisation, no data-dependent shapes.
    """
    count = weight.sum()
    denominator = count.clamp_min(1)
    l_dist = (((p + eps) / (n + eps)) * weight).sum() / denominator
    nan = torch.full_like(count, float("nan"))
    some = count > 0
    p_mean = torch.where(some, (p * weight).sum() / denominator, nan)
    n_mean = torch.where(some, (n * weight).sum() / denominator, nan)
    return p_mean, n_mean, l_dist


def distinction_terms(target: torch.Tensor, anomalous: torch.Tensor, recon_anomalous: torch.Tensor,
                      mask: torch.Tensor, eps: float, distinction: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """P, N and L_dist (0-d tensors) for one batch.

    target X^t, anomalous X_A^t, recon_anomalous f(X_A): (B, C, H, W); mask M^t (B, 1 or C, H, W) in {0, 1}.
    """
    m = mask.expand_as(target)
    if distinction == "pixel_ratio":
        e_p = pixel_norm(m * (target - recon_anomalous))
        e_n = pixel_norm(m * (anomalous - recon_anomalous))
        return masked_means(e_p, e_n, (m.amax(dim=1) > 0).to(e_p.dtype), eps)
    has_mask = mask.flatten(1).amax(dim=1) > 0
    # a sample without a mask gets norms of ones instead of zeros: the square root's gradient stays finite
    keep = has_mask.view(-1, *([1] * (target.dim() - 1)))
    p_i = sample_rms(torch.where(keep, m * (target - recon_anomalous), 1.0))
    n_i = sample_rms(torch.where(keep, m * (anomalous - recon_anomalous), 1.0))
    return masked_means(p_i, n_i, has_mask.to(p_i.dtype), eps)


def ddl_loss(target: torch.Tensor, recon: torch.Tensor, anomalous: torch.Tensor | None,
             recon_anomalous: torch.Tensor | None, mask: torch.Tensor | None, lam: float, eps: float,
             distinction: str) -> LossTerms:
    """L = L_recon + lambda L_dist (eq. 3) with its terms; without pseudo anomalies (None) L = L_recon.

    All frame tensors (B, C, H, W): X^t, f(X), X_A^t, f(X_A); mask M^t (B, 1 or C, H, W).
    """
    l_recon = reconstruction_loss(target, recon, distinction)
    if anomalous is None or recon_anomalous is None or mask is None:
        nan = torch.full((), float("nan"), device=target.device)
        return LossTerms(l_recon, l_recon, nan, nan, torch.zeros((), device=target.device))
    p, n, l_dist = distinction_terms(target, anomalous, recon_anomalous, mask, eps, distinction)
    return LossTerms(l_recon + lam * l_dist, l_recon, p, n, l_dist)
