"""Evaluation protocol: per-video post-processing of frame scores and the AUCs reported.

Protocol, applied to each video separately, on its valid frames only (``score.border: drop``
removes the border frames and their labels before anything else):

1. min-max normalisation to [0, 1] (``metrics.normalise``; a constant video becomes all 0);
2. median filter (``scipy.signal.medfilt``, length ``metrics.median_window``, odd). A video with
   fewer valid frames than the window is filtered with the largest odd length <= its frame count.
   medfilt pads with zeros at both ends; after normalisation 0 is the video's own minimum.

Figures:

- micro AUC (headline): ROC AUC over all valid test frames of all videos concatenated;
- macro AUC: mean of per-video AUCs; a video whose frames are all one class has no AUC and is
  left out (the number left out is reported);
- scene AUCs: the micro AUC over the frames of each scene; when a dataset has several scenes the
  dataset figure is the median of the scene AUCs (the paper's ShanghaiTech protocol), reported
  beside the micro AUC over all frames;
- pixel AUC (only where the labels file has pixel masks and the scores file has error maps,
  ``score.save_maps``): ROC AUC over every cell of the stored error maps (per-pixel error averaged
  over ``score.map_stride`` squared cells, not normalised) of all valid frames of those videos;
  a cell is anomalous when at least ``metrics.pixel_threshold`` of its pixels are masked;
- RBDC and TBDC (only where the labels file has pixel masks and a region file lies beside the
  scores file): :mod:`ddlcore.evaluate.localisation`, on the valid frames, region scores min-max
  normalised per video (over that video's regions) when ``metrics.normalise``.

AUCs are fractions in [0, 1]; tables print them as percentages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from sklearn.metrics import roc_auc_score

from ..errors import DDLError
from ..score.postprocess import process_scores

from .settings import MetricsSettings

if TYPE_CHECKING:
    from .localisation import LocalisationCriteria, TruthRegions
    from ..score.regions import RegionTable


@dataclass
class VideoScores:
    """One test video's scores aligned with its ground truth.

    labels uint8 (N,), score float (N,), valid bool (N,); only where stored: maps float (N, h, w)
    error maps and mask_cells float (N, h, w), the fraction of each map cell covered by the pixel
    mask (see :func:`mask_cells`); truth, the ground-truth regions and tracks of the pixel masks, and
    regions, the video's region detections (:mod:`ddlcore.score.regions`).
    """

    scene: str
    labels: np.ndarray
    score: np.ndarray
    valid: np.ndarray
    maps: np.ndarray | None = None
    mask_cells: np.ndarray | None = None
    truth: TruthRegions | None = None
    regions: RegionTable | None = None


def auc_or_none(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC of scores against 0/1 labels; None when only one class is present."""
    labels = np.asarray(labels)
    if labels.size == 0 or labels.min() == labels.max():
        return None
    return float(roc_auc_score(labels, scores))


def mask_cells(masks: np.ndarray, cells: tuple[int, int], video: str) -> np.ndarray:
    """Pixel masks uint8 (N, H, W) -> float32 (N, h, w): the masked fraction of each error-map cell.

    Cells are s x s pixels with s = H // h, tiling from the top-left corner like the error maps
    (avg_pool2d); pixels beyond the last full cell are left out. DDLError when they do not tile.
    """
    h, w = cells
    stride = masks.shape[1] // h
    if stride < 1 or masks.shape[2] // w != stride:
        raise DDLError(f"video {video}: error maps {cells} do not tile pixel masks {masks.shape[1:]}")
    a = np.asarray(masks, np.float32)[:, : h * stride, : w * stride]
    return a.reshape(len(a), h, stride, w, stride).mean(axis=(2, 4))


def pixel_auc(videos: dict[str, VideoScores], threshold: float) -> tuple[float | None, int]:
    """Pixel-level AUC over the error-map cells of the valid frames of videos with maps and masks.

    A cell counts as anomalous when its masked fraction is >= ``threshold``.
    Returns (AUC or None when no video qualifies / one class only, number of videos used).
    """
    cell_scores, cell_labels = [], []
    for v in videos.values():
        if v.maps is None or v.mask_cells is None:
            continue
        cell_scores.append(np.asarray(v.maps[v.valid], np.float32).ravel())
        cell_labels.append((v.mask_cells[v.valid] >= threshold).ravel())
    if not cell_scores:
        return None, 0
    return auc_or_none(np.concatenate(cell_labels), np.concatenate(cell_scores)), len(cell_scores)


