"""``ddl train``: train one model (C3DSU or UNet; variant none | sdl | ddl) on one scene's training videos.

Each step: a batch of clips X and masks M, pseudo anomalies X_A (:mod:`ddlcore.train.pseudo`; the noise
drawn per frame or, ``train.noise: shared``, once per clip), f(X) and f(X_A) (two forwards by
default, as the authors do: BatchNorm sees normal and pseudo-anomalous clips separately; with
``train.stacked_forward`` both go through one forward of 2B clips in which BatchNorm normalises each half by
its own statistics, the same computation with larger convolutions;
``train.joint_batchnorm`` runs one joint forward with shared statistics; ``train.pseudo_running_stats: false``
keeps the pseudo-anomalous clips out of BatchNorm's running statistics), the loss of :mod:`ddlcore.train.losses`,
one Adam step over the model and l; with ``train.ema_decay`` > 0, an update of the weights' moving
average, which the model file then keeps instead of the last weights. With ``train.empty_mask_batch:
skip`` a batch in which no clip has a mask is passed over (no forward, no step), as the authors do.

Outputs: ``<out>`` (weights + metadata + sigma history, :mod:`ddlcore.model.checkpoint`), the
per-step CSV log ``<out without .pt>.csv`` (epoch, step, l_recon, p, n, l_dist, loss, sigma, lr) and,
while running, ``<out>.ckpt``: the training state after each epoch. Re-running a killed job resumes
from it and ends in the same state as an uninterrupted run (the batches, noise and draws of an
epoch come from generators seeded by (train.seed, epoch)).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..config import JOB_SELECTORS, fingerprint
from ..cpu_precision import precision_record, resolve_autocast_cpu
from ..devices import resolve_device
from ..errors import DDLError
from ..io_utils import atomic_path
from .losses import LossTerms, ddl_loss
from ..model import build_model, frozen_batchnorm_statistics, save_trained_model, split_batchnorm, use_channels_last
from ..model.checkpoint import FORMAT_VERSION, load_torch_file
from ..model.settings import ModelSettings
from ..track.settings import MasksSettings
from .pseudo import AnomalyWeight, draw_noise, pseudo_anomaly
from .clips import ClipDataset, EpochSampler
from .settings import TrainSettings

LOG_COLUMNS = ["epoch", "step", "l_recon", "p", "n", "l_dist", "loss", "sigma", "lr"]
#: what :meth:`Trainer.train_step` returns, in order: the loss terms, sigma used in the step and sigma after it
STEP_FIGURES = ("l_recon", "p", "n", "l_dist", "loss", "sigma", "sigma_after")
STATE_KIND = "ddl-train-state"
#: train settings that change how fast a run goes, not what it computes: left out of the resume tag
SPEED_ONLY = ("threads", "workers", "device", "compile", "compile_min_steps", "log_every", "cudnn_benchmark")


def log_path_of(out: str | Path) -> Path:
    """The CSV training log beside a model file: ``<out without .pt>.csv``."""
    return Path(out).with_suffix(".csv")


def checkpoint_path_of(out: str | Path) -> Path:
    """The resumable training state beside a model file: ``<out>.ckpt``."""
    return Path(str(out) + ".ckpt")


def _rng_state() -> dict[str, Any]:
    """Python, numpy and torch RNG states as tensors and plain containers (loadable with weights_only)."""
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": [version, list(mt), gauss], "numpy": [name, torch.from_numpy(keys.astype(np.int64)),
                                                             int(pos), int(has_gauss), float(cached)],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`_rng_state` saved."""
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _seed_worker(worker_id: int) -> None:
    """Per-worker seeds for any library draw outside the items' own generators."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """A model output for the loss: bf16 / fp16 (autocast) raised to float32, float64 kept as it is."""
    return x if x.dtype == torch.float64 else x.float()


def compiles(train: TrainSettings, device: torch.device, steps: int) -> bool:
    """Whether a run of ``steps`` training steps on ``device`` compiles its model (``train.compile``).

    true / false as set; auto: on a GPU when ``steps`` >= ``train.compile_min_steps``, never on the CPU.
    """
    setting = train.compile
    if setting == "auto":
        return device.type == "cuda" and steps >= int(train.compile_min_steps)
    return bool(setting)


class Trainer:
    """The state of one training run: model, anomaly weight, optimizer, scheduler, loader, log.

    ``train`` / ``model``: the ``train`` and ``model`` settings; ``arch`` "c3dsu" | "unet"; ``variant``
    "none" | "sdl" | "ddl"; ``dataset`` the training clips; ``device`` where the model trains.
    """

    def __init__(self, train: TrainSettings, model: ModelSettings, arch: str, variant: str, dataset: ClipDataset,
                 device: torch.device) -> None:
        self.settings, self.arch, self.variant, self.device = train, arch, variant, device
        self.frames = int(model.frames) if arch == "c3dsu" else 1
        _seed_everything(int(train.seed))
        self.model = build_model(arch, model, dataset.channels).to(device)
        if train.channels_last:
            use_channels_last(self.model)
        self.weight = AnomalyWeight(variant, float(train.l_init), float(train.sdl_sigma)).to(device)
        groups: list[dict[str, Any]] = [{"params": list(self.model.parameters()), "lr": float(train.lr)}]
        if variant == "ddl":
            lr_l = train.lr_anomaly_weight
            groups.append({"params": [self.weight.l], "lr": float(train.lr if lr_l is None else lr_l)})
        # one fused kernel over all tensors: on the CPU 1.3-2x faster than the foreach form (docs/speed.md)
        self.optimizer = torch.optim.Adam(groups, fused=True)
        epochs = int(train.epochs)
        self.scheduler = torch.optim.lr_scheduler.StepLR(
            self.optimizer, step_size=max(1, round(float(train.lr_step_fraction) * epochs)),
            gamma=float(train.lr_gamma))
        batch = int(train.batch_size)
        steps = train.steps_per_epoch or max(1, len(dataset) // batch)
        self.steps_per_epoch = int(steps)
        #: whether the training forwards run through torch.compile (``train.compile``)
        self.compiled = compiles(train, device, int(train.epochs) * self.steps_per_epoch)
        #: what the training forwards call: the model, or its torch.compile'd wrapper (same parameters)
        self.run_model = torch.compile(self.model) if self.compiled else self.model
        self.sampler = EpochSampler(len(dataset), self.steps_per_epoch * batch, int(train.seed))
        workers = int(train.workers)
        self.loader = DataLoader(dataset, batch_size=batch, sampler=self.sampler, num_workers=workers,
                                 pin_memory=device.type == "cuda", drop_last=True, worker_init_fn=_seed_worker,
                                 persistent_workers=workers > 0)
        self.autocast = bool(train.autocast_cuda) if device.type == "cuda" else resolve_autocast_cpu(train.autocast_cpu)
        decay = float(train.ema_decay)
        #: the exponential moving average of the weights and BatchNorm statistics (``train.ema_decay`` > 0):
        #: what the model file keeps; None when off
        self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True) \
            if decay > 0 else None
        self.epoch = 0
        self.log: list[list[float]] = []
        self.sigma_history: list[float] = []

    def step_loss(self, clip: torch.Tensor, mask: torch.Tensor,
                  noise_gen: torch.Generator) -> tuple[LossTerms, torch.Tensor]:
        """Forward pass(es) and loss of one batch: clip (B, C, T, H, W), mask (B, 1, T, H, W).

        Returns the loss terms and sigma, a 0-d tensor on the device (no host-device synchronisation).
        """
        mid = clip.shape[2] // 2
        target = clip[:, :, mid]
        settings = self.settings
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            if not self.weight.creates_anomalies:
                recon = at_least_float32(self.run_model(clip))
                terms = ddl_loss(target, recon, None, None, None, settings.lambda_, settings.eps, settings.distinction)
                return terms, self.weight().detach()
            sigma = self.weight()
            noise = draw_noise(clip.shape, settings.noise, noise_gen, self.device)
            anomalous = pseudo_anomaly(clip, mask, noise, sigma)
            if settings.joint_batchnorm or settings.stacked_forward:  # one forward of 2B clips
                with split_batchnorm(self.model, (True, bool(settings.pseudo_running_stats)),
                                     enabled=not settings.joint_batchnorm):
                    recon, recon_a = at_least_float32(self.run_model(torch.cat([clip, anomalous]))).chunk(2)
            else:
                recon = at_least_float32(self.run_model(clip))
                with frozen_batchnorm_statistics(self.model, enabled=not settings.pseudo_running_stats):
                    recon_a = at_least_float32(self.run_model(anomalous))
        terms = ddl_loss(target, recon, anomalous[:, :, mid], recon_a, mask[:, :, mid],
                         settings.lambda_, settings.eps, settings.distinction)
        return terms, sigma.detach()

    def train_step(self, clip: torch.Tensor, mask: torch.Tensor, noise_gen: torch.Generator) -> torch.Tensor:
        """One optimisation step on a batch: clip (B, C, T, H, W), mask (B, 1, T, H, W), both on the device.

        Forward(s), loss, backward, Adam, moving average. Returns the step's figures as a float64 tensor on the
        device, in the order of :data:`STEP_FIGURES` (sigma before and after the step); reading it is left to
        the caller, so that the step itself never waits for the device.
        """
        terms, sigma = self.step_loss(clip, mask, noise_gen)
        self.optimizer.zero_grad(set_to_none=True)
        terms.loss.backward()
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        figures = [terms.l_recon, terms.p, terms.n, terms.l_dist, terms.loss, sigma, self.weight()]
        return torch.stack([f.detach().to(torch.float64) for f in figures])

    def _record(self, pending: list[torch.Tensor], lr: float, label: str) -> dict[str, float]:
        """Read the figures of the steps in ``pending`` from the device (one synchronisation) into the log.

        Raises DDLError naming the first step with a non-finite loss. Returns the last step's figures by name.
        """
        rows = torch.stack(pending).cpu().tolist()
        pending.clear()
        for row in rows:
            values = dict(zip(STEP_FIGURES, row))
            step = len(self.log)
            if not np.isfinite(values["loss"]):
                shown = ", ".join(f"{k}={values[k]:.6g}" for k in STEP_FIGURES[:5])
                raise DDLError(f"train {label}: non-finite loss at epoch {self.epoch + 1} step {step} "
                               f"({shown}, sigma={values['sigma']:.6g})")
            self.log.append([self.epoch + 1, step, *row[:6], lr])
            self.sigma_history.append(values["sigma_after"])
        return values

    def run_epoch(self, label: str) -> None:
        """One epoch of training; appends to the log; raises DDLError on a non-finite loss.

        The loss terms are read from the device every ``train.log_every`` steps and at the epoch's end.
        """
        self.model.train()
        self.sampler.set_epoch(self.epoch)
        noise_gen = torch.Generator(device=self.device)
        noise_gen.manual_seed(int(np.random.default_rng([int(self.settings.seed), self.epoch, 1]).integers(2**62)))
        lr = self.optimizer.param_groups[0]["lr"]
        every = int(self.settings.log_every)
        # in a job's log (not a terminal) the bar still reports, every 30 s, one line per update
        interactive = sys.stderr.isatty()
        bar = tqdm(self.loader, total=self.steps_per_epoch, desc=f"{label} epoch {self.epoch + 1}",
                   file=sys.stderr, leave=not interactive, mininterval=0.1 if interactive else 30)
        skip_empty = self.settings.empty_mask_batch == "skip" and self.weight.creates_anomalies
        pending: list[torch.Tensor] = []
        for batch in bar:
            if skip_empty and not bool(batch["mask"].any()):
                continue
            clip = batch["clip"].to(self.device, non_blocking=True)
            mask = batch["mask"].to(self.device, non_blocking=True)
            pending.append(self.train_step(clip, mask, noise_gen))
            if len(pending) == every:
                last = self._record(pending, lr, label)
                bar.set_postfix(L_recon=f"{last['l_recon']:.4f}", P=f"{last['p']:.4f}", N=f"{last['n']:.4f}",
                                L_dist=f"{last['l_dist']:.3f}", sigma=f"{last['sigma_after']:.3f}", refresh=False)
        if pending:
            self._record(pending, lr, label)
        bar.close()
        self.scheduler.step()
        self.epoch += 1

    @property
    def final_model(self) -> torch.nn.Module:
        """The weights a model file keeps: the moving average when ``train.ema_decay`` > 0, else the model."""
        return self.model if self.ema is None else self.ema.module

    def state(self, tag: str) -> dict[str, Any]:
        """The resumable training state (after :attr:`epoch` epochs)."""
        return {"format_version": FORMAT_VERSION, "kind": STATE_KIND, "tag": tag, "epoch": self.epoch,
                "model": self.model.state_dict(), "weight": self.weight.state_dict(),
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "rng": _rng_state(), "log": self.log, "sigma_history": self.sigma_history,
                "ema": None if self.ema is None else self.ema.state_dict()}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state` dict."""
        self.model.load_state_dict(state["model"])
        self.weight.load_state_dict(state["weight"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        _set_rng_state(state["rng"])
        self.epoch = int(state["epoch"])
        self.log = [list(r) for r in state["log"]]
        self.sigma_history = [float(s) for s in state["sigma_history"]]


def write_log(path: Path, rows: list[list[float]]) -> None:
    """Write the per-step training log CSV atomically (columns :data:`LOG_COLUMNS`)."""
    frame = pd.DataFrame(rows, columns=LOG_COLUMNS).astype({"epoch": int, "step": int})
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def train_model(train: TrainSettings, model: ModelSettings, masks: MasksSettings, scene: str, arch: str,
                variant: str, frame_paths: list[str | Path], mask_paths: list[str | Path], out: str | Path,
                threads: int | None = None, epoch_end_hook: Callable[[int], None] | None = None) -> Path:
    """Train one model and write ``out`` (+ its CSV log); resume from ``<out>.ckpt`` when present.

    ``train`` / ``model`` / ``masks``: the ``train``, ``model`` and ``masks`` settings (recorded in the model
    file as they are in the configuration); ``scene`` recorded in the model's metadata; ``arch`` "c3dsu" |
    "unet"; ``variant`` "none" | "sdl" | "ddl".
    ``frame_paths`` / ``mask_paths``: the scene's training frame stores and mask caches, same order.
    ``threads``: torch threads when ``train.threads`` is null. ``epoch_end_hook(epochs_done)`` is
    called after each epoch's checkpoint is written. Returns ``out``.
    """
    out = Path(out)
    n_threads = train.threads or threads
    if n_threads:
        torch.set_num_threads(int(n_threads))
    device = resolve_device(train.device, "train.device")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = bool(train.cudnn_benchmark)
    frames = int(model.frames) if arch == "c3dsu" else 1
    dataset = ClipDataset(frame_paths, mask_paths, frames, masks.no_track, train.random_box_size)
    trainer = Trainer(train, model, arch, variant, dataset, device)
    precision = precision_record(train.autocast_cpu) if device.type == "cpu" else {}
    if precision:
        print(f"training on the CPU ({precision['cpu']}) in {precision['cpu_precision']} "
              f"(train.autocast_cpu: {train.autocast_cpu})", file=sys.stderr, flush=True)
    model_cfg, masks_cfg = model.as_config(), masks.as_config()
    model_train_cfg = {k: v for k, v in train.as_config().items() if k not in JOB_SELECTORS["train"]}
    tag = fingerprint({"model": model_cfg,
                       "train": {k: v for k, v in model_train_cfg.items() if k not in SPEED_ONLY},
                       "masks": masks_cfg, "arch": arch, "variant": variant,
                       "frames": [str(p) for p in frame_paths], "masks_files": [str(p) for p in mask_paths]})
    ckpt = checkpoint_path_of(out)
    if ckpt.exists():
        state = load_torch_file(ckpt, STATE_KIND)
        if state.get("tag") == tag:
            trainer.restore(state)
            print(f"resuming {out} after epoch {trainer.epoch}", file=sys.stderr)
        else:
            print(f"ignoring {ckpt}: written with other settings or inputs", file=sys.stderr)
    label = f"{scene}/{arch}-{variant}"
    while trainer.epoch < int(train.epochs):
        trainer.run_epoch(label)
        with atomic_path(ckpt) as tmp:
            torch.save(trainer.state(tag), tmp)
        write_log(log_path_of(out), trainer.log)
        if epoch_end_hook is not None:
            epoch_end_hook(trainer.epoch)
    meta = {"arch": arch, "variant": variant, "channels": dataset.channels, "height": dataset.height,
            "width": dataset.width, "frames": frames, "model_cfg": dict(model_cfg, frames=frames),
            "dataset": dataset.dataset_name, "scene": scene, "train_cfg": model_train_cfg, "masks_cfg": masks_cfg,
            "epochs": trainer.epoch, "steps": len(trainer.log), "sigma": float(trainer.weight().detach()), **precision}
    save_trained_model(out, trainer.final_model, meta, trainer.sigma_history)
    write_log(log_path_of(out), trainer.log)
    ckpt.unlink(missing_ok=True)
    return out
