"""Scoring: frame scores from error maps, sliding windows, encoder sharing, border handling, scores files."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ddlcore.config import load_config
from ddlcore.data.framestore import write_frame_store
from ddlcore.errors import DDLError
from ddlcore.score.inference import fill_border, pixel_error, window_scores
from ddlcore.score.patches import patch_scores
from ddlcore.score.frame_stores import score_frame_stores
from ddlcore.score.scores_io import read_scores
from ddlcore.score.settings import ScoreSettings

torch.set_num_threads(1)


class MiddlePlusOffset(torch.nn.Module):
    """Returns the middle frame of each clip plus ``offset`` inside a fixed box (a known error)."""

    def __init__(self, offset: float, box: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.offset = offset
        self.box = box
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x[:, :, x.shape[2] // 2].clone()
        r0, r1, c0, c1 = self.box
        out[:, :, r0:r1, c0:c1] += self.offset
        return out


class TinyEncodeDecode(torch.nn.Module):
    """A small real conv model following the encode/decode contract (two levels, temporal mixing)."""

    def __init__(self, channels: int, clip: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.enc1 = torch.nn.Conv2d(channels, 4, 3, padding=1)
        self.enc2 = torch.nn.Conv2d(4, 8, 3, padding=1, stride=2)
        self.mix1 = torch.nn.Conv3d(4, 4, (clip, 1, 1))
        self.mix2 = torch.nn.Conv3d(8, 8, (clip, 1, 1))
        self.out = torch.nn.Conv2d(12, channels, 3, padding=1)

    def encode(self, frames: torch.Tensor) -> list[torch.Tensor]:
        a = torch.relu(self.enc1(frames))
        return [a, torch.relu(self.enc2(a))]

    def decode(self, feats: list[torch.Tensor]) -> torch.Tensor:
        a = self.mix1(feats[0].transpose(1, 2))[:, :, 0]
        b = self.mix2(feats[1].transpose(1, 2))[:, :, 0]
        b = F.interpolate(b, size=a.shape[-2:], mode="nearest")
        return torch.sigmoid(self.out(torch.cat([a, b], dim=1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, h, w = x.shape
        feats = self.encode(x.transpose(1, 2).reshape(n * t, c, h, w))
        return self.decode([f.reshape(n, t, *f.shape[1:]) for f in feats])


def test_pixel_error_is_l2_over_channels_scaled():
    frames = torch.zeros(1, 3, 2, 2)
    recon = torch.zeros(1, 3, 2, 2)
    recon[0, :, 0, 0] = torch.tensor([0.3, 0.4, 0.0])  # norm 0.5
    err = pixel_error(frames, recon)
    assert err.shape == (1, 2, 2)
    assert err[0, 0, 0].item() == pytest.approx(0.5 / np.sqrt(3))
    assert err[0, 1, 1].item() == 0.0


def test_known_error_in_one_patch_gives_its_mean():
    error = torch.zeros(2, 64, 64)
    error[0, 16:32, 32:48] = 0.8  # exactly one grid patch
    error[1, 0:8, 0:16] = 0.5  # half a patch
    scores = patch_scores(error, 16, shifted_grid=False)
    assert scores.tolist() == pytest.approx([0.8, 0.25], rel=1e-5)


def test_shifted_grid_catches_error_straddling_patch_borders():
    error = torch.zeros(1, 64, 64)
    error[0, 8:24, 8:24] = 1.0  # a 16x16 blob centred on a grid corner
    plain = patch_scores(error, 16, shifted_grid=False).item()
    shifted = patch_scores(error, 16, shifted_grid=True).item()
    assert plain == pytest.approx(0.25)
    assert shifted == pytest.approx(1.0)


def test_patch_larger_than_frame_is_an_error():
    with pytest.raises(DDLError, match="score.patch"):
        patch_scores(torch.zeros(1, 8, 8), 16, False)


def test_window_scores_of_known_reconstruction_error():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 200, size=(10, 32, 32, 1), dtype=np.uint8)
    model = MiddlePlusOffset(0.2, (0, 16, 0, 16))
    scores, maps = window_scores(model, frames, clip=3, patch=16, shifted_grid=False, batch_size=3,
                                 device=torch.device("cpu"), map_stride=4)
    assert scores.shape == (8,)
    assert np.allclose(scores, 0.2, atol=1e-6)
    assert maps.shape == (8, 8, 8)
    assert np.allclose(maps[:, :4, :4], 0.2, atol=1e-3) and np.all(maps[:, 4:, :] == 0)


def test_encoder_sharing_equals_plain_path():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, size=(11, 32, 32, 3), dtype=np.uint8)
    model = TinyEncodeDecode(3, 3).eval()
    kwargs = dict(clip=3, patch=8, shifted_grid=True, batch_size=4, device=torch.device("cpu"), map_stride=2)
    shared, shared_maps = window_scores(model, frames, share_encoder=True, **kwargs)
    plain, plain_maps = window_scores(model, frames, share_encoder=False, **kwargs)
    assert np.ptp(plain) > 0
    np.testing.assert_allclose(shared, plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(shared_maps.astype(np.float32), plain_maps.astype(np.float32), atol=2e-3)


@pytest.mark.parametrize("share", [True, False])
def test_padded_last_batch_gives_the_same_scores(share, monkeypatch):
    """With cuDNN autotuning on (as on a GPU), a video's short last batch is padded to the full batch: the
    scores and maps of the real windows are unchanged (9 windows in batches of 4: the last one padded by 3)."""
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 255, size=(11, 32, 32, 3), dtype=np.uint8)
    model = TinyEncodeDecode(3, 3).eval()
    kwargs = dict(clip=3, patch=8, shifted_grid=True, batch_size=4, device=torch.device("cpu"), map_stride=2,
                  share_encoder=share)
    plain, plain_maps = window_scores(model, frames, **kwargs)
    calls = []
    forward = TinyEncodeDecode.encode if share else TinyEncodeDecode.forward
    monkeypatch.setattr(TinyEncodeDecode, "encode" if share else "forward",
                        lambda self, x: calls.append(x.shape[0]) or forward(self, x))
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    padded, padded_maps = window_scores(model, frames, **kwargs)
    assert len(set(calls)) == 1 and len(calls) == 3  # one shape for all three batches
    np.testing.assert_allclose(padded, plain, rtol=1e-6)
    np.testing.assert_allclose(padded_maps.astype(np.float32), plain_maps.astype(np.float32), atol=1e-3)


def test_fill_border_nearest_and_drop():
    windows = np.array([1.0, 2.0, 3.0], np.float32)  # N = 7 frames, T = 5
    near, valid = fill_border(windows, 7, 5, "nearest")
    assert near.tolist() == [1, 1, 1, 2, 3, 3, 3] and valid.all()
    drop, valid = fill_border(windows, 7, 5, "drop")
    assert valid.tolist() == [False, False, True, True, True, False, False]
    assert drop[2:5].tolist() == [1, 2, 3] and np.isnan(drop[[0, 1, 5, 6]]).all()


def _store(path, frames, name):
    write_frame_store(path, iter(frames), len(frames), frames.shape[1], frames.shape[2], frames.shape[3],
                      {"source": name, "original_height": 32, "original_width": 32, "fps": 25, "video": name})


def _meta(**kw):
    meta = dict(arch="c3dsu", variant="ddl", frames=3, height=32, width=32, channels=1, dataset="synthetic", scene="s0")
    return {**meta, **kw}


def test_scores_file_layout_and_border_alignment(tmp_path):
    rng = np.random.default_rng(2)
    paths = []
    for name, n in (("v1", 9), ("v2", 5)):
        paths.append(tmp_path / f"{name}.h5")
        _store(paths[-1], rng.integers(0, 255, size=(n, 32, 32, 1), dtype=np.uint8), name)
    settings = {"score": {"border": "drop", "save_maps": True, "map_stride": 8}}
    cfg = ScoreSettings.from_config(load_config(None, json.dumps(settings)))
    out = tmp_path / "scores.h5"
    written = score_frame_stores(MiddlePlusOffset(0.1, (0, 4, 0, 4)), _meta(), paths, out, cfg, "m.pt")
    assert written == {"v1": 9, "v2": 5}
    attrs, videos = read_scores(out)
    assert attrs["arch"] == "c3dsu" and json.loads(attrs["settings"])["border"] == "drop"
    v2 = videos["v2"]
    assert v2["valid"].tolist() == [False, True, True, True, False]
    assert np.isnan(v2["score"][0]) and np.allclose(v2["score"][1:4], 0.1 * 16 / 256, atol=1e-6)
    assert videos["v1"]["maps"].shape == (9, 4, 4)


def test_scoring_refuses_wrong_size_and_short_video(tmp_path):
    rng = np.random.default_rng(3)
    cfg = ScoreSettings.from_config(load_config(None, None))
    wrong = tmp_path / "wrong.h5"
    _store(wrong, rng.integers(0, 255, size=(5, 16, 16, 1), dtype=np.uint8), "wrong")
    with pytest.raises(DDLError, match="wrong.h5: frames are"):
        score_frame_stores(MiddlePlusOffset(0.0, (0, 1, 0, 1)), _meta(), [wrong], tmp_path / "s.h5", cfg)
    short = tmp_path / "short.h5"
    _store(short, rng.integers(0, 255, size=(2, 32, 32, 1), dtype=np.uint8), "short")
    with pytest.raises(DDLError, match="fewer than the model's clip length"):
        score_frame_stores(MiddlePlusOffset(0.0, (0, 1, 0, 1)), _meta(), [short], tmp_path / "s.h5", cfg)
    assert not (tmp_path / "s.h5").exists()


def test_read_scores_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f.attrs["format_version"] = 7
    with pytest.raises(DDLError, match="not a version-1 scores file"):
        read_scores(bad)


@pytest.mark.parametrize("model_input", ["clip", "neighbours", "coarse_middle"])
def test_encoder_sharing_equals_plain_path_with_c3dsu(model_input):
    from ddlcore.model import build_model
    from ddlcore.model.settings import ModelSettings

    model_cfg = load_config(None, json.dumps({"model": {"widths": [4, 4, 8, 8], "input": model_input}}))["model"]
    model = build_model("c3dsu", ModelSettings.from_section(model_cfg), 1).eval()
    frames = np.random.default_rng(4).integers(0, 255, size=(9, 32, 32, 1), dtype=np.uint8)
    kwargs = dict(clip=3, patch=16, shifted_grid=False, batch_size=4, device=torch.device("cpu"))
    shared, _ = window_scores(model, frames, share_encoder=True, **kwargs)
    plain, _ = window_scores(model, frames, share_encoder=False, **kwargs)
    np.testing.assert_allclose(shared, plain, rtol=1e-4, atol=1e-6)


@pytest.fixture
def tiny_checkpoint(tmp_path):
    """A real (untrained) narrow C3DSU checkpoint for 32x32 gray frames."""
    from ddlcore.model import build_model, save_trained_model
    from ddlcore.model.settings import ModelSettings

    model_cfg = load_config(None, json.dumps({"model": {"widths": [4, 4, 8, 8]}}))["model"]
    meta = dict(arch="c3dsu", variant="ddl", channels=1, height=32, width=32, frames=3, model_cfg=model_cfg,
                dataset="synthetic", scene="s0")
    path = tmp_path / "m.pt"
    save_trained_model(path, build_model("c3dsu", ModelSettings.from_section(model_cfg), 1), meta, [0.5])
    return path


def test_cli_scores_frame_stores(tmp_path, tiny_checkpoint):
    from ddlcore.cli.main import main

    store = tmp_path / "v.h5"
    _store(store, np.random.default_rng(5).integers(0, 255, size=(6, 32, 32, 1), dtype=np.uint8), "v")
    out = tmp_path / "s.h5"
    assert main(["score", "--model", str(tiny_checkpoint), "--frames", str(store), "--out", str(out)]) == 0
    attrs, videos = read_scores(out)
    assert attrs["scene"] == "s0" and videos["v"]["score"].shape == (6,) and videos["v"]["valid"].all()
    assert videos["v"]["score"][0] == videos["v"]["score"][1]  # nearest border


def test_footage_csv_and_overlay_from_colour_video(tmp_path, tiny_checkpoint):
    import cv2
    import pandas as pd

    from ddlcore.cli.main import main

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (48, 40))
    rng = np.random.default_rng(6)
    for _ in range(7):
        writer.write(rng.integers(0, 255, size=(40, 48, 3), dtype=np.uint8))
    writer.release()
    csv, overlay = tmp_path / "scores.csv", tmp_path / "overlay.avi"
    assert main(["score", "--model", str(tiny_checkpoint), str(video), "--out-csv", str(csv),
                 "--overlay", str(overlay)]) == 0
    table = pd.read_csv(csv)
    assert table.columns.tolist() == ["frame", "score", "normalised", "smoothed"] and len(table) == 7
    assert table["normalised"].min() == 0.0 and table["normalised"].max() == 1.0
    cap = cv2.VideoCapture(str(overlay))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 7
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (40 + 64, 48, 3)


def test_footage_from_frame_folder_and_errors(tmp_path, tiny_checkpoint, capsys):
    import cv2
    import pandas as pd

    from ddlcore.cli.main import main

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(5):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((64, 64), 20 * i, np.uint8))
    csv = tmp_path / "f.csv"
    assert main(["score", "--model", str(tiny_checkpoint), str(folder), "--out-csv", str(csv),
                 "--settings", json.dumps({"score": {"border": "drop"}})]) == 0
    table = pd.read_csv(csv)
    assert len(table) == 5 and table["score"].isna().tolist() == [True, False, False, False, True]
    not_model = tmp_path / "x.pt"
    not_model.write_text("hello")
    assert main(["score", "--model", str(not_model), str(folder)]) == 1
    assert "error:" in capsys.readouterr().err
    assert main(["score", "--model", str(tiny_checkpoint), str(tmp_path / "missing.avi")]) == 1
    err = capsys.readouterr().err
    assert "missing.avi" in err and len(err.strip().splitlines()) == 1


class _Blank(torch.nn.Module):
    """Reconstructs every frame as black: the error map is the frame itself."""

    frames = 3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x[:, :, 0])


def test_video_median_background_removes_a_static_hot_spot():
    frames = np.zeros((12, 32, 32, 1), np.uint8)
    frames[:, :8, :8] = 250  # a static hot spot in every frame
    for t in (5, 6, 7):  # a dimmer object passing in three frames
        frames[t, 16:24, 4 * t - 8 : 4 * t] = 150
    args = (_Blank(), frames, 3, 8, False, 4, torch.device("cpu"), False)
    raw, _ = window_scores(*args)
    flat, _ = window_scores(*args, background="video_median")
    assert np.ptp(raw) == 0  # the hot spot wins in every frame: nothing is ranked
    object_windows = [t - 1 for t in (5, 6, 7)]  # window j reconstructs frame j + 1
    others = [j for j in range(len(flat)) if j not in object_windows]
    assert flat[object_windows].min() > 0 and flat[others].max() == 0
