"""Training and scoring speed of ddl's authors' setting side by side with the authors' published code.

Both run in this one process on the same device, inputs, size and batch. Training: the authors' step as in
their train.py (their Conv3dSkipUNet, PseudoAnomalyCreator and PseudoLoss, one Adam over both, fp32, the
``mask.sum() > 0`` test and their per-step loss readout; without nn.DataParallel) against
:meth:`ddlcore.train.trainer.Trainer.train_step` (the two forwards stacked into one, or, in the ``-2fwd`` modes, one
after the other; backward; Adam) in each of ``--modes``. After ``--warmup`` steps each, ``--rounds`` rounds
time ``--steps`` steps of every implementation in turn, so that load from other processes falls on all of
them; per-round ratios give the range. Also printed: the memory an implementation adds (weights, optimizer state, activations; device memory on CUDA, resident memory on the
CPU), the FLOPs of one step (torch.utils.flop_counter) and the achieved TFLOP/s. Scoring: frames/s of the
authors' test loop (batch 1, their Score of objects/scoring.py) against :func:`ddlcore.score.frame_stores.window_scores`
(batched windows, shared encoder) on the same random frames with untrained weights. Usage::

    python benchmarks/bench_vs_authors.py --size 64 --batch 4 --threads 2            # CPU
    python benchmarks/bench_vs_authors.py --device cuda --size 256 --batch 10 --channels 1 --steps 20
    python benchmarks/bench_vs_authors.py --tiny                                      # a smoke test

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from benchlib import AUTHORS_DIR, AUTHORS_MODEL, AUTHORS_TRAIN, PeakMemory, authors_modules, count_flops, make_video, synchronize

#: ddl's training modes: overrides of the ``train`` settings
MODES = {
    "fp32": {"autocast_cpu": False, "autocast_cuda": False, "compile": False},
    "bf16": {"autocast_cpu": True, "autocast_cuda": True, "compile": False},
    "bf16-compile": {"autocast_cpu": True, "autocast_cuda": True, "compile": True},
    "fp32-compile": {"autocast_cpu": False, "autocast_cuda": False, "compile": True},
    # the two forwards of a step one after the other, as before train.stacked_forward
    "bf16-2fwd": {"autocast_cpu": True, "autocast_cuda": True, "compile": False, "stacked_forward": False},
    "fp32-2fwd": {"autocast_cpu": False, "autocast_cuda": False, "compile": False, "stacked_forward": False},
}


class AuthorsStep:
    """The body of the authors' training loop (their train.py) on one fixed batch."""

    def __init__(self, channels: int, frames: int, device: torch.device, folder: Path = AUTHORS_DIR) -> None:
        authors = authors_modules(folder)
        self.model = authors["models"].Conv3dSkipUNet(latent_dim=512, channels=channels, temporal=frames).to(device)
        self.creator = authors["pseudo_loss"].PseudoAnomalyCreator().to(device)
        self.loss_func = authors["pseudo_loss"].PseudoLoss(frames)
        self.optimizer = torch.optim.Adam(list(self.model.parameters()) + list(self.creator.parameters()),
                                          lr=AUTHORS_TRAIN["lr"])
        self.score = authors["scoring"].Score()

    def __call__(self, clip: torch.Tensor, mask: torch.Tensor) -> None:
        self.model.train()
        if mask.sum() > 0:
            x_anom, anomaly_weight = self.creator(clip, mask)
            normal = self.model(clip)
            anomalous = self.model(x_anom)
            loss = self.loss_func(clip, x_anom, normal, anomalous, mask, anomaly_weight)
            self.optimizer.zero_grad()
            loss["loss"].backward()
            self.optimizer.step()
            [float(v.mean()) for v in loss.values()]  # their progress-bar readout

    @torch.no_grad()
    def score_video(self, frames: torch.Tensor, clip: int) -> np.ndarray:
        """Their test loop: frames float (N, C, H, W) on the device, one window per forward -> (N - clip + 1,)."""
        self.model.eval()
        out = []
        for i in range(frames.shape[0] - clip + 1):
            x = frames[i : i + clip].permute(1, 0, 2, 3)[None]
            out.append(self.score(x, self.model(x))[-1])
        return np.concatenate(out)


