"""Figures (matplotlib, Agg backend, PNG): anomaly weight over training, score curves, qualitative panel.

- :func:`plot_sigma`: sigma(l) against the training step, one line per scene (paper Figure 5);
- :func:`plot_score_curve`: one test video's evaluated score curve with the ground-truth
  anomalous frames shaded;
- :func:`plot_seed_aucs`: every training seed's AUC per model, with the mean and s.d.;
- :func:`qualitative_panel` / ``ddl figures qualitative``: for a few training windows with a
  tracked object, X^t, f(X), X_A^t, f(X_A) and the error maps ||X^t - f(X)||, ||X_A^t - f(X_A)||,
  ||X^t - f(X_A)|| (paper Figure 4).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from ..errors import DDLError  # noqa: E402
from ..io_utils import atomic_path  # noqa: E402
from ..train.settings import TrainSettings  # noqa: E402


def _save(fig: plt.Figure, out: str | Path, dpi: int = 100) -> None:
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)


def runs_of_ones(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index ranges where the 0/1 array ``flags`` (N,) is 1."""
    padded = np.concatenate([[0], np.asarray(flags, np.int8) != 0, [0]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def read_training_log(path: str | Path) -> pd.DataFrame:
    """A training log CSV (columns epoch, step, ..., sigma) with an added ``x``: the training step.

    ``x`` is ``step`` when it never decreases over the log (a global counter), else the row number.
    DDLError naming ``path`` if the file is missing or has no sigma column.
    """
    p = Path(path)
    if not p.is_file():
        raise DDLError(f"training log missing: {p}")
    try:
        log = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DDLError(f"{p}: not a readable training log CSV ({exc})") from exc
    if "sigma" not in log or "step" not in log:
        raise DDLError(f"{p}: training log lacks the 'sigma' or 'step' column")
    log["x"] = log["step"] if log["step"].is_monotonic_increasing else np.arange(len(log))
    return log


def plot_sigma(logs: dict[str, pd.DataFrame], out: str | Path, title: str) -> None:
    """sigma(l) over training, one line per run: logs {"scene" or "scene seed K": DataFrame with x, sigma} -> PNG ``out``."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for scene, log in sorted(logs.items()):
        ax.plot(log["x"], log["sigma"], label=scene, linewidth=1.2)
    ax.set_xlabel("training step")
    ax.set_ylabel(r"anomaly weight $\sigma(\ell)$")
    ax.set_title(title)
    if 1 < len(logs) <= 18:
        ax.legend(title="scene", fontsize=7, ncol=2 if len(logs) <= 6 else 3)
    ax.grid(alpha=0.3)
    _save(fig, out)


def plot_score_curve(
    processed: np.ndarray, labels: np.ndarray, valid: np.ndarray, out: str | Path, title: str
) -> None:
    """One video's score curve: processed float (valid.sum(),) scores as evaluated, labels uint8 (N,),
    valid bool (N,). Ground-truth anomalous frames are shaded red, dropped border frames grey."""
    n = len(labels)
    curve = np.full(n, np.nan)
    curve[valid] = processed
    fig, ax = plt.subplots(figsize=(7, 2.4))
    for start, stop in runs_of_ones(labels):
        ax.axvspan(start - 0.5, stop - 0.5, color="tab:red", alpha=0.2, linewidth=0)
    for start, stop in runs_of_ones(~valid):
        ax.axvspan(start - 0.5, stop - 0.5, color="grey", alpha=0.3, linewidth=0)
    ax.plot(np.arange(n), curve, color="tab:blue", linewidth=1.2)
    ax.set_xlim(-0.5, n - 0.5)
    ax.set_xlabel("frame")
    ax.set_ylabel("anomaly score")
    ax.set_title(title, fontsize=9)
    _save(fig, out)


def plot_seed_aucs(per_seed: dict[str, dict[int, float]], out: str | Path, title: str, metric: str) -> None:
    """Each seed's AUC (%) per model as a labelled dot, the mean as a line with +-1 s.d. whiskers beside them.

    per_seed: {model: {seed: AUC in percent}} -> PNG ``out``; ``metric`` names the y axis.
    """
    models = sorted(per_seed)
    fig, ax = plt.subplots(figsize=(1.3 + 1.1 * len(models), 3.4))
    for i, model in enumerate(models):
        seeds, values = zip(*sorted(per_seed[model].items()))
        colour = "tab:blue" if model.endswith("-none") else "tab:orange"
        mean = float(np.mean(values))
        ax.hlines(mean, i - 0.3, i + 0.3, color=colour, linewidth=2.5)
        if len(values) > 1:
            ax.errorbar(i - 0.22, mean, yerr=float(np.std(values, ddof=1)), color=colour, capsize=4, linewidth=1.2)
        xs = i + (np.linspace(-0.05, 0.2, len(values)) if len(values) > 1 else np.array([0.05]))
        ax.scatter(xs, values, color="black", s=14, zorder=3)
        for x, v, seed in zip(xs, values, seeds):
            ax.annotate(str(seed), (x, v), textcoords="offset points", xytext=(4, 0), fontsize=6, va="center")
    low = min(min(v.values()) for v in per_seed.values())
    high = max(max(v.values()) for v in per_seed.values())
    ax.set_ylim(max(0.0, low - 0.25 * (high - low) - 2), min(100.0, high + 0.25 * (high - low) + 2))
    ax.set_xlim(-0.6, len(models) - 0.4)
    ax.set_xticks(range(len(models)), models, rotation=20, fontsize=8)
    ax.set_ylabel(f"{metric} AUC (%)")
    ax.set_title(title + "\n(line: mean over seeds, whisker: +-1 s.d., dots: seeds)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, out)


@torch.no_grad()
def qualitative_rows(
    model: torch.nn.Module,
    clips: torch.Tensor,
    masks: torch.Tensor,
    sigma: float,
    seed: int,
) -> list[dict[str, np.ndarray]]:
    """Images of the qualitative panel for each clip.

    clips float (K, C, T, H, W) in [0, 1]; masks float (K, 1, T, H, W) in {0, 1}; sigma the
    anomaly weight used for the pseudo anomalies; noise drawn from ``seed``. Returns K dicts of
    (H, W) or (H, W, C) float arrays: x, f_x, x_a, f_x_a, err_x, err_x_a, err_x_fxa.
    """
    from ..train.pseudo import pseudo_anomaly
    from ..score.inference import pixel_error

    gen = torch.Generator().manual_seed(seed)
    noise = torch.rand(clips.shape, generator=gen).to(clips.device)
    x_a = pseudo_anomaly(clips, masks, noise, torch.tensor(sigma, device=clips.device))
    f_x, f_x_a = model(clips).float(), model(x_a).float()
    mid = clips.shape[2] // 2
    x_t, x_a_t = clips[:, :, mid], x_a[:, :, mid]

    def image(t: torch.Tensor) -> np.ndarray:
        a = t.permute(1, 2, 0).cpu().numpy()
        return a[:, :, 0] if a.shape[2] == 1 else a

    errors = [pixel_error(x_t, f_x), pixel_error(x_a_t, f_x_a), pixel_error(x_t, f_x_a)]
    rows = []
    for k in range(len(clips)):
        rows.append({
            "x": image(x_t[k]), "f_x": image(f_x[k]), "x_a": image(x_a_t[k]), "f_x_a": image(f_x_a[k]),
            "err_x": errors[0][k].cpu().numpy(), "err_x_a": errors[1][k].cpu().numpy(),
            "err_x_fxa": errors[2][k].cpu().numpy(),
        })
    return rows


PANEL_COLUMNS = [
    ("x", "$X^t$"), ("f_x", "$f(X)$"), ("x_a", "$X_A^t$"), ("f_x_a", "$f(X_A)$"),
    ("err_x", r"$\|X^t - f(X)\|$"), ("err_x_a", r"$\|X_A^t - f(X_A)\|$"), ("err_x_fxa", r"$\|X^t - f(X_A)\|$"),
]


def plot_qualitative(rows: list[dict[str, np.ndarray]], out: str | Path, title: str) -> None:
    """The Figure-4 panel: one row per window, the seven images of :func:`qualitative_rows` as columns.
    Error maps of a row share one colour scale."""
    fig, axes = plt.subplots(len(rows), len(PANEL_COLUMNS), figsize=(1.6 * len(PANEL_COLUMNS), 1.7 * len(rows)),
                             squeeze=False)
    for r, row in enumerate(rows):
        vmax = max(float(row[k].max()) for k in ("err_x", "err_x_a", "err_x_fxa")) or 1.0
        for c, (key, label) in enumerate(PANEL_COLUMNS):
            ax = axes[r, c]
            if key.startswith("err"):
                ax.imshow(row[key], cmap="inferno", vmin=0, vmax=vmax)
            else:
                ax.imshow(np.clip(row[key], 0, 1), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(label, fontsize=8)
    fig.suptitle(title, fontsize=9)
    _save(fig, out, dpi=120)


def qualitative_figure(
    model_path: str | Path, frames_path: str | Path, masks_path: str | Path, out: str | Path,
    train: TrainSettings, n_windows: int = 4,
) -> int:
    """Write the qualitative panel of a trained model on ``n_windows`` training windows to ``out``.

    model_path: the checkpoint; frames_path, masks_path: a training frame store of its scene and that video's
    mask cache; train: the ``train`` settings (``sdl_sigma``, ``random_box_size``, ``seed``).

    Windows are evenly spaced over the centres of ``masks_path`` that have a tracked object; the
    object is the first common track. A video with no tracked window gets a centred box of the mean
    ``train.random_box_size`` instead (said in the title), as training does with ``random_box``. sigma is the last logged anomaly weight of a ``ddl`` model,
    ``train.sdl_sigma`` otherwise; noise comes from ``train.seed``. Returns the number of rows drawn.
    """
    from ..data.framestore import FrameStore
    from ..track.mask_cache import MaskCache, rasterise_boxes
    from ..score.inference import load_model

    model, meta = load_model(model_path, torch.device("cpu"))
    clip = int(meta["frames"])
    history = meta.get("sigma_history") or []
    sigma = float(history[-1]) if meta["variant"] == "ddl" and history else float(train.sdl_sigma)
    with FrameStore(frames_path) as store, MaskCache(masks_path) as cache:
        if cache.window != clip:
            raise DDLError(f"{masks_path}: mask windows of {cache.window} frames, the model reads {clip}")
        centres = cache.centres_with_tracks()
        tracked = centres.size > 0
        if not tracked:
            centres = np.arange(clip // 2, len(store) - clip // 2)
            side = float(np.mean(train.random_box_size))
            h, w = cache.height, cache.width
            box = np.array([w * (1 - side) / 2, h * (1 - side) / 2, w * (1 + side) / 2, h * (1 + side) / 2])
            centred = rasterise_boxes(np.repeat(box[None], clip, axis=0), h, w)
        chosen = centres[np.linspace(0, centres.size - 1, min(n_windows, centres.size)).round().astype(int)]
        clips, masks = [], []
        for c in chosen:
            clips.append(torch.from_numpy(store.window(int(c), clip)).permute(3, 0, 1, 2).float() / 255.0)
            mask = cache.window_mask(int(c), int(cache.tracks_in_window(int(c))[0])) if tracked else centred
            masks.append(torch.from_numpy(mask)[None])
    rows = qualitative_rows(model, torch.stack(clips), torch.stack(masks), sigma, int(train.seed))
    title = f"{meta['arch']}-{meta['variant']}, {meta['dataset']} scene {meta['scene']}, sigma = {sigma:.3f}"
    if not tracked:
        title += " (no tracked object in this video: centred box)"
    plot_qualitative(rows, out, title)
    return len(rows)
