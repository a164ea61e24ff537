"""Tests of the synthetic benchmark generator (ddlcore.data.synthetic and its helpers)."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from ddlcore.cli.main import main as ddl_main
from ddlcore.config import load_config
from ddlcore.data.settings import SyntheticSettings
from ddlcore.data.synthetic import SyntheticDataset, check_settings, generate, planned_videos, render_video
from ddlcore.data.synthetic.motion import anomalous_agents, in_view, make_agent, normal_agents
from ddlcore.data.synthetic.scene import make_scene
from ddlcore.errors import DDLError

TINY = {"scenes": 2, "train_videos": 1, "test_videos": 2, "frames": 32, "height": 48, "width": 64}


def tiny_config(**overrides: object) -> SyntheticSettings:
    """The synthetic section of a full default config with the tiny sizes (and ``overrides``)."""
    return SyntheticSettings.from_config(load_config(None, json.dumps({"synthetic": {**TINY, **overrides}})))


def video_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every dataset of one video file, by HDF5 path."""
    arrays: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return arrays


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    generate(tiny_config(), root)
    return root


@pytest.fixture(scope="module")
def dataset(dataset_root: Path) -> SyntheticDataset:
    return SyntheticDataset(dataset_root)


def test_same_seed_gives_identical_data_and_other_seed_differs(dataset_root: Path, tmp_path: Path) -> None:
    generate(tiny_config(), tmp_path / "again")
    generate(tiny_config(seed=1), tmp_path / "other")
    for video in planned_videos(tiny_config(), "test"):
        first = video_arrays(dataset_root / "test" / f"{video.name}.h5")
        again = video_arrays(tmp_path / "again" / "test" / f"{video.name}.h5")
        other = video_arrays(tmp_path / "other" / "test" / f"{video.name}.h5")
        assert sorted(first) == sorted(again)
        for key in ("frames", "labels", "masks", "boxes/box", "boxes/ident", "boxes/frame"):
            assert first[key].tobytes() == again[key].tobytes(), key
        assert first["frames"].tobytes() != other["frames"].tobytes()
        assert first["boxes/box"].tobytes() != other["boxes/box"].tobytes()
    manifests = [json.loads((p / "manifest.json").read_text()) for p in (dataset_root, tmp_path / "again", tmp_path / "other")]
    assert manifests[0]["fingerprint"] == manifests[1]["fingerprint"] != manifests[2]["fingerprint"]


def test_planned_videos_equal_generated(dataset: SyntheticDataset, dataset_root: Path) -> None:
    cfg = tiny_config()
    for split in ("train", "test"):
        planned = planned_videos(cfg, split, dataset_root)
        assert dataset.videos(split) == planned
        assert len(planned) == cfg.scenes * getattr(cfg, f"{split}_videos")
        assert sorted(p.name for p in (dataset_root / split).glob("*.h5")) == sorted(f"{v.name}.h5" for v in planned)
    assert dataset.scenes("test") == ["01", "02"]
    assert planned_videos(cfg, "test")[1].source == Path("test/01_002.h5")


def test_frames_and_info_agree(dataset: SyntheticDataset) -> None:
    video = dataset.videos("test")[0]
    info = dataset.info(video)
    frames = list(dataset.read_frames(video))
    assert (info.n_frames, info.height, info.width) == (32, 48, 64)
    assert len(frames) == 32 and frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8
    assert not np.array_equal(frames[0], frames[1])  # motion and noise change every frame


def test_training_videos_have_no_anomalies(dataset: SyntheticDataset) -> None:
    for video in dataset.videos("train"):
        assert dataset.frame_labels(video) is None and dataset.pixel_masks(video) is None
        assert dataset.anomalous_ids(video) == set()
        assert len(dataset.true_boxes(video)) > 0
        with h5py.File(video.source, "r") as f:
            assert not f["boxes/anomalous"][:].any()
            assert set(np.unique(f["boxes/kind"][:])) == {0}  # pedestrians only


