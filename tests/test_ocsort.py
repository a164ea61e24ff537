"""OC-SORT on numpy-generated trajectories with known identities, and the MOT metrics."""

from __future__ import annotations

import numpy as np
import pytest

from ddlcore.data.boxes_io import BoxTable
from ddlcore.track.evaluation import mot_scores
from ddlcore.track.ocsort import OCSort, OCSortParams, iou_matrix


def box(cx: float, cy: float, w: float = 20.0, h: float = 40.0) -> list[float]:
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def run(frames: list[list[list[float]]], params: OCSortParams = OCSortParams(), scores=None):
    """Feed per-frame box lists; return per frame {track id: box centre x}."""
    tracker = OCSort(params)
    out = []
    for t, boxes in enumerate(frames):
        b = np.array(boxes, float).reshape(-1, 4)
        s = np.ones(len(b)) if scores is None else np.asarray(scores[t], float)
        rb, ids, _ = tracker.update(b, s)
        out.append({int(i): float((r[0] + r[2]) / 2) for r, i in zip(rb, ids)})
    return out, tracker


def test_iou_matrix_hand_values():
    a = np.array([[0, 0, 10, 10], [0, 0, 2, 2]], float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]], float)
    expected = np.array([[50 / 150, 0, 1], [0, 0, 4 / 100]])
    np.testing.assert_allclose(iou_matrix(a, b), expected)
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


def test_identity_kept_through_occlusion_shorter_than_max_age():
    # one object at 2 px/frame, missed for 20 frames (< max_age 30)
    frames = [[] if 30 <= t < 50 else [box(20 + 2 * t, 60)] for t in range(80)]
    out, _ = run(frames)
    ids = {i for frame in out for i in frame}
    assert ids == {1}
    assert all(out[t] == {} for t in range(30, 50))
    # reported again once seen min_hits times after the gap, at the detected position
    assert out[53] == {1: pytest.approx(20 + 2 * 53)}


def test_new_identity_after_gap_longer_than_max_age():
    frames = [[] if 30 <= t < 65 else [box(20 + 2 * t, 60)] for t in range(90)]
    out, _ = run(frames, OCSortParams(max_age=30))
    before = {i for frame in out[:30] for i in frame}
    after = {i for frame in out[65:] for i in frame}
    assert before == {1} and after == {2}


def _kalman_after(frames: list[list[list[float]]]):
    tracker = OCSort(OCSortParams())
    for boxes in frames:
        tracker.update(np.array(boxes, float).reshape(-1, 4), np.ones(len(boxes)))
    (trk,) = tracker.tracks
    return trk


