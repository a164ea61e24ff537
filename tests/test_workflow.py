"""End to end: the Snakemake workflow on a tiny synthetic configuration, then what re-runs after each
kind of config change (planned job sets from ``snakemake --dry-run``)."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from snakemake_command import REPO, SNAKEMAKE

TINY = REPO / "tests" / "data" / "tiny.yaml"
pytestmark = pytest.mark.e2e


def snakemake(workdir: Path, configfile: Path, *args: str, code: Path | None = None) -> subprocess.CompletedProcess:
    """Run Snakemake on the repository's Snakefile in ``workdir`` with the default config + ``configfile``;
    ``code``: a copy of the repository's workflow and ddlcore package to plan with instead, first on the import
    path. Snakemake starts in ``workdir``: ``python -m`` puts the current folder before PYTHONPATH, and from the
    repository's root that would import the repository's ddlcore, not the copy."""
    snakemake_cmd = SNAKEMAKE if code is None else [*SNAKEMAKE[:-2], "--snakefile", str(code / "Snakefile")]
    cmd = [*snakemake_cmd, "--directory", str(workdir),
           "--configfile", str(REPO / "config" / "config.yaml"), str(configfile), "--cores", "2", *args]
    env = None if code is None else {**os.environ, "PYTHONPATH": str(code)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=workdir)


def planned_jobs(workdir: Path, config: dict, *args: str, code: Path | None = None) -> dict[str, int]:
    """Rule -> number of jobs a dry run plans with ``config`` (written next to the run), Snakemake ``args``
    and ``code`` (see :func:`snakemake`)."""
    path = workdir / "changed.yaml"
    path.write_text(yaml.safe_dump(config))
    return job_stats(snakemake(workdir, path, "--dry-run", *args, code=code))


def job_stats(run: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> number of jobs in the job stats of a successful ``snakemake --dry-run``; {} when nothing is planned."""
    assert run.returncode == 0, run.stderr[-2000:]
    text = run.stdout + run.stderr
    if "Nothing to be done" in text:
        return {}
    table = text[text.index("Job stats:"):]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, dict]:
    """A completed run of the tiny configuration."""
    workdir = tmp_path_factory.mktemp("workflow")
    run = snakemake(workdir, TINY)
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir, yaml.safe_load(TINY.read_text())


def test_tables_and_figures_are_written(finished_run):
    workdir, _ = finished_run
    results = workdir / "results"
    table = (results / "tables" / "auc.md").read_text()
    assert "c3dsu-ddl" in table and "c3dsu-none" in table
    seeds = pd.read_csv(results / "tables" / "seeds-synthetic.csv")
    micro = seeds[seeds.metric == "micro_auc"].set_index("model")
    assert list(micro.n_seeds) == [2, 2] and {"seed_0", "seed_1"} <= set(seeds.columns)
    auc = pd.read_csv(results / "tables" / "auc.csv").set_index(["model", "seed"])
    assert micro.loc["c3dsu-ddl", "seed_1"] == auc.loc[("c3dsu-ddl", 1), "micro_auc"]
    # the synthetic benchmark has pixel masks: every run has RBDC and TBDC, from the region files beside the scores
    assert auc["rbdc"].between(0, 100).all() and auc["tbdc"].between(0, 100).all()
    assert {"rbdc", "tbdc"} <= set(seeds.metric)
    assert (results / "scores" / "synthetic" / "01" / "c3dsu-ddl-seed0.regions.h5").is_file()
    verdict = pd.read_csv(results / "tables" / "verdict-synthetic.csv").iloc[0]
    assert (verdict.model, verdict.baseline, verdict.n_pairs) == ("c3dsu-ddl", "c3dsu-none", 2)
    assert verdict.verdict in ("better", "no evidence", "worse")
    assert (results / "figures" / "synthetic" / "curves" / "seeds-synthetic.png").stat().st_size > 5_000
    metrics = json.loads((results / "metrics" / "synthetic.json").read_text())
    assert "c3dsu-ddl" in json.dumps(metrics)
    assert (results / "figures" / "synthetic" / "qualitative.png").stat().st_size > 10_000
    jobs = (results / "tables" / "jobs-synthetic.md").read_text()
    rules = ("synthesize", "train", "score", "aggregate", "calibrate", "live_score", "events")
    assert all(f"| {rule} " in jobs for rule in rules)
    curves = list((results / "figures" / "synthetic" / "curves").glob("*.png"))
    assert len(curves) >= 4  # one per test video and model, plus sigma(l)
    for scene in ("01", "02"):
        for model in ("c3dsu-ddl-seed0", "c3dsu-ddl-seed1", "c3dsu-none-seed0", "c3dsu-none-seed1"):
            assert (results / "models" / "synthetic" / scene / f"{model}.pt").is_file()
            assert (results / "logs" / "synthetic" / "train" / scene / f"{model}.log").is_file()
            assert (results / "benchmarks" / "synthetic" / "train" / scene / f"{model}.tsv").is_file()


