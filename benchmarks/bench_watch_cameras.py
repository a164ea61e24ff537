"""The site benchmark: ``ddl watch --cameras`` on N loopback MJPEG streams of real footage, on the CPU.

Each camera is a stream on 127.0.0.1 served by a child process (so that this process's CPU time is the watch's
alone), looping a clip back and forth at ``--fps`` (the footage taken at its own speed: every
round(source fps / ``--fps``)-th frame), each camera starting at another point of it:

- ``busy``: UMN plaza, sequence 10's normal part (``umn-dev/plaza/normal/umn10_train.mp4``, 579 frames at 30
  frames/s): people milling across the whole plaza all the time (about 3.6% of the pixels change per frame);
- ``still``: UMN lawn, sequence 1's test clip after the panic (``umn-dev/lawn/test/umn01_test.mp4`` frames
  100-146): the last runners leave the edge of the picture (two thirds of its frames change less than 0.3% of
  the pixels, but a runner moves in some 4x4 cell of every served frame up to frame 136), then an empty lawn;
- ``quiet``: a mostly still camera: the ``still`` clip, then the empty lawn its last runner left (its frames 139
  and 145, 0.2 s apart: codec noise only) for :data:`QUIET_HOLD_S` seconds, alternately;
- ``mixed``: cameras alternate busy, still; ``synthetic``: the generated scene of the default workflow.

The model is an untrained C3DSU of ``--config`` (default config/cameras.yaml: the camera model, 176x320 gray;
speed does not depend on the weights) calibrated on the first frames of the footage, or ``--model M.pt`` with
its calibration. For each ``--gate`` (``score.gate``) and ``--precision`` (``score.precision``; int8 graphs made
and checked as ``ddl calibrate`` does) it watches N cameras for ``--seconds`` and prints per camera: frames/s
scored, frames dropped, latency p50 / p95 from a frame's arrival to its score; and the process's CPU ms per
camera-second (load elsewhere on the machine does not change it). ``--search`` runs N = 1, 2, ... (from
``--search-from``) up to ``--cameras`` and prints the largest N followed: nothing dropped and latency p95 under
1 s on every camera.
The runtime and precision ``auto`` chose are printed by the watch (the probe's line).

Run (the issue's target: 2 cores of a CPU without bf16; on one with it, emulate with
``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2``, which ONNX Runtime does not follow):
``.venv/bin/python benchmarks/bench_watch_cameras.py --footage quiet --search --cameras 16 --fps 5 --threads 2
--gate off,on --precision fp32,int8``. ``--screenshot PNG`` saves the page two thirds into a run.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import h5py
import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the loopback MJPEG server of the live tests

from mjpeg_server import MJPEGServer

from ddlcore.alarm.calibration import calibrate, load_calibration, save_calibration, sidecar_path
from ddlcore.alarm.int8_check import make_checked_int8
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
from ddlcore.score.export import scoring_model
from ddlcore.score.inference import load_model
from ddlcore.score.settings import ScoreSettings

UMN = Path("/work/shared/data/umn-dev")
#: footage kind -> (video file, first frame, end frame (None: the last)); module docstring: what they show
CLIPS = {"busy": (UMN / "plaza" / "normal" / "umn10_train.mp4", 0, None),
         "still": (UMN / "lawn" / "test" / "umn01_test.mp4", 100, 147),
         "quiet": (UMN / "lawn" / "test" / "umn01_test.mp4", 100, 147)}
#: the empty lawn's two frames (indices in the ``quiet`` clip's video) and how long the ``quiet`` footage holds them
QUIET_FRAMES = (139, 145)
QUIET_HOLD_S = 8.0
CPU = torch.device("cpu")
#: the latency p95 a followed camera stays under (ms)
MAX_P95_MS = 1000.0


def footage(kind: str, fps: float, frames: int = 200) -> np.ndarray:
    """The clip of ``kind`` (``CLIPS``) as RGB uint8 (N, h, w, 3), every round(source fps / ``fps``)-th frame,
    played forward then backward (a loop without a jump); ``synthetic``: a generated test video of ``frames``."""
    if kind == "synthetic":
        with tempfile.TemporaryDirectory() as tmp:
            cfg = load_config(None, json.dumps({"synthetic": {"scenes": 1, "train_videos": 1, "test_videos": 1,
                                                              "frames": frames, "height": 240, "width": 320}}))
            generate(SyntheticSettings.from_config(cfg), Path(tmp))
            with h5py.File(next((Path(tmp) / "test").glob("*.h5")), "r") as f:
                return f["frames"][:]
    path, first, end = CLIPS[kind]
    if not path.is_file():
        sys.exit(f"{path}: footage not found (the benchmark reads /work/shared/data/umn-dev; --footage synthetic "
                 "needs none)")
    capture = cv2.VideoCapture(str(path))
    step = max(1, round(capture.get(cv2.CAP_PROP_FPS) / fps))
    out, empty = [], []
    for i in range(end or 10**9):
        ok, frame = capture.read()
        if not ok:
            break
        if i >= first and (i - first) % step == 0:
            out.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        if kind == "quiet" and i in QUIET_FRAMES:
            empty.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    if kind == "quiet":
        out += [empty[i % 2] for i in range(round(QUIET_HOLD_S * fps))]
    clip = np.stack(out)
    return np.concatenate([clip, clip[-2:0:-1]])


def _serve(kinds: list[str], fps: float, seconds: float, conn: Any) -> None:
    """Child process: one looping MJPEG server per camera (footage ``kinds[i]``, started at another point of it);
    sends the URLs, serves until told to stop."""
    clips = {kind: footage(kind, fps) for kind in set(kinds)}
    servers = []
    for i, kind in enumerate(kinds):
        clip = np.roll(clips[kind], -(i * len(clips[kind]) // len(kinds)), axis=0)
        server = MJPEGServer(clip, fps=fps, hold_s=seconds + 60)
        server.jpegs = server.jpegs * (int(fps * (seconds + 30)) // len(server.jpegs) + 1)  # looped
        servers.append(server.start())
    conn.send([s.url for s in servers])
    conn.recv()
    for server in servers:
        server.stop()


def model_file(cfg: dict, folder: Path, normal: np.ndarray, fps: float, given: Path | None) -> Path:
    """The model file watched: ``given`` (with its calibration) copied into ``folder``, or an untrained checkpoint
    of ``cfg``'s C3DSU calibrated on ``normal`` (RGB frames)."""
    path = folder / "m.pt"
    if given is not None:
        shutil.copy(given, path)
        shutil.copy(sidecar_path(given), sidecar_path(path))
        return path
    channels, height, width = cfg["frames"]["channels"], cfg["frames"]["height"], cfg["frames"]["width"]
    meta = {"arch": "c3dsu", "variant": "ddl", "channels": channels, "height": height, "width": width,
            "frames": cfg["model"]["frames"], "model_cfg": cfg["model"], "dataset": "bench", "scene": "01"}
    torch.manual_seed(0)
    save_trained_model(path, build_model("c3dsu", ModelSettings.from_config(cfg), channels), meta, [0.5])
    model, meta = load_model(path, CPU)
    videos = {"normal": (_model_frames(normal, meta), fps)}
    calibration = calibrate(model, meta, videos, ScoreSettings.from_config(cfg), AlarmSettings.from_config(cfg), path)
    save_calibration(calibration, sidecar_path(path))
    return path


