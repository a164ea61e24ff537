"""``ddl frames``: read one video through its dataset adapter and write its frame store; or, for a camera root, the
frame stores of all of one camera's pieces, each read from its row of the pieces sheet (one job per camera).

The store holds the frames resized to ``frames.height`` x ``frames.width`` with ``frames.channels``
channels (see :mod:`ddlcore.data.framestore` for the layout and attributes).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from tqdm import tqdm

from ..errors import DDLError
from .base import DatasetAdapter, Video
from .framestore import write_frame_store
from .piece_jobs import PieceJob, fingerprint, run_piece_jobs, write_manifest
from .pieces import camera_rows, read_piece, row_piece
from .registry import open_dataset
from .settings import DataSettings


def find_video(adapter: DatasetAdapter, split: str, name: str) -> Video:
    """The video called ``name`` in ``split``; DDLError naming it if the dataset has no such video."""
    videos = adapter.videos(split)
    found = next((v for v in videos if v.name == name), None)
    if found is None:
        sample = ", ".join(v.name for v in videos[:5]) + (", ..." if len(videos) > 5 else "")
        raise DDLError(f"{adapter.root}: no {split} video named '{name}' in dataset {adapter.name} (has {sample})")
    return found


def extract_frames(settings: DataSettings, split: str, video_name: str, out: str | Path) -> int:
    """Write the frame store of video ``video_name`` of ``split`` of ``settings``' dataset to ``out``; return the
    number of frames.

    Frames are uint8 (N, frames.height, frames.width, frames.channels). A video that cannot be read
    fully raises DDLError and leaves any existing file at ``out`` untouched.
    """
    adapter = open_dataset(settings)
    video = find_video(adapter, split, video_name)
    info = adapter.info(video)
    size = settings.frames
    attrs = {
        "source": str(video.source),
        "original_height": info.height,
        "original_width": info.width,
        "fps": info.fps,
        "dataset": adapter.name,
        "split": split,
        "video": video.name,
        "scene": video.scene,
        "first_frame": adapter.first_frame(video),
    }
    frames = tqdm(adapter.read_frames(video), total=info.n_frames, desc=f"frames {video.name}", unit="frame", disable=None)
    return write_frame_store(out, frames, info.n_frames, size.height, size.width, size.channels, attrs)


def extract_row(settings: DataSettings, row: dict[str, str], out: str | Path) -> int:
    """Write the frame store of the piece a pieces sheet ``row`` describes to ``out``, reading its source only;
    return the number of frames."""
    piece = row_piece(row)
    n_frames = piece.stop - piece.start
    attrs = {
        "source": row["source"],
        "original_height": piece.info.height,
        "original_width": piece.info.width,
        "fps": piece.info.fps,
        "source_fps": piece.source_fps,
        "dataset": "cameras",
        "split": row["split"],
        "video": row["video"],
        "scene": row["camera"],
        "first_frame": piece.start,
    }
    size = settings.frames
    frames = tqdm(read_piece(piece), total=n_frames, desc=f"frames {row['video']}", unit="frame", disable=None)
    return write_frame_store(out, frames, n_frames, size.height, size.width, size.channels, attrs)


def _extract_job(settings: DataSettings, rows: dict[tuple[str, str], dict[str, str]], job: PieceJob, out: Path
                 ) -> None:
    """:func:`extract_row` of ``job``'s row (``rows``: (split, video) -> row) into ``out`` (a piece job's compute)."""
    extract_row(settings, rows[(job.split, job.video)], out)


def extract_camera(settings: DataSettings, sheet: str | Path, camera: str, stamp: str, folder: str | Path,
                   manifest: str | Path, threads: int) -> tuple[int, int]:
    """The frame stores of every piece of ``camera`` in the pieces sheet ``sheet`` (one job per camera,
    :mod:`.piece_jobs`): ``folder/{split}/{video}.h5``, those whose row, settings and code (``stamp``) are unchanged
    kept, the others extracted ``threads`` at a time, each from its own footage; then the ``manifest`` listing them.
    Returns (computed, kept)."""
    rows = camera_rows(sheet, camera)
    folder = Path(folder)
    jobs = [PieceJob(row["split"], row["video"], row["source"], folder / row["split"] / f"{row['video']}.h5",
                     fingerprint(stamp, json.dumps(row, sort_keys=True))) for row in rows]
    counts = run_piece_jobs(jobs, partial(_extract_job, settings, {(row["split"], row["video"]): row for row in rows}), threads,
                            f"frames {camera}", folder)
    write_manifest(manifest, jobs)
    return counts
