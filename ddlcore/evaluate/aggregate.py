"""Aggregation (``ddl aggregate``): AUC tables beside the paper's, per-scene tables, figures.

Tables (CSV and markdown, AUCs in percent):

- ``auc``: one row per dataset, model (arch-variant) and training seed: micro AUC over all test frames, the
  median of the scene AUCs (datasets with several scenes), macro AUC with the number of one-class
  videos left out, pixel AUC where measured, RBDC and TBDC where the dataset has pixel masks
  (:mod:`ddlcore.evaluate.localisation`), the paper's figure, the label variant and the
  protocol (normalisation, median window, border handling, patch, shifted grid);
- ``ablation-{dataset}``: UNet and C3DSU x none / SDL / DDL like the paper's Tables 2 and 3
  (cells only for the models that were run: mean +- s.d. over seeds), the paper's values beside;
- ``scenes-{dataset}``: per-scene AUCs of every model, mean over seeds (datasets with several scenes, or with
  ``unlabelled_scenes``: these follow as rows saying ``no labels``, in the CSV empty cells and a ``labelled`` column);
- ``seeds-{dataset}``: every AUC of every model as mean +- s.d. over seeds with each seed's value;
- ``verdict-{dataset}``: each variant against ``{arch}-none``, paired by seed (:mod:`ddlcore.evaluate.seed_stats`).

Scenes that were trained but have no labelled test clips (``unlabelled_scenes``, ``--unlabelled-scenes``)
are named in a line under the ``auc`` table (and the event table of :mod:`ddlcore.evaluate.event_table`); without
them every table is as it was before the option existed.

The compared figure ("headline") is the median of scene AUCs for multi-scene datasets (the paper's
ShanghaiTech protocol) and the micro AUC otherwise.

Figures (into ``--figures-dir``): ``{dataset}-{model}-{video}.png`` score curves of every test
video (of each model's first seed), ``sigma-{dataset}-{model}.png`` sigma(l) over training per
scene and seed for ``ddl`` models, ``seeds-{dataset}.png`` every seed's headline AUC per model.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import h5py
import pandas as pd
from tqdm import tqdm

from ..errors import DDLError
from ..io_utils import atomic_path
from .seed_stats import comparisons_markdown, headline_metric, mean_sd, mean_sd_text, paired_comparisons, \
    seed_summary, summary_markdown
from .settings import MetricsSettings
from .tables import NO_LABELS, checked_unlabelled, group_score_files, markdown, unlabelled_note, write_table

#: the paper's AUCs (%): Table 1 (C3DSU with DDL) and Tables 2-3 (ablations)
PAPER_AUC: dict[tuple[str, str, str], float] = {
    ("ped2", "unet", "none"): 86.90, ("ped2", "unet", "sdl"): 95.28, ("ped2", "unet", "ddl"): 97.76,
    ("ped2", "c3dsu", "none"): 95.55, ("ped2", "c3dsu", "sdl"): 97.12, ("ped2", "c3dsu", "ddl"): 98.46,
    ("avenue", "unet", "none"): 84.18, ("avenue", "unet", "sdl"): 87.06, ("avenue", "unet", "ddl"): 88.96,
    ("avenue", "c3dsu", "none"): 82.54, ("avenue", "c3dsu", "sdl"): 89.41, ("avenue", "c3dsu", "ddl"): 90.35,
    ("shanghaitech", "c3dsu", "ddl"): 74.25,
}
ARCH_NAMES = {"unet": "UNet", "c3dsu": "C3DSU"}
VARIANT_NAMES = {"none": "none", "sdl": "SDL", "ddl": "DDL"}


def pct(value: float | None) -> float | None:
    """A fraction as a percentage rounded to 2 decimals (None stays None)."""
    return None if value is None else round(100.0 * value, 2)


def headline(result: dict[str, Any]) -> float | None:
    """The figure compared with the paper: median of scene AUCs when several scenes, else micro AUC."""
    return result[headline_metric(result)]


def labels_dataset(path: str | Path) -> str:
    """The ``dataset`` attribute of a labels file (DDLError naming it when unreadable)."""
    try:
        with h5py.File(path, "r") as f:
            return str(f.attrs.get("dataset", ""))
    except OSError as exc:
        raise DDLError(f"{path}: not a readable labels file ({exc})") from exc


def protocol_text(protocol: dict[str, Any]) -> str:
    """One-line protocol description for the tables."""
    norm = "min-max per video" if protocol["normalise"] else "raw scores"
    grid = " + shifted grid" if protocol.get("shifted_grid") else ""
    return (f"{norm}, median window {protocol['median_window']}, border {protocol['border']}, "
            f"patch {protocol['patch']}{grid}")


def auc_table(results: list[dict[str, Any]]) -> pd.DataFrame:
    """The Table-1-like AUC table: one row per evaluated (dataset, model, seed), AUCs in percent."""
    rows = []
    for r in results:
        rows.append({
            "dataset": r["dataset"], "model": r["model"], "seed": r.get("seed", 0), "label_variant": r["label_variant"],
            "micro_auc": pct(r["micro_auc"]), "scene_median_auc": pct(r["scene_median_auc"]),
            "macro_auc": pct(r["macro_auc"]), "macro_left_out": r["macro_left_out"], "pixel_auc": pct(r["pixel_auc"]),
            "rbdc": pct(r.get("rbdc")), "tbdc": pct(r.get("tbdc")),
            "paper_auc": PAPER_AUC.get((r["dataset"], r["arch"], r["variant"])),
            "scenes": r["n_scenes"], "videos": r["n_videos"], "frames": r["n_frames"],
            "normalise": r["protocol"]["normalise"], "median_window": r["protocol"]["median_window"],
            "border": r["protocol"]["border"], "patch": r["protocol"]["patch"],
            "shifted_grid": r["protocol"]["shifted_grid"],
        })
    return pd.DataFrame(rows)


def auc_markdown(table: pd.DataFrame) -> str:
    """Markdown of :func:`auc_table` with readable headers and the protocol per row."""
    shown = pd.DataFrame({
        "Dataset": table["dataset"], "Model": table["model"], "Seed": table["seed"], "Labels": table["label_variant"],
        "Micro AUC (%)": table["micro_auc"], "Median of scene AUCs (%)": table["scene_median_auc"],
        "Macro AUC (%)": table["macro_auc"], "One-class videos left out": table["macro_left_out"],
        "Pixel AUC (%)": table["pixel_auc"], "RBDC (%)": table["rbdc"], "TBDC (%)": table["tbdc"],
        "Paper (%)": table["paper_auc"],
        "Protocol": [protocol_text(p) for p in table[["normalise", "median_window", "border", "patch", "shifted_grid"]]
                     .to_dict("records")],
    })
    return markdown(shown)


def ablation_table(dataset: str, results: list[dict[str, Any]]) -> pd.DataFrame:
    """Tables 2-3 layout, long form: one row per arch x variant: ours (headline %, mean and s.d. over
    ``n_seeds`` seeds) and the paper's."""
    ours: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in results:
        if r["dataset"] == dataset and headline(r) is not None:
            ours[(r["arch"], r["variant"])].append(100.0 * headline(r))
    rows = []
    for arch in ARCH_NAMES:
        for variant in VARIANT_NAMES:
            values = ours.get((arch, variant), [])
            mean, sd = mean_sd(values) if values else (None, None)
            rows.append({"dataset": dataset, "arch": arch, "variant": variant,
                         "auc": None if mean is None else round(mean, 2), "auc_sd": None if sd is None else round(sd, 2),
                         "n_seeds": len(values), "paper_auc": PAPER_AUC.get((dataset, arch, variant))})
    return pd.DataFrame(rows)


