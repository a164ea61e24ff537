"""End to end: the workflow on a generated camera root (two cameras, one without test clips and with a video whose
header claims more frames than decode, and a third whose only footage does not decode): a model and a held-out
calibration per readable camera, the per-camera table, the camera without test clips in the AUC and event tables,
and the deployment file."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import cv2
import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from camera_fixtures import make_camera_root, walking_frames, write_video
from snakemake_command import REPO, SNAKEMAKE

from ddlcore.data.video_io import decoded_frame_count

TINY_CAMERAS = REPO / "tests" / "data" / "tiny-cameras.yaml"
pytestmark = pytest.mark.e2e
RUN = "c3dsu-ddl-seed0"


@pytest.fixture(scope="module")
def camera_run(tmp_path_factory) -> Path:
    """A completed workflow run on a generated camera root under ``<workdir>/cameras``."""
    workdir = tmp_path_factory.mktemp("cameras-workflow")
    root = make_camera_root(workdir / "cameras")
    noon = write_video(root / "yard" / "normal" / "noon.avi", walking_frames(60, 48, 64, seed=7))
    noon.write_bytes(noon.read_bytes()[: noon.stat().st_size // 2])  # its header claims 60 frames, about 29 decode
    (root / "broken" / "normal").mkdir(parents=True)
    (root / "broken" / "normal" / "seg.avi").write_bytes(b"RIFF not a video")
    cmd = [*SNAKEMAKE, "--directory", str(workdir), "--configfile", str(REPO / "config" / "config.yaml"),
           str(TINY_CAMERAS), "--cores", "2"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "cameras/yard/normal/noon.avi: " in run.stderr and "(camera broken left out)" in run.stderr
    return workdir


def piece_frames(store: Path) -> set[tuple[str, int]]:
    """(source, frame index in source) of every frame a frame store holds."""
    with h5py.File(store, "r") as f:
        first, n = int(f.attrs["first_frame"]), f["frames"].shape[0]
        return {(str(f.attrs["source"]), first + i) for i in range(n)}


@pytest.mark.slow
def test_one_model_and_held_out_calibration_per_camera(camera_run):
    results = camera_run / "results"
    for camera in ("entrance", "yard"):
        assert (results / "models" / "cameras" / camera / f"{RUN}.pt").is_file()
        calibration = results / "models" / "cameras" / camera / f"{RUN}.alarm.h5"
        with h5py.File(calibration, "r") as f:
            calibrated = sorted(f["videos"])
        train = sorted((results / "frames" / "cameras" / camera / "train").glob("*.h5"))
        held_out = sorted((results / "frames" / "cameras" / camera / "calibration").glob("*.h5"))
        assert train and held_out and calibrated == sorted(p.stem for p in held_out)
        used = set().union(*(piece_frames(p) for p in train))
        calibrated_on = set().union(*(piece_frames(p) for p in held_out))
        assert calibrated_on and not used & calibrated_on
    yard = [p for split in ("train", "calibration") for p in (results / "frames" / "cameras" / "yard" / split).glob("*.h5")]
    decoded = 60 + decoded_frame_count(camera_run / "cameras" / "yard" / "normal" / "noon.avi")
    assert sum(len(piece_frames(p)) for p in yard) == decoded  # the frames that decode, trained and calibrated on
    assert not (results / "models" / "cameras" / "broken").exists()


@pytest.mark.slow
def test_camera_table_says_no_labels_for_the_camera_without_test_clips(camera_run):
    table = pd.read_csv(camera_run / "results" / "tables" / "cameras-cameras.csv").set_index("camera")
    assert sorted(table.index) == ["entrance", "yard"]
    assert table.loc["yard", "test_auc"] == "no labels"
    assert table.loc["yard", "detected"] == "no labels" and " of " in table.loc["entrance", "detected"]
    assert 0.0 <= float(table.loc["entrance", "test_auc"]) <= 100.0
    assert (table.calibration_frames > 0).all() and (table.training_frames > table.calibration_frames).all()
    assert "no labels" in (camera_run / "results" / "tables" / "cameras-cameras.md").read_text()
    auc = pd.read_csv(camera_run / "results" / "tables" / "auc.csv")
    assert list(auc.dataset) == ["cameras"]  # the AUC table covers the labelled camera only
    scenes = pd.read_csv(camera_run / "results" / "tables" / "scenes-cameras.csv")
    assert scenes["scene"].tolist() == ["entrance", "yard"] and scenes["labelled"].tolist() == [True, False]
    for name in ("auc-cameras.md", "events-cameras.md"):  # and the other tables name it
        md = (camera_run / "results" / "tables" / name).read_text()
        assert "\nNo labelled test clips (not in these figures): yard\n" in md


@pytest.mark.slow
def test_deployment_file_lists_both_cameras(camera_run):
    deployment = camera_run / "results" / "deploy" / "cameras.yaml"
    cameras = yaml.safe_load(deployment.read_text())["cameras"]
    assert [c["name"] for c in cameras] == ["entrance", "yard"]
    for camera in cameras:
        assert camera["source"] == ""
        assert (camera_run / camera["model"]).is_file()
        assert (camera_run / camera["model"]).with_name(f"{RUN}.alarm.h5").is_file()
        config = yaml.safe_load((camera_run / camera["config"]).read_text())
        assert config["dataset"]["name"] == "cameras" and config["score"]["patch"] == 8


def dry_run_process(workdir: Path, *options: str) -> subprocess.CompletedProcess:
    """A dry run of the tiny cameras configuration in ``workdir`` (with Snakemake ``options``), output captured."""
    cmd = [*SNAKEMAKE, "--directory", str(workdir), "--configfile", str(REPO / "config" / "config.yaml"),
           str(TINY_CAMERAS), "--cores", "2", "--dry-run", *options]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def dry_run(workdir: Path, *options: str) -> str:
    """What a successful dry run of the tiny cameras configuration in ``workdir`` prints."""
    run = dry_run_process(workdir, *options)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout + run.stderr


def job_blocks(text: str) -> list[str]:
    """A dry run's printout cut at each job's ``rule NAME:`` line (indented for the jobs of a group), each piece
    starting with the rule's name."""
    return re.split(r"\n\s*rule ", text)[1:]


