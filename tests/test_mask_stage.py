"""Mask-cache stage and track summary on hand-made tracks files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ddlcore.data.boxes_io import BoxTable, write_boxes
from ddlcore.cli.main import main
from ddlcore.track.mask_cache import MaskCache

H, W = 48, 64


def random_tracks(seed: int, n_frames: int = 40, n_tracks: int = 6, video: str = "v1", scene: str = "s0") -> BoxTable:
    """Tracks with random lifetimes and holes; every box at least 3 px wide and high."""
    rng = np.random.default_rng(seed)
    rows = []
    for tid in range(1, n_tracks + 1):
        start, end = sorted(rng.integers(0, n_frames, 2))
        for t in range(start, end + 1):
            if rng.random() < 0.15:
                continue  # a hole
            x0, y0 = rng.uniform(0, W - 12), rng.uniform(0, H - 12)
            rows.append((t, tid, [x0, y0, x0 + rng.uniform(3, 12), y0 + rng.uniform(3, 12)]))
    return BoxTable.from_rows(rows, n_frames, H, W, "tracks", {"video": video, "scene": scene})


def settings(frames: int = 3, **masks) -> str:
    return json.dumps({"model": {"frames": frames}, "masks": masks})


@pytest.mark.parametrize("window", [3, 5])
def test_windows_list_exactly_the_tracks_present_in_all_frames(tmp_path, window):
    tracks = random_tracks(seed=window)
    write_boxes(tmp_path / "t.h5", tracks)
    assert main(["masks", "--settings", settings(window), "--tracks", str(tmp_path / "t.h5"),
                 "--out", str(tmp_path / "m.h5")]) == 0
    present = [set(tracks.ident[tracks.frame == t].tolist()) for t in range(tracks.n_frames)]
    half = window // 2
    n_checked_boxes = 0
    with MaskCache(tmp_path / "m.h5") as cache:
        assert cache.window == window
        for c in range(tracks.n_frames):
            expected = set.intersection(*present[c - half : c + half + 1]) if half <= c < tracks.n_frames - half else set()
            assert set(cache.tracks_in_window(c).tolist()) == expected
            for tid in expected:
                masks = cache.window_mask(c, tid)
                assert masks.shape == (window, H, W)
                for i, t in enumerate(range(c - half, c + half + 1)):
                    x0, y0, x1, y1 = tracks.box[(tracks.frame == t) & (tracks.ident == tid)][0]
                    inside = masks[i, int(np.ceil(y0)) : int(np.floor(y1)), int(np.ceil(x0)) : int(np.floor(x1))]
                    assert inside.size > 0 and inside.min() == 1.0  # the mask covers the box
                    rows, cols = np.nonzero(masks[i])
                    assert rows.min() >= np.floor(y0) and rows.max() < np.ceil(y1)  # and no more
                    assert cols.min() >= np.floor(x0) and cols.max() < np.ceil(x1)
                    n_checked_boxes += 1
        assert set(cache.centres_with_tracks().tolist()) == {
            c for c in range(half, tracks.n_frames - half) if set.intersection(*present[c - half : c + half + 1])}
    assert n_checked_boxes > 20


def test_no_common_track_warns_with_fallback(tmp_path, capsys):
    tracks = random_tracks(seed=1, video="lonely")
    keep = tracks.frame % 2 == 0  # no track survives two consecutive frames
    tracks.frame, tracks.ident, tracks.box, tracks.score = (tracks.frame[keep], tracks.ident[keep],
                                                            tracks.box[keep], tracks.score[keep])
    write_boxes(tmp_path / "t.h5", tracks)
    for policy, words in (("skip", "no distinction term"), ("random_box", "random box")):
        assert main(["masks", "--settings", settings(3, no_track=policy), "--tracks", str(tmp_path / "t.h5"),
                     "--out", str(tmp_path / "m.h5")]) == 0
        err = capsys.readouterr().err.strip().splitlines()
        (line,) = [l for l in err if l.startswith("warning:")]
        assert "video lonely" in line and f"masks.no_track={policy}" in line and words in line
    with MaskCache(tmp_path / "m.h5") as cache:
        assert len(cache.centres_with_tracks()) == 0


def test_masks_cli_missing_tracks_file(tmp_path, capsys):
    assert main(["masks", "--tracks", str(tmp_path / "none.h5"), "--out", str(tmp_path / "m.h5")]) == 1
    assert capsys.readouterr().err.strip() == f"error: tracks file missing: {tmp_path / 'none.h5'}"
    assert not (tmp_path / "m.h5").exists()


def write_detections(path: Path, tracks: BoxTable, extra_per_frame: int) -> int:
    det = BoxTable.empty(tracks.n_frames, H, W, "detections")
    frames = np.concatenate([tracks.frame, np.repeat(np.arange(tracks.n_frames), extra_per_frame)]).astype(np.int32)
    det.frame = frames
    det.box = np.zeros((len(frames), 4), np.float32) + [1, 1, 5, 5]
    det.score = np.ones(len(frames), np.float32)
    det.ident = np.zeros(len(frames), np.int32)
    det.attrs = dict(tracks.attrs)
    write_boxes(path, det)
    return len(frames)


def test_track_summary_rows_and_trackless_scene_warning(tmp_path, capsys):
    a = random_tracks(seed=4, video="a", scene="s0")
    b = random_tracks(seed=5, n_frames=30, video="b", scene="s0")
    c = BoxTable.empty(20, H, W, "tracks")
    c.attrs = {"video": "c", "scene": "s1"}
    dets, tracks, n_dets = [], [], {}
    for table in (a, b, c):
        name = table.attrs["video"]
        write_boxes(tmp_path / f"{name}_t.h5", table)
        n_dets[name] = write_detections(tmp_path / f"{name}_d.h5", table, 1)
        dets.append(str(tmp_path / f"{name}_d.h5"))
        tracks.append(str(tmp_path / f"{name}_t.h5"))
    out = tmp_path / "summary.csv"
    assert main(["track-summary", "--settings", settings(3), "--detections", *dets, "--tracks", *reversed(tracks),
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert [l for l in err if l.startswith("warning:")] == [
        "warning: scene s1: its 1 video(s) yield no track at all; training uses masks.no_track=skip "
        "(no distinction term for those samples)"]
    summary = pd.read_csv(out, dtype={"video": str, "scene": str}).set_index("video")
    assert list(summary.index) == ["c", "b", "a", "ALL"]
    for name, table in (("a", a), ("b", b)):
        row = summary.loc[name]
        lengths = np.unique(table.ident, return_counts=True)[1]
        assert row["frames"] == table.n_frames and row["detections"] == n_dets[name]
        assert row["detections_per_frame"] == pytest.approx(n_dets[name] / table.n_frames, rel=1e-3)
        assert row["tracks"] == len(lengths) and row["track_length_max"] == lengths.max()
        assert row["track_length_mean"] == pytest.approx(lengths.mean(), rel=1e-3)
        assert row["track_length_median"] == pytest.approx(np.median(lengths), rel=1e-3)
        present = [set(table.ident[table.frame == t].tolist()) for t in range(table.n_frames)]
        assert row["windows_with_track"] == sum(bool(set.intersection(*present[t - 1 : t + 2]))
                                                for t in range(1, table.n_frames - 1))
    assert summary.loc["c", "tracks"] == 0
    total = summary.loc["ALL"]
    assert total["frames"] == 40 + 30 + 20 and total["detections"] == sum(n_dets.values())
    assert total["tracks"] == summary.loc["a", "tracks"] + summary.loc["b", "tracks"]