def test_labels_masks_and_boxes_agree(dataset: SyntheticDataset) -> None:
    abnormal = normal = 0
    for video in dataset.videos("test"):
        labels = dataset.frame_labels(video)
        masks = np.array(list(dataset.pixel_masks(video)))
        boxes = dataset.true_boxes(video)
        anomalous = dataset.anomalous_ids(video)
        assert anomalous, "every test video has an anomaly"
        assert np.array_equal(labels, masks.reshape(len(masks), -1).any(axis=1))
        for t in range(boxes.n_frames):
            rows = boxes.rows_of_frame(t)
            flagged = [b for b, i in zip(boxes.box[rows], boxes.ident[rows]) if i in anomalous]
            assert bool(labels[t]) == bool(flagged)
            inside = np.zeros(masks[t].shape, bool)
            for x0, y0, x1, y1 in np.asarray(flagged, int):
                assert masks[t, y0:y1, x0:x1].any()  # each visible anomalous object has mask pixels
                inside[y0:y1, x0:x1] = True
            assert not (masks[t] & ~inside).any()  # mask pixels lie in anomalous objects' boxes
        abnormal += int(labels.sum())
        normal += int((labels == 0).sum())
    assert abnormal > 0 and normal > 0


def test_boxes_inside_frame_and_ids_stable(dataset: SyntheticDataset) -> None:
    for split in ("train", "test"):
        for video in dataset.videos(split):
            boxes = dataset.true_boxes(video)
            with h5py.File(video.source, "r") as f:
                kinds, flags = f["boxes/kind"][:], f["boxes/anomalous"][:]
            x0, y0, x1, y1 = boxes.box.T
            assert (x0 >= 0).all() and (y0 >= 0).all() and (x1 <= boxes.width).all() and (y1 <= boxes.height).all()
            assert (x1 > x0).all() and (y1 > y0).all()
            assert ((boxes.score > 0) & (boxes.score <= 1)).all()
            assert boxes.kind == "truth"
            ids = np.unique(boxes.ident)
            assert ids.tolist() == list(range(1, len(ids) + 1))
            first = [boxes.frame[boxes.ident == i].min() for i in ids]
            assert first == sorted(first)  # numbered by first appearance
            for i in ids:
                rows = np.flatnonzero(boxes.ident == i)
                assert len(np.unique(boxes.frame[rows])) == len(rows)  # at most once per frame
                assert len(np.unique(kinds[rows])) == 1 and len(np.unique(flags[rows])) == 1
                centres = (boxes.box[rows, :2] + boxes.box[rows, 2:]) / 2
                size = np.maximum(x1[rows] - x0[rows], y1[rows] - y0[rows])
                step = np.diff(boxes.frame[rows]) == 1
                jump = np.hypot(*np.diff(centres, axis=0).T)[step]
                assert (jump <= size[1:][step] + 4).all(), f"{video.name} object {i} jumps"


def _render_without(cfg: SyntheticSettings, seed: int, drop_anomalies: bool):
    """Render one test-like video of a fresh scene, optionally without its anomalous agents."""
    rng = np.random.default_rng(seed)
    scene = make_scene(cfg, rng)
    agents = normal_agents(scene, cfg, cfg.frames, rng) + anomalous_agents(scene, cfg, cfg.frames, rng)
    kept = [a for a in agents if not (drop_anomalies and a.anomalous)]
    return render_video(scene, kept, cfg, np.random.default_rng(0)), agents


@pytest.mark.parametrize("sharp", [True, False])
def test_masks_cover_exactly_the_visible_anomalous_pixels(sharp: bool) -> None:
    """The pixels an anomalous object changes are its mask: exactly for hard-edged drawing without
    motion blur; with anti-aliasing and blur, every mask pixel is changed by the object."""
    extra = {"supersample": 1, "exposure": 0.0} if sharp else {}
    cfg = tiny_config(noise_std=0.0, flicker=0.0, frames=24, **extra)
    with_all, agents = _render_without(cfg, 3, drop_anomalies=False)
    without, _ = _render_without(cfg, 3, drop_anomalies=True)
    assert any(a.anomalous for a in agents) and any(not a.anomalous for a in agents)
    changed = (with_all.frames != without.frames).any(axis=3)
    assert changed.any()
    if sharp:
        assert np.array_equal(changed, with_all.masks.astype(bool))
    else:
        assert not (with_all.masks.astype(bool) & ~changed).any()
    assert np.array_equal(with_all.labels, with_all.masks.reshape(len(with_all.masks), -1).any(axis=1))
    assert not without.masks.any() and not without.labels.any()


