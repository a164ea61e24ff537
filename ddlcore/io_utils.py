"""Small file helpers shared by every stage: atomic writes, the removal of temporaries a killed run left, and
CSV tables read with their columns checked."""

from __future__ import annotations

import contextlib
import csv
import os
import re
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import DDLError

#: a temporary of :func:`atomic_path`: ``.{final name}.ddltmp{pid}.{random}.tmp[{suffix}]``
TEMPORARY_NAME = re.compile(r"\.(?P<final>.+)\.ddltmp(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp(\.[A-Za-z0-9]+)?")


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (one we may not signal counts as existing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike, final_name: str | None = None) -> int:
    """Remove the temporaries of :func:`atomic_path` in ``folder`` (those for ``final_name`` only, when given) whose
    writing process no longer runs (killed, even by SIGKILL); returns how many were removed."""
    removed = 0
    with contextlib.suppress(OSError):
        for path in Path(folder).iterdir():
            match = TEMPORARY_NAME.fullmatch(path.name)
            if match is None or (final_name is not None and match["final"] != final_name):
                continue
            if int(match["pid"]) != os.getpid() and not _process_alive(int(match["pid"])):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += 1
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto ``path`` only if the block succeeds.

    A killed or failing stage therefore never leaves a half-written file under the final
    name, and an older complete file at ``path`` survives a failed rewrite. The temporary name is
    hidden and names the writing process (``.name.ddltmp{pid}.XXXXXXXX.tmp``, :data:`TEMPORARY_NAME`),
    unpredictable and created exclusively (no one can plant a file or link there first); ``keep_suffix`` ends it
    with ``path``'s suffix (for writers that choose the format by it). The ``ddl`` command turns SIGTERM into an
    exit that runs this cleanup; a temporary left by a SIGKILL is removed by the next write of the same file
    (:func:`remove_stale_temporaries`).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final.parent, final.name)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.ddltmp{os.getpid()}.",
                                suffix=".tmp" + (final.suffix if keep_suffix else ""), dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_csv_rows(path: str | os.PathLike, columns: tuple[str, ...], kind: str, missing_hint: str) -> list[dict[str, str]]:
    """The rows (column -> text) of the CSV table at ``path``, whose header must be ``columns``.

    DDLError naming ``path`` when it is missing ("{path}: {kind} not found ({missing_hint})") or has other
    columns ("not a {kind}").
    """
    path = Path(path)
    if not path.is_file():
        raise DDLError(f"{path}: {kind} not found ({missing_hint})")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != columns:
            raise DDLError(f"{path}: not a {kind} (columns {', '.join(columns)} expected)")
        return list(reader)
