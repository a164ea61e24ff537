"""Pseudo anomalies (eqs. 1-2), the anomaly weight and the losses (eqs. 3-7) on hand-made examples."""

from __future__ import annotations

import math

import pytest
import torch

from ddlcore.errors import DDLError
from ddlcore.train.losses import ddl_loss, distinction_terms, reconstruction_loss
from ddlcore.model import build_model
from ddlcore.model.settings import ModelSettings
from ddlcore.train.pseudo import AnomalyWeight, blend_noise, draw_noise, pseudo_anomaly

EPS = 1e-6


def test_equations_1_and_2_on_a_hand_made_clip() -> None:
    x = torch.full((1, 1, 3, 2, 2), 0.2)
    noise = torch.ones_like(x)
    mask = torch.zeros(1, 1, 3, 2, 2)
    mask[0, 0, :, 0, 1] = 1.0
    sigma = torch.tensor(0.25)
    torch.testing.assert_close(blend_noise(x, noise, sigma), torch.full_like(x, 0.75 * 0.2 + 0.25))
    xa = pseudo_anomaly(x, mask, noise, sigma)
    expected = torch.full_like(x, 0.2)
    expected[0, 0, :, 0, 1] = 0.4
    torch.testing.assert_close(xa, expected)


def test_mask_broadcasts_over_channels() -> None:
    x = torch.zeros(1, 3, 1, 2, 2)
    mask = torch.tensor([[1.0, 0.0], [0.0, 0.0]]).view(1, 1, 1, 2, 2)
    xa = pseudo_anomaly(x, mask, torch.ones_like(x), torch.tensor(0.5))
    assert torch.all(xa[0, :, 0, 0, 0] == 0.5) and float(xa.sum()) == pytest.approx(1.5)


def test_noise_per_frame_or_shared_over_the_clip() -> None:
    shape = (2, 1, 3, 8, 8)
    per_frame = draw_noise(shape, "per_frame", torch.Generator().manual_seed(0), torch.device("cpu"))
    shared = draw_noise(shape, "shared", torch.Generator().manual_seed(0), torch.device("cpu"))
    assert per_frame.shape == shared.shape == shape
    assert float(per_frame.min()) >= 0 and float(per_frame.max()) < 1
    assert not torch.equal(per_frame[:, :, 0], per_frame[:, :, 1])
    assert torch.equal(shared[:, :, 0], shared[:, :, 1]) and torch.equal(shared[:, :, 1], shared[:, :, 2])
    assert not torch.equal(shared[0], shared[1])
    with pytest.raises(DDLError, match="noise"):
        draw_noise(shape, "static", torch.Generator(), torch.device("cpu"))


def test_anomaly_weight_variants() -> None:
    ddl = AnomalyWeight("ddl", 0.0, 0.5)
    assert ddl.l.requires_grad and ddl().item() == pytest.approx(0.5)
    sdl = AnomalyWeight("sdl", 3.0, 0.3)
    assert not sdl.l.requires_grad and float(sdl()) == pytest.approx(0.3)
    assert not AnomalyWeight("none", 0.0, 0.5).creates_anomalies and ddl.creates_anomalies
    with pytest.raises(DDLError, match="variant"):
        AnomalyWeight("xdl", 0.0, 0.5)


def _norm_example() -> tuple[torch.Tensor, ...]:
    target = torch.zeros(1, 1, 2, 2)
    recon = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    anomalous = torch.tensor([[[[0.8, 0.0], [0.0, 0.0]]]])
    recon_a = torch.tensor([[[[0.2, 0.0], [0.0, 0.0]]]])
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    return target, recon, anomalous, recon_a, mask


def test_norm_ratio_values() -> None:
    target, recon, anomalous, recon_a, mask = _norm_example()
    terms = ddl_loss(target, recon, anomalous, recon_a, mask, lam=0.5, eps=EPS, distinction="norm_ratio")
    assert float(terms.l_recon) == pytest.approx(0.5)  # sqrt(1/4)
    assert float(terms.p) == pytest.approx(0.1)  # sqrt(0.2^2 / 4)
    assert float(terms.n) == pytest.approx(0.3)  # sqrt(0.6^2 / 4)
    assert float(terms.l_dist) == pytest.approx((0.1 + EPS) / (0.3 + EPS))
    assert float(terms.loss) == pytest.approx(0.5 + 0.5 * (0.1 + EPS) / (0.3 + EPS))


def _pixel_example() -> tuple[torch.Tensor, ...]:
    target = torch.zeros(1, 2, 1, 2)
    recon = torch.tensor([[[[0.3, 0.0]], [[0.4, 0.0]]]])
    anomalous = torch.tensor([[[[1.0, 0.5]], [[1.0, 0.5]]]])
    recon_a = torch.tensor([[[[0.6, 0.1]], [[0.6, 0.1]]]])
    mask = torch.ones(1, 1, 1, 2)
    return target, recon, anomalous, recon_a, mask


