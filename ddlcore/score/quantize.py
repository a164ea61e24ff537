"""int8 graphs (``score.precision``): a model's exported graphs quantised after training, on a camera's own frames.

ONNX Runtime's static quantisation (no package beyond onnxruntime) turns the float32 encoder and decoder graphs
(:mod:`.export`) into QDQ graphs: int8 weights per output channel, uint8 activations whose ranges are the min / max
seen on calibration inputs made from the camera's normal frames (frames for the encoder; their float32 features
stacked as the decoder reads them for the decoder). ONNX Runtime and OpenVINO both run such graphs in int8.
They live in ``M.int8/`` beside the model (names as the float32 ones, :func:`.runtime.graph_files`) with
``check.json``: the accuracy check of :mod:`ddlcore.alarm.int8_check`, which ``score.precision: auto`` requires
to have passed (:func:`int8_check`). Everything is written atomically; graphs of an older model file are removed.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from ..errors import DDLError
from ..io_utils import atomic_path
from ..model.identity import model_fingerprint
from .export import export_graphs
from .inference import FrameSource, to_tensor
from .runtime import graph_files, int8_folder

#: bump when the int8 graphs or their check change form, so that older ones are made again
INT8_VERSION = 1


def check_file(model_path: str | Path) -> Path:
    """The int8 accuracy check's record of the model file ``model_path``: ``M.int8/check.json``."""
    return int8_folder(model_path) / "check.json"


def calibration_windows(videos: Sequence[FrameSource], clip: int, count: int) -> list[np.ndarray]:
    """Up to ``count`` clips (uint8 (clip, H, W, C)) spread evenly over ``videos`` (each at least ``clip`` frames)."""
    starts = [(v, s) for v in videos for s in range(0, len(v) - clip + 1)]
    if not starts:
        return []
    picks = np.linspace(0, len(starts) - 1, min(count, len(starts))).round().astype(int)
    return [np.asarray(starts[i][0][starts[i][1] : starts[i][1] + clip]) for i in sorted(set(picks.tolist()))]


class _Inputs:
    """ONNX Runtime's calibration data reader protocol (``get_next``): feeds of one graph, one at a time."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)

    def rewind(self) -> None:  # part of the protocol; the quantiser reads the feeds once
        return None


def _feeds(model: nn.Module, windows: list[np.ndarray], encoder: Path, decoder: Path) -> tuple[list, list]:
    """(encoder feeds, decoder feeds) of ``windows``: each clip's frames, and their float32 features as
    (1, R, c_i, h_i, w_i) stacks of the frames the model reads."""
    import onnxruntime as ort

    names = [[i.name for i in ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).get_inputs()]
             for p in (encoder, decoder)]
    encoder_feeds, decoder_feeds = [], []
    with torch.no_grad():
        for window in windows:
            frames = to_tensor(window, torch.device("cpu"))
            features = model.encode(frames)
            encoder_feeds.append({names[0][0]: frames[len(window) // 2 : len(window) // 2 + 1].numpy()})
            stacks = [f[model.read_frames][None].numpy() for f in features]
            decoder_feeds.append(dict(zip(names[1], stacks)))
    return encoder_feeds, decoder_feeds


def quantize_graphs(model: nn.Module, meta: dict[str, Any], model_path: str | Path, videos: Sequence[FrameSource],
                    windows: int = 48) -> tuple[Path, Path]:
    """Make the int8 (encoder, decoder) graphs of the model file ``model_path`` (model: it loaded, torch, on the CPU;
    meta: its checkpoint meta) from up to ``windows`` clips of ``videos`` (uint8 (N, H, W, C) at the model's size:
    the camera's normal frames). The float32 graphs are exported first when missing. Returns the int8 files;
    DDLError (one line) when quantisation fails.
    """
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    model = model.cpu().eval()
    encoder, decoder = export_graphs(model, meta, model_path)
    clips = calibration_windows(videos, int(meta["frames"]), windows)
    if not clips:
        raise DDLError(f"{model_path}: no calibration clip for int8 quantisation (footage shorter than a clip)")
    feeds = _feeds(model, clips, encoder, decoder)
    outputs = graph_files(model_path, meta, "int8")
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)  # the quantiser logs advice about pre-processing at WARNING on the root logger
    try:
        for source, out, data in zip((encoder, decoder), outputs, feeds):
            with atomic_path(out) as tmp, contextlib.redirect_stdout(io.StringIO()):
                quantize_static(str(source), str(tmp), _Inputs(data), quant_format=QuantFormat.QDQ,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
    except DDLError:
        raise
    except Exception as exc:  # noqa: BLE001 - the quantiser raises many kinds; one user-facing line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DDLError(f"{model_path}: int8 quantisation failed ({type(exc).__name__}: {first[:160]})") from None
    finally:
        logger.setLevel(level)
    for stale in int8_folder(model_path).glob("*.onnx"):
        if stale not in outputs:
            stale.unlink(missing_ok=True)
    return outputs


def save_int8_check(model_path: str | Path, check: dict[str, Any]) -> Path:
    """Record ``check`` (the accuracy check's figures, ``passed`` among them) for the int8 graphs of ``model_path``,
    keyed by the model file's fingerprint; returns the record's file."""
    out = check_file(model_path)
    record = {"model_sha256": model_fingerprint(model_path), "version": INT8_VERSION, **check}
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    return out


def int8_check(model_path: str | Path, meta: dict[str, Any]) -> dict[str, Any] | None:
    """The accuracy check recorded for the int8 graphs of ``model_path`` (meta: its checkpoint meta), or None when
    there are no such graphs, no record, an unreadable one, or one of another model file or version."""
    if not all(p.is_file() for p in graph_files(model_path, meta, "int8")):
        return None
    try:
        record = json.loads(check_file(model_path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("model_sha256") != model_fingerprint(model_path) \
            or record.get("version") != INT8_VERSION:
        return None
    return record
