"""Output paths of ``ddl watch`` and ``ddl record`` checked when the command starts: each problem is one line naming
the option and the path, instead of a traceback (or event lines naming files that are never written) later."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..errors import DDLError
from ..io_utils import remove_stale_temporaries


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def writable_folder(path: str | Path, option: str) -> Path:
    """``path`` as a folder that exists (created when missing) and takes new files, after removing the temporaries
    a killed run left there (:func:`ddlcore.io_utils.remove_stale_temporaries`).

    DDLError naming ``option`` (e.g. ``--out``) when it is a file, lies under a file, or cannot be created or written.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise DDLError(f"{option} {folder}: a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DDLError(f"{option} {folder}: cannot create this folder ({_reason(exc)})") from exc
    try:  # os.access is not the truth for root or a read-only mount: try it
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise DDLError(f"{option} {folder}: cannot write into this folder ({_reason(exc)})") from exc
    remove_stale_temporaries(folder)
    return folder


def appendable_file(path: str | Path, option: str) -> Path:
    """``path`` as a file lines can be appended to (its folder created when missing; the file is not created).

    DDLError naming ``option`` (e.g. ``--events``) when it is a folder, its folder is not a writable one
    (:func:`writable_folder`), or it exists and cannot be opened for appending.
    """
    file = Path(path)
    if file.is_dir():
        raise DDLError(f"{option} {file}: a folder, not a file")
    writable_folder(file.parent, f"{option} {file}: its folder")
    if file.exists():
        try:
            with open(file, "a", encoding="utf-8"):
                pass
        except OSError as exc:
            raise DDLError(f"{option} {file}: cannot append to this file ({_reason(exc)})") from exc
    return file


def longest_name_fits(folder: Path, stem: str, extra: int, what: str) -> None:
    """DDLError naming ``what`` when a file name of ``stem`` and ``extra`` more characters exceeds what ``folder``'s
    file system takes (usually 255 bytes)."""
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    if len(stem.encode()) + extra > limit:
        raise DDLError(f"{what}: too long for the file names of {folder} (they would have "
                       f"{len(stem.encode()) + extra} bytes; at most {limit})")
