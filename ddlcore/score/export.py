"""Exporting a trained model's inference graphs (``ddl export``; the workflow's rule ``export_model``).

A model scored through ONNX Runtime or OpenVINO (``score.runtime``, :mod:`.runtime`) runs its encoder and
decoder as two ONNX graphs beside the model file (``M.pt`` -> ``M.onnx/``, names in :func:`.runtime.graph_files`).
They are exported here, with the torch.onnx dynamo exporter (the TorchScript one cannot export the Conv3d skips'
reshape), on the CPU, atomically; graphs of an older version of the model file are removed. Loading
(:func:`ddlcore.score.inference.load_model`) only reads them; the scoring front ends export what is missing
(:func:`scoring_model`).
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import DDLError
from ..io_utils import atomic_path
from .inference import load_model
from .runtime import graph_files, graph_folder, resolve_runtime, runtime_model


class _Encoder(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.model.encode(frames))


class _Decoder(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, level0: torch.Tensor, level1: torch.Tensor, level2: torch.Tensor,
                level3: torch.Tensor) -> torch.Tensor:  # named inputs: the exporter needs a fixed signature
        return self.model.decode([level0, level1, level2, level3])


def _export(module: nn.Module, example: tuple[torch.Tensor, ...], out: Path) -> None:
    """Export ``module`` on ``example`` (dynamic first dimension of every input) to ``out``, atomically."""
    batch = torch.export.Dim("batch")
    with atomic_path(out) as tmp, warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(module, example, dynamo=True, verbose=False, external_data=False,
                                        dynamic_shapes=tuple({0: batch} for _ in example))
            program.save(str(tmp), external_data=False)
        except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds; one user-facing line
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DDLError(f"{out}: ONNX export failed ({type(exc).__name__}: {first[:160]})") from None


def export_graphs(model: nn.Module, meta: dict[str, Any], model_path: str | Path) -> tuple[Path, Path]:
    """The (encoder, decoder) ONNX files of the model loaded from ``model_path``, exported now if absent or stale.

    model: the loaded torch model (eval mode; moved to the CPU); meta: its checkpoint meta (channels, height, width).
    """
    encoder, decoder = graph_files(model_path, meta)
    if encoder.is_file() and decoder.is_file():
        return encoder, decoder
    folder = graph_folder(model_path)
    print(f"exporting {model_path} to ONNX (once per model) -> {folder}/", file=sys.stderr, flush=True)
    shape = (int(meta["channels"]), int(meta["height"]), int(meta["width"]))
    cpu_model = model.cpu().eval()
    frames = torch.rand(2, *shape)
    with torch.no_grad():
        features = cpu_model.encode(frames)
    reads = len(getattr(cpu_model, "read_frames", [0]))
    stacks = tuple(torch.stack([f] * reads, dim=1) for f in features)
    _export(_Encoder(cpu_model), (frames,), encoder)
    _export(_Decoder(cpu_model), stacks, decoder)
    for stale in folder.glob("*.onnx"):
        if stale not in (encoder, decoder):
            stale.unlink(missing_ok=True)
    return encoder, decoder


def export_model(model_path: str | Path) -> Path:
    """``ddl export``: the graph folder of the model file ``model_path`` (``M.onnx/``), its graphs exported now
    (on the CPU) if absent or stale. The graphs are the same for ONNX Runtime and OpenVINO.

    DDLError (one line) when the file is not a model checkpoint or the export fails.
    """
    model, meta = load_model(model_path, torch.device("cpu"))
    export_graphs(model, meta, model_path)
    return graph_folder(model_path)


def scoring_model(model: nn.Module, meta: dict[str, Any], model_path: str | Path, device: torch.device,
                  runtime: str) -> nn.Module:
    """What the scoring front ends (``ddl score``, ``ddl calibrate``, ``ddl watch``) score with: the torch ``model``
    loaded from ``model_path`` (:func:`ddlcore.score.inference.load_model`, meta its checkpoint meta) itself when
    ``runtime`` (``score.runtime``, resolved for ``device``) is torch, else the model running through that runtime's
    graphs, exported first when missing (so a model scored outside the workflow needs no ``ddl export`` first;
    in the workflow the rule ``export_model`` made them and nothing is written).
    """
    chosen = resolve_runtime(runtime, device)
    if chosen != "torch":
        export_graphs(model, meta, model_path)
    return runtime_model(model, meta, model_path, chosen)
