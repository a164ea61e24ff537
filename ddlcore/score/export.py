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
from .runtime import PRECISIONS, RUNTIMES, graph_files, graph_folder, importable, resolve_runtime, runtime_model

#: (model file, threads, candidates) whose ``auto`` choice this process has printed
_ANNOUNCED: set[tuple[str, int, str]] = set()


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
                  runtime: str, precision: str = "fp32", threads: int | None = None, probe: bool = True) -> nn.Module:
    """What the scoring front ends (``ddl score``, ``ddl calibrate``, ``ddl watch``) score with: the torch ``model``
    loaded from ``model_path`` (:func:`ddlcore.score.inference.load_model`, meta its checkpoint meta) itself, or the
    model running through ``runtime``'s graphs in ``precision`` (``score.runtime`` / ``score.precision``; the
    float32 graphs exported first when missing, so a model scored outside the workflow needs no ``ddl export``
    first; in the workflow the rule ``export_model`` made them and nothing is written).

    On a CPU, ``auto`` (runtime or precision) is what a probe measured fastest here (:func:`ddlcore.score.probe.
    fastest`: cached beside the model, printed once per process), int8 among the candidates only where its graphs
    passed their accuracy check (:func:`ddlcore.score.quantize.int8_check`). ``probe`` False (``ddl score``,
    ``ddl calibrate``: files compared run to run, bit for bit): ``auto`` is :func:`.runtime.resolve_runtime`'s fixed
    choice. ``threads``: the runtime's threads (default torch's). DDLError for an unknown precision, int8 on a GPU
    or through torch, or missing int8 graphs.
    """
    if precision not in ("auto", *PRECISIONS):
        raise DDLError(f"config: key 'score.precision': {precision!r} is not one of auto, {', '.join(PRECISIONS)}")
    chosen = resolve_runtime(runtime, device)
    if device.type != "cpu":
        if precision == "int8":
            raise DDLError(f"config: key 'score.precision' is int8, which runs on the CPU, but score.device is {device}")
        return runtime_model(model, meta, model_path, chosen)
    n = threads or torch.get_num_threads()
    candidates = _candidates(runtime if probe else chosen, precision, meta, model_path)
    if not candidates:
        raise DDLError("config: key 'score.precision': int8 runs through onnxruntime or openvino, not torch")
    if any(r != "torch" and p == "fp32" for r, p in candidates):
        export_graphs(model, meta, model_path)
    if len(candidates) == 1:
        (chosen, chosen_precision), = candidates
    else:
        from .probe import fastest, label, probe_file

        (chosen, chosen_precision), figures, cached = fastest(model, meta, model_path, candidates, n)
        announced = (str(model_path), n, repr(candidates))
        if announced not in _ANNOUNCED:
            _ANNOUNCED.add(announced)
            measured = ", ".join(f"{label(c)} {ms:.1f} ms" for c, ms in sorted(figures.items(), key=lambda x: x[1]))
            print(f"score.runtime {runtime}, score.precision {precision}: {chosen} {chosen_precision} for {model_path} "
                  f"on {n} thread(s) ({'cached ' if cached else ''}probe, CPU a frame: {measured}; "
                  f"{probe_file(model_path)})", file=sys.stderr, flush=True)
    return runtime_model(model, meta, model_path, chosen, n, chosen_precision)


def _candidates(runtime: str, precision: str, meta: dict[str, Any], model_path: str | Path) -> list[tuple[str, str]]:
    """The (runtime, precision) pairs ``score.runtime`` / ``score.precision`` leave open on a CPU: ``auto`` runtime
    every installed one; ``auto`` precision int8 only on a runtime whose int8 graphs passed their accuracy check."""
    from .quantize import int8_check

    runtimes = [r for r in RUNTIMES if importable(r)] if runtime == "auto" else [runtime]
    check = int8_check(model_path, meta) if precision != "fp32" else None
    passed = {r for r, figures in (check or {}).get("runtimes", {}).items() if figures.get("passed")}
    if precision == "fp32":
        return [(r, "fp32") for r in runtimes]
    if precision == "auto":
        return [(r, "fp32") for r in runtimes] + [(r, "int8") for r in runtimes if r in passed]
    for r in runtimes:
        if check is not None and r in check.get("runtimes", {}) and r not in passed:
            print(f"note: score.precision int8: the int8 graphs of {model_path} failed their accuracy check on {r} "
                  f"({check['runtimes'][r].get('reason')}); scoring with them as asked", file=sys.stderr)
    return [(r, "int8") for r in runtimes if r != "torch"]
