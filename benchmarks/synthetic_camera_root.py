"""A camera folder of generated footage, for measuring the camera path (held-out calibration, alarm quality).

Renders one synthetic scene (``ddlcore.data.synthetic``, with the benchmark's world settings of
``config/config.yaml``: people's size, walker rate, anomaly kinds) and lays it out as one camera of
``dataset.name: cameras``: the first ``--normal`` normal videos in ``<root>/<camera>/normal/``, the next
``--test`` in ``<root>/<camera>/test/`` (all normal: held-out normal footage for
``bench_heldout_false_alarms.py``), and ``--anomalous`` test videos with the generator's anomalies (carts,
cyclists, runners among the walkers) beside them, each anomalous frame interval a row of ``labels.csv``.
Videos are MJPG .avi files at the scene's rate. A camera of generated anomalies is validation footage: settings
may be chosen on it (``benchmarks/camera_quality.py --root``), unlike a benchmark's test labels.

    python benchmarks/synthetic_camera_root.py --out cameras --normal 24 --test 8 --seed 7
    python benchmarks/synthetic_camera_root.py --out cameras --normal 24 --test 0 --anomalous 6 --height 144 --width 256
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import h5py
import numpy as np
import yaml

from ddlcore.config import validate_config
from ddlcore.data.settings import SyntheticSettings
from ddlcore.data.synthetic import generate

REPO = Path(__file__).resolve().parent.parent


def write_avi(frames: np.ndarray, path: Path, fps: float) -> None:
    """Write RGB uint8 frames (N, H, W, 3) to ``path`` as MJPG."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (frames.shape[2], frames.shape[1]))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def label_rows(clip: str, labels: np.ndarray) -> list[str]:
    """``labels.csv`` rows (``clip,start,end,frames``, both ends included) of the runs of 1 in ``labels`` (N,)."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], labels.astype(np.int8), [0]])))
    return [f"{clip},{start},{stop - 1},frames" for start, stop in zip(edges[::2], edges[1::2])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="camera root to write (dataset.root)")
    parser.add_argument("--camera", default="walkway", help="camera folder name")
    parser.add_argument("--normal", type=int, default=24, help="videos of everyday footage (normal/)")
    parser.add_argument("--test", type=int, default=8, help="all-normal test clips (test/)")
    parser.add_argument("--anomalous", type=int, default=0, help="test clips with generated anomalies (test/, labelled)")
    parser.add_argument("--frames", type=int, default=120, help="frames per video")
    parser.add_argument("--height", type=int, default=96, help="rendered frame height")
    parser.add_argument("--width", type=int, default=128, help="rendered frame width")
    parser.add_argument("--seed", type=int, default=7, help="synthetic.seed of the scene")
    args = parser.parse_args()
    world = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["synthetic"]
    world.update(seed=args.seed, scenes=1, train_videos=args.normal + args.test, test_videos=max(args.anomalous, 1),
                 frames=args.frames, height=args.height, width=args.width)
    synthetic = SyntheticSettings.from_config(validate_config({"synthetic": world}))
    camera = args.out / args.camera
    for folder in ("normal", "test"):
        (camera / folder).mkdir(parents=True, exist_ok=True)
    rows = ["clip,start,end,unit"]
    with tempfile.TemporaryDirectory() as tmp:
        generate(synthetic, Path(tmp))
        for i, path in enumerate(sorted((Path(tmp) / "train").glob("*.h5"))):
            with h5py.File(path) as f:
                frames, fps = f["frames"][:], float(f.attrs["fps"])
            write_avi(frames, camera / ("normal" if i < args.normal else "test") / f"{i:03d}.avi", fps)
        for i, path in enumerate(sorted((Path(tmp) / "test").glob("*.h5"))[:args.anomalous]):
            with h5py.File(path) as f:
                frames, labels = f["frames"][:], f["labels"][:]
            write_avi(frames, camera / "test" / f"anomalous{i:03d}.avi", fps)
            rows += label_rows(f"anomalous{i:03d}", labels)
    (camera / "test" / "labels.csv").write_text("\n".join(rows) + "\n")
    print(f"{camera}: {args.normal} normal videos, {args.test} all-normal and {args.anomalous} anomalous test clips "
          f"({len(rows) - 1} labelled intervals) of {args.frames} frames at {fps:g} fps, {args.height}x{args.width}")


if __name__ == "__main__":
    main()
