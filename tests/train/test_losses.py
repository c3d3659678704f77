"""Losses against MMPose 1.3.2's formulas, written out here independently (NumPy, float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from posekit.train.losses import (
    coord_l1_loss,
    coord_mse_loss,
    coord_smooth_l1_loss,
    heatmap_mse_loss,
    mpjpe_loss,
    simcc_kl_loss,
)

B, K = 3, 5


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _weights(gen: torch.Generator) -> torch.Tensor:
    w = torch.rand(B, K, generator=gen)
    w[0, 1] = 0.0
    w[2, 4] = 0.0
    return w


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().numpy()


# --- reference formulas (MMPose 1.3.2 mmpose/models/losses/{heatmap,classification,regression}_loss.py) ---------

def ref_keypoint_mse(output, target, w=None):
    """KeypointMSELoss.forward: mse(reduction='none') * target_weights.view(B, K, 1, 1), then .mean()."""
    sq = (output - target) ** 2
    return sq.mean() if w is None else (sq * w[:, :, None, None]).mean()


def ref_kl_discret(pred_x, pred_y, gt_x, gt_y, w, beta, label_softmax, label_beta):
    """KLDiscretLoss.forward: per axis, reshape to (B*K, bins); criterion = mean_bins KLDiv(log_softmax(beta*pred),
    labels); loss = sum(criterion * weight.reshape(-1)) over both axes, / K."""
    def log_softmax(x):
        x = x - x.max(axis=1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=1, keepdims=True))

    total = 0.0
    for pred, gt in ((pred_x, gt_x), (pred_y, gt_y)):
        pred, gt = pred.reshape(-1, pred.shape[-1]), gt.reshape(-1, gt.shape[-1])
        log_pt = log_softmax(pred * beta)
        labels = np.exp(log_softmax(gt * label_beta)) if label_softmax else gt
        kl = np.where(labels > 0, labels * (np.log(np.where(labels > 0, labels, 1.0)) - log_pt), 0.0)
        total += (kl.mean(axis=1) * (1.0 if w is None else w.reshape(-1))).sum()
    return total / pred_x.shape[1]


def test_heatmap_mse_matches_mmpose(gen):
    out, tgt = torch.randn(B, K, 8, 6, generator=gen), torch.rand(B, K, 8, 6, generator=gen)
    w = _weights(gen)
    np.testing.assert_allclose(heatmap_mse_loss(out, tgt, w).item(), ref_keypoint_mse(_np(out), _np(tgt), _np(w)),
                               rtol=1e-6)
    np.testing.assert_allclose(heatmap_mse_loss(out, tgt).item(), ref_keypoint_mse(_np(out), _np(tgt)), rtol=1e-6)
    mask = (torch.rand(B, 1, 8, 6, generator=gen) > 0.3).float()
    ref = ((_np(out) - _np(tgt)) ** 2 * _np(w)[:, :, None, None] * _np(mask)).mean()
    np.testing.assert_allclose(heatmap_mse_loss(out, tgt, w, mask=mask).item(), ref, rtol=1e-6)
    tgt_empty = tgt.clone()
    tgt_empty[1, 2] = 0.0
    keep = np.ones((B, K))
    keep[1, 2] = 0.0
    ref = ((_np(out) - _np(tgt_empty)) ** 2 * keep[:, :, None, None]).mean()
    np.testing.assert_allclose(heatmap_mse_loss(out, tgt_empty, skip_empty_channel=True).item(), ref, rtol=1e-6)


@pytest.mark.parametrize("beta, label_softmax", [(10.0, True), (1.0, False), (10.0, False)])
def test_simcc_kl_matches_mmpose(gen, beta, label_softmax):
    px, py = torch.randn(B, K, 24, generator=gen) * 3, torch.randn(B, K, 32, generator=gen) * 3
    gx, gy = torch.rand(B, K, 24, generator=gen), torch.rand(B, K, 32, generator=gen)
    if not label_softmax:  # plain labels must be distributions; zeros exercise the 0 * log 0 convention
        gx[gx < 0.3] = 0.0
        gx, gy = gx / gx.sum(-1, keepdim=True), gy / gy.sum(-1, keepdim=True)
    w = _weights(gen)
    got = simcc_kl_loss(px, py, gx, gy, w, beta=beta, label_softmax=label_softmax)
    ref = ref_kl_discret(_np(px), _np(py), _np(gx), _np(gy), _np(w), beta, label_softmax, 10.0)
    np.testing.assert_allclose(got.item(), ref, rtol=1e-5)
    got = simcc_kl_loss(px, py, gx, gy, None, beta=beta, label_softmax=label_softmax)
    ref = ref_kl_discret(_np(px), _np(py), _np(gx), _np(gy), None, beta, label_softmax, 10.0)
    np.testing.assert_allclose(got.item(), ref, rtol=1e-5)


def test_simcc_kl_matches_mmpose_torch_modules(gen):
    """The same through MMPose's own building blocks: nn.LogSoftmax(dim=1) and nn.KLDivLoss(reduction='none')."""
    px, py = torch.randn(B, K, 24, generator=gen), torch.randn(B, K, 32, generator=gen)
    gx, gy = torch.randn(B, K, 24, generator=gen), torch.randn(B, K, 32, generator=gen)
    w = _weights(gen)
    log_softmax, kl_loss = nn.LogSoftmax(dim=1), nn.KLDivLoss(reduction="none")
    loss = 0
    for pred, target in ((px, gx), (py, gy)):
        pred, target = pred.reshape(-1, pred.size(-1)), target.reshape(-1, target.size(-1))
        labels = torch.softmax(target * 10.0, dim=1)
        loss = loss + (torch.mean(kl_loss(log_softmax(pred * 10.0), labels), dim=1) * w.reshape(-1)).sum()
    torch.testing.assert_close(simcc_kl_loss(px, py, gx, gy, w), loss / K)