def planned_train_scenes(workdir: Path) -> list[str]:
    """Scenes of the train jobs a dry run plans."""
    blocks = job_blocks(dry_run(workdir))
    return sorted(re.search(r"scene=([^,\s]+)", b).group(1) for b in blocks if b.startswith("train:"))


def planned_jobs(text: str) -> dict[str, int]:
    """Rule -> jobs, from a dry run's job table."""
    table = text[text.index("Job stats:"):]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def planned_commands(text: str) -> dict[str, list[str]]:
    """Rule -> the shell commands of its jobs, from a dry run with ``--printshellcmds``."""
    commands: dict[str, list[str]] = defaultdict(list)
    for block in job_blocks(text):
        command = re.search(r"^Shell command: (.+)$", block, re.M)
        if command:
            commands[block.split(":")[0]].append(command.group(1))
    return commands


def test_the_plan_calibrates_on_held_out_stores_and_needs_no_labels(tmp_path):
    make_camera_root(tmp_path / "cameras")
    jobs = planned_jobs(dry_run(tmp_path))
    assert jobs["train"] == jobs["calibrate"] == 2 and jobs["deployment"] == jobs["camera_table"] == 1
    # one job per camera and per-piece stage, whatever its number of pieces (entrance: 2 training, 1 calibration, 1 test)
    assert jobs["camera_frames"] == jobs["camera_detect"] == jobs["camera_track"] == jobs["camera_masks"] == 2
    assert not {"extract_frames", "detect", "track", "masks"} & set(jobs)
    assert jobs["score"] == jobs["live_score"] == 1  # only entrance has labelled clips
    (tmp_path / "cameras" / "entrance" / "test" / "labels.csv").unlink()
    jobs = planned_jobs(dry_run(tmp_path))  # no camera has labels: models, calibrations, deployment
    assert jobs["train"] == jobs["calibrate"] == 2 and jobs["deployment"] == 1
    assert not {"score", "aggregate", "labels", "events", "live_score"} & set(jobs)


def test_a_cameras_roi_is_an_input_of_its_scoring_and_calibration_only(tmp_path):
    root = make_camera_root(tmp_path / "cameras")
    cv2.imwrite(str(root / "entrance" / "roi.png"), np.full((48, 64), 255, np.uint8))  # the footage's 4:3
    blocks = job_blocks(dry_run(tmp_path, "--printshellcmds"))
    jobs = [(b.split(":")[0], re.search(r"scene=([^,\s]+)", b).group(1) if "scene=" in b else "", b) for b in blocks]
    with_roi = sorted((rule, scene) for rule, scene, block in jobs if "roi.png" in block)
    assert with_roi == [("calibrate", "entrance"), ("score", "entrance")]  # never train, nor the other camera
    for rule, scene, block in jobs:
        if (rule, scene) in with_roi:
            assert re.search(r"^\s+input: .*cameras/entrance/roi\.png", block, re.M)
            assert "--roi cameras/entrance/roi.png" in block
    assert {("train", "entrance"), ("calibrate", "yard"), ("live_score", "entrance")} <= {(r, s) for r, s, _ in jobs}
    cv2.imwrite(str(root / "yard" / "roi.png"), np.zeros((48, 64), np.uint8))  # nothing watched: stops the plan
    run = dry_run_process(tmp_path)
    said = run.stdout + run.stderr
    assert run.returncode != 0 and "\ncameras/yard/roi.png: no watched pixel" in said, said[-2000:]


