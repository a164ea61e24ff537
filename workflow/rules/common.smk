# Helpers shared by all rules: dataset listing, per-stage settings and code fingerprints.

import dataclasses
import json
import shlex
import sys
from pathlib import Path

from ddlcore.cli.main import command_modules
from ddlcore.code_closure import code_fingerprint as closure_fingerprint
from ddlcore.config import FIXED_SCORE_KEYS, JOB_SELECTORS, training_seeds
from ddlcore.data.cameras import piece_rows
from ddlcore.data.pieces import write_pieces_sheet
from ddlcore.data.registry import adapter_module, list_videos, open_dataset, training_scenes
from ddlcore.data.roi import camera_rois
from ddlcore.data.settings import DataSettings
from ddlcore.errors import DDLError
from ddlcore.score.runtime import runs_graphs

RESULTS = config["results"]
#: the data stage's settings, built once from the validated config: what the dataset listing reads
DATA = DataSettings.from_config(config)
DATASET = DATA.dataset.name
if DATASET == "cameras":  # the frames that decode, counted once per footage file and kept between runs
    DATA = dataclasses.replace(DATA, footage_counts=f"{RESULTS}/pieces/{DATASET}-footage.csv")
#: the pieces sheet (dataset cameras): every piece of every camera, written at planning; each frame job reads its row
PIECES = f"{RESULTS}/pieces/{DATASET}.csv"
LOGS = f"{RESULTS}/logs/{DATASET}"
BENCH = f"{RESULTS}/benchmarks/{DATASET}"

try:
    VIDEOS = {split: list_videos(DATA, split) for split in ("train", "test", "calibration")}
    SCENES = training_scenes(DATA)  # scenes with test videos: trained, scored and reported
    # each camera's roi.png, checked before any job runs: an input of its scoring and calibration only
    ROIS = (
        camera_rois(
            open_dataset(DATA), [v for vs in VIDEOS.values() for v in vs], DATA.frames.height, DATA.frames.width
        )
        if DATASET == "cameras"
        else {}
    )
    if DATASET == "cameras":
        planned = {(split, v.name) for split, videos in VIDEOS.items() for v in videos}
        PIECE_ROWS = {
            (row["split"], row["video"]): row
            for row in piece_rows(open_dataset(DATA))
            if (row["split"], row["video"]) in planned
        }
        write_pieces_sheet(list(PIECE_ROWS.values()), PIECES)
except DDLError as exc:
    raise WorkflowError(str(exc)) from None
# A scene with training videos only (ShanghaiTech's 13th) still gets its model, for scoring new footage.
TRAIN_SCENES = sorted({v.scene for v in VIDEOS["train"]})
# Trained scenes without labelled test videos (that one, a camera without test/): named in the AUC and event tables.
UNLABELLED_SCENES = sorted(set(TRAIN_SCENES) - set(SCENES))

ABLATION_MODELS = [f"{arch}-{variant}" for arch in ("unet", "c3dsu") for variant in ("none", "sdl", "ddl")]
MODELS = list(dict.fromkeys(config["train"]["models"] + (ABLATION_MODELS if config["train"]["ablation"] else [])))
SEEDS = training_seeds(config["train"])
#: one trained model per (model, seed): the name of its files in models/ and scores/
RUNS = [f"{model}-seed{seed}" for model in MODELS for seed in SEEDS]
GPU_DETECTOR = config["detect"]["backend"] == "fasterrcnn"
#: the datasets tables/auc.md lists: this run's and the earlier runs' that metrics.summary_datasets names
SUMMARY_DATASETS = list(dict.fromkeys([DATASET] + config["metrics"]["summary_datasets"]))


wildcard_constraints:
    split="train|test|calibration",
    video=r"[^/]+",
    scene=r"[^/]+",
    arch="c3dsu|unet",
    variant="none|sdl|ddl",
    seed=r"\d+",


def settings(*keys, seed=None):
    """The config a stage depends on, as JSON: a change to it re-runs the stage.

    Each key is a section ("train") or one setting of a section ("model.frames"); for dataset cameras,
    "dataset" brings the settings its adapter lists footage with ("cameras", "model.frames"). Settings that
    only select jobs (train.models, train.ablation, train.seeds) are left out, so adding a model or
    a seed trains only it. ``seed`` sets train.seed (one job of train.seeds).
    """
    if DATASET == "cameras" and "dataset" in keys:
        # the camera adapter cuts footage by the cameras section and drops pieces shorter than a clip
        keys = (*keys, "cameras", "model.frames")
    chosen = {}
    for key in keys:
        section, _, name = key.partition(".")
        if name:
            chosen.setdefault(section, {})[name] = config[section][name]
        elif isinstance(config[section], dict):
            skip = JOB_SELECTORS.get(section, ())
            chosen[section] = {k: v for k, v in config[section].items() if k not in skip}
        else:
            chosen[section] = config[section]
    if seed is not None:
        chosen["train"]["seed"] = int(seed)
    return json.dumps(chosen, sort_keys=True)


def code_fingerprint(command, reads_dataset=False):
    """Hash of the ddlcore code that `ddl <command>` runs: the import closure of its module.

    With ``reads_dataset`` the closure also holds this dataset's adapter (imported by name at run
    time, so not found from the imports), and no other dataset's.
    """
    modules = command_modules(command) + ([adapter_module(DATA)] if reads_dataset else [])
    return closure_fingerprint(modules)


