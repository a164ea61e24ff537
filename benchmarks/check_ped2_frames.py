"""Extract every UCSD Ped2 frame store and the labels file from a real copy, and print the counts.

    python benchmarks/check_ped2_frames.py /work/shared/data/ucsd_ped2 /tmp/ped2check

Expected for the full dataset: 16 train and 12 test stores, 2,550 and 2,010 frames, 1,648 abnormal
test frames. Uses the default frame size of the config (64x64 gray) unless --settings says otherwise.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ddlcore.config import load_config
from ddlcore.data.extract import extract_frames
from ddlcore.data.framestore import FrameStore
from ddlcore.data.groundtruth import read_labels, read_pixel_masks, write_labels_file
from ddlcore.data.registry import list_videos
from ddlcore.data.settings import DataSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="Ped2 dataset root (official or ano_pred layout)")
    parser.add_argument("out", help="folder for frames/{split}/{video}.h5 and labels.h5")
    parser.add_argument("--settings", default="{}", help="extra config sections as JSON (e.g. frames size)")
    args = parser.parse_args()
    sections = {**json.loads(args.settings), "dataset": {"name": "ped2", "root": args.root}}
    config = DataSettings.from_config(load_config(settings_json=json.dumps(sections)))
    out = Path(args.out)
    start = time.perf_counter()
    frames_per_split = {}
    for split in ("train", "test"):
        videos = list_videos(config, split)
        frames_per_split[split] = sum(extract_frames(config, split, v.name, out / "frames" / split / f"{v.name}.h5") for v in videos)
        print(f"{split}: {len(videos)} frame stores, {frames_per_split[split]} frames")
    summary = write_labels_file(config, out / "frames" / "test", out / "labels.h5")
    labels = read_labels(out / "labels.h5")
    abnormal_from_masks = sum(int(read_pixel_masks(out / "labels.h5", name).any(axis=(1, 2)).sum()) for name in labels)
    with FrameStore(next((out / "frames" / "test").glob("*.h5"))) as store:
        shape = store.shape
    print(f"test labels: {summary.videos} videos, {summary.frames} frames, {summary.abnormal} abnormal")
    print(f"pixel masks: {summary.with_masks} videos, {abnormal_from_masks} frames with a non-empty mask")
    print(f"store shape (N, H, W, C) of one test video: {shape}; frames stored == labels: "
          f"{frames_per_split['test'] == sum(len(v.labels) for v in labels.values())}; "
          f"abnormal fraction {np.mean(np.concatenate([v.labels for v in labels.values()])):.3f}")
    print(f"elapsed {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
