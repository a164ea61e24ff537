"""Trained-model files (``results/models/.../{arch}-{variant}.pt``) and safe loading of torch files.

A model file (format version 1) is a ``torch.save`` dict::

    format_version: 1, kind: "ddl-model",
    meta: {arch, variant, channels, height, width, frames, model_cfg, dataset, scene, ...},
    state_dict: the model's weights, sigma_history: [sigma after each step]

Files are loaded with ``torch.load(weights_only=True)``: nothing but tensors and plain Python
containers is ever unpickled.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import DDLError
from ..io_utils import atomic_path
from .settings import ModelSettings

FORMAT_VERSION = 1
MODEL_KIND = "ddl-model"
REQUIRED_META = ("arch", "variant", "channels", "height", "width", "frames", "model_cfg", "dataset", "scene")
#: ``model`` keys that model files written before them lack: the value those files were built with
#: (``coarse_levels`` is read only with ``input: coarse_middle``, which came with it)
MODEL_KEYS_ADDED = {"input": "clip", "coarse_levels": 1}
#: the longest frame side (pixels) and clip length (frames) a model file may declare: checked before anything is built
MAX_SIDE = 8192
MAX_FRAMES = 256


def check_meta_sizes(meta: dict[str, Any], path: str | Path) -> None:
    """DDLError naming ``path`` unless the metadata's ``frames`` (1 to :data:`MAX_FRAMES`), ``height`` and ``width``
    (1 to :data:`MAX_SIDE`) are whole numbers in range and ``channels`` is 1 or 3 (a damaged or forged file must not
    make a scorer allocate for 10^9 frames or 10^6 x 10^6 pixels)."""
    limits = {"frames": MAX_FRAMES, "height": MAX_SIDE, "width": MAX_SIDE, "channels": 3}
    for key, most in limits.items():
        value = meta[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 < value <= most \
                or (key == "channels" and value not in (1, 3)):
            allowed = "1 or 3" if key == "channels" else f"a whole number from 1 to {most}"
            raise DDLError(f"{path}: model metadata {key} = {str(value)[:40]} is not {allowed} (a damaged file?)")


def load_torch_file(path: str | Path, kind: str) -> dict[str, Any]:
    """Load a dict written by ``torch.save`` with ``weights_only=True`` and check its ``kind`` entry.

    Raises DDLError naming ``path`` when it is missing, corrupt, foreign or of another kind.
    """
    p = Path(path)
    if not p.is_file():
        raise DDLError(f"{kind} file missing: {p}")
    with p.open("rb") as f:
        magic = f.read(4)
    if not magic.startswith((b"PK\x03\x04", b"\x80")):  # a zip archive (torch.save) or a legacy pickle
        raise DDLError(f"{p} is not a {kind} file (not written by torch.save: it starts {magic!r})")
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged or foreign file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DDLError(f"{p} is not a readable {kind} file ({type(exc).__name__}: {first[:200]})") from None
    if not isinstance(data, dict) or data.get("kind") != kind:
        raise DDLError(f"{p} is not a {kind} file (kind {data.get('kind') if isinstance(data, dict) else None!r})")
    if data.get("format_version") != FORMAT_VERSION:
        raise DDLError(f"{p}: format version {data.get('format_version')}, expected {FORMAT_VERSION}")
    return data


def save_trained_model(path: str | Path, model: nn.Module, meta: dict[str, Any], sigma_history: list[float]) -> None:
    """Write the final model file atomically: weights (on CPU), metadata and the sigma history."""
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise ValueError(f"model metadata lacks {missing}")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"format_version": FORMAT_VERSION, "kind": MODEL_KIND, "meta": meta, "state_dict": state,
               "sigma_history": [float(s) for s in sigma_history]}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_trained_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The model of a model file in eval mode on ``device``, and its metadata dict.

    The model is built from the metadata's ``model_cfg`` (the keys of :data:`MODEL_KEYS_ADDED` it lacks take the
    values given there) and ``frames``. The metadata also carries ``sigma_history`` (list of floats). Raises
    DDLError on a corrupt or foreign file, a ``model_cfg`` with other keys than the ``model`` section's, weights
    that are not finite, or weights that do not fit the architecture the metadata describes.
    """
    from . import build_model

    data = load_torch_file(path, MODEL_KIND)
    meta = dict(data.get("meta") or {})
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise DDLError(f"{path}: model metadata lacks {', '.join(missing)}")
    check_meta_sizes(meta, path)
    settings = ModelSettings.from_section({**MODEL_KEYS_ADDED, **meta["model_cfg"], "frames": int(meta["frames"])},
                                          f"model_cfg of {path}")
    model = build_model(str(meta["arch"]), settings, int(meta["channels"]))
    broken = [k for k, v in data["state_dict"].items()
              if isinstance(v, torch.Tensor) and v.is_floating_point() and not torch.isfinite(v).all()]
    if broken:
        raise DDLError(f"{path}: weights hold NaN or infinite values ({len(broken)} tensors, e.g. {broken[0]}): "
                       "a diverged training run?")
    try:
        model.load_state_dict(data["state_dict"])
    except (RuntimeError, KeyError) as exc:
        raise DDLError(f"{path}: weights do not fit a {meta['arch']} model: {str(exc).splitlines()[0]}") from None
    meta["sigma_history"] = list(data.get("sigma_history", []))
    return model.to(device).eval(), meta


def training_seed(meta: dict[str, Any]) -> int:
    """The ``train.seed`` a model was trained with, from its checkpoint meta (0 for models that predate it)."""
    return int(meta.get("train_cfg", {}).get("seed", 0))
