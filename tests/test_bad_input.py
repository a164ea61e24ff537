"""Bad input stops with one DDLError line naming the path (or key) and the problem."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from layout_fixtures import cell_array, make_avenue, make_ped2_anopred, make_shanghaitech

from ddlcore.cli.main import main
from ddlcore.config import load_config
from ddlcore.data.ped2 import Ped2Dataset
from ddlcore.data.registry import list_videos, open_dataset, training_scenes
from ddlcore.data.settings import DataSettings
from ddlcore.data.shanghaitech import ShanghaiTechDataset
from ddlcore.errors import DDLError


def config_for(name: str, root: Path, **dataset: object) -> DataSettings:
    return DataSettings.from_config(
        load_config(settings_json=json.dumps({"dataset": {"name": name, "root": str(root), **dataset}})))


def truncate(path: Path, fraction: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


@pytest.fixture
def ped2(tmp_path: Path):
    return make_ped2_anopred(tmp_path / "ped2", label_files=("mat",), pixel_masks=False)


def test_missing_dataset_root(tmp_path: Path) -> None:
    with pytest.raises(DDLError, match=r"dataset root not found: .*no-such-folder \(config key dataset.root"):
        open_dataset(config_for("ped2", tmp_path / "no-such-folder"))


def test_unknown_dataset_name(tmp_path: Path) -> None:
    valid = config_for("ped2", tmp_path)
    with pytest.raises(DDLError, match=r"config: key 'dataset.name': unknown dataset 'ped3'"):
        open_dataset(dataclasses.replace(valid, dataset=dataclasses.replace(valid.dataset, name="ped3")))
    with pytest.raises(DDLError, match=r"dataset\.name"):
        config_for("ped3", tmp_path)


def test_unrecognised_layout(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    with pytest.raises(DDLError, match=rf"{re.escape(str(tmp_path))}: no UCSD Ped2 layout found"):
        open_dataset(config_for("ped2", tmp_path))


def test_empty_split_and_empty_frame_folder(ped2) -> None:
    train = ped2.root / "training" / "frames"
    shutil.rmtree(train)
    train.mkdir()
    with pytest.raises(DDLError, match=rf"{re.escape(str(train))}: no train videos of ped2 found \(empty split\)"):
        Ped2Dataset(ped2.root).videos("train")
    (train / "01").mkdir()
    adapter = Ped2Dataset(ped2.root)
    with pytest.raises(DDLError, match=rf"{re.escape(str(train / '01'))}: no image files"):
        adapter.info(adapter.videos("train")[0])


def test_non_image_jpg_names_the_file(ped2) -> None:
    bad = ped2.root / "testing" / "frames" / "02" / "003.jpg"
    bad.write_text("this is not a JPEG")
    adapter = Ped2Dataset(ped2.root)
    with pytest.raises(DDLError, match=rf"{re.escape(str(bad))}: not a readable image"):
        list(adapter.read_frames(adapter.videos("test")[1]))


def test_truncated_and_garbage_avi(tmp_path: Path) -> None:
    built, _ = make_avenue(tmp_path / "avenue")
    adapter = open_dataset(config_for("avenue", built.root))
    video = adapter.videos("test")[0]
    truncate(video.source, 0.9)
    with pytest.raises(DDLError, match=rf"{re.escape(str(video.source))}: decoding stopped after \d of {built.test['01']} frames"):
        list(adapter.read_frames(video))
    other = adapter.videos("train")[1]
    other.source.write_bytes(b"RIFF garbage" * 20)
    with pytest.raises(DDLError, match=rf"{re.escape(str(other.source))}: not a readable video"):
        adapter.info(other)


class ScriptedCapture:
    """A stand-in for cv2.VideoCapture whose reads succeed (True) or fail (False) as scripted."""

    def __init__(self, reads: list[bool]) -> None:
        self.reads, self.released = list(reads), False

    def read(self) -> tuple[bool, np.ndarray | None]:
        ok = self.reads.pop(0) if self.reads else False
        return ok, np.zeros((2, 3, 3), np.uint8) if ok else None

    def release(self) -> None:
        self.released = True


def test_one_video_reading_loop_with_three_policies(capsys: pytest.CaptureFixture) -> None:
    from ddlcore.data.video_io import capture_frames

    reads = [True, True, False, True, True]  # the third frame does not decode; the header announces 6
    strict = ScriptedCapture(reads)
    with pytest.raises(DDLError, match="v.avi: decoding stopped after 2 of 6 frames"):
        list(capture_frames(strict, "v.avi", "strict", 6))
    lenient = ScriptedCapture(reads)
    frames = list(capture_frames(lenient, "v.avi", "lenient", 6))
    assert len(frames) == 4 and frames[0].shape == (2, 3, 3)
    assert capsys.readouterr().err.strip() == "warning: v.avi: 4 of the 6 frames its header announces decoded; scoring those"
    live = ScriptedCapture(reads)
    assert len(list(capture_frames(live, "rtsp://cam", "live"))) == 2  # the stream stopped: the caller reconnects
    assert capsys.readouterr().err == "" and strict.released and lenient.released and live.released


def test_ddl_frames_bad_input_exits_1_with_one_line_and_keeps_old_output(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    built, _ = make_avenue(tmp_path / "avenue")
    truncate(built.root / "testing_videos" / "01.avi", 0.9)
    out = tmp_path / "frames" / "01.h5"
    out.parent.mkdir()
    out.write_bytes(b"previous complete output")
    settings = json.dumps({"dataset": {"name": "avenue", "root": str(built.root)}})
    code = main(["frames", "--settings", settings, "--split", "test", "--video", "01", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("error: ") and "01.avi: decoding stopped" in err[0]
    assert out.read_bytes() == b"previous complete output"
    assert sorted(p.name for p in out.parent.iterdir()) == ["01.h5"]
    assert main(["frames", "--settings", settings, "--split", "test", "--video", "99", "--out", str(out)]) == 1
    assert "no test video named '99'" in capsys.readouterr().err


def test_test_scene_without_training_videos(tmp_path: Path) -> None:
    built = make_shanghaitech(tmp_path / "sht", pixel_masks=False)
    (built.root / "training" / "videos" / "02_001.avi").unlink()
    with pytest.raises(DDLError, match=r"test scene\(s\) 02 have no training videos"):
        training_scenes(config_for("shanghaitech", built.root))


def test_scene_selection_matching_nothing(tmp_path: Path) -> None:
    built = make_shanghaitech(tmp_path / "sht", pixel_masks=False)
    with pytest.raises(DDLError, match=r"config: key 'dataset.scenes': \['07'\] selects no test videos \(scenes: 01, 02\)"):
        list_videos(config_for("shanghaitech", built.root, scenes=["07"]), "test")


def test_mismatched_ground_truth(ped2, tmp_path: Path) -> None:
    adapter = Ped2Dataset(ped2.root)
    first = adapter.videos("test")[0]
    total = sum(ped2.test.values())
    np.save(tmp_path / "short.npy", np.zeros((1, total - 1), np.int64))
    with pytest.raises(DDLError, match=rf"short.npy: {total - 1} frame labels, but the 3 test videos have {total} frames"):
        Ped2Dataset(ped2.root, labels_file=tmp_path / "short.npy").frame_labels(first)
    scipy.io.savemat(tmp_path / "long.mat", {"gt": cell_array([np.array([[1], [99]], np.uint8)] * 3)})
    with pytest.raises(DDLError, match=rf"long.mat: abnormal interval 1-99 of video 01 lies outside its {ped2.test['01']} frames"):
        Ped2Dataset(ped2.root, labels_file=tmp_path / "long.mat").frame_labels(first)
    scipy.io.savemat(tmp_path / "two.mat", {"gt": cell_array([np.array([[1], [2]], np.uint8)] * 2)})
    with pytest.raises(DDLError, match=r"two.mat: ground truth for 2 test videos, but 3 test videos found"):
        Ped2Dataset(ped2.root, labels_file=tmp_path / "two.mat").frame_labels(first)
    scipy.io.savemat(tmp_path / "other.mat", {"labels": np.zeros(3)})
    with pytest.raises(DDLError, match=r"other.mat: variable 'gt' not found \(has: labels\)"):
        Ped2Dataset(ped2.root, labels_file=tmp_path / "other.mat").frame_labels(first)


def test_mismatched_per_video_ground_truth(tmp_path: Path) -> None:
    sht = make_shanghaitech(tmp_path / "sht")
    label_file = sht.root / "testing" / "test_frame_mask" / "01_0015.npy"
    np.save(label_file, np.zeros(sht.test["01_0015"] + 1, np.int64))
    adapter = ShanghaiTechDataset(sht.root)
    video = adapter.videos("test")[1]
    with pytest.raises(DDLError, match=rf"01_0015.npy: {sht.test['01_0015'] + 1} frame labels for video 01_0015, which has {sht.test['01_0015']} frames"):
        adapter.frame_labels(video)
    np.save(sht.root / "testing" / "test_pixel_mask" / "01_0015.npy", np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(DDLError, match=r"01_0015.npy: pixel masks of shape \(2, 4, 4\)"):
        adapter.pixel_masks(video)
    avenue, _ = make_avenue(tmp_path / "avenue")
    masks = [np.zeros((4, 4), np.uint8)] * 2
    scipy.io.savemat(avenue.root / "ground_truth_demo" / "testing_label_mask" / "2_label.mat", {"volLabel": cell_array(masks)})
    adapter = open_dataset(config_for("avenue", avenue.root))
    with pytest.raises(DDLError, match=rf"2_label.mat: 2 label masks for video 02, which has {avenue.test['02']} frames"):
        adapter.frame_labels(adapter.videos("test")[0])


def test_config_typos_name_the_key() -> None:
    with pytest.raises(DDLError, match=r"config: unknown key 'nmae' in dataset"):
        load_config(settings_json=json.dumps({"dataset": {"nmae": "ped2"}}))
    with pytest.raises(DDLError, match=r"config: key 'frames.height': '64' is not of type 'integer'"):
        load_config(settings_json=json.dumps({"frames": {"height": "64"}}))
    with pytest.raises(DDLError, match=r"config: key 'model.input': 'neighbours' needs model.frames >= 3 .*got 1"):
        load_config(settings_json=json.dumps({"model": {"frames": 1, "input": "neighbours"}}))
    with pytest.raises(DDLError, match=r"config: key 'model.input': 'middle' is not one of"):
        load_config(settings_json=json.dumps({"model": {"input": "middle"}}))


@pytest.mark.parametrize("argv, words", [
    (["score", "--model", "{model}", "{tmp}", "--settings", "[1, 2]"], "--settings must be a JSON object"),
    (["watch", "{tmp}", "--model", "{model}", "--serve", "127.0.0.1:99999"], "--serve 127.0.0.1:99999: expected HOST:PORT"),
    (["calibrate", "--model", "{model}", "{tmp}"], "is not a ddl-model file (not written by torch.save"),
])
def test_bad_arguments_end_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, argv: list, words: str) -> None:
    model = tmp_path / "m.pt"
    model.write_text("a text file, not a model\n")
    args = [a.format(model=model, tmp=tmp_path) for a in argv]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


SIGTERM_WHILE_WRITING = """
import os, signal, sys, time
from ddlcore.cli.main import Terminated, sigterm_unwinds
from ddlcore.io_utils import atomic_path
try:
    with sigterm_unwinds(), atomic_path(sys.argv[1], keep_suffix=True) as tmp:
        tmp.write_bytes(b"half an overlay")
        os.kill(os.getpid(), signal.SIGTERM)  # a service manager stopping ddl score mid-write
        time.sleep(30)
