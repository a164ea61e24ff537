"""Soak test of ``ddl watch --cameras``: does a watch stay flat (threads, memory, open files) for a long run while its
sources and outputs come and go, with no traceback and every event delivered?

Runs ``ddl watch --cameras`` as its own process (1 torch thread) on ``--cameras`` loopback cameras of a tiny
untrained model (32x32 gray clips; the weights do not matter here), calibrated on the cameras' normal footage
at a high false-alarm budget so that events happen: all cameras but two are looped MJPEG streams (a square
walking, and every 20 s a large one running the other way), the last two are folders that images are written
into (a JPEG written in two halves, older files removed). Outputs: a mosquitto broker (a persistent subscriber
counts the events) and a webhook receiver; the ``--serve`` page is read every 20 s.

While it runs: each minute one stream goes away for 8 s and comes back (in turn); every 5 minutes the broker
goes away for 20 s, and (offset) the webhook receiver for 15 s. Every minute it prints the watch process's
threads, resident memory (MB) and open files, and the events so far (event lines, MQTT, webhook). At the end
it stops the watch with SIGTERM (a requested stop: exit status 0) and prints the verdict: figures flat after
warm-up (minute 3 on), no traceback, every event line's start and end delivered by MQTT and by the webhook.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/soak_watch.py [--minutes 30] [--cameras 8] [--fps 10]``
(needs mosquitto: ``apt-get install mosquitto``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the test helpers: tiny model, footage, broker

from alarm_fixtures import tiny_checkpoint, to_model_frames  # noqa: E402
from camera_fixtures import walking_frames  # noqa: E402
from mjpeg_server import MJPEGServer  # noqa: E402
from mqtt_broker import Broker, Subscriber, free_port  # noqa: E402

#: a camera URL of the kind many IP cameras take, the password in its query: it must never show
CAMERA_PATH = "/video.cgi?user=admin&password=soak-secret"
HEIGHT, WIDTH = 48, 64


class WebhookReceiver:
    """A loopback webhook receiver on a fixed port that can go away and come back; ``bodies``: JSON of each POST."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.bodies: list[dict] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                owner.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class Outages:
    """Takes services down in turn: the first at ``first`` (monotonic seconds), then one every ``every_s``
    seconds, each for ``down_s`` seconds before it is started again. Services have ``stop()`` and ``start()``."""

    def __init__(self, services: list, first: float, every_s: float, down_s: float) -> None:
        self.services, self.next, self.every_s, self.down_s = services, first, every_s, down_s
        self.down: Any = None
        self.back = 0.0
        self.taken = 0

    def tick(self, now: float) -> None:
        """Take the next service down, or bring the one down back, when its time has come."""
        if self.down is None and self.services and now >= self.next:
            self.down = self.services[self.taken % len(self.services)]
            self.down.stop()
            self.back, self.next, self.taken = now + self.down_s, self.next + self.every_s, self.taken + 1
        elif self.down is not None and now >= self.back:
            self.restore()

    def restore(self) -> None:
        """Start the service that is down, if any."""
        if self.down is not None:
            self.down.start()
            self.down = None


