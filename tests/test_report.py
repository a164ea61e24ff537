"""Aggregation: AUC / ablation / scene / event tables from hand-made scores files, scenes without labelled test
clips in them, figures, qualitative panel."""

from __future__ import annotations

import hashlib
import json
import re

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from ddlcore.evaluate.event_table import event_tables
from ddlcore.cli.main import main
from ddlcore.data.boxes_io import BoxTable
from ddlcore.config import load_config
from ddlcore.data.framestore import write_frame_store
from ddlcore.errors import DDLError
from ddlcore.evaluate.figures import qualitative_figure, qualitative_rows, read_training_log, runs_of_ones
from ddlcore.track.mask_cache import write_mask_cache
from ddlcore.evaluate.metrics import evaluate
from ddlcore.evaluate.aggregate import aggregate
from ddlcore.evaluate.settings import MetricsSettings
from ddlcore.train.settings import TrainSettings

torch.set_num_threads(1)
METRICS = MetricsSettings.from_section({**load_config()["metrics"], "normalise": True, "median_window": 1,
                                        "pixel_threshold": 0.5})

# video -> (scene, labels)
LABELS = {
    "v1": ("s1", [0, 0, 0, 1, 1, 1, 0, 0]),
    "v2": ("s1", [0, 1, 1, 0, 0, 0]),
    "v3": ("s2", [0, 0, 1, 1, 0, 0, 0]),
    "v4": ("s2", [0, 0, 0, 0, 0]),  # one class
}


def write_labels(path, dataset, videos):
    with h5py.File(path, "w") as f:
        f.attrs.update(format_version=1, dataset=dataset, label_variant="official")
        for name, (scene, labels) in videos.items():
            g = f.create_group(f"videos/{name}")
            g.attrs["scene"] = scene
            g.create_dataset("labels", data=np.array(labels, np.uint8))


def write_scores(path, dataset, arch, variant, scene, scores, border="nearest", seed=0):
    settings = {"patch": 16, "shifted_grid": False, "border": border}
    with h5py.File(path, "w") as f:
        f.attrs.update(format_version=1, model="m.pt", arch=arch, variant=variant, dataset=dataset, scene=scene,
                       seed=seed, settings=json.dumps(settings))
        for name, s in scores.items():
            g = f.create_group(f"videos/{name}")
            g.create_dataset("score", data=np.asarray(s, np.float32))
            g.create_dataset("valid", data=np.ones(len(s), bool))


def make_run(tmp_path, dataset, videos, arch, variant, seed):
    """Scores files (one per scene) for ``videos``: random scores, the abnormal frames lifted."""
    rng = np.random.default_rng(seed)
    files, all_scores = [], {}
    for scene in sorted({s for s, _ in videos.values()}):
        scores = {n: rng.random(len(lab)) + 0.5 * np.array(lab) for n, (s, lab) in videos.items() if s == scene}
        path = tmp_path / f"{dataset}-{scene}-{arch}-{variant}.h5"
        write_scores(path, dataset, arch, variant, scene, scores)
        files.append(path)
        all_scores.update(scores)
    return files, all_scores


def normalised(s):
    s = np.asarray(s, np.float64)
    return (s - s.min()) / (s.max() - s.min())


