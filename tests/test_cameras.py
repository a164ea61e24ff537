"""Dataset cameras (your own footage), ddl record and the deployment file, on generated footage."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from camera_fixtures import make_camera_root, walking_frames, write_frame_folder, write_video

from ddlcore.config import validate_config
from ddlcore.data import footage_counts, video_io
from ddlcore.data.camera_labels import read_intervals
from ddlcore.data.cameras import CamerasDataset, CameraSettings, piece_rows
from ddlcore.data.extract import extract_camera
from ddlcore.data.footage_counts import FootageCounts
from ddlcore.data.piece_jobs import read_manifest, stored_fingerprint
from ddlcore.data.pieces import camera_rows, write_pieces_sheet
from ddlcore.data.registry import list_videos, open_dataset, training_scenes
from ddlcore.data.resample import RateGate, analysis_frames, resample
from ddlcore.data.video_io import decoded_frame_count, read_video, video_file_info
from ddlcore.data.settings import DataSettings
from ddlcore.errors import DDLError
from ddlcore.live.deployment_writer import write_deployment
from ddlcore.live.record import record
from ddlcore.live.settings import DeploymentSettings, LiveSettings, RecordSettings


def cameras_config(root: Path, share: float = 0.25, clip: int = 7, batch: int = 4) -> DataSettings:
    return DataSettings.from_config(validate_config({
        "dataset": {"name": "cameras", "root": str(root)}, "cameras": {"calibration_share": share},
        "model": {"frames": clip}, "train": {"batch_size": batch}}))


def frame_ranges(config: DataSettings, split: str) -> dict[str, list[tuple[Path, int, int]]]:
    adapter = open_dataset(config)
    ranges: dict[str, list[tuple[Path, int, int]]] = {}
    for video in list_videos(config, split):
        piece = adapter.piece(video)
        ranges.setdefault(video.scene, []).append((piece.source, piece.start, piece.stop))
    return ranges


def test_normal_footage_is_cut_by_time_into_disjoint_training_and_calibration_frames(tmp_path):
    config = cameras_config(make_camera_root(tmp_path / "cams"), share=0.25)
    train, calibration = frame_ranges(config, "train"), frame_ranges(config, "calibration")
    assert sorted(train) == sorted(calibration) == ["entrance", "yard"]
    for camera in train:
        used = {(src, i) for src, a, b in train[camera] for i in range(a, b)}
        held_out = {(src, i) for src, a, b in calibration[camera] for i in range(a, b)}
        assert used and held_out and not used & held_out
        total = len(used) + len(held_out)
        assert abs(len(held_out) / total - 0.25) < 0.05
    # entrance: 60 frames of seg-01 then 30 of seg-02 -> the latest 22 frames (of seg-02) calibrate
    assert [(s.name, a, b) for s, a, b in calibration["entrance"]] == [("seg-02", 8, 30)]
    assert [(s.name, a, b) for s, a, b in train["entrance"]] == [("seg-01.avi", 0, 60), ("seg-02", 0, 8)]
    adapter = open_dataset(config)
    video = list_videos(config, "calibration")[0]
    frames = list(adapter.read_frames(video))
    assert len(frames) == adapter.info(video).n_frames == 22
    assert np.array_equal(frames[0], walking_frames(30, 56, 80, seed=2)[8])  # frame 8 of the PNG folder, exactly


def test_labels_in_frames_and_seconds_and_a_camera_without_test(tmp_path):
    root = make_camera_root(tmp_path / "cams")
    (root / "entrance" / "test" / "labels.csv").write_text("clip,start,end,unit\nclip01.avi,20,29\nclip01,3.5,3.9,seconds\n")
    config = cameras_config(root)
    (clip,) = list_videos(config, "test")
    labels = open_dataset(config).frame_labels(clip)
    assert clip.scene == "entrance" and labels.shape == (40,)
    assert np.flatnonzero(labels).tolist() == list(range(20, 30)) + list(range(35, 40))
    assert training_scenes(config) == ["entrance"]  # yard trains and calibrates, but has nothing to score


def test_footage_of_other_sizes_is_warned_about_once(tmp_path, capsys):
    open_dataset(cameras_config(make_camera_root(tmp_path / "cams")))
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "entrance/normal: footage of 2 sizes (64x48, 80x56)" in err


def test_bad_cameras_are_left_out_with_one_line_naming_the_file(tmp_path, capsys):
    root = make_camera_root(tmp_path / "cams")
    (root / "empty" / "normal").mkdir(parents=True)
    (root / "broken" / "normal").mkdir(parents=True)
    (root / "broken" / "normal" / "seg.mp4").write_bytes(b"not a video at all")
    (root / "entrance" / "test" / "labels.csv").write_text("clip,start,end\nclip07.avi,1,2\n")
    write_video(root / "yard" / "test" / "late.avi", walking_frames(20, 48, 64, seed=5))
    (root / "yard" / "test" / "labels.csv").write_text("clip,start,end\nlate,10,25\n")
    config = cameras_config(root)
    assert sorted({v.scene for v in list_videos(config, "train")}) == ["entrance", "yard"]
    assert list_videos(config, "test") == []
    err = capsys.readouterr().err.splitlines()
    assert any(str(root / "empty" / "normal") in line and "no footage" in line for line in err)
    assert any(str(root / "broken" / "normal" / "seg.mp4") in line for line in err)
    assert any(str(root / "broken" / "normal") in line and "none of its 1" in line for line in err)
    assert any(str(root / "entrance" / "test" / "labels.csv") in line and "clip07.avi is not in" in line for line in err)
    assert any(str(root / "yard" / "test" / "labels.csv") in line and "past the end of clip late.avi (20 frames)" in line
               for line in err)


def test_no_readable_camera_at_all_is_an_error(tmp_path):
    (tmp_path / "cams" / "only" / "normal").mkdir(parents=True)
    with pytest.raises(DDLError, match="no camera folder with readable footage"):
        open_dataset(cameras_config(tmp_path / "cams"))


def test_too_little_footage_names_the_camera_and_what_it_needs(tmp_path):
    root = tmp_path / "cams"
    write_frame_folder(root / "door" / "normal" / "day1", walking_frames(12, 32, 32, seed=0))
    with pytest.raises(DDLError, match=r"camera door .*needs at least 45 frames"):
        training_scenes(cameras_config(root, share=0.2, clip=9, batch=8))


def test_malformed_labels_rows_name_the_file_and_line(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("clip,start,end,unit\na,1,x,frames\n")
    with pytest.raises(DDLError, match=r"labels.csv: line 2: start and end must be numbers"):
        read_intervals(path)
    path.write_text("clip,start,end,unit\na,1,2,minutes\n")
    with pytest.raises(DDLError, match=r"line 2: unit 'minutes'"):
        read_intervals(path)


def test_deployment_file_lists_each_camera_with_its_model_and_config(tmp_path):
    out, config_out = tmp_path / "deploy" / "cameras.yaml", tmp_path / "deploy" / "cameras.config.yaml"
    models = ["results/models/cameras/entrance/c3dsu-ddl-seed0.pt", "results/models/cameras/yard/c3dsu-ddl-seed0.pt"]
    write_deployment(["entrance", "yard"], models, out, config={"score": {"patch": 8}}, config_out=config_out)
    text = out.read_text()
    assert text.startswith("# written by the workflow from the config's deployment.sources")
    cameras = yaml.safe_load(text)["cameras"]
    assert [c["name"] for c in cameras] == ["entrance", "yard"]
    assert all(c["source"] == "" and c["config"] == str(config_out) for c in cameras)
    assert [c["model"] for c in cameras] == models
    assert yaml.safe_load(config_out.read_text()) == {"score": {"patch": 8}}


def test_deployment_sources_come_from_the_config_so_a_rewrite_keeps_them(tmp_path):
    out, config_out = tmp_path / "cameras.yaml", tmp_path / "cameras.config.yaml"
    models = ["m/entrance.pt", "m/yard.pt"]
    config = {"deployment": {"sources": {"entrance": "rtsp://user:pw@10.0.0.5/stream", "yard": 0}}}
    for _ in range(2):  # the workflow's re-run writes the file again: the sources are still there
        write_deployment(["entrance", "yard"], models, out, DeploymentSettings.from_section(config["deployment"]),
                         config, config_out)
        cameras = yaml.safe_load(out.read_text())["cameras"]
        assert [c["source"] for c in cameras] == ["rtsp://user:pw@10.0.0.5/stream", "0"]
    partial = {"deployment": {"sources": {"yard": "/srv/yard"}}}
    write_deployment(["entrance", "yard"], models, out, DeploymentSettings.from_section(partial["deployment"]),
                     partial, config_out)
    assert [c["source"] for c in yaml.safe_load(out.read_text())["cameras"]] == ["", "/srv/yard"]
    before = out.read_text()
    with pytest.raises(DDLError, match=r"^deployment.sources names 'gate', not a trained camera \(cameras: entrance, yard\)$"):
        write_deployment(["entrance", "yard"], models, out, DeploymentSettings.from_section({"sources": {"gate": "x"}}),
                         {"deployment": {"sources": {"gate": "x"}}}, config_out)
    assert out.read_text() == before  # nothing written


def record_settings(segment_s: float) -> tuple[RecordSettings, LiveSettings]:
    config = validate_config({"record": {"segment_s": segment_s, "fourcc": "MJPG", "suffix": ".avi"}})
    return RecordSettings.from_config(config), LiveSettings.from_config(config)


def test_record_writes_whole_segments_holding_every_frame(tmp_path):
    source = write_video(tmp_path / "cam.avi", walking_frames(24, 48, 64, seed=0), fps=20.0)
    out = tmp_path / "door" / "normal"
    segments = record(str(source), out, time.time() + 60, *record_settings(0.4))
    assert len(segments) >= 2 and sorted(out.iterdir()) == sorted(segments)
    assert sum(len(list(read_video(s))) for s in segments) == 24


@pytest.mark.slow
def test_a_killed_recording_leaves_only_whole_segments(tmp_path):
    source = write_video(tmp_path / "cam.avi", walking_frames(60, 48, 64, seed=0), fps=20.0)
    out = tmp_path / "door" / "normal"
    config = tmp_path / "record.yaml"
    config.write_text(yaml.safe_dump({"record": {"segment_s": 0.5, "fourcc": "MJPG", "suffix": ".avi"}}))
    proc = subprocess.Popen([sys.executable, "-m", "ddlcore.cli", "record", str(source), "--out", str(out),
                             "--minutes", "1", "--config", str(config)], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline and not any(p.suffix == ".avi" and not p.name.startswith(".") for p in out.glob("*")):
        time.sleep(0.1)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    whole = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert whole and all(len(list(read_video(p))) > 0 for p in whole)
    assert any(p.name.startswith(".") for p in out.iterdir())  # the open one stayed hidden
    record(str(source), out, time.time() + 0.3, *record_settings(0.5))
    assert not any(p.name.startswith(".") for p in out.iterdir())  # and the next recording removed it


def test_camera_table_rows_carry_footage_calibration_and_no_labels(tmp_path):
    from ddlcore.alarm.calibration import Calibration, save_calibration
    from ddlcore.alarm.settings import AlarmSettings
    from ddlcore.data.framestore import write_frame_store
    from ddlcore.evaluate.camera_table import camera_table

    alarm = AlarmSettings.from_config(validate_config({}))
    stores = {}
    for split, camera, n in (("train", "door", 30), ("train", "door", 20), ("calibration", "door", 12),
                             ("train", "yard", 25), ("calibration", "yard", 6)):
        path = tmp_path / split / f"{camera}-{n}.h5"
        attrs = {"source": "x", "original_height": 8, "original_width": 8, "fps": 10.0, "scene": camera}
        write_frame_store(path, (np.zeros((8, 8), np.uint8) for _ in range(n)), n, 8, 8, 1, attrs)
        stores.setdefault(split, []).append(path)
    sidecars = []
    for camera, peaks in (("door", [5, 40, 80]), ("yard", [])):
        scores = np.zeros(36000, np.float32)  # an hour at 10 frames/s
        for p in peaks:
            scores[p * 100 : p * 100 + 30] = 1.0
        path = tmp_path / "models" / "cameras" / camera / "c3dsu-ddl-seed0.alarm.h5"
        path.parent.mkdir(parents=True)
        save_calibration(Calibration("m.pt", 0.5, 10.0, 3, alarm, {"patch": 8}, None, {"v": scores}, size=(8, 8, 1)), path)
        sidecars.append(path)
    metrics = tmp_path / "metrics.json"
    metrics.write_text('{"results": [{"model": "c3dsu-ddl", "seed": 0, "scene_aucs": {"door": 0.8125}}]}')
    table = camera_table(stores["train"], stores["calibration"], sidecars, metrics).set_index("camera")
    assert table.loc["door", "training_frames"] == 50 and table.loc["door", "calibration_frames"] == 12
    assert table.loc["door", "test_auc"] == pytest.approx(81.25) and table.loc["yard", "test_auc"] == "no labels"
    assert table.loc["door", "calibration_events"] == 3 and table.loc["door", "false_alarms_per_hour"] == pytest.approx(3.0)
    assert table.loc["yard", "calibration_minutes"] == pytest.approx(60.0) and table.loc["yard", "calibration_events"] == 0
    assert "detected" not in table.columns  # no labelled camera: no event columns

    # door's labelled clip: one anomaly on frames 10-19, the live scores file's event starts at its onset
    from test_report import write_labels, write_live

    labels = tmp_path / "labels.h5"
    clip = {"door-clip": ("door", [0] * 10 + [1] * 10 + [0] * 10)}
    write_labels(labels, "cameras", clip)
    (tmp_path / "alarms" / "cameras" / "door").mkdir(parents=True)
    live = write_live(tmp_path / "alarms" / "cameras" / "door" / "c3dsu-ddl-seed0.h5", "cameras", "door", clip)
    table = camera_table(stores["train"], stores["calibration"], sidecars, metrics, labels, [live]).set_index("camera")
    assert table.loc["door", "detected"] == "1 of 1" and table.loc["door", "event_precision_pct"] == 100.0
    assert table.loc["door", "median_delay_s"] == pytest.approx(0.1)  # raised at its first frame + 1 frame of latency
    assert table.loc["yard", "detected"] == "no labels"


def truncated_video(path: Path, frames: np.ndarray) -> Path:
    """An .avi whose header claims all of ``frames`` while only about the first half decode (its end cut off)."""
    data = write_video(path, frames).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_footage_is_cut_by_the_frames_that_decode_and_an_undecodable_camera_is_left_out(tmp_path, capsys):
    root = make_camera_root(tmp_path / "cams")
    short = truncated_video(root / "yard" / "normal" / "noon.avi", walking_frames(60, 48, 64, seed=6))
    assert video_file_info(short).n_frames == 60 and 0 < decoded_frame_count(short) < 60
    (root / "broken" / "normal").mkdir(parents=True)
    (root / "broken" / "normal" / "seg.avi").write_bytes(b"RIFF not a video at all")
    config = cameras_config(root, share=0.25)
    adapter = open_dataset(config)
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if "broken" in line] == [
        f"warning: {root / 'broken' / 'normal'}: none of its 1 footage files or folders is readable, e.g. "
        f"{root / 'broken' / 'normal' / 'seg.avi'}: not a readable video (OpenCV cannot open it; corrupt, truncated "
        "or unknown codec) (camera broken left out)"]
    assert [line for line in err if "noon.avi" in line] == [
        f"warning: {short}: {decoded_frame_count(short)} of the 60 frames its header claims decode; using those"]
    yard = [v for split in ("train", "calibration") for v in list_videos(config, split) if v.scene == "yard"]
    decoded = 60 + decoded_frame_count(short)
    assert sum(adapter.info(v).n_frames for v in yard) == decoded
    assert sum(len(list(adapter.read_frames(v))) for v in yard) == decoded  # every piece reads in full
    assert sorted({v.scene for v in list_videos(config, "train")}) == ["entrance", "yard"]


def test_decoded_frame_counts_are_kept_and_counted_again_when_a_file_changes(tmp_path, monkeypatch):
    root = make_camera_root(tmp_path / "cams")
    counts_file = tmp_path / "results" / "footage.csv"
    settings = CameraSettings(0.25, 10.0, 7)
    decoded: list[Path] = []
    real_count = footage_counts.decoded_frame_count
    monkeypatch.setattr(footage_counts, "decoded_frame_count", lambda p: decoded.append(p) or real_count(p))
    CamerasDataset(root, settings, FootageCounts(counts_file))
    assert len(decoded) == 3 and counts_file.is_file()  # the three video files, once each
    CamerasDataset(root, settings, FootageCounts(counts_file))
    assert len(decoded) == 3  # kept
    truncated_video(root / "yard" / "normal" / "morning.avi", walking_frames(60, 48, 64, seed=4))
    again = CamerasDataset(root, settings, FootageCounts(counts_file))
    assert decoded[3:] == [root / "yard" / "normal" / "morning.avi"]
    yard = [v for split in ("train", "calibration") for v in again.videos(split) if v.scene == "yard"]
    assert sum(again.info(v).n_frames for v in yard) == decoded_frame_count(root / "yard" / "normal" / "morning.avi")


def test_a_cameras_frames_job_opens_its_own_footage_only_and_recomputes_changed_pieces_only(tmp_path, monkeypatch):
    root = make_camera_root(tmp_path / "cams")
    config = cameras_config(root)
    sheet = tmp_path / "pieces.csv"
    write_pieces_sheet(piece_rows(open_dataset(config)), sheet)
    opened: list[str] = []
    real_capture, real_imread = video_io.cv2.VideoCapture, video_io.cv2.imread
    monkeypatch.setattr(video_io.cv2, "VideoCapture", lambda path, *a: opened.append(path) or real_capture(path, *a))
    monkeypatch.setattr(video_io.cv2, "imread", lambda path, *a: opened.append(path) or real_imread(path, *a))
    folder, manifest = tmp_path / "frames" / "entrance", tmp_path / "frames" / "entrance.pieces.csv"

    def job(stamp: str = "s1") -> tuple[int, int]:
        opened.clear()
        return extract_camera(config, sheet, "entrance", stamp, folder, manifest, threads=1)

    assert job() == (4, 0)  # two training pieces, one calibration piece, the test clip
    assert opened and all(Path(p).is_relative_to(root / "entrance") for p in opened)  # never the yard's footage
    listed = read_manifest(manifest)
    assert [(r["split"], r["video"]) for r in listed] == [
        ("train", "entrance-seg-01"), ("train", "entrance-seg-02"), ("calibration", "entrance-seg-02"),
        ("test", "entrance-clip01")]
    assert all(stored_fingerprint(Path(r["path"])) == r["fingerprint"] for r in listed)
    rows = {(row["split"], row["video"]): row for row in camera_rows(sheet, "entrance")}
    for r in listed:  # each store holds its own row's frames (seg-02 has a training and a calibration piece)
        row = rows[(r["split"], r["video"])]
        with h5py.File(r["path"], "r") as f:
            assert f["frames"].shape[0] == int(row["frames"]) and f.attrs["first_frame"] == int(row["start"])
    assert not write_pieces_sheet(piece_rows(open_dataset(config)), sheet)  # unchanged: left as it is
    assert job() == (0, 4) and not opened  # kept: no footage opened
    assert job("s2") == (4, 0)  # other settings or code: all computed again
    write_video(root / "entrance" / "normal" / "seg-03.avi", walking_frames(60, 48, 64, seed=5))
    write_pieces_sheet(piece_rows(CamerasDataset(root, CameraSettings.from_settings(config.cameras, 7))), sheet)
    assert job("s2") == (3, 2)  # seg-01 and the test clip kept; seg-02 (now all training) and seg-03 computed
    assert not (folder / "calibration" / "entrance-seg-02.h5").exists()  # no longer a piece: removed
    assert sorted(p.stem for p in folder.rglob("*.h5")) == sorted(r["video"] for r in read_manifest(manifest))


def test_the_analysis_rate_resamples_footage_and_its_labels(tmp_path):
    root = make_camera_root(tmp_path / "cams")
    write_video(root / "entrance" / "test" / "clip01.avi", walking_frames(40, 48, 64, seed=3, fast_from=20), fps=20.0)
    config = DataSettings.from_config(validate_config({
        "dataset": {"name": "cameras", "root": str(root)}, "cameras": {"calibration_share": 0.25, "fps": 5},
        "model": {"frames": 3}, "train": {"batch_size": 2}}))
    adapter = open_dataset(config)
    (clip,) = list_videos(config, "test")
    frames = list(adapter.read_frames(clip))
    assert adapter.info(clip).fps == 5.0 and len(frames) == adapter.info(clip).n_frames == 10  # 2 s of 20 fps
    source = list(read_video(root / "entrance" / "test" / "clip01.avi"))
    assert all(np.array_equal(frames[k], source[4 * k]) for k in range(10))  # every 4th source frame
    assert np.flatnonzero(adapter.frame_labels(clip)).tolist() == [5, 6, 7, 8, 9]  # source frames 20..39
    yard = [adapter.info(v).n_frames for s in ("train", "calibration") for v in list_videos(config, s) if v.scene == "yard"]
    assert sum(yard) == 30  # 60 frames at 10 fps, at 5 fps


def test_resampling_keeps_or_repeats_source_frames_at_the_analysis_rate():
    assert list(resample(range(9), 30.0, 10.0)) == [0, 3, 6]
    assert analysis_frames(9, 30.0, 10.0) == 3 and analysis_frames(10, 30.0, 10.0) == 4
    assert list(resample(range(3), 5.0, 10.0)) == [0, 0, 1, 1, 2, 2] and analysis_frames(3, 5.0, 10.0) == 6
    assert list(resample(range(4), 25.0, None)) == [0, 1, 2, 3] and analysis_frames(4, 25.0, None) == 4
    for n, source_fps, fps in ((100, 29.97, 10.0), (77, 12.5, 10.0), (50, 30.0, 7.0)):
        assert len(list(resample(range(n), source_fps, fps))) == analysis_frames(n, source_fps, fps)


def test_train_hours_keeps_the_latest_footage_for_training_and_calibration(tmp_path):
    root = make_camera_root(tmp_path / "cams")
    settings = CameraSettings(0.25, 10.0, 3, train_hours=4.0 / 3600)  # the latest 4 s: 40 frames at 10 fps
    adapter = CamerasDataset(root, settings)
    pieces = {s: [(adapter.piece(v).source.name, adapter.piece(v).start, adapter.piece(v).stop)
                  for v in adapter.videos(s) if v.scene == "entrance"] for s in ("train", "calibration")}
    # entrance: seg-01.avi (60 frames) then seg-02 (30): the latest 40 are seg-01's last 10 and all of seg-02
    assert pieces == {"train": [("seg-01.avi", 50, 60), ("seg-02", 0, 20)], "calibration": [("seg-02", 20, 30)]}


def test_a_live_streams_frames_are_kept_at_the_analysis_rate_by_their_arrival_times():
    jitter = np.random.default_rng(0).uniform(-0.004, 0.004, 300)
    for source_fps, fps in ((30.0, 10.0), (25.0, 10.0), (12.0, 10.0)):
        gate = RateGate(fps)
        kept = [t for t in np.arange(300) / source_fps + jitter if gate.keep_arrival(t)]
        assert abs(len(kept) - 300 / source_fps * fps) <= 2, (source_fps, len(kept))  # the rate, whatever it reports
        assert np.diff(kept).min() > 0.5 / fps  # never two frames within half a period
    slower = RateGate(10.0)
    assert all(slower.keep_arrival(t) for t in np.arange(50) / 5.0)  # a 5 frames/s stream: every frame
    gate = RateGate(10.0)
    before = [gate.keep_arrival(t) for t in np.arange(30) / 30.0]  # 1 s, then a minute's outage, then 1 s
    after = [gate.keep_arrival(t) for t in 60.0 + np.arange(30) / 30.0]
    assert after[0] and sum(after) == sum(before) == 10  # the schedule restarts: no burst to catch up


def test_a_live_source_keeps_the_frames_extraction_would_at_the_analysis_rate():
    for source_fps, fps in ((30.0, 10.0), (25.0, 10.0), (29.97, 7.5)):
        gate = RateGate(fps)
        kept = [i for i in range(200) if gate.keep(source_fps)]
        assert kept == list(resample(range(200), source_fps, fps))
    assert all(RateGate(None).keep(30.0) for _ in range(5)) and all(RateGate(10.0).keep(5.0) for _ in range(5))
