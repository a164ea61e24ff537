"""``ddl labels``: labels aligned with frame stores, pixel masks at store size, the reader API, mismatches."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
from layout_fixtures import make_avenue, make_ped2_anopred, make_shanghaitech

from ddlcore.cli.main import main
from ddlcore.config import load_config
from ddlcore.data.extract import extract_frames
from ddlcore.data.framestore import write_frame_store
from ddlcore.data.groundtruth import label_variant, read_labels, read_pixel_masks, write_labels_file
from ddlcore.data.registry import list_videos
from ddlcore.data.settings import DataSettings
from ddlcore.errors import DDLError

STORE_H, STORE_W = 16, 32


def make_config(name: str, root: Path, **dataset: object) -> DataSettings:
    sections = {"dataset": {"name": name, "root": str(root), **dataset}, "frames": {"height": STORE_H, "width": STORE_W}}
    return DataSettings.from_config(load_config(settings_json=json.dumps(sections)))


def extract_test_stores(config: DataSettings, frames_dir: Path) -> None:
    for video in list_videos(config, "test"):
        extract_frames(config, "test", video.name, frames_dir / f"{video.name}.h5")


def nearest(mask: np.ndarray) -> np.ndarray:
    return cv2.resize(mask.astype(np.uint8), (STORE_W, STORE_H), interpolation=cv2.INTER_NEAREST)


def test_ped2_labels_file_via_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    built = make_ped2_anopred(tmp_path / "ped2")
    config = make_config("ped2", built.root)
    extract_test_stores(config, tmp_path / "frames")
    out = tmp_path / "labels" / "ped2.h5"
    settings = json.dumps({"dataset": config.dataset.as_config(), "frames": config.frames.as_config()})
    assert main(["labels", "--settings", settings, "--frames-dir", str(tmp_path / "frames"), "--out", str(out)]) == 0
    total = sum(built.test.values())
    abnormal = sum(int(v.sum()) for v in built.labels.values())
    assert f"{total} frames, {abnormal} abnormal" in capsys.readouterr().out

    labels = read_labels(out)
    assert list(labels) == list(built.test)
    for name, expected in built.labels.items():
        assert labels[name].scene == "all"
        assert labels[name].labels.dtype == np.uint8
        np.testing.assert_array_equal(labels[name].labels, expected)
        masks = read_pixel_masks(out, name)
        assert masks.shape == (built.test[name], STORE_H, STORE_W) and masks.dtype == np.uint8
        np.testing.assert_array_equal(masks, np.stack([nearest(m) for m in built.masks[name]]))
    assert label_variant(out) == "official"
    with h5py.File(out, "r") as f:
        assert f.attrs["format_version"] == 1 and f.attrs["dataset"] == "ped2"


def test_avenue_variant_is_recorded_and_mnad_has_no_masks(tmp_path: Path) -> None:
    built, mnad = make_avenue(tmp_path / "avenue")
    config = make_config("avenue", built.root, labels="mnad")
    extract_test_stores(config, tmp_path / "frames")
    summary = write_labels_file(config, tmp_path / "frames", tmp_path / "avenue.h5")
    assert (summary.videos, summary.with_masks) == (2, 0)
    assert summary.abnormal == sum(int(v.sum()) for v in mnad.values())
    assert label_variant(tmp_path / "avenue.h5") == "mnad"
    labels = read_labels(tmp_path / "avenue.h5")
    for name in built.test:
        np.testing.assert_array_equal(labels[name].labels, mnad[name])
        assert read_pixel_masks(tmp_path / "avenue.h5", name) is None


def test_shanghaitech_scenes_and_scene_restriction(tmp_path: Path) -> None:
    built = make_shanghaitech(tmp_path / "sht")
    config = make_config("shanghaitech", built.root, scenes=["01"])
    extract_test_stores(config, tmp_path / "frames")
    write_labels_file(config, tmp_path / "frames", tmp_path / "sht.h5")
    labels = read_labels(tmp_path / "sht.h5")
    assert list(labels) == ["01_0014", "01_0015"]  # only the configured scene's frame stores exist
    assert {v.scene for v in labels.values()} == {"01"}
    np.testing.assert_array_equal(labels["01_0015"].labels, built.labels["01_0015"])
    masks = read_pixel_masks(tmp_path / "sht.h5", "01_0014")
    np.testing.assert_array_equal(masks.any(axis=(1, 2)).astype(np.uint8), built.labels["01_0014"])


def test_length_mismatch_names_video_and_both_lengths(tmp_path: Path) -> None:
    built = make_ped2_anopred(tmp_path / "ped2", pixel_masks=False)
    config = make_config("ped2", built.root)
    frames_dir = tmp_path / "frames"
    extract_test_stores(config, frames_dir)
    short = built.test["02"] - 2
    frames = (np.zeros((8, 8), np.uint8) for _ in range(short))
    write_frame_store(frames_dir / "02.h5", frames, short, STORE_H, STORE_W, 1, {"source": "x", "original_height": 8, "original_width": 8, "fps": 1.0})
    out = tmp_path / "labels.h5"
    with pytest.raises(DDLError, match=rf"test video 02: {built.test['02']} frame labels but frame store .*02.h5 has {short} frames"):
        write_labels_file(config, frames_dir, out)
    assert not out.exists()
    assert not list(tmp_path.glob(".labels.h5.tmp*"))


def test_missing_frame_store_and_bad_labels_files(tmp_path: Path) -> None:
    built = make_ped2_anopred(tmp_path / "ped2", pixel_masks=False)
    with pytest.raises(DDLError, match=r"frame store missing: .*01.h5"):
        write_labels_file(make_config("ped2", built.root), tmp_path / "nowhere", tmp_path / "l.h5")
    with pytest.raises(DDLError, match=r"labels file missing: .*absent.h5"):
        read_labels(tmp_path / "absent.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(DDLError, match=r"junk.h5 is not a readable HDF5 file"):
        label_variant(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "old.h5", "w") as f:
        f.attrs["format_version"] = 0
    with pytest.raises(DDLError, match=r"old.h5 has format version 0, expected 1"):
        read_pixel_masks(tmp_path / "old.h5", "01")