def test_nothing_reruns_without_a_change(finished_run):
    workdir, config = finished_run
    assert planned_jobs(workdir, config) == {}


def test_distinction_weight_reruns_training_scoring_and_aggregation_only(finished_run):
    workdir, config = finished_run
    changed = copy.deepcopy(config)
    changed["train"]["lambda"] = 0.5
    jobs = planned_jobs(workdir, changed)
    assert jobs == {"train": 8, "export_model": 8, "score": 8, "aggregate": 1, "qualitative_figure": 1,
                    "job_benchmarks": 1, "all": 1, "calibrate": 8, "live_score": 8, "events": 1, "summary": 1}


def test_detector_threshold_reruns_detection_onward(finished_run):
    workdir, config = finished_run
    changed = copy.deepcopy(config)
    changed["detect"]["score_threshold"] = 0.3
    jobs = planned_jobs(workdir, changed)
    assert {"detect": 2, "track": 2, "masks": 2, "train": 8, "score": 8, "aggregate": 1}.items() <= jobs.items()
    assert "extract_frames" not in jobs and "synthesize" not in jobs and "labels" not in jobs


@pytest.fixture
def code_copy(tmp_path) -> Path:
    """A copy of the workflow and the ddlcore package to edit: dry runs plan with it instead of the repository."""
    for folder in ("ddlcore", "workflow"):
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "Snakefile", tmp_path / "Snakefile")
    return tmp_path


def test_an_edit_of_another_datasets_adapter_reruns_nothing(finished_run, code_copy):
    workdir, config = finished_run
    assert planned_jobs(workdir, config, code=code_copy) == {}  # the copy fingerprints as the original
    for adapter in ("avenue.py", "ped2.py", "shanghaitech.py"):
        with (code_copy / "ddlcore" / "data" / adapter).open("a") as f:
            f.write("# an edit that cannot affect the synthetic benchmark\n")
    assert planned_jobs(workdir, config, code=code_copy) == {}


def test_an_edit_of_the_frame_store_reader_reruns_training_and_scoring(finished_run, code_copy):
    workdir, config = finished_run
    with (code_copy / "ddlcore" / "data" / "framestore.py").open("a") as f:
        f.write("# an edit of the frame-store reader\n")
    jobs = planned_jobs(workdir, config, code=code_copy)
    assert {"extract_frames": 4, "train": 8, "score": 8, "calibrate": 8, "live_score": 8}.items() <= jobs.items()
    assert "synthesize" not in jobs


def test_an_edit_of_the_tables_reruns_the_tables_only(finished_run, code_copy):
    workdir, config = finished_run
    with (code_copy / "ddlcore" / "evaluate" / "seed_stats.py").open("a") as f:
        f.write("# an edit of the seed statistics\n")
    # the event table shares evaluate/tables.py with the AUC tables, not the seed statistics: it does not re-run
    assert planned_jobs(workdir, config, code=code_copy) == {"aggregate": 1, "summary": 1, "job_benchmarks": 1, "all": 1}


