"""Inference runtimes (``score.runtime``): a trained model run through ONNX Runtime or OpenVINO.

The model's encoder and decoder are exported once to two ONNX graphs (the torch.onnx dynamo
exporter; the TorchScript one cannot export the Conv3d skips' reshape) and cached beside the
model file::

    M.pt -> M.onnx/encoder-<key>.onnx    frames (N, C, H, W) -> 4 feature maps (N, c_i, h_i, w_i)
            M.onnx/decoder-<key>.onnx    4 stacks (B, R, c_i, h_i, w_i) -> (B, C, H, W)

``key`` is the model file's fingerprint (SHA-256 of its bytes) with the input shape, so a
retrained model gets new graphs and stale ones are removed; graphs are written atomically, so
jobs sharing a model may export it at once. Batch sizes are dynamic. Both runtimes run the same
graphs in float32. :class:`RuntimeModel` offers the torch model's interface (``encode``,
``decode``, ``forward``), so scoring keeps encoding each frame once for the T windows containing it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..errors import DDLError
from ..io_utils import atomic_path
from .signal_stack import kept_signal_stack

RUNTIMES = ("torch", "onnxruntime", "openvino")
#: the runtime ``score.runtime: auto`` picks per device type (benchmarks/bench_live.py, docs/speed.md)
AUTO_RUNTIME = {"cpu": "onnxruntime", "cuda": "torch"}
#: bump when the exported graphs change form, so caches written by older code are rebuilt
EXPORT_VERSION = 1
#: a runner: float32 input arrays in graph input order -> output arrays in graph output order
Runner = Callable[[list[np.ndarray]], list[np.ndarray]]


def resolve_runtime(name: str, device: torch.device) -> str:
    """``score.runtime`` -> the runtime to use on ``device``: ``auto`` per :data:`AUTO_RUNTIME`.

    ``auto`` on a CPU falls back to torch (with a note on stderr) when onnxruntime is not installed.
    An explicit onnxruntime / openvino with a CUDA device raises DDLError (both run on the CPU here).
    """
    if name not in ("auto", *RUNTIMES):
        raise DDLError(f"config: key 'score.runtime': {name!r} is not one of auto, {', '.join(RUNTIMES)}")
    if name == "auto":
        chosen = AUTO_RUNTIME.get(device.type, "torch")
        if chosen != "torch" and not _importable(chosen):
            print(f"note: score.runtime auto: {chosen} is not installed, scoring through torch", file=sys.stderr)
            return "torch"
        return chosen
    if name != "torch" and device.type != "cpu":
        raise DDLError(f"config: key 'score.runtime' is {name!r}, which runs on the CPU, but score.device is {device}")
    return name


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def file_fingerprint(path: str | Path) -> str:
    """The first 16 hex digits of the SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def cache_folder(model_path: str | Path) -> Path:
    """Where a model's exported graphs live: ``M.pt`` -> ``M.onnx/`` beside it."""
    return Path(model_path).with_suffix(".onnx")


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


def exported_graphs(model: nn.Module, meta: dict[str, Any], model_path: str | Path) -> tuple[Path, Path]:
    """The (encoder, decoder) ONNX files of the model loaded from ``model_path``, exported now if absent or stale.

    model: the loaded SkipUNet (eval mode, on the CPU); meta: its checkpoint meta (channels, height, width).
    """
    shape = (int(meta["channels"]), int(meta["height"]), int(meta["width"]))
    key = f"{file_fingerprint(model_path)}-{'x'.join(map(str, shape))}-v{EXPORT_VERSION}"
    folder = cache_folder(model_path)
    encoder, decoder = folder / f"encoder-{key}.onnx", folder / f"decoder-{key}.onnx"
    if encoder.is_file() and decoder.is_file():
        return encoder, decoder
    print(f"exporting {model_path} to ONNX (once per model) -> {folder}/", file=sys.stderr, flush=True)
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


