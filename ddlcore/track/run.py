"""``ddl track``: link one video's detections into OC-SORT tracks and write a tracks file.

The tracks file (``ddlcore.data.boxes_io``, kind "tracks") holds per reported (frame, track) the box in
frame-store pixels, the detection score and the track id (``ident``, >= 1, numbered in order of first
report), with attrs ``det_thresh`` (the value used) and the detections file's video attributes.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
import numpy as np
from tqdm import tqdm

from ..data.boxes_io import BoxTable, read_boxes, write_boxes
from ..data.piece_jobs import PieceJob, run_stage_after
from .ocsort import OCSort, OCSortParams
from .settings import TrackSettings

#: detections-file attributes carried over to the tracks file
CARRIED_ATTRS = ("dataset", "split", "video", "scene", "backend")


def tracker_params(track: TrackSettings, detections: BoxTable) -> OCSortParams:
    """The ``track`` settings -> the tracker's; a null ``det_thresh`` takes the detector's threshold
    (``detections.attrs["score_threshold"]``, 0 when absent)."""
    det_thresh = track.det_thresh
    if det_thresh is None:
        det_thresh = float(detections.attrs.get("score_threshold", 0.0))
    return OCSortParams(det_thresh=float(det_thresh), max_age=track.max_age, min_hits=track.min_hits,
                        iou_threshold=track.iou_threshold, delta_t=track.delta_t, inertia=track.inertia,
                        use_byte=track.use_byte, low_thresh=track.low_thresh)


def track_table(detections: BoxTable, params: OCSortParams, desc: str = "track") -> BoxTable:
    """Run OC-SORT over every frame of ``detections`` -> a "tracks" :class:`BoxTable`.

    Track ids are renumbered 1, 2, ... in order of first report (deterministic).
    """
    tracker = OCSort(params)
    frames, boxes, ids, scores = [], [], [], []
    for t in tqdm(range(detections.n_frames), desc=desc, unit="frame", disable=None):
        rows = detections.rows_of_frame(t)
        b, i, s = tracker.update(detections.box[rows], detections.score[rows])
        frames.append(np.full(len(i), t, np.int32))
        boxes.append(b)
        ids.append(i)
        scores.append(s)
    table = BoxTable.empty(detections.n_frames, detections.height, detections.width, "tracks")
    if frames:
        raw_ids = np.concatenate(ids)
        _, first = np.unique(raw_ids, return_index=True)
        order = raw_ids[np.sort(first)]
        renumber = {int(old): new for new, old in enumerate(order, start=1)}
        table.frame = np.concatenate(frames)
        table.box = np.concatenate(boxes).reshape(-1, 4)
        table.score = np.concatenate(scores)
        table.ident = np.array([renumber[int(x)] for x in raw_ids], np.int32)
    return table


def track_video(track: TrackSettings, detections_path: str | Path, out_path: str | Path) -> BoxTable:
    """Track the detections file at ``detections_path`` with the ``track`` settings; write the tracks file
    ``out_path`` and return its table (a warning line on stderr when it holds no track)."""
    detections = read_boxes(detections_path, kind="detections")
    video = str(detections.attrs.get("video") or Path(detections_path).stem)
    params = tracker_params(track, detections)
    table = track_table(detections, params, desc=f"track {video}")
    table.attrs = {k: detections.attrs[k] for k in CARRIED_ATTRS if k in detections.attrs}
    table.attrs.update(video=video, det_thresh=params.det_thresh)
    write_boxes(out_path, table)
    if len(table) == 0:
        print(f"warning: video {video}: no tracks ({len(detections)} detections in {detections.n_frames} frames, "
              f"det_thresh {params.det_thresh})", file=sys.stderr)
    return table


def _track_job(track: TrackSettings, job: PieceJob, out: Path) -> None:
    """:func:`track_video` of ``job``'s detections into ``out`` (a piece job)."""
    track_video(track, job.source, out)


def track_camera(track: TrackSettings, detections_manifest: str | Path, splits: tuple[str, ...], stamp: str,
                 folder: str | Path, manifest: str | Path, threads: int) -> tuple[int, int]:
    """The tracks of every piece of ``splits`` a camera's detections manifest lists (one job per camera,
    :mod:`ddlcore.data.piece_jobs`): ``folder/{split}/{video}.h5``, computed ``threads`` at a time, unchanged ones
    kept; then the ``manifest`` listing them. Returns (computed, kept)."""
    return run_stage_after(detections_manifest, splits, stamp, folder, manifest, threads, partial(_track_job, track), "track")
