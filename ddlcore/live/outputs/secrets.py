"""Secrets of the outputs (broker password, webhook secret): from a file the configuration names, or from an
environment variable; never from the command line, and never written into a message or a log line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from ...errors import DDLError


def read_secret(path: str | None, variable: str, what: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The first line of file ``path`` when given, else the environment variable ``variable`` (``environ``, default
    ``os.environ``); None when neither gives one. ``what`` names the setting in the one-line DDLError raised for a
    file that cannot be read or whose first line is empty (the error names the file, never its content)."""
    if path is None:
        value = (os.environ if environ is None else environ).get(variable)
        return value or None
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DDLError(f"{what} {path}: cannot read it ({getattr(exc, 'strerror', None) or type(exc).__name__})") from exc
    if not lines or not lines[0].strip():
        raise DDLError(f"{what} {path}: its first line is empty")
    return lines[0].strip()
