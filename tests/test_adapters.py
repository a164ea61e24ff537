"""Dataset adapters on tiny datasets in every real layout: listing, scenes, frames, labels, pixel masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from layout_fixtures import (
    BuiltDataset,
    frame_pattern,
    make_avenue,
    make_ped2_anopred,
    make_ped2_official,
    make_shanghaitech,
)

from ddlcore.config import load_config
from ddlcore.data.avenue import AvenueDataset
from ddlcore.data.base import DatasetAdapter
from ddlcore.data.ped2 import Ped2Dataset
from ddlcore.data.registry import list_videos, open_dataset, training_scenes
from ddlcore.data.settings import DataSettings
from ddlcore.data.shanghaitech import ShanghaiTechDataset


@pytest.fixture(scope="module")
def ped2_official(tmp_path_factory: pytest.TempPathFactory) -> BuiltDataset:
    return make_ped2_official(tmp_path_factory.mktemp("ped2_official"))


@pytest.fixture(scope="module")
def ped2_anopred(tmp_path_factory: pytest.TempPathFactory) -> BuiltDataset:
    return make_ped2_anopred(tmp_path_factory.mktemp("ped2_anopred"))


@pytest.fixture(scope="module")
def avenue(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuiltDataset, dict[str, np.ndarray]]:
    return make_avenue(tmp_path_factory.mktemp("avenue"))


@pytest.fixture(scope="module")
def shanghaitech(tmp_path_factory: pytest.TempPathFactory) -> BuiltDataset:
    return make_shanghaitech(tmp_path_factory.mktemp("shanghaitech"))


def config_for(name: str, root: Path, **dataset: object) -> DataSettings:
    return DataSettings.from_config(
        load_config(settings_json=json.dumps({"dataset": {"name": name, "root": str(root), **dataset}})))


def check_listing(adapter: DatasetAdapter, built: BuiltDataset) -> None:
    """Names, order, split and per-video frame counts / sizes agree with what the builder wrote."""
    for split, expected in (("train", built.train), ("test", built.test)):
        videos = adapter.videos(split)
        assert [v.name for v in videos] == list(expected)
        assert all(v.split == split for v in videos)
        for video in videos:
            info = adapter.info(video)
            assert (info.n_frames, info.height, info.width) == (expected[video.name], built.height, built.width)


def check_labels_and_masks(adapter: DatasetAdapter, built: BuiltDataset, masks_expected: bool = True) -> None:
    for video in adapter.videos("test"):
        labels = adapter.frame_labels(video)
        assert labels.dtype == np.uint8
        np.testing.assert_array_equal(labels, built.labels[video.name])
        masks = adapter.pixel_masks(video)
        if masks_expected:
            np.testing.assert_array_equal(np.stack(list(masks)), built.masks[video.name])
        else:
            assert masks is None
    for video in adapter.videos("train"):
        assert adapter.frame_labels(video) is None
        assert adapter.pixel_masks(video) is None


def test_ped2_official_layout(ped2_official: BuiltDataset) -> None:
    adapter = Ped2Dataset(ped2_official.root)
    assert adapter.layout == "official"
    check_listing(adapter, ped2_official)
    assert adapter.scenes("train") == adapter.scenes("test") == ["all"]
    check_labels_and_masks(adapter, ped2_official)
    frames = list(adapter.read_frames(adapter.videos("test")[1]))
    assert frames[0].shape == (ped2_official.height, ped2_official.width)  # gray TIFF stays gray
    for i, frame in enumerate(frames):
        np.testing.assert_array_equal(frame, frame_pattern(12, i))  # lossless: exact values, in order


def test_ped2_official_root_may_be_the_ucsdped2_folder(ped2_official: BuiltDataset) -> None:
    adapter = Ped2Dataset(ped2_official.root / "UCSDped2")
    assert [v.name for v in adapter.videos("test")] == list(ped2_official.test)
    np.testing.assert_array_equal(adapter.frame_labels(adapter.videos("test")[1]), ped2_official.labels["Test002"])


def test_ped2_anopred_layout_reads_mat_labels(ped2_anopred: BuiltDataset) -> None:
    adapter = Ped2Dataset(ped2_anopred.root)
    assert adapter.layout == "ano_pred"
    assert adapter.info(adapter.videos("train")[0]).fps == 10.0
    check_listing(adapter, ped2_anopred)
    check_labels_and_masks(adapter, ped2_anopred)
    frames = list(adapter.read_frames(adapter.videos("train")[0]))
    assert frames[0].shape == (ped2_anopred.height, ped2_anopred.width, 3)
    for i, frame in enumerate(frames):  # JPEG: close to the pattern, first frame named 000.jpg
        assert np.abs(frame[:, :, 0].astype(int) - frame_pattern(1, i)).mean() < 3


def test_ped2_anopred_npy_labels_and_override(tmp_path: Path) -> None:
    built = make_ped2_anopred(tmp_path / "p", label_files=("npy",), pixel_masks=False)
    check_labels_and_masks(Ped2Dataset(built.root), built, masks_expected=False)
    other = np.concatenate([1 - built.labels[name] for name in built.test])[None, :]
    np.save(tmp_path / "mine.npy", other)
    adapter = open_dataset(config_for("ped2", built.root, labels_file=str(tmp_path / "mine.npy")))
    np.testing.assert_array_equal(adapter.frame_labels(adapter.videos("test")[2]), 1 - built.labels["03"])


def test_avenue_official_labels_and_masks(avenue: tuple[BuiltDataset, dict]) -> None:
    built, _ = avenue
    adapter = open_dataset(config_for("avenue", built.root))
    assert isinstance(adapter, AvenueDataset) and adapter.label_variant == "official"
    check_listing(adapter, built)
    assert adapter.info(adapter.videos("test")[0]).fps == pytest.approx(25.0)
    check_labels_and_masks(adapter, built)
    frames = list(adapter.read_frames(adapter.videos("test")[0]))
    assert len(frames) == built.test["01"] and frames[0].shape == (built.height, built.width, 3)
    for i, frame in enumerate(frames):  # MJPG is lossy: near the pattern, in order
        assert np.abs(frame[:, :, 1].astype(int) - frame_pattern(11, i)).mean() < 4


def test_avenue_mnad_labels_differ_and_have_no_masks(avenue: tuple[BuiltDataset, dict]) -> None:
    built, mnad = avenue
    adapter = open_dataset(config_for("avenue", built.root, labels="mnad"))
    assert adapter.label_variant == "mnad"
    for video in adapter.videos("test"):
        np.testing.assert_array_equal(adapter.frame_labels(video), mnad[video.name])
        assert not np.array_equal(mnad[video.name], built.labels[video.name])
        assert adapter.pixel_masks(video) is None


def test_shanghaitech_scenes_labels_masks(shanghaitech: BuiltDataset) -> None:
    adapter = ShanghaiTechDataset(shanghaitech.root)
    check_listing(adapter, shanghaitech)
    assert adapter.scenes("train") == ["01", "02", "03"]
    assert adapter.scenes("test") == ["01", "02"]
    assert [v.scene for v in adapter.videos("test")] == ["01", "01", "02"]
    assert adapter.info(adapter.videos("test")[0]).fps == pytest.approx(25.0)  # from scene 01's training video
    check_labels_and_masks(adapter, shanghaitech)


def test_shanghaitech_concatenated_labels_file(shanghaitech: BuiltDataset, tmp_path: Path) -> None:
    flipped = {name: 1 - labels for name, labels in shanghaitech.labels.items()}
    np.save(tmp_path / "all.npy", np.concatenate(list(flipped.values())))
    adapter = ShanghaiTechDataset(shanghaitech.root, labels_file=tmp_path / "all.npy")
    for video in adapter.videos("test"):
        np.testing.assert_array_equal(adapter.frame_labels(video), flipped[video.name])


def test_registry_scenes_and_training_scenes(shanghaitech: BuiltDataset) -> None:
    config = config_for("shanghaitech", shanghaitech.root)
    assert [v.name for v in list_videos(config, "train")] == list(shanghaitech.train)
    assert training_scenes(config) == ["01", "02"]  # scene 03 trains but has nothing to score
    only_two = config_for("shanghaitech", shanghaitech.root, scenes=["02"])
    assert [v.name for v in list_videos(only_two, "test")] == ["02_0128"]
    assert [v.name for v in list_videos(only_two, "train")] == ["02_001"]
    assert training_scenes(only_two) == ["02"]


def test_registry_lists_synthetic_videos_without_touching_disk(tmp_path: Path) -> None:
    synthetic = pytest.importorskip("ddlcore.data.synthetic")
    config = config_for("synthetic", tmp_path / "not-generated-yet")
    planned = synthetic.planned_videos(config.synthetic, "test", tmp_path / "not-generated-yet")
    assert list_videos(config, "test") == planned
    assert not (tmp_path / "not-generated-yet").exists()
    first_scene = planned[0].scene
    restricted = config_for("synthetic", tmp_path / "x", scenes=[first_scene])
    assert {v.scene for v in list_videos(restricted, "train")} == {first_scene}
    assert training_scenes(restricted) == [first_scene]