def test_tables_from_hand_made_scores(tmp_path):
    single = {n: ("all", lab) for n, (_, lab) in LABELS.items()}
    write_labels(tmp_path / "ped2.h5", "ped2", single)
    write_labels(tmp_path / "shanghaitech.h5", "shanghaitech", LABELS)
    ped_ddl, ped_scores = make_run(tmp_path, "ped2", single, "c3dsu", "ddl", 0)
    ped_none, _ = make_run(tmp_path, "ped2", single, "c3dsu", "none", 1)
    sht_ddl, sht_scores = make_run(tmp_path, "shanghaitech", LABELS, "c3dsu", "ddl", 2)
    md = aggregate([tmp_path / "ped2.h5", tmp_path / "shanghaitech.h5"], ped_ddl + ped_none + sht_ddl, METRICS,
                   tmp_path / "tables", metrics_out=tmp_path / "all.json")

    auc = pd.concat([pd.read_csv(tmp_path / "tables" / f"auc-{d}.csv") for d in ("ped2", "shanghaitech")])
    assert len(auc) == 3
    row = auc[(auc.dataset == "ped2") & (auc.model == "c3dsu-ddl")].iloc[0]
    labels = np.concatenate([LABELS[n][1] for n in LABELS])
    expected = roc_auc_score(labels, np.concatenate([normalised(ped_scores[n]) for n in LABELS]))
    assert row.micro_auc == pytest.approx(round(100 * expected, 2))
    assert row.paper_auc == 98.46 and row.macro_left_out == 1 and row.border == "nearest"
    assert np.isnan(row.scene_median_auc)

    sht = auc[auc.dataset == "shanghaitech"].iloc[0]
    s1 = roc_auc_score(np.concatenate([LABELS["v1"][1], LABELS["v2"][1]]),
                       np.concatenate([normalised(sht_scores["v1"]), normalised(sht_scores["v2"])]))
    s2 = roc_auc_score(np.concatenate([LABELS["v3"][1], LABELS["v4"][1]]),
                       np.concatenate([normalised(sht_scores["v3"]), normalised(sht_scores["v4"])]))
    assert sht.scene_median_auc == pytest.approx(round(100 * (s1 + s2) / 2, 2))
    assert sht.paper_auc == 74.25
    assert "| ped2 " in md and "98.46" in md and "median window 1, border nearest, patch 16" in md
    per_dataset = [(tmp_path / "tables" / f"auc-{d}.md").read_text() for d in ("ped2", "shanghaitech")]
    assert "shanghaitech" not in per_dataset[0] and md.startswith(per_dataset[0].split("\n\n")[0])

    ablation = pd.read_csv(tmp_path / "tables" / "ablation-ped2.csv")
    cells = {(r.arch, r.variant): r for r in ablation.itertuples()}
    assert len(ablation) == 6
    assert cells[("c3dsu", "ddl")].auc == row.micro_auc and cells[("c3dsu", "sdl")].paper_auc == 97.12
    assert np.isnan(cells[("unet", "ddl")].auc) and cells[("unet", "none")].paper_auc == 86.90
    ablation_md = (tmp_path / "tables" / "ablation-ped2.md").read_text()
    assert f"{row.micro_auc:.2f} (1) / 98.46" in ablation_md and "– / 97.76" in ablation_md

    scenes = pd.read_csv(tmp_path / "tables" / "scenes-shanghaitech.csv")
    assert scenes["scene"].tolist() == ["s1", "s2"]
    assert scenes["c3dsu-ddl"].tolist() == pytest.approx([round(100 * s1, 2), round(100 * s2, 2)])
    assert not (tmp_path / "tables" / "scenes-ped2.csv").exists()
    assert len(json.loads((tmp_path / "all.json").read_text())["results"]) == 3


def test_evaluate_checks_alignment(tmp_path):
    write_labels(tmp_path / "l.h5", "ped2", {"v1": ("all", [0, 1, 1]), "v2": ("all", [0, 1])})
    write_scores(tmp_path / "short.h5", "ped2", "c3dsu", "ddl", "all", {"v1": [0.1, 0.2], "v2": [0.1, 0.2]})
    with pytest.raises(DDLError, match="video 'v1' has 2 scores but 3 labels"):
        evaluate(tmp_path / "l.h5", [tmp_path / "short.h5"], METRICS)
    write_scores(tmp_path / "part.h5", "ped2", "c3dsu", "ddl", "all", {"v1": [0.1, 0.2, 0.3]})
    with pytest.raises(DDLError, match="v2 of the scored scenes have no scores"):
        evaluate(tmp_path / "l.h5", [tmp_path / "part.h5"], METRICS)
    write_scores(tmp_path / "other.h5", "ped2", "unet", "ddl", "all", {"v2": [0.1, 0.2]})
    with pytest.raises(DDLError, match="arch 'unet' differs"):
        evaluate(tmp_path / "l.h5", [tmp_path / "part.h5", tmp_path / "other.h5"], METRICS)


