"""int8 against float32 on labelled footage: the AUC and events the int8 accuracy check stands for.

Takes a trained camera model with its calibration (``M.pt``, ``M.alarm.h5``), its calibration frame stores and
labelled test frame stores (a camera road's results: ``frames/<dataset>/calibration``, ``frames/<dataset>/test``,
``labels/<dataset>.h5``), copies the model to a temporary folder, makes and checks its int8 graphs as ``ddl
calibrate`` does (:func:`ddlcore.alarm.int8_check.make_checked_int8`; the check's figures are printed), then
scores the test stores through ONNX Runtime and OpenVINO in float32 and int8 and prints, per runtime and
precision: the frame-level AUC (all test frames together) of the window scores (``ddl score``'s, before
normalising) and of the causal scores under the calibration (``ddl watch``'s), and the events.
The issue's bar: AUC within 0.5 points of float32 and the same events.

Run (the Ped2-as-a-camera model of a camera-road run):
``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/int8_accuracy.py --results /work/exp/ped2cam --camera ped2``
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from ddlcore.alarm.calibration import apply_calibration, load_calibration, sidecar_path
from ddlcore.alarm.footage_input import open_inputs
from ddlcore.alarm.int8_check import make_checked_int8
from ddlcore.config import load_config
from ddlcore.data.framestore import FrameStore
from ddlcore.score.inference import load_model, window_scores
from ddlcore.score.runtime import runtime_model
from ddlcore.score.settings import ScoreSettings

CPU = torch.device("cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True, help="a camera road's results folder")
    parser.add_argument("--camera", required=True, help="the camera (scene) whose model is checked")
    parser.add_argument("--dataset", default="cameras")
    parser.add_argument("--model", default="c3dsu-ddl-seed0", help="model file stem")
    parser.add_argument("--runtimes", default="onnxruntime,openvino", help="runtimes compared, comma-separated")
    args = parser.parse_args()
    torch.set_num_threads(1)
    source = args.results / "models" / args.dataset / args.camera / f"{args.model}.pt"
    cfg = load_config(args.results / "deploy" / f"{args.dataset}.config.yaml", "{}")
    score = ScoreSettings.from_config(cfg)
    calibration_stores = sorted((args.results / "frames" / args.dataset / "calibration").glob("*.h5"))
    test_stores = sorted((args.results / "frames" / args.dataset / "test").glob("*.h5"))
    with h5py.File(args.results / "labels" / f"{args.dataset}.h5", "r") as f:
        labels = {name: f[f"videos/{name}/labels"][:].astype(bool) for name in f["videos"]}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / source.name
        shutil.copy(source, path)
        model, meta = load_model(path, CPU)
        calibration = load_calibration(sidecar_path(source))
        start = time.perf_counter()
        with open_inputs(calibration_stores, meta, calibration.fps) as videos:
            record = make_checked_int8(model, meta, path, videos, calibration, score)
        print(f"{source}: int8 graphs made and checked in {time.perf_counter() - start:.0f} s on "
              f"{record['quantiser_frames']} + {record['held_out_frames']} held-out calibration frames:")
        print(json.dumps(record["runtimes"], indent=1))
        for runtime in args.runtimes.split(","):
            for precision in ("fp32", "int8"):
                graphs = runtime_model(model, meta, path, runtime, precision=precision)
                raw, causal, truth, events = [], [], [], []
                for store_path in test_stores:
                    with FrameStore(store_path) as store:
                        frames = store[0 : len(store)]
                    windows, _ = window_scores(graphs, frames, int(meta["frames"]), calibration.score["patch"],
                                               calibration.score["shifted_grid"], score.batch_size, CPU,
                                               score.share_encoder)
                    half = int(meta["frames"]) // 2
                    truth_video = labels[store_path.stem]
                    raw.append(windows)
                    truth.append(truth_video[half : half + len(windows)])
                    scores, _, found = apply_calibration(graphs, frames, calibration, score, CPU)
                    causal.append(scores)
                    events.append([(e.start, e.end) for e in found])
                y = np.concatenate(truth)
                ok = np.isfinite(np.concatenate(causal))
                auc_raw = 100 * roc_auc_score(y, np.concatenate(raw))
                auc_causal = 100 * roc_auc_score(np.concatenate([labels[p.stem] for p in test_stores])[ok],
                                                 np.concatenate(causal)[ok])
                print(f"{runtime} {precision}: AUC of window scores {auc_raw:.2f}, of causal scores {auc_causal:.2f}; "
                      f"{sum(map(len, events))} events: {events}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