def localisation_figures(videos: dict[str, VideoScores], metrics: MetricsSettings) -> dict[str, Any] | None:
    """RBDC, TBDC and their counts over the videos with ground-truth regions and region detections, None without any.

    videos: {name: VideoScores}; metrics: the ``metrics`` settings (``normalise`` and the localisation criteria).
    """
    from .localisation import LocalisationCriteria, detection_criteria
    from ..score.regions import RegionTable

    chosen = {}
    for name, v in videos.items():
        if v.truth is None or v.regions is None:
            continue
        table = v.regions
        if metrics.normalise:
            valid_rows = np.repeat(v.valid, np.diff(table.frame_offsets))
            lo, hi = (table.scores[valid_rows].min(), table.scores[valid_rows].max()) if valid_rows.any() else (0, 0)
            scaled = (table.scores - lo) / (hi - lo) if hi > lo else np.zeros_like(table.scores)
            table = RegionTable(table.frame_offsets, table.boxes, scaled)
        chosen[name] = (v.truth, table, v.valid)
    if not chosen:
        return None
    return {**detection_criteria(chosen, LocalisationCriteria.from_settings(metrics)), "videos": len(chosen)}


def evaluate_videos(videos: dict[str, VideoScores], metrics: MetricsSettings) -> dict[str, Any]:
    """All figures of one model on one dataset (see the module docstring); AUCs as fractions.

    videos: {name: VideoScores}; metrics: the ``metrics`` settings.
    """
    processed = {
        name: process_scores(v.score, v.valid, metrics.normalise, metrics.median_window)
        for name, v in videos.items()
    }
    labels = {name: np.asarray(v.labels)[v.valid] for name, v in videos.items()}
    video_aucs = {name: auc_or_none(labels[name], processed[name]) for name in videos}
    scenes = sorted({v.scene for v in videos.values()})
    scene_aucs = {
        scene: auc_or_none(
            np.concatenate([labels[n] for n, v in videos.items() if v.scene == scene]),
            np.concatenate([processed[n] for n, v in videos.items() if v.scene == scene]),
        )
        for scene in scenes
    }
    defined_videos = [a for a in video_aucs.values() if a is not None]
    defined_scenes = [a for a in scene_aucs.values() if a is not None]
    all_labels = np.concatenate(list(labels.values()))
    pix, pix_videos = pixel_auc(videos, metrics.pixel_threshold)
    located = localisation_figures(videos, metrics)
    return {
        "micro_auc": auc_or_none(all_labels, np.concatenate(list(processed.values()))),
        "macro_auc": float(np.mean(defined_videos)) if defined_videos else None,
        "macro_left_out": len(video_aucs) - len(defined_videos),
        "scene_median_auc": float(np.median(defined_scenes)) if len(scenes) > 1 and defined_scenes else None,
        "scenes_left_out": len(scene_aucs) - len(defined_scenes),
        "pixel_auc": pix,
        "pixel_videos": pix_videos,
        "rbdc": None if located is None else located["rbdc"],
        "tbdc": None if located is None else located["tbdc"],
        "localisation": located,
        "n_videos": len(videos),
        "n_scenes": len(scenes),
        "n_frames": int(all_labels.size),
        "n_abnormal_frames": int(all_labels.sum()),
        "n_dropped_frames": int(sum((~v.valid).sum() for v in videos.values())),
        "scene_aucs": scene_aucs,
        "video_aucs": video_aucs,
    }


