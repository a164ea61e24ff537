"""OC-SORT: observation-centric SORT (Cao et al., CVPR 2023), with filterpy's Kalman filter and lap's LAPJV.

Each track is a constant-velocity Kalman filter over the 7-d state (cx, cy, s, r, vcx, vcy, vs):
box centre, area s = w * h, aspect r = w / h (held constant), and the velocities of cx, cy and s.
Per frame (:meth:`OCSort.update`):

1. every track predicts its box (a track whose prediction is not finite is dropped);
2. first association of the high-score detections (score >= ``det_thresh``) to the predictions:
   LAPJV on -(IoU + OCM), where the observation-centric momentum (OCM) cost is, per pair,
   ``inertia * detection score * (pi/2 - |angle|) / pi`` with ``angle`` between the track's
   motion direction (from its observation ``delta_t`` steps back to its latest observation) and the
   direction from that older observation to the detection; pairs below ``iou_threshold`` are undone;
3. optional BYTE: low-score detections (``low_thresh`` <= score < ``det_thresh``) to the tracks left
   over, by IoU with their predictions;
4. observation-centric recovery (OCR): leftover high-score detections to the leftover tracks' last
   observations, by IoU;
5. a track re-associated after a gap gets the observation-centric re-update (ORU): its filter is rolled
   back to the step after its last observation and re-run along a virtual straight path (centre, width
   and height linear in time) from the last observation to the new one;
6. unmatched high-score detections start tracks; tracks unmatched for more than ``max_age`` frames end.

A track is reported in a frame only when it was observed in that frame and has been observed in
``min_hits`` consecutive frames after its first (the first ``min_hits`` frames of a video report every
observed track), with the observed detection box, as the authors' reference code does. Differences from
the reference code, all deliberate: the birth detection counts as an observation for the motion
direction; ORU applies the new observation once (the reference applies it a second time after the
virtual path); track ids count only this tracker's tracks, from 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import lap
import numpy as np
from filterpy.kalman import KalmanFilter

_F = np.eye(7)
_F[0, 4] = _F[1, 5] = _F[2, 6] = 1.0
_H = np.eye(4, 7)


@dataclass(frozen=True)
class OCSortParams:
    """Tracker settings (the ``track:`` config section, with ``det_thresh`` resolved to a number)."""

    det_thresh: float = 0.5
    max_age: int = 30
    min_hits: int = 3
    iou_threshold: float = 0.3
    delta_t: int = 3
    inertia: float = 0.2
    use_byte: bool = False
    low_thresh: float = 0.1


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes a (n, 4) and b (m, 4), x_min, y_min, x_max, y_max -> float64 (n, m)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)[:, None, :]
    b = np.asarray(b, np.float64).reshape(-1, 4)[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0.0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0.0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-12)


def unit_directions(origins: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Unit vectors (dy, dx) between box centres: origins (n, 4), targets (m, 4) -> (n, m, 2).

    Coincident centres give the zero vector.
    """
    oc = (origins[:, None, :2] + origins[:, None, 2:]) / 2.0
    tc = (targets[None, :, :2] + targets[None, :, 2:]) / 2.0
    d = (tc - oc)[..., ::-1]
    return d / (np.linalg.norm(d, axis=-1, keepdims=True) + 1e-6)


def linear_assignment(cost: np.ndarray) -> np.ndarray:
    """Minimum-cost assignment of a (n, m) cost matrix with LAPJV -> int (p, 2) (row, column) pairs."""
    if cost.size == 0:
        return np.zeros((0, 2), int)
    _, x, _ = lap.lapjv(cost, extend_cost=True)
    rows = np.flatnonzero(x >= 0)
    return np.stack([rows, x[rows]], axis=1)


def _box_to_z(box: np.ndarray) -> np.ndarray:
    """Box (4,) x_min, y_min, x_max, y_max -> measurement (4, 1) cx, cy, s, r."""
    w, h = box[2] - box[0], box[3] - box[1]
    return np.array([[box[0] + w / 2.0], [box[1] + h / 2.0], [w * h], [w / (h + 1e-6)]])


def _state_to_box(x: np.ndarray) -> np.ndarray:
    """Kalman state (7, 1) -> box (4,) x_min, y_min, x_max, y_max (NaN when area * aspect <= 0)."""
    cx, cy, s, r = float(x[0, 0]), float(x[1, 0]), float(x[2, 0]), float(x[3, 0])
    if not s * r > 0:
        return np.full(4, np.nan)
    w = math.sqrt(s * r)
    h = s / w
    return np.array([cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0])


