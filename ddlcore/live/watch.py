"""``ddl watch SOURCE``: score a live source with a calibrated model; events as JSON lines.

Each event is printed twice, as one JSON object per line (stdout, or ``--events FILE``, flushed
at once): ``{"event": "start", ...}`` when it is confirmed (``alarm.min_frames`` alarmed frames)
and ``{"event": "end", ...}`` when it is over (fields in :class:`ddlcore.live.event_log.EventLog`).

Status goes to stderr: reconnections, and every ``live.stats_every_s`` a ``stats:`` line with the
frame rate scored, frames dropped to keep up, and latency (from reading a frame to its result,
and to the alarm decision about it, which waits for T//2 later frames). A summary line ends the run.

``ddl watch --cameras DEPLOY.yaml`` watches every camera of a deployment file instead (:mod:`.multi_watch`).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, TextIO

from ..alarm.calibration import load_calibration, sidecar_path
from .event_log import EventLog
from .overlay import OverlayWriter, overlay_frame
from .scorer import LiveScorer
from .server import LiveState, PageSettings, start_server
from .settings import WatchSettings
from .sources import Frame, FrameReader
from .stats import Stats


def watch(source: str, model_path: str | Path, settings: WatchSettings, events_out: TextIO,
          calibration_path: str | Path | None = None, overlay_path: str | Path | None = None,
          serve: str | None = None, duration_s: float | None = None,
          stop: threading.Event | None = None, token: str | None = None,
          allow_hosts: tuple[str, ...] = ()) -> dict[str, Any]:
    """Watch ``source`` until it ends (file end, or reconnection given up), ``duration_s`` passes, ``stop``
    is set (by another thread of a program embedding the watch) or Ctrl-C.

    settings: the ``live``, ``score`` (device, runtime) and ``alarm`` (``fps``) sections. ``serve`` HOST:PORT
    with ``token`` and ``allow_hosts``: the page (see :mod:`.server`). The calibration (default: the model's
    sidecar) must be the model's (:func:`check_calibration`); ``overlay_path``: where the overlay video goes.
    Writes event JSON lines to ``events_out``; returns the final figures (see :class:`Stats`) with ``events``,
    the number of events, and ``error``: why the source was lost for good (reconnection given up, a file that
    stopped decoding), or None.
    """
    from ..devices import resolve_device
    from ..score.inference import load_model

    live, score = settings.live, settings.score
    page = PageSettings.build(live, serve, token, allow_hosts) if serve else None
    calibration_path = calibration_path or sidecar_path(model_path)
    calibration = load_calibration(calibration_path)
    device = resolve_device(score.device, "score.device")
    model, meta = load_model(model_path, device, score.runtime, (calibration, calibration_path))
    scorer = LiveScorer(model, meta, calibration, score, device)
    reader = FrameReader(source, live, settings.alarm.fps, min_frames=scorer.clip)
    state = LiveState(reader.name, calibration.threshold, live.curve_frames, live.page_events) if page else None
    server = start_server(serve, {"": state}, page) if serve and state and page else None
    reader.start()
    stats = Stats()
    frames: deque[Frame] = deque(maxlen=scorer.clip)
    writer = OverlayWriter(overlay_path, reader.fps) if overlay_path else None
    log = EventLog(events_out, calibration, scorer.size[:2], state)
    connection = -1
    next_report = time.monotonic() + live.stats_every_s
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
                next_report = time.monotonic() + live.stats_every_s
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
