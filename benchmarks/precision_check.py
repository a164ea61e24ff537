"""Do bf16 and torch.compile change the results? Train and score the same model in several precisions and seeds.

Reads a results folder that already holds frame stores, mask caches and labels (what ``snakemake --until masks
labels`` writes; ``benchmarks/gpu_check.sh prepare`` makes one for the built-in synthetic benchmark), trains
C3DSU-DDL per scene with each variant below, scores the test videos and prints each variant's micro AUC and
median of scene AUCs with its training and scoring times. Two fp32 seeds give the seed spread the bf16 and
compiled runs (seed 0) are compared with. Scenes are the video names' prefixes before ``_``. Usage::

    python benchmarks/precision_check.py --results .gpucheck/synthetic --device cuda
    python benchmarks/precision_check.py --results .gpucheck/synthetic --device cpu --tiny   # smoke test

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

#: name -> (seed, train settings, score settings) on top of the config
VARIANTS = {
    "fp32 seed 0": (0, {"autocast_cuda": False, "autocast_cpu": False, "compile": False}, {"autocast_cuda": False}),
    "bf16 seed 0": (0, {"autocast_cuda": True, "autocast_cpu": True, "compile": False}, {"autocast_cuda": True}),
    "bf16 compiled seed 0": (0, {"autocast_cuda": True, "autocast_cpu": True, "compile": True}, {"autocast_cuda": True}),
    "fp32 seed 1": (1, {"autocast_cuda": False, "autocast_cpu": False, "compile": False}, {"autocast_cuda": False}),
}


def scenes_of(folder: Path) -> dict[str, list[Path]]:
    """Frame stores of ``folder`` grouped by scene (the name before ``_``), sorted."""
    groups: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*.h5")):
        groups.setdefault(path.stem.split("_")[0], []).append(path)
    return groups


def run_variant(name: str, args: argparse.Namespace, dataset: str, work: Path) -> dict:
    """Train and score every scene with one variant; returns its AUCs and times."""
    import torch

    from ddlcore.config import load_config
    from ddlcore.evaluate.metrics import evaluate
    from ddlcore.evaluate.settings import MetricsSettings
    from ddlcore.model import load_trained_model
    from ddlcore.score.frame_stores import score_frame_stores
    from ddlcore.model.settings import ModelSettings
    from ddlcore.score.settings import ScoreSettings
    from ddlcore.track.settings import MasksSettings
    from ddlcore.train.settings import TrainSettings
    from ddlcore.train.trainer import train_model

    seed, train, score = VARIANTS[name]
    extra = {"epochs": 1, "steps_per_epoch": 2} if args.tiny else {}
    settings = {"train": dict(train, seed=seed, device=args.device, **extra), "score": dict(score, device=args.device)}
    config = load_config(args.config, json.dumps(settings))
    root = args.results
    train_sets, test_sets = scenes_of(root / "frames" / dataset / "train"), scenes_of(root / "frames" / dataset / "test")
    scenes = sorted(test_sets)[:1] if args.tiny else sorted(test_sets)
    device = torch.device(args.device)
    train_s = score_s = 0.0
    score_files = []
    for scene in scenes:
        frames = train_sets[scene]
        masks = [root / "masks" / dataset / "train" / p.name for p in frames]
        out = work / f"{name.replace(' ', '_')}-{scene}.pt"
        start = time.perf_counter()
        train_model(TrainSettings.from_config(config), ModelSettings.from_config(config), MasksSettings.from_config(config),
                    scene, "c3dsu", "ddl", frames, masks, out)
        train_s += time.perf_counter() - start
        start = time.perf_counter()
        model, meta = load_trained_model(out, device)
        scores = out.with_suffix(".h5")
        score_frame_stores(model, meta, test_sets[scene], scores, ScoreSettings.from_config(config), out)
        score_s += time.perf_counter() - start
        score_files.append(scores)
        torch._dynamo.reset()
    result = evaluate(root / "labels" / f"{dataset}.h5", score_files, MetricsSettings.from_config(config))
    return {"variant": name, "scenes": scenes, "micro_auc": result["micro_auc"],
            "scene_median_auc": result["scene_median_auc"], "train_s": round(train_s, 1), "score_s": round(score_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True, help="results folder with frames, masks and labels")
    parser.add_argument("--config", default="config/config.yaml", help="configuration (default: the synthetic one)")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--budget", type=float, default=300, help="start no variant after this many seconds")
    parser.add_argument("--tiny", action="store_true", help="one scene, one epoch of two steps: a smoke test")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants:
            if time.perf_counter() - start > args.budget:
                print(f"{name}: skipped (budget of {args.budget:.0f} s spent)", flush=True)
                continue
            row = run_variant(name, args, args.dataset, Path(tmp))
            rows.append(row)
            print(f"{name:22s} micro AUC {100 * row['micro_auc']:.2f}, median of scene AUCs "
                  f"{100 * (row['scene_median_auc'] or row['micro_auc']):.2f}, training {row['train_s']} s, "
                  f"scoring {row['score_s']} s", flush=True)
    print(json.dumps({"device": args.device, "rows": rows}))


if __name__ == "__main__":
    main()