def load_run(labels_path: str | Path, score_paths: Sequence[str | Path],
             criteria: LocalisationCriteria | None = None) -> tuple[dict[str, Any], dict[str, VideoScores]]:
    """Read one model's scores files (one per scene) and align them with the labels file.

    Returns (info: dataset, label_variant, arch, variant, model, seed, score_settings, score_files;
    {video: VideoScores}). Pixel masks are read only for videos whose scores have maps or a region file
    (``S.regions.h5`` beside ``S.h5``); they are reduced to map cells and, with ``criteria`` (a
    :class:`ddlcore.evaluate.localisation.LocalisationCriteria`), to ground-truth regions as they are read. DDLError when files mix models or datasets, a scored video has no labels or a different
    frame count, or a video of a scored scene was not scored.
    """
    from ..data.groundtruth import label_variant, read_labels, read_pixel_masks
    from ..score.regions import read_regions, regions_path
    from ..score.scores_io import read_scores
    from .localisation import truth_regions

    if not score_paths:
        raise DDLError("ddl evaluate: no scores files given")
    labels = read_labels(labels_path)
    videos: dict[str, VideoScores] = {}
    first: dict[str, Any] | None = None
    for path in score_paths:
        attrs, scored = read_scores(path)
        region_file = regions_path(path)
        regions = read_regions(region_file) if region_file.is_file() else {}
        if first is None:
            first = attrs
        for key in ("arch", "variant", "dataset", "seed"):
            if attrs.get(key) != first.get(key):
                raise DDLError(f"{path}: {key} {attrs.get(key)!r} differs from {first.get(key)!r} of {score_paths[0]}")
        for name, data in scored.items():
            if name not in labels:
                raise DDLError(f"{path}: video {name!r} has no labels in {labels_path}")
            if name in videos:
                raise DDLError(f"{path}: video {name!r} is in two scores files")
            truth = labels[name].labels
            if len(truth) != len(data["score"]):
                raise DDLError(f"{path}: video {name!r} has {len(data['score'])} scores but {len(truth)} labels in {labels_path}")
            maps = data.get("maps")
            found = regions.get(name)
            if found is not None and found.n_frames != len(truth):
                raise DDLError(f"{region_file}: video {name!r} has regions of {found.n_frames} frames but {len(truth)} labels")
            wants_truth = criteria is not None and (found is not None or "boxes" in data)
            masks = read_pixel_masks(labels_path, name) if maps is not None or wants_truth else None
            videos[name] = VideoScores(
                scene=labels[name].scene, labels=np.asarray(truth), score=data["score"], valid=data["valid"].astype(bool),
                maps=maps,
                mask_cells=mask_cells(masks, maps.shape[1:], name) if masks is not None and maps is not None else None,
                truth=truth_regions(masks, criteria) if masks is not None and wants_truth else None,
                regions=found,
            )
    scenes = {v.scene for v in videos.values()}
    missing = sorted(n for n, lab in labels.items() if lab.scene in scenes and n not in videos)
    if missing:
        raise DDLError(f"{labels_path}: test videos {', '.join(missing[:5])} of the scored scenes have no scores")
    assert first is not None
    info = {
        "dataset": first.get("dataset") or "",
        "label_variant": label_variant(labels_path),
        "arch": first["arch"],
        "variant": first["variant"],
        "model": f"{first['arch']}-{first['variant']}",
        "seed": int(first.get("seed", 0)),
        "score_settings": json.loads(first.get("settings", "{}")),
        "score_files": [str(p) for p in score_paths],
    }
    return info, videos


def evaluate_run(info: dict[str, Any], videos: dict[str, VideoScores], metrics: MetricsSettings) -> dict[str, Any]:
    """The JSON-able result of one run read by :func:`load_run` (info, videos) under the ``metrics`` settings:
    its info, the protocol and all figures."""
    settings = info["score_settings"]
    protocol = {
        "normalise": metrics.normalise,
        "median_window": metrics.median_window,
        "border": settings.get("border"),
        "patch": settings.get("patch"),
        "shifted_grid": settings.get("shifted_grid"),
    }
    return {**info, "protocol": protocol, **evaluate_videos(videos, metrics)}


def evaluate(labels_path: str | Path, score_paths: Sequence[str | Path], metrics: MetricsSettings) -> dict[str, Any]:
    """Evaluate one model's scores files against a labels file under the ``metrics`` settings; the result of
    :func:`evaluate_run`."""
    from .localisation import LocalisationCriteria

    return evaluate_run(*load_run(labels_path, score_paths, LocalisationCriteria.from_settings(metrics)), metrics)