def test_oru_equals_filtering_along_the_virtual_path():
    # 1 px/frame up to frame 29, missed in frames 30-34, seen at 4 px/frame from frame 35: after
    # re-association the filter must be exactly the one that had observed the straight path
    # 129 -> 153 in the missed frames (which here is the true path)
    xs = [100 + t for t in range(30)] + [129 + 4 * k for k in range(1, 8)]
    seen = [[box(x, 60, 40, 80)] for x in xs]
    gap = [[] if 30 <= t < 35 else b for t, b in enumerate(seen)]
    oru, path = _kalman_after(gap[:36]), _kalman_after(seen[:36])
    assert oru.time_since_update == 0 and oru.id == path.id == 1
    np.testing.assert_allclose(oru.kf.x, path.kf.x, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(oru.kf.P, path.kf.P, rtol=1e-9, atol=1e-9)
    # and it is not what plain filtering through the gap gives
    plain = OCSort(OCSortParams())
    for t, boxes in enumerate(gap[:36]):
        if t == 35:
            plain.tracks[0]._frozen = None  # forget the frozen state: no re-update
        plain.update(np.array(boxes, float).reshape(-1, 4), np.ones(len(boxes)))
    assert not np.allclose(plain.tracks[0].kf.P, path.kf.P, rtol=1e-3)


def crossing_frames() -> tuple[list[list[list[float]]], float]:
    """Two 30x60 objects on one row, A from the left and B from the right at 1 px/frame, centres 12 px
    apart at frame 39. The detector misses both for frames 40-42 while they pass each other and speed
    up to 4 px/frame; from frame 43 A is 16 px right of the crossing point and B 16 px left of it.
    The tracks' Kalman predictions (still 1 px/frame) are then nearer the other object's detection
    (IoU 0.58 against 0.43), so IoU alone swaps them; their motion directions do not."""
    c, frames = 200.0, []
    for t in range(40):
        frames.append([box(c - 6 - (39 - t), 100, 30, 60), box(c + 6 + (39 - t), 100, 30, 60)])
    frames += [[], [], []]
    for k in range(20):
        frames.append([box(c + 10 + 4 * k, 100, 30, 60), box(c - 10 - 4 * k, 100, 30, 60)])
    return frames, c


def _side_of_ids(out, c):
    first = {i: x < c for i, x in out[39].items()}  # True = left of the crossing
    last = {i: x < c for i, x in out[-1].items()}
    return first, last


def test_crossing_objects_keep_identity_thanks_to_direction_cost():
    frames, c = crossing_frames()
    out, _ = run(frames, OCSortParams(inertia=0.2))
    first, last = _side_of_ids(out, c)
    assert len(first) == 2 and set(first) == set(last)
    assert all(first[i] != last[i] for i in first)  # each object ended on the other side: ids kept
    out0, _ = run(frames, OCSortParams(inertia=0.0))
    first0, last0 = _side_of_ids(out0, c)
    assert set(first0) == set(last0) and len(first0) == 2
    assert all(first0[i] == last0[i] for i in first0)  # without OCM the ids swapped


def test_output_held_back_until_min_hits_except_first_frames():
    # object A from frame 0; object B born at frame 10
    frames = [[box(30 + t, 40)] + ([box(150, 40 + t)] if t >= 10 else []) for t in range(20)]
    out, _ = run(frames, OCSortParams(min_hits=3))
    a_frames = [t for t, f in enumerate(out) if 1 in f]
    b_frames = [t for t, f in enumerate(out) if 2 in f]
    assert a_frames == list(range(20))  # reported from frame 0: the video's first min_hits frames
    assert b_frames == list(range(13, 20))  # born at 10, reported once matched 3 more times


def test_empty_frames_and_output_types():
    out, tracker = run([[] for _ in range(5)])
    assert out == [{}] * 5
    boxes, ids, scores = tracker.update(np.zeros((0, 4)), np.zeros(0))
    assert boxes.shape == (0, 4) and boxes.dtype == np.float32
    assert ids.shape == (0,) and ids.dtype == np.int32 and scores.dtype == np.float32
    frames = [[]] * 3 + [[box(50 + 2 * t, 50)] for t in range(6)] + [[]] * 3
    out, _ = run(frames)
    # the empty frames count as the video's first frames: the object is held back until min_hits
    assert [sorted(f) for f in out] == [[]] * 6 + [[1]] * 3 + [[]] * 3


def test_byte_keeps_track_on_low_score_detections():
    frames = [[box(40 + 2 * t, 60)] for t in range(30)]
    scores = [[0.9] if not 12 <= t < 18 else [0.3] for t in range(30)]
    with_byte, _ = run(frames, OCSortParams(use_byte=True, det_thresh=0.5, low_thresh=0.1), scores)
    without, _ = run(frames, OCSortParams(use_byte=False, det_thresh=0.5), scores)
    assert all(f == {1: pytest.approx(40 + 2 * t)} for t, f in enumerate(with_byte))
    assert all(without[t] == {} for t in range(12, 18))
    assert {i for f in without for i in f} == {1}


def random_scene(seed: int, n_objects: int = 12, n_frames: int = 120):
    rng = np.random.default_rng(seed)
    start = rng.uniform(50, 550, (n_objects, 2))
    vel = rng.uniform(-3, 3, (n_objects, 2))
    frames, scores = [], []
    for t in range(n_frames):
        centres = start + vel * t + rng.normal(0, 0.7, (n_objects, 2))
        keep = rng.random(n_objects) > 0.1
        frames.append([box(x, y, 24, 48) for (x, y), k in zip(centres, keep) if k])
        scores.append(rng.uniform(0.3, 1.0, int(keep.sum())))
    return frames, scores


def test_second_run_gives_identical_output():
    frames, scores = random_scene(3)
    params = OCSortParams(use_byte=True, det_thresh=0.6)
    results = []
    for _ in range(2):
        tracker = OCSort(params)
        results.append([tracker.update(np.array(f).reshape(-1, 4), s) for f, s in zip(frames, scores)])
    for a, b in zip(*results):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert sum(len(r[1]) for r in results[0]) > 500


def table(rows: list[tuple[int, int, list[float]]], n_frames: int) -> BoxTable:
    rows = sorted(rows, key=lambda r: r[0])
    t = BoxTable.empty(n_frames, 100, 100, "tracks")
    t.frame = np.array([r[0] for r in rows], np.int32)
    t.ident = np.array([r[1] for r in rows], np.int32)
    t.box = np.array([r[2] for r in rows], np.float32).reshape(-1, 4)
    t.score = np.ones(len(rows), np.float32)
    return t


def test_mot_scores_hand_made_case():
    a = [[0, 0, 10, 10], [1, 0, 11, 10], [2, 0, 12, 10], [3, 0, 13, 10]]
    b = [[50, 50, 60, 60]] * 4
    truth = table([(t, 1, a[t]) for t in range(4)] + [(t, 2, b[t]) for t in range(4)], 4)
    # A: hypothesis 7 in frames 0-1, then 8 in frames 2-3 (one switch); B: missed in frame 3;
    # one false positive in frame 1
    hyp = table([(0, 7, a[0]), (1, 7, a[1]), (2, 8, a[2]), (3, 8, a[3]),
                 (0, 9, b[0]), (1, 9, b[1]), (2, 9, b[2]), (1, 5, [80, 80, 90, 90])], 4)
    s = mot_scores(truth, hyp)
    assert (s.misses, s.false_positives, s.id_switches) == (1, 1, 1)
    assert s.mota == pytest.approx(1 - 3 / 8)
    # best identity mapping: 1->7 (or 8) covers 2 frames, 2->9 covers 3 frames: IDTP 5
    assert s.idtp == 5
    assert s.idf1 == pytest.approx(2 * 5 / (8 + 8))
    perfect = mot_scores(truth, truth)
    assert perfect.mota == 1.0 and perfect.idf1 == 1.0
