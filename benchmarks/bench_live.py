"""Live scoring speed on CPU: frames/s and latency of ``ddl watch``'s scorer for the default and Ped2 CPU models.

For each setting (a config file's model, frame size and patch; untrained weights, as speed does not
depend on them):

1. scorer throughput: 360x240 RGB camera frames pushed one at a time through
   :class:`ddlcore.live.scorer.LiveScorer` (resize, encode the new frame, decode, error, patch
   pooling, smoothing, events) as fast as it goes: frames/s, the median / 95th percentile time
   per frame, and the CPU time per frame (which other load on the machine does not change);
2. ``--seconds S`` > 0: ``ddl watch`` itself on a video file played at ``--fps`` (as a camera
   delivers it) for S seconds: frames/s scored, frames dropped to keep up, latency from reading a
   frame to its result and to the alarm decision about it (which waits for T//2 later frames).

Run: ``.venv/bin/python benchmarks/bench_live.py [--threads 2] [--frames 200] [--seconds 10] [--fps 25]``.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from ddlcore.alarm.calibration import Calibration, model_fingerprint, save_calibration, sidecar_path
from ddlcore.config import load_config
from ddlcore.live.scorer import LiveScorer
from ddlcore.live.watch import watch
from ddlcore.model import build_model, save_trained_model

REPO = Path(__file__).resolve().parent.parent
#: (name, config file, overrides): the default config's model, the Ped2 CPU setting, and its earlier
#: 128x192 form (README: 34 min 37 s on 2 cores for both models, DDL micro AUC 90.26)
SETTINGS = [
    ("default (synthetic)", REPO / "config" / "config.yaml", {}),
    ("Ped2 CPU", REPO / "config" / "ped2-cpu.yaml", {}),
    ("Ped2 CPU at 128x192", REPO / "config" / "ped2-cpu.yaml", {"frames": {"height": 128, "width": 192}, "score": {"patch": 8}}),
]


def camera_frames(n: int, rng: np.random.Generator) -> np.ndarray:
    """n RGB 240x360 frames: a noisy static background with a square moving across."""
    background = rng.integers(40, 200, size=(240, 360, 3), dtype=np.uint8)
    frames = np.repeat(background[None], n, axis=0)
    for i in range(n):
        x = (i * 4) % 320
        frames[i, 100:140, x : x + 40] = 250
    return frames


def model_files(cfg: dict, folder: Path) -> Path:
    """An untrained checkpoint of ``cfg``'s C3DSU with a calibration sidecar (threshold 1e9: no events)."""
    channels, height, width = cfg["frames"]["channels"], cfg["frames"]["height"], cfg["frames"]["width"]
    meta = dict(arch="c3dsu", variant="ddl", channels=channels, height=height, width=width,
                frames=cfg["model"]["frames"], model_cfg=cfg["model"], dataset="bench", scene="01")
    path = folder / "m.pt"
    save_trained_model(path, build_model("c3dsu", cfg["model"], channels), meta, [0.5])
    calibration = Calibration(str(path), 1e9, 25.0, cfg["model"]["frames"], dict(cfg["alarm"]),
                              {"patch": cfg["score"]["patch"], "shifted_grid": cfg["score"]["shifted_grid"]},
                              np.zeros((height, width), np.float32), {"bench": np.zeros(1, np.float32)},
                              model_fingerprint(path), (height, width, channels))
    save_calibration(calibration, sidecar_path(path))
    return path


def throughput(path: Path, cfg: dict, frames: np.ndarray) -> tuple[float, float, float, float]:
    """(frames/s, median ms, p95 ms, CPU ms per frame) of pushing ``frames`` through a LiveScorer one by one.

    The CPU time (all threads of this process) does not depend on what else the machine runs: on an
    otherwise idle machine with enough cores, frames/s approaches 1000 / (CPU ms / threads).
    """
    from ddlcore.alarm.calibration import load_calibration
    from ddlcore.score.inference import load_model

    model, meta = load_model(path, torch.device("cpu"))
    scorer = LiveScorer(model, meta, load_calibration(sidecar_path(path)), cfg["score"], torch.device("cpu"))
    for frame in frames[:5]:  # warm-up
        scorer.push(frame)
    times = []
    start, cpu = time.perf_counter(), time.process_time()
    for frame in frames:
        t = time.perf_counter()
        scorer.push(frame)
        times.append(time.perf_counter() - t)
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    return (len(frames) / total, 1000 * statistics.median(times), 1000 * float(np.percentile(times, 95)),
            1000 * cpu / len(frames))


def live(path: Path, cfg: dict, frames: np.ndarray, fps: float, seconds: float, folder: Path) -> dict:
    """``ddl watch``'s summary on a video file of ``frames`` played at ``fps`` for ``seconds``."""
    video = folder / "camera.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), fps, (frames.shape[2], frames.shape[1]))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    cfg = {**cfg, "live": {**cfg["live"], "stats_every_s": 3600.0}}
    return watch(str(video), path, cfg, io.StringIO(), duration_s=seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2: two CPU cores)")
    parser.add_argument("--frames", type=int, default=200, help="frames pushed in the throughput test")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of ddl watch on a file (0: skip)")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate the file is played at")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"CPU, {args.threads} torch thread(s); camera frames 360x240 RGB")
    for name, config, overrides in SETTINGS:
        cfg = load_config(config, json.dumps(overrides))
        size = f"{cfg['frames']['height']}x{cfg['frames']['width']}x{cfg['frames']['channels']}"
        with tempfile.TemporaryDirectory() as tmp:
            path = model_files(cfg, Path(tmp))
            params = sum(p.numel() for p in build_model("c3dsu", cfg["model"], cfg["frames"]["channels"]).parameters())
            fps, median, p95, cpu = throughput(path, cfg, camera_frames(args.frames, rng))
            print(f"{name}: C3DSU widths {cfg['model']['widths']} ({params / 1e6:.2f} M parameters), input {size}, "
                  f"T = {cfg['model']['frames']}: scorer {fps:.1f} frames/s, {median:.1f} ms per frame "
                  f"(95th percentile {p95:.1f} ms), {cpu:.1f} ms of CPU per frame")
            if args.seconds > 0:
                n = int(args.fps * (args.seconds + 5))
                s = live(path, cfg, camera_frames(n, rng), args.fps, args.seconds, Path(tmp))
                print(f"  ddl watch, file at {args.fps:g} frames/s for {args.seconds:g} s: {s['fps']} frames/s scored, "
                      f"{s['dropped']} of {s['read']} frames dropped, latency {s['latency_ms']} ms to the result, "
                      f"{s['decision_latency_ms']} ms to the alarm decision")


if __name__ == "__main__":
    main()