def test_pixel_ratio_values() -> None:
    target, recon, anomalous, recon_a, mask = _pixel_example()
    terms = ddl_loss(target, recon, anomalous, recon_a, mask, lam=0.01, eps=EPS, distinction="pixel_ratio")
    assert float(terms.l_recon) == pytest.approx((0.5 / math.sqrt(2)) / 2)
    assert float(terms.p) == pytest.approx((0.6 + 0.1) / 2)
    assert float(terms.n) == pytest.approx(0.4)
    expected = ((0.6 + EPS) / (0.4 + EPS) + (0.1 + EPS) / (0.4 + EPS)) / 2
    assert float(terms.l_dist) == pytest.approx(expected)
    assert float(terms.loss) == pytest.approx(float(terms.l_recon) + 0.01 * expected)
    # the paper form of the same example: RMS norms over the whole frame, then the ratio
    p, n, l_dist = distinction_terms(target, anomalous[..., :], recon_a, mask, EPS, "norm_ratio")
    assert float(p) == pytest.approx(math.sqrt((2 * 0.36 + 2 * 0.01) / 4))
    assert float(l_dist) == pytest.approx((float(p) + EPS) / (0.4 + EPS))


def test_samples_without_mask_add_no_distinction_term() -> None:
    target, recon, anomalous, recon_a, mask = _norm_example()
    other = torch.rand(1, 1, 2, 2)
    both = [torch.cat([t, other]) for t in (target, recon, anomalous, recon_a)]
    masks = torch.cat([mask, torch.zeros_like(mask)])
    for form in ("norm_ratio", "pixel_ratio"):
        alone = distinction_terms(target, anomalous, recon_a, mask, EPS, form)
        mixed = distinction_terms(both[0], both[2], both[3], masks, EPS, form)
        for a, m in zip(alone, mixed):
            assert float(a) == pytest.approx(float(m))
        terms = ddl_loss(*both[:2], both[2], both[3], torch.zeros_like(masks), 0.01, EPS, form)
        assert float(terms.l_dist) == 0.0 and math.isnan(float(terms.p))
        assert float(terms.loss) == pytest.approx(float(reconstruction_loss(both[0], both[1], form)))


def test_gradient_reaches_l_under_ddl_only() -> None:
    torch.manual_seed(0)
    model = build_model("c3dsu", ModelSettings(frames=3, widths=(4, 4, 8, 8), heads=(3,), resize="pool",
                                               post_conv_kernel=3, conv3d_bottleneck=False, input="clip",
                                               coarse_levels=1, output="sigmoid"), 1)
    x = torch.rand(2, 1, 3, 16, 16)
    mask = torch.zeros(2, 1, 3, 16, 16)
    mask[..., 4:10, 4:10] = 1.0
    noise = torch.rand_like(x)
    for variant in ("ddl", "sdl"):
        weight = AnomalyWeight(variant, 0.0, 0.5)
        xa = pseudo_anomaly(x, mask, noise, weight())
        terms = ddl_loss(x[:, :, 1], model(x), xa[:, :, 1], model(xa), mask[:, :, 1], 0.01, EPS, "norm_ratio")
        terms.loss.backward()
        if variant == "ddl":
            assert weight.l.grad is not None and float(weight.l.grad.abs()) > 0.0
        else:
            assert weight.l.grad is None


@pytest.mark.parametrize("form", ["norm_ratio", "pixel_ratio"])
def test_distinction_terms_equal_the_selected_means_with_finite_gradients(form: str) -> None:
    """Weighted sums on the device give the means over the selected samples or pixels, and a batch mixing
    samples with and without a mask back-propagates finite gradients (no square root of zero)."""
    gen = torch.Generator().manual_seed(3)
    target, anomalous = torch.rand(3, 2, 8, 8, generator=gen), torch.rand(3, 2, 8, 8, generator=gen)
    recon_a = torch.rand(3, 2, 8, 8, generator=gen, dtype=torch.float64).float().requires_grad_()
    mask = torch.zeros(3, 1, 8, 8)
    mask[0, :, 1:4, 2:6] = 1.0
    mask[2, :, 5:8, 0:3] = 1.0
    p, n, l_dist = distinction_terms(target, anomalous, recon_a, mask, EPS, form)
    l_dist.backward()
    assert torch.isfinite(recon_a.grad).all() and recon_a.grad[1].abs().sum() == 0
    m = mask.expand_as(target)
    if form == "pixel_ratio":
        inside = m.amax(dim=1) > 0
        e_p = torch.linalg.vector_norm(m * (target - recon_a), dim=1)[inside] / math.sqrt(2)
        e_n = torch.linalg.vector_norm(m * (anomalous - recon_a), dim=1)[inside] / math.sqrt(2)
    else:
        e_p = (m * (target - recon_a)).flatten(1).pow(2).mean(1).sqrt()[[0, 2]]
        e_n = (m * (anomalous - recon_a)).flatten(1).pow(2).mean(1).sqrt()[[0, 2]]
    torch.testing.assert_close(p, e_p.mean())
    torch.testing.assert_close(n, e_n.mean())
    torch.testing.assert_close(l_dist, ((e_p + EPS) / (e_n + EPS)).mean())
