"""Where a result came from: the ddl code version and the configuration."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from ..config import fingerprint
from ..cpu_precision import precision_record


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
    """{"commit": code version, "config_fingerprint": 12-hex hash, "config": the config, "cpu": this machine's
    bf16 support, "cpu_precision": what ``train.autocast_cpu`` means on it (bf16 | float32)} for a results table
    (each model file records the precision it was trained in)."""
    cpu = precision_record(config.get("train", {}).get("autocast_cpu", "auto"))
    return {"commit": code_version(), "config_fingerprint": fingerprint(config), "config": config,
            "cpu": cpu["cpu"], "cpu_precision": cpu["cpu_precision"]}


def provenance_footer(record: dict[str, Any]) -> str:
    """A markdown line stating the commit and config fingerprint a table came from."""
    cpu = f"; CPU training precision here {record['cpu_precision']} ({record['cpu']})" if "cpu" in record else ""
    return (f"\n_ddl commit {record['commit']}, config {record['config_fingerprint']}{cpu} "
            f"(the full configuration is in the metrics JSON beside these tables)._\n")
