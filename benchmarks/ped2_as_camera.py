"""Ped2 laid out as one camera folder must score exactly as dataset ped2 does.

    python benchmarks/ped2_as_camera.py layout --ped2 data/ucsd_ped2 --out /tmp/ped2-camera
        -> /tmp/ped2-camera/ped2/normal/<training videos> and test/<test videos> (symlinks) and
           test/labels.csv written from Ped2's own frame labels
    snakemake ... --config dataset='{name: ped2, root: data/ucsd_ped2}' ...            (results A)
    snakemake ... --config dataset='{name: cameras, root: /tmp/ped2-camera}' cameras='{calibration_share: 0}'  (results B)
    python benchmarks/ped2_as_camera.py compare A/scores/ped2/all/RUN.h5 B/scores/cameras/ped2/RUN.h5 \
        --auc A/tables/auc.csv B/tables/auc.csv

``calibration_share: 0`` trains the camera on all of its normal footage, as ped2 trains on all of
its training videos (the alarm calibration is then in-sample, as for the benchmarks). Prints the
largest frame-score difference per video and the AUCs of both runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ddlcore.data.ped2 import Ped2Dataset
from ddlcore.score.scores_io import read_scores


def intervals(labels: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive 0-based (start, end) runs of 1 in a 0/1 label array."""
    padded = np.concatenate([[0], labels.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def layout(ped2_root: Path, out: Path, camera: str) -> None:
    """Symlink Ped2's videos into ``out/camera/{normal,test}`` and write ``test/labels.csv``."""
    dataset = Ped2Dataset(ped2_root)
    rows = ["clip,start,end,unit"]
    for split, folder in (("train", "normal"), ("test", "test")):
        target = out / camera / folder
        target.mkdir(parents=True, exist_ok=True)
        for video in dataset.videos(split):
            link = target / video.name
            if not link.exists():
                link.symlink_to(video.source.resolve(), target_is_directory=video.source.is_dir())
            if split == "test":
                rows += [f"{video.name},{a},{b},frames" for a, b in intervals(dataset.frame_labels(video))]
    (out / camera / "test" / "labels.csv").write_text("\n".join(rows) + "\n")
    print(f"{out / camera}: {len(dataset.videos('train'))} normal, {len(dataset.videos('test'))} test videos, "
          f"{len(rows) - 1} abnormal intervals")


def compare(scores_a: Path, scores_b: Path, auc_paths: list[Path]) -> int:
    """Print per-video max |score difference| (videos paired in sorted order) and the AUC rows; 1 if they differ."""
    _, a = read_scores(scores_a)
    _, b = read_scores(scores_b)
    if len(a) != len(b):
        print(f"{len(a)} videos in {scores_a}, {len(b)} in {scores_b}")
        return 1
    worst = 0.0
    for (name_a, va), (name_b, vb) in zip(sorted(a.items()), sorted(b.items())):
        diff = float(np.nanmax(np.abs(va["score"] - vb["score"]))) if va["score"].shape == vb["score"].shape else np.inf
        worst = max(worst, diff)
        print(f"{name_a} vs {name_b}: {va['score'].shape[0]} frames, max |score difference| {diff:.3g}")
    for path in auc_paths:
        table = pd.read_csv(path)
        print(path, table[["dataset", "model", "seed", "micro_auc", "macro_auc"]].to_string(index=False), sep="\n")
    print(f"largest frame-score difference: {worst:.3g}")
    return 0 if worst == 0.0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lay = sub.add_parser("layout", help="lay Ped2 out as a camera folder (symlinks)")
    lay.add_argument("--ped2", type=Path, required=True)
    lay.add_argument("--out", type=Path, required=True)
    lay.add_argument("--camera", default="ped2")
    cmp_ = sub.add_parser("compare", help="compare two scores files and print the AUC tables")
    cmp_.add_argument("scores", type=Path, nargs=2)
    cmp_.add_argument("--auc", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    if args.command == "layout":
        layout(args.ped2, args.out, args.camera)
        return 0
    return compare(args.scores[0], args.scores[1], args.auc)


if __name__ == "__main__":
    sys.exit(main())
