"""A camera folder of generated everyday footage, for measuring the camera path (held-out calibration).

Renders one synthetic scene's normal videos (``ddlcore.data.synthetic``, no anomalies) and lays them out
as one camera of ``dataset.name: cameras``: the first ``--normal`` videos in ``<root>/<camera>/normal/``,
the next ``--test`` in ``<root>/<camera>/test/`` with an empty ``labels.csv`` (all normal: held-out
normal footage for ``bench_heldout_false_alarms.py``). Videos are MJPG .avi files at the scene's rate.

    python benchmarks/synthetic_camera_root.py --out cameras --normal 24 --test 8 --seed 7
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import h5py

from ddlcore.config import validate_config
from ddlcore.data.settings import SyntheticSettings
from ddlcore.data.synthetic import generate


def write_avi(frames, path: Path, fps: float) -> None:
    """Write RGB uint8 frames (N, H, W, 3) to ``path`` as MJPG."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (frames.shape[2], frames.shape[1]))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="camera root to write (dataset.root)")
    parser.add_argument("--camera", default="walkway", help="camera folder name")
    parser.add_argument("--normal", type=int, default=24, help="videos of everyday footage (normal/)")
    parser.add_argument("--test", type=int, default=8, help="all-normal test clips (test/, empty labels.csv)")
    parser.add_argument("--frames", type=int, default=120, help="frames per video")
    parser.add_argument("--seed", type=int, default=7, help="synthetic.seed of the scene")
    args = parser.parse_args()
    synthetic = SyntheticSettings.from_config(validate_config({"synthetic": {
        "seed": args.seed, "scenes": 1, "train_videos": args.normal + args.test, "test_videos": 1, "frames": args.frames}}))
    camera = args.out / args.camera
    for folder in ("normal", "test"):
        (camera / folder).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        generate(synthetic, Path(tmp))
        for i, path in enumerate(sorted((Path(tmp) / "train").glob("*.h5"))):
            with h5py.File(path) as f:
                frames, fps = f["frames"][:], float(f.attrs["fps"])
            write_avi(frames, camera / ("normal" if i < args.normal else "test") / f"{i:03d}.avi", fps)
    (camera / "test" / "labels.csv").write_text("clip,start,end,unit\n")
    print(f"{camera}: {args.normal} normal videos, {args.test} all-normal test clips of {args.frames} frames at {fps:g} fps")


if __name__ == "__main__":
    main()
