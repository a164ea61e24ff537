"""``ddl watch SOURCE``: score a live source with a calibrated model; events as JSON lines.

Each event is printed twice, as one JSON object per line (stdout, or ``--events FILE``, flushed
at once): ``{"event": "start", ...}`` when it is confirmed (``alarm.min_frames`` alarmed frames)
and ``{"event": "end", ...}`` when it is over (fields in :class:`ddlcore.live.event_log.EventLog`).

Status goes to stderr: reconnections, and every ``live.stats_every_s`` a ``stats:`` line with the
frame rate scored, frames dropped to keep up, latency (from reading a frame to its result,
and to the alarm decision about it, which waits for T//2 later frames) and the windows gated (``gated``: so
far, ``gated_share``: of the period; not run through the model, unchanged since the last scored, ``score.gate``).
A summary line ends the run.

``ddl watch --cameras DEPLOY.yaml`` watches every camera of a deployment file instead (:mod:`.multi_watch`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, TextIO

from ..alarm.calibration import sidecar_path
from ..errors import DDLError
from .deployment import DeployedCamera
from .multi_watch import watch_cameras
from .settings import WatchSettings


def watch(source: str, model_path: str | Path, settings: WatchSettings, events_out: TextIO,
          calibration_path: str | Path | None = None, overlay_path: str | Path | None = None,
          serve: str | None = None, duration_s: float | None = None,
          stop: threading.Event | None = None, token: str | None = None,
          allow_hosts: tuple[str, ...] = ()) -> dict[str, Any]:
    """Watch ``source`` until it ends (file end, or reconnection given up), ``duration_s`` passes, ``stop``
    is set (by another thread of a program embedding the watch) or Ctrl-C: the multi-camera loop
    (:func:`.multi_watch.watch_cameras`) with one unnamed camera and no event media.

    settings: the ``live``, ``score`` (device, runtime) and ``alarm`` (``fps``) sections. ``serve`` HOST:PORT
    with ``token`` and ``allow_hosts``: the page (see :mod:`.server`). The calibration (default: the model's
    sidecar) must be the model's (:func:`check_calibration`); ``overlay_path``: where the overlay video goes.
    Writes event JSON lines to ``events_out``; returns the final figures (see :class:`Stats`) with ``events``,
    the number of events, and ``error``: why the source was lost for good (reconnection given up, a file that
    stopped decoding), or None.
    """
    model = Path(model_path)
    if not model.is_file():  # before the calibration beside it is looked for
        kind = "a folder, not a model file (M.pt)" if model.is_dir() else "not found"
        raise DDLError(f"--model {model}: {kind}")
    camera = DeployedCamera("", source, model, Path(calibration_path or sidecar_path(model)))
    summary = watch_cameras([camera], settings, events_out, None, serve, duration_s, stop, token, allow_hosts,
                            {"": overlay_path} if overlay_path else None)
    return summary["cameras"][""]
