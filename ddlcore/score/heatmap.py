"""The error heatmap blended into a frame: what the overlay video of scored footage and the live page show."""

from __future__ import annotations

import cv2
import numpy as np

#: weight of the heatmap in the blend (the frame keeps the rest)
HEATMAP_WEIGHT = 0.35


def blend_heatmap(image: np.ndarray, error: np.ndarray, scale: float) -> np.ndarray:
    """RGB uint8 (h, w, 3) frame and float error map (H, W) -> RGB uint8 (h, w, 3) with the heatmap blended in.

    The map is resized to the frame; ``scale`` (> 0) is the error shown at the top of the JET colour scale.
    """
    h, w = image.shape[:2]
    level = np.clip(error.astype(np.float32) / max(scale, 1e-9), 0, 1)
    coloured = cv2.applyColorMap((level * 255).astype(np.uint8), cv2.COLORMAP_JET)
    heat = cv2.cvtColor(cv2.resize(coloured, (w, h), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(image, 1 - HEATMAP_WEIGHT, heat, HEATMAP_WEIGHT, 0)
