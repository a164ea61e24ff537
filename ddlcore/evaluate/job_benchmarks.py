"""``ddl job-benchmarks``: one table of the time and memory Snakemake's ``benchmark:`` files recorded.

Snakemake writes one TSV per job (columns s, max_rss in MB, cpu_time, ...) under
``results/benchmarks/{dataset}/``; the first folder level under it (or the file stem for rules
with a single job) names the rule.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DDLError
from ..io_utils import atomic_path


def summarise_benchmarks(folder: str | Path) -> pd.DataFrame:
    """Per rule: jobs, total and longest wall time (s), total CPU time (s), peak and median RSS (MB)."""
    root = Path(folder)
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        rel = path.relative_to(root)
        rule = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        record = pd.read_csv(path, sep="\t").iloc[-1]
        rows.append({"rule": rule, "s": float(record["s"]), "cpu_time": float(record.get("cpu_time", float("nan"))),
                     "max_rss": pd.to_numeric(record["max_rss"], errors="coerce")})
    if not rows:
        raise DDLError(f"no benchmark records (*.tsv) under {root}")
    jobs = pd.DataFrame(rows)
    table = jobs.groupby("rule", sort=False).agg(
        jobs=("s", "size"), wall_s_total=("s", "sum"), wall_s_max=("s", "max"), cpu_s_total=("cpu_time", "sum"),
        rss_mb_max=("max_rss", "max"), rss_mb_median=("max_rss", "median"),
    ).reset_index()
    return table.round(1)


def write_benchmark_table(folder: str | Path, out_md: str | Path) -> pd.DataFrame:
    """Write the summary as ``out_md`` (markdown) and beside it the same stem ``.csv``; return it."""
    table = summarise_benchmarks(folder)
    out = Path(out_md)
    with atomic_path(out.with_suffix(".csv")) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out) as tmp:
        tmp.write_text("Time and peak memory of every job, per rule (Snakemake benchmark records)\n\n"
                       + table.to_markdown(index=False) + "\n")
    return table
