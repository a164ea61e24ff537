"""Training throughput (clips/s) and peak memory of the paper's, the authors' and the narrow CPU configuration.

Each configuration runs in its own process (so peak memory is its own) on a generated video of
random frames with one moving box as its track. It times ``--steps`` full training steps (the
normal and pseudo-anomalous forwards, one after the other or, ``--stacked-forward``, as one; backward; Adam)
after ``--warmup`` steps, and the data loader alone over the same number of batches. Usage::

    python benchmarks/bench_train.py --size 64 --batch 4 --threads 2            # all three, CPU
    python benchmarks/bench_train.py --only authors --size 256 --batch 10 --device cuda
    python benchmarks/bench_train.py --only paper --size 256 --batch 10 --device cuda --compile --warmup 5
    python benchmarks/bench_train.py --only narrow --height 64 --width 80 --batch 8 --threads 1 --widths 16 32 64 128

Each line also gives the FLOPs of one step (``gflop_per_step``, torch.utils.flop_counter: convolutions and
matrix products, forwards and backward) and the rate the timed steps reached (``gflop_per_s``), a
load-independent cost to compare settings by and the speed of this CPU to scale it with.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchlib import AUTHORS_MODEL, count_flops, make_video

CONFIGS = {
    "paper": {"heads": [3, 3, 3, 3], "resize": "pool", "post_conv_kernel": 3, "conv3d_bottleneck": False,
              "widths": [64, 128, 256, 512], "output": "sigmoid"},
    "authors": AUTHORS_MODEL,
    "narrow": {},  # the schema defaults: the recommended CPU configuration
}


def run_one(args: argparse.Namespace) -> dict:
    """Time one configuration in this process; returns the measured figures."""
    import torch

    from ddlcore.config import validate_config
    from ddlcore.model.settings import ModelSettings
    from ddlcore.train.settings import TrainSettings
    from ddlcore.train.trainer import Trainer, resolve_device
    from ddlcore.train.clips import ClipDataset

    torch.set_num_threads(args.threads)
    channels = 3 if args.only != "narrow" else args.narrow_channels
    model = dict(CONFIGS[args.only], **({"widths": args.widths} if args.widths else {}),
                 **({"input": args.model_input} if args.model_input else {}))
    height, width = args.height or args.size, args.width or args.size
    config = validate_config({"model": model, "train": {
        "batch_size": args.batch, "workers": args.workers, "device": args.device, "channels_last": not args.no_channels_last,
        "autocast_cpu": args.autocast_cpu, "compile": args.compile, "steps_per_epoch": args.warmup + args.steps,
        "stacked_forward": args.stacked_forward}})
    device = resolve_device(args.device, "--device")
    with tempfile.TemporaryDirectory() as tmp:
        frames, masks = make_video(Path(tmp), (height, width), channels, 64, config["model"]["frames"])
        dataset = ClipDataset([frames], [masks], config["model"]["frames"], "skip", (0.125, 0.25))
        trainer = Trainer(TrainSettings.from_config(config), ModelSettings.from_config(config), "c3dsu", "ddl", dataset,
                          device)
        params = sum(p.numel() for p in trainer.model.parameters())
        trainer.sampler.set_epoch(0)
        start = time.perf_counter()
        n_loaded = sum(1 for _ in trainer.loader)
        loader_s = time.perf_counter() - start
        gen = torch.Generator(device=device)
        gen.manual_seed(0)
        times, first_step = [], 0.0
        for i, batch in enumerate(trainer.loader):
            t0 = time.perf_counter()
            trainer.train_step(batch["clip"].to(device), batch["mask"].to(device), gen)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i == 0:
                first_step = time.perf_counter() - t0
            if i >= args.warmup:
                times.append(time.perf_counter() - t0)
        batch = next(iter(trainer.loader))
        flops = count_flops(lambda: trainer.train_step(batch["clip"].to(device), batch["mask"].to(device), gen))
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    step = float(np.median(times))
    return {"config": args.only, "height": height, "width": width, "widths": config["model"]["widths"],
            "input": config["model"]["input"],
            "batch": args.batch, "channels": channels, "threads": args.threads,
            "device": str(device), "params_m": round(params / 1e6, 2), "step_s_median": round(step, 3),
            "step_s_min": round(min(times), 3), "step_s_max": round(max(times), 3),
            "gflop_per_step": round(flops / 1e9, 2), "gflop_per_s": round(flops / 1e9 / step, 1),
            "clips_per_s": round(args.batch / step, 3), "first_step_s": round(first_step, 1), "loader_clips_per_s": round(n_loaded * args.batch / loader_s, 1),
            "peak_mem_mib": round(peak), "channels_last": not args.no_channels_last, "autocast_cpu": args.autocast_cpu,
            "compile": args.compile, "stacked_forward": args.stacked_forward}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=list(CONFIGS), help="run one configuration in this process")
    parser.add_argument("--size", type=int, default=64, help="side of square frames")
    parser.add_argument("--height", type=int, help="frame height (default --size)")
    parser.add_argument("--width", type=int, help="frame width (default --size)")
    parser.add_argument("--widths", type=int, nargs=4, help="the model's four widths (default: the configuration's)")
    parser.add_argument("--model-input", choices=["clip", "neighbours", "coarse_middle"],
                        help="model.input (default: the configuration's; config/cameras.yaml: neighbours)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--narrow-channels", type=int, default=1, help="channels of the narrow config (1 = gray)")
    parser.add_argument("--no-channels-last", action="store_true")
    parser.add_argument("--autocast-cpu", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (the first step compiles)")
    parser.add_argument("--stacked-forward", action="store_true", help="the two forwards as one (train.stacked_forward)")
    args = parser.parse_args()
    if args.only:
        print(json.dumps(run_one(args)), flush=True)
        return
    for name in CONFIGS:
        cmd = [sys.executable, __file__, "--only", name] + [a for a in sys.argv[1:]]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        subprocess.run(cmd, check=True, env=env)


if __name__ == "__main__":
    main()