def test_figures_written(tmp_path):
    write_labels(tmp_path / "l.h5", "synthetic", LABELS)
    files, _ = make_run(tmp_path, "synthetic", LABELS, "c3dsu", "ddl", 3)
    logs = []
    for scene in ("s1", "s2"):
        path = tmp_path / "models" / "synthetic" / scene / "c3dsu-ddl.csv"
        path.parent.mkdir(parents=True)
        pd.DataFrame({"epoch": [0, 0, 1], "step": [1, 2, 3], "sigma": [0.5, 0.6, 0.55]}).to_csv(path, index=False)
        logs.append(path)
    aggregate([tmp_path / "l.h5"], files, METRICS, tmp_path / "tables", tmp_path / "fig", logs)
    pngs = sorted(p.name for p in (tmp_path / "fig").glob("*.png"))
    assert pngs == ["seeds-synthetic.png", "sigma-synthetic-c3dsu-ddl.png"] + \
        [f"synthetic-c3dsu-ddl-{v}.png" for v in sorted(LABELS)]
    assert (tmp_path / "fig" / "synthetic-c3dsu-ddl-v1.png").read_bytes()[:4] == b"\x89PNG"


def test_training_log_x_axis_and_runs(tmp_path):
    path = tmp_path / "log.csv"
    pd.DataFrame({"epoch": [0, 0, 1, 1], "step": [0, 1, 0, 1], "sigma": [0.5] * 4}).to_csv(path, index=False)
    assert read_training_log(path)["x"].tolist() == [0, 1, 2, 3]  # per-epoch step counter -> row number
    assert runs_of_ones(np.array([1, 1, 0, 0, 1, 0, 1])) == [(0, 2), (4, 5), (6, 7)]


