"""Live scoring speed on CPU, PyTorch eager against ONNX Runtime and OpenVINO, one camera and several.

For each setting (a config file's model, frame size and patch; untrained weights, as speed does not
depend on them) and each runtime (``score.runtime``; ``onnxruntime-int8``: in int8, ``score.precision``; ``auto``:
what the probe picks, its line printed) and thread count:

1. scorer throughput: 360x240 RGB camera frames pushed one at a time through
   :class:`ddlcore.live.scorer.LiveScorer` (resize, encode the new frame, decode, error, patch
   pooling, smoothing, events) as fast as it goes: frames/s, the median / 95th percentile time
   per frame, and the CPU time per frame (which other load on the machine does not change);
   beside it the bound the arithmetic sets: GFLOP per frame (encode one frame, decode one window)
   against the GFLOP/s the same threads reach on a float32 2048x2048 matrix product;
2. ``--seconds S`` > 0: ``ddl watch`` itself (``score.runtime: auto``) on a video file played at
   ``--fps`` for S seconds: frames/s scored, frames dropped to keep up, latency;
3. ``--cameras N`` > 0: N cameras delivering ``--camera-fps`` frames/s each for ``--camera-seconds``,
   scored by one :class:`ddlcore.live.scorer.BatchScorer` (the newest frame of every camera in one
   call; a frame superseded before the scorer took it is dropped) with each setting's model on
   ``--camera-runtime`` at the largest thread count: per-camera frames/s scored, frames dropped, latency
   from a frame's arrival to its score (the alarm decision waits T//2 frames more); and the time of one
   batched call for 1, 2 and N cameras.

The exported ONNX graphs are cached beside the temporary model, so their export is not timed.
Run: ``.venv/bin/python benchmarks/bench_live.py [--threads 1,2] [--runtimes torch,onnxruntime,openvino-int8,auto]
[--frames 100] [--seconds 10] [--fps 25] [--cameras 4] [--camera-fps 10] [--camera-seconds 20]``.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from benchlib import count_flops, cpu_name
from ddlcore.alarm.calibration import Calibration, load_calibration, save_calibration, sidecar_path
from ddlcore.alarm.settings import AlarmSettings
from ddlcore.config import load_config
from ddlcore.data.framestore import resize_frame
from ddlcore.score.export import scoring_model
from ddlcore.score.quantize import quantize_graphs
from ddlcore.score.runtime import graph_files
from ddlcore.score.inference import load_model
from ddlcore.live.scorer import BatchScorer, LiveScorer
from ddlcore.live.settings import WatchSettings
from ddlcore.live.watch import watch
from ddlcore.score.settings import ScoreSettings
from ddlcore.model import build_model, save_trained_model
from ddlcore.model.identity import model_fingerprint
from ddlcore.model.settings import ModelSettings

REPO = Path(__file__).resolve().parent.parent
#: (name, config file, overrides): the default config's model, the Ped2 CPU setting, and its earlier
#: 128x192 form (README: 34 min 37 s on 2 cores for both models, DDL micro AUC 90.26; ``--settings all``)
SETTINGS = [
    ("default (synthetic)", REPO / "config" / "config.yaml", {}),
    ("Ped2 CPU", REPO / "config" / "ped2-cpu.yaml", {}),
    ("camera (cameras.yaml)", REPO / "config" / "cameras.yaml", {}),
    ("Ped2 CPU at 128x192", REPO / "config" / "ped2-cpu.yaml", {"frames": {"height": 128, "width": 192}, "score": {"patch": 8}}),
]
CPU = torch.device("cpu")


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
    save_trained_model(path, build_model("c3dsu", ModelSettings.from_config(cfg), channels), meta, [0.5])
    calibration = Calibration(str(path), 1e9, 25.0, cfg["model"]["frames"], AlarmSettings.from_config(cfg),
                              {"patch": cfg["score"]["patch"], "shifted_grid": cfg["score"]["shifted_grid"]},
                              np.zeros((height, width), np.float32), {"bench": np.zeros(1, np.float32)},
                              model_fingerprint(path), (height, width, channels))
    save_calibration(calibration, sidecar_path(path))
    return path


def gflop_per_frame(path: Path) -> float:
    """GFLOP of scoring one new frame: encode it, decode one window (torch.utils.flop_counter)."""
    model, meta = load_model(path, CPU)
    frame = torch.rand(1, meta["channels"], meta["height"], meta["width"])
    with torch.no_grad():
        features = model.encode(frame)
        stacks = [torch.stack([f] * len(model.read_frames), dim=1) for f in features]
        return (count_flops(lambda: model.encode(frame)) + count_flops(lambda: model.decode(stacks))) / 1e9


def matmul_gflops(threads: int) -> float:
    """GFLOP/s of a float32 2048x2048 matrix product on ``threads`` torch threads (best of 5)."""
    torch.set_num_threads(threads)
    a, b = torch.rand(2048, 2048), torch.rand(2048, 2048)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(5))
    return 2 * 2048**3 / best / 1e9


def _timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def throughput(path: Path, cfg: dict, frames: np.ndarray, runtime: str) -> tuple[float, float, float, float]:
    """(frames/s, median ms, p95 ms, CPU ms per frame) of pushing ``frames`` through a LiveScorer one by one.

    ``runtime``: a ``score.runtime`` value, ``-int8`` after it for ``score.precision`` int8 (its graphs quantised
    on ``frames`` first: an untrained model has no accuracy to check) or ``-auto``; ``auto`` probes (its line).

    The CPU time (all threads of this process) does not depend on what else the machine runs: on an
    otherwise idle machine with enough cores, frames/s approaches 1000 / (CPU ms / threads).
    """
    model, meta = load_model(path, CPU)
    runtime, _, precision = runtime.partition("-")
    if precision == "int8" and not graph_files(path, meta, "int8")[0].is_file():
        quantize_graphs(model, meta, path, [np.stack([resize_frame(f, meta["height"], meta["width"], meta["channels"])
                                                      for f in frames[:60]])])
    model = scoring_model(model, meta, path, CPU, runtime, precision or "fp32")
    scorer = LiveScorer(model, meta, load_calibration(sidecar_path(path)), ScoreSettings.from_config(cfg), CPU)
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
    return watch(str(video), path, WatchSettings.from_config(cfg), io.StringIO(), duration_s=seconds)


def batch_call_ms(scorer: BatchScorer, frames: np.ndarray, cameras: int, repeats: int = 10) -> tuple[float, float]:
    """(median wall ms, mean CPU ms) of one :meth:`BatchScorer.push` with a new frame for the first ``cameras`` sources."""
    times, cpu = [], 0.0
    for r in range(repeats + scorer.clip):
        batch = [frames[(r + c) % len(frames)] if c < cameras else None for c in range(scorer.sources)]
        start = time.process_time()
        t = _timed(lambda: scorer.push(batch))
        if r >= scorer.clip:  # every camera's window is full
            times.append(t)
            cpu += time.process_time() - start
    return 1000 * statistics.median(times), 1000 * cpu / repeats


def cameras_live(scorer: BatchScorer, frames: np.ndarray, fps: float, seconds: float) -> dict:
    """Cameras delivering ``fps`` frames/s each (staggered evenly) scored by ``scorer`` for ``seconds``.

    Each call takes the newest frame of every camera that delivered one since the last call; a camera's
    frame superseded before it was taken is dropped. Returns per-camera scored frames/s, dropped and
    delivered counts, and the median / 95th percentile latency (ms) from a frame's arrival to its score.
    """
    n = scorer.sources
    period = 1.0 / fps
    start = time.perf_counter() + 0.05
    taken = [-1] * n  # the last frame index taken per camera
    dropped, scored, latencies = [0] * n, [0] * n, []
    while (now := time.perf_counter()) < start + seconds:
        newest = [int((now - start - c * period / n) // period) for c in range(n)]
        if all(k <= t for k, t in zip(newest, taken)):
            time.sleep(max(0.0, min(start + c * period / n + (t + 1) * period for c, t in enumerate(taken)) - now))
            continue
        batch = []
        for c in range(n):
            if newest[c] > taken[c]:
                dropped[c] += newest[c] - taken[c] - 1
                taken[c] = newest[c]
                batch.append(frames[newest[c] % len(frames)])
            else:
                batch.append(None)
        results = scorer.push(batch)
        done = time.perf_counter()
        for c, result in enumerate(results):
            if batch[c] is not None:
                arrival = start + c * period / n + taken[c] * period
                scored[c] += 1
                if result is not None:
                    latencies.append(1000 * (done - arrival))
    delivered = [t + 1 for t in taken]
    return {"fps_per_camera": [round(s / seconds, 2) for s in scored], "dropped": dropped, "delivered": delivered,
            "latency_ms": round(statistics.median(latencies), 1),
            "latency_p95_ms": round(float(np.percentile(latencies, 95)), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="torch / runtime thread counts, comma-separated (default 1,2)")
    parser.add_argument("--runtimes", default="torch,onnxruntime,openvino,onnxruntime-int8,openvino-int8,auto",
                        help="runtimes compared, comma-separated: score.runtime values, -int8 after one for int8")
    parser.add_argument("--settings", choices=["default", "all", "camera"], default="default",
                        help="default: the default, Ped2 CPU and camera models; all: also Ped2 CPU at 128x192; camera: "
                        "the camera model alone")
    parser.add_argument("--frames", type=int, default=100, help="frames pushed in each throughput test")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of ddl watch on a file (0: skip)")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate the file is played at")
    parser.add_argument("--cameras", type=int, default=4, help="cameras scored together by each model (0: skip)")
    parser.add_argument("--camera-fps", type=float, default=10.0, help="frames/s each camera delivers")
    parser.add_argument("--camera-seconds", type=float, default=20.0, help="how long the cameras run")
    parser.add_argument("--camera-runtime", default="onnxruntime", help="runtime of the cameras test")
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    runtimes = args.runtimes.split(",")
    rng = np.random.default_rng(0)
    frames = camera_frames(args.frames, rng)
    print(f"CPU: {cpu_name()}; camera frames 360x240 RGB; torch {torch.__version__}, {_versions()}")
    print("threads: " + ", ".join(f"{t}: float32 matmul {matmul_gflops(t):.0f} GFLOP/s" for t in threads))
    settings = {"all": SETTINGS, "default": SETTINGS[:3], "camera": SETTINGS[2:3]}[args.settings]
    with tempfile.TemporaryDirectory() as tmp:
        for name, config, overrides in settings:
            cfg = load_config(config, json.dumps(overrides))
            size = f"{cfg['frames']['height']}x{cfg['frames']['width']}x{cfg['frames']['channels']}"
            folder = Path(tmp) / name.replace(" ", "_")
            folder.mkdir()
            path = model_files(cfg, folder)
            untrained = build_model("c3dsu", ModelSettings.from_config(cfg), cfg["frames"]["channels"])
            params = sum(p.numel() for p in untrained.parameters())
            gflop = gflop_per_frame(path)
            print(f"\n{name}: C3DSU widths {cfg['model']['widths']} ({params / 1e6:.2f} M parameters), input {size}, "
                  f"T = {cfg['model']['frames']}, {gflop:.2f} GFLOP per frame")
            for n in threads:
                torch.set_num_threads(n)
                bound = matmul_gflops(n) / gflop
                for runtime in runtimes:
                    fps, median, p95, cpu = throughput(path, cfg, frames, runtime)
                    print(f"  {runtime:<11} {n} thread(s): {fps:6.1f} frames/s, {median:6.1f} ms per frame "
                          f"(95th percentile {p95:6.1f}), {cpu:6.1f} ms of CPU per frame; "
                          f"matmul-speed bound {bound:.0f} frames/s", flush=True)
            if args.seconds > 0:
                torch.set_num_threads(max(threads))
                s = live(path, cfg, camera_frames(int(args.fps * (args.seconds + 5)), rng), args.fps, args.seconds, folder)
                print(f"  ddl watch (runtime {cfg['score']['runtime']}, {max(threads)} threads), file at {args.fps:g} "
                      f"frames/s for {args.seconds:g} s: {s['fps']} frames/s scored, {s['dropped']} of {s['read']} "
                      f"frames dropped, latency {s['latency_ms']} ms to the result, {s['decision_latency_ms']} ms "
                      "to the alarm decision", flush=True)
            if args.cameras > 0:
                torch.set_num_threads(max(threads))
                model, meta = load_model(path, CPU)
                model = scoring_model(model, meta, path, CPU, args.camera_runtime)
                calibration = load_calibration(sidecar_path(path))
                score = ScoreSettings.from_config(cfg)
                scorer = BatchScorer(model, meta, [calibration] * args.cameras, score, CPU)
                calls = {k: batch_call_ms(scorer, frames, k) for k in sorted({1, 2, args.cameras})}
                print(f"  one batched call, {args.camera_runtime}, {max(threads)} threads: "
                      + ", ".join(f"{k} camera(s) {ms:.0f} ms, {cpu:.0f} ms of CPU ({cpu / k:.0f} a camera)"
                                  for k, (ms, cpu) in calls.items()))
                scorer = BatchScorer(model, meta, [calibration] * args.cameras, score, CPU)
                s = cameras_live(scorer, frames, args.camera_fps, args.camera_seconds)
                print(f"  {args.cameras} cameras at {args.camera_fps:g} frames/s each for {args.camera_seconds:g} s: "
                      f"{s['fps_per_camera']} frames/s scored per camera, dropped {s['dropped']} of {s['delivered']}, "
                      f"latency {s['latency_ms']} ms (95th percentile {s['latency_p95_ms']} ms) from arrival to score, "
                      f"+ {cfg['model']['frames'] // 2} frame(s) ({1000 * (cfg['model']['frames'] // 2) / args.camera_fps:.0f} ms) "
                      "to the alarm decision", flush=True)


def _versions() -> str:
    found = []
    for module in ("onnxruntime", "openvino"):
        try:
            found.append(f"{module} {__import__(module).__version__}")
        except ImportError:
            found.append(f"{module} not installed")
    return ", ".join(found)


if __name__ == "__main__":
    sys.exit(main())
