"""Where the anomaly is: the region- and track-based detection criteria (RBDC, TBDC) of Street Scene
(Ramachandra and Jones, WACV 2020) and event localisation.

Ground truth, per test video, from its pixel masks:

- regions: the 8-connected components of each frame's mask of at least ``metrics.region_min_pixels``
  pixels, as bounding boxes;
- tracks: regions linked over consecutive frames. The regions of frame t are matched one-to-one to
  those of frame t-1, greedily by box IoU (highest first), a pair needing IoU >= ``metrics.track_link_iou``;
  a matched region continues its track, an unmatched one starts a new track (a frame without the
  region ends it).

Detections are the regions of a region file (:mod:`ddlcore.score.regions`), on the valid frames.
At a score threshold, the detections at or above it are matched per frame, in descending score,
each to the still unmatched ground-truth region of highest IoU, when that IoU is >= ``metrics.region_iou``
(each ground-truth region is matched once). A matched detection is a true positive, any other a
false positive. Matching in score order makes a lower threshold add matches and never undo one, so
the whole curve comes from one pass over the detections sorted by score.

- region detection rate: true-positive regions / ground-truth regions;
- track detection rate: tracks at least ``metrics.track_fraction`` of whose regions are detected / tracks;
- false-positive rate: false-positive regions / test frames (all valid frames of all videos);
- RBDC, TBDC: the area under the detection rate against the false-positive rate for false positives
  per frame in [0, 1] (trapezoids; past the last detection the rate stays at its last value), in [0, 1].

Event localisation, at the calibrated threshold: of the events whose frame has ground-truth
regions, the share whose box has IoU >= ``metrics.region_iou`` with one of them, at the frame that
confirms the event and at its peak frame.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from scipy import ndimage

from .settings import MetricsSettings

if TYPE_CHECKING:
    from ..alarm.events import Event
    from ..score.regions import RegionTable

#: RBDC and TBDC are defined over false positives per frame in [0, FP_RATE_LIMIT]
FP_RATE_LIMIT = 1.0
_EIGHT_CONNECTED = np.ones((3, 3), bool)


@dataclass(frozen=True)
class LocalisationCriteria:
    """The overlap rules of RBDC, TBDC and event localisation (see the module docstring)."""

    region_iou: float
    track_fraction: float
    track_link_iou: float
    region_min_pixels: int

    @classmethod
    def from_settings(cls, metrics: MetricsSettings) -> "LocalisationCriteria":
        """The criteria of the ``metrics`` settings."""
        return cls(float(metrics.region_iou), float(metrics.track_fraction),
                   float(metrics.track_link_iou), int(metrics.region_min_pixels))


@dataclass(frozen=True)
class TruthRegions:
    """Ground truth of one video: per frame, boxes float32 (K_t, 4) x0, y0, x1, y1 and track ids int64 (K_t,)."""

    boxes: list[np.ndarray]
    tracks: list[np.ndarray]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes a (A, 4) and b (B, 4), x0, y0, x1, y1 (x1, y1 exclusive) -> float64 (A, B)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    w = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    h = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = w * h
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def mask_regions(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    """Ground-truth regions of one frame: mask (H, W) 0/1 -> float32 (K, 4) boxes of its 8-connected
    components of at least ``min_pixels`` pixels."""
    groups, count = ndimage.label(np.asarray(mask) != 0, structure=_EIGHT_CONNECTED)
    if count == 0:
        return np.zeros((0, 4), np.float32)
    sizes = np.bincount(groups.ravel(), minlength=count + 1)[1:]
    boxes = [[sl[1].start, sl[0].start, sl[1].stop, sl[0].stop]
             for sl, size in zip(ndimage.find_objects(groups), sizes) if size >= min_pixels]
    return np.array(boxes, np.float32).reshape(len(boxes), 4)


def greedy_pairs(iou: np.ndarray, minimum: float) -> list[tuple[int, int]]:
    """One-to-one (row, column) pairs of an IoU matrix, highest IoU first, each pair's IoU >= ``minimum``."""
    pairs, rows, cols = [], set(), set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        r, c = np.unravel_index(flat, iou.shape)
        if iou[r, c] < minimum:
            break
        if r not in rows and c not in cols:
            pairs.append((int(r), int(c)))
            rows.add(r)
            cols.add(c)
    return pairs


def link_tracks(boxes: Sequence[np.ndarray], link_iou: float) -> list[np.ndarray]:
    """Track ids of the regions of consecutive frames (rule in the module docstring).

    boxes: per frame float (K_t, 4). Returns per frame int64 (K_t,), ids numbered from 0 in order of appearance.
    """
    tracks: list[np.ndarray] = []
    next_id = 0
    previous = np.zeros((0, 4), np.float32)
    for t, current in enumerate(boxes):
        ids = np.full(len(current), -1, np.int64)
        if t > 0 and len(current) and len(previous):
            for r, c in greedy_pairs(box_iou(current, previous), link_iou):
                ids[r] = tracks[t - 1][c]
        for i in np.flatnonzero(ids < 0):
            ids[i], next_id = next_id, next_id + 1
        tracks.append(ids)
        previous = current
    return tracks


def truth_regions(masks: np.ndarray, criteria: LocalisationCriteria) -> TruthRegions:
    """Ground-truth regions and tracks of one video from its pixel masks uint8 (N, H, W)."""
    boxes = [mask_regions(m, criteria.region_min_pixels) for m in masks]
    return TruthRegions(boxes, link_tracks(boxes, criteria.track_link_iou))


