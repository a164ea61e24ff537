"""Rebuild frame stores from a pack written by ``pack_frames.py``: ``python unpack_frames.py PACK RESULTS/frames/DATASET``."""

from __future__ import annotations

import json
import sys
from multiprocessing import Pool
from pathlib import Path

import cv2

from ddlcore.data.framestore import write_frame_store


def rebuild(folder: Path, stores: Path) -> Path:
    """Write ``stores/{split}/{video}.h5`` from ``folder`` = ``PACK/{split}/{video}``; returns its path."""
    attrs = json.loads((folder / "attrs.json").read_text())
    frames = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(folder.glob("*.jpg"))]
    height, width = frames[0].shape
    out = stores / folder.parent.name / f"{folder.name}.h5"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_frame_store(out, frames, len(frames), height, width, 1, attrs)
    return out


if __name__ == "__main__":
    pack, stores = Path(sys.argv[1]), Path(sys.argv[2])
    folders = sorted(p for p in pack.glob("*/*") if p.is_dir())
    with Pool(min(16, len(folders))) as pool:
        written = pool.starmap(rebuild, [(f, stores) for f in folders])
    print(f"{len(written)} frame stores rebuilt in {stores}")
