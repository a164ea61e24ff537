"""Speed of single convolutions of the authors' architecture: forward + backward, fp32 / bf16, NCHW / channels-last.

For each layer shape (input channels, output channels, kernel, map side) it times one Conv2d forward and
backward (input and weight gradients) on a batch of random inputs, in four forms: fp32 and bf16 autocast, each
with contiguous (NCHW, as the authors' code runs) and channels-last memory, and prints GFLOP/s (2 x multiply-adds
of the forward, times 3 for forward + both gradients). The default shapes are layers of C3DSU at 64x64 input:
a mid-sized encoder head, the encoder's deepest 5x5 head, and the first decoder block's 7x7 head on the
4x4 bottleneck map. Usage::

    python benchmarks/bench_conv.py --threads 1 --batch 8
    python benchmarks/bench_conv.py --shape 512 1024 7 4 --shape 512 1024 7 16
"""

from __future__ import annotations

import argparse
import json
import time

import torch

#: (input channels, output channels, kernel, map side): layers of the authors' C3DSU at 64x64 frames
DEFAULT_SHAPES = [(128, 256, 5, 16), (256, 512, 5, 8), (512, 512, 7, 4)]
#: (name, bf16 autocast, channels-last)
FORMS = [("fp32", False, False), ("fp32-cl", False, True), ("bf16", True, False), ("bf16-cl", True, True)]


def time_convolution(cin: int, cout: int, kernel: int, side: int, batch: int, bf16: bool, channels_last: bool,
                     repeats: int) -> float:
    """Median seconds of one forward + backward of Conv2d(cin, cout, kernel, "same") on (batch, cin, side, side)."""
    conv = torch.nn.Conv2d(cin, cout, kernel, padding=kernel // 2)
    x = torch.randn(batch, cin, side, side)
    if channels_last:
        conv = conv.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y = conv(x)
        y.float().sum().backward()

    step()  # warm-up: oneDNN picks and builds its kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--shape", type=int, nargs=4, action="append", metavar=("CIN", "COUT", "KERNEL", "SIDE"),
                        help="a layer to time (repeatable; default: three layers of C3DSU at 64x64)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    print(f"{args.threads} threads, batch {args.batch}; GFLOP/s of forward + backward")
    for cin, cout, kernel, side in args.shape or DEFAULT_SHAPES:
        gflop = 3 * 2 * cin * cout * kernel * kernel * side * side * args.batch / 1e9
        row = {"layer": f"{cin}->{cout} {kernel}x{kernel} on {side}x{side}", "gflop": round(gflop, 2)}
        for name, bf16, channels_last in FORMS:
            seconds = time_convolution(cin, cout, kernel, side, args.batch, bf16, channels_last, args.repeats)
            row[name] = round(gflop / seconds, 1)
        rows.append(row)
        print("  " + "  ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