except Terminated:
    sys.exit(143)
"""


def test_sigterm_while_writing_leaves_the_old_output_and_no_temporary_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "overlay.avi"
    out.write_bytes(b"the old overlay")
    run = subprocess.run([sys.executable, "-c", SIGTERM_WHILE_WRITING, str(out)], capture_output=True, timeout=60)
    assert run.returncode == 143, run.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["overlay.avi"] and out.read_bytes() == b"the old overlay"


def test_temporary_names_are_unpredictable_and_keep_the_suffix_when_asked(tmp_path: Path) -> None:
    from ddlcore.io_utils import atomic_path

    names = []
    for _ in range(2):
        with atomic_path(tmp_path / "overlay.mp4", keep_suffix=True) as tmp:
            names.append(tmp.name)
            assert tmp.exists() and tmp.parent == tmp_path  # created exclusively, beside the output
            tmp.write_bytes(b"video")
    assert names[0] != names[1] and all(n.startswith(".overlay.mp4.") and n.endswith(".mp4") for n in names)
    assert [p.name for p in tmp_path.iterdir()] == ["overlay.mp4"]


def test_nested_snakemake_config_values_take_the_schema_types() -> None:
    from snakemake.cli import parse_config

    from ddlcore.config import load_schema, typed_strings, validate_config

    given = parse_config(["train={seeds: [0, 1, 2], epochs: 2, lr: 1e-3}", "live={reconnect_attempts: null}",
                          "dataset={scenes: ['01']}"])
    assert given["train"]["seeds"] == ["0", "1", "2"]  # what Snakemake 9 passes: strings
    with pytest.raises(DDLError, match=r"key 'train.epochs': '2' is not of type 'integer'"):
        validate_config({"train": dict(given["train"])})
    config = validate_config(typed_strings(given, load_schema()))
    assert config["train"]["seeds"] == [0, 1, 2] and config["train"]["epochs"] == 2 and config["train"]["lr"] == 1e-3
    assert config["live"]["reconnect_attempts"] is None and config["dataset"]["scenes"] == ["01"]  # strings stay strings
    with pytest.raises(DDLError, match=r"key 'train.epochs': 'two' is not of type 'integer'"):
        validate_config(typed_strings({"train": {"epochs": "two"}}, load_schema()))
