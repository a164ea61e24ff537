"""Model inference shared by offline scoring, calibration and live scoring: reconstruction error per frame.

For every window of T frames the model reconstructs the middle frame. The per-pixel error is
the L2 norm over channels divided by sqrt(C) (as the authors compute it); it is averaged over
``score.patch`` x ``score.patch`` patches and the frame score is the highest patch mean
(``score.shifted_grid`` adds the same grid shifted by patch/2; the score is the max over both).
The first and last (T-1)/2 frames have no full window: ``score.border`` ``nearest`` gives them
the nearest window's score, ``drop`` marks them invalid (their labels are then dropped too).
Scoring reads frames only: no detection or tracking at test time (paper section 3.4).
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..errors import DDLError
from ..model.checkpoint import load_trained_model
from .motion import check_motion_clip, motion_error
from .patches import patch_scores
from .runtime import resolve_runtime, runtime_model


class FrameSource(Protocol):
    """Anything sliceable like a frame store: ``source[a:b]`` -> uint8 (b-a, H, W, C)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: slice) -> np.ndarray: ...


class FrameSpan:
    """Frames ``start:stop`` of a frame source, itself a :class:`FrameSource` (nothing read until sliced):
    ``span[a:b]`` -> uint8 (b-a, H, W, C), source frames ``start + a`` to ``start + b``."""

    def __init__(self, source: FrameSource, start: int, stop: int) -> None:
        self.source, self.start, self.stop = source, start, stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, index: slice) -> np.ndarray:
        first, last, _ = index.indices(len(self))
        return np.asarray(self.source[self.start + first : self.start + max(first, last)])


def pixel_error(frames: torch.Tensor, recon: torch.Tensor, roi: torch.Tensor | None = None,
                motion: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel error: frames, recon float (B, C, H, W) -> (B, H, W) = ||x - f(x)||_2 over C / sqrt(C).

    motion: float (B, H, W), the motion term of :func:`ddlcore.score.motion.motion_error`, added to the error
    (None: the reconstruction error alone, the paper's).

    roi: float (H, W) or (B, H, W), 1 where watched and 0 where masked out (:func:`roi_tensor`), multiplies the
    error: the one place a camera's region of interest enters offline, causal and live scores (and the maps,
    regions and overlays made from the error). None: the error unchanged.
    """
    channels = frames.shape[1]
    error = torch.linalg.vector_norm(frames - recon, dim=1) / channels**0.5
    if motion is not None:
        error = error + motion
    return error if roi is None else error * roi


def roi_tensor(roi: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    """A region of interest bool (H, W) (:func:`ddlcore.data.roi.load_roi`) as the float (H, W) mask
    :func:`pixel_error` takes, on ``device``; None stays None."""
    return None if roi is None else torch.from_numpy(np.asarray(roi, np.float32)).to(device)


def to_tensor(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (n, H, W, C) -> float (n, C, H, W) in [0, 1] on ``device``.

    To a GPU the uint8 frames travel from pinned memory without waiting for the copy to finish.
    """
    host = torch.from_numpy(np.ascontiguousarray(frames))
    if device.type == "cuda":
        host = host.pin_memory()
    return host.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255.0)


def padded(frames: np.ndarray, length: int) -> np.ndarray:
    """frames (n, ...) extended to ``length`` >= n rows by repeating the last one."""
    extra = length - len(frames)
    return frames if extra <= 0 else np.concatenate([frames, np.repeat(frames[-1:], extra, axis=0)])


def can_share_encoder(model: torch.nn.Module) -> bool:
    """True when ``model`` offers ``encode`` / ``decode`` so frame features can serve several windows."""
    return callable(getattr(model, "encode", None)) and callable(getattr(model, "decode", None))


