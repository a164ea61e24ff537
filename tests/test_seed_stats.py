"""Seeds as a dimension: mean +- s.d. over seeds, paired comparisons with the baseline and their verdicts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ddlcore.config import load_config
from ddlcore.evaluate.aggregate import aggregate, training_logs
from ddlcore.evaluate.settings import MetricsSettings
from ddlcore.evaluate.seed_stats import mean_interval, paired_comparisons, seed_summary, verdict
from test_report import write_labels, write_scores

METRICS = MetricsSettings.from_section({**load_config()["metrics"], "normalise": False, "median_window": 1,
                                        "pixel_threshold": 0.5})
LABELS = {"v1": ("all", [0] * 30 + [1] * 10 + [0] * 20), "v2": ("all", [0] * 25 + [1] * 15)}


def test_interval_is_the_student_t_interval():
    mean, low, high = mean_interval([1.0, 2.0, 3.0, 4.0])
    half = 3.182446305284263 * math.sqrt(5 / 3) / 2  # t(0.975, 3) from tables, s.d. sqrt(5/3), sqrt(n) = 2
    assert mean == 2.5 and low == pytest.approx(2.5 - half) and high == pytest.approx(2.5 + half)
    assert mean_interval([0.7]) == (0.7, None, None)


@pytest.mark.parametrize(("low", "high", "word"), [(0.1, 2.0, "better"), (-3.0, -0.01, "worse"),
                                                   (-0.5, 0.5, "no evidence"), (None, None, "no evidence")])
def test_verdict(low, high, word):
    assert verdict(low, high) == word


def result(model, seed, micro, scenes=1):
    arch, variant = model.split("-")
    return {"dataset": "d", "model": model, "arch": arch, "variant": variant, "seed": seed, "n_scenes": scenes,
            "micro_auc": micro, "macro_auc": None, "scene_median_auc": None, "pixel_auc": None}


def test_summary_and_pairs_from_results():
    ddl = [0.91, 0.93, 0.96]
    none = [0.88, 0.89, 0.91]
    results = [result("c3dsu-ddl", s, a) for s, a in enumerate(ddl)] + \
        [result("c3dsu-none", s, a) for s, a in enumerate(none)] + [result("unet-ddl", 0, 0.5)]
    summary = seed_summary(results).set_index(["model", "metric"])
    row = summary.loc[("c3dsu-ddl", "micro_auc")]
    assert row.n_seeds == 3 and row["mean"] == pytest.approx(93.33) and row.sd == pytest.approx(2.52, abs=0.01)
    assert (row.seed_0, row.seed_1, row.seed_2) == (91.0, 93.0, 96.0)
    assert ("c3dsu-ddl", "macro_auc") not in summary.index  # not measured: no row
    pairs = paired_comparisons(results).set_index("model")
    assert list(pairs.index) == ["c3dsu-ddl"]  # unet-ddl has no unet-none baseline
    diffs = 100 * (np.array(ddl) - np.array(none))
    _, low, high = mean_interval(diffs)
    p = pairs.loc["c3dsu-ddl"]
    assert p.n_pairs == 3 and p.mean_diff == pytest.approx(diffs.mean(), abs=0.005)
    assert (p.ci_low, p.ci_high) == (pytest.approx(low, abs=0.005), pytest.approx(high, abs=0.005))
    assert p.verdict == "better" and low > 0  # differences 3, 4, 5 points: [1.52, 6.48]
    only_two = paired_comparisons(results[:2] + results[3:5]).iloc[0]
    assert only_two.n_pairs == 2 and only_two.verdict == "no evidence"  # 3 and 4 points, but t(0.975, 1) = 12.7


def test_seed_files_give_per_seed_tables_verdict_and_figure(tmp_path):
    write_labels(tmp_path / "l.h5", "synthetic", LABELS)
    rng = np.random.default_rng(0)
    files, expected = [], {}
    for variant, lift in (("ddl", 0.6), ("none", 0.0)):
        for seed in (0, 1, 2):
            scores = {n: rng.random(len(lab)) + lift * np.array(lab) for n, (_, lab) in LABELS.items()}
            path = tmp_path / f"c3dsu-{variant}-seed{seed}.h5"
            write_scores(path, "synthetic", "c3dsu", variant, "all", scores, seed=seed)
            files.append(path)
            labels = np.concatenate([LABELS[n][1] for n in sorted(LABELS)])
            expected[(variant, seed)] = 100 * roc_auc_score(labels, np.concatenate([scores[n] for n in sorted(LABELS)]))
    printed = aggregate([tmp_path / "l.h5"], files, METRICS, tmp_path / "tables", tmp_path / "fig")
    assert printed.startswith((tmp_path / "tables" / "auc-synthetic.md").read_text()[:60]) and "**better**" in printed

    auc = pd.read_csv(tmp_path / "tables" / "auc-synthetic.csv")
    assert len(auc) == 6 and sorted(auc["seed"]) == [0, 0, 1, 1, 2, 2]
    seeds = pd.read_csv(tmp_path / "tables" / "seeds-synthetic.csv").set_index(["model", "metric"])
    row = seeds.loc[("c3dsu-ddl", "micro_auc")]
    values = [expected[("ddl", s)] for s in (0, 1, 2)]
    assert [row.seed_0, row.seed_1, row.seed_2] == pytest.approx(values, abs=0.005)
    assert row["mean"] == pytest.approx(np.mean(values), abs=0.005) and row.sd == pytest.approx(np.std(values, ddof=1), abs=0.005)
    verdict_row = pd.read_csv(tmp_path / "tables" / "verdict-synthetic.csv").iloc[0]
    assert verdict_row.model == "c3dsu-ddl" and verdict_row.baseline == "c3dsu-none" and verdict_row.verdict == "better"
    md = (tmp_path / "tables" / "verdict-synthetic.md").read_text()
    assert "**better**" in md and "| 3 |" in md
    assert f"{np.mean(values):.2f} +- {np.std(values, ddof=1):.2f} (3)" in (tmp_path / "tables" / "seeds-synthetic.md").read_text()
    ablation = (tmp_path / "tables" / "ablation-synthetic.md").read_text()
    assert f"{np.mean(values):.2f} +- " in ablation and "(3) / –" in ablation
    assert (tmp_path / "fig" / "seeds-synthetic.png").read_bytes()[:4] == b"\x89PNG"
    curves = sorted(p.name for p in (tmp_path / "fig").glob("synthetic-*.png"))
    assert curves == [f"synthetic-c3dsu-{v}-{n}.png" for v in ("ddl", "none") for n in sorted(LABELS)]  # first seed only


def test_training_logs_are_grouped_by_model_with_seeds(tmp_path):
    paths = [tmp_path / "synthetic" / scene / f"c3dsu-ddl-seed{seed}.csv" for scene in ("01", "02") for seed in (0, 3)]
    grouped = training_logs(paths + [tmp_path / "synthetic" / "01" / "c3dsu-none-seed0.csv"])
    assert sorted(grouped[("synthetic", "c3dsu-ddl")]) == ["01 seed 0", "01 seed 3", "02 seed 0", "02 seed 3"]
    assert list(grouped[("synthetic", "c3dsu-none")]) == ["01"]  # one seed: named by the scene alone