class Identity(torch.nn.Module):
    def forward(self, x):
        return x[:, :, x.shape[2] // 2]


def test_qualitative_rows_identity_model():
    clips = torch.rand(2, 1, 3, 16, 16)
    masks = torch.zeros(2, 1, 3, 16, 16)
    masks[:, :, :, 4:8, 4:10] = 1
    rows = qualitative_rows(Identity(), clips, masks, sigma=0.7, seed=0)
    r = rows[0]
    assert np.all(r["err_x"] == 0) and np.all(r["err_x_a"] == 0)  # identity reconstructs what it is given
    outside = np.ones((16, 16), bool)
    outside[4:8, 4:10] = False
    assert np.all(r["err_x_fxa"][outside] == 0) and np.all(r["err_x_fxa"][~outside] > 0)
    np.testing.assert_allclose(r["x_a"][outside], r["x"][outside])


def test_qualitative_figure_from_files(tmp_path):
    from ddlcore.model import build_model, save_trained_model
    from ddlcore.model.settings import ModelSettings

    cfg = load_config(None, json.dumps({"model": {"widths": [4, 4, 8, 8]}}))
    model = build_model("c3dsu", ModelSettings.from_config(cfg), 1)
    meta = dict(arch="c3dsu", variant="ddl", channels=1, height=32, width=32, frames=3, model_cfg=cfg["model"],
                dataset="synthetic", scene="s1")
    save_trained_model(tmp_path / "m.pt", model, meta, [0.5, 0.42])
    frames = np.random.default_rng(0).integers(0, 255, size=(8, 32, 32, 1), dtype=np.uint8)
    write_frame_store(tmp_path / "f.h5", iter(frames), 8, 32, 32, 1,
                      {"source": "x", "original_height": 32, "original_width": 32, "fps": 25})
    boxes = np.array([[4, 4, 12, 14]] * 8, np.float32)
    tracks = BoxTable(frame=np.arange(8, dtype=np.int32), box=boxes, score=np.ones(8, np.float32),
                      ident=np.ones(8, np.int32), n_frames=8, height=32, width=32, kind="tracks")
    write_mask_cache(tmp_path / "c.h5", tracks, 3)
    n = qualitative_figure(tmp_path / "m.pt", tmp_path / "f.h5", tmp_path / "c.h5", tmp_path / "q.png", TrainSettings.from_config(cfg), 3)
    assert n == 3 and (tmp_path / "q.png").read_bytes()[:4] == b"\x89PNG"

    # a video without any tracked window still gets its panel, on a centred box
    write_mask_cache(tmp_path / "empty.h5", BoxTable.empty(8, 32, 32, "tracks"), 3)
    n = qualitative_figure(tmp_path / "m.pt", tmp_path / "f.h5", tmp_path / "empty.h5", tmp_path / "e.png",
                           TrainSettings.from_config(cfg), 3)
    assert n == 3 and (tmp_path / "e.png").stat().st_size > 1000


def test_pixel_auc_from_files(tmp_path):
    masks = np.zeros((3, 8, 8), np.uint8)
    masks[1:, :4, :4] = 1  # top-left cell of frames 1 and 2
    maps = np.full((3, 2, 2), 0.1, np.float16)
    maps[1:, 0, 0] = 0.9
    maps[2, 1, 1] = 0.95  # a false alarm outranking one true cell
    write_labels(tmp_path / "l.h5", "avenue", {"v": ("all", [0, 1, 1])})
    with h5py.File(tmp_path / "l.h5", "a") as f:
        f["videos/v"].create_dataset("masks", data=masks)
    write_scores(tmp_path / "s.h5", "avenue", "c3dsu", "ddl", "all", {"v": [0.1, 0.5, 0.6]})
    with h5py.File(tmp_path / "s.h5", "a") as f:
        f["videos/v"].create_dataset("maps", data=maps)
    result = evaluate(tmp_path / "l.h5", [tmp_path / "s.h5"], METRICS)
    cell_labels = np.zeros((3, 2, 2), int)
    cell_labels[1:, 0, 0] = 1
    assert result["pixel_videos"] == 1
    assert result["pixel_auc"] == pytest.approx(roc_auc_score(cell_labels.ravel(), maps.astype(np.float32).ravel()))
    assert result["label_variant"] == "official" and result["model"] == "c3dsu-ddl"


def test_tables_record_commit_and_config_and_the_summary_lists_the_datasets_given(tmp_path):
    from ddlcore.evaluate.provenance import provenance
    from ddlcore.evaluate.summary import summarise

    cfg = load_config(None, None)
    origin = provenance(cfg)
    for dataset, scores in (("avenue", [0.9, 0.2, 0.8, 0.1]), ("ped2", [0.1, 0.2, 0.8, 0.9])):
        write_labels(tmp_path / f"{dataset}.h5", dataset, {"v": ("all", [0, 0, 1, 1])})
        write_scores(tmp_path / f"s-{dataset}.h5", dataset, "c3dsu", "ddl", "all", {"v": scores})
        aggregate([tmp_path / f"{dataset}.h5"], [tmp_path / f"s-{dataset}.h5"], MetricsSettings.from_config(cfg),
                  tmp_path / "tables", metrics_out=tmp_path / "metrics" / f"{dataset}.json", origin=origin)
    assert set(pd.read_csv(tmp_path / "tables" / "auc-ped2.csv")["dataset"]) == {"ped2"}  # one dataset per table
    summary = summarise([tmp_path / "metrics" / "avenue.json", tmp_path / "metrics" / "ped2.json"], tmp_path / "tables",
                        origin)
    auc = pd.read_csv(tmp_path / "tables" / "auc.csv")
    assert set(auc["dataset"]) == {"ped2", "avenue"} and "| avenue " in summary  # only the files given
    assert set(auc["commit"]) == {origin["commit"]} and set(auc["config"]) == {origin["config_fingerprint"]}
    assert f"config {origin['config_fingerprint']}" in (tmp_path / "tables" / "ablation-ped2.md").read_text()
    stored = json.loads((tmp_path / "metrics" / "ped2.json").read_text())
    assert stored["provenance"]["config"] == cfg and [r["dataset"] for r in stored["results"]] == ["ped2"]


def write_live(path, dataset, scene, videos):
    """A live scores file of c3dsu-ddl for ``videos`` {name: (scene, labels)} of one scene: scores lifted on
    abnormal frames, an event over each abnormal run and a false alarm on each all-normal video."""
    rng = np.random.default_rng(5)
    write_scores(path, dataset, "c3dsu", "ddl", scene,
                 {n: np.array(lab) + 0.1 * rng.random(len(lab)) for n, (_, lab) in videos.items()})
    with h5py.File(path, "a") as f:
        f.attrs.update(threshold=0.5, latency_frames=1, fps=10.0)
        for name, (_, lab) in videos.items():
            runs = [[a, b - 1, a, a, 1.0, 0, 0, 8, 8] for a, b in runs_of_ones(np.array(lab))]
            f[f"videos/{name}"].create_dataset("events", data=np.array(runs or [[1, 2, 1, 2, 0.9, 0, 0, 8, 8]], float))
            f[f"videos/{name}"].create_dataset("boxes", data=np.zeros((len(lab), 4), np.int32))
    return path


def table_inputs(tmp_path, videos):
    """Labels of dataset ``cameras`` for ``videos``, scores files of c3dsu-ddl and c3dsu-none, live scores files
    of c3dsu-ddl: (labels, scores, live)."""
    write_labels(tmp_path / "labels.h5", "cameras", videos)
    ddl, _ = make_run(tmp_path, "cameras", videos, "c3dsu", "ddl", 0)
    none, _ = make_run(tmp_path, "cameras", videos, "c3dsu", "none", 1)
    scenes = sorted({s for s, _ in videos.values()})
    live = [write_live(tmp_path / f"live-{s}.h5", "cameras", s, {n: v for n, v in videos.items() if v[0] == s})
            for s in scenes]
    return tmp_path / "labels.h5", ddl + none, live


#: sha256 of every table the code before --unlabelled-scenes (commit 0de38f0) wrote for LABELS (table_inputs); the
#: event tables' since their detections count only events starting after an anomaly's onset (issue 37)
TABLES_BEFORE = {
    "ablation-cameras.csv": "b5b309c393372036a82191823095c93817da701b540e7c436cab6cb0eeafa9e6",
    "ablation-cameras.md": "0d66d6a097ea0efd4ef9d2d0f96fe1647c963224f7888e75ca8b3e739b7058b2",
    "auc-cameras.csv": "cbbb370bac07b4507ad135e82b598c37ded6a834c9e462313fdc38835fcc8993",
    "auc-cameras.md": "03ee5ae19ba0683b23e0b20d7c0cc9c550bf11d25e83347b3e62ac8c095ff405",
    "events-cameras.csv": "d41288abc60ccd4f365851de748577fa951eb9ae22ef0ef48679add6c5d867e0",
    "events-cameras.md": "ed18bcb5d3c02e523b200a7e221fb792c28d627d0653e46b29ef9d6bcb59d845",
    "scenes-cameras.csv": "ab2c51b2252516e84cc970552991dc47abaf659b6d83f362b42380606d41ad29",
    "scenes-cameras.md": "be0fb0489f4dad4e366021af5715d9dac849fb7dead72318fd1dd174902fb72a",
    "seeds-cameras.csv": "7208bb6baf7953b022c8ac997cbdae93df16f176e2c20eb1c5a5926210e0f711",
    "seeds-cameras.md": "7bc7c32c5d3c01931e218fd6dabc706834e853d74cf11fb4661a344f900114fa",
    "verdict-cameras.csv": "25bf466c18d9ffba960f2ebc666fdb7186ad217da2d25b47088001df7ca533cd",
    "verdict-cameras.md": "fd3fa21d477f8a0e8efa5a153148e5537f224b9a60c64e4fb8d9bba6cb82d3a6",
}


def test_without_unlabelled_scenes_every_table_is_as_before(tmp_path):
    labels, scores, live = table_inputs(tmp_path, LABELS)
    tables = tmp_path / "tables"
    aggregate([labels], scores, METRICS, tables)
    event_tables(labels, live, tables)
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(tables.iterdir())} == TABLES_BEFORE


