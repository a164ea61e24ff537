"""Training: data, short runs on generated videos, learning, resume after a kill, errors, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from ddlcore.data.boxes_io import BoxTable
from ddlcore.cli.main import main as ddl_main
from ddlcore.config import validate_config
from ddlcore.data.framestore import write_frame_store
from ddlcore.errors import DDLError
from ddlcore.track.mask_cache import write_mask_cache
from ddlcore.model import load_trained_model
from ddlcore.model.settings import ModelSettings
from ddlcore.track.settings import MasksSettings
from ddlcore.train.settings import TrainSettings
from ddlcore.train.trainer import LOG_COLUMNS, checkpoint_path_of, compiles, log_path_of, train_model
from ddlcore.train.clips import ClipDataset, EpochSampler

torch.set_num_threads(1)
SIZE = 32
MODEL = {"frames": 3, "widths": [16, 16, 32, 32], "heads": [3, 3], "resize": "pool", "post_conv_kernel": 3,
         "conv3d_bottleneck": False, "output": "sigmoid"}


def square_frames(n: int, seed: int, side: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (n, SIZE, SIZE) frames of one bright square bouncing on a dark background, and its boxes (n, 4)."""
    rng = np.random.default_rng(seed)
    frames = np.full((n, SIZE, SIZE), 110, np.uint8)
    pos = rng.uniform(0, SIZE - side, 2)
    vel = rng.choice([-1.5, -1.0, 1.0, 1.5], 2)
    boxes = np.zeros((n, 4), np.float32)
    for t in range(n):
        x, y = (int(round(v)) for v in pos)
        frames[t, y : y + side, x : x + side] = 240
        boxes[t] = (x, y, x + side, y + side)
        pos += vel
        for k in range(2):
            if not 0 <= pos[k] <= SIZE - side:
                vel[k] = -vel[k]
                pos[k] = np.clip(pos[k], 0, SIZE - side)
    return frames, boxes


