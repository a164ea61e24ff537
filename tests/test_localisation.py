"""Region detections from error maps, RBDC / TBDC on hand-built cases, event localisation, and the
region file written by ``ddl score`` feeding the AUC table."""

from __future__ import annotations

import json
from dataclasses import replace

import h5py
import numpy as np
import pytest

from ddlcore.alarm.events import Event
from ddlcore.config import load_config
from ddlcore.evaluate.localisation import (
    LocalisationCriteria,
    TruthRegions,
    box_iou,
    curve_area,
    detection_criteria,
    event_localisation,
    link_tracks,
    mask_regions,
    match_frame,
    truth_regions,
)
from ddlcore.evaluate.settings import MetricsSettings
from ddlcore.score.regions import (
    RegionSettings,
    RegionTable,
    frame_regions,
    read_regions,
    regions_path,
    video_regions,
)
from ddlcore.score.settings import ScoreSettings

CRITERIA = LocalisationCriteria(region_iou=0.1, track_fraction=0.1, track_link_iou=0.1, region_min_pixels=1)
BOX = [10.0, 10.0, 20.0, 20.0]
FAR = [40.0, 40.0, 50.0, 50.0]


def table(per_frame):
    """RegionTable from per frame [(box, score), ...]."""
    counts = [len(f) for f in per_frame]
    boxes = [b for f in per_frame for b, _ in f]
    scores = [s for f in per_frame for _, s in f]
    return RegionTable(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                       np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32))


def one_object(n, frames_with_object=None):
    """Ground truth: one object in the given frames (all by default), one track."""
    present = range(n) if frames_with_object is None else frames_with_object
    boxes = [np.array([BOX], np.float32) if t in present else np.zeros((0, 4), np.float32) for t in range(n)]
    return TruthRegions(boxes, link_tracks(boxes, CRITERIA.track_link_iou))


def criteria_of(truth, regions):
    return detection_criteria({"v": (truth, regions, np.ones(len(truth.boxes), bool))}, CRITERIA)


def test_box_iou_by_hand():
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]]))
    assert np.allclose(iou, [[50 / 150, 0.0, 1.0]])


def test_perfect_detector_gives_one():
    n = 20
    result = criteria_of(one_object(n), table([[(BOX, 1.0 + t)] for t in range(n)]))
    assert result["rbdc"] == pytest.approx(1.0) and result["tbdc"] == pytest.approx(1.0)
    assert result["truth_regions"] == n and result["truth_tracks"] == 1


def test_detector_off_the_anomaly_gives_zero():
    n = 20
    result = criteria_of(one_object(n), table([[(FAR, 1.0 + t)] for t in range(n)]))
    assert result["rbdc"] == 0.0 and result["tbdc"] == 0.0


def test_one_false_positive_per_frame_halves():
    # each frame: the true region and one false positive of the same score; scores differ between frames,
    # so false positives per frame and the detection rate rise together: the diagonal, area 1/2.
    # 20 one-frame videos: 20 tracks, each detected with its frame
    videos = {f"v{t}": (one_object(1), table([[(BOX, 1.0 + t), (FAR, 1.0 + t)]]), np.ones(1, bool)) for t in range(20)}
    result = detection_criteria(videos, CRITERIA)
    assert result["truth_tracks"] == 20
    assert result["rbdc"] == pytest.approx(0.5) and result["tbdc"] == pytest.approx(0.5)
    # one 20-frame track: detected from its 2nd region (10%), at 0.1 false positives per frame:
    # area 0.05 * 1/2 (from 0.05 to 0.1) + 0.9
    single = criteria_of(one_object(20), table([[(BOX, 1.0 + t), (FAR, 1.0 + t)] for t in range(20)]))
    assert single["rbdc"] == pytest.approx(0.5) and single["tbdc"] == pytest.approx(0.925)


def test_false_positives_ranked_below_the_truth_cost_nothing_above_it_everything():
    n = 10
    below = criteria_of(one_object(n), table([[(BOX, 10.0 + t), (FAR, 1.0)] for t in range(n)]))
    above = criteria_of(one_object(n), table([[(FAR, 100.0 + t), (BOX, 1.0)] for t in range(n)]))
    assert below["rbdc"] == pytest.approx(1.0)
    assert above["rbdc"] == pytest.approx(0.0)  # the true regions come only at 1 false positive per frame


@pytest.mark.parametrize("detected, counts", [(10, True), (9, False)])
def test_track_detected_in_ten_percent_of_its_frames_counts_in_nine_it_does_not(detected, counts):
    n = 100
    result = criteria_of(one_object(n), table([[(BOX, 1.0)] if t < detected else [] for t in range(n)]))
    assert result["rbdc"] == pytest.approx(detected / n)
    assert result["tbdc"] == pytest.approx(1.0 if counts else 0.0)


def test_each_truth_region_is_matched_once():
    matched = match_frame(np.array([BOX, [11, 10, 21, 20]], np.float32), np.array([BOX], np.float32), 0.1)
    assert matched.tolist() == [0, -1]  # the second detection on the same region is a false positive
    truth = one_object(1)
    result = criteria_of(truth, table([[(BOX, 2.0), ([11, 10, 21, 20], 1.0)]]))
    assert result["curve"]["fp_rate"] == [0.0, 0.0, 1.0]


def test_iou_below_the_criterion_is_a_false_positive():
    # IoU of a 10x10 box with the 10x10 truth shifted by 9: 10 / 190 < 0.1
    assert match_frame(np.array([[19, 10, 29, 20]], np.float32), np.array([BOX], np.float32), 0.1).tolist() == [-1]


