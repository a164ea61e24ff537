"""Background-subtraction detector for fixed cameras (OpenCV MOG2 or KNN), needing no weights.

Per frame: foreground mask from the background model (shadow pixels dropped), morphological
opening (removes specks) then closing (fills holes), connected components (8-connected); a
component is kept when its area lies in [min_area, max_area_fraction * H * W] pixels and it fills
at least ``min_fill`` of its bounding box. Score = that fill fraction; class id 0.
Before a video's first frame is detected, the model is warmed up by ``warmup_passes`` passes over
the video's first ``history`` frames with their moving objects removed (pixels far from the
per-pixel temporal median, beyond 3 robust standard deviations plus 2 grey levels, are replaced by
the median), so objects present from the start, or passing slowly, are not learnt as background.
Detection then learns at the fixed rate 1 / ``history``: an object must cover a pixel for about a
tenth of ``history`` frames before it fades into the background.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..data.framestore import FrameStore
from .base import Detector, FrameDetections
from .settings import BgsubSettings

#: frames read from the store per call (I/O granularity only; detection is frame by frame)
READ_BATCH = 64


class BackgroundSubtractionDetector(Detector):
    """``detect.bgsub`` settings -> a stateful per-video background-subtraction detector."""

    name = "bgsub"
    batch_size = READ_BATCH

    def __init__(self, settings: BgsubSettings) -> None:
        self.settings = settings
        self.score_threshold = float(settings.min_fill)
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (settings.open_kernel,) * 2)
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (settings.close_kernel,) * 2)
        self._model = self._new_model()

    def _new_model(self) -> cv2.BackgroundSubtractor:
        """A fresh OpenCV background model with shadow detection on (shadows are dropped later)."""
        if self.settings.method == "knn":
            return cv2.createBackgroundSubtractorKNN(history=self.settings.history, detectShadows=True)
        return cv2.createBackgroundSubtractorMOG2(
            history=self.settings.history, varThreshold=self.settings.var_threshold, detectShadows=True)

    def begin_video(self, store: FrameStore) -> None:
        """Reset the background model and warm it up on the video's first ``history`` frames."""
        self._model = self._new_model()
        if self.settings.warmup_passes > 0:
            first = background_frames(store[: min(len(store), self.settings.history)])
            for _ in range(self.settings.warmup_passes):
                for frame in first:
                    self._model.apply(_as_image(frame))

    def foreground(self, frame: np.ndarray) -> np.ndarray:
        """Update the model with ``frame`` (H, W, C) uint8 -> cleaned foreground mask uint8 (H, W) in {0, 1}."""
        raw = self._model.apply(_as_image(frame), learningRate=1.0 / self.settings.history)
        mask = (raw == 255).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open)
        return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._close)

    def detect(self, frames: np.ndarray) -> list[FrameDetections]:
        """Consecutive frames uint8 (N, H, W, C) -> per frame the kept components' boxes and fill scores."""
        return [self._components(self.foreground(frame)) for frame in frames]

    def _components(self, mask: np.ndarray) -> FrameDetections:
        """Connected components of ``mask`` (H, W) passing the size and fill filters."""
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        stats = stats[1:].astype(np.float32)  # row 0 is the background
        x, y, w, h, area = stats.T
        fill = area / np.maximum(w * h, 1.0)
        max_area = self.settings.max_area_fraction * mask.shape[0] * mask.shape[1]
        keep = (area >= self.settings.min_area) & (area <= max_area) & (fill >= self.score_threshold)
        if not keep.any():
            return FrameDetections.empty()
        boxes = np.stack([x, y, x + w, y + h], axis=1)[keep]
        return FrameDetections(boxes.astype(np.float32), fill[keep].astype(np.float32),
                               np.zeros(int(keep.sum()), np.int32))


def background_frames(frames: np.ndarray) -> np.ndarray:
    """Frames uint8 (n, H, W, C) with moving objects replaced by the per-pixel temporal median.

    A pixel counts as moving where it differs from the median by more than 3 robust standard
    deviations (1.4826 * median absolute deviation over time) plus 2 grey levels.
    """
    median = np.median(frames, axis=0)
    deviation = np.abs(frames.astype(np.float32) - median)
    spread = 3.0 * 1.4826 * np.median(deviation, axis=0) + 2.0
    return np.where(deviation > spread, median, frames).astype(np.uint8)


def _as_image(frame: np.ndarray) -> np.ndarray:
    """(H, W, 1) gray -> (H, W); (H, W, 3) unchanged (OpenCV's models take both)."""
    return frame[:, :, 0] if frame.ndim == 3 and frame.shape[2] == 1 else frame
