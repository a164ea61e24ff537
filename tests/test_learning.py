"""Learning happens: the default workflow (config/config.yaml, the synthetic benchmark) separates the
anomalous test frames from the normal ones, and C3DSU with DDL separates them better than the
reconstruction-only C3DSU. Slow (the whole default run, about 8 minutes on 2 cores): ``pytest -m slow``."""

from __future__ import annotations

import json
import subprocess

import pytest

from snakemake_command import REPO, SNAKEMAKE

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_default_run_learns_and_ddl_beats_the_reconstruction_only_baseline(tmp_path):
    cmd = [*SNAKEMAKE, "--directory", str(tmp_path), "--configfile", str(REPO / "config" / "config.yaml"), "--cores", "2"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((tmp_path / "results" / "metrics" / "synthetic.json").read_text())
    auc = {r["model"]: r["micro_auc"] for r in metrics["results"]}
    assert auc["c3dsu-ddl"] >= 0.8, auc
    assert auc["c3dsu-ddl"] > auc["c3dsu-none"], auc
