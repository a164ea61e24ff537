"""``ddl job-benchmarks``: its arguments and how they call :mod:`ddlcore.evaluate.job_benchmarks`."""

from __future__ import annotations

import argparse

from ..evaluate.job_benchmarks import write_benchmark_table


def _run(args: argparse.Namespace) -> None:
    table = write_benchmark_table(args.dir, args.out)
    print(f"{int(table['jobs'].sum())} jobs of {len(table)} rules -> {args.out}")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """``ddl job-benchmarks --dir results/benchmarks/{dataset} --out results/tables/jobs-{dataset}.md``."""
    parser.add_argument("--dir", required=True, help="folder of Snakemake benchmark TSV files")
    parser.add_argument("--out", required=True, help="markdown table to write (a .csv is written beside it)")
    parser.set_defaults(func=_run)