def test_median_window_reruns_aggregation_only(finished_run):
    workdir, config = finished_run
    changed = copy.deepcopy(config)
    changed["metrics"]["median_window"] = 9
    assert planned_jobs(workdir, changed) == {"aggregate": 1, "summary": 1, "job_benchmarks": 1, "all": 1}


def test_alarms_are_calibrated_and_tabulated(finished_run):
    workdir, _ = finished_run
    results = workdir / "results"
    table = (results / "tables" / "events-synthetic.md").read_text()
    assert "c3dsu-ddl" in table and "false_alarms_per_hour" in table and "event_precision_pct" in table
    assert "localised_at_peak_pct" in table
    events = pd.read_csv(results / "tables" / "events-synthetic.csv")
    assert sorted(zip(events["model"], events["seed"])) == [("c3dsu-ddl", 0), ("c3dsu-ddl", 1), ("c3dsu-none", 0),
                                                              ("c3dsu-none", 1)]
    for scene in ("01", "02"):
        for seed in (0, 1):
            assert (results / "models" / "synthetic" / scene / f"c3dsu-ddl-seed{seed}.alarm.h5").is_file()
    # curves of each model's first seed: 2 videos x 2 models
    assert len(list((results / "figures" / "synthetic" / "events").glob("*.png"))) == 4


def test_motion_weight_reruns_scoring_and_calibration_never_training(finished_run):
    workdir, config = finished_run
    changed = copy.deepcopy(config)
    changed.setdefault("score", {})["motion_weight"] = 0.3
    jobs = planned_jobs(workdir, changed)
    assert "train" not in jobs and "detect" not in jobs
    assert {"score": 8, "calibrate": 8, "live_score": 8, "events": 1, "aggregate": 1}.items() <= jobs.items()


def test_alarm_budget_reruns_calibration_and_events_only(finished_run):
    workdir, config = finished_run
    changed = copy.deepcopy(config)
    changed["alarm"] = {"false_alarms_per_hour": 5.0}
    jobs = planned_jobs(workdir, changed)
    # aggregate records the whole config with its tables, so it follows any change
    assert jobs == {"calibrate": 8, "live_score": 8, "events": 1, "aggregate": 1, "summary": 1, "job_benchmarks": 1,
                    "all": 1}


def test_new_variant_trains_only_the_new_models(finished_run):
    workdir, config = finished_run
    changed = copy.deepcopy(config)
    changed["train"]["models"] = config["train"]["models"] + ["c3dsu-sdl"]
    jobs = planned_jobs(workdir, changed)
    assert jobs == {"train": 4, "export_model": 4, "score": 4, "aggregate": 1, "summary": 1, "job_benchmarks": 1,
                    "all": 1, "calibrate": 4, "live_score": 4, "events": 1}


def test_new_seed_trains_and_scores_only_that_seed(finished_run):
    workdir, config = finished_run
    changed = copy.deepcopy(config)
    changed["train"]["seeds"] = [0, 1, 2]
    jobs = planned_jobs(workdir, changed)
    assert jobs == {"train": 4, "export_model": 4, "score": 4, "aggregate": 1, "summary": 1,  # 2 scenes x 2 models
                    "job_benchmarks": 1, "all": 1, "calibrate": 4, "live_score": 4, "events": 1}


