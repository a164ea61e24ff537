"""``ddl watch --cameras deploy.yaml``: every camera of a deployment watched in one process.

Each camera has its own reader thread (:class:`.sources.FrameReader`: backlog, reconnection), its
own scorer state, event log and event media; models are loaded once per model file, on one scoring
device, and one loop scores for all cameras. Each round takes at most one waiting frame per camera
(so a fast camera cannot starve a slow one; each reader drops its oldest frames when scoring falls
behind) and scores the round with :func:`score_round`, the one place a batched scorer would go.

Event lines (stdout or ``--events FILE``) carry ``camera``, and, with an events folder, ``clip`` and
``snapshot`` (file names in it, :mod:`.event_media`). A camera whose stream is lost for good (reconnection
given up) or whose file ended is reported on stderr and on the page; the others go on. The watch
ends when every camera has ended, after ``--duration``, or on Ctrl-C; its exit status is 1 when a
camera was lost.

``ddl watch SOURCE`` (:func:`.watch.watch`) is the same loop with one camera named ``""``: its lines carry
no ``camera`` field.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, TextIO

import numpy as np

from ..alarm.calibration import Calibration, check_calibration, load_calibration
from ..data.resample import RateGate
from ..devices import resolve_device
from ..errors import DDLError, warn
from ..score.export import scoring_model
from ..score.inference import load_model
from ..score.settings import ScoreSettings
from .api import Api
from .deployment import DeployedCamera, watch_rate
from .event_log import EventLog
from .event_media import MEDIA_NAME_EXTRA, EventMedia, MediaSettings, MediaWriter, camera_label
from .output_paths import longest_name_fits, writable_folder
from .outputs.alarm_outputs import AlarmOutputs
from .overlay import OverlayWriter, overlay_frame
from .page_state import LiveState
from .rate_check import RateCheck
from .scorer import BatchScorer, FrameResult, LiveScorer
from .server import PageSettings, start_server
from .settings import LiveSettings, WatchSettings
from .sources import LIVE_KINDS, Frame, FrameReader
from .stats import Stats


class SignallingReader(FrameReader):
    """A :class:`FrameReader` that sets ``ready`` whenever it has a new frame or ends (so one loop can wait on
    many readers); the arguments are :class:`FrameReader`'s and ``ready``."""

    def __init__(self, source: str, live: LiveSettings, default_fps: float, ready: threading.Event,
                 on_status: Callable[[str], None] = warn, min_frames: int = 1) -> None:
        super().__init__(source, live, default_fps, on_status, min_frames)
        self.ready = ready

    def _offer(self, image: np.ndarray) -> None:
        super()._offer(image)
        self.ready.set()

    def _loop(self) -> None:
        try:
            super()._loop()
        finally:
            self.ready.set()


