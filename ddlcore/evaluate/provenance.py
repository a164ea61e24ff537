"""Where a result came from: the ddl code version and the configuration."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from ..config import fingerprint


def code_version() -> str:
    """The git commit of the ddl checkout ddlcore runs from (``+dirty`` with uncommitted changes),
    or ``unknown`` outside a git checkout."""
    repo = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def provenance(config: dict[str, Any]) -> dict[str, Any]:
    """{"commit": code version, "config_fingerprint": 12-hex hash, "config": the config} for a results table."""
    return {"commit": code_version(), "config_fingerprint": fingerprint(config), "config": config}


def provenance_footer(record: dict[str, Any]) -> str:
    """A markdown line stating the commit and config fingerprint a table came from."""
    return (f"\n_ddl commit {record['commit']}, config {record['config_fingerprint']} "
            f"(the full configuration is in the metrics JSON beside these tables)._\n")