def test_the_graphs_are_exported_by_a_job_of_their_own_unless_the_runtime_is_torch(finished_run):
    """score.runtime auto on a CPU scores through ONNX Runtime: each model's M.onnx/ is the output of its
    export_model job and an input of the jobs that score with it; with torch there is no export job."""
    workdir, config = finished_run
    folder = workdir / "results" / "models" / "synthetic" / "01"
    assert sorted(p.name for p in folder.glob("*.onnx")) == [f"{m}-seed{s}.onnx" for m in ("c3dsu-ddl", "c3dsu-none")
                                                            for s in (0, 1)]
    assert all(len(list(p.glob("*.onnx"))) == 2 for p in folder.glob("*.onnx"))  # encoder and decoder
    changed = copy.deepcopy(config)
    changed.setdefault("score", {})["runtime"] = "torch"
    jobs = planned_jobs(workdir, changed)
    assert "export_model" not in jobs and (jobs["score"], jobs["calibrate"], jobs["live_score"]) == (8, 8, 8)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"train": {"epoch": 3}}, "config: unknown key 'epoch' in train"),
        ({"frames": {"height": "tall"}}, "config: key 'frames.height': 'tall' is not of type 'integer'"),
        ({"dataset": {"name": "ped2", "root": "/no/such/ped2"}}, "dataset root not found: /no/such/ped2"),
    ],
)
def test_bad_config_stops_before_any_job_with_one_line(tmp_path, config, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    run = snakemake(tmp_path, path, "--dry-run")
    assert run.returncode != 0
    assert message in run.stderr + run.stdout
    assert not (tmp_path / "results").exists()


def test_a_config_file_replaces_the_default_config(tmp_path):
    """config/config.yaml is read only without --configfile: a dataset config inherits the schema's defaults."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump({"train": {"epoch": 3}}))  # refused when read
    dry_run = [*SNAKEMAKE, "--directory", str(tmp_path), "--cores", "1", "--dry-run"]
    given = subprocess.run([*dry_run, "--configfile", str(TINY)], capture_output=True, text=True, timeout=300)
    assert given.returncode == 0, given.stderr[-2000:]
    default = subprocess.run(dry_run, capture_output=True, text=True, timeout=300)
    assert default.returncode != 0
    assert "config: unknown key 'epoch' in train" in default.stdout + default.stderr


def test_nested_config_on_the_command_line_plans_as_in_a_config_file(tmp_path):
    """The README's ``--config 'train={seeds: [0, 1, 2]}'``: Snakemake 9 passes the nested values as strings."""
    tiny = yaml.safe_load(TINY.read_text())
    in_file = planned_jobs(tmp_path, {**tiny, "train": {**tiny["train"], "seeds": [0, 1, 2], "epochs": 2}})
    on_command_line = planned_jobs(tmp_path, tiny, "--config", "train={seeds: [0, 1, 2], epochs: 2}")
    assert on_command_line == in_file
    assert in_file["train"] * len(tiny["train"]["seeds"]) == 3 * planned_jobs(tmp_path, tiny)["train"]  # 3 seeds


def test_the_workflow_plans_alike_from_the_top_level_snakefile_and_as_a_module(tmp_path):
    """workflow/Snakefile holds the workflow: run by itself, through the top-level Snakefile (an include of it),
    or as a Snakemake module (the form `snakedeploy deploy-workflow` writes, its config from the importing
    workflow), the tiny configuration plans the same jobs, rule all (the default target) among them."""
    configs = [str(REPO / "config" / "config.yaml"), str(TINY)]
    options = ["--directory", str(tmp_path), "--cores", "1", "--dry-run"]
    importing = tmp_path / "Snakefile"
    importing.write_text("".join(f'configfile: "{path}"\n' for path in configs) + f"""
module ddl:
    snakefile:
        "{REPO / 'workflow' / 'Snakefile'}"
    config:
        config


use rule * from ddl
""")

    def plan(snakefile: Path, *args: str) -> dict[str, int]:
        cmd = [*SNAKEMAKE[:-1], str(snakefile), *options, *args]
        return job_stats(subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path))

    top_level = plan(REPO / "Snakefile", "--configfile", *configs)
    assert top_level["all"] == 1 and top_level["train"] == 8
    assert plan(REPO / "workflow" / "Snakefile", "--configfile", *configs) == top_level
    assert plan(importing) == top_level