class DdlStep:
    """ddl's Trainer in the authors' setting, one training mode, on one fixed batch."""

    def __init__(self, mode: str, stores: tuple[Path, Path], args: argparse.Namespace, device: torch.device) -> None:
        from ddlcore.config import validate_config
        from ddlcore.model.settings import ModelSettings
        from ddlcore.train.settings import TrainSettings
        from ddlcore.train.trainer import Trainer
        from ddlcore.train.clips import ClipDataset

        train = dict(AUTHORS_TRAIN, batch_size=args.batch, device=str(device), **MODES[mode])
        config = validate_config({"model": dict(AUTHORS_MODEL), "train": train})
        dataset = ClipDataset([stores[0]], [stores[1]], config["model"]["frames"], "skip", (0.125, 0.25))
        self.trainer = Trainer(TrainSettings.from_config(config), ModelSettings.from_config(config), "c3dsu", "ddl",
                               dataset, device)
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(0)

    def __call__(self, clip: torch.Tensor, mask: torch.Tensor) -> None:
        self.trainer.model.train()
        self.trainer.train_step(clip, mask, self.generator)

    def score_video(self, frames: np.ndarray, clip: int, batch: int, device: torch.device, autocast: bool) -> np.ndarray:
        """ddl's scoring of uint8 frames (N, H, W, C) -> (N - clip + 1,) window scores (patch 16, shifted grid)."""
        from ddlcore.score.inference import window_scores

        self.trainer.model.eval()
        return window_scores(self.trainer.model, frames, clip, 16, True, batch, device, autocast=autocast,
                             desc="bench")[0]


def fixed_batch(batch: int, channels: int, frames: int, size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Random clips (B, C, T, H, W) in [0, 1) and one box mask per clip (B, 1, T, H, W), a quarter of the side."""
    gen = torch.Generator().manual_seed(0)
    clip = torch.rand((batch, channels, frames, size, size), generator=gen)
    mask = torch.zeros((batch, 1, frames, size, size))
    side = max(1, size // 4)
    for b in range(batch):
        y, x = (int(v) for v in torch.randint(0, size - side + 1, (2,), generator=gen))
        mask[b, :, :, y : y + side, x : x + side] = 1.0
    return clip.to(device), mask.to(device)


def timed(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Seconds per call of ``fn``, over ``repeats`` calls, the device's queue drained before and after."""
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) / repeats


def summary(times: list[float], reference: list[float] | None = None) -> dict[str, Any]:
    """Median and range of per-round times; with ``reference`` (the authors' per-round times), the speed ratio."""
    out: dict[str, Any] = {"s_median": round(statistics.median(times), 4), "s_min": round(min(times), 4),
                           "s_max": round(max(times), 4)}
    if reference is not None:
        ratios = [r / t for r, t in zip(reference, times)]
        out.update(ratio_median=round(statistics.median(ratios), 2), ratio_min=round(min(ratios), 2),
                   ratio_max=round(max(ratios), 2))
    return out


def bench_training(args: argparse.Namespace, device: torch.device, stores: tuple[Path, Path]) -> tuple[dict, dict]:
    """Time the authors' step and each ddl mode; returns (figures per implementation, the implementations)."""
    clip, mask = fixed_batch(args.batch, args.channels, 3, args.size, device)
    impls: dict[str, Callable[[torch.Tensor, torch.Tensor], None]] = {}
    figures: dict[str, dict[str, Any]] = {}
    for name in ["authors"] + [f"ddl-{m}" for m in args.modes]:
        with PeakMemory(device) as memory:
            impl = (AuthorsStep(args.channels, 3, device, args.authors_code) if name == "authors"
                    else DdlStep(name[4:], stores, args, device))
            first = timed(lambda: impl(clip, mask), 1, device)
            if args.warmup > 1:
                timed(lambda: impl(clip, mask), args.warmup - 1, device)
        impls[name] = impl
        figures[name] = {"first_step_s": round(first, 2),
                         "memory_mib": None if memory.mib is None else round(memory.mib)}
        print(f"  built and warmed up {name}: first step {first:.2f} s", flush=True)
    # FLOPs of the authors' step and of one eager ddl mode (every ddl mode does the same arithmetic)
    eager = None if args.no_flops else next((f"ddl-{m}" for m in args.modes if not MODES[m]["compile"]), None)
    for name in () if args.no_flops else ("authors", eager):
        if name is not None:
            figures[name]["gflop_per_step"] = round(count_flops(lambda: impls[name](clip, mask)) / 1e9, 1)
    per_round: dict[str, list[float]] = {name: [] for name in impls}
    for r in range(args.rounds):
        for name, impl in impls.items():
            per_round[name].append(timed(lambda: impl(clip, mask), args.steps, device))
        print(f"  round {r + 1}: " + ", ".join(f"{n} {t[-1]:.3f} s" for n, t in per_round.items()), flush=True)
    ddl_flops = figures[eager]["gflop_per_step"] if eager else None
    for name, times in per_round.items():
        figures[name].update(summary(times, None if name == "authors" else per_round["authors"]))
        step = figures[name]["s_median"]
        figures[name]["clips_per_s"] = round(args.batch / step, 3)
        flops = figures["authors"].get("gflop_per_step") if name == "authors" else ddl_flops
        figures[name]["tflop_per_s"] = None if flops is None else round(flops / 1e3 / step, 3)
    return figures, impls


