"""Scoring: sliding-window reconstruction error of test videos, one anomaly score per frame.

For every window of T frames the model reconstructs the middle frame. The per-pixel error is
the L2 norm over channels divided by sqrt(C) (as the authors compute it); it is averaged over
``score.patch`` x ``score.patch`` patches and the frame score is the highest patch mean
(``score.shifted_grid`` adds the same grid shifted by patch/2; the score is the max over both).
The first and last (T-1)/2 frames have no full window: ``score.border`` ``nearest`` gives them
the nearest window's score, ``drop`` marks them invalid (their labels are then dropped too).
Scoring reads frames only: no detection or tracking at test time (paper section 3.4).

Scores file layout (format version 1), one per model and scene::

    /videos/{video}/score  float32 (N,)   frame scores (NaN where invalid)
    /videos/{video}/valid  bool    (N,)   False for border frames dropped by ``score.border: drop``
    /videos/{video}/maps   float16 (N, H//s, W//s)  per-pixel error averaged over s x s cells,
                                          s = ``score.map_stride`` (only with ``score.save_maps``)
    /videos/{video} attrs: frames (frame store path), n_frames
    root attrs: format_version=1, model, arch, variant, dataset, scene, clip_frames, height, width,
                channels, settings (JSON of the score section)

``ddl score`` has two modes: ``--frames F1.h5 ... --out S.h5`` scores test frame stores into a
scores file; a positional ``VIDEO_OR_FOLDER`` scores any footage (see :mod:`ddlcore.footage`).
"""

from __future__ import annotations

import argparse
import json
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol, Sequence

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .data.framestore import FrameStore
from .devices import resolve_device
from .errors import DDLError
from .io_utils import atomic_path

FORMAT_VERSION = 1


class FrameSource(Protocol):
    """Anything sliceable like a frame store: ``source[a:b]`` -> uint8 (b-a, H, W, C)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: slice) -> np.ndarray: ...


def pixel_error(frames: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """Per-pixel error: frames, recon float (B, C, H, W) -> (B, H, W) = ||x - f(x)||_2 over C / sqrt(C)."""
    channels = frames.shape[1]
    return torch.linalg.vector_norm(frames - recon, dim=1) / channels**0.5


def patch_scores(error: torch.Tensor, patch: int, shifted_grid: bool) -> torch.Tensor:
    """Frame scores from error maps: error (B, H, W) -> (B,) highest mean over patch x patch patches.

    Patches tile the frame from its top-left corner (a partial patch at the right/bottom edge is
    left out, as avg_pool2d does). ``shifted_grid`` also pools the grid shifted by patch//2 in
    both directions; the score is the max over both grids.
    """
    if error.shape[-2] < patch or error.shape[-1] < patch:
        raise DDLError(f"config: key 'score.patch': patch {patch} exceeds frame size {tuple(error.shape[-2:])}")
    maps = error[:, None]
    best = F.avg_pool2d(maps, patch, stride=patch).flatten(1).amax(dim=1)
    shift = patch // 2
    if shifted_grid and shift > 0 and min(maps.shape[-2:]) - shift >= patch:
        shifted = F.avg_pool2d(maps[..., shift:, shift:], patch, stride=patch).flatten(1).amax(dim=1)
        best = torch.maximum(best, shifted)
    return best


def _to_tensor(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (n, H, W, C) -> float (n, C, H, W) in [0, 1] on ``device``.

    To a GPU the uint8 frames travel from pinned memory without waiting for the copy to finish.
    """
    host = torch.from_numpy(np.ascontiguousarray(frames))
    if device.type == "cuda":
        host = host.pin_memory()
    return host.to(device, non_blocking=True).permute(0, 3, 1, 2).float().div_(255.0)


def _padded(frames: np.ndarray, length: int) -> np.ndarray:
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
) -> tuple[np.ndarray, np.ndarray | None]:
    """Score every full window of one video.

    ``background`` "video_median" subtracts, before patch pooling, the per-pixel median error over
    the video's windows (clamped at 0): errors a camera shows in every frame (fine static texture
    the model blurs, a flickering light) stop ranking frames, while a moving object's error, present
    in few frames, stays. "none" scores the raw error (the paper).

    frames: uint8 (N, H, W, C), sliceable (a :class:`FrameStore` or an array); N >= clip.
    Returns (scores float32 (N - clip + 1,), maps float16 (N - clip + 1, H//s, W//s) or None),
    entry j belonging to frame j + clip//2; maps (per-pixel error averaged over s x s cells,
    s = ``map_stride``) only when ``map_stride`` is given. ``share_encoder`` is ignored for a
    model without encode/decode or one reading a single frame. Runs under no_grad; on CUDA in bf16
    autocast unless ``autocast`` is False (``score.autocast_cuda``). While cuDNN autotunes
    (``torch.backends.cudnn.benchmark``, set on a GPU) a video's last, short batch is padded with copies of
    its last frame to the full batch, so that every forward has the shapes tuned once; the model must be
    in eval mode (each window's reconstruction independent of the others). Scores stay on the device
    until the video is done: reading the next frames overlaps the device's work.
    """
    n = len(frames)
    windows = n - clip + 1
    half = clip // 2
    # a model reading one frame per clip (UNet) gains nothing from shared features
    share = share_encoder and can_share_encoder(model) and getattr(model, "frames", clip) > 1
    bf16 = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" and autocast else nullcontext()

    fixed_shapes = torch.backends.cudnn.benchmark  # set on a GPU only (score.cudnn_benchmark)

    def batch_errors() -> Iterator[torch.Tensor]:
        for start in tqdm(range(0, windows, batch_size), desc=desc, unit="batch", disable=None, leave=False):
            stop = min(start + batch_size, windows)
            chunk = frames[start : stop + clip - 1]
            if fixed_shapes:
                chunk = _padded(chunk, batch_size + clip - 1)
            tensor = _to_tensor(chunk, device)
            with bf16:
                recon = reconstruct_windows(model, tensor, clip, share)[: stop - start]
            yield pixel_error(tensor[half : half + stop - start], recon.float())

    errors: Iterable[torch.Tensor] = batch_errors()
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




