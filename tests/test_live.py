"""Live scoring: the streaming scorer equals offline causal scoring; ``ddl watch`` on a loopback MJPEG
stream that goes away and comes back; the ``--serve`` page in headless Chromium."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
import torch

from alarm_fixtures import calibrated_copy, to_model_frames
from ci_required import skip_unless_ci
from ddlcore.alarm.calibration import apply_calibration
from ddlcore.config import load_config
from ddlcore.score.inference import load_model
from ddlcore.live.scorer import LiveScorer
from ddlcore.live.settings import LiveSettings, WatchSettings
from ddlcore.score.settings import ScoreSettings
from mjpeg_server import MJPEGServer

torch.set_num_threads(1)
CPU = torch.device("cpu")
#: a budget high enough that the untrained tiny model raises a few events on the test clip; a backlog
#: that never drops a frame, so that a busy test machine slows the watch down without changing its events
SETTINGS = {"score": {"patch": 8}, "alarm": {"false_alarms_per_hour": 600.0},
            "live": {"reconnect_delay_s": 0.2, "reconnect_attempts": 5, "open_timeout_s": 10.0, "stats_every_s": 1.0,
                     "max_backlog": 100000}}
#: frames of the test clip served as a stream (they hold its first anomalies)
CLIP = slice(0, 160)


@pytest.fixture(scope="module")
def calibrated(alarm_scene, tmp_path_factory):
    """(model path with its calibration sidecar, calibration, config)."""
    return calibrated_copy(alarm_scene, tmp_path_factory.mktemp("live"), SETTINGS)


@pytest.fixture(scope="module")
def calibrated_with_motion(alarm_scene, tmp_path_factory):
    """As ``calibrated``, with the motion term in the score (``score.motion_weight``)."""
    settings = {**SETTINGS, "score": {**SETTINGS["score"], "motion_weight": 0.05}}
    return calibrated_copy(alarm_scene, tmp_path_factory.mktemp("live-motion"), settings)


def _offline(model_path, calibration, cfg, frames):
    model, _ = load_model(model_path, CPU)
    return apply_calibration(model, to_model_frames(frames), calibration, ScoreSettings.from_config(cfg), CPU)


@pytest.mark.parametrize("share_encoder, motion", [(True, False), (False, False), (True, True)])
def test_live_scorer_equals_offline_causal_scoring(alarm_scene, calibrated, calibrated_with_motion, share_encoder,
                                                   motion):
    model_path, calibration, cfg = calibrated_with_motion if motion else calibrated
    # the job's own score settings never carry the motion term: the calibration's applies, live and offline
    cfg = {**cfg, "score": {**cfg["score"], "share_encoder": share_encoder, "motion_weight": 0.0}}
    frames = alarm_scene["test"]
    scores, boxes, events = _offline(model_path, calibration, cfg, frames)
    model, meta = load_model(model_path, CPU)
    scorer = LiveScorer(model, meta, calibration, ScoreSettings.from_config(cfg), CPU)
    live = np.full(len(frames), np.nan)
    live_boxes = np.full((len(frames), 4), -1)
    ended = []
    for frame in frames:
        result = scorer.push(frame)
        if result is not None:
            live[result.frame], live_boxes[result.frame] = result.score, result.box
            ended += [e for kind, e in result.changes if kind == "end"]
    ended += [e for _, e in scorer.finish()]
    assert events, "the test clip should raise events at this budget"
    has_score = np.isfinite(scores)
    assert np.array_equal(np.isfinite(live), has_score)
    np.testing.assert_allclose(live[has_score], scores[has_score], rtol=1e-4, atol=1e-6)
    assert np.array_equal(live_boxes[has_score], boxes[has_score])
    assert [(e.start, e.end, e.peak_frame) for e in ended] == [(e.start, e.end, e.peak_frame) for e in events]


def _run_watch(source, model_path, cfg, out, **kwargs):
    from ddlcore.live.watch import watch

    result = {}
    settings = WatchSettings.from_config(cfg)
    thread = threading.Thread(target=lambda: result.update(watch(source, model_path, settings, out, **kwargs)), daemon=True)
    thread.start()
    return thread, result


def _wait_for(condition, timeout):
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        time.sleep(0.05)
    return condition()


def test_watch_follows_an_mjpeg_stream_through_a_server_restart(alarm_scene, calibrated):
    model_path, calibration, cfg = calibrated
    # without the change gate: the watch decodes the JPEGs with FFmpeg, the offline reference here with libjpeg (a
    # gray level apart on some pixels), which can tip a borderline gate decision and so an event near the
    # threshold (tests/test_gate.py checks live = offline through the gate on the same frames)
    cfg = {**cfg, "score": {**cfg["score"], "gate": False}}
    clip = alarm_scene["test"][CLIP]
    server = MJPEGServer(clip, fps=20).start()
    # what the watcher decodes: the served JPEGs; the offline events of exactly those frames
    decoded = np.stack([cv2.cvtColor(cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                        for j in server.jpegs])
    _, _, expected = _offline(model_path, calibration, cfg, decoded)
    assert expected, "the served clip should raise events"
    out = io.StringIO()
    thread, figures = _run_watch(server.url, model_path, cfg, out)
    try:
        assert _wait_for(lambda: server.served == len(clip), 90), "first pass not served"
        server.stop()  # the camera goes away ...
        time.sleep(0.5)
        server.start()  # ... and comes back on the same port
        assert _wait_for(lambda: server.served == 2 * len(clip), 90), "second pass not served"
    finally:
        server.stop()  # for good
    thread.join(timeout=60)
    assert not thread.is_alive(), "watch did not give up after the server went away for good"
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    ends = [(r["start"], r["end"]) for r in lines if r["event"] == "end"]
    assert len([r for r in lines if r["event"] == "start"]) == len(ends) == figures["events"]
    # frame numbers run on over the reconnection: the second pass starts at frame len(clip)
    n = len(clip)
    want = [(e.start, e.end) for e in expected] + [(e.start + n, e.end + n) for e in expected]
    assert figures["reconnects"] >= 2 and figures["dropped"] == 0 and len(ends) == len(want)
    assert "gave up after" in figures["error"]
    assert np.abs(np.subtract(ends, want)).max() <= 1  # FFmpeg and libjpeg may decode a pixel differently
    box = lines[0]["box"]
    assert len(box) == 4 and 0 <= box[0] < box[2] <= clip.shape[2] and 0 <= box[1] < box[3] <= clip.shape[1]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def _serving(url: str) -> bool:
    try:
        return _get(url).startswith(b"<!doctype html>")
    except OSError:  # not listening yet
        return False


def _chromium() -> str | None:
    return next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None)


def test_watch_a_folder_and_its_page_renders_in_headless_chromium(alarm_scene, calibrated, tmp_path):
    model_path, _, cfg = calibrated
    folder = tmp_path / "incoming"
    folder.mkdir()
    port = _free_port()
    stop = threading.Event()
    out = io.StringIO()
    thread, figures = _run_watch(str(folder), model_path, cfg, out, serve=f"127.0.0.1:{port}", stop=stop)
    base = f"http://127.0.0.1:{port}"
    try:
        assert _wait_for(lambda: _serving(base + "/"), 30), "the page is not served"
        for i, frame in enumerate(alarm_scene["test"][CLIP]):  # a camera writing frames into the folder
            cv2.imwrite(str(folder / f"frame{i}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            time.sleep(1 / 30)
        assert _wait_for(lambda: json.loads(_get(base + "/state.json"))["events"], 30), "no event reached the page"
        state = json.loads(_get(base + "/state.json"))
        (camera,) = state["cameras"]
        assert len(camera["scores"]) > 100 and camera["threshold"] > 0 and not state["media"]
        assert _get(base + "/frame/0.jpg")[:2] == b"\xff\xd8"  # a JPEG
        browser = _chromium()
        if browser is None:
            skip_unless_ci("chromium is not installed (apt-get install chromium): the page was checked over HTTP only")
        dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=4000",
                              "--dump-dom", base + "/"], capture_output=True, text=True, timeout=120).stdout
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert 'class="event"' in dom  # the event list was filled by the page's script
    assert 'data-points="0"' not in dom and "data-points=" in dom  # the curve was drawn
    assert 'data-width="' in dom  # the overlay image loaded
    status = re.search(r'<p class="status">(.*?)</p>', dom).group(1)
    assert "frames/s" in status and "threshold" in status and re.search(r"(\d+|–)% gated", status)
    assert figures["events"] >= 1


def test_cli_watch_of_a_video_file_writes_events_and_the_overlay(alarm_scene, calibrated, tmp_path):
    from ddlcore.cli.main import main

    model_path, _, _ = calibrated
    clip = alarm_scene["test"][CLIP]
    video = tmp_path / "camera.avi"  # played at its own rate: 100 frames/s keeps the test short
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 100, (clip.shape[2], clip.shape[1]))
    for frame in clip:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    events, overlay = tmp_path / "events.jsonl", tmp_path / "overlay.avi"
    assert main(["watch", str(video), "--model", str(model_path), "--events", str(events), "--overlay", str(overlay),
                 "--settings", json.dumps(SETTINGS)]) == 0
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert lines and {line["event"] for line in lines} == {"start", "end"}
    assert not any("camera" in line for line in lines)  # one source: the lines name no camera
    capture = cv2.VideoCapture(str(overlay))
    ok, first = capture.read()
    count = 1 + sum(1 for _ in iter(lambda: capture.read()[0], False))
    capture.release()
    assert ok and first.shape == clip.shape[1:] and 0 < count <= len(clip) - 1


def test_watch_of_a_missing_source_is_one_line(calibrated, tmp_path, capsys):
    from ddlcore.cli.main import main

    model_path, _, _ = calibrated
    assert main(["watch", str(tmp_path / "nothing.mp4"), "--model", str(model_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing.mp4" in err[0]


def test_watch_of_a_refused_stream_speaks_in_its_own_words(calibrated):
    """A stream that refuses connections: ddl watch says why and gives up as configured;
    FFmpeg's and OpenCV's own lines about it stay off stderr. A fresh process, as FFmpeg's log level is
    fixed at its first use in a process."""
    model_path, _, _ = calibrated
    port = _free_port()  # nobody listens on it
    settings = json.dumps({"live": {"reconnect_attempts": 1, "reconnect_delay_s": 0.1, "open_timeout_s": 1}})
    run = subprocess.run([sys.executable, "-c", "from ddlcore.cli.main import main; raise SystemExit(main())", "watch",
                          f"http://viewer:s3cret@127.0.0.1:{port}/cam.mjpg", "--model", str(model_path), "--settings",
                          settings], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert "s3cret" not in run.stderr and f"viewer:***@127.0.0.1:{port}" in run.stderr  # the password never shows
    assert "gave up after 1 failed reconnection attempts" in run.stderr
    assert "cannot open (stream); stream stopped after 0 frames" in run.stderr  # the first attempt, in one line
    assert "cannot open (stream); gave up after 1 failed" in run.stderr  # the reconnection: the cause in the last line
    assert "Connection refused" not in run.stderr and "WARN" not in run.stderr


def test_reader_keeps_a_bounded_backlog_and_drops_the_oldest(tmp_path):
    from ddlcore.live.sources import FrameReader

    video = tmp_path / "fast.avi"  # 1000 frames/s: the reader fills its backlog long before anyone takes a frame
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 1000, (32, 32))
    for i in range(60):
        writer.write(np.full((32, 32, 3), 4 * i, np.uint8))
    writer.release()
    live = LiveSettings.from_config(load_config(None, json.dumps({"live": {"max_backlog": 5}})))
    reader = FrameReader(str(video), live, 25.0).start()
    assert _wait_for(lambda: reader.read == 60, 60)
    taken = [reader.get(timeout=1) for _ in range(5)]
    # the reader thread marks the end after its last frame (closing the file): wait for it, do not race it
    assert _wait_for(lambda: reader.finished, 30) and reader.dropped == 55
    assert [f.seq for f in taken] == [56, 57, 58, 59, 60] and reader.get(timeout=0.1) is None
    assert abs(int(taken[-1].image.mean()) - 4 * 59) <= 3


def test_a_stream_url_password_stays_off_the_reader_messages_and_name():
    from ddlcore.live.sources import FrameReader, redacted

    assert redacted("rtsp://admin:hunter2@10.0.0.5:554/live") == "rtsp://admin:***@10.0.0.5:554/live"
    assert redacted("rtsp://10.0.0.5/live") == "rtsp://10.0.0.5/live" and redacted("0") == "0"
    assert redacted("http://u:p@[::1/x") == "http://***@[::1/x"  # not parseable: the whole credentials part goes
    url = f"http://admin:hunter2@127.0.0.1:{_free_port()}/cam.mjpg"  # nobody listens
    live = LiveSettings.from_config(load_config(None, json.dumps({"live": {"reconnect_attempts": 0, "open_timeout_s": 1}})))
    statuses = []
    reader = FrameReader(url, live, 25.0, on_status=statuses.append).start()
    assert _wait_for(lambda: reader.finished, 30)
    assert "cannot open" in reader.error and "hunter2" not in " ".join(statuses + [reader.error, reader.name])
    assert "admin:***@" in reader.name


def test_a_long_outage_is_reported_at_powers_of_two_attempts_not_at_each():
    from ddlcore.live.sources import FrameReader

    url = f"http://127.0.0.1:{_free_port()}/cam.mjpg"  # nobody listens: every attempt fails at once
    live = LiveSettings.from_config(load_config(None, json.dumps({"live": {"reconnect_attempts": 20, "reconnect_delay_s": 0.01,
                                                                          "open_timeout_s": 1}})))
    statuses = []
    reader = FrameReader(url, live, 25.0, on_status=statuses.append).start()
    assert _wait_for(lambda: reader.finished, 60)
    assert reader.reconnects == 20 and "gave up after 20" in reader.error
    drops = [s for s in statuses if "reconnecting in" in s]
    assert len(statuses) == len(drops) == 5, statuses  # after 1, 2, 4, 8, 16 failures in a row, not 21 lines
    assert "16 failed reconnection attempts in a row" in drops[-1]


def test_a_stream_giving_fewer_frames_than_a_clip_per_connection_counts_as_failed(alarm_scene):
    from ddlcore.live.sources import FrameReader

    server = MJPEGServer(alarm_scene["test"][:2], fps=50, hold_s=0).start()  # 2 frames, then the connection closes
    live = LiveSettings.from_config(load_config(None, json.dumps({"live": {"reconnect_attempts": 2, "reconnect_delay_s": 0.05,
                                                                          "open_timeout_s": 2}})))
    try:
        reader = FrameReader(server.url, live, 25.0, on_status=lambda _: None, min_frames=3).start()
        assert _wait_for(lambda: reader.get(timeout=0.1) is None and reader.finished, 60), "never gave up"
    finally:
        server.stop()
    assert reader.reconnects == 2 and "gave up after 2 failed reconnection attempts" in reader.error
    assert "fewer than the 3 frames a clip needs" in reader.error


def test_a_streams_rate_is_measured_from_its_frames_not_taken_from_what_it_reports():
    from ddlcore.live.sources import MEASURED_RATE_FRAMES, FrameReader

    frames = np.random.default_rng(0).integers(0, 255, (40, 120, 160, 3), np.uint8)
    server = MJPEGServer(frames, fps=8, loop=True).start()  # an MJPEG stream: FFmpeg reports 25 frames/s for it
    reader = FrameReader(server.url, LiveSettings.from_config(load_config(None, None)), 10.0,
                         on_status=lambda _: None).start()
    taken, end = 0, time.monotonic() + 30
    try:
        while taken <= MEASURED_RATE_FRAMES and time.monotonic() < end:
            taken += reader.get(timeout=0.1) is not None
        assert taken > MEASURED_RATE_FRAMES, f"{taken} frames"
    finally:
        reader.stop()
        server.stop()
    assert 6.5 < reader.fps < 9.5, reader.fps


def test_a_watched_image_still_being_written_is_read_once_complete(tmp_path):
    from ddlcore.live.sources import folder_frames

    folder = tmp_path / "incoming"
    folder.mkdir()
    image = np.random.default_rng(0).integers(0, 255, (240, 320, 3), np.uint8)
    ok, png = cv2.imencode(".png", image)
    stop = threading.Event()
    frames = []
    thread = threading.Thread(target=lambda: frames.extend(folder_frames(folder, 0.02, 0.5, stop)), daemon=True)
    thread.start()
    try:
        partial = folder / "frame1.png"
        partial.write_bytes(png.tobytes()[: len(png) // 3])  # a camera halfway through writing it
        time.sleep(0.2)  # several polls, all failing to decode
        partial.write_bytes(png.tobytes())
        (folder / "frame2.png").write_bytes(b"not an image")  # never decodes: skipped once it has settled
        (folder / "frame3.png").write_bytes(png.tobytes())
        assert _wait_for(lambda: len(frames) == 2, 10), len(frames)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert all(np.array_equal(f, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)) for f in frames)  # RGB, as every reader gives


def test_an_event_box_is_scaled_by_the_size_of_its_peak_frame(calibrated):
    from ddlcore.alarm.events import Event
    from ddlcore.live.event_log import EventLog
    from ddlcore.live.sources import Frame

    _, calibration, _ = calibrated
    out = io.StringIO()
    log = EventLog(out, calibration, (32, 32), None)
    for i in range(10):  # the camera switches from 64x64 to 320x320 at frame 5
        side = 64 if i < 5 else 320
        log.read(i, Frame(np.zeros((side, side, 3), np.uint8), 0.0, float(i), i, 0))
    log.changes([("start", Event(2, 2, 3, 1.0, [0, 0, 16, 16]))])
    assert json.loads(out.getvalue())["box"] == [0, 0, 32, 32]  # in the 64x64 frame the peak was read in