def note_under_the_table(md: str) -> int:
    """The line index of the unlabelled scenes' note in ``md``, checked to follow the table and to come once."""
    lines = md.splitlines()
    note = [i for i, line in enumerate(lines) if line.startswith("No labelled test clips")]
    assert len(note) == 1 and lines[note[0]] == "No labelled test clips (not in these figures): door, yard", md
    table_rows = [i for i, line in enumerate(lines) if line.startswith("|")]
    assert table_rows and note[0] > table_rows[-1] and lines[note[0] - 1] == ""
    return note[0]


def test_unlabelled_scenes_are_rows_of_the_scene_table_and_named_under_the_auc_and_event_tables(tmp_path, capsys):
    one_scene = {n: v for n, v in LABELS.items() if v[0] == "s1"}
    labels, scores, live = table_inputs(tmp_path, one_scene)
    tables = tmp_path / "tables"
    given = ["--labels", str(labels), "--tables-dir", str(tables), "--unlabelled-scenes", "yard", "door"]
    assert main(["aggregate", "--scores", *map(str, scores), *given]) == 0
    assert main(["events", "--scores", *map(str, live), *given]) == 0
    assert capsys.readouterr().out.count("No labelled test clips (not in these figures): door, yard") == 2

    auc = pd.read_csv(tables / "auc-cameras.csv")
    scenes = pd.read_csv(tables / "scenes-cameras.csv")  # written for one labelled scene, for the unlabelled ones
    assert scenes["scene"].tolist() == ["s1", "door", "yard"] and scenes["labelled"].tolist() == [True, False, False]
    for model in ("c3dsu-ddl", "c3dsu-none"):
        micro = auc.set_index("model").loc[model, "micro_auc"]
        assert scenes[model].iloc[0] == pytest.approx(micro) and scenes[model].iloc[1:].isna().all()
    scenes_md = (tables / "scenes-cameras.md").read_text()
    for scene in ("door", "yard"):
        assert re.search(rf"^\| {scene} +\| no labels +\| no labels +\|$", scenes_md, re.M), scenes_md
    assert re.search(r"^\| s1 +\| \d+\.\d\d +\| \d+\.\d\d +\|$", scenes_md, re.M), scenes_md

    for name in ("auc-cameras.md", "events-cameras.md"):
        md = (tables / name).read_text()
        assert md.splitlines()[note_under_the_table(md) + 2].startswith("_ddl commit")  # then the provenance footer
    assert sorted(auc["model"]) == ["c3dsu-ddl", "c3dsu-none"]  # the CSVs: rows of the scored models only
    assert pd.read_csv(tables / "events-cameras.csv")["model"].tolist() == ["c3dsu-ddl"]


def test_unlabelled_scenes_are_unscored_scenes_of_one_dataset(tmp_path):
    labels, scores, live = table_inputs(tmp_path, LABELS)
    with pytest.raises(DDLError, match="--unlabelled-scenes s2: scores of their test videos are given"):
        aggregate([labels], scores, METRICS, tmp_path / "tables", unlabelled_scenes=["yard", "s2"])
    with pytest.raises(DDLError, match="--unlabelled-scenes s1: scores of their test videos are given"):
        event_tables(labels, live, tmp_path / "tables", unlabelled_scenes=["s1"])
    write_labels(tmp_path / "ped2.h5", "ped2", {"v9": ("all", [0, 1, 1, 0])})
    ped2, _ = make_run(tmp_path, "ped2", {"v9": ("all", [0, 1, 1, 0])}, "c3dsu", "ddl", 0)
    with pytest.raises(DDLError, match="names scenes of one dataset, but scores of cameras, ped2 are given"):
        aggregate([labels, tmp_path / "ped2.h5"], scores + ped2, METRICS, tmp_path / "tables",
                  unlabelled_scenes=["yard"])
    assert not (tmp_path / "tables").exists()  # refused before any table
