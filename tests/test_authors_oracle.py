"""The authors' published code as a test oracle for ddl's authors' setting (``config/ped2-authors.yaml``).

The authors' code (``../shared/reference/authors-ddl``, unchanged, MIT) is imported, never copied; these
tests skip where that folder is absent (a user's clone). In float64 on CPU, with the authors' weights
mapped onto ddl's model, they check: outputs in train and eval mode and BatchNorm running statistics;
the pseudo-anomalous clip; L_recon, L_dist, the total loss and the gradients of every weight and of l
for one step with the same batch, mask and noise; three Adam steps through ddl's Trainer against the
authors' loop body; the frame score (16x16 grid plus the shifted grid); the learning-rate schedule.

The model tests run the preset's architecture at an eighth of its widths (the authors' ``latent_dim``
64 instead of 512: same code paths, seconds instead of minutes); the full-width parameter count is
checked separately.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ci_required import skip_unless_ci
from ddlcore.data.boxes_io import BoxTable
from ddlcore.config import validate_config
from ddlcore.data.framestore import write_frame_store
from ddlcore.train.losses import ddl_loss
from ddlcore.track.mask_cache import write_mask_cache
from ddlcore.model import build_model
from ddlcore.model.settings import ModelSettings
from ddlcore.train.pseudo import AnomalyWeight, pseudo_anomaly
from ddlcore.score.inference import pixel_error
from ddlcore.score.patches import patch_scores
from ddlcore.train.settings import TrainSettings
from ddlcore.train.trainer import Trainer
from ddlcore.train.clips import ClipDataset

REPO = Path(__file__).resolve().parent.parent
AUTHORS = REPO.parent / "shared" / "reference" / "authors-ddl"
PRESET = REPO / "config" / "ped2-authors.yaml"
if not (AUTHORS / "objects" / "models.py").is_file():
    skip_unless_ci(f"the authors' code is not at {AUTHORS} (only in the developers' checkout)", module=True)
if importlib.util.find_spec("einops") is None:
    skip_unless_ci("the authors' code needs einops (pip install -e '.[test]')", module=True)
sys.path.insert(0, str(AUTHORS))
from objects.models import Conv3dSkipUNet  # noqa: E402
from objects.pseudo_loss import PseudoAnomalyCreator, PseudoLoss  # noqa: E402
from objects.scoring import Score  # noqa: E402

# Tolerances (float64): model outputs and statistics agree to rounding; losses and gradients to 1e-9
# relative (Adam-free quantities through ~40 layers); three Adam steps at lr 1e-2 to 1e-8.
EXACT = {"rtol": 1e-11, "atol": 1e-12}
GRADIENT = {"rtol": 1e-9, "atol": 1e-12}
STEPS = {"rtol": 1e-8, "atol": 1e-10}
LATENT = 64  # the authors' latent_dim for the fast tests (the preset: 512)
AUTHORS_LR = 1e-2  # their train.py's --lr default
B, C, T, H, W = 2, 3, 3, 32, 32


@pytest.fixture(autouse=True)
def float64_single_thread():
    dtype, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    yield
    torch.set_default_dtype(dtype)
    torch.set_num_threads(threads)


def preset() -> dict:
    """config/ped2-authors.yaml, validated and default-filled."""
    return validate_config(yaml.safe_load(PRESET.read_text()))


def preset_model_cfg(latent: int = LATENT) -> dict:
    cfg = copy.deepcopy(preset()["model"])
    assert cfg["widths"] == [64, 128, 256, 512]
    cfg["widths"] = [latent // 8, latent // 4, latent // 2, latent]
    return cfg


def ddl_name(authors_name: str) -> str | None:
    """The ddl parameter / buffer name of one of the authors' (None: their unused last BatchNorm)."""
    parts = authors_name.split(".")
    if parts[0] in ("encoder", "decoder"):
        index = int(parts[1].removeprefix("conv_")) - 1
        layer, rest = parts[2], parts[3:]
        if parts[0] == "decoder" and index == 3 and layer == "batch_norm_2":
            return None
        target = {"convs": f"heads.convs.{rest[0]}", "batch_norm_1": "norm1", "conv_last": "post",
                  "batch_norm_2": "norm2"}[layer]
        rest = rest[1:] if layer == "convs" else rest
        return ".".join([parts[0], str(index), target, *rest])
    return ".".join(["skips", str(int(parts[0].removeprefix("conv")) - 1), "conv", *parts[1:]])


