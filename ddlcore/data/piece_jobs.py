"""One job per camera and stage (dataset cameras): the stage's result for each of the camera's pieces, computed
in parallel and kept between runs, and a small manifest the workflow declares as the job's output.

Snakemake deletes a job's declared outputs before it runs it, so the per-piece results are not declared: each
carries a fingerprint attribute (:data:`FINGERPRINT_ATTR`) of what it was made from (the piece's row of the pieces
sheet, or the fingerprint of the piece's result of the stage before) and of the stage's settings and code (the
``stamp`` the workflow passes). A piece whose result carries the fingerprint it would get now is kept; the others
are computed, up to ``threads`` at a time, each written under a temporary name and stamped before it takes its
final name. Results of pieces no longer listed (footage that left ``cameras.train_hours``, a cut that moved) are
removed from the camera's folder.

Manifest columns: ``split``, ``video``, ``path`` (the piece's result) and ``fingerprint``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import h5py

from ..errors import DDLError
from ..io_utils import atomic_path, read_csv_rows

#: the HDF5 attribute holding a per-piece result's fingerprint
FINGERPRINT_ATTR = "piece_fingerprint"
MANIFEST_COLUMNS = ("split", "video", "path", "fingerprint")


@dataclass(frozen=True)
class PieceJob:
    """One piece's work in a stage: ``source`` (what it reads: footage, or the piece's result of the stage before)
    -> ``out``, valid while the result carries ``fingerprint``."""

    split: str
    video: str
    source: str
    out: Path
    fingerprint: str


def fingerprint(stamp: str, origin: str) -> str:
    """Hex SHA-256 of the stage's ``stamp`` (settings and code) and the piece's ``origin`` (its sheet row as text, or
    the fingerprint of its result of the stage before)."""
    return hashlib.sha256(f"{stamp}\n{origin}".encode()).hexdigest()


def stored_fingerprint(path: Path) -> str | None:
    """The fingerprint a per-piece result carries; None when the file is missing, unreadable or unstamped."""
    try:
        with h5py.File(path, "r") as f:
            value = f.attrs.get(FINGERPRINT_ATTR)
    except (OSError, KeyError):
        return None
    return None if value is None else str(value)


def _compute_one(compute: Callable[[PieceJob, Path], object], job: PieceJob) -> None:
    """Run ``compute`` for ``job`` into a temporary file, stamp it, then give it its final name."""
    with atomic_path(job.out, keep_suffix=True) as tmp:
        compute(job, tmp)
        with h5py.File(tmp, "a") as f:
            f.attrs[FINGERPRINT_ATTR] = job.fingerprint


def remove_unlisted(folder: Path, jobs: list[PieceJob]) -> int:
    """Remove the ``.h5`` results under ``folder`` that no job of ``jobs`` writes; return how many."""
    listed = {job.out.resolve() for job in jobs}
    removed = 0
    for path in folder.rglob("*.h5") if folder.is_dir() else ():
        if path.resolve() not in listed:
            path.unlink()
            removed += 1
    return removed


def _pool(threads: int) -> ProcessPoolExecutor:
    """Worker processes forked from this one (its settings and imports already loaded)."""
    return ProcessPoolExecutor(max_workers=threads, mp_context=multiprocessing.get_context("fork"))


def run_piece_jobs(jobs: list[PieceJob], compute: Callable[[PieceJob, Path], object], threads: int, label: str,
                   folder: Path) -> tuple[int, int]:
    """Bring every job's result up to date: keep those carrying their fingerprint, compute the others (``threads``
    at a time, in worker processes when more than 1) and remove results under ``folder`` that no job lists.

    ``compute(job, path)`` writes the job's result to ``path`` (a picklable callable). One stderr line per piece
    computed (``{label}: computed {split}/{video} (i of n)``) and one at the end. A piece that fails does not stop
    the others; afterwards a DDLError names the first failure. Returns (computed, kept).
    """
    removed = remove_unlisted(folder, jobs)
    todo = [job for job in jobs if stored_fingerprint(job.out) != job.fingerprint]
    kept = len(jobs) - len(todo)
    print(f"{label}: {len(jobs)} pieces, {kept} up to date, {len(todo)} to compute, {removed} unlisted removed",
          file=sys.stderr, flush=True)
    failures: list[str] = []

    def done(job: PieceJob, error: BaseException | None, i: int) -> None:
        if error is None:
            print(f"{label}: computed {job.split}/{job.video} ({i} of {len(todo)})", file=sys.stderr, flush=True)
        elif isinstance(error, DDLError):
            failures.append(str(error))
            print(f"{label}: failed {job.split}/{job.video}: {error}", file=sys.stderr, flush=True)
        else:
            raise error

    if threads <= 1 or len(todo) <= 1:
        for i, job in enumerate(todo, start=1):
            try:
                _compute_one(compute, job)
            except DDLError as exc:
                done(job, exc, i)
            else:
                done(job, None, i)
    else:
        with _pool(min(threads, len(todo))) as pool:
            running: dict[Future, PieceJob] = {pool.submit(_compute_one, compute, job): job for job in todo}
            finished = 0
            while running:
                ready, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in ready:
                    finished += 1
                    done(running.pop(future), future.exception(), finished)
    if failures:
        raise DDLError(f"{failures[0]} ({len(failures)} of {len(jobs)} pieces of {label} failed; the "
                       f"{len(todo) - len(failures)} others are kept)")
    return len(todo), kept


def manifest_text(jobs: list[PieceJob]) -> str:
    """The CSV text of the manifest of ``jobs`` (:data:`MANIFEST_COLUMNS`), header first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    writer.writerows((job.split, job.video, str(job.out), job.fingerprint) for job in jobs)
    return out.getvalue()


def write_manifest(path: str | Path, jobs: list[PieceJob]) -> None:
    """Write the manifest of ``jobs`` to ``path`` (atomically)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(manifest_text(jobs))


def read_manifest(path: str | Path) -> list[dict[str, str]]:
    """The rows of the manifest at ``path`` (column -> text); DDLError naming it when missing or of other columns."""
    return read_csv_rows(path, MANIFEST_COLUMNS, "pieces manifest", "run the stage before")


def jobs_after(manifest: str | Path, splits: tuple[str, ...], stamp: str, folder: Path) -> list[PieceJob]:
    """The jobs of a stage that reads the results the ``manifest`` of the stage before lists (those of ``splits``):
    each writes ``folder/{split}/{video}.h5``, fingerprinted by ``stamp`` and the source result's fingerprint."""
    return [PieceJob(row["split"], row["video"], row["path"], folder / row["split"] / f"{row['video']}.h5",
                     fingerprint(stamp, row["fingerprint"]))
            for row in read_manifest(manifest) if row["split"] in splits]


def run_stage_after(previous: str | Path, splits: tuple[str, ...], stamp: str, folder: str | Path,
                    manifest: str | Path, threads: int, compute: Callable[[PieceJob, Path], object],
                    stage: str) -> tuple[int, int]:
    """One camera's job of a stage that reads the results the manifest ``previous`` of the stage before lists
    (those of ``splits``): each piece's ``folder/{split}/{video}.h5`` brought up to date by ``compute``
    (:func:`jobs_after`, :func:`run_piece_jobs`, its lines labelled ``{stage} {camera}``), then the ``manifest``
    listing them. Returns (computed, kept)."""
    folder = Path(folder)
    jobs = jobs_after(previous, splits, stamp, folder)
    counts = run_piece_jobs(jobs, compute, threads, f"{stage} {folder.name}", folder)
    write_manifest(manifest, jobs)
    return counts