def load_model(path: str | Path, device: torch.device) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Load a trained checkpoint (eval mode) and its meta; one-line DDLError if it is not one."""
    from .model import load_trained_model

    p = Path(path)
    if not p.is_file():
        raise DDLError(f"model checkpoint not found: {p}")
    try:
        return load_trained_model(p, device)
    except DDLError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to read a checkpoint is one user-facing line
        raise DDLError(f"{p}: not a ddl model checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from exc


def training_seed(meta: dict[str, Any]) -> int:
    """The ``train.seed`` a model was trained with, from its checkpoint meta (0 for models that predate it)."""
    return int(meta.get("train_cfg", {}).get("seed", 0))


def score_frame_stores(
    model: torch.nn.Module,
    meta: dict[str, Any],
    frame_paths: Sequence[str | Path],
    out: str | Path,
    score_cfg: dict[str, Any],
    model_path: str | Path = "",
) -> dict[str, int]:
    """Score the test frame stores ``frame_paths`` with ``model`` and write the scores file ``out``.

    meta: the checkpoint meta (arch, variant, frames, height, width, channels, dataset, scene).
    score_cfg: the ``score`` config section. Each store's frames must match the model's size and
    channels and hold at least ``frames`` (T) frames, else DDLError naming the store.
    Returns {video name: frame count}.
    """
    clip = int(meta["frames"])
    expected = (int(meta["height"]), int(meta["width"]), int(meta["channels"]))
    device = next(model.parameters()).device
    stride = score_cfg["map_stride"] if score_cfg["save_maps"] else None
    written: dict[str, int] = {}
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(
            format_version=FORMAT_VERSION, model=str(model_path), arch=meta["arch"], variant=meta["variant"],
            dataset=meta.get("dataset", ""), scene=meta.get("scene", ""), seed=training_seed(meta), clip_frames=clip,
            height=expected[0], width=expected[1], channels=expected[2], settings=json.dumps(score_cfg, sort_keys=True),
        )
        for path in frame_paths:
            with FrameStore(path) as store:
                name = str(store.attrs.get("video") or Path(path).stem)
                if tuple(store.shape[1:]) != expected:
                    raise DDLError(f"{path}: frames are {tuple(store.shape[1:])} (H, W, C) but the model expects {expected}")
                if len(store) < clip:
                    raise DDLError(f"{path}: {len(store)} frames, fewer than the model's clip length {clip}")
                if name in written:
                    raise DDLError(f"{path}: video {name!r} given twice")
                scores, maps = window_scores(
                    model, store, clip, score_cfg["patch"], score_cfg["shifted_grid"], score_cfg["batch_size"],
                    device, score_cfg["share_encoder"], stride, desc=name, background=score_cfg["background"],
                    autocast=score_cfg["autocast_cuda"],
                )
                group = f.create_group(f"videos/{name}")
                group.attrs.update(frames=str(path), n_frames=len(store))
                score, valid = fill_border(scores, len(store), clip, score_cfg["border"])
                group.create_dataset("score", data=score.astype(np.float32))
                group.create_dataset("valid", data=valid)
                if maps is not None:
                    group.create_dataset("maps", data=fill_border(maps, len(store), clip, "nearest")[0], compression="gzip")
                written[name] = len(store)
    return written


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


def _run(args: argparse.Namespace) -> None:
    from .cli import config_from_args

    cfg = config_from_args(args)
    if (args.input is None) == (not args.frames):
        raise DDLError("ddl score: give either --frames F.h5 ... (test frame stores) or one VIDEO_OR_FOLDER, not both")
    device = resolve_device(cfg["score"]["device"], "score.device")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = bool(cfg["score"]["cudnn_benchmark"])
    model, meta = load_model(args.model, device)
    if args.frames:
        if not args.out:
            raise DDLError("ddl score: --out S.h5 is required with --frames")
        written = score_frame_stores(model, meta, args.frames, args.out, cfg["score"], args.model)
        print(f"scored {len(written)} videos ({sum(written.values())} frames) -> {args.out}")
        return
    from .footage import score_footage

    out_csv = args.out_csv or f"{Path(args.input).name}.scores.csv"
    score_footage(model, meta, args.input, cfg, out_csv, args.overlay)
    print(f"scores -> {out_csv}" + (f", overlay -> {args.overlay}" if args.overlay else ""))


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``ddl score`` (two modes: test frame stores, or any video / frame folder)."""
    from .cli import add_config_args

    add_config_args(parser)
    parser.add_argument("--model", required=True, metavar="M.pt", help="trained model checkpoint")
    parser.add_argument("input", nargs="?", metavar="VIDEO_OR_FOLDER", help="score any video file or frame folder")
    parser.add_argument("--frames", nargs="+", metavar="F.h5", help="test frame stores of one scene")
    parser.add_argument("--out", metavar="S.h5", help="scores file (with --frames)")
    parser.add_argument("--out-csv", metavar="CSV", help="per-frame scores of VIDEO_OR_FOLDER (default: <input>.scores.csv)")
    parser.add_argument("--overlay", metavar="VIDEO", help="also write an overlay video (.mp4: mp4v, .avi: MJPG)")
    parser.set_defaults(func=_run)