@dataclass
class CameraWatch:
    """One camera's part of the watch: reader, scorer, recent frames, figures, events, media, page state,
    overlay video and alarm outputs (``name`` ``""``: the one unnamed camera of ``ddl watch SOURCE``)."""

    name: str
    reader: FrameReader
    scorer: LiveScorer
    calibration: Calibration
    log: EventLog
    media: EventMedia | None
    state: LiveState | None
    overlay: OverlayWriter | None = None
    alarms: AlarmOutputs | None = None
    stats: Stats = field(default_factory=Stats)
    rate: RateCheck | None = None
    frames: deque[Frame] = field(default_factory=deque)
    connection: int = -1
    ended: bool = False

    def admit(self, frame: Frame) -> None:
        """A frame about to be scored: a new connection starts a new window (its frames do not continue the old)."""
        if frame.connection != self.connection:
            self.log.changes(self.scorer.finish())
            self.scorer.reset()
            self.frames.clear()
            self.connection = frame.connection
        self.frames.append(frame)
        while len(self.frames) > self.scorer.clip:
            self.frames.popleft()

    def scored(self, frame: Frame, result: FrameResult | None) -> None:
        """The scorer's result for ``frame`` (None while its window fills): figures, overlay, media, events."""
        self.log.read(self.scorer.pushed - 1, frame)
        if result is None:
            return
        about = self.frames[-1 - self.scorer.clip // 2]  # the frame the result is about (T//2 frames old)
        self.stats.add(frame, about, result.gated)
        if self.media is not None or self.state is not None or self.overlay is not None:
            threshold = self.calibration.threshold
            picture = overlay_frame(about.image, result.error, result.score, threshold, result.box, result.alarmed)
            if self.overlay is not None:
                self.overlay.write(picture)
            if self.media is not None:
                self.media.frame(result.frame, picture, about.image, self.scorer.tracker.candidate)
            if self.state is not None:
                self.state.frame(picture, result.frame, result.score, result.alarmed)
        self.log.changes(result.changes)
        if self.alarms is not None:
            self.alarms.frame(self.name, result.score, self.stats.latency[-1])

    def end(self) -> None:
        """The source ended for good (or the watch stops): close the open event, the clips and the overlay video."""
        self.ended = True
        self.log.changes(self.scorer.finish())
        if self.media is not None:
            self.media.close()
        if self.overlay is not None:
            self.overlay.close()


def camera_fields(name: str) -> dict[str, str]:
    """What names camera ``name`` in a JSON line (event, stats, summary): ``{"camera": name}``, or nothing for the
    unnamed camera."""
    return {"camera": name} if name else {}


def camera_message(name: str, message: str) -> str:
    """``message`` about camera ``name``, prefixed with its name (as is for the unnamed camera)."""
    return f"camera {name}: {message}" if name else message


def score_round(pending: list[tuple[CameraWatch, Frame]]) -> list[FrameResult | None]:
    """One round of frames, at most one per camera: results in the same order.

    The cameras of one model file share a :class:`BatchScorer`: their new frames go through the model in
    one call (N cameras cost less than N single calls).
    """
    results: list[FrameResult | None] = [None] * len(pending)
    batches: dict[int, tuple[BatchScorer, list[tuple[int, int, Any]]]] = {}
    for k, (watch, frame) in enumerate(pending):
        batch = watch.scorer.batch
        batches.setdefault(id(batch), (batch, []))[1].append((k, watch.scorer.source, frame.image))
    for batch, items in batches.values():
        frames: list[Any] = [None] * batch.sources
        for _, source, image in items:
            frames[source] = image
        scored = batch.push(frames)
        for k, source, _ in items:
            results[k] = scored[source]
    return results


def watch_cameras(cameras: list[DeployedCamera], settings: WatchSettings, events_out: TextIO,
                  events_dir: str | Path | None = None, serve: str | None = None, duration_s: float | None = None,
                  stop: threading.Event | None = None, token: str | None = None,
                  allow_hosts: tuple[str, ...] = (),
                  overlays: Mapping[str, str | Path] | None = None) -> dict[str, Any]:
    """Watch every camera until all have ended, ``duration_s`` passes, ``stop`` is set or Ctrl-C.

    settings: the watch's ``live``, ``score`` (device, runtime) and ``alarm`` (``fps``) sections; event lines go
    to ``events_out``, clips and snapshots to ``events_dir`` (none when None); ``serve`` HOST:PORT with
    ``token`` and ``allow_hosts``: the page of every camera (see :mod:`.server`); ``overlays``: {camera name:
    path of its overlay video}. Each calibration must be its camera's model's (:func:`check_calibration`).
    Returns {"cameras": {name: figures (see :class:`Stats`) with events, fps and error}, "events": total,
    "errors": {name: why lost}}.
    """
    live = settings.live
    if len(cameras) > live.max_cameras:
        raise DDLError(f"{len(cameras)} cameras: one process watches at most live.max_cameras = {live.max_cameras} "
                       "(each holds a reader thread and its frames); split the deployment file into several watches")
    page = PageSettings.build(live, serve, token, allow_hosts) if serve else None
    folder = writable_folder(events_dir, "--events-dir") if events_dir is not None else None
    for camera in cameras if folder is not None else []:  # each event file name must fit the file system
        longest_name_fits(folder, camera_label(camera.name), MEDIA_NAME_EXTRA,
                          f"camera {camera.name[:40]}{'...' * (len(camera.name) > 40)}: its name")
    device = resolve_device(settings.score.device, "score.device")
    models: dict[Path, tuple[Any, dict[str, Any]]] = {}
    first: dict[Path, DeployedCamera] = {}  # each model file's first camera
    calibrations: dict[str, Calibration] = {}
    gates: dict[str, RateGate] = {}  # each camera's frames at its analysis rate (cameras.fps)
    for camera in cameras:  # each model file loaded once; every camera's calibration checked before any export
        try:
            calibrations[camera.name] = calibration = load_calibration(camera.calibration)
            key = camera.model.resolve()
            if key not in models:
                models[key], first[key] = load_model(camera.model, device), camera
            check_calibration(calibration, camera.calibration, camera.model, models[key][1])
            gates[camera.name] = RateGate(watch_rate(camera, calibration.fps, settings.analysis_fps))
        except DDLError as exc:
            raise DDLError(camera_message(camera.name, str(exc))) from exc
    for key, camera in first.items():
        model, meta = models[key]
        try:
            models[key] = scoring_model(model, meta, camera.model, device, settings.score.runtime,
                                        settings.score.precision), meta
        except DDLError as exc:
            raise DDLError(camera_message(camera.name, str(exc))) from exc
    scorers = _shared_scorers(cameras, models, calibrations, settings.score, device)
    ready = threading.Event()
    media_settings = MediaSettings.from_settings(live, folder) if folder is not None else None
    alarms = AlarmOutputs(settings.outputs, [camera.name for camera in cameras])
    writer = MediaWriter(media_settings.queue_frames) if media_settings is not None else None
    watches: list[CameraWatch] = []
    try:
        for camera in cameras:
            watches.append(_camera_watch(camera, scorers[camera.name], settings, ready, events_out,
                                         media_settings, writer, page is not None, (overlays or {}).get(camera.name),
                                         alarms))
        states = {w.name: w.state for w in watches if w.state is not None}
        server = start_server(serve, states, page, folder, Api(states, alarms.history, folder, alarms.latency)) if serve and page else None
    except BaseException:
        for w in watches:
            w.reader.stop()
            if w.overlay is not None:
                w.overlay.close()
        if writer is not None:
            writer.close()
        alarms.close()
        raise
    for w in watches:
        w.reader.start()
    print(f"watching {len(watches)} camera{'s' * (len(watches) != 1)} with {len(models)} "
          f"model{'s' * (len(models) != 1)} on {device}" + (f"; events folder {folder}" if folder else ""),
          file=sys.stderr, flush=True)
    deadline = None if duration_s is None else time.monotonic() + duration_s
    next_report = time.monotonic() + live.stats_every_s
    errors: dict[str, str] = {}
    try:
        while any(not w.ended for w in watches) and (deadline is None or time.monotonic() < deadline) \
                and not (stop and stop.is_set()):
            ready.clear()
            pending = [(w, f) for w in watches if not w.ended and (f := w.reader.get(timeout=0)) is not None
                       and (gates[w.name].keep_arrival(f.captured) if w.reader.kind in LIVE_KINDS
                            else gates[w.name].keep(w.reader.fps))]
            for w, frame in pending:
                w.admit(frame)
            for (w, frame), result in zip(pending, score_round(pending)):
                w.scored(frame, result)
            for w in watches:
                if not w.ended and w.reader.finished:
                    w.end()
                    why = w.reader.error or "the source ended"
                    if w.reader.error:
                        errors[w.name] = w.reader.error
                    if w.state is not None:
                        w.state.stats({"error": why})
                    others = sum(not x.ended for x in watches)
                    if w.name:
                        print(f"camera {w.name}: {why}; {others} other camera{'s' * (others != 1)} still watched",
                              file=sys.stderr, flush=True)
            if time.monotonic() >= next_report:
                for w in watches:
                    if not w.ended:
                        figures = w.stats.report(w.reader)
                        if w.rate is not None and w.stats.start is not None:  # judged once results come
                            figures.update(w.rate.check(figures["fps"], w.reader.dropped))
                        print("stats: " + json.dumps({**camera_fields(w.name), **figures}), file=sys.stderr, flush=True)
                        if w.state is not None:
                            w.state.stats(figures)
                next_report = time.monotonic() + live.stats_every_s
            if not pending:
                ready.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for w in watches:
            w.reader.stop()
            if not w.ended:
                w.end()
        if writer is not None:
            writer.close()
        alarms.close()
        if server is not None:
            server.shutdown()
            server.server_close()
    summary: dict[str, Any] = {"cameras": {}, "events": 0, "errors": errors}
    for w in watches:
        elapsed = time.monotonic() - (w.stats.start or time.monotonic())
        figures = {**w.stats.report(w.reader), "events": w.log.count,
                   "fps": round(w.stats.scored / max(elapsed, 1e-9), 2), "gated_share": w.stats.run_gated_share(),
                   "error": w.reader.error, "below_calibration_rate": bool(w.rate is not None and w.rate.warned)}
        print("summary: " + json.dumps({**camera_fields(w.name), **figures}), file=sys.stderr, flush=True)
        summary["cameras"][w.name] = figures
        summary["events"] += w.log.count
    if writer is not None and writer.dropped:
        warn(f"event clips: {writer.dropped} frames dropped (the writer could not keep up)")
    summary["clip_frames_dropped"] = writer.dropped if writer is not None else 0
    return summary


def _shared_scorers(cameras: list[DeployedCamera], models: dict[Path, tuple[Any, dict[str, Any]]],
                    calibrations: dict[str, Calibration], score: ScoreSettings, device: Any) -> dict[str, LiveScorer]:
    """{camera name: its scorer}: one :class:`BatchScorer` per model file, each camera one source of it, scoring
    with the watch's ``score`` settings, its trained config's and its calibration's
    (:func:`ddlcore.alarm.calibration.calibrated_score`; the batch shares its first camera's encoder sharing)."""
    by_model: dict[Path, list[DeployedCamera]] = {}
    for camera in cameras:
        by_model.setdefault(camera.model.resolve(), []).append(camera)
    scorers: dict[str, LiveScorer] = {}
    for path, group in by_model.items():
        model, meta = models[path]
        batch = BatchScorer(model, meta, [calibrations[c.name] for c in group], score, device, [c.trained for c in group])
        scorers.update({c.name: LiveScorer.of_source(batch, i) for i, c in enumerate(group)})
    return scorers


def _camera_watch(camera: DeployedCamera, scorer: LiveScorer, settings: WatchSettings,
                  ready: threading.Event, events_out: TextIO, media_settings: MediaSettings | None,
                  writer: MediaWriter | None, serving: bool, overlay_path: str | Path | None,
                  alarms: AlarmOutputs) -> CameraWatch:
    """The parts of one camera's watch (its reader not started yet): its reader under ``settings`` (``live``,
    ``alarm.fps``), signalling ``ready``; its event log writing to ``events_out``; its media (with
    ``media_settings`` and ``writer``), page state (when ``serving``), overlay video (at ``overlay_path``) and
    the watch's ``alarms`` (each event line goes to them too)."""
    calibration = scorer.calibration
    live = settings.live
    try:
        reader = SignallingReader(camera.source, live, settings.alarm.fps, ready,
                                  on_status=lambda message: warn(camera_message(camera.name, message)),
                                  min_frames=scorer.clip)
    except DDLError as exc:
        raise DDLError(camera_message(camera.name, str(exc))) from exc
    # the reader's name: the source without its password
    state = LiveState(reader.name, calibration.threshold, live.curve_frames, live.page_events) if serving else None
    media = None
    if media_settings is not None and writer is not None:
        media = EventMedia(camera.name, media_settings, lambda: reader.fps, scorer.size[:2], calibration.rule, writer)

    def annotate(kind: str, event: Any, record: dict[str, Any]) -> dict[str, Any]:
        fields = {**camera_fields(camera.name), **(media.event(kind, event, record) if media is not None else {})}
        alarms.event(kind, {**record, **fields})
        return fields

    log = EventLog(events_out, calibration, scorer.size[:2], state, annotate)
    overlay = OverlayWriter(overlay_path, reader.fps) if overlay_path else None
    rate = RateCheck(calibration, lambda message: warn(camera_message(camera.name, message)))
    return CameraWatch(camera.name, reader, scorer, calibration, log, media, state, overlay=overlay, alarms=alarms,
                       rate=rate)