def test_curve_area_cut_at_one_and_held_past_the_last_point():
    assert curve_area(np.array([0.0, 2.0]), np.array([0.0, 1.0])) == pytest.approx(0.25)  # (0,0)-(1,0.5)
    assert curve_area(np.array([0.0, 0.5]), np.array([0.0, 1.0])) == pytest.approx(0.25 + 0.5)


def test_mask_components_and_tracks():
    masks = np.zeros((4, 20, 20), np.uint8)
    masks[0:2, 2:6, 2:6] = 1   # object A in frames 0-1
    masks[3, 2:6, 2:6] = 1     # the same place after a gap: a new track
    masks[0:4, 12:18, 12:18] = 1  # object B in all frames
    masks[1, 0, 19] = 1        # a one-pixel speck, left out at region_min_pixels 2
    criteria = LocalisationCriteria(0.1, 0.1, 0.1, region_min_pixels=2)
    truth = truth_regions(masks, criteria)
    assert mask_regions(masks[0], 1).tolist() == [[2, 2, 6, 6], [12, 12, 18, 18]]
    assert [len(b) for b in truth.boxes] == [2, 2, 1, 2]
    tracks_a = [truth.tracks[t][0] for t in (0, 1)]
    assert tracks_a[0] == tracks_a[1]
    b_ids = {int(truth.tracks[t][np.flatnonzero(truth.boxes[t][:, 0] == 12)[0]]) for t in range(4)}
    assert len(b_ids) == 1  # B is one track
    a_after_gap = int(truth.tracks[3][np.flatnonzero(truth.boxes[3][:, 0] == 2)[0]])
    assert a_after_gap not in {int(tracks_a[0])} | b_ids


def test_frame_regions_cut_blobs_and_rank_them():
    settings = RegionSettings(patch=4, level=0.5, max_per_frame=5, map_stride=2)
    error = np.zeros((16, 16), np.float32)
    error[2:4, 2:4] = 1.0      # strong blob, pixels 4-8
    error[10:12, 11:13] = 0.6  # weaker blob
    boxes, scores = frame_regions(error, settings)
    assert len(boxes) == 2 and scores[0] > scores[1]
    assert box_iou(boxes[:1], np.array([[4, 4, 8, 8]])).item() >= 0.25
    assert box_iou(boxes[1:], np.array([[22, 20, 26, 24]])).item() >= 0.25
    assert len(frame_regions(error, RegionSettings(4, 0.5, 1, 2))[0]) == 1
    assert len(frame_regions(np.zeros((16, 16)), settings)[0]) == 0


def test_event_localised_at_peak_not_at_confirmation():
    n = 6
    truth = one_object(n, frames_with_object=range(2, 6))
    boxes = np.array([FAR] * 3 + [BOX] * 3, np.int32)
    events = [Event(start=2, end=5, peak_frame=4, peak_score=1.0, box=[int(v) for v in BOX], confirmed=2),
              Event(start=0, end=1, peak_frame=0, peak_score=1.0, box=[int(v) for v in FAR], confirmed=1)]
    counts = event_localisation(events, boxes, truth, CRITERIA)
    assert counts == {"on_anomaly_confirmed": 1, "localised_confirmed": 0, "on_anomaly_peak": 1, "localised_peak": 1}


def test_score_writes_regions_and_the_table_gains_rbdc(tmp_path):
    """A model whose error sits on the masked object: the region file beside the scores, RBDC = TBDC = 100."""
    import torch
    from test_score import MiddlePlusOffset, _meta, _store

    from ddlcore.evaluate.metrics import evaluate
    from ddlcore.score.frame_stores import score_frame_stores

    torch.set_num_threads(1)
    n = 10
    _store(tmp_path / "v1.h5", np.full((n, 32, 32, 1), 100, np.uint8), "v1")
    cfg = load_config(None, json.dumps({"score": {"patch": 8, "map_stride": 4}}))
    out = tmp_path / "s.h5"
    score_frame_stores(MiddlePlusOffset(0.2, (8, 16, 8, 16)), _meta(), [tmp_path / "v1.h5"], out,
                       ScoreSettings.from_config(cfg))
    regions = read_regions(regions_path(out))
    assert regions["v1"].n_frames == n and regions["v1"].frame(0)[0].shape[1] == 4
    masks = np.zeros((n, 32, 32), np.uint8)
    masks[:, 8:16, 8:16] = 1
    labels = np.ones(n, np.uint8)
    labels[:2] = 0
    masks[:2] = 0
    with h5py.File(tmp_path / "labels.h5", "w") as f:
        f.attrs.update(format_version=1, dataset="synthetic", label_variant="official")
        g = f.create_group("videos/v1")
        g.attrs["scene"] = "s0"
        g.create_dataset("labels", data=labels)
        g.create_dataset("masks", data=masks)
    result = evaluate(tmp_path / "labels.h5", [out], replace(MetricsSettings.from_config(cfg), normalise=False))
    # every frame's one region lies on the box: frames 2-9 true positives, frames 0-1 false positives of the
    # same score as the true ones -> 2 false positives over 10 frames enter with all 8 true regions
    assert result["localisation"]["truth_regions"] == 8 and result["localisation"]["truth_tracks"] == 1
    assert result["rbdc"] == pytest.approx(1 - 0.2 / 2) and result["tbdc"] == pytest.approx(0.9)


def test_video_regions_offsets():
    maps = np.zeros((3, 8, 8), np.float32)
    maps[1, 2, 2] = 1.0
    regions = video_regions(maps, RegionSettings(patch=2, level=0.5, max_per_frame=3, map_stride=2))
    assert regions.frame_offsets.tolist() == [0, 0, 1, 1]
    assert regions.frame(1)[0].tolist() == [[4.0, 4.0, 6.0, 6.0]]
