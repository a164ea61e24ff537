"""Figures over training seeds: mean +- s.d. of every AUC per model, and paired comparisons with the baseline.

Each evaluated run (one model trained with one seed, see :func:`ddlcore.evaluate.metrics.evaluate_run`) is a
dict with ``dataset``, ``model`` (``arch-variant``), ``arch``, ``variant``, ``seed``, ``n_scenes``
and the AUC fractions of :data:`AUC_METRICS`.

- :func:`seed_summary`: per dataset, model and AUC: the number of seeds, their mean and sample
  standard deviation (ddof 1; none for one seed) and each seed's value, in percent.
- :func:`paired_comparisons`: every variant against the reconstruction-only model of the same
  architecture (``{arch}-none``), over the seeds both were trained with. A seed fixes the model's
  initial weights and the order of its batches, so the pairs share them. The compared figure is the
  headline AUC (median of scene AUCs for several scenes, else micro). The mean difference comes with
  its two-sided 95% Student-t interval; the verdict is ``better`` when the interval lies above 0,
  ``worse`` when below, else ``no evidence`` (always so for fewer than two pairs).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

#: the AUCs summarised over seeds, in table order
AUC_METRICS: tuple[str, ...] = ("micro_auc", "macro_auc", "scene_median_auc", "pixel_auc", "rbdc", "tbdc")
METRIC_NAMES = {"micro_auc": "micro", "macro_auc": "macro", "scene_median_auc": "median of scenes",
                "pixel_auc": "pixel", "rbdc": "RBDC", "tbdc": "TBDC"}
CONFIDENCE = 0.95


def headline_metric(result: dict[str, Any]) -> str:
    """The AUC compared across models: ``scene_median_auc`` for several scenes, else ``micro_auc``."""
    return "scene_median_auc" if result["n_scenes"] > 1 else "micro_auc"


def _percent(values: Sequence[float]) -> np.ndarray:
    return 100.0 * np.asarray(values, np.float64)


def mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (ddof 1) of ``values``; the s.d. is None for one value."""
    a = np.asarray(values, np.float64)
    return float(a.mean()), (float(a.std(ddof=1)) if len(a) > 1 else None)


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float | None, float | None]:
    """Mean of ``values`` and its two-sided Student-t confidence interval (None, None for fewer than 2)."""
    mean, sd = mean_sd(values)
    if sd is None:
        return mean, None, None
    half = float(stats.t.ppf(0.5 + confidence / 2, len(values) - 1)) * sd / math.sqrt(len(values))
    return mean, mean - half, mean + half


def verdict(low: float | None, high: float | None) -> str:
    """``better`` when the interval [low, high] of a difference lies above 0, ``worse`` below, else ``no evidence``."""
    if low is None or high is None:
        return "no evidence"
    if low > 0:
        return "better"
    if high < 0:
        return "worse"
    return "no evidence"


def _by_model(results: Sequence[dict[str, Any]]) -> dict[tuple[str, str], dict[int, dict[str, Any]]]:
    grouped: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for r in results:
        grouped.setdefault((r["dataset"], r["model"]), {})[int(r["seed"])] = r
    return dict(sorted(grouped.items()))


