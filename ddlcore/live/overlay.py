"""The live overlay: a frame with its error heatmap, the worst patch's box and the score against the threshold;
and the overlay video file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..alarm.events import scale_box
from ..errors import DDLError
from ..score.heatmap import blend_heatmap


def overlay_frame(image: np.ndarray, error: np.ndarray, score: float, threshold: float, box: list[int],
                  alarmed: bool) -> np.ndarray:
    """RGB uint8 (h, w, 3) frame -> RGB uint8 (h, w, 3) overlay.

    error: float (H, W) per-pixel error at the model's size, coloured so that the threshold maps to
    the top of the colour scale; box: x0, y0, x1, y1 in model pixels, drawn red while alarmed,
    yellow otherwise; a red border marks an alarm.
    """
    h, w = image.shape[:2]
    out = blend_heatmap(image, error, threshold)
    colour = (255, 40, 40) if alarmed else (255, 220, 0)
    x0, y0, x1, y1 = scale_box(box, error.shape[:2], (h, w))
    cv2.rectangle(out, (x0, y0), (max(x0, x1 - 1), max(y0, y1 - 1)), colour, max(1, h // 120))
    if alarmed:
        cv2.rectangle(out, (0, 0), (w - 1, h - 1), (255, 40, 40), max(2, h // 60))
    text = f"{score:.4g} / {threshold:.4g}"
    cv2.putText(out, text, (4, max(12, h // 16)), cv2.FONT_HERSHEY_SIMPLEX, max(0.35, h / 600), (255, 255, 255), 1,
                cv2.LINE_AA)
    return out


class OverlayWriter:
    """Writes overlay frames to a video file (.mp4: mp4v, anything else: MJPG) at the source's frame rate."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = fps
        self.size: tuple[int, int] | None = None
        self.writer: cv2.VideoWriter | None = None

    def write(self, rgb: np.ndarray) -> None:
        """Append one RGB uint8 (h, w, 3) frame (resized to the first frame's size if the source changed size)."""
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix.lower() == ".mp4" else "MJPG"))
            self.size = (rgb.shape[1], rgb.shape[0])
            self.writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, self.size)
            if not self.writer.isOpened():
                raise DDLError(f"{self.path}: OpenCV cannot write this video (try .avi or .mp4)")
        if (rgb.shape[1], rgb.shape[0]) != self.size:
            rgb = cv2.resize(rgb, self.size)
        self.writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        """Finish the file."""
        if self.writer is not None:
            self.writer.release()