def test_the_camera_without_test_clips_is_named_to_the_aggregate_and_events_jobs(tmp_path):
    root = make_camera_root(tmp_path / "cameras")
    commands = planned_commands(dry_run(tmp_path, "--printshellcmds"))
    for rule in ("aggregate", "events"):
        [command] = commands[rule]
        assert " --unlabelled-scenes yard 2> " in command, command
    assert len(commands["train"]) == len(commands["calibrate"]) == 2  # yard still trains and calibrates
    shutil.copytree(root / "entrance" / "test", root / "yard" / "test")  # now both cameras have labelled clips
    commands = planned_commands(dry_run(tmp_path, "--printshellcmds"))
    assert len(commands["aggregate"]) == len(commands["events"]) == 1 and len(commands["score"]) == 2
    assert not [c for jobs in commands.values() for c in jobs if "--unlabelled-scenes" in c]


def planned_outputs(text: str) -> list[str]:
    """The output files of the jobs a dry run plans."""
    return sorted(re.findall(r"^\s+output: (\S+)", text, re.M))


def piece_log(workdir: Path, stage: str, camera: str) -> list[str]:
    """The pieces (``split/video``) the last run of a camera's job of ``stage`` computed, from its log."""
    log = workdir / "results" / "logs" / "cameras" / stage / f"{camera}.log"
    return re.findall(rf"^{stage} {camera}: computed (\S+) ", log.read_text(), re.M)


@pytest.mark.slow
def test_a_new_segment_of_one_camera_replans_and_recomputes_only_that_cameras_changed_pieces(tmp_path):
    root = make_camera_root(tmp_path / "cameras")
    until = ("--until", "camera_masks")  # frames, then detection, tracking and masks of the training pieces
    run = subprocess.run([*SNAKEMAKE, "--directory", str(tmp_path), "--configfile", str(REPO / "config" / "config.yaml"),
                          str(TINY_CAMERAS), "--cores", "2", *until], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    sheet = tmp_path / "results" / "pieces" / "cameras.csv"
    rows = pd.read_csv(sheet)
    frames = tmp_path / "results" / "frames" / "cameras"
    assert sorted(rows.video) == sorted(p.stem for p in frames.rglob("*.h5"))
    assert sorted(piece_log(tmp_path, "frames", "yard")) == ["calibration/yard-morning", "train/yard-morning"]
    assert planned_outputs(dry_run(tmp_path, *until)) == []  # nothing to do
    entrance = {p: p.stat().st_mtime_ns for p in tmp_path.glob("results/*/cameras/entrance*")}
    write_video(root / "yard" / "normal" / "noon.avi", walking_frames(40, 48, 64, seed=9))
    assert planned_outputs(dry_run(tmp_path, *until)) == [  # that camera's job of each stage, no other
        f"results/{stage}/cameras/yard.pieces.csv" for stage in ("detections", "frames", "masks", "tracks")]
    assert (frames / "yard" / "calibration" / "yard-morning.h5").is_file()  # the cut moved into the new segment
    changed = pd.read_csv(sheet).merge(rows, how="outer", indicator=True).query("_merge != 'both'")
    assert set(changed.camera) == {"yard"}  # the other camera's rows are as they were
    run = subprocess.run([*SNAKEMAKE, "--directory", str(tmp_path), "--configfile", str(REPO / "config" / "config.yaml"),
                          str(TINY_CAMERAS), "--cores", "2", *until], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    # inside the jobs, only the pieces whose row changed: morning now trains whole, noon is new
    assert sorted(piece_log(tmp_path, "frames", "yard")) == ["calibration/yard-noon", "train/yard-morning",
                                                             "train/yard-noon"]
    for stage in ("detect", "track", "masks"):
        assert sorted(piece_log(tmp_path, stage, "yard")) == ["train/yard-morning", "train/yard-noon"]
    assert not (frames / "yard" / "calibration" / "yard-morning.h5").exists()  # no longer a piece: removed
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("results/*/cameras/entrance*")} == entrance