def mapped_pair(latent: int = LATENT, seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The authors' Conv3dSkipUNet and ddl's preset C3DSU holding the same weights (float64)."""
    torch.manual_seed(seed)
    theirs = Conv3dSkipUNet(latent_dim=latent, channels=C, temporal=T)
    ours = build_model("c3dsu", ModelSettings.from_section(preset_model_cfg(latent)), C)
    mapped = {ddl_name(k): v for k, v in theirs.state_dict().items() if ddl_name(k) is not None}
    assert set(mapped) == set(ours.state_dict())
    ours.load_state_dict(mapped)
    return theirs, ours


def feeds_batchnorm(name: str) -> bool:
    """Whether ddl parameter ``name`` belongs to a convolution followed by BatchNorm (every head, every post
    convolution but the output block's)."""
    return ".heads." in name or (".post." in name and not name.startswith("decoder.3."))


def ddl_view(theirs: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The authors' parameters keyed by their ddl names (the unused BatchNorm left out)."""
    return {ddl_name(k): p for k, p in theirs.named_parameters() if ddl_name(k) is not None}


def batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A clip (B, C, T, H, W) in [0, 1] and the authors' box mask (B, C, T, H, W): one box per clip, all frames."""
    gen = torch.Generator().manual_seed(seed)
    clip = torch.rand(B, C, T, H, W, generator=gen)
    mask = torch.zeros(B, C, T, H, W)
    mask[0, :, :, 4:20, 6:14] = 1
    mask[1, :, :, 10:30, 16:28] = 1
    return clip, mask


def test_preset_has_the_authors_parameter_count():
    torch.set_default_dtype(torch.float32)  # 2 x 99 M parameters: build them in float32
    torch.manual_seed(0)
    theirs = Conv3dSkipUNet(latent_dim=512, channels=C, temporal=T)
    ours = build_model("c3dsu", ModelSettings.from_config(preset()), C)
    unused = theirs.decoder.conv_4.batch_norm_2
    count = sum(p.numel() for p in theirs.parameters()) - sum(p.numel() for p in unused.parameters())
    assert sum(p.numel() for p in ours.parameters()) == count == 99_001_802


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_model_outputs_and_batchnorm_statistics(mode):
    theirs, ours = mapped_pair()
    clip, _ = batch()
    theirs.train(mode == "train")
    ours.train(mode == "train")
    torch.testing.assert_close(ours(clip), theirs(clip), **EXACT)
    statistics = {ddl_name(k): v for k, v in theirs.state_dict().items() if ddl_name(k) is not None}
    for name, value in ours.state_dict().items():
        torch.testing.assert_close(value, statistics[name], **EXACT, msg=name)
    if mode == "train":  # the forward moved the running statistics, equally on both sides
        assert not torch.equal(ours.encoder[0].norm1.running_mean, torch.zeros_like(ours.encoder[0].norm1.running_mean))


def test_pseudo_anomalous_clip():
    clip, mask = batch()
    creator = PseudoAnomalyCreator()
    with torch.no_grad():
        creator.anomaly_weight.fill_(0.3)
    torch.manual_seed(5)
    theirs, sigma_theirs = creator(clip, mask)
    torch.manual_seed(5)
    noise = torch.rand_like(clip)  # the draw the authors' creator made
    weight = AnomalyWeight("ddl", 0.3, 0.5)
    ours = pseudo_anomaly(clip, mask[:, :1], noise, weight())
    torch.testing.assert_close(ours, theirs, **EXACT)
    torch.testing.assert_close(weight().reshape(1), sigma_theirs, **EXACT)
    assert torch.equal(ours * (1 - mask), clip * (1 - mask)) and not torch.equal(ours, clip)


def one_step_both(seed: int = 0):
    """The loss terms and gradients of one step on each side: same weights, batch, mask and noise."""
    theirs, ours = mapped_pair(seed=seed)
    clip, mask = batch()
    cfg = preset()["train"]
    creator = PseudoAnomalyCreator()
    torch.manual_seed(9)
    x_anom, sigma = creator(clip, mask)
    losses = PseudoLoss(T)(clip, x_anom, theirs(clip), theirs(x_anom), mask, sigma)  # their default lambda
    losses["loss"].backward()

    torch.manual_seed(9)
    noise = torch.rand_like(clip)
    weight = AnomalyWeight("ddl", cfg["l_init"], cfg["sdl_sigma"])
    anomalous = pseudo_anomaly(clip, mask[:, :1], noise, weight())
    mid = T // 2
    terms = ddl_loss(clip[:, :, mid], ours(clip), anomalous[:, :, mid], ours(anomalous), mask[:, :1, mid],
                     cfg["lambda"], cfg["eps"], cfg["distinction"])
    terms.loss.backward()
    return theirs, ours, creator, weight, losses, terms, cfg


def test_losses_and_gradients_of_one_step():
    theirs, ours, creator, weight, losses, terms, cfg = one_step_both()
    torch.testing.assert_close(terms.l_recon, losses["recon_loss"], **GRADIENT)
    torch.testing.assert_close(cfg["lambda"] * terms.l_dist, losses["dist_loss"].reshape(()), **GRADIENT)
    torch.testing.assert_close(terms.loss, losses["loss"].reshape(()), **GRADIENT)
    their_params = ddl_view(theirs)
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, their_params[name].grad, **GRADIENT, msg=name)
    assert float(weight.l.grad) != 0.0
    torch.testing.assert_close(weight.l.grad.reshape(1), creator.anomaly_weight.grad, **GRADIENT)


def test_a_perturbed_quantity_is_caught():
    """The oracle is sharp: lambda off by 1%, or l's gradient from another noise draw, fails the comparison."""
    theirs, ours, creator, weight, losses, terms, cfg = one_step_both()
    perturbed = terms.l_recon + 1.01 * cfg["lambda"] * terms.l_dist
    with pytest.raises(AssertionError):
        torch.testing.assert_close(perturbed, losses["loss"].reshape(()), **GRADIENT)
    clip, mask = batch()
    other = AnomalyWeight("ddl", 0.0, 0.5)
    noise = torch.rand(clip.shape, generator=torch.Generator().manual_seed(10))
    anomalous = pseudo_anomaly(clip, mask[:, :1], noise, other())
    ours.zero_grad()
    ddl_loss(clip[:, :, 1], ours(clip), anomalous[:, :, 1], ours(anomalous), mask[:, :1, 1], cfg["lambda"],
             cfg["eps"], cfg["distinction"]).loss.backward()
    with pytest.raises(AssertionError):
        torch.testing.assert_close(other.l.grad.reshape(1), creator.anomaly_weight.grad, **GRADIENT)


def write_training_video(folder: Path) -> tuple[Path, Path]:
    """A 12-frame RGB frame store with one box track in every frame, and its mask cache."""
    n = 12
    frames = np.random.default_rng(3).integers(0, 256, size=(n, H, W, C), dtype=np.uint8)
    fp, mp = folder / "v.h5", folder / "v.masks.h5"
    write_frame_store(fp, list(frames), n, H, W, C, {"source": "v", "original_height": H, "original_width": W,
                                                       "fps": 25, "dataset": "ped2"})
    boxes = np.array([[6, 4, 14, 20]] * n, np.float32)
    table = BoxTable(frame=np.arange(n, dtype=np.int32), box=boxes, score=np.ones(n, np.float32),
                     ident=np.ones(n, np.int32), n_frames=n, height=H, width=W, kind="tracks")
    write_mask_cache(mp, table, T)
    return fp, mp


def test_three_adam_steps_through_the_trainer(tmp_path, monkeypatch):
    """ddl's Trainer (the preset's optimizer, lr and step) against the authors' loop body, three steps."""
    config = preset()
    config["model"] = preset_model_cfg()
    config["train"].update(batch_size=B, threads=1, device="cpu", workers=0)
    frames, masks = write_training_video(tmp_path)
    dataset = ClipDataset([frames], [masks], T, config["masks"]["no_track"], config["train"]["random_box_size"])
    trainer = Trainer(TrainSettings.from_config(config), ModelSettings.from_config(config), "c3dsu", "ddl", dataset,
                      torch.device("cpu"))
    trainer.model.double()
    trainer.weight.double()
    theirs, _ = mapped_pair()
    trainer.model.load_state_dict({ddl_name(k): v for k, v in theirs.state_dict().items() if ddl_name(k)})
    creator = PseudoAnomalyCreator()
    optimizer = torch.optim.Adam(list(theirs.parameters()) + list(creator.parameters()), lr=AUTHORS_LR)
    loss_func = PseudoLoss(T)
    theirs.train()
    for step in range(3):
        clip, mask = batch(seed=20 + step)
        noise = torch.rand(clip.shape, generator=torch.Generator().manual_seed(step))
        monkeypatch.setattr(torch, "rand_like", lambda x, noise=noise: noise.clone())
        x_anom, sigma = creator(clip, mask)
        loss = loss_func(clip, x_anom, theirs(clip), theirs(x_anom), mask, sigma)
        optimizer.zero_grad()
        loss["loss"].backward()
        optimizer.step()

        terms, _ = trainer.step_loss(clip, mask[:, :1], torch.Generator().manual_seed(step))  # the same noise
        trainer.optimizer.zero_grad()
        terms.loss.backward()
        trainer.optimizer.step()
        torch.testing.assert_close(terms.loss, loss["loss"].reshape(()), **STEPS)
    # A convolution bias followed by BatchNorm has an exact gradient of 0 (the batch mean takes it out): its
    # computed gradient is rounding noise, which Adam's first steps scale up to about lr. Those biases are
    # compared by their gradient; every other weight by its value.
    their_params = ddl_view(theirs)
    for name, p in trainer.model.named_parameters():
        if name.endswith(".bias") and feeds_batchnorm(name):
            assert float(p.grad.abs().max()) < 1e-12 and float(their_params[name].grad.abs().max()) < 1e-12, name
        else:
            torch.testing.assert_close(p, their_params[name], **STEPS, msg=name)
    torch.testing.assert_close(trainer.weight.l.reshape(1), creator.anomaly_weight, **STEPS)
    assert abs(float(trainer.weight().detach()) - 0.5) > 1e-4  # sigma moved


@pytest.mark.parametrize("channels", [3, 1])
def test_frame_score_with_the_shifted_grid(channels):
    cfg = preset()["score"]
    gen = torch.Generator().manual_seed(4)
    frames = torch.rand(3, channels, 64, 48, generator=gen)
    recon = torch.rand(3, channels, 64, 48, generator=gen)
    recon[1, :, 40:56, 20:36] = frames[1, :, 40:56, 20:36] + 0.9  # a hot spot straddling the plain grid
    theirs = torch.as_tensor(Score(patch_size=cfg["patch"])(frames, recon)[-1])
    ours = patch_scores(pixel_error(frames, recon), cfg["patch"], cfg["shifted_grid"])
    # the authors divide the per-pixel error by sqrt(3) whatever the channels, ddl by sqrt(C): a constant factor
    torch.testing.assert_close(ours * math.sqrt(channels / 3), theirs, rtol=1e-12, atol=1e-12)
    plain = patch_scores(pixel_error(frames, recon), cfg["patch"], False)
    assert float(ours[1]) > float(plain[1])  # the shifted grid sees the hot spot whole


@pytest.mark.parametrize("epochs", [10, 50])
def test_learning_rate_schedule_over_a_run(tmp_path, epochs):
    """Per-epoch learning rates of ddl's Trainer and the authors' StepLR(int(0.8 * epochs), 0.5)."""
    config = preset()
    config["model"] = preset_model_cfg(16)
    config["train"].update(epochs=epochs, batch_size=B, threads=1, device="cpu", workers=0)
    frames, masks = write_training_video(tmp_path)
    dataset = ClipDataset([frames], [masks], T, "skip", (0.125, 0.25))
    trainer = Trainer(TrainSettings.from_config(config), ModelSettings.from_config(config), "c3dsu", "ddl", dataset,
                      torch.device("cpu"))
    their_optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=AUTHORS_LR)
    their_schedule = torch.optim.lr_scheduler.StepLR(their_optimizer, step_size=int(epochs * 0.8), gamma=0.5)
    ours, theirs = [], []
    for _ in range(epochs):
        ours.append(trainer.optimizer.param_groups[0]["lr"])
        theirs.append(their_optimizer.param_groups[0]["lr"])
        trainer.optimizer.step()
        their_optimizer.step()
        trainer.scheduler.step()
        their_schedule.step()
    assert ours == theirs and ours[0] == 0.01 and ours[-1] == 0.005
    assert all(g["lr"] == ours[-1] for g in trainer.optimizer.param_groups)  # l follows the model's rate
