"""``ddl summary``: one AUC table over several datasets, from the metrics files their runs wrote.

Each dataset's run writes ``metrics/{dataset}.json`` and its own ``tables/auc-{dataset}``; the
cross-dataset ``tables/auc`` is made only from the metrics files it is given (the workflow's
``summary`` rule declares them: this run's dataset and ``metrics.summary_datasets``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from ..errors import DDLError
from .aggregate import auc_markdown, auc_table
from .tables import write_table


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """The evaluated results (one dict per dataset, model and seed) of one metrics JSON file."""
    p = Path(path)
    if not p.is_file():
        raise DDLError(f"metrics file not found: {p} (run the workflow for that dataset first)")
    try:
        results = json.loads(p.read_text())["results"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DDLError(f"{p}: not a ddl metrics file ({type(exc).__name__})") from exc
    return list(results)


def summarise(metrics_paths: Sequence[str | Path], tables_dir: str | Path,
              origin: dict[str, Any] | None = None) -> str:
    """Write ``tables_dir``/auc.md and auc.csv: every result of ``metrics_paths``; return the markdown."""
    if not metrics_paths:
        raise DDLError("ddl summary: no metrics files given")
    results = [r for path in metrics_paths for r in read_results(path)]
    table = auc_table(results)
    text = auc_markdown(table)
    write_table(table, text, Path(tables_dir) / "auc", origin)
    return text