def bench_scoring(args: argparse.Namespace, device: torch.device, impls: dict) -> dict[str, dict[str, Any]]:
    """Frames/s of the authors' test loop and of ddl's window scoring (bf16 and fp32 on CUDA)."""
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(args.score_frames, args.size, args.size, args.channels), dtype=np.uint8)
    as_float = torch.from_numpy(frames).to(device).permute(0, 3, 1, 2).float().div(255.0)
    authors: AuthorsStep = impls["authors"]
    ddl: DdlStep = next(v for k, v in impls.items() if k.startswith("ddl-"))
    runs: dict[str, Callable[[], object]] = {"authors": lambda: authors.score_video(as_float, 3)}
    precisions = [True, False] if device.type == "cuda" else [False]
    for bf16 in precisions:
        runs[f"ddl-{'bf16' if bf16 else 'fp32'}"] = \
            lambda bf16=bf16: ddl.score_video(frames, 3, args.score_batch, device, bf16)
    windows = args.score_frames - 2
    for run in runs.values():
        timed(run, 1, device)  # warm-up
    per_round: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            per_round[name].append(timed(run, 1, device))
    figures = {}
    for name, times in per_round.items():
        figures[name] = summary(times, None if name == "authors" else per_round["authors"])
        figures[name]["frames_per_s"] = round(windows / figures[name]["s_median"], 1)
    return figures


def print_table(title: str, figures: dict[str, dict[str, Any]], rate: str) -> None:
    """One line per implementation: time, rate, ratio to the authors (median and range), and the rest."""
    print(title)
    for name, f in figures.items():
        ratio = (f"x{f['ratio_median']:.2f} [{f['ratio_min']:.2f}-{f['ratio_max']:.2f}]" if "ratio_median" in f
                 else "x1 (reference)")
        extra = "".join(f", {k} {f[k]}" for k in ("memory_mib", "gflop_per_step", "tflop_per_s", "first_step_s") if k in f)
        print(f"  {name:18s} {f['s_median']:.4f} s [{f['s_min']:.4f}-{f['s_max']:.4f}], {rate} {f[rate]}, {ratio}{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    parser.add_argument("--size", type=int, default=64, help="frame side (divisible by 16, at least 32)")
    parser.add_argument("--channels", type=int, default=3, choices=[1, 3])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--steps", type=int, default=2, help="training steps per round and implementation")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (the first one compiles)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", nargs="+", choices=list(MODES), help="ddl training modes (default: fp32 bf16, "
                        "and bf16-compile on CUDA)")
    parser.add_argument("--score-frames", type=int, default=18, help="frames of the scored video")
    parser.add_argument("--score-batch", type=int, default=16, help="ddl's windows per forward")
    parser.add_argument("--no-score", action="store_true")
    parser.add_argument("--no-flops", action="store_true", help="skip counting FLOPs (one more step each)")
    parser.add_argument("--authors-code", type=Path, default=AUTHORS_DIR, help=f"the authors' code (default {AUTHORS_DIR})")
    parser.add_argument("--tiny", action="store_true", help="32x32, batch 2, one step and round: a smoke test")
    args = parser.parse_args()
    if args.tiny:
        args.size, args.batch, args.steps, args.warmup, args.rounds, args.score_frames = 32, 2, 1, 1, 1, 6
    torch.set_num_threads(args.threads)
    from ddlcore.devices import resolve_device

    device = resolve_device(args.device, "--device")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    args.modes = args.modes or (["fp32", "bf16", "bf16-compile"] if device.type == "cuda" else ["fp32", "bf16"])
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device {device} ({name}), torch {torch.__version__}; {args.size}x{args.size}x{args.channels}, T 3, "
          f"batch {args.batch}; {args.rounds} rounds of {args.steps} steps after {args.warmup} warm-up", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        stores = make_video(Path(tmp), args.size, args.channels, 8, 3)
        train, impls = bench_training(args, device, stores)
        print_table("training step (the normal and pseudo-anomalous forwards, backward, Adam):", train, "clips_per_s")
        score = {} if args.no_score else bench_scoring(args, device, impls)
        if score:
            print_table(f"scoring {args.score_frames} frames (authors: batch 1; ddl: batch {args.score_batch}, "
                        "shared encoder):", score, "frames_per_s")
    print(json.dumps({"device": str(device), "device_name": name, "torch": torch.__version__, "size": args.size,
                      "channels": args.channels, "batch": args.batch, "threads": args.threads, "steps": args.steps,
                      "rounds": args.rounds, "train": train, "score": score}))


if __name__ == "__main__":
    main()
