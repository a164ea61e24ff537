"""torchvision detectors (Faster R-CNN by default): batched inference, autocast on GPU.

The model is any builder of ``torchvision.models.detection`` named by ``detect.fasterrcnn.model``.
Its weights (``detect.fasterrcnn.weights``) are a weights enum name of that builder (``DEFAULT``,
``COCO_V1``, ...) taken from torchvision's cache (``<torch hub dir>/checkpoints``) or downloaded
there, a ``.pth``/``.pt`` state-dict file, or ``none`` (random weights: speed tests only).
Detections below ``detect.score_threshold`` or of COCO classes not in ``detect.classes`` (empty
list = all classes) are dropped. Gray frames are repeated to three channels.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import torch
import torchvision
from torchvision.models import detection

from ..devices import resolve_device
from ..errors import DDLError
from .base import Detector, FrameDetections
from .settings import DetectSettings, FasterrcnnSettings


def checkpoint_file(weights: torchvision.models.WeightsEnum) -> Path:
    """Where torchvision's weights mechanism keeps the file of ``weights``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(weights.url).path).name


def build_model(fasterrcnn: FasterrcnnSettings) -> torch.nn.Module:
    """``detect.fasterrcnn`` settings -> the detection model (eval mode, on the CPU).

    Raises DDLError for an unknown builder or weights name, an unreadable weights file, or
    weights that are neither on disk nor downloadable (naming where to put the file).
    """
    name, weights = fasterrcnn.model, fasterrcnn.weights
    builders = torchvision.models.list_models(module=detection)
    if name not in builders:
        raise DDLError(f"config: key 'detect.fasterrcnn.model': unknown detection model {name!r} "
                       f"(torchvision has {', '.join(builders)})")
    kwargs: dict[str, Any] = {} if name.startswith("ssd") else {"min_size": fasterrcnn.min_size, "max_size": fasterrcnn.max_size}
    if weights.lower() == "none":
        model = torchvision.models.get_model(name, weights=None, weights_backbone=None, **kwargs)
    elif weights.endswith((".pth", ".pt")) or Path(weights).is_file():
        model = _model_from_file(name, Path(weights), kwargs)
    else:
        model = _model_from_enum(name, weights, kwargs)
    return model.eval()


def _model_from_file(name: str, path: Path, kwargs: dict[str, Any]) -> torch.nn.Module:
    """``name`` with the state dict stored at ``path`` (91 COCO classes)."""
    if not path.is_file():
        raise DDLError(f"config: key 'detect.fasterrcnn.weights': file {path} does not exist")
    model = torchvision.models.get_model(name, weights=None, weights_backbone=None, num_classes=91, **kwargs)
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as exc:  # noqa: BLE001 - torch raises many types (UnpicklingError, ...) for a foreign file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DDLError(f"detect.fasterrcnn.weights: {path} is not a {name} state dict: {first}") from exc
    return model


def _model_from_enum(name: str, weights_name: str, kwargs: dict[str, Any]) -> torch.nn.Module:
    """``name`` with torchvision's ``weights_name`` weights, from its cache or downloaded into it."""
    enum = torchvision.models.get_model_weights(name)
    if weights_name not in enum.__members__:
        raise DDLError(f"config: key 'detect.fasterrcnn.weights': {name} has no weights {weights_name!r} "
                       f"(choose {', '.join(enum.__members__)}, a .pth file or none)")
    weights = enum[weights_name]
    target = checkpoint_file(weights)
    try:
        return torchvision.models.get_model(name, weights=weights, weights_backbone=None, **kwargs)
    except (OSError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DDLError(
            f"detect.fasterrcnn.weights: {name} {weights_name} weights are not at {target} and could not be "
            f"downloaded ({reason}); put {target.name} into {target.parent}, set detect.fasterrcnn.weights "
            f"to a .pth file, or choose detect.backend: bgsub") from exc


class FasterRCNNDetector(Detector):
    """A torchvision detector behind the :class:`Detector` interface, from the ``detect`` settings (``model``: a
    ready model instead of the one ``detect.fasterrcnn`` builds)."""

    name = "fasterrcnn"

    def __init__(self, detect: DetectSettings, model: torch.nn.Module | None = None) -> None:
        fc = detect.fasterrcnn
        self.score_threshold = float(detect.score_threshold)
        self.batch_size = int(fc.batch_size)
        self.classes = torch.tensor(detect.classes, dtype=torch.int64)
        self.device = resolve_device(fc.device, "detect.fasterrcnn.device")
        self.model = (model if model is not None else build_model(fc)).to(self.device).eval()

    def _autocast(self) -> contextlib.AbstractContextManager:
        """bf16 (or fp16 where bf16 is missing) autocast on a GPU; nothing on the CPU."""
        if self.device.type != "cuda":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)

    def detect(self, frames: np.ndarray) -> list[FrameDetections]:
        """Frames uint8 (N, H, W, C), C = 1 or 3 -> per frame the kept boxes, scores and COCO class ids."""
        batch = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device)
        batch = batch.permute(0, 3, 1, 2).float().div_(255.0)
        if batch.shape[1] == 1:
            batch = batch.expand(-1, 3, -1, -1)
        with torch.inference_mode(), self._autocast():
            outputs = self.model(list(batch))
        return [self._filter(out) for out in outputs]

    def _filter(self, out: dict[str, torch.Tensor]) -> FrameDetections:
        """Drop low scores and unwanted classes from one model output."""
        scores, labels = out["scores"].float().cpu(), out["labels"].cpu()
        keep = scores >= self.score_threshold
        if len(self.classes):
            keep &= torch.isin(labels, self.classes)
        return FrameDetections(out["boxes"].float().cpu()[keep].numpy().astype(np.float32).reshape(-1, 4),
                               scores[keep].numpy().astype(np.float32), labels[keep].numpy().astype(np.int32))