def folder_writer(folder: Path, frames: np.ndarray, fps: float, stop: threading.Event, keep: int = 100) -> None:
    """Write ``frames`` (looped) into ``folder`` as JPEGs at ``fps``, each in two halves (a reader may see the
    first), removing files beyond the newest ``keep``."""
    i = 0
    while not stop.wait(1.0 / fps):
        data = cv2.imencode(".jpg", cv2.cvtColor(frames[i % len(frames)], cv2.COLOR_RGB2BGR))[1].tobytes()
        path = folder / f"{i:09d}.jpg"
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
            time.sleep(0.01)
            f.write(data[len(data) // 2:])
        if i >= keep:
            (folder / f"{i - keep:09d}.jpg").unlink(missing_ok=True)
        i += 1


def calibrated_model(folder: Path, normal: list[np.ndarray], fps: float) -> Path:
    """A tiny model calibrated on ``normal`` RGB videos at a high false-alarm budget (events happen); its path."""
    import torch

    from ddlcore.alarm.calibration import calibrate, save_calibration, sidecar_path
    from ddlcore.alarm.settings import AlarmSettings
    from ddlcore.config import load_config
    from ddlcore.score.inference import load_model
    from ddlcore.score.settings import ScoreSettings

    path = tiny_checkpoint(folder / "m.pt")
    cfg = load_config(None, json.dumps({"alarm": {"false_alarms_per_hour": 120}, "score": {"runtime": "torch"}}))
    model, meta = load_model(path, torch.device("cpu"))
    videos = {f"n{i}": (to_model_frames(v), fps) for i, v in enumerate(normal)}
    save_calibration(calibrate(model, meta, videos, ScoreSettings.from_config(cfg), AlarmSettings.from_config(cfg),
                               path), sidecar_path(path))
    return path


def process_figures(pid: int) -> dict[str, float]:
    """Threads, resident memory (MB) and open files of process ``pid`` (from /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {"threads": int(fields["Threads"]), "rss_mb": round(int(fields["VmRSS"].split()[0]) / 1024, 1),
            "open_files": len(os.listdir(f"/proc/{pid}/fd"))}


def event_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="run length (default 30)")
    parser.add_argument("--cameras", type=int, default=8, help="cameras (the last two are folders; default 8)")
    parser.add_argument("--fps", type=float, default=10.0, help="each camera's frame rate (default 10)")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temporary folder)")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ddl-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    streams_n, folders_n = max(args.cameras - 2, 0), min(args.cameras, 2)
    clip = walking_frames(200, HEIGHT, WIDTH, seed=1, fast_from=150)  # 20 s at 10 fps, the last 5 s anomalous
    model = calibrated_model(work, [walking_frames(300, HEIGHT, WIDTH, seed=s) for s in (2, 3, 4)], args.fps)
    streams = [MJPEGServer(clip, args.fps, port=free_port(), loop=True, path=CAMERA_PATH) for _ in range(streams_n)]
    for stream in streams:
        stream.start()
    folders = [work / f"folder{i}" for i in range(folders_n)]
    writing = threading.Event()
    for folder in folders:
        folder.mkdir(exist_ok=True)
        threading.Thread(target=folder_writer, args=(folder, clip, args.fps, writing), daemon=True).start()
    (work / "broker").mkdir(exist_ok=True)
    broker = Broker(work / "broker").start()
    subscriber = Subscriber(broker, ["ddl/events"], session="soak-subscriber")
    receiver = WebhookReceiver()
    receiver.start()
    cameras = [{"name": f"stream{i}", "source": s.url, "model": str(model)} for i, s in enumerate(streams)]
    cameras += [{"name": f"folder{i}", "source": str(f), "model": str(model)} for i, f in enumerate(folders)]
    (work / "deploy.yaml").write_text(yaml.safe_dump({"cameras": cameras}))
    page_port = free_port()
    settings = {"score": {"runtime": "torch"},
                "live": {"reconnect_delay_s": 1.0, "open_timeout_s": 3.0, "stats_every_s": 60.0},
                "outputs": {"mqtt": {"broker": broker.url, "reconnect_max_s": 2, "discovery": False},
                            "webhooks": {"urls": [receiver.url], "retries": 8, "backoff_s": 1.0, "timeout_s": 2.0}}}
    events_file, stderr_file = work / "events.jsonl", work / "watch.stderr"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with open(stderr_file, "w") as err:
        watch = subprocess.Popen([sys.executable, "-m", "ddlcore.cli.main", "watch", "--cameras", str(work / "deploy.yaml"),
                                  "--events", str(events_file), "--events-dir", str(work / "events"),
                                  "--serve", f"127.0.0.1:{page_port}", "--settings", json.dumps(settings)],
                                 stderr=err, stdout=subprocess.DEVNULL, env=env, cwd=REPO)
    print(f"soak: {args.cameras} cameras ({streams_n} streams, {folders_n} folders) at {args.fps:g} frames/s for "
          f"{args.minutes:g} min; work folder {work}; watch pid {watch.pid}", flush=True)
    start = time.monotonic()
    end = start + 60 * args.minutes
    rows: list[dict] = []
    next_minute, next_page = start + 60, start + 20
    # a stream down for 8 s every minute (in turn), the broker for 20 s and the receiver for 15 s every 5 minutes
    outages = [Outages(streams, start + 30, 60, 8), Outages([broker], start + 150, 300, 20),
               Outages([receiver], start + 240, 300, 15)]
    page_failures = 0
    while time.monotonic() < end and watch.poll() is None:
        now = time.monotonic()
        minute = (now - start) / 60
        for outage in outages:
            outage.tick(now)
        if now >= next_page:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{page_port}/state.json", timeout=5).read()
            except OSError:
                page_failures += 1
            next_page += 20
        if now >= next_minute:
            lines = event_lines(events_file)
            row = {"minute": round(minute), **process_figures(watch.pid),
                   "events": sum(e["event"] == "start" for e in lines),
                   "mqtt_new": sum(json.loads(p)["type"] == "new" for p, _ in subscriber.on("ddl/events")),
                   "webhook_new": sum(b["type"] == "new" for b in receiver.bodies)}
            rows.append(row)
            print("minute " + json.dumps(row), flush=True)
            next_minute += 60
        time.sleep(1.0 - (time.monotonic() - start) % 1.0)
    ended_early = watch.poll() is not None
    if not ended_early:
        watch.send_signal(signal.SIGTERM)
    rc = watch.wait(60)
    for outage in outages:
        outage.restore()
    time.sleep(10)  # what the watch delivered on its way out reaches the subscriber
    writing.set()
    lines = event_lines(events_file)
    starts = sum(e["event"] == "start" for e in lines)
    ends = sum(e["event"] == "end" for e in lines)
    messages = [json.loads(p)["type"] for p, _ in subscriber.on("ddl/events")]
    hooks = [b["type"] for b in receiver.bodies]
    stderr = stderr_file.read_text()
    warm = [r for r in rows if r["minute"] >= 3]
    growth = {k: (warm[-1][k] - warm[0][k]) if len(warm) > 1 else None for k in ("threads", "rss_mb", "open_files")}
    verdict = {"exit_status": rc, "ended_early": ended_early, "tracebacks": stderr.count("Traceback"),
               "secret_shown": "soak-secret" in stderr + json.dumps(lines),
               "event_lines": {"start": starts, "end": ends},
               "mqtt": {"new": messages.count("new"), "end": messages.count("end")},
               "webhook": {"new": hooks.count("new"), "end": hooks.count("end")},
               "page_failures": page_failures, "growth_from_minute_3": growth,
               "warnings": sum(line.startswith("warning:") for line in stderr.splitlines())}
    print("verdict " + json.dumps(verdict), flush=True)
    subscriber.close()
    broker.stop()
    receiver.stop()
    for stream in streams:
        stream.stop()
    delivered = verdict["mqtt"]["new"] >= starts and verdict["webhook"]["new"] >= starts \
        and verdict["mqtt"]["end"] >= ends and verdict["webhook"]["end"] >= ends
    return 0 if rc == 0 and not ended_early and not verdict["tracebacks"] and delivered else 1


if __name__ == "__main__":
    sys.exit(main())