def seed_summary(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per dataset, model and AUC measured: ``n_seeds``, ``mean``, ``sd`` (percent, 2 decimals),
    ``seeds`` ("0 1 2") and one column ``seed_K`` per seed with that seed's value."""
    rows = []
    for (dataset, model), by_seed in _by_model(results).items():
        for metric in AUC_METRICS:
            values = {s: r[metric] for s, r in sorted(by_seed.items()) if r.get(metric) is not None}
            if not values:
                continue
            mean, sd = mean_sd(_percent(list(values.values())))
            rows.append({"dataset": dataset, "model": model, "metric": metric, "n_seeds": len(values),
                         "mean": round(mean, 2), "sd": None if sd is None else round(sd, 2),
                         "seeds": " ".join(map(str, values)),
                         **{f"seed_{s}": round(float(100 * v), 2) for s, v in values.items()}})
    return pd.DataFrame(rows)


def paired_comparisons(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per dataset and variant model with an ``{arch}-none`` baseline: the headline metric,
    ``n_pairs`` (seeds both have), ``mean_diff``, ``ci_low``, ``ci_high`` (percentage points, variant
    minus baseline), ``verdict``, and both models' mean over those seeds."""
    grouped = _by_model(results)
    rows = []
    for (dataset, model), by_seed in grouped.items():
        arch, _, variant = model.partition("-")
        baseline = grouped.get((dataset, f"{arch}-none"))
        if variant == "none" or baseline is None:
            continue
        metric = headline_metric(next(iter(by_seed.values())))
        seeds = sorted(s for s in set(by_seed) & set(baseline)
                       if by_seed[s].get(metric) is not None and baseline[s].get(metric) is not None)
        if not seeds:
            continue
        ours = _percent([by_seed[s][metric] for s in seeds])
        theirs = _percent([baseline[s][metric] for s in seeds])
        mean, low, high = mean_interval(ours - theirs)
        rows.append({"dataset": dataset, "model": model, "baseline": f"{arch}-none", "metric": metric,
                     "n_pairs": len(seeds), "seeds": " ".join(map(str, seeds)),
                     "model_mean": round(float(ours.mean()), 2), "baseline_mean": round(float(theirs.mean()), 2),
                     "mean_diff": round(mean, 2), "ci_low": None if low is None else round(low, 2),
                     "ci_high": None if high is None else round(high, 2), "verdict": verdict(low, high)})
    return pd.DataFrame(rows)


def mean_sd_text(mean: float, sd: float | None, n: int) -> str:
    """``"94.70 +- 1.41 (5)"``; ``"92.40 (1)"`` for one seed."""
    return f"{mean:.2f} (1)" if sd is None or pd.isna(sd) else f"{mean:.2f} +- {sd:.2f} ({n})"


def summary_markdown(summary: pd.DataFrame) -> str:
    """Markdown of :func:`seed_summary`: per model and AUC, ``mean +- s.d. (seeds)`` and each seed's value."""
    lines = ["AUC (%) over training seeds: mean +- sample s.d. (number of seeds), then each seed's value", "",
             "| Dataset | Model | AUC | Mean +- s.d. (seeds) | Per seed |", "|---|---|---|---|---|"]
    for r in summary.to_dict("records"):
        per_seed = ", ".join(f"{s}: {r[f'seed_{s}']:.2f}" for s in str(r["seeds"]).split())
        lines.append(f"| {r['dataset']} | {r['model']} | {METRIC_NAMES[r['metric']]} | "
                     f"{mean_sd_text(r['mean'], r['sd'], r['n_seeds'])} | {per_seed} |")
    return "\n".join(lines) + "\n"


def comparisons_markdown(comparisons: pd.DataFrame) -> str:
    """Markdown of :func:`paired_comparisons` with the interval and the verdict."""
    if comparisons.empty:
        return "No paired comparison: no model was run beside its reconstruction-only baseline ({arch}-none).\n"
    lines = [f"Each variant against the reconstruction-only model of its architecture, paired by training seed: "
             f"mean difference of the headline AUC in percentage points with its {100 * CONFIDENCE:.0f}% "
             "Student-t interval. better / worse: the interval excludes 0; no evidence: it does not "
             "(or fewer than 2 seeds).", "",
             "| Dataset | Model | Baseline | AUC | Seeds | Model mean | Baseline mean | Difference | 95% interval | Verdict |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in comparisons.to_dict("records"):
        interval = "–" if r["ci_low"] is None or pd.isna(r["ci_low"]) else f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]"
        lines.append(f"| {r['dataset']} | {r['model']} | {r['baseline']} | {METRIC_NAMES[r['metric']]} | "
                     f"{r['n_pairs']} | {r['model_mean']:.2f} | {r['baseline_mean']:.2f} | {r['mean_diff']:+.2f} | "
                     f"{interval} | **{r['verdict']}** |")
    return "\n".join(lines) + "\n"
