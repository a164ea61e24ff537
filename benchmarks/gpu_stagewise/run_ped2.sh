#!/usr/bin/env bash
# Ped2 in the paper's setting on one GPU, stage by stage with the ddl CLI, for a machine that has PyTorch but
# not Snakemake or the dataset (the lent H100 of docs/experiments.md's GPU results). On a machine of your own, use
#   snakemake --cores 8 --configfile config/ped2.yaml
#
# Usage: run_ped2.sh DIR     DIR holds pack/ (pack_frames.py of the 256x256 frame stores), masks/*.h5 (the
# training videos' mask caches), labels/ped2.h5 and config.yaml (config/ped2.yaml with its results folder).
# Prints training-step benchmarks (paper and authors' architecture, channels-last on/off), then trains C3DSU-DDL
# for as many of 10 epochs as fit in BUDGET_TRAIN seconds from the start, scores the test videos, trains the
# reconstruction-only baseline with what is left of BUDGET_ALL, and writes the tables and figures.
# Env: PY (python), BUDGET_TRAIN (380), BUDGET_ALL (490), EPOCHS (fixed epochs), EXTRA_TRAIN (JSON members
# added to the train settings, e.g. ', "steps_per_epoch": 3'), BENCH_SIZE (256), BENCH_ARGS, OUT (tarball folder).
set -uo pipefail
export PYTHONUNBUFFERED=1
DIR=${1:?usage: run_ped2.sh DIR}
HERE=$(dirname "$0")
PY=${PY:-python3}; DDL="$PY -m ddlcore.cli"; CFG=$DIR/config.yaml
R=$($PY -c "import yaml; print(yaml.safe_load(open('$CFG'))['results'])")
BUDGET_TRAIN=${BUDGET_TRAIN:-380}; BUDGET_ALL=${BUDGET_ALL:-490}; EXTRA_TRAIN=${EXTRA_TRAIN:-}
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')"
echo "[$(el) s] unpack"; $PY "$HERE/unpack_frames.py" "$DIR/pack" "$R/frames/ped2" || exit 1
mkdir -p "$R/masks/ped2/train" "$R/labels" "$R/models/ped2/all" "$R/scores/ped2/all"
cp "$DIR"/masks/*.h5 "$R/masks/ped2/train/"; cp "$DIR/labels/ped2.h5" "$R/labels/"
DEVICE=$($PY -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
BATCH=$($PY -c "from ddlcore.config import load_config; print(load_config('$CFG')['train']['batch_size'])")
BENCH="--size ${BENCH_SIZE:-256} --batch $BATCH --device $DEVICE --workers 0 ${BENCH_ARGS:---warmup 5 --steps 20}"
echo "[$(el) s] training-step benchmarks"
$PY "$HERE/../bench_train.py" --only paper $BENCH | tee "$R/bench-paper.json"
$PY "$HERE/../bench_train.py" --only paper $BENCH --no-channels-last | tee "$R/bench-paper-no-channels-last.json"
$PY "$HERE/../bench_train.py" --only authors $BENCH | tee "$R/bench-authors.json"
STEP=$($PY -c "import json; print(json.load(open('$R/bench-paper.json'))['step_s_median'])")
TRAIN=$(ls "$R"/frames/ped2/train/*.h5); MASKS=$(ls "$R"/masks/ped2/train/*.h5); TEST=$(ls "$R"/frames/ped2/test/*.h5)
SPE=$($PY - "$CFG" $TRAIN <<'PY'  # the trainer's steps per epoch: training windows // batch size
import sys
from ddlcore.config import load_config
from ddlcore.train.clips import ClipDataset
config, frames = load_config(sys.argv[1]), sys.argv[2:]
masks = [f.replace("/frames/", "/masks/") for f in frames]
dataset = ClipDataset(frames, masks, config["model"]["frames"], config["masks"]["no_track"], config["train"]["random_box_size"])
print(config["train"]["steps_per_epoch"] or len(dataset) // config["train"]["batch_size"])
PY
)
fit() { # budget_s step_cost_factor -> epochs (at most 10) that fit before budget_s
  $PY -c "import math; print(max(0, min(10, math.floor(($1 - $(el)) / ($SPE * $STEP * $2 * 1.15 + 3)))))"; }
train_and_score() { # variant epochs
  local t; t=$(date +%s)
  $DDL train --config "$CFG" --settings "{\"train\": {\"epochs\": $2 $EXTRA_TRAIN}}" --scene all --arch c3dsu \
    --variant "$1" --frames $TRAIN --masks $MASKS --out "$R/models/ped2/all/c3dsu-$1.pt" 2>&1 | tail -3
  echo "[$(el) s] train $1, $2 epochs: $(( $(date +%s) - t )) s"
  t=$(date +%s)
  $DDL score --config "$CFG" --model "$R/models/ped2/all/c3dsu-$1.pt" --frames $TEST \
    --out "$R/scores/ped2/all/c3dsu-$1.h5" 2>&1 | tail -1
  echo "[$(el) s] score $1, 2010 frames, process start included: $(( $(date +%s) - t )) s"
}
EP=${EPOCHS:-$(fit "$BUDGET_TRAIN" 1.0)}
echo "[$(el) s] $SPE steps per epoch, benchmark step $STEP s: DDL for $EP epochs"
[ "$EP" -gt 0 ] && train_and_score ddl "$EP"
EPN=${EPOCHS:-$(fit "$BUDGET_ALL" 0.6)}; [ "$EPN" -gt "$EP" ] && EPN=$EP
echo "[$(el) s] baseline for $EPN epochs"; [ "$EPN" -gt 0 ] && train_and_score none "$EPN"
echo "[$(el) s] tables"
$DDL aggregate --config "$CFG" --labels "$R/labels/ped2.h5" --scores "$R"/scores/ped2/all/*.h5 \
  --train-logs "$R"/models/ped2/all/*.csv --tables-dir "$R/tables" --metrics-out "$R/metrics/ped2.json" \
  --figures-dir "$R/figures/ped2/curves" 2>&1 | tail -8
if [ -n "${OUT:-}" ]; then
  tar czf "$OUT/gpu-results.tar.gz" "$R"/bench-*.json "$R/scores" "$R"/models/ped2/all/*.csv "$R/tables" "$R/metrics" "$R/figures"
fi
echo "[$(el) s] done"
