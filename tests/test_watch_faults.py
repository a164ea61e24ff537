"""A watcher that runs for months (issue 36, second part): each fault of a source, an output path, a model file or
a deployment is one line and a non-zero exit (or recovered from), a requested stop exits 0, secrets never show,
resources are capped, and a scoring rate below the calibration's is said."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from alarm_fixtures import tiny_checkpoint
from camera_fixtures import walking_frames, write_video
from ddlcore.alarm.calibration import Calibration, save_calibration, sidecar_path
from ddlcore.alarm.settings import AlarmSettings
from ddlcore.cli.main import main
from ddlcore.config import load_config
from ddlcore.errors import DDLError
from ddlcore.io_utils import atomic_path
from ddlcore.live.rate_check import RateCheck
from ddlcore.live.settings import LiveSettings
from ddlcore.live.sources import FrameReader, folder_frames, read_complete_image, redacted
from ddlcore.model.checkpoint import load_trained_model
from ddlcore.model.identity import model_fingerprint

#: quick polls and reports; scoring with torch (no graph export for the tiny model)
FAST = {"live": {"folder_poll_s": 0.02, "stats_every_s": 0.4, "reconnect_delay_s": 0.1}, "score": {"runtime": "torch"}}


def _live(**changes) -> LiveSettings:
    return LiveSettings.from_config(load_config(None, json.dumps({"live": {**FAST["live"], **changes}})))


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A tiny 32x32 gray model (clips of 3 frames) with its calibration (25 frames/s, a threshold never reached)."""
    path = tiny_checkpoint(tmp_path_factory.mktemp("model") / "m.pt")
    alarm = AlarmSettings.from_config(load_config(None, "{}"))
    save_calibration(Calibration(str(path), 1e9, 25.0, 3, alarm, {"patch": 8, "shifted_grid": False}, None,
                                 {"v": np.zeros(20, np.float32)}, model_sha256=model_fingerprint(path),
                                 size=(32, 32, 1)), sidecar_path(path))
    return path


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0]


# -- the source: redaction, partial JPEGs, folder faults ----------------------------------------------------------

@pytest.mark.parametrize("source, shown", [
    ("rtsp://admin:hunter2@10.0.0.5:554/live", "rtsp://admin:***@10.0.0.5:554/live"),
    ("http://10.0.0.5/video.cgi?user=admin&password=hunter2", "http://10.0.0.5/video.cgi?user=admin&password=***"),
    ("http://cam/v.cgi?usr=a&pwd=hunter2&res=hd", "http://cam/v.cgi?usr=a&pwd=***&res=hd"),
    ("http://cam/s?access_token=hunter2&Key=hunter2", "http://cam/s?access_token=***&Key=***"),
    ("https://b.s3/x.mjpg?X-Amz-Signature=hunter2&X-Amz-Credential=c", "https://b.s3/x.mjpg?X-Amz-Signature=***&X-Amz-Credential=c"),
    ("rtsp://u:hunter2@cam/s?auth=hunter2", "rtsp://u:***@cam/s?auth=***"),
    ("http://cam/s?client_secret=hunter2&passwd=hunter2", "http://cam/s?client_secret=***&passwd=***"),
    ("http://u:p@[::1/x?token=hunter2", "http://***@[::1/x?***"),  # not parseable: credentials and query go
    ("rtsp://10.0.0.5/live?channel=1", "rtsp://10.0.0.5/live?channel=1"),
    ("0", "0"),
])
def test_every_secret_of_a_source_is_redacted(source, shown):
    assert redacted(source) == shown
    assert "hunter2" not in redacted(source)


def test_a_stream_password_in_the_query_never_shows(tmp_path, capsys, model):
    """The reader's name, the warnings and the error line of a stream that never opens carry no password."""
    port = _free_port()
    source = f"http://127.0.0.1:{port}/video.cgi?user=admin&password=hunter2"
    settings = json.dumps({**FAST, "live": {**FAST["live"], "reconnect_attempts": 0, "open_timeout_s": 0.5}})
    assert main(["watch", source, "--model", str(model), "--settings", settings]) == 1
    err = capsys.readouterr().err
    assert "hunter2" not in err and "password=***" in err


def _jpeg(frame: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", frame)[1].tobytes()


def test_a_jpeg_still_being_written_is_read_once_complete(tmp_path):
    frame = walking_frames(1, 64, 80, seed=3)[0]
    data = _jpeg(frame)
    path = tmp_path / "0001.jpg"
    path.write_bytes(data[: len(data) // 2])
    assert read_complete_image(path) is None  # OpenCV alone decodes it, grey where bytes are missing
    stop = threading.Event()
    threading.Timer(0.3, lambda: path.write_bytes(data)).start()
    image = next(folder_frames(tmp_path, 0.02, 5.0, stop))
    stop.set()
    assert np.abs(image.astype(int) - cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), 1),
                                                   cv2.COLOR_BGR2RGB)).max() == 0


