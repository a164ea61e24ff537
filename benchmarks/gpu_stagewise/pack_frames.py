"""Pack a results folder's frame stores as gray JPEGs, small enough to copy to a machine without the dataset.

``python pack_frames.py RESULTS/frames/DATASET PACK [--quality 90]`` writes ``PACK/{split}/{video}/NNNN.jpg``
and ``attrs.json`` (the store's attributes) and prints the pack's size and its error against the stores
(RMSE in grey levels, PSNR). Ped2 at 256x256, quality 90: 51 MiB, RMSE 1.45, PSNR 44.9 dB.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import h5py
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", type=Path, help="folder of {split}/{video}.h5 frame stores (gray)")
    parser.add_argument("pack", type=Path, help="folder to write")
    parser.add_argument("--quality", type=int, default=90)
    args = parser.parse_args()
    total_bytes, squared_error, n = 0, 0.0, 0
    for store in sorted(args.stores.glob("*/*.h5")):
        out = args.pack / store.parent.name / store.stem
        out.mkdir(parents=True, exist_ok=True)
        with h5py.File(store) as f:
            frames = f["frames"][:]
            attrs = {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()}
        if frames.shape[3] != 1:
            raise SystemExit(f"{store}: {frames.shape[3]} channels; this packer handles gray stores only")
        (out / "attrs.json").write_text(json.dumps(attrs))
        for i, frame in enumerate(frames[:, :, :, 0]):
            ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, args.quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1])
            (out / f"{i:04d}.jpg").write_bytes(buf.tobytes())
            total_bytes += len(buf)
            back = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float64)
            squared_error += float(((back - frame) ** 2).mean())
            n += 1
    mse = squared_error / n
    print(f"{n} frames, {total_bytes / 2**20:.1f} MiB, RMSE {mse ** 0.5:.2f} grey levels, "
          f"PSNR {10 * np.log10(255 ** 2 / mse):.1f} dB")


if __name__ == "__main__":
    main()