# `ddl` through the Python running Snakemake: works without an activated environment, and on cluster nodes.
DDL = f"{shlex.quote(sys.executable)} -m ddlcore.cli"


def ddl(command):
    """Shell line running `ddl <command>` with stderr in the rule's log; on failure its last line is shown."""
    return f"{DDL} {command} 2> {{log:q}} || {{{{ tail -n 1 {{log:q}} >&2; exit 1; }}}}"


def videos_of(split, scene=None):
    """Names of the videos of a split (of one scene when given)."""
    return [v.name for v in VIDEOS[split] if scene is None or v.scene == scene]


def frame_stores(split, scene=None):
    return [f"{RESULTS}/frames/{DATASET}/{split}/{name}.h5" for name in videos_of(split, scene)]


def calibration_stores(scene):
    """The frame stores a scene's alarm threshold is fitted on: held-out normal footage where the dataset
    has it (cameras), else the scene's training videos."""
    if VIDEOS["calibration"]:
        return frame_stores("calibration", scene)
    return frame_stores("train", scene)


def roi_files(scene):
    """The camera's region of interest, <camera>/roi.png, as a list: an input of its scoring and calibration
    jobs only (editing it re-runs those and what follows, never training); [] without one, or for another dataset."""
    return [str(ROIS[scene])] if scene in ROIS else []


def unlabelled_option():
    """``--unlabelled-scenes SCENE...`` naming UNLABELLED_SCENES, for ddl aggregate and ddl events; "" when none."""
    return f"--unlabelled-scenes {shlex.join(UNLABELLED_SCENES)}" if UNLABELLED_SCENES else ""


def roi_option(wildcards, input):
    """``--roi PNG`` for a job whose ``roi`` input holds the camera's roi.png, "" when it has none."""
    return f"--roi {shlex.quote(input.roi[0])}" if input.roi else ""


def final_outputs():
    """What `snakemake` builds by default: the tables (when some scene has labelled test videos), the
    figures, the tracking summary and, for cameras, the deployment file."""
    tables = (
        [f"{RESULTS}/tables/auc.md", f"{RESULTS}/tables/auc-{DATASET}.md", f"{RESULTS}/tables/ablation-{DATASET}.md"]
        if SCENES
        else []
    )
    deployment = (
        [f"{RESULTS}/deploy/{DATASET}.yaml", f"{RESULTS}/tables/cameras-{DATASET}.md"] if DATASET == "cameras" else []
    )
    return (
        tables
        + deployment
        + [
            f"{RESULTS}/tracks/{DATASET}/summary.csv",
            f"{RESULTS}/figures/{DATASET}/qualitative.png",
            f"{RESULTS}/tables/jobs-{DATASET}.md",
        ]
        + expand(f"{RESULTS}/models/{DATASET}/{{scene}}/{{run}}.pt", scene=TRAIN_SCENES, run=RUNS)
    )


def raw_input(wildcards):
    """What one video's frames come from: the generator's manifest, or the video file / frame folder."""
    if DATASET == "synthetic":
        return f"{DATA.dataset.root}/manifest.json"
    if DATASET == "cameras":
        return [PIECE_ROWS[(wildcards.split, wildcards.video)]["source"]]
    return [str(v.source) for v in VIDEOS[wildcards.split] if v.name == wildcards.video]


def pieces_input(wildcards):
    """The pieces sheet, whose row the frame job reads (dataset cameras; [] for the others). Its time does not
    re-run the job (ancient): the row's content does, through :func:`piece_row`."""
    return [ancient(PIECES)] if DATASET == "cameras" else []


def piece_row(wildcards):
    """A camera piece's row of the pieces sheet, as text: a param, so a piece that changed (new footage moves the
    calibration cut, a file whose frames changed) is extracted again, and no other; "" for other datasets."""
    if DATASET != "cameras":
        return ""
    return json.dumps(PIECE_ROWS[(wildcards.split, wildcards.video)], sort_keys=True)


def piece_group(wildcards):
    """The job group of a camera piece's per-segment jobs (frames, detection, tracking, masks): "pieces", one group
    job per piece on a cluster, and ``--group-components pieces=N`` (the SLURM profile) submits N pieces' jobs as one;
    None for the other datasets."""
    return "pieces" if DATASET == "cameras" else None


def pieces_option(wildcards, input):
    """``--pieces CSV`` for a frame job that reads its row of the pieces sheet, "" for other datasets."""
    return f"--pieces {shlex.quote(str(input.pieces[0]))}" if input.pieces else ""


def training_inputs(wildcards):
    """Frame stores and mask caches of one scene's training videos, in the same order."""
    names = videos_of("train", wildcards.scene)
    return {
        "frames": [f"{RESULTS}/frames/{DATASET}/train/{n}.h5" for n in names],
        "masks": [f"{RESULTS}/masks/{DATASET}/train/{n}.h5" for n in names],
    }


try:  # whether score.runtime runs exported graphs, which the export_model jobs (export.smk) make for the scoring jobs
    GRAPHS = runs_graphs(config["score"]["runtime"], config["score"]["device"])
except DDLError as exc:
    raise WorkflowError(str(exc)) from None


def model_graphs(wildcards):
    """The graph folder of the job's model (an input of the jobs that score with it); [] when the runtime is torch."""
    run = f"{wildcards.arch}-{wildcards.variant}-seed{wildcards.seed}"
    return [f"{RESULTS}/models/{DATASET}/{wildcards.scene}/{run}.onnx"] if GRAPHS else []