def match_frame(det_boxes: np.ndarray, truth_boxes: np.ndarray, region_iou: float) -> np.ndarray:
    """Match one frame's detections, given highest score first, to its ground-truth regions.

    Each detection in turn takes the unmatched region of highest IoU when that IoU is >= ``region_iou``.
    Returns int64 (D,): the index of the matched region, -1 for a false positive.
    """
    matched = np.full(len(det_boxes), -1, np.int64)
    if len(det_boxes) == 0 or len(truth_boxes) == 0:
        return matched
    iou = box_iou(det_boxes, truth_boxes)
    free = np.ones(len(truth_boxes), bool)
    for d in range(len(det_boxes)):
        candidates = np.where(free & (iou[d] >= region_iou), iou[d], -1.0)
        best = int(np.argmax(candidates))
        if candidates[best] >= 0:
            matched[d], free[best] = best, False
    return matched


def curve_area(fp_rate: np.ndarray, rate: np.ndarray, limit: float = FP_RATE_LIMIT) -> float:
    """Area under a detection-rate curve for false positives per frame in [0, limit], divided by ``limit``.

    fp_rate, rate: (P,) points in increasing fp_rate, starting at (0, 0); trapezoids, cut at ``limit``
    by interpolation, the last rate held to ``limit``.
    """
    x, y = np.asarray(fp_rate, np.float64), np.asarray(rate, np.float64)
    if x[-1] > limit:
        cut = int(np.searchsorted(x, limit, side="right"))
        x, y = np.append(x[:cut], limit), np.append(y[:cut], np.interp(limit, x, y))
    else:
        x, y = np.append(x, limit), np.append(y, y[-1])
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2) / limit)


def detection_criteria(videos: dict[str, tuple[TruthRegions, RegionTable, np.ndarray]],
                       criteria: LocalisationCriteria) -> dict[str, Any]:
    """RBDC and TBDC of one run over all its videos.

    videos: {name: (truth, regions, valid bool (N,))}; regions is the video's
    :class:`ddlcore.score.regions.RegionTable` (scores as they are to be thresholded). Returns rbdc,
    tbdc (fractions, None without ground-truth regions / tracks), the counts and the curves' points
    (fp_rate, region_rate, track_rate lists, up to the first point past 1 false positive per frame).
    """
    scores, hits = [], []  # per detection: score, (video, track) of its matched region or None
    n_frames = n_regions = 0
    track_sizes: dict[tuple[str, int], int] = defaultdict(int)
    for name, (truth, table, valid) in videos.items():
        for t in np.flatnonzero(valid):
            n_frames += 1
            n_regions += len(truth.boxes[t])
            for track in truth.tracks[t]:
                track_sizes[(name, int(track))] += 1
            boxes, frame_scores = table.frame(int(t))
            matched = match_frame(boxes, truth.boxes[t], criteria.region_iou)
            for s, m in zip(frame_scores, matched):
                scores.append(float(s))
                hits.append(None if m < 0 else (name, int(truth.tracks[t][m])))
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    fp = tp = 0
    detected: dict[tuple[str, int], int] = defaultdict(int)
    found_tracks: set[tuple[str, int]] = set()
    points = [(0.0, 0, 0)]
    for k, i in enumerate(order):
        hit = hits[i]
        if hit is None:
            fp += 1
        else:
            tp += 1
            detected[hit] += 1
            if detected[hit] >= criteria.track_fraction * track_sizes[hit] - 1e-9:
                found_tracks.add(hit)
        if k + 1 == len(order) or scores[order[k + 1]] != scores[i]:  # equal scores enter together
            points.append((fp / max(n_frames, 1), tp, len(found_tracks)))
    fp_rate = np.array([p[0] for p in points])
    region_rate = np.array([p[1] for p in points], np.float64) / max(n_regions, 1)
    track_rate = np.array([p[2] for p in points], np.float64) / max(len(track_sizes), 1)
    shown = slice(0, int(np.searchsorted(fp_rate, FP_RATE_LIMIT, side="right")) + 1)
    return {
        "rbdc": curve_area(fp_rate, region_rate) if n_regions else None,
        "tbdc": curve_area(fp_rate, track_rate) if track_sizes else None,
        "truth_regions": n_regions, "truth_tracks": len(track_sizes), "test_frames": n_frames,
        "detections": len(scores),
        "curve": {"fp_rate": fp_rate[shown].round(5).tolist(), "region_rate": region_rate[shown].round(5).tolist(),
                  "track_rate": track_rate[shown].round(5).tolist()},
    }


def event_localisation(events: Sequence[Event], boxes: np.ndarray, truth: TruthRegions,
                       criteria: LocalisationCriteria) -> dict[str, int]:
    """Counts of one video's events localised at their confirming and peak frames.

    events: :class:`ddlcore.alarm.events.Event` list; boxes int (N, 4) each frame's worst-patch box
    (the live scores file's ``boxes``). Returns on_anomaly_confirmed / localised_confirmed (events whose
    confirming frame has ground-truth regions / of those, box IoU >= region_iou with one) and the same at the peak.
    """
    counts = {"on_anomaly_confirmed": 0, "localised_confirmed": 0, "on_anomaly_peak": 0, "localised_peak": 0}
    for e in events:
        for moment, frame, box in (("confirmed", e.confirmed, boxes[e.confirmed] if e.confirmed >= 0 else None),
                                   ("peak", e.peak_frame, e.box)):
            if frame < 0 or not len(truth.boxes[frame]):
                continue
            counts[f"on_anomaly_{moment}"] += 1
            has_box = box is not None and len(box) == 4 and min(box) >= 0
            if has_box and box_iou(np.asarray(box)[None], truth.boxes[frame]).max() >= criteria.region_iou:
                counts[f"localised_{moment}"] += 1
    return counts
