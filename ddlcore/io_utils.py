"""Small file helpers shared by every stage: atomic writes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto ``path`` only if the block succeeds.

    A killed or failing stage therefore never leaves a half-written file under the final
    name, and an older complete file at ``path`` survives a failed rewrite. The temporary name is
    hidden (``.name.XXXXXXXX.tmp``), unpredictable and created exclusively (no one can plant a file or
    link there first); ``keep_suffix`` ends it with ``path``'s suffix (for writers that choose the
    format by it). The ``ddl`` command turns SIGTERM into an exit that runs this cleanup.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp" + (final.suffix if keep_suffix else ""),
                                dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
