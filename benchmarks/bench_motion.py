"""CPU cost of the motion term (``score.motion_weight``): optical-flow speed per frame at given frame sizes.

    python benchmarks/bench_motion.py [--sizes 96x128 176x320] [--frames 16] [--repeats 3]

Prints, per size, the CPU time (process time, one OpenCV thread) of :func:`ddlcore.score.motion.flow_speed` per
frame pair, best of ``--repeats``, on random gray frames shifted by 2 pixels. State the CPU beside the figure.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from benchlib import cpu_name
from ddlcore.score.motion import flow_speed


def cpu_ms_per_frame(height: int, width: int, frames: int, repeats: int) -> float:
    """Best process time (ms) per frame pair of ``flow_speed`` over ``repeats`` runs of ``frames`` pairs."""
    previous = (np.random.default_rng(0).random((frames, height, width)) * 255).astype(np.uint8)
    current = np.roll(previous, 2, axis=2)
    flow_speed(previous[:1], current[:1])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        flow_speed(previous, current)
        best = min(best, (time.process_time() - start) / frames * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["96x128", "176x320"], help="HEIGHTxWIDTH")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"CPU: {cpu_name()}")
    for size in args.sizes:
        height, width = (int(v) for v in size.split("x"))
        print(f"{height}x{width}: {cpu_ms_per_frame(height, width, args.frames, args.repeats):.1f} ms CPU per frame")


if __name__ == "__main__":
    main()