def write_video(folder: Path, name: str, frames: np.ndarray, boxes: np.ndarray | None, window: int = 3) -> tuple[Path, Path]:
    """Frame store + mask cache (one track = the boxes, or no track) for one generated video."""
    n = len(frames)
    fp, mp = folder / f"{name}.frames.h5", folder / f"{name}.masks.h5"
    attrs = {"source": name, "original_height": SIZE, "original_width": SIZE, "fps": 25, "dataset": "synthetic"}
    write_frame_store(fp, list(frames), n, SIZE, SIZE, 1, attrs)
    if boxes is None:
        table = BoxTable.empty(n, SIZE, SIZE, "tracks")
    else:
        table = BoxTable(frame=np.arange(n, dtype=np.int32), box=boxes, score=np.ones(n, np.float32),
                         ident=np.ones(n, np.int32), n_frames=n, height=SIZE, width=SIZE, kind="tracks")
    write_mask_cache(mp, table, window)
    return fp, mp


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> tuple[list[Path], list[Path]]:
    folder = tmp_path_factory.mktemp("videos")
    pairs = [write_video(folder, f"v{i}", *square_frames(40, seed=i)) for i in range(2)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def make_config(**train: object) -> dict:
    settings = {"epochs": 2, "batch_size": 4, "steps_per_epoch": 6, "lr": 3e-3, "threads": 1, "device": "cpu",
                "autocast_cpu": False}  # float32 on every CPU: the same figures on machines with and without bf16
    settings.update(train)
    return validate_config({"model": dict(MODEL), "train": settings})


def sections(config: dict) -> tuple[TrainSettings, ModelSettings, MasksSettings]:
    """The train, model and masks settings of a configuration, as train_model takes them."""
    return TrainSettings.from_config(config), ModelSettings.from_config(config), MasksSettings.from_config(config)


def test_dataset_items_and_sampler_are_deterministic(videos, tmp_path) -> None:
    frames, masks = videos
    ds = ClipDataset(frames, masks, 3, "skip", (0.125, 0.25))
    assert len(ds) == 2 * 38 and (ds.height, ds.width, ds.channels) == (SIZE, SIZE, 1)
    item = ds[(5, 123)]
    assert item["clip"].shape == (1, 3, SIZE, SIZE) and item["clip"].dtype == torch.float32
    assert 0.0 <= float(item["clip"].min()) and float(item["clip"].max()) <= 1.0
    assert item["mask"].shape == (1, 3, SIZE, SIZE) and item["has_mask"]
    assert float(item["mask"].sum()) == 3 * 64  # the 8x8 square in each of the 3 frames
    sampler = EpochSampler(len(ds), 100, seed=7)
    sampler.set_epoch(1)
    first = list(sampler)
    assert first == list(sampler) and len(first) == 100
    assert sorted(i for i, _ in first[: len(ds)]) == list(range(len(ds)))
    sampler.set_epoch(2)
    assert list(sampler) != first
    empty = write_video(tmp_path, "empty", square_frames(10, 0)[0], None)
    no_track = ClipDataset([empty[0]], [empty[1]], 3, "skip", (0.125, 0.25))[(0, 1)]
    assert not no_track["has_mask"] and float(no_track["mask"].sum()) == 0.0
    boxed = ClipDataset([empty[0]], [empty[1]], 3, "random_box", (0.25, 0.5))[(0, 1)]
    area = float(boxed["mask"][0, 0].sum())
    assert boxed["has_mask"] and 8 * 8 <= area <= 17 * 17
    assert torch.equal(boxed["mask"][0, 0], boxed["mask"][0, 2])


def test_dataset_rejects_mismatched_inputs(videos, tmp_path) -> None:
    frames, masks = videos
    with pytest.raises(DDLError, match="mask caches"):
        ClipDataset(frames, masks[:1], 3, "skip", (0.1, 0.2))
    short = write_video(tmp_path, "short", *square_frames(20, 3))
    with pytest.raises(DDLError, match="20 frames"):
        ClipDataset([frames[0]], [short[1]], 3, "skip", (0.1, 0.2))
    with pytest.raises(DDLError, match="shorter than the clip"):
        ClipDataset([frames[0]], [masks[0]], 5, "skip", (0.1, 0.2))


def test_short_ddl_training_learns_and_moves_sigma(videos, tmp_path) -> None:
    frames, masks = videos
    config = make_config(epochs=5, steps_per_epoch=12, batch_size=8)
    out = train_model(*sections(config), "s0", "c3dsu", "ddl", frames, masks, tmp_path / "c3dsu-ddl.pt")
    log = pd.read_csv(log_path_of(out))
    assert list(log.columns) == LOG_COLUMNS and len(log) == 60 and log["step"].tolist() == list(range(60))
    assert log["l_recon"].tail(5).mean() < 0.5 * log["l_recon"].head(5).mean()
    assert abs(log["sigma"].iloc[-1] - 0.5) > 1e-3
    assert not checkpoint_path_of(out).exists()
    model, meta = load_trained_model(out)
    assert meta["arch"] == "c3dsu" and meta["variant"] == "ddl" and meta["scene"] == "s0"
    assert (meta["channels"], meta["height"], meta["width"], meta["frames"]) == (1, SIZE, SIZE, 3)
    assert meta["dataset"] == "synthetic" and len(meta["sigma_history"]) == 60
    assert "models" not in meta["train_cfg"] and meta["train_cfg"]["lambda"] == config["train"]["lambda"]
    # inside the masks, f(X_A) is closer to X^t than to X_A^t
    ds = ClipDataset(frames, masks, 3, "skip", (0.1, 0.2))
    clips = torch.stack([ds[(i, i)]["clip"] for i in range(0, len(ds), 3)])
    mask = torch.stack([ds[(i, i)]["mask"] for i in range(0, len(ds), 3)])
    gen = torch.Generator().manual_seed(0)
    xa = (1 - mask) * clips + mask * ((1 - meta["sigma"]) * clips + meta["sigma"] * torch.rand(clips.shape, generator=gen))
    with torch.no_grad():
        recon_a = model(xa)
    m = mask[:, :, 1]
    p = (m * (clips[:, :, 1] - recon_a)).pow(2).sum()
    n = (m * (xa[:, :, 1] - recon_a)).pow(2).sum()
    assert p < n


def test_sdl_keeps_sigma_fixed(videos, tmp_path) -> None:
    frames, masks = videos
    config = make_config(epochs=1, steps_per_epoch=3, sdl_sigma=0.3)
    out = train_model(*sections(config), "s0", "unet", "sdl", frames, masks, tmp_path / "unet-sdl.pt")
    log = pd.read_csv(log_path_of(out))
    assert np.allclose(log["sigma"], 0.3) and log["p"].notna().all()
    model, meta = load_trained_model(out)
    assert meta["frames"] == 1 and meta["sigma"] == pytest.approx(0.3)
    none = train_model(*sections(config), "s0", "unet", "none", frames, masks, tmp_path / "unet-none.pt")
    assert pd.read_csv(log_path_of(none))["p"].isna().all()


def _anomalous(frames: np.ndarray) -> np.ndarray:
    """Frames with a checkerboard patch (a pattern never seen in training) moving across them."""
    out = frames.copy()
    checker = np.where((np.indices((8, 8)).sum(axis=0) % 2) == 0, 250, 0).astype(np.uint8)
    for t in range(len(out)):
        x = 2 + t % 20
        out[t, 20:28, x : x + 8] = checker
    return out


def test_anomalies_get_higher_reconstruction_error(videos, tmp_path) -> None:
    frames, masks = videos
    config = make_config(epochs=5, steps_per_epoch=12, batch_size=8)
    out = train_model(*sections(config), "s0", "c3dsu", "ddl", frames, masks, tmp_path / "m.pt")
    model, _ = load_trained_model(out)
    normal, _ = square_frames(30, seed=11)
    abnormal = _anomalous(square_frames(30, seed=12)[0])
    scores, labels = [], []
    for video, label in ((normal, 0), (abnormal, 1)):
        x = torch.from_numpy(video).float().div(255)
        clips = torch.stack([x[t - 1 : t + 2] for t in range(1, len(x) - 1)])[:, None]
        with torch.no_grad():
            err = (model(clips)[:, 0] - clips[:, 0, 1]).pow(2)
        patch = torch.nn.functional.avg_pool2d(err[:, None], 8, stride=4).flatten(1).amax(dim=1)
        scores += patch.tolist()
        labels += [label] * len(patch)
    assert roc_auc_score(labels, scores) > 0.8


class Killed(Exception):
    pass


def test_resume_after_kill_equals_uninterrupted_run(videos, tmp_path) -> None:
    frames, masks = videos
    # with the weights' moving average on, so that its state is resumed too
    config = make_config(epochs=2, steps_per_epoch=4, lr_step_fraction=0.5, ema_decay=0.9)
    whole = train_model(*sections(config), "s0", "c3dsu", "ddl", frames, masks, tmp_path / "a" / "m.pt")

    def kill_after_first(epochs_done: int) -> None:
        if epochs_done == 1:
            raise Killed

    out = tmp_path / "b" / "m.pt"
    with pytest.raises(Killed):
        train_model(*sections(config), "s0", "c3dsu", "ddl", frames, masks, out, epoch_end_hook=kill_after_first)
    assert checkpoint_path_of(out).exists() and not out.exists()
    assert len(pd.read_csv(log_path_of(out))) == 4
    # the job selectors (which models the workflow trains) do not belong to this model's training state
    reselected = dict(config, train=dict(config["train"], models=["unet-none", "c3dsu-ddl"], ablation=True))
    resumed = train_model(*sections(reselected), "s0", "c3dsu", "ddl", frames, masks, out)
    a, meta_a = load_trained_model(whole)
    b, meta_b = load_trained_model(resumed)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    assert meta_a["sigma_history"] == meta_b["sigma_history"] and meta_a["sigma"] != 0.5
    pd.testing.assert_frame_equal(pd.read_csv(log_path_of(whole)), pd.read_csv(log_path_of(resumed)))
    assert pd.read_csv(log_path_of(resumed))["lr"].tolist() == [3e-3] * 4 + [1.5e-3] * 4


def test_model_file_keeps_the_moving_average_of_the_weights(videos, tmp_path) -> None:
    """train.ema_decay d: the saved weights are e_1 = w_1, e_k = d e_(k-1) + (1 - d) w_k over the weights w_k
    after each step; the training itself (its log) is the same as without the average."""
    frames, masks = videos
    steps: list[dict[str, torch.Tensor]] = []

    def keep_weights(epochs_done: int) -> None:
        state = torch.load(checkpoint_path_of(tmp_path / "plain.pt"), weights_only=True)
        steps.append({k: v.clone() for k, v in state["model"].items()})

    plain = train_model(*sections(make_config(epochs=3, steps_per_epoch=1)), "s0", "c3dsu", "ddl", frames, masks,
                        tmp_path / "plain.pt", epoch_end_hook=keep_weights)
    averaged = train_model(*sections(make_config(epochs=3, steps_per_epoch=1, ema_decay=0.5)), "s0", "c3dsu", "ddl",
                           frames, masks, tmp_path / "ema.pt")
    pd.testing.assert_frame_equal(pd.read_csv(log_path_of(plain)), pd.read_csv(log_path_of(averaged)))
    saved = load_trained_model(averaged)[0].state_dict()
    last = load_trained_model(plain)[0].state_dict()
    compared = [k for k, v in saved.items() if v.is_floating_point()]
    assert any("running_mean" in k for k in compared)  # BatchNorm statistics are averaged too
    for key in compared:
        expected = 0.25 * steps[0][key] + 0.25 * steps[1][key] + 0.5 * steps[2][key]
        torch.testing.assert_close(saved[key], expected, rtol=1e-5, atol=1e-6)
    assert not all(torch.equal(saved[k], last[k]) for k in compared)


def test_loader_workers_give_the_same_training(videos, tmp_path) -> None:
    frames, masks = videos
    a = train_model(*sections(make_config(epochs=1, steps_per_epoch=3)), "s0", "c3dsu", "sdl", frames, masks,
                    tmp_path / "a.pt")
    b = train_model(*sections(make_config(epochs=1, steps_per_epoch=3, workers=1)), "s0", "c3dsu", "sdl", frames, masks,
                    tmp_path / "b.pt")
    pd.testing.assert_frame_equal(pd.read_csv(log_path_of(a)), pd.read_csv(log_path_of(b)))


@pytest.mark.slow
def test_compiled_training_follows_the_eager_one(videos, tmp_path) -> None:
    """train.compile: the torch.compile'd forwards give the eager run's losses: to float rounding on the first
    step (same weights); after that Adam amplifies rounding differences of near-zero gradients, so the later
    steps are compared to 5% (the masked terms P and N are the most sensitive). Slow: compiling."""
    frames, masks = videos
    eager = train_model(*sections(make_config(epochs=1, steps_per_epoch=3)), "s0", "c3dsu", "ddl", frames, masks,
                        tmp_path / "e.pt")
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled = train_model(*sections(make_config(epochs=1, steps_per_epoch=3, compile=True)), "s0", "c3dsu", "ddl",
                           frames, masks, tmp_path / "c.pt")
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1  # the model was compiled
    a, b = pd.read_csv(log_path_of(eager)), pd.read_csv(log_path_of(compiled))
    for column in ("l_recon", "p", "n", "loss"):
        np.testing.assert_allclose(b[column][0], a[column][0], rtol=1e-4)
        np.testing.assert_allclose(b[column], a[column], rtol=5e-2)


def test_log_read_every_few_steps_keeps_every_step(videos, tmp_path) -> None:
    """train.log_every: the figures read from the device in groups (and a last short group) give the same log
    as reading them after every step."""
    frames, masks = videos
    each = train_model(*sections(make_config(epochs=1, steps_per_epoch=5, log_every=1)), "s0", "c3dsu", "ddl",
                       frames, masks, tmp_path / "a.pt")
    grouped = train_model(*sections(make_config(epochs=1, steps_per_epoch=5, log_every=2)), "s0", "c3dsu", "ddl",
                          frames, masks, tmp_path / "b.pt")
    log = pd.read_csv(log_path_of(grouped))
    assert log["step"].tolist() == list(range(5)) and log["p"].notna().all()
    pd.testing.assert_frame_equal(pd.read_csv(log_path_of(each)), log)
    assert load_trained_model(each)[1]["sigma_history"] == load_trained_model(grouped)[1]["sigma_history"]


def test_compile_auto_only_for_long_gpu_runs() -> None:
    cfg = TrainSettings.from_config(make_config(compile="auto", compile_min_steps=100))
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert not compiles(cfg, cpu, 10**6) and not compiles(cfg, gpu, 99) and compiles(cfg, gpu, 100)
    assert compiles(TrainSettings.from_config(make_config(compile=True)), cpu, 1) and \
        not compiles(TrainSettings.from_config(make_config(compile=False)), gpu, 10**6)


def test_corrupted_checkpoint_gives_a_clear_error(videos, tmp_path) -> None:
    frames, masks = videos
    out = tmp_path / "m.pt"
    checkpoint_path_of(out).write_bytes(b"PK\x03\x04 not really a checkpoint")
    with pytest.raises(DDLError, match=r"m\.pt\.ckpt is not a readable ddl-train-state file"):
        train_model(*sections(make_config(epochs=1, steps_per_epoch=1)), "s0", "c3dsu", "ddl", frames, masks, out)


def test_non_finite_loss_stops_with_one_line(videos, tmp_path, monkeypatch) -> None:
    import ddlcore.train.trainer as train_module

    frames, masks = videos
    real = train_module.ddl_loss

    def poisoned(*args, **kwargs):
        terms = real(*args, **kwargs)
        terms.loss = terms.loss * float("nan")
        return terms

    monkeypatch.setattr(train_module, "ddl_loss", poisoned)
    with pytest.raises(DDLError) as info:
        train_model(*sections(make_config(epochs=1, steps_per_epoch=2)), "s0", "c3dsu", "ddl", frames, masks,
                    tmp_path / "m.pt")
    message = str(info.value)
    assert "step 0" in message and "l_recon=" in message and "loss=nan" in message and "\n" not in message


def test_cli_trains_and_reports_errors(videos, tmp_path, capsys) -> None:
    frames, masks = videos
    out = tmp_path / "models" / "unet-ddl.pt"
    settings = '{"model": {"widths": [4, 4, 8, 8]}, "train": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 2}}'
    args = ["train", "--settings", settings, "--scene", "s1", "--arch", "unet", "--variant", "ddl", "--threads", "1",
            "--frames", *map(str, frames), "--masks", *map(str, masks), "--out", str(out)]
    assert ddl_main(args) == 0
    assert load_trained_model(out)[1]["scene"] == "s1" and log_path_of(out).exists()
    bad = args[: args.index("--masks") + 1] + [str(masks[0]), "--out", str(out)]
    assert ddl_main(bad) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: train: 2 frame stores but 1 mask caches")


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`")
def test_batches_without_any_mask_are_skipped_on_request(tmp_path) -> None:
    """train.empty_mask_batch skip (authors): a batch in which no clip has a mask makes no step."""
    frames, _ = square_frames(20, 0)
    empty = write_video(tmp_path, "empty", frames, None)
    config = make_config(epochs=1, steps_per_epoch=3, empty_mask_batch="skip")
    config["masks"]["no_track"] = "skip"
    skipped = train_model(*sections(config), "s0", "c3dsu", "ddl", [empty[0]], [empty[1]], tmp_path / "skip.pt")
    assert len(pd.read_csv(log_path_of(skipped))) == 0  # every batch is mask-free: no step at all
    _, meta = load_trained_model(skipped)
    assert meta["sigma"] == pytest.approx(0.5)  # l never moved
    config["train"]["empty_mask_batch"] = "reconstruct"
    stepped = train_model(*sections(config), "s0", "c3dsu", "ddl", [empty[0]], [empty[1]], tmp_path / "step.pt")
    log = pd.read_csv(log_path_of(stepped))
    assert len(log) == 3 and log["l_dist"].eq(0).all()  # reconstruction-only steps


def _one_step_in_float64(videos, **train: object) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
    """Loss terms, gradients and BatchNorm buffers after one float64 step_loss + backward of a fresh Trainer."""
    from ddlcore.train.trainer import Trainer

    frames, masks = videos
    config = make_config(autocast_cpu=False, channels_last=False, **train)
    dataset = ClipDataset(frames, masks, 3, "skip", (0.125, 0.25))
    trainer = Trainer(TrainSettings.from_config(config), ModelSettings.from_config(config), "c3dsu", "ddl", dataset,
                      torch.device("cpu"))
    trainer.model.double().train()
    trainer.weight.double()
    batch = next(iter(trainer.loader))
    generator = torch.Generator().manual_seed(5)
    terms, _ = trainer.step_loss(batch["clip"].double(), batch["mask"].double(), generator)
    terms.loss.backward()
    values = [terms.l_recon, terms.p, terms.n, terms.l_dist, terms.loss]
    state = {f"grad.{n}": p.grad for n, p in trainer.model.named_parameters()}
    state["grad.l"] = trainer.weight.l.grad
    state.update({f"buffer.{n}": b for n, b in trainer.model.named_buffers()})
    return values, state


@pytest.mark.parametrize("pseudo_running_stats", [True, False])
def test_stacked_forward_equals_two_forwards(videos, pseudo_running_stats) -> None:
    """train.stacked_forward: one forward of 2B clips with per-half BatchNorm statistics gives the two
    forwards' loss terms, gradients and running statistics (float64, to rounding); a joint forward
    (shared statistics) does not, so the comparison can tell them apart."""
    two, two_state = _one_step_in_float64(videos, stacked_forward=False, pseudo_running_stats=pseudo_running_stats)
    stacked, stacked_state = _one_step_in_float64(videos, stacked_forward=True,
                                                  pseudo_running_stats=pseudo_running_stats)
    assert two[3] > 0  # the distinction term takes part
    for a, b in zip(stacked, two):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert stacked_state.keys() == two_state.keys()
    for name, value in two_state.items():
        torch.testing.assert_close(stacked_state[name], value, rtol=1e-9, atol=1e-12, msg=name)
    joint, _ = _one_step_in_float64(videos, joint_batchnorm=True)
    assert abs(float(joint[1].detach() - two[1].detach())) > 1e-6  # P differs when BatchNorm mixes the halves


def test_split_batchnorm_refuses_a_plain_batchnorm() -> None:
    from ddlcore.model import split_batchnorm

    with pytest.raises(DDLError, match="cannot split"):
        with split_batchnorm(torch.nn.Sequential(torch.nn.BatchNorm2d(4)), (True, True)):
            pass
