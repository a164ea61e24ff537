"""Speed of the detection, tracking and mask stages (prints figures; not a test).

- detection frames/s per backend on a moving-rectangles video: background subtraction, and the
  torchvision Faster R-CNN with random weights (speed does not depend on the weights) at its
  default 800 px resize and at the frame size, on the CPU and on a GPU when present;
- OC-SORT frames/s with 20 objects per frame on one CPU core (process CPU time, so other load on
  the machine does not count);
- time to draw one training window's masks from a mask cache (random centre, random common track).

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_detect_track.py [--size 256] [--frames 200]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from ddlcore.config import load_config
from ddlcore.data.framestore import FrameStore, write_frame_store
from ddlcore.detect.base import detect_store
from ddlcore.detect.bgsub import BackgroundSubtractionDetector
from ddlcore.detect.settings import DetectSettings
from ddlcore.track.mask_cache import MaskCache, write_mask_cache
from ddlcore.track.ocsort import OCSort, OCSortParams
from ddlcore.track.run import track_table


def moving_rectangles(n: int, size: int, objects: int, seed: int = 0) -> np.ndarray:
    """uint8 (n, size, size, 3): textured background, ``objects`` rectangles bouncing around, noise."""
    rng = np.random.default_rng(seed)
    background = cv2.GaussianBlur(rng.uniform(40, 200, (size, size, 3)).astype(np.float32), (0, 0), 4)
    pos = rng.uniform(0, size * 0.85, (objects, 2))
    vel = rng.uniform(-1.5, 1.5, (objects, 2)) * size / 128
    dims = rng.uniform(0.05, 0.12, (objects, 2)) * size
    colours = rng.uniform(0, 255, (objects, 3))
    frames = np.empty((n, size, size, 3), np.uint8)
    for t in range(n):
        img = background + rng.normal(0, 2, background.shape)
        for (x, y), (w, h), c in zip(pos, dims, colours):
            img[int(y) : int(y + h), int(x) : int(x + w)] = c
        frames[t] = np.clip(img, 0, 255)
        pos += vel
        bounce = (pos < 0) | (pos + dims > size)
        vel[bounce] *= -1
        pos = np.clip(pos, 0, size - dims)
    return frames


def detection_speed(store: Path, frames: int, size: int) -> None:
    cfg = DetectSettings.from_config(load_config(None, None))
    with FrameStore(store) as s:
        start = time.perf_counter()
        table = detect_store(BackgroundSubtractionDetector(cfg.bgsub), s)
        elapsed = time.perf_counter() - start
    print(f"detect bgsub        CPU  {size}x{size}: {frames / elapsed:8.1f} frames/s "
          f"(warm-up included; {len(table) / frames:.1f} detections/frame)")
    from ddlcore.detect.fasterrcnn import FasterRCNNDetector

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for min_size, max_size, n in ((800, 1333, 2 if device == "cpu" else 40), (size, size, 4 if device == "cpu" else 100)):
            fc = dataclasses.replace(cfg.fasterrcnn, weights="none", device=device, min_size=min_size, max_size=max_size)
            detector = FasterRCNNDetector(dataclasses.replace(cfg, score_threshold=0.5, fasterrcnn=fc))
            with FrameStore(store) as s:
                batch = s[: fc.batch_size]
                detector.detect(batch)  # warm-up
                if device == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                done = 0
                while done < n:
                    detector.detect(s[done % (frames - fc.batch_size) :][: fc.batch_size])
                    done += fc.batch_size
                if device == "cuda":
                    torch.cuda.synchronize()
                elapsed = time.perf_counter() - start
            print(f"detect fasterrcnn   {device.upper():4} {size}x{size} resized to {min_size}: "
                  f"{done / elapsed:8.2f} frames/s (batch {fc.batch_size}, {torch.get_num_threads()} threads)")


def synthetic_detections(n_frames: int, n_objects: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per frame (boxes (k, 4), scores (k,)) of ``n_objects`` noisy linear trajectories, 5% missed."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(0, 900, (n_objects, 2))
    vel = rng.uniform(-2, 2, (n_objects, 2))
    size = rng.uniform(20, 60, (n_objects, 2))
    out = []
    for t in range(n_frames):
        c = start + vel * t + rng.normal(0, 0.5, (n_objects, 2))
        keep = rng.random(n_objects) > 0.05
        boxes = np.concatenate([c - size / 2, c + size / 2], axis=1)[keep]
        out.append((boxes, rng.uniform(0.6, 1.0, int(keep.sum()))))
    return out


def tracking_speed(n_frames: int = 2000, n_objects: int = 20) -> None:
    frames = synthetic_detections(n_frames, n_objects)
    tracker = OCSort(OCSortParams())
    cpu, wall = time.process_time(), time.perf_counter()
    ids = set()
    for boxes, scores in frames:
        ids.update(tracker.update(boxes, scores)[1].tolist())
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"track OC-SORT        {n_objects} objects/frame: {n_frames / cpu:8.0f} frames/s per CPU second "
          f"({n_frames / wall:.0f} frames/s wall; {len(ids)} track ids for {n_objects} objects)")


def mask_draw_time(tmp: Path, size: int, n_frames: int = 1000, n_objects: int = 20, window: int = 3) -> None:
    from ddlcore.data.boxes_io import BoxTable

    frames = synthetic_detections(n_frames, n_objects, seed=1)
    detections = BoxTable.empty(n_frames, 1000, 1000, "detections")
    detections.frame = np.concatenate([np.full(len(b), t, np.int32) for t, (b, _) in enumerate(frames)])
    detections.box = (np.concatenate([b for b, _ in frames]) * size / 1000).astype(np.float32)
    detections.score = np.concatenate([s for _, s in frames]).astype(np.float32)
    detections.ident = np.zeros(len(detections.frame), np.int32)
    detections.height = detections.width = size
    tracks = track_table(detections, OCSortParams(det_thresh=0.5))
    write_mask_cache(tmp / "masks.h5", tracks, window)
    rng = np.random.default_rng(0)
    with MaskCache(tmp / "masks.h5") as cache:
        centres = cache.centres_with_tracks()
        draws = 500
        start = time.perf_counter()
        for _ in range(draws):
            c = int(rng.choice(centres))
            tid = int(rng.choice(cache.tracks_in_window(c)))
            cache.window_mask(c, tid)
        elapsed = time.perf_counter() - start
    print(f"masks draw one window (T={window}, {size}x{size}): {elapsed / draws * 1e3:8.3f} ms "
          f"({len(centres)} of {n_frames} centres have a common track)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="frame size (square) for detection and masks")
    parser.add_argument("--frames", type=int, default=200, help="frames of the detection video")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "video.h5"
        write_frame_store(store, iter(moving_rectangles(args.frames, args.size, 8)), args.frames, args.size, args.size,
                          3, {"source": "benchmark", "original_height": args.size, "original_width": args.size, "fps": 25})
        tracking_speed()
        mask_draw_time(Path(tmp), args.size)
        detection_speed(store, args.frames, args.size)


if __name__ == "__main__":
    main()
