"""The live page of a site on real footage: each camera's clip served as a looping loopback MJPEG stream,
watched with its own trained model by ``ddl watch --cameras --serve``, and the page saved as a PNG.

    python benchmarks/site_page.py --camera lawn=CLIP.mp4[+CLIP2.mp4...]=M.pt [--camera ...] --out PAGE.png
        [--fps 5] [--seconds 90] [--at 45 60 75] [--settings JSON] [--config FILE]

Each model needs its calibration beside it (``ddl calibrate``: ``M.alarm.h5``). A clip (a video file or a folder of frames) is served at ``--fps``
(every round(clip fps / ``--fps``)-th frame, so it keeps its own speed; clips joined by ``+`` one after the
other), forwards and again from its start; the
watch prints a ``stats:`` line (frames/s, latency, gated share: what the page shows) every ``live.stats_every_s``
(10 s here unless ``--settings`` says otherwise). A screenshot is taken at each ``--at`` seconds into the watch
with headless Chromium (``PAGE-<seconds>s.png`` when more than one); the watch's event lines and its summary go to ``PAGE.png.events.jsonl`` and stderr.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from mjpeg_server import MJPEGServer  # noqa: E402

from bench_watch_cameras import screenshot  # noqa: E402

#: file name endings of the images of a frame folder
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".bmp")
#: seconds between the watch's stats lines unless --settings sets live.stats_every_s
STATS_EVERY_S = 10


def clip_frames(path: Path, fps: float) -> np.ndarray:
    """RGB uint8 (N, H, W, 3): every round(clip fps / ``fps``)-th frame of the video at ``path``, or every image
    of the frame folder at ``path`` (name order: footage at ``fps``)."""
    if path.is_dir():
        images = [cv2.imread(str(p)) for p in sorted(path.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
        frames = [cv2.cvtColor(image, cv2.COLOR_BGR2RGB) for image in images if image is not None]
    else:
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise SystemExit(f"{path}: cannot open the video")
        step = max(1, round((capture.get(cv2.CAP_PROP_FPS) or fps) / fps))
        frames, index = [], 0
        while (read := capture.read())[0]:
            if index % step == 0:
                frames.append(cv2.cvtColor(read[1], cv2.COLOR_BGR2RGB))
            index += 1
        capture.release()
    if not frames:
        raise SystemExit(f"{path}: no frame decodes")
    return np.stack(frames)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--camera", action="append", required=True, metavar="NAME=CLIP=MODEL",
                        help="a camera: its name, the clip(s) its stream loops and its trained model (repeatable)")
    parser.add_argument("--out", required=True, type=Path, help="the page's screenshot (.png)")
    parser.add_argument("--fps", type=float, default=5.0, help="frame rate of each stream")
    parser.add_argument("--seconds", type=float, default=90.0, help="how long the site is watched")
    parser.add_argument("--at", type=float, nargs="+", default=[75.0], help="seconds into the watch of each screenshot")
    parser.add_argument("--config", default="config/cameras.yaml", help="the models' configuration")
    parser.add_argument("--settings", default="{}", help="configuration sections as JSON, over --config")
    args = parser.parse_args()

    settings = json.loads(args.settings)
    settings.setdefault("live", {}).setdefault("stats_every_s", STATS_EVERY_S)
    servers, cameras = [], []
    for spec in args.camera:
        name, clip, model = spec.split("=", 2)
        frames = np.concatenate([clip_frames(Path(part), args.fps) for part in clip.split("+")])
        server = MJPEGServer(frames, args.fps, loop=True).start()
        servers.append(server)
        cameras.append({"name": name, "source": server.url, "model": str(Path(model).resolve())})
    port = free_port()
    with tempfile.TemporaryDirectory() as work:
        deploy = Path(work) / "deploy.yaml"
        deploy.write_text(yaml.safe_dump({"cameras": cameras}))
        events = args.out.with_name(args.out.name + ".events.jsonl")
        events.unlink(missing_ok=True)
        command = [sys.executable, "-m", "ddlcore.cli", "watch", "--config", args.config, "--settings",
                   json.dumps(settings), "--cameras", str(deploy), "--events-dir", str(Path(work) / "events"),
                   "--events", str(events), "--serve", f"127.0.0.1:{port}", "--duration", str(args.seconds)]
        pngs = [args.out if len(args.at) == 1 else args.out.with_name(f"{args.out.stem}-{at:g}s.png") for at in args.at]
        shooters = [threading.Timer(at, screenshot, (f"http://127.0.0.1:{port}/", png)) for at, png in zip(args.at, pngs)]
        for shooter in shooters:
            shooter.start()
        started = time.monotonic()
        try:
            result = subprocess.run(command, check=False)
        finally:
            for shooter in shooters:
                shooter.cancel()
            for server in servers:
                server.stop()
    print(f"watched {len(cameras)} camera(s) for {time.monotonic() - started:.0f} s (exit {result.returncode}); "
          f"page: {', '.join(map(str, pngs))}, events: {events}", file=sys.stderr)
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
