"""``ddl watch SOURCE``: score a live source with a calibrated model; events as JSON lines.

Each event is printed twice, as one JSON object per line (stdout, or ``--events FILE``, flushed
at once): ``{"event": "start", ...}`` when it is confirmed (``alarm.min_frames`` alarmed frames)
and ``{"event": "end", ...}`` when it is over (fields in :class:`ddlcore.live.event_log.EventLog`).

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
from contextlib import nullcontext
from pathlib import Path
from typing import Any, TextIO

from ..alarm.calibration import load_calibration, sidecar_path
from ..errors import DDLError
from .event_log import EventLog
from .overlay import OverlayWriter, overlay_frame
from .scorer import LiveScorer
from .server import LiveState, start_server
from .sources import Frame, FrameReader
from .stats import Stats


def watch(source: str, model_path: str | Path, cfg: dict[str, Any], events_out: TextIO,
          calibration_path: str | Path | None = None, overlay_path: str | Path | None = None,
          serve: str | None = None, duration_s: float | None = None,
          stop: threading.Event | None = None) -> dict[str, Any]:
    """Watch ``source`` until it ends (file end, or reconnection given up), ``duration_s`` passes, ``stop``
    is set (by another thread of a program embedding the watch) or Ctrl-C.

    Writes event JSON lines to ``events_out``; returns the final figures (see :class:`Stats`) with
    ``events``, the number of events, and ``error``: why the source was lost for good (reconnection given
    up, a file that stopped decoding), or None.
    """
    from ..devices import resolve_device
    from ..inference import load_model

    calibration = load_calibration(calibration_path or sidecar_path(model_path))
    device = resolve_device(cfg["score"]["device"], "score.device")
    model, meta = load_model(model_path, device, cfg["score"]["runtime"])
    scorer = LiveScorer(model, meta, calibration, cfg["score"], device)
    live = cfg["live"]
    state = LiveState(source, calibration.threshold, live["curve_frames"]) if serve else None
    server = start_server(serve, state) if serve and state is not None else None
    reader = FrameReader(source, live, cfg["alarm"]["fps"]).start()
    stats = Stats()
    frames: deque[Frame] = deque(maxlen=scorer.clip)
    writer = OverlayWriter(overlay_path, reader.fps) if overlay_path else None
    log = EventLog(events_out, calibration, scorer.size[:2], state)
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
                log.changes(scorer.finish())
                scorer.reset()
                frames.clear()
                connection = frame.connection
            frames.append(frame)
            result = scorer.push(frame.image)
            log.read(scorer.pushed - 1, frame)
            if result is None:
                continue
            scored = frames[-1 - scorer.clip // 2]  # the frame the result is about (T//2 frames old)
            stats.add(frame, scored)
            log.changes(result.changes)
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
        log.changes(scorer.finish())
        if writer is not None:
            writer.close()
        if server is not None:
            server.shutdown()
            server.server_close()
    elapsed = time.monotonic() - (stats.start or time.monotonic())
    figures = {**stats.report(reader), "events": log.count, "fps": round(stats.scored / max(elapsed, 1e-9), 2)}
    figures["error"] = reader.error
    print("summary: " + json.dumps(figures), file=sys.stderr, flush=True)
    return figures


def _run(args: argparse.Namespace) -> None:
    from ..cli import config_from_args

    cfg = config_from_args(args)
    if args.events:
        Path(args.events).parent.mkdir(parents=True, exist_ok=True)
    with open(args.events, "a", encoding="utf-8") if args.events else nullcontext(sys.stdout) as out:
        figures = watch(args.source, args.model, cfg, out, args.calibration, args.overlay, args.serve, args.duration)
    if figures["error"]:  # exit status 1: a service manager can restart the watch
        raise DDLError(figures["error"])


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
