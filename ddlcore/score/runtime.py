"""Inference runtimes (``score.runtime``): a trained model run through ONNX Runtime or OpenVINO.

The model's encoder and decoder run as two ONNX graphs exported beforehand (``ddl export``,
:mod:`ddlcore.score.export`; in the workflow the rule ``export_model``) beside the model file::

    M.pt -> M.onnx/encoder-<key>.onnx    frames (N, C, H, W) -> 4 feature maps (N, c_i, h_i, w_i)
            M.onnx/decoder-<key>.onnx    4 stacks (B, R, c_i, h_i, w_i) -> (B, C, H, W)

``key`` is the model file's fingerprint (the first 16 hex digits of its SHA-256,
:func:`ddlcore.model.identity.model_fingerprint`) with the input shape and :data:`EXPORT_VERSION`, so a
retrained model needs new graphs. Batch sizes are dynamic. Both runtimes run the same graphs in float32, or
the int8 graphs quantised from them (``score.precision``, :mod:`.quantize`: ``M.int8/``, same names).
Which runtime and precision ``auto`` takes on a CPU is measured (:mod:`.probe`, via
:func:`ddlcore.score.export.scoring_model`). :class:`RuntimeModel` offers the torch model's interface (``encode``,
``decode``, ``forward``), so scoring keeps encoding each frame once for the T windows containing it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..errors import DDLError
from ..model.identity import model_fingerprint
from .signal_stack import kept_signal_stack

RUNTIMES = ("torch", "onnxruntime", "openvino")
#: ``score.precision``: the graphs' arithmetic (``auto``: int8 where it checked out and is measured faster)
PRECISIONS = ("fp32", "int8")
#: the runtime ``score.runtime: auto`` stands for where nothing is measured: on a GPU, in ``ddl score`` / ``ddl
#: calibrate`` (results), and for whether the workflow exports graphs (``ddl watch`` on a CPU: :mod:`.probe`)
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
        if chosen != "torch" and not importable(chosen):
            print(f"note: score.runtime auto: {chosen} is not installed, scoring through torch", file=sys.stderr)
            return "torch"
        return chosen
    if name != "torch" and device.type != "cpu":
        raise DDLError(f"config: key 'score.runtime' is {name!r}, which runs on the CPU, but score.device is {device}")
    return name


def runs_graphs(runtime: str, device: str) -> bool:
    """Whether ``score.runtime`` on ``score.device`` (the configuration's names; ``auto``: a GPU when this machine
    has one) scores through exported graphs: what decides whether the workflow has ``export_model`` jobs.

    DDLError as :func:`resolve_runtime` (or naming ``score.device`` when torch knows no such device).
    """
    if device == "auto":
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    else:
        try:
            kind = torch.device(device).type
        except RuntimeError as exc:
            raise DDLError(f"config: key 'score.device': {device!r} is not a torch device ({exc})") from None
    return resolve_runtime(runtime, torch.device(kind)) != "torch"


def importable(module: str) -> bool:
    """Whether the Python package ``module`` can be imported here."""
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def graph_folder(model_path: str | Path) -> Path:
    """Where a model's exported graphs live: ``M.pt`` -> ``M.onnx/`` beside it."""
    return Path(model_path).with_suffix(".onnx")


def int8_folder(model_path: str | Path) -> Path:
    """Where a model's int8 graphs live: ``M.pt`` -> ``M.int8/`` beside it (outside ``M.onnx/``, the workflow's
    output of ``export_model``, which nothing else writes to)."""
    return Path(model_path).with_suffix(".int8")


def graph_key(model_path: str | Path, meta: dict[str, Any]) -> str:
    """The model file's graph key: fingerprint, input shape (meta: channels, height, width) and export version."""
    shape = (int(meta["channels"]), int(meta["height"]), int(meta["width"]))
    return f"{model_fingerprint(model_path)[:16]}-{'x'.join(map(str, shape))}-v{EXPORT_VERSION}"


def graph_files(model_path: str | Path, meta: dict[str, Any], precision: str = "fp32") -> tuple[Path, Path]:
    """The (encoder, decoder) ONNX files of the model file ``model_path`` (meta: its checkpoint meta: channels,
    height, width) in ``precision`` (fp32: ``M.onnx/``, int8: ``M.int8/``), whether they exist or not (module
    docstring: the key)."""
    key = graph_key(model_path, meta)
    folder = graph_folder(model_path) if precision == "fp32" else int8_folder(model_path)
    return folder / f"encoder-{key}.onnx", folder / f"decoder-{key}.onnx"


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

    def __init__(self, model: nn.Module, encoder: Runner, decoder: Runner, runtime: str,
                 precision: str = "fp32") -> None:
        super().__init__()
        self.torch_model = model
        self.frames = model.frames
        self.read_frames = list(model.read_frames)
        self.runtime = runtime
        self.precision = precision
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
                  threads: int | None = None, precision: str = "fp32") -> nn.Module:
    """``model`` itself for ``runtime`` "torch", else a :class:`RuntimeModel` running its exported graphs.

    ``threads``: the runtime's threads (default: torch's, ``torch.get_num_threads()``); ``precision``: fp32
    (``M.onnx/``) or int8 (``M.int8/``, :mod:`.quantize`). Raises DDLError when the model has no ``encode`` /
    ``decode``, the runtime's package is not installed, or the graphs of ``model_path`` have not been made
    (:func:`ddlcore.score.export.export_model`; int8: ``ddl calibrate`` with ``score.precision`` int8 or auto).
    """
    if runtime == "torch":
        if precision != "fp32":
            raise DDLError("config: key 'score.precision': int8 runs through onnxruntime or openvino, not torch")
        return model
    if runtime not in RUNNERS:
        raise DDLError(f"config: key 'score.runtime': {runtime!r} is not one of {', '.join(RUNTIMES)}")
    if not importable(runtime):
        raise DDLError(f"config: key 'score.runtime' is {runtime!r} but the package is not installed "
                       f"(pip install {runtime})")
    if not (callable(getattr(model, "encode", None)) and callable(getattr(model, "decode", None))):
        raise DDLError(f"{model_path}: score.runtime {runtime} needs a model with encode/decode")
    encoder, decoder = graph_files(model_path, meta, precision)
    if not (encoder.is_file() and decoder.is_file()):
        if precision == "int8":
            raise DDLError(f"{model_path}: no int8 graphs for this model in {int8_folder(model_path)}/ (they are made "
                           f"from a camera's normal frames by ddl calibrate with score.precision int8 or auto)")
        raise DDLError(f"{model_path}: no {runtime} graphs exported for this model in {graph_folder(model_path)}/ "
                       f"(run ddl export --model {model_path})")
    n = threads or torch.get_num_threads()
    return RuntimeModel(model, RUNNERS[runtime](encoder, n), RUNNERS[runtime](decoder, n), runtime, precision)