def ablation_markdown(table: pd.DataFrame, metric: str) -> str:
    """Markdown of :func:`ablation_table`: rows UNet / C3DSU, columns none / SDL / DDL, cells
    'ours / paper', ours as mean +- s.d. (seeds)."""
    def cell(v: float | None) -> str:
        return "–" if v is None or pd.isna(v) else f"{v:.2f}"

    def ours(r: dict[str, Any]) -> str:
        return "–" if not r["n_seeds"] else mean_sd_text(r["auc"], r["auc_sd"], r["n_seeds"])

    wide = pd.DataFrame([
        {"Model": ARCH_NAMES[arch], **{
            VARIANT_NAMES[r["variant"]]: f"{ours(r)} / {cell(r['paper_auc'])}"
            for r in table[table["arch"] == arch].to_dict("records")}}
        for arch in ARCH_NAMES
    ])
    return (f"AUC (%), {metric}; cells: ours, mean +- s.d. over training seeds (number of seeds) / paper\n\n"
            + wide.to_markdown(index=False) + "\n")


def scene_table(dataset: str, results: list[dict[str, Any]], unlabelled: Sequence[str] = ()) -> pd.DataFrame:
    """Per-scene AUCs (%) of every model of ``dataset``, mean over its seeds: rows scenes, one column per model.

    With ``unlabelled`` (scenes trained without labelled test clips) these follow as rows without AUCs, and a
    ``labelled`` column (False for them) ends the table; without, the table has no such column.
    """
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        if r["dataset"] == dataset:
            for scene, auc in r["scene_aucs"].items():
                if auc is not None:
                    values[r["model"]][scene].append(auc)
    columns = {model: {s: pct(sum(a) / len(a)) for s, a in scenes.items()} for model, scenes in values.items()}
    table = pd.DataFrame(columns)
    table.index.name = "scene"
    table = table.reset_index()
    if not unlabelled:
        return table
    return pd.concat([table.assign(labelled=True), pd.DataFrame({"scene": list(unlabelled), "labelled": False})],
                     ignore_index=True)


