# Helpers shared by all rules: dataset listing, per-stage settings and code fingerprints.

import dataclasses
import hashlib
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


def piece_file(stage, split, video):
    """The result of one video in a per-video stage ("frames", "detections", "tracks", "masks"): for dataset cameras
    in its camera's folder (written by the camera's job of that stage, never a declared output), else per split."""
    if DATASET == "cameras":
        return f"{RESULTS}/{stage}/{DATASET}/{PIECE_ROWS[(split, video)]['camera']}/{split}/{video}.h5"
    return f"{RESULTS}/{stage}/{DATASET}/{split}/{video}.h5"


def piece_files(stage, split, scene=None):
    """The results of a per-video stage of a split's videos (of one scene when given), in video order."""
    return [piece_file(stage, split, name) for name in videos_of(split, scene)]


def stage_manifest(stage, camera):
    """The manifest the job of one camera and a per-piece stage writes (dataset cameras): its declared output."""
    return f"{RESULTS}/{stage}/{DATASET}/{camera}.pieces.csv"


def piece_inputs(stage, split, scene=None):
    """What a job reading :func:`piece_files` takes as input: for dataset cameras the manifests of the cameras
    concerned (the per-piece results are not declared outputs), else the results themselves."""
    if DATASET != "cameras":
        return piece_files(stage, split, scene)
    cameras = sorted({v.scene for v in VIDEOS[split] if scene is None or v.scene == scene})
    return [stage_manifest(stage, camera) for camera in cameras]


def frame_stores(split, scene=None):
    """The frame stores of a split's videos (of one scene when given)."""
    return piece_files("frames", split, scene)


def calibration_split():
    """The split a scene's alarm threshold is fitted on: held-out normal footage where the dataset has it
    (cameras), else the scene's training videos."""
    return "calibration" if VIDEOS["calibration"] else "train"


def calibration_stores(scene):
    """The frame stores a scene's alarm threshold is fitted on (:func:`calibration_split`)."""
    return frame_stores(calibration_split(), scene)


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
    return [str(v.source) for v in VIDEOS[wildcards.split] if v.name == wildcards.video]


#: dataset cameras: each camera's rows of the pieces sheet (its frames job's pieces), in sheet order
CAMERA_ROWS = {}
if DATASET == "cameras":
    for piece in PIECE_ROWS.values():
        CAMERA_ROWS.setdefault(piece["camera"], []).append(piece)


def camera_sources(wildcards):
    """The footage files and folders a camera's frames job reads: an input, so that a changed file re-runs it."""
    return sorted({row["source"] for row in CAMERA_ROWS[wildcards.camera]})


def camera_rows(wildcards):
    """A camera's rows of the pieces sheet, as text: a param, so that new footage (new rows, a moved calibration cut)
    re-runs that camera's frames job, and no other camera's; inside it only the pieces whose row changed are
    extracted again."""
    return json.dumps(CAMERA_ROWS[wildcards.camera], sort_keys=True)


def stamp(stage_settings, code):
    """The ``--stamp`` of a camera's piece job: its settings and code fingerprint, carried by each per-piece result
    it keeps (a result made with other settings or code is computed again)."""
    return hashlib.sha256(f"{stage_settings}\n{code}".encode()).hexdigest()


#: pieces one camera's piece job computes at once (a local run gives it at most --cores; SLURM: its CPUs)
PIECE_THREADS = 8


def training_inputs(wildcards):
    """Inputs of one scene's training job: frame stores and mask caches of its training videos (for dataset
    cameras the camera's manifests of both stages)."""
    return {
        "frames": piece_inputs("frames", "train", wildcards.scene),
        "masks": piece_inputs("masks", "train", wildcards.scene),
    }


try:  # whether score.runtime runs exported graphs, which the export_model jobs (export.smk) make for the scoring jobs
    GRAPHS = runs_graphs(config["score"]["runtime"], config["score"]["device"])
except DDLError as exc:
    raise WorkflowError(str(exc)) from None


def model_graphs(wildcards):
    """The graph folder of the job's model (an input of the jobs that score with it); [] when the runtime is torch."""
    run = f"{wildcards.arch}-{wildcards.variant}-seed{wildcards.seed}"
    return [f"{RESULTS}/models/{DATASET}/{wildcards.scene}/{run}.onnx"] if GRAPHS else []
