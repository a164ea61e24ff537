"""``ddl watch SOURCE``: score a live source with a calibrated model; events as JSON lines.

Each event is printed twice, as one JSON object per line (stdout, or ``--events FILE``, flushed
at once): ``{"event": "start", ...}`` when it is confirmed (``alarm.min_frames`` alarmed frames)
and ``{"event": "end", ...}`` when it is over. Fields: id, start and end (indices of scored
frames), start_time / end_time / time (ISO 8601, when those frames were read), peak_frame,
peak_score, threshold, box (x0, y0, x1, y1 of the worst patch at the peak, in source pixels).

Status goes to stderr: reconnections, and every ``live.stats_every_s`` a ``stats:`` line with the
frame rate scored, frames dropped to keep up, and latency (from reading a frame to its result,
and to the alarm decision about it, which waits for T//2 later frames). A summary line ends the run.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np

from ..alarm.calibration import load_calibration, sidecar_path
from ..alarm.events import Event, scale_box
from ..data.footage_reader import warn
from ..errors import DDLError
from .overlay import overlay_frame
from .scorer import LiveScorer
from .server import LiveState, start_server
from .sources import Frame, FrameReader


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, timezone.utc).isoformat(timespec="milliseconds")


class Stats:
    """Frame rate and latency over the last reporting period and over the whole run."""

    def __init__(self) -> None:
        self.start: float | None = None  # the first result
        self.scored = 0
        self.period_start = time.monotonic()
        self.period_scored = 0
        self.latency: deque[float] = deque(maxlen=500)
        self.decision: deque[float] = deque(maxlen=500)

    def add(self, newest: Frame, scored: Frame) -> None:
        """One result: ``newest`` the frame just pushed, ``scored`` the frame it scored (T//2 older)."""
        now = time.monotonic()
        if self.start is None:
            self.start = self.period_start = now
        self.scored += 1
        self.period_scored += 1
        self.latency.append(now - newest.captured)
        self.decision.append(now - scored.captured)

    def report(self, reader: FrameReader) -> dict[str, Any]:
        """The figures of the period since the last report (then a new period starts)."""
        now = time.monotonic()
        figures = {
            "fps": round(self.period_scored / max(now - self.period_start, 1e-9), 2),
            "source_fps": round(reader.fps, 2),
            "latency_ms": round(1000 * float(np.median(self.latency)), 1) if self.latency else None,
            "decision_latency_ms": round(1000 * float(np.median(self.decision)), 1) if self.decision else None,
            "dropped": reader.dropped, "read": reader.read, "scored": self.scored, "reconnects": reader.reconnects,
        }
        self.period_start, self.period_scored = now, 0
        return figures


class OverlayWriter:
    """Writes overlay frames to a video file (.mp4: mp4v, anything else: MJPG) at the source's frame rate."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = fps
        self.size: tuple[int, int] | None = None
        self.writer: cv2.VideoWriter | None = None

    def write(self, rgb: np.ndarray) -> None:
        """Append one RGB uint8 (h, w, 3) frame (resized to the first frame's size if the source changed size)."""
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix.lower() == ".mp4" else "MJPG"))
            self.size = (rgb.shape[1], rgb.shape[0])
            self.writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, self.size)
            if not self.writer.isOpened():
                raise DDLError(f"{self.path}: OpenCV cannot write this video (try .avi or .mp4)")
        if (rgb.shape[1], rgb.shape[0]) != self.size:
            rgb = cv2.resize(rgb, self.size)
        self.writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        """Finish the file."""
        if self.writer is not None:
            self.writer.release()


