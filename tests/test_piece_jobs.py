"""A camera's job of a per-piece stage (ddlcore.data.piece_jobs): kept results, failures, the manifest."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest

from ddlcore.data.piece_jobs import (PieceJob, fingerprint, read_manifest, run_piece_jobs, stored_fingerprint,
                                     write_manifest)
from ddlcore.errors import DDLError


def write_or_fail(job: PieceJob, out: Path) -> None:
    """A stage's compute: one value per piece, or the one-line failure of an undecodable source."""
    if job.video == "bad":
        raise DDLError(f"{job.source}: decoding stopped after 3 of 9 frames")
    with h5py.File(out, "w") as f:
        f["value"] = len(job.video)


def jobs_of(folder: Path, videos: tuple[str, ...], stamp: str = "s1") -> list[PieceJob]:
    return [PieceJob("train", v, f"footage/{v}.avi", folder / "train" / f"{v}.h5", fingerprint(stamp, v)) for v in videos]


def test_a_failing_piece_stops_no_other_and_a_second_run_retries_only_it(tmp_path, capsys):
    jobs = jobs_of(tmp_path, ("a", "bad", "c"))
    with pytest.raises(DDLError, match=r"^footage/bad.avi: decoding stopped .* \(1 of 3 pieces of frames cam failed"):
        run_piece_jobs(jobs, write_or_fail, 2, "frames cam", tmp_path)  # two worker processes
    assert [stored_fingerprint(j.out) == j.fingerprint for j in jobs] == [True, False, True]
    assert not jobs[1].out.exists() and not list(tmp_path.rglob(".*"))  # no temporary left
    capsys.readouterr()
    with pytest.raises(DDLError):
        run_piece_jobs(jobs, write_or_fail, 2, "frames cam", tmp_path)
    assert "frames cam: 3 pieces, 2 up to date, 1 to compute" in capsys.readouterr().err
    good = [j for j in jobs if j.video != "bad"]
    assert run_piece_jobs(good, write_or_fail, 1, "frames cam", tmp_path) == (0, 2)
    assert run_piece_jobs(jobs_of(tmp_path, ("a",), stamp="s2"), write_or_fail, 1, "frames cam", tmp_path) == (1, 0)
    assert sorted(p.name for p in tmp_path.rglob("*.h5")) == ["a.h5"]  # c is no longer listed: removed


def test_the_manifest_lists_each_piece_with_its_result_and_fingerprint(tmp_path):
    jobs = jobs_of(tmp_path / "cam", ("x", "y"))
    write_manifest(tmp_path / "cam.pieces.csv", jobs)
    assert read_manifest(tmp_path / "cam.pieces.csv") == [
        {"split": "train", "video": j.video, "path": str(j.out), "fingerprint": j.fingerprint} for j in jobs]
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DDLError, match="other.csv: not a pieces manifest"):
        read_manifest(tmp_path / "other.csv")