def reconstruct_windows(model: torch.nn.Module, chunk: torch.Tensor, clip: int, share_encoder: bool) -> torch.Tensor:
    """Reconstruct the middle frame of every full window in ``chunk``.

    chunk: float (n, C, H, W), n >= clip; returns (n - clip + 1, C, H, W), row j reconstructing
    frame j + clip//2 from frames j .. j + clip - 1. With ``share_encoder`` each frame is encoded
    once (``model.encode``) and its features are stacked into every window containing it
    (``model.decode`` of (B, R, c_i, h_i, w_i) per level, R the frames of a window the model reads,
    ``model.read_frames``, all ``clip`` of them by default); otherwise ``model`` runs on
    (B, C, T, H, W) clips.
    """
    windows = chunk.shape[0] - clip + 1
    if share_encoder:
        features = model.encode(chunk)
        read = getattr(model, "read_frames", range(clip))
        stacked = [torch.stack([f[i : i + windows] for i in read], dim=1) for f in features]
        return model.decode(stacked)
    clips = torch.stack([chunk[i : i + windows] for i in range(clip)], dim=2)
    return model(clips)


def autocast_for(device: torch.device, enabled: bool = True) -> Any:
    """bf16 autocast on CUDA when ``enabled`` (``score.autocast_cuda``), a no-op context elsewhere."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" and enabled else nullcontext()


def window_errors(
    model: torch.nn.Module, frames: FrameSource, clip: int, batch_size: int, device: torch.device,
    share_encoder: bool = True, desc: str = "score", autocast: bool = True, roi: np.ndarray | None = None,
    motion_weight: float = 0.0,
) -> Iterator[torch.Tensor]:
    """Per-pixel error maps of every full window of one video, batch by batch, in order.

    frames: uint8 (N, H, W, C), sliceable, N >= clip. Yields float (b, H, W) on ``device``; row j of
    the whole sequence is window j, which reconstructs frame j + clip//2. ``roi`` bool (H, W), the
    watched pixels, zeroes the error elsewhere (:func:`pixel_error`). ``share_encoder`` is
    ignored for a model without encode/decode or one reading a single frame. Call under no_grad.
    On CUDA in bf16 autocast unless ``autocast`` is False. While cuDNN autotunes
    (``torch.backends.cudnn.benchmark``, set on a GPU) a video's last, short batch is padded with copies of
    its last frame to the full batch, so that every forward has the shapes tuned once; the model must be
    in eval mode (each window's reconstruction independent of the others). ``motion_weight`` > 0 adds the flow
    speed into each middle frame (:mod:`ddlcore.score.motion`) to its error.
    """
    check_motion_clip(motion_weight, clip)
    windows = len(frames) - clip + 1
    half = clip // 2
    # a model reading one frame per clip (UNet) gains nothing from shared features
    share = share_encoder and can_share_encoder(model) and getattr(model, "frames", clip) > 1
    fixed_shapes = torch.backends.cudnn.benchmark  # set on a GPU only (score.cudnn_benchmark)
    mask = roi_tensor(roi, device)
    for start in tqdm(range(0, windows, batch_size), desc=desc, unit="batch", disable=None, leave=False):
        stop = min(start + batch_size, windows)
        chunk = frames[start : stop + clip - 1]
        if fixed_shapes:
            chunk = padded(chunk, batch_size + clip - 1)
        tensor = to_tensor(chunk, device)
        with autocast_for(device, autocast):
            recon = reconstruct_windows(model, tensor, clip, share)[: stop - start]
        current = tensor[half : half + stop - start]
        motion = motion_error(tensor[half - 1 : half - 1 + stop - start], current, motion_weight)
        yield pixel_error(current, recon.float(), mask, motion)


@torch.no_grad()
def window_scores(
    model: torch.nn.Module,
    frames: FrameSource,
    clip: int,
    patch: int,
    shifted_grid: bool,
    batch_size: int,
    device: torch.device,
    share_encoder: bool = True,
    map_stride: int | None = None,
    desc: str = "score",
    background: str = "none",
    autocast: bool = True,
    roi: np.ndarray | None = None,
    motion_weight: float = 0.0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Score every full window of one video.

    ``background`` "video_median" subtracts, before patch pooling, the per-pixel median error over
    the video's windows (clamped at 0): errors a camera shows in every frame (fine static texture
    the model blurs, a flickering light) stop ranking frames, while a moving object's error, present
    in few frames, stays. "none" scores the raw error (the paper).

    frames: uint8 (N, H, W, C), sliceable (a :class:`FrameStore` or an array); N >= clip.
    Returns (scores float32 (N - clip + 1,), maps float16 (N - clip + 1, H//s, W//s) or None),
    entry j belonging to frame j + clip//2; maps (per-pixel error averaged over s x s cells,
    s = ``map_stride``) only when ``map_stride`` is given. Runs under no_grad; bf16 autocast on CUDA unless
    ``autocast`` is False (see :func:`window_errors`). Scores stay on the device until the video is done:
    reading the next frames overlaps the device's work. ``roi`` bool (H, W): only the watched pixels'
    error counts (the rest is 0 in scores and maps); None: all of the frame. ``motion_weight``: the motion
    term (:mod:`ddlcore.score.motion`; 0: none).
    """
    errors = window_errors(model, frames, clip, batch_size, device, share_encoder, desc, autocast, roi, motion_weight)
    return pool_window_errors(errors, patch, shifted_grid, batch_size, map_stride, background)


def pool_window_errors(
    errors: Iterable[torch.Tensor], patch: int, shifted_grid: bool, batch_size: int,
    map_stride: int | None = None, background: str = "none",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Frame scores (and stored maps) of one video's window errors, as :func:`window_scores` returns them.

    errors: float (b, H, W) batches in window order (:func:`window_errors`); the other arguments as
    in :func:`window_scores` (``batch_size`` re-batches the errors after a ``video_median`` background).
    """
    if background == "video_median":
        # the median needs every window's error at once; the raw score streams batch by batch
        stacked = torch.cat([e.cpu() for e in errors])
        errors = (stacked - stacked.median(dim=0).values).clamp_min_(0).split(batch_size)
    scores: list[torch.Tensor] = []
    maps: list[torch.Tensor] = []
    for error in errors:
        scores.append(patch_scores(error, patch, shifted_grid))
        if map_stride is not None:
            pooled = F.avg_pool2d(error[:, None], map_stride, stride=map_stride)[:, 0] if map_stride > 1 else error
            maps.append(pooled.half())
    return torch.cat(scores).float().cpu().numpy(), (torch.cat(maps).cpu().numpy() if map_stride is not None else None)


def fill_border(values: np.ndarray, n_frames: int, clip: int, border: str) -> tuple[np.ndarray, np.ndarray]:
    """Extend per-window values (N - clip + 1, ...) to all N frames.

    ``border`` "nearest": border frames take the nearest window's value, all frames valid.
    "drop": border frames are marked invalid; float values there are NaN (maps: nearest copy).
    Returns (values (N, ...), valid bool (N,)).
    """
    half = clip // 2
    pad = [(half, half)] + [(0, 0)] * (values.ndim - 1)
    filled = np.pad(values, pad, mode="edge")
    valid = np.ones(n_frames, bool)
    if border == "drop":
        valid[:half] = False
        valid[n_frames - half :] = False
        if values.ndim == 1:
            filled[~valid] = np.nan
    return filled, valid


def load_model(path: str | Path, device: torch.device, runtime: str = "torch") -> tuple[torch.nn.Module, dict[str, Any]]:
    """Load a trained checkpoint (eval mode) and its meta; one-line DDLError if it is not one.

    ``runtime`` (``score.runtime``: auto | torch | onnxruntime | openvino) other than torch returns the model
    running through that runtime (:mod:`ddlcore.score.runtime`) from its graphs exported beside ``path``
    beforehand (:func:`ddlcore.score.export.export_model`); DDLError when they are missing. Nothing is written.
    """
    p = Path(path)
    if not p.is_file():
        raise DDLError(f"model checkpoint not found: {p}")
    try:
        model, meta = load_trained_model(p, device)
    except DDLError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to read a checkpoint is one user-facing line
        raise DDLError(f"{p}: not a ddl model checkpoint ({type(exc).__name__}: "
                       f"{(str(exc).splitlines() or [''])[0][:120]})") from exc
    return runtime_model(model, meta, p, resolve_runtime(runtime, device)), meta
