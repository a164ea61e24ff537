"""``ddl masks``: build one video's mask cache (``ddlcore.track.mask_cache``) from its tracks file.

The window length is ``model.frames`` (T) and boxes smaller than ``masks.min_box_size`` pixels do not
count. When no window of the video has a track present in all T frames, a warning line names the
video and the fallback training will use (``masks.no_track``).
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

from ..data.boxes_io import read_boxes
from ..data.piece_jobs import PieceJob, run_stage_after
from .mask_cache import write_mask_cache
from .settings import WindowSettings

#: what training does with a window that has no common track, per ``masks.no_track``
FALLBACKS = {
    "skip": "no distinction term for those samples",
    "random_box": "a random box as the pseudo-anomaly mask",
}


def build_mask_cache(settings: WindowSettings, tracks_path: str | Path, out_path: str | Path) -> int:
    """Write the mask cache of the tracks file at ``tracks_path`` to ``out_path``, with windows of
    ``settings.frames`` frames and the ``masks`` settings.

    Returns the number of window centres with at least one common track.
    """
    tracks = read_boxes(tracks_path, kind="tracks")
    window = settings.frames
    video = str(tracks.attrs.get("video") or Path(tracks_path).stem)
    carried = {k: tracks.attrs[k] for k in ("dataset", "split", "video", "scene") if k in tracks.attrs}
    n_windows = write_mask_cache(out_path, tracks, window, settings.masks.min_box_size, attrs=carried)
    if n_windows == 0:
        policy = settings.masks.no_track
        print(f"warning: video {video}: no window of {window} frames has a track present in all of them; "
              f"training uses masks.no_track={policy} ({FALLBACKS[policy]})", file=sys.stderr)
    return n_windows


def _mask_job(settings: WindowSettings, job: PieceJob, out: Path) -> None:
    """:func:`build_mask_cache` of ``job``'s tracks into ``out`` (a piece job)."""
    build_mask_cache(settings, job.source, out)


def mask_camera(settings: WindowSettings, tracks_manifest: str | Path, splits: tuple[str, ...], stamp: str,
                folder: str | Path, manifest: str | Path, threads: int) -> tuple[int, int]:
    """The mask caches of every piece of ``splits`` a camera's tracks manifest lists (one job per camera,
    :mod:`ddlcore.data.piece_jobs`): ``folder/{split}/{video}.h5``, computed ``threads`` at a time, unchanged ones
    kept; then the ``manifest`` listing them. Returns (computed, kept)."""
    return run_stage_after(tracks_manifest, splits, stamp, folder, manifest, threads, partial(_mask_job, settings), "masks")
