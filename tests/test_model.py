"""C3DSU / UNet: shapes, feature sharing, fused heads, temporal skip, model files."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from ddlcore.errors import DDLError
from ddlcore.model import build_model, frozen_batchnorm_statistics, load_trained_model, save_trained_model
from ddlcore.model.blocks import MultiHeadConv2d, TemporalSkip
from ddlcore.model.settings import ModelSettings

torch.set_num_threads(1)

PAPER = ModelSettings(frames=3, widths=(4, 8, 8, 16), heads=(3, 3, 3, 3), resize="pool", post_conv_kernel=3,
                      conv3d_bottleneck=False, input="clip", coarse_levels=1, output="sigmoid")
AUTHORS = ModelSettings(frames=3, widths=(4, 8, 8, 16), heads=(3, 5, 7), resize="pixelshuffle", post_conv_kernel=1,
                        conv3d_bottleneck=True, input="clip", coarse_levels=1, output="sigmoid")


@pytest.mark.parametrize("cfg", [PAPER, AUTHORS], ids=["paper", "authors"])
@pytest.mark.parametrize("frames", [1, 3, 5])
@pytest.mark.parametrize("channels", [1, 3])
def test_c3dsu_output_shape(cfg: ModelSettings, frames: int, channels: int) -> None:
    torch.manual_seed(0)
    model = build_model("c3dsu", replace(cfg, frames=frames), channels)
    x = torch.rand(2, channels, frames, 16, 48)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, channels, 16, 48)
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0  # sigmoid output


@pytest.mark.parametrize("cfg", [PAPER, AUTHORS], ids=["paper", "authors"])
@pytest.mark.parametrize("channels", [1, 3])
def test_unet_reads_only_the_middle_frame(cfg: ModelSettings, channels: int) -> None:
    torch.manual_seed(0)
    model = build_model("unet", cfg, channels).eval()
    x = torch.rand(2, channels, 3, 32, 32)
    y = model(x)
    assert y.shape == (2, channels, 32, 32)
    torch.testing.assert_close(y, model(x[:, :, 1:2]))
    x2 = x.clone()
    x2[:, :, 0] = 1.0 - x2[:, :, 0]
    torch.testing.assert_close(y, model(x2))
    assert not any(isinstance(m, nn.Conv3d) for m in model.modules())


def test_linear_output_is_unbounded() -> None:
    torch.manual_seed(0)
    model = build_model("c3dsu", replace(PAPER, output="linear"), 1).eval()
    with torch.no_grad():
        y = model(torch.rand(4, 1, 3, 16, 16) * 10)
    assert float(y.min()) < 0.0 or float(y.max()) > 1.0


@pytest.mark.parametrize("arch,cfg", [("c3dsu", PAPER), ("c3dsu", AUTHORS), ("unet", PAPER)])
def test_decode_of_shared_encoding_equals_forward(arch: str, cfg: ModelSettings) -> None:
    torch.manual_seed(1)
    model = build_model(arch, cfg, 3)
    model.train()
    model(torch.rand(4, 3, 3, 32, 32))  # move BatchNorm running statistics away from their start
    model.eval()
    b, t = 2, 3
    x = torch.rand(b, 3, t, 32, 32)
    feats = model.encode(x.transpose(1, 2).reshape(b * t, 3, 32, 32))
    assert [f.shape[1:] for f in feats] == [(4, 16, 16), (8, 8, 8), (8, 4, 4), (16, 2, 2)]
    y = model.decode([f.view(b, t, *f.shape[1:]) for f in feats])
    torch.testing.assert_close(y, model(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("frames", [3, 5])
def test_neighbours_input_ignores_the_middle_frame(frames: int) -> None:
    torch.manual_seed(0)
    model = build_model("c3dsu", replace(PAPER, frames=frames, input="neighbours"), 1).eval()
    assert model.read_frames == [i for i in range(frames) if i != frames // 2]
    x = torch.rand(2, 1, frames, 32, 32)
    middle_changed, outer_changed = x.clone(), x.clone()
    middle_changed[:, :, frames // 2] = 1.0 - x[:, :, frames // 2]
    outer_changed[:, :, 0] = 1.0 - x[:, :, 0]
    with torch.no_grad():
        y = model(x)
        torch.testing.assert_close(y, model(middle_changed))
        assert not torch.allclose(y, model(outer_changed))
        with pytest.raises(ValueError, match=f"expects clips of {frames} frames"):
            model(x[:, :, 1:])
    b = x.shape[0]
    feats = model.encode(x[:, :, model.read_frames].transpose(1, 2).reshape(b * (frames - 1), 1, 32, 32))
    torch.testing.assert_close(model.decode([f.view(b, frames - 1, *f.shape[1:]) for f in feats]), y)


@pytest.mark.parametrize("deep", [1, 2])
def test_coarse_middle_reads_the_middle_frame_only_at_the_deepest_levels(deep: int) -> None:
    """input coarse_middle: the shallow skips combine the neighbours only; the middle frame reaches the
    output through the ``deep`` deepest skips, so zeroing their weights on it makes the output blind to it."""
    torch.manual_seed(0)
    model = build_model("c3dsu", replace(PAPER, input="coarse_middle", coarse_levels=deep), 1)
    # give BatchNorm running statistics of such clips (at their start they scale the bottleneck's signal down to
    # rounding level), then compare in eval mode, where one frame cannot shift the others' batch statistics
    with torch.no_grad():
        for _ in range(30):
            model(torch.rand(4, 1, 3, 32, 32))
    model.eval()
    assert [skip.frames for skip in model.skips] == [2] * (4 - deep) + [3] * deep
    x = torch.rand(2, 1, 3, 32, 32)
    middle_changed = x.clone()
    middle_changed[:, :, 1] = 1.0 - x[:, :, 1]
    with torch.no_grad():
        assert not torch.allclose(model(x), model(middle_changed))
        for skip in model.skips[4 - deep:]:
            skip.conv.weight[:, :, 1] = 0.0
        torch.testing.assert_close(model(x), model(middle_changed))


def test_temporal_level_changes_with_the_outer_frames() -> None:
    torch.manual_seed(0)
    model = build_model("c3dsu", PAPER, 1).eval()
    x = torch.rand(1, 1, 3, 32, 32)
    x2 = x.clone()
    x2[:, :, 0] = 0.0
    assert not torch.allclose(model(x), model(x2))


@pytest.mark.parametrize("kernels", [[3, 3, 3, 3], [3, 5, 3, 7]])
def test_fused_heads_equal_separate_heads(kernels: list[int]) -> None:
    torch.manual_seed(0)
    fused = MultiHeadConv2d(5, 6, kernels)
    separate = [nn.Conv2d(5, 6, k, padding="same") for k in kernels]
    # the fused layer holds the heads of each kernel size, grouped in order of first appearance
    order = [i for k in dict.fromkeys(kernels) for i, kk in enumerate(kernels) if kk == k]
    assert len(fused.convs) == len(set(kernels))
    with torch.no_grad():
        for conv, k in zip(fused.convs, dict.fromkeys(kernels)):
            heads = [separate[i] for i in order if kernels[i] == k]
            conv.weight.copy_(torch.cat([h.weight for h in heads]))
            conv.bias.copy_(torch.cat([h.bias for h in heads]))
    x = torch.rand(2, 5, 12, 12)
    expected = torch.cat([separate[i](x) for i in order], dim=1)
    torch.testing.assert_close(fused(x), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("frames", [1, 3, 5])
def test_temporal_skip_equals_conv3d_middle_frame(frames: int) -> None:
    torch.manual_seed(0)
    skip = TemporalSkip(4, frames)
    feats = torch.rand(2, frames, 4, 8, 8)  # (B, T, c, h, w)
    same_padded = nn.functional.conv3d(feats.transpose(1, 2), skip.conv.weight, skip.conv.bias,
                                       padding=(frames // 2, 1, 1))
    torch.testing.assert_close(skip(feats), same_padded[:, :, frames // 2], rtol=1e-5, atol=1e-6)


def test_frozen_batchnorm_statistics_keep_running_stats_but_normalise_by_batch() -> None:
    torch.manual_seed(0)
    model = build_model("c3dsu", PAPER, 1).train()
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    before = [m.running_mean.clone() for m in norms]
    x = torch.rand(2, 1, 3, 16, 16)
    with frozen_batchnorm_statistics(model):
        frozen_out = model(x)
    assert all(torch.equal(m.running_mean, b) for m, b in zip(norms, before))
    assert all(m.momentum == pytest.approx(0.1) for m in norms)
    with frozen_batchnorm_statistics(model, enabled=False):
        free_out = model(x)
    torch.testing.assert_close(frozen_out, free_out)  # batch statistics in both
    assert not all(torch.equal(m.running_mean, b) for m, b in zip(norms, before))


def test_authors_configuration_has_99m_parameters() -> None:
    cfg = replace(AUTHORS, widths=(64, 128, 256, 512))
    with torch.device("meta"):
        model = build_model("c3dsu", cfg, 3)
    assert abs(sum(p.numel() for p in model.parameters()) - 99.0e6) < 0.1e6


def test_bad_arguments_raise_ddlerror() -> None:
    with pytest.raises(DDLError, match="architecture"):
        build_model("resnet", PAPER, 1)
    with pytest.raises(DDLError, match="model.frames"):
        build_model("c3dsu", replace(PAPER, frames=4), 1)
    with pytest.raises(DDLError, match="channels"):
        build_model("c3dsu", PAPER, 2)


def _meta(arch: str = "c3dsu") -> dict:
    return {"arch": arch, "variant": "ddl", "channels": 1, "height": 32, "width": 32, "frames": 3,
            "model_cfg": PAPER.as_config(), "dataset": "synthetic", "scene": "s0"}


def test_model_file_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    model = build_model("c3dsu", PAPER, 1)
    model(torch.rand(2, 1, 3, 32, 32))  # training-mode BatchNorm update
    model.eval()
    path = tmp_path / "m.pt"
    save_trained_model(path, model, _meta(), [0.5, 0.6])
    loaded, meta = load_trained_model(path)
    assert not loaded.training
    assert meta["scene"] == "s0" and meta["frames"] == 3 and meta["sigma_history"] == pytest.approx([0.5, 0.6])
    x = torch.rand(1, 1, 3, 32, 32)
    torch.testing.assert_close(loaded(x), model(x))


def test_model_file_from_before_model_input_loads_as_a_clip_model(tmp_path) -> None:
    """Files written before model.input and model.coarse_levels existed lack them: they are C3DSUs of whole clips."""
    torch.manual_seed(0)
    model = build_model("c3dsu", PAPER, 1).eval()
    old = {k: v for k, v in PAPER.as_config().items() if k not in ("input", "coarse_levels")}
    path = tmp_path / "old.pt"
    save_trained_model(path, model, dict(_meta(), model_cfg=old), [])
    loaded, meta = load_trained_model(path)
    assert loaded.read_frames == [0, 1, 2] and meta["model_cfg"] == old
    x = torch.rand(1, 1, 3, 32, 32)
    torch.testing.assert_close(loaded(x), model(x))


def test_corrupt_or_foreign_model_file_raises_ddlerror(tmp_path) -> None:
    model = build_model("c3dsu", PAPER, 1)
    path = tmp_path / "m.pt"
    save_trained_model(path, model, _meta(), [])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DDLError, match="m.pt"):
        load_trained_model(path)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(DDLError, match="not a ddl-model file"):
        load_trained_model(foreign)
    wrong = tmp_path / "wrong.pt"
    save_trained_model(wrong, model, dict(_meta(), model_cfg=replace(PAPER, widths=(8, 8, 8, 8)).as_config()), [])
    with pytest.raises(DDLError, match="do not fit"):
        load_trained_model(wrong)
    with pytest.raises(DDLError, match="missing"):
        load_trained_model(tmp_path / "absent.pt")