def scene_markdown(table: pd.DataFrame) -> str:
    """Markdown of :func:`scene_table` under its heading: AUCs with 2 decimals, '–' where a model has none, and
    ``no labels`` in every model column of a scene without labelled test clips (the ``labelled`` column)."""
    heading = "Per-scene AUC (%) (micro AUC over the scene's test frames; mean over training seeds)\n\n"
    if "labelled" not in table:
        return heading + markdown(table)
    models = [c for c in table.columns if c not in ("scene", "labelled")]
    cells = table[models].map(lambda v: "–" if pd.isna(v) else f"{v:.2f}")
    cells.loc[~table["labelled"], :] = NO_LABELS
    return heading + pd.concat([table[["scene"]], cells], axis=1).to_markdown(index=False) + "\n"


def training_logs(train_logs: Sequence[str | Path]) -> dict[tuple[str, str], dict[str, Path]]:
    """Logs ``.../{dataset}/{scene}/{model}-seed{K}.csv`` grouped as {(dataset, model): {run: path}};
    a run is named by its scene, and by ``scene seed K`` when the model has several seeds."""
    found: dict[tuple[str, str], list[tuple[str, str, Path]]] = defaultdict(list)
    for path in map(Path, train_logs):
        model, _, seed = path.stem.rpartition("-seed")
        if not model or not seed.isdigit():
            model, seed = path.stem, ""
        found[(path.parent.parent.name, model)].append((path.parent.name, seed, path))
    grouped: dict[tuple[str, str], dict[str, Path]] = {}
    for key, runs in found.items():
        several = len({seed for _, seed, _ in runs}) > 1
        grouped[key] = {(f"{scene} seed {seed}" if several else scene): path for scene, seed, path in runs}
    return grouped


def write_figures(results: list[dict[str, Any]], runs: dict[tuple[str, str, int], Any], metrics: MetricsSettings,
                  train_logs: Sequence[str | Path], figures_dir: Path) -> int:
    """Score curves of every test video of each model's first seed, sigma plots of ``ddl`` models and the
    seeds figure of each dataset, into ``figures_dir``; returns PNGs written.

    results: the runs' :func:`ddlcore.evaluate.metrics.evaluate_run` results; runs: {(dataset, model, seed):
    {video: VideoScores}}; metrics: the ``metrics`` settings (post-processing of the curves); train_logs: the
    training logs (see :func:`training_logs`).
    """
    from .figures import plot_score_curve, plot_seed_aucs, plot_sigma, read_training_log
    from ..score.postprocess import process_scores

    figures_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    first_seed: dict[tuple[str, str], int] = {}
    for r in results:
        key = (r["dataset"], r["model"])
        first_seed[key] = min(r["seed"], first_seed.get(key, r["seed"]))
    for r in results:
        if r["seed"] != first_seed[(r["dataset"], r["model"])]:
            continue
        videos = runs[(r["dataset"], r["model"], r["seed"])]
        for name, v in tqdm(sorted(videos.items()), desc=f"curves {r['model']}", disable=None, leave=False):
            processed = process_scores(v.score, v.valid, metrics.normalise, metrics.median_window)
            auc = r["video_aucs"][name]
            title = f"{r['dataset']} {v.scene}/{name}, {r['model']} seed {r['seed']}" + \
                ("" if auc is None else f", AUC {100 * auc:.1f}%")
            plot_score_curve(processed, v.labels, v.valid, figures_dir / f"{r['dataset']}-{r['model']}-{name}.png", title)
            count += 1
    for (dataset, model), scenes in sorted(training_logs(train_logs).items()):
        if not model.endswith("-ddl"):
            continue
        logs = {scene: read_training_log(path) for scene, path in scenes.items()}
        plot_sigma(logs, figures_dir / f"sigma-{dataset}-{model}.png", f"{model} on {dataset}: anomaly weight")
        count += 1
    for dataset in sorted({r["dataset"] for r in results}):
        mine = [r for r in results if r["dataset"] == dataset and headline(r) is not None]
        if not mine:
            continue
        per_seed: dict[str, dict[int, float]] = defaultdict(dict)
        for r in mine:
            per_seed[r["model"]][r["seed"]] = 100.0 * headline(r)
        metric = "median of scene" if headline_metric(mine[0]) == "scene_median_auc" else "micro"
        plot_seed_aucs(dict(per_seed), figures_dir / f"seeds-{dataset}.png", f"{dataset}: AUC of every training seed",
                       metric)
        count += 1
    return count


