"""``ddl watch --cameras``: the deployment file, and two loopback MJPEG streams watched in one process (both
scored, events carrying their camera, a clip and a snapshot per event, the page showing both cameras, one
stream going away for good while the other goes on)."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml
from alarm_fixtures import calibrated_copy
from mjpeg_server import MJPEGServer

from ddlcore.alarm.calibration import calibrated_score, load_calibration, sidecar_path
from ddlcore.errors import DDLError
from ddlcore.live.deployment import load_deployment
from ddlcore.live.event_media import MEDIA_NAME, media_stem
from ddlcore.live.settings import WatchSettings
from ddlcore.score.settings import ScoreSettings

torch.set_num_threads(1)
#: as in test_live: events on the test clip, no frame dropped however busy the machine; short clip margins
SETTINGS = {"score": {"patch": 8}, "alarm": {"false_alarms_per_hour": 600.0},
            "live": {"reconnect_delay_s": 0.2, "reconnect_attempts": 2, "open_timeout_s": 10.0, "stats_every_s": 1.0,
                     "max_backlog": 100000, "event_before_s": 0.5, "event_after_s": 0.5}}
CLIP = slice(0, 160)


@pytest.fixture(scope="module")
def calibrated(alarm_scene, tmp_path_factory):
    """(model path with its calibration sidecar, config)."""
    model_path, _, cfg = calibrated_copy(alarm_scene, tmp_path_factory.mktemp("cameras"), SETTINGS)
    return model_path, cfg


def _deploy(path: Path, cameras: list[dict]) -> Path:
    path.write_text("# written by the test\n" + yaml.safe_dump({"cameras": cameras}, sort_keys=False))
    return path


def test_deployment_file_reads_cameras_and_names_each_problem(calibrated, tmp_path):
    model_path, cfg = calibrated
    trained = tmp_path / "site.yaml"
    trained.write_text("score: {share_encoder: false, batch_size: 99}\n")
    good = _deploy(tmp_path / "ok.yaml", [{"name": "entrance", "source": "rtsp://cam1/stream", "model": str(model_path),
                                           "config": str(trained)},
                                          {"name": "yard", "source": 0, "model": str(model_path)}])
    score = ScoreSettings.from_config(cfg)
    entrance, yard = load_deployment(good)
    assert (entrance.name, entrance.source, yard.source) == ("entrance", "rtsp://cam1/stream", "0")
    assert entrance.calibration == sidecar_path(model_path)
    assert entrance.trained.share_encoder is False and yard.trained is None
    # scored with the trained config's score section, except the watch's device, batch size and runtime, and
    # the calibration's patch and grid
    calibration = load_calibration(entrance.calibration)
    watch_score = dataclasses.replace(score, patch=score.patch * 2, runtime="torch")
    merged = calibrated_score(calibration, watch_score, entrance.trained)
    assert merged.share_encoder is False and (merged.batch_size, merged.runtime) == (score.batch_size, "torch")
    assert (merged.patch, merged.shifted_grid) == (calibration.score["patch"], calibration.score["shifted_grid"])
    assert calibrated_score(calibration, watch_score, yard.trained) == dataclasses.replace(watch_score, **calibration.score)
    cases = {
        "empty source": ([{"name": "entrance", "source": "", "model": str(model_path)}], "camera 'entrance' has no source"),
        "no model": ([{"name": "entrance", "source": "0", "model": str(tmp_path / "none.pt")}], "model file not found"),
        "clash": ([{"name": "a b", "source": "0", "model": str(model_path)},
                   {"name": "a_b", "source": "1", "model": str(model_path)}], "same name in file names"),
        "unknown key": ([{"name": "x", "source": "0", "model": str(model_path), "modle": 1}], "unknown key 'modle'"),
        "no cameras": ([], r"key 'cameras': \[\] should be non-empty"),  # the schema's one-line errors
        "no name": ([{"source": "0", "model": str(model_path)}], "key 'cameras.0': 'name' is a required property"),
        "boolean source": ([{"name": "x", "source": True, "model": str(model_path)}], "key 'cameras.0.source': True"),
    }
    for case, (cameras, message) in cases.items():
        path = _deploy(tmp_path / f"{case.replace(' ', '-')}.yaml", cameras)
        with pytest.raises(DDLError, match=message) as caught:
            load_deployment(path)
        assert str(path) in str(caught.value) and "\n" not in str(caught.value), case
    uncalibrated = tmp_path / "u.pt"
    shutil.copy(model_path, uncalibrated)
    with pytest.raises(DDLError, match="calibration file not found"):
        load_deployment(_deploy(tmp_path / "u.yaml", [{"name": "u", "source": "0", "model": str(uncalibrated)}]))


def _wait_for(condition, timeout):
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        time.sleep(0.05)
    return condition()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def _frames_of(video: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def test_watch_two_loopback_streams_one_going_away(alarm_scene, calibrated, tmp_path):
    from ddlcore.live.multi_watch import watch_cameras

    model_path, cfg = calibrated
    clip = alarm_scene["test"][CLIP]
    n = len(clip)
    servers = {"entrance": MJPEGServer(clip, fps=20).start(), "yard": MJPEGServer(clip, fps=20).start()}
    cameras = load_deployment(_deploy(tmp_path / "deploy.yaml", [
        {"name": name, "source": server.url, "model": str(model_path)} for name, server in servers.items()]))
    events_dir = tmp_path / "events"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    out = io.StringIO()
    summary: dict = {}
    thread = threading.Thread(target=lambda: summary.update(watch_cameras(
        cameras, WatchSettings.from_config(cfg), out, events_dir, serve=f"127.0.0.1:{port}")), daemon=True)
    thread.start()
    dom = ""
    try:
        assert _wait_for(lambda: all(s.served == n for s in servers.values()), 180), "first pass not served"
        assert _wait_for(lambda: {json.loads(line)["camera"] for line in out.getvalue().splitlines()} >= set(servers), 60)
        state = json.loads(_get(base + "/state.json"))
        assert [c["name"] for c in state["cameras"]] == ["entrance", "yard"] and state["media"]
        assert all(len(c["scores"]) > 100 for c in state["cameras"])
        assert _get(base + "/frame/1.jpg")[:2] == b"\xff\xd8" and _status(base + "/frame/2.jpg") == 404
        browser = _chromium()
        if browser is not None:
            dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=4000",
                                  "--dump-dom", base + "/"], check=False, capture_output=True, text=True,
                                 timeout=120).stdout
        servers["yard"].stop()  # the yard camera goes away for good ...
        assert _wait_for(lambda: json.loads(_get(base + "/state.json"))["cameras"][1].get("error"), 60), "yard not lost"
        servers["entrance"].stop()  # ... while the entrance camera restarts and is still watched
        time.sleep(0.3)
        servers["entrance"].start()
        assert _wait_for(lambda: servers["entrance"].served == 2 * n, 180), "second pass not served"
        # the events folder as served: listing, files, nothing else
        (events_dir / "notes.txt").write_text("not media")
        (events_dir / "x-20260101T000000Z-1.jpg").symlink_to(tmp_path / "deploy.yaml")
        listing = _get(base + "/events/").decode()
        assert _status(base + "/events/notes.txt") == 404 and "notes.txt" not in listing
        assert _status(base + "/events/x-20260101T000000Z-1.jpg") == 404
        assert _status(base + "/events/..%2Fdeploy.yaml") == 404 and _status(base + "/events/../deploy.yaml") == 404
    finally:
        for server in servers.values():
            server.stop()
    thread.join(timeout=90)
    assert not thread.is_alive(), "the watch did not end after both cameras went away for good"
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    ends = [r for r in lines if r["event"] == "end"]
    assert {r["camera"] for r in ends} == {"entrance", "yard"}
    assert len([r for r in lines if r["event"] == "start"]) == len(ends) == summary["events"]
    # both scored; the entrance camera's second pass was scored after the yard camera was lost
    figures = summary["cameras"]
    assert figures["yard"]["scored"] >= n - 3 and figures["entrance"]["scored"] >= 2 * n - 6
    assert figures["entrance"]["dropped"] == figures["yard"]["dropped"] == 0
    assert any(r["camera"] == "entrance" and r["start"] >= n for r in ends)
    assert not any(r["camera"] == "yard" and r["start"] >= n for r in ends)
    assert "gave up after" in summary["errors"]["yard"] and "gave up after" in summary["errors"]["entrance"]
    # a clip and a snapshot per event, named by camera and time
    fps = figures["entrance"]["source_fps"]
    for r in ends:
        stem = media_stem(r["camera"], r["start_time"], r["id"])
        assert (r["clip"], r["snapshot"]) == (f"{stem}.mkv", f"{stem}.jpg") and MEDIA_NAME.fullmatch(r["clip"])
        snapshot = cv2.imread(str(events_dir / r["snapshot"]))
        assert snapshot is not None and snapshot.shape == clip.shape[1:]
        frames = _frames_of(events_dir / r["clip"])
        length = r["end"] - r["start"] + 1
        assert length <= len(frames) <= length + 2 * round(0.5 * fps) + 1, r
        assert frames[0].shape == clip.shape[1:]
    assert not list(events_dir.glob("*.partial.*"))
    assert len(list(events_dir.glob("*.mkv"))) == len(ends)
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium): the page was checked over HTTP only")
    assert dom.count('class="camera') == 2 and "<h2>entrance</h2>" in dom and "<h2>yard</h2>" in dom
    assert 'class="event"' in dom and "<td>entrance</td>" in dom and "<td>yard</td>" in dom
    assert dom.count("data-width=") == 2  # both overlays loaded


def test_cli_watch_cameras_rejects_a_source_too(calibrated, tmp_path, capsys):
    from ddlcore.cli.main import main

    model_path, _ = calibrated
    deploy = _deploy(tmp_path / "deploy.yaml", [{"name": "a", "source": "0", "model": str(model_path)}])
    assert main(["watch", "--cameras", str(deploy), "rtsp://x/y"]) == 1
    assert main(["watch", "rtsp://x/y"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "SOURCE is given per camera" in err[0] and "--model" in err[1]


def test_a_camera_sharing_a_loaded_model_with_another_models_calibration_is_refused(calibrated, tmp_path):
    """The second camera of one model file: its model is not loaded again, its calibration is still checked."""
    from ddlcore.alarm.calibration import save_calibration
    from ddlcore.live.deployment import DeployedCamera
    from ddlcore.live.multi_watch import watch_cameras

    model_path, cfg = calibrated
    foreign = tmp_path / "foreign.alarm.h5"
    save_calibration(dataclasses.replace(load_calibration(sidecar_path(model_path)), model_sha256="0" * 64), foreign)
    cameras = [DeployedCamera("gate", "0", model_path, sidecar_path(model_path)),
               DeployedCamera("yard", "0", model_path, foreign)]
    with pytest.raises(DDLError, match=r"^camera yard: .*foreign\.alarm\.h5: a calibration of another model file"):
        watch_cameras(cameras, WatchSettings.from_config(cfg), io.StringIO())


def test_a_source_is_watched_at_the_analysis_rate_and_another_rate_is_refused(calibrated, tmp_path):
    """cameras.fps: a file at three times the calibration's rate is scored on every third frame; a watch at a
    rate other than its calibration's, or than its trained config's, is refused in one line."""
    from ddlcore.live.deployment import DeployedCamera, watch_rate
    from ddlcore.live.multi_watch import watch_cameras

    model_path, cfg = calibrated
    calibration = sidecar_path(model_path)
    rate = load_calibration(calibration).fps
    video = tmp_path / "fast.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 3 * rate, (64, 48))
    for frame in np.random.default_rng(0).integers(0, 255, (60, 48, 64, 3), dtype=np.uint8):
        writer.write(frame)
    writer.release()
    settings = WatchSettings.from_config(cfg)
    scored = {}
    for fps in (None, rate):
        camera = DeployedCamera("door", str(video), model_path, calibration)
        summary = watch_cameras([camera], dataclasses.replace(settings, analysis_fps=fps), io.StringIO())
        assert summary["cameras"]["door"]["read"] == 60
        scored[fps] = summary["cameras"]["door"]["scored"]
    assert scored[None] - scored[rate] == 40  # 20 of the 60 frames at the analysis rate, the same warm-up
    with pytest.raises(DDLError, match=rf"^camera door: .*calibrated at {rate:g} frames/s but cameras.fps is {2 * rate:g}"):
        watch_cameras([DeployedCamera("door", str(video), model_path, calibration)],
                      dataclasses.replace(settings, analysis_fps=2 * rate), io.StringIO())
    trained = DeployedCamera("door", "0", model_path, calibration, settings.score, trained_fps=rate)
    assert watch_rate(trained, rate, None) == rate  # the trained config's rate, the watch's config silent
    with pytest.raises(DDLError, match=rf"cameras.fps is 5 but the model was trained at {rate:g} frames/s"):
        watch_rate(trained, rate, 5.0)
