"""Frame-store round trip through ``ddl frames``: values, shape, attributes, one frame per chunk."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from layout_fixtures import frame_pattern, make_avenue, make_ped2_official, make_shanghaitech

from ddlcore.cli.main import main
from ddlcore.data.extract import extract_frames
from ddlcore.data.framestore import FrameStore, resize_frame
from ddlcore.config import load_config
from ddlcore.data.settings import DataSettings


def settings(name: str, root: Path, height: int = 32, width: int = 48, channels: int = 1) -> str:
    return json.dumps({"dataset": {"name": name, "root": str(root)}, "frames": {"height": height, "width": width, "channels": channels}})


def test_lossless_round_trip_via_cli_keeps_values_attrs_and_chunks(tmp_path: Path) -> None:
    built = make_ped2_official(tmp_path / "ped2")
    out = tmp_path / "frames" / "Test002.h5"
    assert main(["frames", "--settings", settings("ped2", built.root), "--split", "test", "--video", "Test002", "--out", str(out)]) == 0
    with FrameStore(out) as store:
        assert store.shape == (built.test["Test002"], 32, 48, 1)
        for i in range(len(store)):  # same size, gray TIFF: exact
            np.testing.assert_array_equal(store[i][:, :, 0], frame_pattern(12, i))
        np.testing.assert_array_equal(store.window(2, 3)[:, :, :, 0], np.stack([frame_pattern(12, i) for i in (1, 2, 3)]))
        assert store.attrs["dataset"] == "ped2" and store.attrs["split"] == "test"
        assert store.attrs["video"] == "Test002" and store.attrs["scene"] == "all"
        assert (store.attrs["original_height"], store.attrs["original_width"]) == (32, 48)
        assert store.attrs["fps"] == pytest.approx(10.0)
        assert Path(store.attrs["source"]) == built.root / "UCSDped2" / "Test" / "Test002"
    with h5py.File(out, "r") as f:
        assert f["frames"].chunks == (1, 32, 48, 1)
        assert f["frames"].dtype == np.uint8
    assert not list(out.parent.glob(".*tmp*"))


def test_resizes_and_converts_channels_as_configured(tmp_path: Path) -> None:
    built = make_ped2_official(tmp_path / "ped2")
    config = DataSettings.from_config(load_config(settings_json=settings("ped2", built.root, height=16, width=32, channels=3)))
    out = tmp_path / "small.h5"
    assert extract_frames(config, "train", "Train001", out) == built.train["Train001"]
    with FrameStore(out) as store:
        assert store.shape == (built.train["Train001"], 16, 32, 3)
        expected = resize_frame(frame_pattern(1, 4), 16, 32, 3)
        np.testing.assert_array_equal(store[4], expected)
        assert (store.attrs["original_height"], store.attrs["original_width"]) == (32, 48)


def test_avi_and_jpeg_sources_round_trip_approximately(tmp_path: Path) -> None:
    avenue, _ = make_avenue(tmp_path / "avenue")
    sht = make_shanghaitech(tmp_path / "sht", pixel_masks=False)
    cases = [("avenue", avenue.root, "train", "02", 2), ("shanghaitech", sht.root, "test", "01_0015", 12)]
    for name, root, split, video, pattern_id in cases:
        out = tmp_path / f"{name}.h5"
        extract_frames(DataSettings.from_config(load_config(settings_json=settings(name, root))), split, video, out)
        with FrameStore(out) as store:
            expected_n = (avenue.train if name == "avenue" else sht.test)[video]
            assert store.shape == (expected_n, 32, 48, 1)
            for i in range(expected_n):
                assert np.abs(store[i][:, :, 0].astype(int) - frame_pattern(pattern_id, i)).mean() < 4
            assert store.attrs["fps"] == pytest.approx(25.0)
    with FrameStore(tmp_path / "shanghaitech.h5") as store:
        assert store.attrs["scene"] == "01"
