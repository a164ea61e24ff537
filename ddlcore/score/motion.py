"""Motion in the anomaly map: dense optical-flow speed beside the reconstruction error.

A reconstruction score measures how *much* the model fails, which on a crowded camera follows how many
people are in view; a stampede, a runner among walkers or a cyclist on a footpath differ from the everyday
by how *fast* things move. With ``score.motion_weight`` w > 0 the per-pixel anomaly map of a window is

    error(x, y) = ||x_t - f(X)||_2 / sqrt(C)  +  w * |flow(x_{t-1} -> x_t)(x, y)|

where the flow is OpenCV's dense Farneback optical flow between the frame before the window's middle frame
and the middle frame, in pixels per frame at the model's frame size (so the term depends on the camera's
analysis rate: train, calibrate and watch at one rate). Everything after the map is unchanged: the region of
interest, the background map (a pixel where things always move, such as a road, loses its usual speed
there), patch pooling, boxes, thresholds and events. w = 0 (the default) is the paper's score, bit for bit.
The flow runs on the CPU whatever the model's device.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ..errors import DDLError

#: Farneback parameters: pyramid scale, levels, window, iterations, poly_n, poly_sigma, flags
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)


def gray_frames(frames: torch.Tensor) -> np.ndarray:
    """float (B, C, H, W) in [0, 1] (C = 1 or 3, RGB) -> uint8 (B, H, W) gray, on the CPU."""
    pixels = frames.detach().float().mul(255.0).round_().clamp_(0, 255).to(torch.uint8).cpu().numpy()
    if pixels.shape[1] == 1:
        return pixels[:, 0]
    return np.stack([cv2.cvtColor(np.ascontiguousarray(p.transpose(1, 2, 0)), cv2.COLOR_RGB2GRAY) for p in pixels])


def flow_speed(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Per-pixel optical-flow speed from ``previous`` to ``current``: uint8 (B, H, W) each -> float32 (B, H, W),
    pixels per frame."""
    speeds = np.empty(current.shape, np.float32)
    for i, (a, b) in enumerate(zip(previous, current)):
        flow = cv2.calcOpticalFlowFarneback(a, b, None, *FARNEBACK)
        speeds[i] = cv2.magnitude(flow[..., 0], flow[..., 1])
    return speeds


def motion_error(previous: torch.Tensor, current: torch.Tensor, weight: float) -> torch.Tensor | None:
    """The motion term of the anomaly map: ``weight`` x flow speed from ``previous`` to ``current``.

    previous, current: float (B, C, H, W) in [0, 1] (the frame before each window's middle frame, and the middle
    frame). Returns float (B, H, W) on their device, or None when ``weight`` is 0 (no motion term).
    """
    if weight == 0:
        return None
    speed = flow_speed(gray_frames(previous), gray_frames(current))
    return torch.from_numpy(speed).to(current.device).mul_(float(weight))


def check_motion_clip(weight: float, clip: int) -> None:
    """DDLError when a motion term is asked of a model whose window has no frame before its middle one."""
    if weight and clip < 3:
        raise DDLError(f"score.motion_weight {weight:g} needs a model reading at least 3 frames (model.frames is "
                       f"{clip}): the motion term is the flow into the window's middle frame")