def watch(source: str, model_path: str | Path, cfg: dict[str, Any], events_out: TextIO,
          calibration_path: str | Path | None = None, overlay_path: str | Path | None = None,
          serve: str | None = None, duration_s: float | None = None,
          stop: threading.Event | None = None) -> dict[str, Any]:
    """Watch ``source`` until it ends (file end, or reconnection given up), ``duration_s`` passes, ``stop``
    is set (by another thread of a program embedding the watch) or Ctrl-C.

    Writes event JSON lines to ``events_out``; returns the final figures (see :class:`Stats`) with
    ``events``, the number of events.
    """
    from ..devices import resolve_device
    from ..inference import load_model

    calibration = load_calibration(calibration_path or sidecar_path(model_path))
    device = resolve_device(cfg["score"]["device"], "score.device")
    model, meta = load_model(model_path, device)
    scorer = LiveScorer(model, meta, calibration, cfg["score"], device)
    live = cfg["live"]
    state = LiveState(source, calibration.threshold, live["curve_frames"]) if serve else None
    server = start_server(serve, state) if serve and state is not None else None
    reader = FrameReader(source, live, cfg["alarm"]["fps"]).start()
    stats = Stats()
    frames: deque[Frame] = deque(maxlen=scorer.clip)
    walls: dict[int, float] = {}
    writer = OverlayWriter(overlay_path, reader.fps) if overlay_path else None
    # read times of recent frames, as far back as an event's start can lie when it is confirmed
    keep = scorer.clip + int(calibration.alarm["min_frames"]) * (int(calibration.alarm["merge_gap"]) + 1) + 2
    events = 0
    size = (1, 1)
    opened: dict[int, tuple[int, float]] = {}  # id(event) -> (event number, read time of its start)

    def emit(kind: str, event: Event) -> None:
        nonlocal events
        if id(event) not in opened:
            events += 1
            opened[id(event)] = (events, walls.get(event.start, time.time()))
        number, start_wall = opened[id(event)] if kind == "start" else opened.pop(id(event))
        record = {
            "event": kind, "id": number, "start": event.start, "end": event.end if kind == "end" else None,
            "start_time": _iso(start_wall),
            "end_time": _iso(walls.get(event.end, time.time())) if kind == "end" else None,
            "time": _iso(time.time()), "peak_frame": event.peak_frame, "peak_score": round(event.peak_score, 6),
            "threshold": calibration.threshold, "box": scale_box(event.box, scorer.size[:2], size),
        }
        events_out.write(json.dumps(record) + "\n")
        events_out.flush()
        if state is not None:
            state.event(record)

    connection = -1
    next_report = time.monotonic() + live["stats_every_s"]
    deadline = None if duration_s is None else time.monotonic() + duration_s

    def running() -> bool:
        return not reader.finished and (deadline is None or time.monotonic() < deadline) and not (stop and stop.is_set())

    try:
        while running():
            frame = reader.get(timeout=0.5)
            if frame is None:
                continue
            if frame.connection != connection:  # the source restarted: its frames do not continue the old ones
                for kind, event in scorer.finish():
                    emit(kind, event)
                scorer.reset()
                frames.clear()
                connection = frame.connection
            size = frame.image.shape[:2]
            frames.append(frame)
            result = scorer.push(frame.image)
            walls[scorer.pushed - 1] = frame.wall
            walls.pop(scorer.pushed - 1 - keep, None)
            if result is None:
                continue
            scored = frames[-1 - scorer.clip // 2]  # the frame the result is about (T//2 frames old)
            stats.add(frame, scored)
            for kind, event in result.changes:
                emit(kind, event)
            if writer is not None or state is not None:
                picture = overlay_frame(scored.image, result.error, result.score, calibration.threshold, result.box,
                                        result.alarmed)
                if writer is not None:
                    writer.write(picture)
                if state is not None:
                    state.frame(picture, result.frame, result.score, result.alarmed)
            if time.monotonic() >= next_report:
                figures = stats.report(reader)
                print("stats: " + json.dumps(figures), file=sys.stderr, flush=True)
                if state is not None:
                    state.stats(figures)
                next_report = time.monotonic() + live["stats_every_s"]
    except KeyboardInterrupt:
        pass
    finally:
        reader.stop()
        for kind, event in scorer.finish():
            emit(kind, event)
        if writer is not None:
            writer.close()
        if server is not None:
            server.shutdown()
            server.server_close()
    elapsed = time.monotonic() - (stats.start or time.monotonic())
    figures = {**stats.report(reader), "events": events, "fps": round(stats.scored / max(elapsed, 1e-9), 2)}
    if reader.error:
        warn(reader.error)
    print("summary: " + json.dumps(figures), file=sys.stderr, flush=True)
    return figures


def _run(args: argparse.Namespace) -> None:
    from ..cli import config_from_args

    cfg = config_from_args(args)
    if args.events:
        Path(args.events).parent.mkdir(parents=True, exist_ok=True)
        with open(args.events, "a", encoding="utf-8") as out:
            watch(args.source, args.model, cfg, out, args.calibration, args.overlay, args.serve, args.duration)
    else:
        watch(args.source, args.model, cfg, sys.stdout, args.calibration, args.overlay, args.serve, args.duration)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl watch``."""
    from ..cli import add_config_args

    add_config_args(parser)
    parser.add_argument("source", metavar="SOURCE",
                        help="camera index (0), stream URL (rtsp://, http://), video file, or folder images are written into")
    parser.add_argument("--model", required=True, metavar="M.pt", help="trained model checkpoint")
    parser.add_argument("--calibration", metavar="A.h5", help="alarm calibration (default: the model's sidecar M.alarm.h5)")
    parser.add_argument("--events", metavar="FILE", help="append event JSON lines to FILE instead of stdout")
    parser.add_argument("--overlay", metavar="VIDEO", help="also write the overlay video (.mp4: mp4v, .avi: MJPG)")
    parser.add_argument("--serve", metavar="HOST:PORT", help="serve a live page (overlay, score curve, events), e.g. 127.0.0.1:8080")
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long (default: until the source ends)")
    parser.set_defaults(func=_run)