def _direction(origin: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Unit vector (dy, dx) from the centre of box ``origin`` (4,) to that of ``target`` (4,)."""
    dx = (target[0] + target[2] - origin[0] - origin[2]) / 2.0
    dy = (target[1] + target[3] - origin[1] - origin[3]) / 2.0
    norm = math.hypot(dx, dy) + 1e-6
    return np.array([dy / norm, dx / norm])


class _Track:
    """One object: its Kalman filter, its observations and the counters of the SORT family."""

    def __init__(self, box: np.ndarray, score: float, track_id: int, delta_t: int) -> None:
        kf = KalmanFilter(dim_x=7, dim_z=4)
        kf.F = _F.copy()
        kf.H = _H.copy()
        kf.R[2:, 2:] *= 10.0
        kf.P[4:, 4:] *= 1000.0
        kf.P *= 10.0
        kf.Q[-1, -1] *= 0.01
        kf.Q[4:, 4:] *= 0.01
        kf.x[:4] = _box_to_z(box)
        self.kf = kf
        self.id = track_id
        self.delta_t = delta_t
        self.age = 0
        self.hits = 0
        self.hit_streak = 0
        self.time_since_update = 0
        self.last_box = box
        self.last_score = score
        self.observations: dict[int, np.ndarray] = {0: box}
        self.velocity = np.zeros(2)
        self._frozen: tuple[np.ndarray, np.ndarray] | None = None

    def predict(self) -> np.ndarray:
        """Advance one frame; return the predicted box (4,)."""
        if self.kf.x[6, 0] + self.kf.x[2, 0] <= 0:
            self.kf.x[6, 0] = 0.0
        self.kf.predict()
        self.age += 1
        if self.time_since_update > 0:
            self.hit_streak = 0
        self.time_since_update += 1
        return _state_to_box(self.kf.x)

    def previous_observation(self) -> np.ndarray:
        """The observation ``delta_t`` steps back (or the nearest later one within delta_t, else the last)."""
        for dt in range(self.delta_t, 0, -1):
            box = self.observations.get(self.age - dt)
            if box is not None:
                return box
        return self.last_box

    def mark_missed(self) -> None:
        """No detection this frame: keep the state of the step after the last observation for ORU."""
        if self._frozen is None:
            self._frozen = (self.kf.x.copy(), self.kf.P.copy())

    def update(self, box: np.ndarray, score: float) -> None:
        """Observe ``box`` (4,) in the current frame (after :meth:`predict`)."""
        self.velocity = _direction(self.previous_observation(), box)
        if self._frozen is not None:
            self._re_update(box)
        else:
            self.kf.update(_box_to_z(box))
        self.last_box = box
        self.last_score = score
        self.observations = {a: b for a, b in self.observations.items() if a >= self.age - self.delta_t}
        self.observations[self.age] = box
        self.time_since_update = 0
        self.hits += 1
        self.hit_streak += 1

    def _re_update(self, box: np.ndarray) -> None:
        """ORU: re-run the filter from the step after the last observation along a straight virtual path."""
        gap = self.time_since_update
        self.kf.x, self.kf.P = self._frozen
        self._frozen = None
        (x1, y1, s1, r1), (x2, y2, s2, r2) = _box_to_z(self.last_box)[:, 0], _box_to_z(box)[:, 0]
        w1, h1 = np.sqrt(s1 * r1), np.sqrt(s1 / r1)
        w2, h2 = np.sqrt(s2 * r2), np.sqrt(s2 / r2)
        for k in range(1, gap + 1):
            f = k / gap
            x, y = x1 + f * (x2 - x1), y1 + f * (y2 - y1)
            w, h = w1 + f * (w2 - w1), h1 + f * (h2 - h1)
            self.kf.update(np.array([[x], [y], [w * h], [w / h]]))
            if k < gap:
                self.kf.predict()


def associate(
    boxes: np.ndarray,
    scores: np.ndarray,
    predicted: np.ndarray,
    velocities: np.ndarray,
    previous: np.ndarray,
    iou_threshold: float,
    inertia: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OC-SORT's first association (IoU + OCM).

    boxes (k, 4) and scores (k,) of detections; predicted (n, 4) track boxes; velocities (n, 2) unit
    (dy, dx) track motion directions (zero = unknown); previous (n, 4) each track's observation
    ``delta_t`` steps back. Returns (matches int (p, 2) of (detection, track), unmatched detection
    indices, unmatched track indices).
    """
    k, n = len(boxes), len(predicted)
    if k == 0 or n == 0:
        return np.zeros((0, 2), int), np.arange(k), np.arange(n)
    iou = iou_matrix(boxes, predicted)
    directions = unit_directions(previous, boxes)  # (n, k, 2)
    cos = np.clip(np.einsum("nkc,nc->nk", directions, velocities), -1.0, 1.0)
    angle_cost = (np.pi / 2.0 - np.arccos(cos)) / np.pi  # zero for tracks without a direction yet
    ocm = inertia * angle_cost.T * scores[:, None]
    above = iou > iou_threshold
    if above.sum(axis=1).max() == 1 and above.sum(axis=0).max() == 1:
        pairs = np.argwhere(above)
    else:
        pairs = linear_assignment(-(iou + ocm))
    return _split_matches(pairs, iou, iou_threshold, k, n)


def _split_matches(pairs: np.ndarray, iou: np.ndarray, threshold: float, k: int, n: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep pairs with IoU >= threshold; return (matches, unmatched rows, unmatched columns)."""
    pairs = pairs[iou[pairs[:, 0], pairs[:, 1]] >= threshold]
    free_rows, free_cols = np.ones(k, bool), np.ones(n, bool)
    free_rows[pairs[:, 0]] = False
    free_cols[pairs[:, 1]] = False
    return pairs, np.flatnonzero(free_rows), np.flatnonzero(free_cols)


def _match_by_iou(boxes: np.ndarray, track_boxes: np.ndarray, threshold: float) -> np.ndarray:
    """IoU-only matching used by BYTE and OCR -> int (p, 2) (row, column) pairs with IoU >= threshold."""
    if len(boxes) == 0 or len(track_boxes) == 0:
        return np.zeros((0, 2), int)
    iou = iou_matrix(boxes, track_boxes)
    if iou.max() <= threshold:
        return np.zeros((0, 2), int)
    return _split_matches(linear_assignment(-iou), iou, threshold, *iou.shape)[0]


class OCSort:
    """Online OC-SORT over one video: call :meth:`update` once per frame, in order."""

    def __init__(self, params: OCSortParams) -> None:
        self.params = params
        self.tracks: list[_Track] = []
        self.frame_count = 0
        self._next_id = 1

    def update(self, boxes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Feed one frame's detections: boxes (k, 4) x_min, y_min, x_max, y_max and scores (k,).

        Returns the tracks reported in this frame: boxes float32 (m, 4), track ids int32 (m,) (>= 1)
        and scores float32 (m,) of the detections they were observed with.
        """
        p = self.params
        self.frame_count += 1
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        scores = np.asarray(scores, np.float64).reshape(-1)
        high = scores >= p.det_thresh
        low = (scores >= p.low_thresh) & ~high
        det_boxes, det_scores = boxes[high], scores[high]

        predicted = np.array([trk.predict() for trk in self.tracks]).reshape(-1, 4)
        finite = np.isfinite(predicted).all(axis=1)
        if not finite.all():
            self.tracks = [t for t, ok in zip(self.tracks, finite) if ok]
            predicted = predicted[finite]
        tracks = self.tracks
        velocities = np.array([t.velocity for t in tracks]).reshape(-1, 2)
        previous = np.array([t.previous_observation() for t in tracks]).reshape(-1, 4)
        last_boxes = np.array([t.last_box for t in tracks]).reshape(-1, 4)

        matches, free_dets, free_trks = associate(
            det_boxes, det_scores, predicted, velocities, previous, p.iou_threshold, p.inertia)
        for d, t in matches:
            tracks[t].update(det_boxes[d], float(det_scores[d]))

        if p.use_byte and low.any() and len(free_trks):
            low_boxes, low_scores = boxes[low], scores[low]
            pairs = _match_by_iou(low_boxes, predicted[free_trks], p.iou_threshold)
            for d, t in pairs:
                tracks[free_trks[t]].update(low_boxes[d], float(low_scores[d]))
            free_trks = np.delete(free_trks, pairs[:, 1])

        if len(free_dets) and len(free_trks):
            pairs = _match_by_iou(det_boxes[free_dets], last_boxes[free_trks], p.iou_threshold)
            for d, t in pairs:
                tracks[free_trks[t]].update(det_boxes[free_dets[d]], float(det_scores[free_dets[d]]))
            free_dets = np.delete(free_dets, pairs[:, 0])
            free_trks = np.delete(free_trks, pairs[:, 1])

        for t in free_trks:
            tracks[t].mark_missed()
        for d in free_dets:
            tracks.append(_Track(det_boxes[d], float(det_scores[d]), self._next_id, p.delta_t))
            self._next_id += 1

        young_video = self.frame_count <= p.min_hits
        reported = [t for t in tracks
                    if t.time_since_update == 0 and (t.hit_streak >= p.min_hits or young_video)]
        self.tracks = [t for t in tracks if t.time_since_update <= p.max_age]
        return (np.array([t.last_box for t in reported], np.float32).reshape(-1, 4),
                np.array([t.id for t in reported], np.int32),
                np.array([t.last_score for t in reported], np.float32))
