"""The interface every detector backend implements, and the loop that runs one over a frame store.

A detector takes consecutive frames of one video, uint8 (N, H, W, C), and returns per frame the
boxes (k, 4) x_min, y_min, x_max, y_max in pixels of those frames, scores (k,) and class ids (k,).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from ..data.boxes_io import BoxTable
from ..data.framestore import FrameStore


@dataclass(frozen=True)
class FrameDetections:
    """Detections of one frame: boxes float32 (k, 4), scores float32 (k,), class ids int32 (k,)."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    @classmethod
    def empty(cls) -> "FrameDetections":
        """No detections."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32))


class Detector(abc.ABC):
    """A detector backend. Subclasses set ``name``, ``batch_size`` and ``score_threshold``."""

    #: backend name written to the detections file
    name: str = ""
    #: frames per :meth:`detect` call
    batch_size: int = 1
    #: lowest score a kept detection can have (the tracker's default ``det_thresh``)
    score_threshold: float = 0.0

    def begin_video(self, store: FrameStore) -> None:
        """Prepare for a new video (stateful backends reset and warm up here); default: nothing."""

    @abc.abstractmethod
    def detect(self, frames: np.ndarray) -> list[FrameDetections]:
        """Detect objects in consecutive frames uint8 (N, H, W, C) of one video -> N results."""


def detect_store(detector: Detector, store: FrameStore, desc: str = "detect") -> BoxTable:
    """Run ``detector`` over every frame of ``store`` in order -> a "detections" :class:`BoxTable`.

    Rows hold frame index, box (frame-store pixels), score and class id (``ident``).
    """
    n, height, width, _ = store.shape
    detector.begin_video(store)
    frames, boxes, scores, classes = [], [], [], []
    with tqdm(total=n, desc=desc, unit="frame", disable=None) as bar:
        for start in range(0, n, detector.batch_size):
            batch = store[start : start + detector.batch_size]
            for offset, det in enumerate(detector.detect(batch)):
                frames.append(np.full(len(det.scores), start + offset, np.int32))
                boxes.append(det.boxes)
                scores.append(det.scores)
                classes.append(det.classes)
            bar.update(len(batch))
    table = BoxTable.empty(n, height, width, "detections")
    if frames:
        table.frame = np.concatenate(frames)
        table.box = np.concatenate(boxes).astype(np.float32).reshape(-1, 4)
        table.score = np.concatenate(scores).astype(np.float32)
        table.ident = np.concatenate(classes).astype(np.int32)
    return table
