#!/usr/bin/env bash
# The whole GPU speed check of docs/speed.md in one run, for a machine that has PyTorch with CUDA (and einops,
# h5py, pandas, scikit-learn, opencv) but no network, no jsonschema and no ../shared (the lent H200).
#
#   benchmarks/gpu_check.sh prepare    here, on a machine with the project's venv and a package registry:
#                                      fills .gpucheck/ (git-ignored, ~15 MiB): wheels of what ddlcore imports
#                                      and the GPU machine lacks, a copy of the authors' code, and the built-in
#                                      synthetic benchmark's frames, mask caches and labels
#   benchmarks/gpu_check.sh run        there: (1) bench_vs_authors.py in the authors' setting (256x256 gray,
#                                      batch 10; ddl fp32, bf16, bf16 with two forwards, bf16 compiled), (2) a
#                                      profile of ddl's bf16 step, (3) precision_check.py:
#                                      C3DSU-DDL trained and scored on the synthetic benchmark in fp32 (seeds 0
#                                      and 1), bf16 and bf16 compiled. About 8 minutes; logs and JSON in $OUT.
#   benchmarks/gpu_check.sh run --device cpu --tiny    a smoke test of the run step on the CPU
#
# With the device tool: run(command="bash benchmarks/gpu_check.sh run", carry=[".gpucheck"], timeout_s=590).
# Env: PY (python; default python3, or the repo's .venv for prepare), BUDGET_S (precision_check's budget in seconds, 180).
set -uo pipefail
export PYTHONUNBUFFERED=1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
STEP=${1:?usage: gpu_check.sh prepare | run [--device cpu --tiny]}
shift
CHECK=.gpucheck

prepare() {
  local py=${PY:-$ROOT/.venv/bin/python}
  mkdir -p "$CHECK/wheels"
  # jsonschema and what it needs beyond what the GPU machine has (attrs, typing-extensions, pyyaml are there)
  local pins
  pins=$($py -m pip list --format=freeze 2>/dev/null | grep -iE '^(jsonschema|jsonschema-specifications|referencing|rpds-py)==')
  echo "wheels: $(echo $pins)"
  # shellcheck disable=SC2086
  $py -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$CHECK/wheels" $pins || exit 1
  if [ -d ../shared/reference/authors-ddl ]; then
    rm -rf "$CHECK/authors-ddl"; cp -r ../shared/reference/authors-ddl "$CHECK/authors-ddl"
  else
    echo "../shared/reference/authors-ddl is absent: the benchmark will not run there"
  fi
  if [ ! -f "$CHECK/synthetic/labels/synthetic.h5" ]; then
    local raw
    raw=$(mktemp -d)
    PYTHONPATH=$ROOT $py -m snakemake --cores 2 -q --config results="$CHECK/synthetic" \
      dataset="{\"name\": \"synthetic\", \"root\": \"$raw\"}" --until masks labels >/dev/null || exit 1
    rm -rf "$raw"
  fi
  rm -rf "$CHECK/synthetic/detections" "$CHECK/synthetic/tracks" "$CHECK/synthetic/logs" "$CHECK/synthetic/benchmarks"
  du -sh "$CHECK"
}

run() {
  local py=${PY:-python3} device=cuda tiny="" out=${OUT:-/tmp/gpu-check-out}
  while [ $# -gt 0 ]; do
    case $1 in
      --device) device=$2; shift 2 ;;
      --tiny) tiny=--tiny; shift ;;
      *) echo "unknown argument $1"; exit 2 ;;
    esac
  done
  mkdir -p "$out"
  if ! $py -c "import jsonschema" 2>/dev/null; then
    $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
      "$CHECK"/wheels/*.whl || exit 1
    export PYTHONPATH=/tmp/site
  fi
  export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
  local t0 limit_bench=300 limit_profile=90; t0=$(date +%s)
  [ -n "$tiny" ] && limit_bench=3000 limit_profile=3000  # a loaded CPU is slow
  $py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
  local bench="--size 256 --batch 10 --channels 1 --steps 10 --warmup 3 --rounds 3 --score-frames 202 --score-batch 64
    --modes fp32 bf16 bf16-2fwd bf16-compile"
  [ -n "$tiny" ] && bench="--tiny --modes fp32 bf16"
  echo "[$(( $(date +%s) - t0 )) s] side-by-side benchmark"
  # shellcheck disable=SC2086
  timeout $limit_bench $py -W ignore benchmarks/bench_vs_authors.py --device "$device" $bench --authors-code "$CHECK/authors-ddl" 2>&1 \
    | grep --line-buffered -v Warning | tee "$out/bench.txt"
  tail -1 "$out/bench.txt" > "$out/bench.json"
  echo "[$(( $(date +%s) - t0 )) s] profile of ddl's bf16 step"
  local prof="--size 256 --batch 10 --channels 1 --warmup 3"
  [ -n "$tiny" ] && prof="--size 32 --batch 2"
  # shellcheck disable=SC2086
  timeout $limit_profile $py -W ignore benchmarks/profile_step.py --device "$device" $prof --modes bf16 --top 15 2>&1 \
    | grep --line-buffered -vE "USDT|ERROR:.*gpuGetDeviceCount" | tee "$out/profile.txt"
  echo "[$(( $(date +%s) - t0 )) s] precision check"
  # shellcheck disable=SC2086
  timeout $(( ${BUDGET_S:-180} + 120 )) $py -W ignore benchmarks/precision_check.py --results "$CHECK/synthetic" \
    --device "$device" --budget "${BUDGET_S:-180}" $tiny 2>&1 | grep --line-buffered -vE "Warning|warn\(" | tee "$out/precision.txt"
  tail -1 "$out/precision.txt" > "$out/precision.json"
  echo "[$(( $(date +%s) - t0 )) s] done; figures in $out"
}

case $STEP in
  prepare) prepare ;;
  run) run "$@" ;;
  *) echo "usage: gpu_check.sh prepare | run [--device cpu --tiny]"; exit 2 ;;
esac
