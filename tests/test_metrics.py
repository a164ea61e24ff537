"""Evaluation protocol: normalisation, median filter, micro/macro/scene/pixel AUCs, border alignment."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ddlcore.config import load_config
from ddlcore.errors import DDLError
from ddlcore.evaluate.metrics import (
    VideoScores,
    auc_or_none,
    evaluate_videos,
    mask_cells,
    pixel_auc,
)
from ddlcore.evaluate.settings import MetricsSettings
from ddlcore.score.postprocess import effective_window, median_smooth, minmax_normalise, process_scores

CFG = MetricsSettings.from_section({**load_config()["metrics"], "normalise": True, "median_window": 1,
                                    "pixel_threshold": 0.5})


def test_minmax_normalise_by_hand():
    assert minmax_normalise(np.array([2.0, 4.0, 3.0])).tolist() == [0.0, 1.0, 0.5]
    assert minmax_normalise(np.array([5.0, 5.0])).tolist() == [0.0, 0.0]


def test_median_filter_by_hand_and_clamped_window():
    s = np.array([1.0, 9.0, 2.0, 3.0, 8.0, 4.0, 5.0])
    # window 3 with zero padding: medians of (0,1,9),(1,9,2),(9,2,3),(2,3,8),(3,8,4),(8,4,5),(4,5,0)
    assert median_smooth(s, 3).tolist() == [1, 2, 3, 3, 4, 5, 4]
    assert effective_window(17, 7) == 7 and effective_window(17, 6) == 5 and effective_window(17, 40) == 17
    assert median_smooth(s[:4], 17).tolist() == median_smooth(s[:4], 3).tolist()
    with pytest.raises(DDLError, match="metrics.median_window"):
        median_smooth(s, 4)


def test_process_scores_drops_invalid_then_normalises():
    score = np.array([np.nan, 1.0, 3.0, 2.0, np.nan])
    valid = np.array([False, True, True, True, False])
    assert process_scores(score, valid, True, 1).tolist() == [0.0, 1.0, 0.5]
    assert process_scores(score, valid, False, 1).tolist() == [1.0, 3.0, 2.0]


def test_micro_macro_auc_against_sklearn_with_one_class_video():
    rng = np.random.default_rng(0)
    a_lab = np.array([0, 0, 1, 1, 0, 1], np.uint8)
    b_lab = np.array([0, 1, 0, 1, 1, 0], np.uint8)
    c_lab = np.zeros(4, np.uint8)  # one class: no AUC of its own
    videos = {
        name: VideoScores("all", lab, rng.random(len(lab)), np.ones(len(lab), bool))
        for name, lab in (("a", a_lab), ("b", b_lab), ("c", c_lab))
    }
    result = evaluate_videos(videos, CFG)
    norm = {n: minmax_normalise(v.score) for n, v in videos.items()}
    expected_micro = roc_auc_score(np.concatenate([a_lab, b_lab, c_lab]), np.concatenate([norm["a"], norm["b"], norm["c"]]))
    assert result["micro_auc"] == pytest.approx(expected_micro)
    expected_macro = (roc_auc_score(a_lab, norm["a"]) + roc_auc_score(b_lab, norm["b"])) / 2
    assert result["macro_auc"] == pytest.approx(expected_macro)
    assert result["macro_left_out"] == 1 and result["video_aucs"]["c"] is None
    assert result["scene_median_auc"] is None and result["n_frames"] == 16


def test_auc_by_hand():
    # pairs (pos, neg): 0.8>0.1, 0.8>0.4, 0.3>0.1, 0.3<0.4 -> 3/4
    assert auc_or_none(np.array([1, 0, 1, 0]), np.array([0.8, 0.1, 0.3, 0.4])) == pytest.approx(0.75)
    assert auc_or_none(np.array([1, 1]), np.array([0.1, 0.2])) is None


def test_median_over_scenes():
    lab = np.array([0, 0, 1, 1], np.uint8)
    videos = {
        "s1": VideoScores("one", lab, np.array([0.0, 0.1, 0.9, 1.0]), np.ones(4, bool)),  # AUC 1
        "s2": VideoScores("two", lab, np.array([0.0, 1.0, 0.5, 0.2]), np.ones(4, bool)),  # AUC 0.5
        "s3": VideoScores("three", lab, np.array([1.0, 0.9, 0.0, 0.1]), np.ones(4, bool)),  # AUC 0
        "s3b": VideoScores("three", lab, np.array([1.0, 0.8, 0.0, 0.1]), np.ones(4, bool)),
    }
    result = evaluate_videos(videos, CFG)
    assert result["scene_aucs"] == {"one": 1.0, "three": 0.0, "two": 0.5}
    assert result["scene_median_auc"] == 0.5 and result["n_scenes"] == 3


def test_border_alignment_drop_vs_nearest():
    labels = np.array([1, 0, 0, 1, 1, 1], np.uint8)
    drop = VideoScores("all", labels, np.array([np.nan, 0.1, 0.2, 0.9, 0.8, np.nan]),
                       np.array([False, True, True, True, True, False]))
    near = VideoScores("all", labels, np.array([0.1, 0.1, 0.2, 0.9, 0.8, 0.8]), np.ones(6, bool))
    r_drop = evaluate_videos({"v": drop}, replace(CFG, normalise=False))
    r_near = evaluate_videos({"v": near}, replace(CFG, normalise=False))
    assert r_drop["n_frames"] == 4 and r_drop["n_dropped_frames"] == 2
    assert r_drop["micro_auc"] == pytest.approx(1.0)  # labels of frames 1..4: 0,0,1,1
    assert r_near["micro_auc"] == pytest.approx(roc_auc_score(labels, near.score))
    assert r_near["n_frames"] == 6 and r_near["n_dropped_frames"] == 0


def test_pixel_auc_on_cells():
    masks = np.zeros((2, 4, 4), np.uint8)
    masks[0, :2, :2] = 1  # one full cell
    masks[1, 2:, 2:3] = 1  # half a cell: anomalous at threshold 0.5
    maps = np.array([[[0.9, 0.1], [0.2, 0.3]], [[0.05, 0.4], [0.5, 0.8]]], np.float32)
    cells = mask_cells(masks, (2, 2), "v")
    assert cells[1].tolist() == [[0, 0], [0, 0.5]]
    video = VideoScores("all", np.array([1, 1]), np.zeros(2), np.ones(2, bool), maps=maps, mask_cells=cells)
    auc, used = pixel_auc({"v": video}, 0.5)
    cell_labels = np.array([1, 0, 0, 0, 0, 0, 0, 1])
    assert used == 1 and auc == pytest.approx(roc_auc_score(cell_labels, maps.ravel()))
    auc_strict, _ = pixel_auc({"v": video}, 0.75)
    assert auc_strict == pytest.approx(roc_auc_score([1, 0, 0, 0, 0, 0, 0, 0], maps.ravel()))
    assert pixel_auc({"v": VideoScores("all", np.array([1]), np.zeros(1), np.ones(1, bool))}, 0.5) == (None, 0)
    with pytest.raises(DDLError, match="do not tile"):
        mask_cells(masks, (8, 8), "v")
