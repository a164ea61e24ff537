"""What every table writer shares: score files grouped into table rows, markdown, the note on unlabelled
scenes, and writing a table as CSV and markdown with its provenance.

Used by the AUC tables (:mod:`.aggregate`, :mod:`.summary`), the event table (:mod:`.event_table`) and the camera
table (:mod:`.camera_table`).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import h5py
import pandas as pd

from ..errors import DDLError
from ..io_utils import atomic_path
from .provenance import provenance_footer

#: what the tables say for a scene that was trained but has no labelled test clips
NO_LABELS = "no labels"


def group_score_files(score_paths: Sequence[str | Path]) -> dict[tuple[str, str, str, int], list[str]]:
    """Score files grouped by (dataset, arch, variant, training seed) from their attributes, in a stable order."""
    groups: dict[tuple[str, str, str, int], list[str]] = defaultdict(list)
    for path in score_paths:
        try:
            with h5py.File(path, "r") as f:
                key = (str(f.attrs.get("dataset", "")), str(f.attrs["arch"]), str(f.attrs["variant"]),
                       int(f.attrs.get("seed", 0)))
        except (OSError, KeyError) as exc:
            raise DDLError(f"{path}: not a readable scores file ({exc})") from exc
        groups[key].append(str(path))
    return dict(sorted(groups.items()))


def unlabelled_note(scenes: Sequence[str]) -> str:
    """The line under a table naming the trained ``scenes`` without labelled test clips ("" when there are none)."""
    return f"\nNo labelled test clips (not in these figures): {', '.join(scenes)}\n" if scenes else ""


def checked_unlabelled(unlabelled: Sequence[str], scored: dict[str, set[str]]) -> list[str]:
    """The scenes ``unlabelled`` sorted, checked against ``scored`` ({dataset: scenes of its scored test videos}).

    DDLError when they come with scores of several datasets (they name one dataset's scenes) or when one of
    them has scored test videos.
    """
    names = sorted(set(unlabelled))
    if names and len(scored) > 1:
        raise DDLError(f"--unlabelled-scenes names scenes of one dataset, but scores of {', '.join(sorted(scored))} "
                       "are given")
    scored_too = sorted(set(names) & set().union(*scored.values()))
    if scored_too:
        raise DDLError(f"--unlabelled-scenes {', '.join(scored_too)}: scores of their test videos are given")
    return names


def markdown(table: pd.DataFrame) -> str:
    """A table as markdown, numbers with 2 decimals, missing values as '–'."""
    return table.astype(object).where(table.notna(), None).to_markdown(index=False, missingval="–", floatfmt=".2f") + "\n"


def write_table(table: pd.DataFrame, markdown: str, stem: Path, origin: dict[str, Any] | None = None) -> None:
    """Write ``stem``.csv and ``stem``.md atomically; ``origin`` (a provenance record) adds the commit and
    config fingerprint as CSV columns and a markdown footer."""
    if origin is not None:
        table = table.assign(commit=origin["commit"], config=origin["config_fingerprint"])
        markdown += provenance_footer(origin)
    with atomic_path(stem.with_suffix(".csv")) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(stem.with_suffix(".md")) as tmp:
        tmp.write_text(markdown)