def _box_features(cfg: SyntheticSettings, kind: str, seed: int) -> list[tuple[float, float, float]]:
    """Per object of ``kind`` rendered alone-ish in a fresh scene: median speed in box heights per
    frame, median width / height, median turning angle (degrees) between frame steps."""
    rng = np.random.default_rng(seed)
    scene = make_scene(cfg, rng)
    n = cfg.frames
    agents = []
    while len(agents) < 6:
        agent = make_agent(kind, kind != "pedestrian", scene, cfg, float(rng.uniform(-4 * n, 0)), n, rng)
        if in_view(agent, scene.camera)[1:-1].sum() >= n // 2:
            agents.append(agent)
    cols = render_video(scene, agents, cfg, rng).box_columns
    features = []
    for i in np.unique(cols["ident"]):
        rows = np.flatnonzero((cols["ident"] == i) & (cols["visible"] >= 0.9))
        box = cols["box"][rows]
        step = np.flatnonzero(np.diff(cols["frame"][rows]) == 1)
        if len(step) < 4:
            continue
        height = box[:, 3] - box[:, 1]
        moves = np.diff((box[:, :2] + box[:, 2:]) / 2, axis=0)[step]
        heading = np.arctan2(moves[:, 1], moves[:, 0])
        turn = np.degrees(np.abs(np.angle(np.exp(1j * np.diff(heading)))))
        features.append((float(np.median(np.hypot(*moves.T) / height[step])),
                         float(np.median((box[:, 2] - box[:, 0]) / height)), float(np.median(turn))))
    return features


def test_anomalies_differ_from_pedestrians_as_designed() -> None:
    cfg = tiny_config(frames=24, height=96, width=128, noise_std=0.0, pedestrian_rate=0.0)
    normal = np.array(_box_features(cfg, "pedestrian", 1))
    assert len(normal) >= 4
    speed_hi, aspect_hi = np.max(normal[:, 0]), np.max(normal[:, 1])
    for kind in ("runner", "cyclist"):
        fast = np.array(_box_features(cfg, kind, 2))
        assert len(fast) >= 3 and np.median(fast[:, 0]) > 1.5 * speed_hi, kind
    carts = np.array(_box_features(cfg, "cart", 3))
    assert len(carts) >= 3 and np.median(carts[:, 1]) > 1.5 * aspect_hi
    erratic = np.array(_box_features(cfg, "erratic", 4))
    assert len(erratic) >= 3 and np.median(erratic[:, 2]) > np.median(normal[:, 2]) + 20


def test_abnormal_fraction_lies_in_configured_range(dataset_root: Path) -> None:
    manifest = json.loads((dataset_root / "manifest.json").read_text())
    lo, hi = tiny_config().abnormal_fraction
    test = [v for v in manifest["videos"] if v["split"] == "test"]
    fraction = sum(v["abnormal_frames"] for v in test) / sum(v["n_frames"] for v in test)
    assert lo - 0.1 <= fraction <= hi + 0.1
    assert all(v["anomalous_objects"] >= 1 for v in test)


def test_missing_or_partial_dataset_is_a_clear_error(tmp_path: Path, dataset_root: Path) -> None:
    with pytest.raises(DDLError, match="ddl synthesize"):
        SyntheticDataset(tmp_path / "nowhere")
    (tmp_path / "manifest.json").write_text(json.dumps(json.loads((dataset_root / "manifest.json").read_text())))
    partial = SyntheticDataset(tmp_path)
    with pytest.raises(DDLError, match="01_001.h5"):
        list(partial.read_frames(partial.videos("train")[0]))


def test_unordered_range_is_rejected() -> None:
    with pytest.raises(DDLError, match="synthetic.walk_speed"):
        check_settings(tiny_config(walk_speed=[2.0, 1.0]))
    with pytest.raises(DDLError, match="synthetic.anomaly_speed.cart"):
        check_settings(tiny_config(anomaly_speed={"cart": [3.0, 1.0]}))


def test_cli_writes_manifest_last_over_complete_dataset(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "raw"
    settings = json.dumps({"synthetic": {**TINY, "scenes": 1, "test_videos": 1}})
    assert ddl_main(["synthesize", "--settings", settings, "--out", str(out)]) == 0
    assert "abnormal test frames" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(v["split"], v["name"]) for v in manifest["videos"]] == [("train", "01_001"), ("test", "01_001")]
    assert all((out / v["file"]).is_file() for v in manifest["videos"])
    assert manifest["seed"] == 0 and manifest["fps"] == 10.0
    assert not list(out.rglob(".*tmp*"))