def test_a_fifo_or_a_symlink_loop_named_like_an_image_is_passed_over(tmp_path):
    os.mkfifo(tmp_path / "0001.jpg")
    (tmp_path / "0002.png").symlink_to(tmp_path / "0002.png")
    reader = FrameReader(str(tmp_path), _live(), 25.0).start()
    try:
        time.sleep(0.2)
        cv2.imwrite(str(tmp_path / "0003.png"), np.full((8, 8, 3), 200, np.uint8))
        frame = reader.get(timeout=3)
        assert frame is not None and frame.image.shape == (8, 8, 3) and reader.error is None
    finally:
        reader.stop()


def test_a_watched_folder_deleted_ends_the_watch_with_one_line_and_exit_1(tmp_path, capsys, model, monkeypatch):
    import ddlcore.live.sources as sources

    folder = tmp_path / "incoming"
    folder.mkdir()
    watching = sources.folder_frames

    def folder_frames_then_rename(*args, **kwargs):
        # moved away once the reader watches it (a fixed delay raced the model's loading on a slow machine)
        threading.Timer(0.3, lambda: folder.rename(tmp_path / "moved")).start()
        return watching(*args, **kwargs)

    monkeypatch.setattr(sources, "folder_frames", folder_frames_then_rename)
    assert main(["watch", str(folder), "--model", str(model), "--settings", json.dumps(FAST), "--duration", "20"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert line == f"error: {folder}: the watched folder cannot be read any more (No such file or directory)"


def test_a_watched_folder_that_is_a_symlink_loop_is_one_line(tmp_path, capsys, model):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert main(["watch", str(tmp_path / "loop"), "--model", str(model), "--settings", json.dumps(FAST)]) == 1
    assert "not a camera index, stream URL, video file or folder" in _one_error_line(capsys.readouterr().err)


# -- exit codes ---------------------------------------------------------------------------------------------------

def test_sigterm_is_a_requested_stop_exit_0_and_a_finished_file_too(tmp_path, capsys, model):
    video = write_video(tmp_path / "v.avi", walking_frames(12, 32, 32, seed=1), fps=25.0)
    assert main(["watch", str(video), "--model", str(model), "--settings", json.dumps(FAST)]) == 0
    assert '"error": null' in capsys.readouterr().err
    long_video = write_video(tmp_path / "long.avi", walking_frames(250, 32, 32, seed=1), fps=25.0)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    assert main(["watch", str(long_video), "--model", str(model), "--settings", json.dumps(FAST)]) == 0
    assert time.monotonic() - started < 8  # stopped, not played to its end (10 s)
    assert "Traceback" not in capsys.readouterr().err


def test_sigterm_stops_a_recording_with_exit_0_and_its_segment_kept(tmp_path, capsys):
    video = write_video(tmp_path / "v.avi", walking_frames(250, 32, 32, seed=1), fps=25.0)
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
    started = time.monotonic()
    assert main(["record", str(video), "--out", str(tmp_path / "normal"), "--minutes", "5",
                 "--settings", json.dumps({"record": {"fourcc": "MJPG", "suffix": ".avi"}})]) == 0
    assert time.monotonic() - started < 8
    assert len(list((tmp_path / "normal").glob("*.avi"))) == 1 and "1 segments recorded" in capsys.readouterr().err


def test_a_port_in_use_is_one_line(tmp_path, capsys, model):
    video = write_video(tmp_path / "v.avi", walking_frames(10, 32, 32, seed=1))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["watch", str(video), "--model", str(model), "--serve", f"127.0.0.1:{port}",
                     "--settings", json.dumps(FAST)]) == 1
    assert _one_error_line(capsys.readouterr().err) == (f"error: --serve 127.0.0.1:{port}: cannot listen there "
                                                        "(Address already in use)")


# -- output paths -------------------------------------------------------------------------------------------------

def _deployment(tmp_path: Path, model: Path, names: list[str], source: str) -> Path:
    path = tmp_path / "deploy.yaml"
    path.write_text(yaml.safe_dump({"cameras": [{"name": n, "source": source, "model": str(model)} for n in names]}))
    return path


def test_output_paths_are_checked_at_start_in_one_line(tmp_path, capsys, model):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    video = str(write_video(tmp_path / "v.avi", walking_frames(10, 32, 32, seed=1)))
    deploy = str(_deployment(tmp_path, model, ["entrance"], video))
    runs = {
        "record --out a file": (["record", video, "--out", str(a_file), "--minutes", "1"],
                                f"--out {a_file}: a file, not a folder"),
        "record --out under a file": (["record", video, "--out", str(a_file / "normal"), "--minutes", "1"],
                                      f"--out {a_file / 'normal'}: cannot create this folder (Not a directory)"),
        "record --out unwritable": (["record", video, "--out", "/proc/ddl-normal", "--minutes", "1"],
                                    "--out /proc/ddl-normal: cannot create this folder"),
        "watch --events-dir a file": (["watch", "--cameras", deploy, "--events-dir", str(a_file), "--settings",
                                       json.dumps(FAST)],
                                      f"--events-dir {a_file}: a file, not a folder"),
        "watch --events a folder": (["watch", video, "--model", str(model), "--events", str(tmp_path)],
                                    f"--events {tmp_path}: a folder, not a file"),
        "watch --events under a file": (["watch", video, "--model", str(model), "--events", str(a_file / "e.jsonl")],
                                        f"--events {a_file / 'e.jsonl'}: its folder {a_file}: a file, not a folder"),
    }
    for what, (argv, message) in runs.items():
        assert main(argv) == 1, what
        assert _one_error_line(capsys.readouterr().err).startswith(f"error: {message}"), what


def test_a_camera_name_too_long_for_event_file_names_is_refused_at_start(tmp_path, capsys, model):
    video = str(write_video(tmp_path / "v.avi", walking_frames(10, 32, 32, seed=1)))
    deploy = _deployment(tmp_path, model, ["c" * 300], video)
    assert main(["watch", "--cameras", str(deploy), "--events-dir", str(tmp_path / "events"),
                 "--settings", json.dumps(FAST)]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith("error: camera " + "c" * 40 + "...: its name: too long for the file names of") and \
        len(line) < 250


def test_stale_temporaries_of_a_killed_run_are_removed_by_the_next_write(tmp_path):
    dead = tmp_path / ".s.csv.ddltmp999999999.abcd1234.tmp"  # no such process
    alive = tmp_path / f".s.csv.ddltmp{os.getppid()}.abcd1234.tmp"  # a running process may still be writing it
    onnx = tmp_path / ".m.onnx.ddltmp999999999.zz_9.tmp"
    for path in (dead, alive, onnx):
        path.write_bytes(b"")
    with atomic_path(tmp_path / "s.csv") as tmp:
        tmp.write_text("a\n")
    assert not dead.exists() and alive.exists() and onnx.exists()  # only the same file's are looked at
    with atomic_path(tmp_path / "m.onnx") as tmp:
        tmp.write_bytes(b"x")
    assert not onnx.exists() and sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, "m.onnx", "s.csv"])


