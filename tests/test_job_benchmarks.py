"""The per-rule summary of Snakemake benchmark records."""

from __future__ import annotations

import pytest

from ddlcore.errors import DDLError
from ddlcore.evaluate.job_benchmarks import summarise_benchmarks, write_benchmark_table

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def record(path, seconds, rss, cpu):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n")


def test_summary_per_rule(tmp_path):
    record(tmp_path / "train" / "01" / "c3dsu-ddl.tsv", 100.0, 1200.0, 190.0)
    record(tmp_path / "train" / "02" / "c3dsu-ddl.tsv", 60.0, 1000.0, 110.0)
    record(tmp_path / "labels.tsv", 2.0, "-", 1.0)  # Snakemake writes '-' where it measured nothing
    table = summarise_benchmarks(tmp_path).set_index("rule")
    assert table.loc["train", "jobs"] == 2 and table.loc["labels", "jobs"] == 1
    assert table.loc["train", "wall_s_total"] == 160.0 and table.loc["train", "wall_s_max"] == 100.0
    assert table.loc["train", "rss_mb_max"] == 1200.0 and table.loc["train", "rss_mb_median"] == 1100.0
    assert table.loc["train", "cpu_s_total"] == 300.0
    write_benchmark_table(tmp_path, tmp_path / "jobs.md")
    assert "| train " in (tmp_path / "jobs.md").read_text() and (tmp_path / "jobs.csv").is_file()


def test_no_records_is_an_error(tmp_path):
    with pytest.raises(DDLError, match="no benchmark records"):
        summarise_benchmarks(tmp_path)
