"""Multi-object tracking metrics: CLEAR MOT accuracy (MOTA) and the identity F1 score (IDF1).

Both compare hypothesis tracks with true tracks of one video, frame by frame, counting a pair as a
match when its boxes overlap with IoU >= ``iou_threshold`` (0.5 by convention).

- MOTA (Bernardin and Stiefelhagen 2008) = 1 - (misses + false positives + identity switches) / true
  boxes. Per frame, a true object keeps last frame's hypothesis when they still match; the others
  are assigned by maximum total IoU (Hungarian). An identity switch is a true object matched to a
  different hypothesis id than at its previous match.
- IDF1 (Ristani et al. 2016) = 2 IDTP / (true boxes + hypothesis boxes), where IDTP is the number of
  matching (frame, box) pairs under the best one-to-one mapping of true ids to hypothesis ids
  (Hungarian on the per-id-pair count of matching frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..data.boxes_io import BoxTable
from .ocsort import iou_matrix


@dataclass(frozen=True)
class MOTScores:
    """Counts and scores of one comparison (see the module docstring)."""

    mota: float
    idf1: float
    true_boxes: int
    hypothesis_boxes: int
    misses: int
    false_positives: int
    id_switches: int
    idtp: int


def _frame_rows(table: BoxTable, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (k, 4) and ids (k,) of ``table`` in frame ``t``."""
    rows = table.rows_of_frame(t)
    return table.box[rows], table.ident[rows]


def mot_scores(truth: BoxTable, hypothesis: BoxTable, iou_threshold: float = 0.5) -> MOTScores:
    """MOTA and IDF1 of ``hypothesis`` tracks against ``truth`` tracks (same video, same pixel grid)."""
    n_frames = max(truth.n_frames, hypothesis.n_frames)
    misses = false_positives = switches = 0
    last_match: dict[int, int] = {}  # true id -> hypothesis id at its latest match
    pair_counts: dict[tuple[int, int], int] = {}
    for t in range(n_frames):
        tb, tid = _frame_rows(truth, t)
        hb, hid = _frame_rows(hypothesis, t)
        iou = iou_matrix(tb, hb)
        ok = iou >= iou_threshold
        # identity IoU matching for IDF1: every true/hypothesis pair overlapping enough counts once
        for i, j in zip(*np.nonzero(ok)):
            key = (int(tid[i]), int(hid[j]))
            pair_counts[key] = pair_counts.get(key, 0) + 1
        # CLEAR MOT: keep last frame's correspondences that still hold, then Hungarian on the rest
        matched_t, matched_h = np.zeros(len(tb), bool), np.zeros(len(hb), bool)
        pairs: list[tuple[int, int]] = []
        for i, true_id in enumerate(tid.tolist()):
            previous = last_match.get(true_id)
            cand = np.flatnonzero((hid == previous) & ok[i] & ~matched_h) if previous is not None else []
            if len(cand):
                pairs.append((i, int(cand[0])))
                matched_t[i] = matched_h[cand[0]] = True
        free_t, free_h = np.flatnonzero(~matched_t), np.flatnonzero(~matched_h)
        if len(free_t) and len(free_h):
            sub = np.where(ok[np.ix_(free_t, free_h)], iou[np.ix_(free_t, free_h)], 0.0)
            for r, c in zip(*linear_sum_assignment(-sub)):
                if ok[free_t[r], free_h[c]]:
                    pairs.append((int(free_t[r]), int(free_h[c])))
        for i, j in pairs:
            true_id, hyp_id = int(tid[i]), int(hid[j])
            if true_id in last_match and last_match[true_id] != hyp_id:
                switches += 1
            last_match[true_id] = hyp_id
        misses += len(tb) - len(pairs)
        false_positives += len(hb) - len(pairs)
    idtp = _best_identity_overlap(pair_counts)
    n_true, n_hyp = len(truth), len(hypothesis)
    mota = 1.0 - (misses + false_positives + switches) / n_true if n_true else float("nan")
    idf1 = 2.0 * idtp / (n_true + n_hyp) if n_true + n_hyp else float("nan")
    return MOTScores(mota, idf1, n_true, n_hyp, misses, false_positives, switches, idtp)


def _best_identity_overlap(pair_counts: dict[tuple[int, int], int]) -> int:
    """The largest total count over one-to-one (true id, hypothesis id) mappings."""
    if not pair_counts:
        return 0
    true_ids = sorted({k[0] for k in pair_counts})
    hyp_ids = sorted({k[1] for k in pair_counts})
    ti = {v: i for i, v in enumerate(true_ids)}
    hi = {v: i for i, v in enumerate(hyp_ids)}
    counts = np.zeros((len(true_ids), len(hyp_ids)))
    for (a, b), c in pair_counts.items():
        counts[ti[a], hi[b]] = c
    rows, cols = linear_sum_assignment(-counts)
    return int(counts[rows, cols].sum())
