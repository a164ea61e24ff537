"""What bounds a training step: torch.profiler over one step of ddl's authors' setting (and of the authors' code).

After ``--warmup`` untimed steps, one step per implementation runs under the profiler; the ops' own times
are grouped (convolutions forward and backward, BatchNorm, pixel (un)shuffle, copies and layout changes,
the optimizer, element-wise and the rest) and the ``--top`` costliest ops are listed. Usage::

    python benchmarks/profile_step.py --size 64 --batch 4 --threads 2 --modes bf16 fp32 --authors
    python benchmarks/profile_step.py --size 64 --batch 4 --threads 1 --modes bf16 --by-shape --top 8
    python benchmarks/profile_step.py --device cuda --size 256 --batch 10 --channels 1 --modes bf16
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from bench_vs_authors import MODES, AuthorsStep, DdlStep, fixed_batch
from benchlib import AUTHORS_DIR, make_video, synchronize

#: op or kernel name fragments -> group, first match wins (CPU: aten op names; CUDA: kernel names, where
#: cuDNN's BatchNorm kernels also hold "cudnn", hence BatchNorm before convolutions)
GROUPS = [
    ("batchnorm", ("batch_norm", "batchnorm", "bn_fw", "bn_bw", "welford")),
    ("pixel (un)shuffle", ("pixel_shuffle", "pixel_unshuffle")),
    ("optimizer", ("adam", "_foreach", "lerp")),
    ("convolution", ("conv", "mkldnn_convolution", "fprop", "dgrad", "wgrad", "xmma", "cudnn", "implicit", "gemm",
                     "cutlass", "sm90")),
    ("copies and layout", ("copy", "memcpy", "memset", "contiguous", "clone", "cat", "stack", "permute", "reshape",
                           "transpose", "view", "expand", "slice", "select", "as_strided")),
    ("element-wise and reductions", ("relu", "sigmoid", "mul", "add", "sub", "div", "norm", "mean", "sum",
                                     "threshold", "where", "rand", "fill", "zero", "pow", "sqrt", "amax", "gt",
                                     "elementwise", "reduce")),
]


def group_of(name: str) -> str:
    """The group an aten op or CUDA kernel name belongs to (``other`` when none matches)."""
    lower = name.lower()
    return next((g for g, keys in GROUPS if any(k in lower for k in keys)), "other")


def profile_one(step: callable, device: torch.device, top: int, by_shape: bool = False) -> None:
    """Profile one call of ``step`` and print the grouped self times and the ``top`` ops; with ``by_shape``, also
    the ``top`` convolution calls (forward and backward) by input and weight shape."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities, record_shapes=by_shape) as prof:
        step()
        synchronize(device)
    attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    events = [e for e in prof.key_averages() if e.key.startswith("aten::") or device.type == "cuda"]
    total = sum(getattr(e, attr) for e in events) or 1.0
    groups: dict[str, float] = {}
    for e in events:
        groups[group_of(e.key)] = groups.get(group_of(e.key), 0.0) + getattr(e, attr)
    print(f"    total self time of the ops: {total / 1e6:.2f} s")
    for name, t in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"    {name:28s} {t / 1e6:7.2f} s  {100 * t / total:5.1f}%")
    print(f"    top {top} ops:")
    for e in sorted(events, key=lambda e: -getattr(e, attr))[:top]:
        print(f"      {e.key:45s} {getattr(e, attr) / 1e6:7.2f} s  x{e.count}")
    if by_shape:
        convs = [e for e in prof.key_averages(group_by_input_shape=True)
                 if e.key in ("aten::convolution_backward", "aten::mkldnn_convolution", "aten::cudnn_convolution",
                              "aten::_slow_conv2d_forward", "aten::_slow_conv2d_backward")]
        print(f"    top {top} convolution calls by shape (input, weight or grad_output, input):")
        for e in sorted(convs, key=lambda e: -getattr(e, attr))[:top]:
            shapes = ", ".join("x".join(map(str, shape)) for shape in e.input_shapes[:2] if shape)
            print(f"      {e.key:30s} {getattr(e, attr) / 1e6:7.2f} s  x{e.count}  {shapes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=3, choices=[1, 3])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=["bf16"])
    parser.add_argument("--authors", action="store_true", help="also profile the authors' step")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--by-shape", action="store_true", help="also list the costliest convolutions by shape")
    parser.add_argument("--authors-code", type=Path, default=AUTHORS_DIR, help="the authors' code")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    clip, mask = fixed_batch(args.batch, args.channels, 3, args.size, device)
    print(f"device {device}, {args.size}x{args.size}x{args.channels}, batch {args.batch}, {args.threads} threads")
    with tempfile.TemporaryDirectory() as tmp:
        stores = make_video(Path(tmp), args.size, args.channels, 8, 3)
        names = (["authors"] if args.authors else []) + [f"ddl-{m}" for m in args.modes]
        for name in names:
            impl = (AuthorsStep(args.channels, 3, device, args.authors_code) if name == "authors"
                    else DdlStep(name[4:], stores, args, device))
            for _ in range(args.warmup):
                impl(clip, mask)
            print(f"  {name}:")
            profile_one(lambda: impl(clip, mask), device, args.top, args.by_shape)
            del impl


if __name__ == "__main__":
    main()