# -- model files, deployments, scoring rate ------------------------------------------------------------------------

@pytest.mark.parametrize("key, value", [("frames", 999_999_999), ("height", 1_000_000), ("width", 0),
                                        ("channels", 2), ("frames", "3")])
def test_model_metadata_out_of_limits_is_refused_before_anything_is_built(tmp_path, key, value):
    path = tiny_checkpoint(tmp_path / "m.pt")
    data = torch.load(path, weights_only=True)
    data["meta"][key] = value
    torch.save(data, path)
    started = time.monotonic()
    with pytest.raises(DDLError, match=f"model metadata {key} = {value} is not") as refused:
        load_trained_model(path)
    assert time.monotonic() - started < 1 and "\n" not in str(refused.value)


def test_more_cameras_than_live_max_cameras_are_refused_in_one_line(tmp_path, capsys, model):
    deploy = _deployment(tmp_path, model, [f"cam{i}" for i in range(3)], "rtsp://127.0.0.1:9/none")
    assert main(["watch", "--cameras", str(deploy), "--settings", json.dumps({"live": {"max_cameras": 2}})]) == 1
    assert _one_error_line(capsys.readouterr().err) == (
        "error: 3 cameras: one process watches at most live.max_cameras = 2 (each holds a reader thread and its "
        "frames); split the deployment file into several watches")


def test_scoring_below_the_calibration_rate_is_warned_once_then_in_the_stats(tmp_path, capsys, model):
    video = write_video(tmp_path / "slow.avi", walking_frames(15, 32, 32, seed=1), fps=6.0)  # calibration: 25 fps
    assert main(["watch", str(video), "--model", str(model), "--settings", json.dumps(FAST)]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "below the 25 frames/s the calibration was made at" in line]
    stats = [json.loads(line[len("stats: "):]) for line in err.splitlines() if line.startswith("stats: ")]
    assert len(warnings) == 1 and "false-alarm rate" in warnings[0]
    assert stats and any(s.get("below_calibration_rate") for s in stats)


def test_the_rate_check_keeps_quiet_at_the_calibration_rate():
    alarm = AlarmSettings.from_config(load_config(None, "{}"))
    calibration = Calibration("m.pt", 0.5, 25.0, 3, alarm, {}, None, {}, size=(32, 32, 1))
    said: list[str] = []
    check = RateCheck(calibration, said.append)
    assert check.check(24.0, 0) == {"below_calibration_rate": False} and not said
    assert check.check(2.0, 0) == {"below_calibration_rate": True} and not said  # one slow period (a warm-up)
    assert check.check(24.0, 0) == {"below_calibration_rate": False} and not said
    assert check.check(8.5, 100)["below_calibration_rate"] and check.check(8.3, 120)["below_calibration_rate"]
    assert check.check(7.9, 240)["below_calibration_rate"]
    assert len(said) == 1 and "scoring 8.3 frames/s (120 frames dropped so far)" in said[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
