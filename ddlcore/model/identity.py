"""A model file's identity: the SHA-256 of its bytes.

A calibration records it (``model_sha256``) and is refused for any other model file; the exported
inference graphs beside a model are keyed by its first 16 hex digits, so a retrained model gets new ones.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path


def model_fingerprint(model_path: str | Path) -> str:
    """SHA-256 (64 hex digits) of the bytes of the file ``model_path``; "" for an empty path.

    Hashed once per version of the file in a process (cached by resolved path, modification time and size).
    """
    if not str(model_path):
        return ""
    path = Path(model_path).resolve()
    stat = path.stat()
    return _file_sha256(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _file_sha256(path: Path, mtime_ns: int, size: int) -> str:
    """:func:`model_fingerprint` of one version of the file (the arguments after ``path`` key the cache)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