def _model_frames(frames: np.ndarray, meta: dict) -> np.ndarray:
    return np.stack([resize_frame(x, int(meta["height"]), int(meta["width"]), int(meta["channels"])) for x in frames])


def screenshot(url: str, png: Path) -> None:
    """Save the page at ``url`` as ``png`` with headless Chromium (a note on stderr when it is missing)."""
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if browser is None:
        print("chromium is not installed: no screenshot", file=sys.stderr)
        return
    png.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1040,980",
                    "--virtual-time-budget=3000", f"--screenshot={png.resolve()}", url], check=False, capture_output=True, timeout=120)


def run(n: int, kinds: list[str], model: Path, cfg: dict, args: argparse.Namespace, events_dir: Path) -> dict:
    """Watch ``n`` cameras (footage ``kinds``) with the settings of ``cfg`` for ``args.seconds``: per-camera
    figures, CPU ms per camera-second and whether all were followed."""
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(kinds[:n], args.fps, args.seconds, child))
    server.start()
    urls = parent.recv()
    try:
        deploy = events_dir.parent / "deploy.yaml"
        deploy.write_text(yaml.safe_dump({"cameras": [{"name": f"cam{i + 1}-{kinds[i]}", "source": url, "model": str(model)}
                                                      for i, url in enumerate(urls)]}))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if args.screenshot:
            def shoot() -> None:
                time.sleep(args.seconds * 2 / 3)
                screenshot(f"http://127.0.0.1:{port}/", args.screenshot)
            threading.Thread(target=shoot, daemon=True).start()
        cpu = time.process_time()
        summary = watch_cameras(load_deployment(deploy), WatchSettings.from_config(cfg), io.StringIO(), events_dir,
                                serve=f"127.0.0.1:{port}", duration_s=args.seconds)
        cpu = time.process_time() - cpu
    finally:
        parent.send("stop")
        server.join(30)
    cameras = summary["cameras"]
    followed = all(s["dropped"] == 0 and s["latency_p95_ms"] is not None and s["latency_p95_ms"] < MAX_P95_MS
                   and not s["error"] for s in cameras.values())
    scored = sum(s["scored"] for s in cameras.values())
    return {"cameras": cameras, "cpu_ms_per_camera_s": 1000 * cpu / (n * args.seconds), "followed": followed,
            "cpu_ms_per_frame": 1000 * cpu / max(scored, 1), "events": summary["events"]}


