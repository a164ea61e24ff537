"""Generated camera roots for the cameras dataset tests: squares walking over a textured background,
written as video files and frame folders in ``<root>/<camera>/normal`` and ``test``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def walking_frames(n: int, height: int, width: int, seed: int, fast_from: int | None = None) -> np.ndarray:
    """uint8 (n, height, width, 3): a fixed noisy background with a small square walking right; from
    frame ``fast_from`` on, a larger square runs left (the anomaly)."""
    rng = np.random.default_rng(seed)
    background = rng.integers(60, 120, size=(height, width, 3), dtype=np.uint8)
    frames = np.repeat(background[None], n, axis=0)
    side = max(3, height // 8)
    for i in range(n):
        x = (2 * i) % (width - side)
        y = height // 2
        frames[i, y : y + side, x : x + side] = 230
        if fast_from is not None and i >= fast_from:
            big = 2 * side
            fx = max(0, width - big - (6 * (i - fast_from)) % width)
            frames[i, 4 : 4 + big, fx : fx + big] = 20
    return frames


def write_video(path: Path, frames: np.ndarray, fps: float = 10.0) -> Path:
    """Write RGB ``frames`` as an MJPG .avi at ``fps``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_frame_folder(folder: Path, frames: np.ndarray) -> Path:
    """Write RGB ``frames`` as ``0000.png`` ... into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:04d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


def make_camera_root(root: Path, normal_frames: int = 60, size: tuple[int, int] = (48, 64)) -> Path:
    """Two cameras under ``root``: ``entrance`` (a video file and a frame folder of another size in
    normal/, one test clip abnormal from frame 20 with its labels.csv) and ``yard`` (normal/ only)."""
    h, w = size
    write_video(root / "entrance" / "normal" / "seg-01.avi", walking_frames(normal_frames, h, w, seed=1))
    write_frame_folder(root / "entrance" / "normal" / "seg-02", walking_frames(normal_frames // 2, h + 8, w + 16, seed=2))
    write_video(root / "entrance" / "test" / "clip01.avi", walking_frames(40, h, w, seed=3, fast_from=20))
    (root / "entrance" / "test" / "labels.csv").write_text("clip,start,end,unit\nclip01.avi,20,39,frames\n")
    write_video(root / "yard" / "normal" / "morning.avi", walking_frames(normal_frames, h, w, seed=4))
    return root
