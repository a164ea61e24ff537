"""Reading scores files (the layout :mod:`ddlcore.score.frame_stores` writes).

Scores file layout (format version 1), one per model and scene::

    /videos/{video}/score  float32 (N,)   frame scores (NaN where invalid)
    /videos/{video}/valid  bool    (N,)   False for border frames dropped by ``score.border: drop``
    /videos/{video}/maps   float16 (N, H//s, W//s)  per-pixel error averaged over s x s cells,
                                          s = ``score.map_stride`` (only with ``score.save_maps``)
    /videos/{video} attrs: frames (frame store path), n_frames
    root attrs: format_version=1, model, arch, variant, dataset, scene, seed (the model's train.seed),
                clip_frames, height, width, channels, settings (JSON of the score section),
                runtime (what ran the model: torch, onnxruntime or openvino; score.runtime resolved)

A live scores file (``ddl score --calibration``, see :mod:`ddlcore.alarm.live_scores`) has the same
layout, its ``score`` computed causally, plus ``/videos/{video}/events`` and a ``calibration`` root attribute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import DDLError

FORMAT_VERSION = 1


def model_attrs(meta: dict[str, Any], model_path: str | Path) -> dict[str, Any]:
    """The root attributes a scores or live scores file records about the model that scored it (checkpoint meta)."""
    from ..model.checkpoint import training_seed

    return {"format_version": FORMAT_VERSION, "model": str(model_path), "arch": meta["arch"], "variant": meta["variant"],
            "dataset": meta.get("dataset", ""), "scene": meta.get("scene", ""), "seed": training_seed(meta),
            "clip_frames": int(meta["frames"]), "height": int(meta["height"]), "width": int(meta["width"]),
            "channels": int(meta["channels"])}


def check_frame_size(shape: tuple[int, ...], path: str | Path, meta: dict[str, Any]) -> None:
    """DDLError naming ``path`` when frames of ``shape`` (N, H, W, C) are not the (H, W, C) of ``meta``'s model."""
    expected = (int(meta["height"]), int(meta["width"]), int(meta["channels"]))
    if tuple(shape[1:]) != expected:
        raise DDLError(f"{path}: frames are {tuple(shape[1:])} (H, W, C) but the model expects {expected}")


def video_of_store(store: Any, path: str | Path, meta: dict[str, Any]) -> str:
    """The video name of an open frame store that ``meta``'s model can score; DDLError naming ``path`` when its
    frames are not the model's (H, W, C) or fewer than its clip length."""
    check_frame_size(store.shape, path, meta)
    if len(store) < int(meta["frames"]):
        raise DDLError(f"{path}: {len(store)} frames, fewer than the model's clip length {meta['frames']}")
    return str(store.attrs.get("video") or Path(path).stem)


def read_scores(path: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """Read a scores file: (root attrs, {video: {"score": (N,), "valid": (N,), ["maps": (N, h, w)]}}).

    Maps are loaded only when present. DDLError naming ``path`` if it is not a version-1 scores file.
    """
    p = Path(path)
    if not p.is_file():
        raise DDLError(f"scores file missing: {p} (run ddl score first)")
    try:
        with h5py.File(p, "r") as f:
            if f.attrs.get("format_version") != FORMAT_VERSION or "videos" not in f:
                raise DDLError(f"{p}: not a version-{FORMAT_VERSION} scores file")
            attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
            videos = {name: {key: g[key][:] for key in g} for name, g in f["videos"].items()}
    except OSError as exc:
        raise DDLError(f"{p}: not a readable HDF5 scores file ({exc})") from exc
    return attrs, videos
