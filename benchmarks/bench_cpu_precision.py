"""What each environment variable that emulates a CPU without bf16 changes: PyTorch's answers and the speed.

For each environment (this CPU as it is; ``ATEN_CPU_CAPABILITY=avx2``; ``ONEDNN_MAX_CPU_ISA=AVX2``; both; both
plus ``MKL_ENABLE_INSTRUCTIONS=AVX2``) one process prints, as a JSON line: ATen's capability, oneDNN's bf16
answer, ddl's ``native`` bf16 and so what ``train.autocast_cpu: auto`` chooses, a float32 and a bf16 matrix
product (GFLOP/s), and the median training step of the default model (config/config.yaml's model and batch at
its 64x80 gray frames) in float32 and under bf16 autocast. Usage::

    python benchmarks/bench_cpu_precision.py --threads 2               # all five environments
    python benchmarks/bench_cpu_precision.py --threads 2 --envs native avx2-all --bf16-steps 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
#: name -> the environment variables that lower what the process may use
ENVS = {
    "native": {},
    "aten-avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "onednn-avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "aten+onednn-avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "avx2-all": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}


def matmul_gflops(dtype: object, n: int, repeats: int) -> float:
    """GFLOP/s of an n x n matrix product in ``dtype`` (after one warm-up product)."""
    import torch

    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def step_seconds(autocast: bool, steps: int, warmup: int) -> float:
    """Median seconds of a training step of config/config.yaml's model (C3DSU-DDL) on a generated 64x80 video."""
    import torch
    import yaml

    from benchlib import make_video
    from ddlcore.config import validate_config
    from ddlcore.model.settings import ModelSettings
    from ddlcore.train.settings import TrainSettings
    from ddlcore.train.trainer import Trainer
    from ddlcore.train.clips import ClipDataset

    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    height, width = int(default["frames"]["height"]), int(default["frames"]["width"])
    config = validate_config({"model": default.get("model", {}), "train": {
        "lambda": default["train"]["lambda"], "autocast_cpu": autocast, "steps_per_epoch": steps + warmup}})
    with tempfile.TemporaryDirectory() as tmp:
        frames, masks = make_video(Path(tmp), (height, width), 1, 64, config["model"]["frames"])
        dataset = ClipDataset([frames], [masks], config["model"]["frames"], "skip", (0.125, 0.25))
        trainer = Trainer(TrainSettings.from_config(config), ModelSettings.from_config(config), "c3dsu", "ddl", dataset,
                          torch.device("cpu"))
        trainer.sampler.set_epoch(0)
        gen = torch.Generator().manual_seed(0)
        times = []
        for batch in trainer.loader:
            t0 = time.perf_counter()
            trainer.train_step(batch["clip"], batch["mask"], gen)
            times.append(time.perf_counter() - t0)
    return float(np.median(times[warmup:]))


def probe(args: argparse.Namespace) -> dict:
    """The figures of this process's environment."""
    import torch

    from ddlcore.cpu_precision import cpu_bf16_support

    torch.set_num_threads(args.threads)
    support = cpu_bf16_support()
    return {"env": args.probe, "capability": support.capability, "onednn_bf16": support.onednn_bf16,
            "bf16_instructions": support.bf16_instructions, "native_bf16": support.native,
            "auto_chooses": "bf16" if support.native else "float32", "threads": args.threads,
            "matmul_fp32_gflops": round(matmul_gflops(torch.float32, args.matmul, 5), 1),
            "matmul_bf16_gflops": round(matmul_gflops(torch.bfloat16, args.matmul, 1 if not support.native else 5), 1),
            "step_fp32_s": round(step_seconds(False, args.steps, 1), 3),
            "step_bf16_s": round(step_seconds(True, args.bf16_steps, 1), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", choices=list(ENVS), default=list(ENVS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--matmul", type=int, default=1024, help="side of the timed matrix products")
    parser.add_argument("--steps", type=int, default=6, help="timed float32 training steps (after one warm-up)")
    parser.add_argument("--bf16-steps", type=int, default=2, help="timed bf16 steps (20-30 s each where emulated)")
    parser.add_argument("--probe", choices=list(ENVS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(args)), flush=True)
        return
    for name in args.envs:
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), **ENVS[name])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--probe", name], check=True, env=env)


if __name__ == "__main__":
    main()
