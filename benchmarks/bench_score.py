"""Frames per second of scoring with and without encoder sharing (CPU unless --device says otherwise).

Settings measured:
- narrow C3DSU (the default config's widths 16/32/64/128) on 64x64 gray frames;
- the paper's setting (config/ped2.yaml): C3DSU widths 64/128/256/512 (four 3x3 heads) on 256x256 gray frames.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_score.py [--frames 24] [--threads 1]``.
Untrained weights: speed does not depend on them. Both paths are checked to give the same scores.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from ddlcore.config import load_config
from ddlcore.score.inference import window_scores
from ddlcore.model import build_model
from ddlcore.model.settings import ModelSettings

SETTINGS = [
    ("narrow C3DSU, 64x64 gray", {"widths": [16, 32, 64, 128]}, 64, 1),
    ("paper C3DSU, 256x256 gray", {"widths": [64, 128, 256, 512]}, 256, 1),
]


def measure(model: torch.nn.Module, frames: np.ndarray, share: bool, batch: int, device: torch.device) -> tuple[float, np.ndarray]:
    """(frames per second, scores) of one scoring pass over ``frames`` (N, H, W, C) uint8."""
    start = time.perf_counter()
    scores, _ = window_scores(model, frames, 3, 16, False, batch, device, share_encoder=share)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(scores) / (time.perf_counter() - start), scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24, help="frames per video (default 24)")
    parser.add_argument("--batch", type=int, default=8, help="windows per forward pass (default 8)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rng = np.random.default_rng(0)
    print(f"device {device}, {args.threads} thread(s), {args.frames} frames, batch {args.batch}, T = 3")
    for name, widths, size, channels in SETTINGS:
        model_settings = ModelSettings.from_config(load_config(None, json.dumps({"model": widths})))
        model = build_model("c3dsu", model_settings, channels).to(device).eval()
        frames = rng.integers(0, 255, size=(args.frames, size, size, channels), dtype=np.uint8)
        for share in (False, True):  # warm-up
            measure(model, frames[: args.batch + 2], share, args.batch, device)
        plain_fps, plain = measure(model, frames, False, args.batch, device)
        shared_fps, shared = measure(model, frames, True, args.batch, device)
        diff = float(np.abs(plain - shared).max())
        print(f"{name}: plain {plain_fps:7.1f} frames/s, shared encoder {shared_fps:7.1f} frames/s "
              f"(x{shared_fps / plain_fps:.2f}), max score difference {diff:.1e}")


if __name__ == "__main__":
    main()
