"""``ddl watch --cameras`` speed on CPU: frames/s and latency per camera with several loopback MJPEG streams.

Builds a synthetic scene (``--height`` x ``--width`` RGB footage), an untrained C3DSU of the default config's
size (speed does not depend on the weights) calibrated on the scene's normal videos at
``--false-alarms-per-hour`` (high, so that the page and the events folder have something to show), and
serves one test video per camera as MJPEG on 127.0.0.1 at ``--fps``. Then it runs the deployment for
``--seconds`` and prints each camera's frames/s scored, frames dropped, latency to the result and to the
alarm decision, the process's CPU time per scored frame (which other load on the machine does not
change), and the events with their clips and snapshots. ``--screenshot PNG`` saves the page
(headless Chromium) two thirds into the run.

Run: ``.venv/bin/python benchmarks/bench_watch_cameras.py [--cameras 2] [--fps 25] [--seconds 20] [--threads 1]
[--screenshot docs/img/watch-cameras-page.png]``.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the loopback MJPEG server of the live tests

from mjpeg_server import MJPEGServer

from ddlcore.alarm.calibration import calibrate, save_calibration, sidecar_path
from ddlcore.alarm.settings import AlarmSettings
from ddlcore.config import load_config
from ddlcore.data.framestore import resize_frame
from ddlcore.data.settings import SyntheticSettings
from ddlcore.data.synthetic import generate
from ddlcore.live.deployment import load_deployment
from ddlcore.live.multi_watch import watch_cameras
from ddlcore.live.settings import WatchSettings
from ddlcore.model import build_model, save_trained_model
from ddlcore.model.settings import ModelSettings
from ddlcore.score.settings import ScoreSettings

#: the camera names of the deployment (as many as --cameras asks for)
NAMES = ["entrance", "yard", "platform", "gate", "hall", "stairs", "lobby", "car-park"]


def scene(folder: Path, cameras: int, frames: int, height: int, width: int) -> tuple[list[np.ndarray], list[np.ndarray], float]:
    """(normal videos, test videos (one per camera), fps) of a generated synthetic scene: RGB uint8 (N, h, w, 3)."""
    cfg = load_config(None, json.dumps({"synthetic": {"scenes": 1, "train_videos": 2, "test_videos": cameras,
                                                      "frames": frames, "height": height, "width": width}}))
    generate(SyntheticSettings.from_config(cfg), folder)

    def read(split: str) -> list[np.ndarray]:
        out = []
        for path in sorted((folder / split).glob("*.h5")):
            with h5py.File(path, "r") as f:
                out.append(f["frames"][:])
        return out

    return read("train"), read("test"), float(cfg["synthetic"]["fps"])


def model_file(cfg: dict, folder: Path, normal: list[np.ndarray], fps: float) -> Path:
    """An untrained checkpoint of ``cfg``'s C3DSU with a calibration sidecar fitted on ``normal``."""
    channels, height, width = cfg["frames"]["channels"], cfg["frames"]["height"], cfg["frames"]["width"]
    meta = {"arch": "c3dsu", "variant": "ddl", "channels": channels, "height": height, "width": width,
            "frames": cfg["model"]["frames"], "model_cfg": cfg["model"], "dataset": "bench", "scene": "01"}
    path = folder / "m.pt"
    torch.manual_seed(0)
    model = build_model("c3dsu", ModelSettings.from_config(cfg), channels)
    save_trained_model(path, model, meta, [0.5])
    videos = {f"n{i}": (np.stack([resize_frame(x, height, width, channels) for x in v]), fps) for i, v in enumerate(normal)}
    calibration = calibrate(model.eval(), meta, videos, ScoreSettings.from_config(cfg), AlarmSettings.from_config(cfg), path)
    save_calibration(calibration, sidecar_path(path))
    return path


def screenshot(url: str, png: Path) -> None:
    """Save the page at ``url`` as ``png`` with headless Chromium (a note on stderr when it is missing)."""
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if browser is None:
        print("chromium is not installed: no screenshot", file=sys.stderr)
        return
    png.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1040,980",
                    "--virtual-time-budget=3000", f"--screenshot={png.resolve()}", url], check=False, capture_output=True, timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=2, choices=range(1, len(NAMES) + 1), metavar="N")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate each stream is served at")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the deployment is watched")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--false-alarms-per-hour", type=float, default=600.0)
    parser.add_argument("--widths", type=int, nargs=4, metavar="W", help="C3DSU widths (default: the default config's)")
    parser.add_argument("--max-backlog", type=int, help="live.max_backlog (default: the config's; large: drop nothing)")
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="save the page two thirds into the run")
    parser.add_argument("--events-dir", type=Path, help="keep the clips and snapshots here (default: a temporary folder)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides = {"alarm": {"false_alarms_per_hour": args.false_alarms_per_hour, "fps": args.fps},
                 "live": {"stats_every_s": 5.0, "reconnect_attempts": 0}}
    if args.widths:
        overrides["model"] = {"widths": args.widths}
    if args.max_backlog:
        overrides["live"]["max_backlog"] = args.max_backlog
    cfg = load_config(REPO / "config" / "config.yaml", json.dumps(overrides))
    frames = int(args.fps * (args.seconds + 3))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        normal, tests, _ = scene(folder / "scene", args.cameras, frames, args.height, args.width)
        model = model_file(cfg, folder, normal, args.fps)
        servers = [MJPEGServer(video, fps=args.fps).start() for video in tests]
        deploy = folder / "deploy.yaml"
        deploy.write_text(yaml.safe_dump({"cameras": [{"name": name, "source": server.url, "model": str(model)}
                                                      for name, server in zip(NAMES, servers)]}))
        settings = WatchSettings.from_config(cfg)
        cameras = load_deployment(deploy)
        events_dir = args.events_dir or folder / "events"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if args.screenshot:
            def shoot() -> None:
                time.sleep(args.seconds * 2 / 3)
                screenshot(f"http://127.0.0.1:{port}/", args.screenshot)
            threading.Thread(target=shoot, daemon=True).start()
        print(f"CPU, {args.threads} torch thread(s); {args.cameras} MJPEG streams of {args.height}x{args.width} RGB at "
              f"{args.fps:g} frames/s; C3DSU {cfg['model']['widths']} at {cfg['frames']['height']}x{cfg['frames']['width']}")
        cpu = time.process_time()
        summary = watch_cameras(cameras, settings, io.StringIO(), events_dir, serve=f"127.0.0.1:{port}",
                                duration_s=args.seconds)
        cpu = time.process_time() - cpu
        for server in servers:
            server.stop()
        for name, s in summary["cameras"].items():
            print(f"{name}: {s['fps']} frames/s scored, {s['dropped']} of {s['read']} frames dropped, latency "
                  f"{s['latency_ms']} ms to the result, {s['decision_latency_ms']} ms to the alarm decision, "
                  f"{s['events']} events")
        scored = sum(s["scored"] for s in summary["cameras"].values())
        print(f"CPU time of the whole process (readers, decoding, scoring, overlay, page, clips): "
              f"{1000 * cpu / max(scored, 1):.1f} ms per scored frame over {scored} frames")
        media = sorted(p.name for p in events_dir.iterdir())
        print(f"{summary['events']} events, {len(media)} files in the events folder, "
              f"{summary['clip_frames_dropped']} clip frames dropped")


if __name__ == "__main__":
    main()