def test_simcc_kl_is_zero_for_matching_distributions(gen):
    g = torch.randn(B, K, 16, generator=gen)
    assert abs(simcc_kl_loss(g, g, g, g, beta=10.0, label_beta=10.0).item()) < 1e-6


def test_coordinate_losses_match_mmpose(gen):
    out, tgt = torch.rand(B, K, 2, generator=gen), torch.rand(B, K, 2, generator=gen)
    w = _weights(gen)
    o, t, wn = _np(out), _np(tgt), _np(w)[:, :, None]
    d = o * wn - t * wn  # MMPose: criterion(output * target_weight, target * target_weight)
    np.testing.assert_allclose(coord_l1_loss(out, tgt, w).item(), np.abs(d).mean(), rtol=1e-6)
    np.testing.assert_allclose(coord_mse_loss(out, tgt, w).item(), (d**2).mean(), rtol=1e-6)
    big = (out - tgt) * 4  # exercise both branches of smooth L1
    d4 = _np(big) * wn
    ref = np.where(np.abs(d4) < 1.0, 0.5 * d4**2, np.abs(d4) - 0.5).mean()
    np.testing.assert_allclose(coord_smooth_l1_loss(big, torch.zeros_like(big), w).item(), ref, rtol=1e-6)
    np.testing.assert_allclose(coord_l1_loss(out, tgt).item(), np.abs(o - t).mean(), rtol=1e-6)


def test_mpjpe_matches_mmpose(gen):
    out, tgt = torch.randn(B, K, 3, generator=gen), torch.randn(B, K, 3, generator=gen)
    w = _weights(gen)
    ref = np.linalg.norm((_np(out) - _np(tgt)) * _np(w)[:, :, None], axis=-1).mean()
    np.testing.assert_allclose(mpjpe_loss(out, tgt, w).item(), ref, rtol=1e-6)
    ref = np.linalg.norm(_np(out) - _np(tgt), axis=-1).mean()
    np.testing.assert_allclose(mpjpe_loss(out, tgt).item(), ref, rtol=1e-6)
    seq = torch.randn(2, 4, K, 3, generator=gen)
    np.testing.assert_allclose(mpjpe_loss(seq, seq * 0).item(), np.linalg.norm(_np(seq), axis=-1).mean(), rtol=1e-6)


def _cases(gen):
    w = _weights(gen)

    def rand(*shape, scale=None):
        return torch.randn(*shape, generator=gen) * scale if scale else torch.rand(*shape, generator=gen)

    yield "heatmap", lambda p: heatmap_mse_loss(p[0], p[1], w), [rand(B, K, 8, 6, scale=1), rand(B, K, 8, 6)]
    yield "simcc", lambda p: simcc_kl_loss(p[0], p[1], p[2], p[3], w), [
        rand(B, K, 24, scale=50), rand(B, K, 32, scale=50), rand(B, K, 24), rand(B, K, 32)]
    yield "l1", lambda p: coord_l1_loss(p[0], p[1], w), [rand(B, K, 2), rand(B, K, 2)]
    yield "mse", lambda p: coord_mse_loss(p[0], p[1], w), [rand(B, K, 2), rand(B, K, 2)]
    yield "smooth_l1", lambda p: coord_smooth_l1_loss(p[0], p[1], w), [rand(B, K, 2), rand(B, K, 2)]
    yield "mpjpe", lambda p: mpjpe_loss(p[0], p[1], w), [rand(B, K, 3, scale=1), rand(B, K, 3, scale=1)]


def test_zero_weight_means_no_gradient_and_gradients_are_finite(gen):
    for name, loss_fn, tensors in _cases(gen):
        n_pred = 2 if name == "simcc" else 1
        preds = [t.clone().requires_grad_(True) for t in tensors[:n_pred]]
        loss = loss_fn(preds + tensors[n_pred:])
        loss.backward()
        for p in preds:
            assert torch.isfinite(p.grad).all(), name
            assert (p.grad[0, 1] == 0).all() and (p.grad[2, 4] == 0).all(), name
            assert (p.grad[1] != 0).any(), name
        assert loss.dtype == torch.float32 and loss.ndim == 0


def test_half_precision_predictions_give_float32_losses(gen):
    out, tgt = torch.randn(B, K, 8, 6, generator=gen), torch.rand(B, K, 8, 6, generator=gen)
    loss = heatmap_mse_loss(out.bfloat16(), tgt)
    assert loss.dtype == torch.float32
    np.testing.assert_allclose(loss.item(), heatmap_mse_loss(out.bfloat16().float(), tgt).item(), rtol=1e-6)


def test_shape_errors_name_the_problem():
    with pytest.raises(ValueError, match="shapes differ"):
        heatmap_mse_loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"weights must have shape \(1, 2\)"):
        heatmap_mse_loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4), torch.ones(2))
    with pytest.raises(ValueError, match="x and y disagree"):
        simcc_kl_loss(torch.zeros(1, 2, 4), torch.zeros(1, 3, 4), torch.zeros(1, 2, 4), torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="expected 3-D"):
        coord_l1_loss(torch.zeros(2, 2), torch.zeros(2, 2))
    with pytest.raises(TypeError, match="torch tensors"):
        mpjpe_loss(np.zeros((1, 2, 3)), torch.zeros(1, 2, 3))