def aggregate(
    labels_paths: Sequence[str | Path], score_paths: Sequence[str | Path], metrics: MetricsSettings,
    tables_dir: str | Path, figures_dir: str | Path | None = None, train_logs: Sequence[str | Path] = (),
    metrics_out: str | Path | None = None, origin: dict[str, Any] | None = None, unlabelled_scenes: Sequence[str] = (),
) -> str:
    """Evaluate every (dataset, model) among ``score_paths`` and write tables (and figures).

    Each group's labels file is the one in ``labels_paths`` whose ``dataset`` attribute matches
    its scores files (the only one when a single file is given); ``metrics``: the ``metrics`` settings. Tables
    are per dataset (``auc-{dataset}``, ``ablation-{dataset}``, ...); ``origin`` (provenance record) is stamped on every
    table and stored in the metrics JSON ``metrics_out``. ``unlabelled_scenes``, the dataset's scenes that were
    trained but have no labelled test clips (scores of one dataset only), are rows of ``scenes-{dataset}``
    (written then even for one labelled scene) and a line under ``auc-{dataset}``. Returns each dataset's AUC
    table markdown, followed by its seeds and verdict tables when it was run with several seeds.
    """
    from .localisation import LocalisationCriteria
    from .metrics import evaluate_run, load_run

    by_dataset = {labels_dataset(p): str(p) for p in labels_paths}
    results: list[dict[str, Any]] = []
    runs: dict[tuple[str, str, int], Any] = {}
    for (dataset, arch, variant, _), files in group_score_files(score_paths).items():
        labels = by_dataset.get(dataset) or (next(iter(by_dataset.values())) if len(by_dataset) == 1 else None)
        if labels is None:
            raise DDLError(f"{files[0]}: no labels file for dataset {dataset!r} among {', '.join(map(str, labels_paths))}")
        info, videos = load_run(labels, files, LocalisationCriteria.from_settings(metrics))
        results.append(evaluate_run(info, videos, metrics))
        runs[(info["dataset"], info["model"], info["seed"])] = videos
    if not results:
        raise DDLError("ddl aggregate: no scores files given")
    scored: dict[str, set[str]] = defaultdict(set)
    for r in results:
        scored[r["dataset"]].update(r["scene_aucs"])
    unlabelled = checked_unlabelled(unlabelled_scenes, scored)
    tables = Path(tables_dir)
    printed = ""
    for dataset in sorted({r["dataset"] for r in results}):
        mine = [r for r in results if r["dataset"] == dataset]
        auc = auc_table(mine)
        auc_md = auc_markdown(auc) + unlabelled_note(unlabelled)
        write_table(auc, auc_md, tables / f"auc-{dataset}", origin)
        printed += auc_md
        metric = "median of scene AUCs" if mine[0]["n_scenes"] > 1 else "micro AUC"
        ablation = ablation_table(dataset, results)
        write_table(ablation, ablation_markdown(ablation, metric), tables / f"ablation-{dataset}", origin)
        if mine[0]["n_scenes"] > 1 or unlabelled:
            scenes = scene_table(dataset, results, unlabelled)
            write_table(scenes, scene_markdown(scenes), tables / f"scenes-{dataset}", origin)
        summary = seed_summary(mine)
        write_table(summary, summary_markdown(summary), tables / f"seeds-{dataset}", origin)
        comparisons = paired_comparisons(mine)
        write_table(comparisons, comparisons_markdown(comparisons), tables / f"verdict-{dataset}", origin)
        if max(summary["n_seeds"], default=1) > 1:
            printed += "\n" + summary_markdown(summary) + "\n" + comparisons_markdown(comparisons)
    if metrics_out is not None:
        with atomic_path(metrics_out) as tmp:
            tmp.write_text(json.dumps({"provenance": origin, "results": results}, indent=2, sort_keys=True) + "\n")
    if figures_dir is not None:
        write_figures(results, runs, metrics, train_logs, Path(figures_dir))
    return printed
