"""Does bf16 autocast move the anomaly weight sigma(l) differently from fp32, beyond the spread of seeds?

Trains ddl's authors' setting (``config/ped2-authors.yaml``: heads 3/5/7, pixel shuffle, lr 1e-2 for the model
and l, pixel-ratio loss, skipped mask-free batches) with widths scaled by ``--width-scale`` on the given frame
stores and mask caches, once per seed in fp32 and once with bf16 autocast (on CPU: ``train.autocast_cpu``;
on a GPU ddl always uses autocast, so run this on CPU), and prints sigma after every epoch per run and the
mean +- s.d. over seeds of the final sigma for each precision, with the paired difference.

    python benchmarks/sigma_precision.py --frames results/frames/synthetic/train/01_00{1,2,3}.h5 \\
        --masks results/masks/synthetic/train/01_00{1,2,3}.h5 --seeds 0 1 2 --epochs 4 --steps 40
"""

from __future__ import annotations

import argparse
import copy
import tempfile
from pathlib import Path

import numpy as np
import yaml

from ddlcore.config import validate_config
from ddlcore.model import load_trained_model
from ddlcore.model.settings import ModelSettings
from ddlcore.evaluate.seed_stats import mean_interval, mean_sd
from ddlcore.track.settings import MasksSettings
from ddlcore.train.settings import TrainSettings
from ddlcore.train.trainer import train_model

PRESET = Path(__file__).resolve().parent.parent / "config" / "ped2-authors.yaml"


def sigma_per_epoch(config: dict, frames: list[str], masks: list[str], out: Path, steps: int) -> list[float]:
    """Train one model; return sigma(l) at the end of each epoch (from its sigma history)."""
    train_model(TrainSettings.from_config(config), ModelSettings.from_config(config), MasksSettings.from_config(config),
                "bench", "c3dsu", "ddl", frames, masks, out)
    _, meta = load_trained_model(out)
    history = meta["sigma_history"]
    return [float(history[min(len(history), (e + 1) * steps) - 1]) for e in range(config["train"]["epochs"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", nargs="+", required=True)
    parser.add_argument("--masks", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=40, help="steps per epoch")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--width-scale", type=float, default=0.125, help="widths of the preset x this")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    base = validate_config(yaml.safe_load(PRESET.read_text()))
    base["model"]["widths"] = [max(1, int(w * args.width_scale)) for w in base["model"]["widths"]]
    base["train"].update(epochs=args.epochs, steps_per_epoch=args.steps, batch_size=args.batch, device="cpu",
                         threads=args.threads, workers=0, channels_last=True)
    final: dict[str, dict[int, float]] = {"fp32": {}, "bf16": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for precision in final:
                config = copy.deepcopy(base)
                config["train"].update(seed=seed, autocast_cpu=precision == "bf16")
                sigmas = sigma_per_epoch(config, args.frames, args.masks, Path(tmp) / f"{precision}-{seed}.pt",
                                         args.steps)
                final[precision][seed] = sigmas[-1]
                print(f"seed {seed} {precision}: sigma after each epoch " + " ".join(f"{s:.3f}" for s in sigmas),
                      flush=True)
    for precision, values in final.items():
        mean, sd = mean_sd(list(values.values()))
        print(f"{precision}: final sigma {mean:.3f} +- {0.0 if sd is None else sd:.3f} over {len(values)} seeds")
    diffs = np.array([final["bf16"][s] - final["fp32"][s] for s in args.seeds])
    mean, low, high = mean_interval(diffs)
    interval = "n/a" if low is None else f"[{low:+.3f}, {high:+.3f}]"
    print(f"bf16 - fp32, paired by seed: {mean:+.3f}, 95% interval {interval}")


if __name__ == "__main__":
    main()
