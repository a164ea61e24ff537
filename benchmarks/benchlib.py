"""Pieces the benchmarks share: the model settings they time, a generated training video, the authors' code,
memory and FLOP readings. Imported by the scripts beside it (``python benchmarks/<script>.py`` puts this
folder on the path)."""

from __future__ import annotations

import ctypes
import gc
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable

import numpy as np
import torch

#: ddl's ``model`` settings that express the authors' published architecture: C3DSU with heads 3/5/7,
#: pixel (un)shuffle resizing, 1x1 post convolution, a Conv3D on the bottleneck too, widths 64-512, sigmoid
AUTHORS_MODEL = {"heads": [3, 5, 7], "resize": "pixelshuffle", "post_conv_kernel": 1, "conv3d_bottleneck": True,
                 "widths": [64, 128, 256, 512], "output": "sigmoid"}
#: ddl's ``train`` settings of the authors' training: their loss reading, lambda, eps and learning rate; their
#: two forwards computed as one stacked forward, as config/ped2-authors.yaml does
AUTHORS_TRAIN = {"distinction": "pixel_ratio", "lambda": 0.01, "eps": 1.0e-6, "lr": 0.01, "stacked_forward": True}
#: where the authors' published code lies, relative to the repository root (absent in a user's clone)
AUTHORS_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "authors-ddl"


def authors_modules(folder: Path = AUTHORS_DIR) -> dict[str, ModuleType]:
    """Import the authors' objects/models.py, pseudo_loss.py and scoring.py from ``folder``, unchanged.

    Returns {"models": ..., "pseudo_loss": ..., "scoring": ...}; SystemExit with one line when the folder
    is absent or their imports (einops) are missing.
    """
    if not (folder / "objects" / "models.py").is_file():
        raise SystemExit(f"the authors' code is not at {folder} (it lies beside the repository in ../shared/reference)")
    sys.path.insert(0, str(folder))
    try:
        from objects import models, pseudo_loss, scoring  # type: ignore[import-not-found]
    except ImportError as exc:
        raise SystemExit(f"the authors' code needs a package that is missing: {exc}") from None
    return {"models": models, "pseudo_loss": pseudo_loss, "scoring": scoring}


def make_video(folder: Path, size: int | tuple[int, int], channels: int, n_frames: int,
               window: int) -> tuple[Path, Path]:
    """A frame store of random (n_frames, height, width, channels) uint8 frames (``size``: the side of square
    frames, or (height, width)) and a mask cache with one track moving across it, both in ``folder``; returns
    (frame store, mask cache)."""
    from ddlcore.data.boxes_io import BoxTable
    from ddlcore.data.framestore import write_frame_store
    from ddlcore.track.mask_cache import write_mask_cache

    height, width = (size, size) if isinstance(size, int) else size
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(n_frames, height, width, channels), dtype=np.uint8)
    attrs = {"source": "bench", "original_height": height, "original_width": width, "fps": 25, "dataset": "bench"}
    write_frame_store(folder / "f.h5", list(frames), n_frames, height, width, channels, attrs)
    side = min(height, width) // 4
    x0 = np.linspace(0, min(height, width) - side, n_frames, dtype=np.float32)
    boxes = np.stack([x0, x0, x0 + side, x0 + side], axis=1)
    table = BoxTable(frame=np.arange(n_frames, dtype=np.int32), box=boxes, score=np.ones(n_frames, np.float32),
                     ident=np.ones(n_frames, np.int32), n_frames=n_frames, height=height, width=width, kind="tracks")
    write_mask_cache(folder / "m.h5", table, window)
    return folder / "f.h5", folder / "m.h5"


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _proc_status_mib(field: str) -> float | None:
    """A memory field of /proc/self/status (VmRSS, VmHWM) in MiB; None where /proc is absent."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class PeakMemory:
    """Memory an implementation adds while it is built and run: peak minus the level at the start, in MiB.

    On CUDA: allocated device memory (torch's counters). On the CPU: resident memory, after handing freed
    memory back to the system (glibc malloc_trim) and resetting the kernel's high-water mark
    (/proc/self/clear_refs); ``None`` where that is unavailable. Use: ``with PeakMemory(device) as m: ...``,
    then ``m.mib``.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.start: float | None = None
        self.mib: float | None = None

    def __enter__(self) -> "PeakMemory":
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device) / 2**20
            return self
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            Path("/proc/self/clear_refs").write_text("5")
            self.start = _proc_status_mib("VmRSS")
        except OSError:
            self.start = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.start is None:
            return
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.mib = torch.cuda.max_memory_allocated(self.device) / 2**20 - self.start
        else:
            peak = _proc_status_mib("VmHWM")
            self.mib = None if peak is None else peak - self.start


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo) and the threads torch may use; "unknown" where /proc is absent."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {torch.get_num_threads()} threads available"
    except OSError:
        pass
    return "unknown"


def count_flops(step: Callable[[], object]) -> int:
    """FLOPs of one call of ``step`` (forwards and backward; torch.utils.flop_counter, matrix and convolution ops)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())