def onnxruntime_runner(path: Path, threads: int) -> Runner:
    """An ONNX Runtime CPU session of the graph ``path`` on ``threads`` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return lambda arrays: session.run(None, dict(zip(names, arrays)))


def openvino_runner(path: Path, threads: int) -> Runner:
    """An OpenVINO CPU model compiled from the graph ``path``: ``threads`` threads, float32 throughout."""
    import openvino as ov

    with kept_signal_stack():  # see signal_stack: OpenVINO replaces this thread's signal stack
        compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                              "INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    outputs = list(compiled.outputs)

    def run(arrays: list[np.ndarray]) -> list[np.ndarray]:
        result = request.infer(arrays)
        return [np.array(result[o]) for o in outputs]

    return run


RUNNERS: dict[str, Callable[[Path, int], Runner]] = {"onnxruntime": onnxruntime_runner, "openvino": openvino_runner}


class RuntimeModel(nn.Module):
    """A trained SkipUNet whose encoder and decoder run through an inference runtime, on the CPU.

    The same interface as the torch model for inference: ``encode`` (N, C, H, W) -> 4 feature
    tensors, ``decode`` 4 tensors (B, R, c_i, h_i, w_i) -> (B, C, H, W), ``forward`` clips
    (B, C, T, H, W) -> (B, C, H, W), and its ``frames`` / ``read_frames``. Tensors in and out are
    float32 torch tensors on the CPU. The torch model stays a submodule (its parameters tell callers the
    device) but does not run.
    """

    def __init__(self, model: nn.Module, encoder: Runner, decoder: Runner, runtime: str) -> None:
        super().__init__()
        self.torch_model = model
        self.frames = model.frames
        self.read_frames = list(model.read_frames)
        self.runtime = runtime
        self._encoder, self._decoder = encoder, decoder

    def encode(self, frames: torch.Tensor) -> list[torch.Tensor]:
        """Per-frame features: frames (N, C, H, W) -> 4 tensors (N, widths[i], H/2^(i+1), W/2^(i+1))."""
        return [torch.from_numpy(a) for a in self._encoder([_array(frames)])]

    def decode(self, features: list[torch.Tensor]) -> torch.Tensor:
        """Middle-frame reconstruction: 4 tensors (B, R, c_i, h_i, w_i), R = len(read_frames) -> (B, C, H, W)."""
        return torch.from_numpy(self._decoder([_array(f) for f in features])[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Clips x (B, C, T, H, W) -> the reconstructed middle frames (B, C, H, W)."""
        x = self.torch_model.clip_frames(x)
        b, c, t, h, w = x.shape
        features = self.encode(x.transpose(1, 2).reshape(b * t, c, h, w))
        return self.decode([f.reshape(b, t, *f.shape[1:]) for f in features])


def _array(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().float().cpu().numpy())


def runtime_model(model: nn.Module, meta: dict[str, Any], model_path: str | Path, runtime: str,
                  threads: int | None = None) -> nn.Module:
    """``model`` itself for ``runtime`` "torch", else a :class:`RuntimeModel` running its exported graphs.

    ``threads``: the runtime's threads (default: torch's, ``torch.get_num_threads()``). Raises DDLError
    when the model has no ``encode`` / ``decode`` or the runtime's package is not installed.
    """
    if runtime == "torch":
        return model
    if runtime not in RUNNERS:
        raise DDLError(f"config: key 'score.runtime': {runtime!r} is not one of {', '.join(RUNTIMES)}")
    if not _importable(runtime):
        raise DDLError(f"config: key 'score.runtime' is {runtime!r} but the package is not installed "
                       f"(pip install {runtime})")
    if not (callable(getattr(model, "encode", None)) and callable(getattr(model, "decode", None))):
        raise DDLError(f"{model_path}: score.runtime {runtime} needs a model with encode/decode")
    encoder, decoder = exported_graphs(model, meta, model_path)
    n = threads or torch.get_num_threads()
    return RuntimeModel(model, RUNNERS[runtime](encoder, n), RUNNERS[runtime](decoder, n), runtime)
