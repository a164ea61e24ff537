"""Frame scores from error maps: the worst patch of a frame, and where it is (offline, causal and live scoring)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import DDLError


def patch_peaks(error: torch.Tensor, patch: int, shifted_grid: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame scores and the box of the patch that gives each.

    error: float (B, H, W). Returns (scores float (B,): the highest mean over patch x patch patches;
    boxes long (B, 4) as x0, y0, x1, y1 in error-map pixels, x1 and y1 exclusive). Patches tile the
    frame from its top-left corner (a partial patch at the right/bottom edge is left out, as
    avg_pool2d does); with ``shifted_grid`` the grid shifted by patch//2 in both directions competes
    too. DDLError when the patch is larger than the map.
    """
    if error.shape[-2] < patch or error.shape[-1] < patch:
        raise DDLError(f"config: key 'score.patch': patch {patch} exceeds frame size {tuple(error.shape[-2:])}")
    maps = error[:, None]

    def best_of(grid: torch.Tensor, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = F.avg_pool2d(grid, patch, stride=patch)
        columns = pooled.shape[-1]
        value, index = pooled.flatten(1).max(dim=1)
        y0 = torch.div(index, columns, rounding_mode="floor") * patch + offset
        x0 = (index % columns) * patch + offset
        return value, torch.stack([x0, y0, x0 + patch, y0 + patch], dim=1)

    scores, boxes = best_of(maps, 0)
    shift = patch // 2
    if shifted_grid and shift > 0 and min(maps.shape[-2:]) - shift >= patch:
        shifted, shifted_boxes = best_of(maps[..., shift:, shift:], shift)
        better = shifted > scores
        scores = torch.where(better, shifted, scores)
        boxes = torch.where(better[:, None], shifted_boxes, boxes)
    return scores, boxes


def patch_scores(error: torch.Tensor, patch: int, shifted_grid: bool) -> torch.Tensor:
    """error float (B, H, W) -> (B,) frame scores: the values of :func:`patch_peaks` without the boxes."""
    return patch_peaks(error, patch, shifted_grid)[0]