def report(n: int, result: dict) -> None:
    """Print one run's figures."""
    for name, s in result["cameras"].items():
        print(f"    {name}: {s['fps']} frames/s scored, {s['dropped']} of {s['read']} dropped, latency p50 "
              f"{s['latency_ms']} ms, p95 {s['latency_p95_ms']} ms" + (f", error {s['error']}" if s["error"] else ""))
    print(f"    {n} camera(s): {result['cpu_ms_per_camera_s']:.0f} ms of CPU per camera-second, "
          f"{result['cpu_ms_per_frame']:.0f} ms per scored frame (the whole watch process: readers, decoding, scoring, "
          f"page); {result['events']} events; {'followed' if result['followed'] else 'NOT followed'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=2, metavar="N", help="cameras (with --search: the most tried)")
    parser.add_argument("--search", action="store_true", help="N = 1, 2, ... until a camera is not followed")
    parser.add_argument("--search-from", type=int, default=1, metavar="N", help="the first N --search tries")
    parser.add_argument("--footage", choices=["busy", "still", "quiet", "mixed", "synthetic"], default="busy")
    parser.add_argument("--fps", type=float, default=5.0, help="frame rate each stream is served at")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long each deployment is watched")
    parser.add_argument("--threads", type=int, default=2, help="torch / runtime threads of the watch")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "cameras.yaml", help="the model's settings")
    parser.add_argument("--model", type=Path, help="a trained model with its calibration (default: untrained)")
    parser.add_argument("--gate", default="", help="score.gate values to run, comma-separated (on, off)")
    parser.add_argument("--precision", default="fp32", help="score.precision values to run, comma-separated")
    parser.add_argument("--runtime", default="auto", help="score.runtime")
    parser.add_argument("--false-alarms-per-hour", type=float, help="alarm.false_alarms_per_hour (default: the config's)")
    parser.add_argument("--widths", type=int, nargs=4, metavar="W", help="C3DSU widths (default: the config's)")
    parser.add_argument("--max-backlog", type=int, help="live.max_backlog (default: the config's)")
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="save the page two thirds into the (first) run")
    args = parser.parse_args()
    gates = [g for g in args.gate.split(",") if g]
    if any(g not in ("on", "off") for g in gates):
        sys.exit(f"--gate: {args.gate!r}: give on, off or on,off")
    torch.set_num_threads(args.threads)
    overrides: dict[str, Any] = {"alarm": {"fps": args.fps}, "live": {"stats_every_s": 3600.0, "reconnect_attempts": 0},
                                 "score": {"runtime": args.runtime}}
    if args.false_alarms_per_hour is not None:
        overrides["alarm"]["false_alarms_per_hour"] = args.false_alarms_per_hour
    if args.widths:
        overrides["model"] = {"widths": args.widths}
    if args.max_backlog:
        overrides["live"]["max_backlog"] = args.max_backlog
    base = load_config(args.config, json.dumps(overrides))
    kinds = [("busy", "still")[i % 2] if args.footage == "mixed" else args.footage for i in range(args.cameras)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        normal = footage(kinds[0], args.fps)[:96]
        model = model_file(base, folder, normal, args.fps, args.model)
        loaded, meta = load_model(model, CPU)
        print(f"{args.footage} footage ({', '.join(sorted(set(kinds)))}) at {args.fps:g} frames/s; model "
              f"{args.model or 'untrained C3DSU'} {base['model']['widths']} at {meta['height']}x{meta['width']}x"
              f"{meta['channels']} ({args.config.name}); {args.threads} thread(s); {args.seconds:g} s a run", flush=True)
        for precision in [p for p in args.precision.split(",") if p]:
            if precision != "fp32":  # int8 graphs made and checked as ddl calibrate makes them
                record = make_checked_int8(loaded, meta, model, {"normal": (_model_frames(normal, meta), args.fps)},
                                           load_calibration(sidecar_path(model)), ScoreSettings.from_config(base))
                print("int8 check: " + "; ".join(f"{r} {'passed' if f['passed'] else 'FAILED'} ({f['reason']})"
                                                 for r, f in record["runtimes"].items()), flush=True)
            for gate in gates or [None]:
                score = {"precision": precision, **({"gate": gate == "on"} if gate else {})}
                cfg = load_config(args.config, json.dumps({**overrides, "score": {**overrides["score"], **score}}))
                scoring_model(loaded, meta, model, CPU, args.runtime, precision, args.threads)  # export and probe now
                print(f"\nscore.precision {precision}" + (f", score.gate {gate}" if gate else ""), flush=True)
                best = 0
                for n in range(args.search_from, args.cameras + 1) if args.search else [args.cameras]:
                    events = folder / f"events-{precision}-{gate}-{n}"
                    result = run(n, kinds, model, cfg, args, events)
                    report(n, result)
                    args.screenshot = None
                    if not result["followed"]:
                        break
                    best = n
                if args.search:
                    print(f"  largest N followed at {args.fps:g} frames/s (nothing dropped, latency p95 under "
                          f"{MAX_P95_MS / 1000:g} s): {best or f'fewer than {args.search_from}'}", flush=True)


if __name__ == "__main__":
    main()
