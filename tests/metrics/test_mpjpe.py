"""posekit.metrics.mpjpe: zero error under known similarity transforms, SciPy / explicit-SVD references, masks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from posekit.metrics.mpjpe import mpjpe, n_mpjpe, p_mpjpe, procrustes_align, scale_align


def _poses(seed, n=6, k=17):
    return np.random.default_rng(seed).normal(0, 250, (n, k, 3))  # mm


def _transform(gt, seed, scale=True, translate=True):
    rng = np.random.default_rng(seed)
    rot = Rotation.random(len(gt), random_state=seed).as_matrix()
    s = rng.uniform(0.5, 2.0, len(gt)) if scale else np.ones(len(gt))
    t = rng.normal(0, 500, (len(gt), 1, 3)) if translate else 0.0
    return s[:, None, None] * np.einsum("nij,nkj->nki", rot, gt) + t


def reference_pa(pred, gt):
    """Kabsch through SciPy's align_vectors (proper rotation), then the least-squares scale."""
    out = []
    for p, g in zip(pred, gt):
        pc, gc = p - p.mean(0), g - g.mean(0)
        rot, _ = Rotation.align_vectors(gc, pc)  # gc ~ rot(pc)
        rp = rot.apply(pc)
        s = (gc * rp).sum() / (pc**2).sum()
        out.append(s * rp + g.mean(0))
    return np.stack(out)


def test_zero_error_under_known_similarity_transforms():
    gt = _poses(0)
    pred = _transform(gt, 1)
    assert mpjpe(pred, gt).value > 100
    assert p_mpjpe(pred, gt).value == pytest.approx(0, abs=1e-9)
    np.testing.assert_allclose(procrustes_align(pred, gt), gt, atol=1e-9)
    scaled = gt * np.array([0.5, 1.7, 3.0, 1.0, 0.9, 1.1])[:, None, None]
    assert n_mpjpe(scaled, gt).value == pytest.approx(0, abs=1e-9)
    assert mpjpe(gt, gt).value == 0 and mpjpe(gt, gt).unit == "mm"


def test_values_match_scipy_and_orthogonal_procrustes():
    gt = _poses(2)
    pred = _transform(gt, 3) + np.random.default_rng(4).normal(0, 40, gt.shape)
    res = p_mpjpe(pred, gt)
    ref = reference_pa(pred, gt)
    err = np.linalg.norm(ref - gt, axis=2)
    assert res.value == pytest.approx(err.mean(), rel=1e-10) and res.value > 10
    np.testing.assert_allclose(res.per_joint, err.mean(0), rtol=1e-10)
    np.testing.assert_allclose(res.per_sample, err.mean(1), rtol=1e-10)
    assert res.count == gt.shape[0] * gt.shape[1] and res.alignment == "procrustes"
    # SciPy's orthogonal_procrustes (rotation + the sum of singular values) gives the same alignment here
    for p, g, a in zip(pred, gt, procrustes_align(pred, gt)):
        pc, gc = p - p.mean(0), g - g.mean(0)
        r, ssum = orthogonal_procrustes(pc, gc)
        np.testing.assert_allclose(a, ssum / (pc**2).sum() * pc @ r + g.mean(0), atol=1e-8)


def test_reflection_is_not_used():
    gt = _poses(5)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])  # best orthogonal fit is a reflection; P-MPJPE must not use it
    res = p_mpjpe(mirrored, gt)
    assert res.value > 50
    err = np.linalg.norm(reference_pa(mirrored, gt) - gt, axis=2)
    assert res.value == pytest.approx(err.mean(), rel=1e-9)


def test_n_mpjpe_matches_closed_form_loop():
    gt = _poses(6)
    pred = gt * 1.3 + np.random.default_rng(7).normal(0, 30, gt.shape)
    errs = []
    for p, g in zip(pred, gt):
        s = np.sum(p * g) / np.sum(p * p)
        errs.extend(np.linalg.norm(s * p - g, axis=1))
    res = n_mpjpe(pred, gt)
    assert res.value == pytest.approx(np.mean(errs), rel=1e-12) and res.alignment == "scale"
    np.testing.assert_allclose(scale_align(pred, gt), pred * (np.sum(pred * gt, (1, 2)) / np.sum(pred**2, (1, 2)))
                               [:, None, None])


def test_masked_joints_do_not_count():
    gt = _poses(8)
    pred = _transform(gt, 9) + np.random.default_rng(10).normal(0, 20, gt.shape)
    vis = np.ones(gt.shape[:2], bool)
    vis[0, :4] = False
    vis[3, 10] = False
    garbage = pred.copy()
    garbage[0, :4] = 1e6        # masked by visible
    garbage[3, 10] = np.nan     # masked by visible (and non-finite)
    garbage[5, 2] = np.inf      # masked because non-finite
    vis_all = vis.copy()
    vis_all[5, 2] = False
    for fn in (mpjpe, p_mpjpe, n_mpjpe):
        res = fn(garbage, gt, vis)
        ref_errs = []
        for i in range(len(gt)):
            keep = vis_all[i]
            sub = fn(pred[i:i + 1, keep], gt[i:i + 1, keep])  # the same sample without the masked joints
            ref_errs.append(sub.per_sample[0] * keep.sum())
        assert res.value == pytest.approx(sum(ref_errs) / vis_all.sum(), rel=1e-10)
        assert res.count == vis_all.sum()
    res = mpjpe(garbage, gt, vis)
    assert np.isfinite(res.per_joint).all() and np.isfinite(res.per_sample).all()


def test_metres_are_reported_in_millimetres_and_inputs_untouched():
    gt = _poses(11) / 1000
    pred = gt + 0.01
    before = pred.copy()
    res = mpjpe(pred, gt, input_unit="m")
    assert res.value == pytest.approx(10 * np.sqrt(3)) and res.unit == "mm"
    np.testing.assert_array_equal(pred, before)
    assert p_mpjpe(pred, gt, input_unit="m").value == pytest.approx(0, abs=1e-9)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match=r"pred must have shape \(N, K, 3\)"):
        mpjpe(np.zeros((17, 3)), np.zeros((17, 3)))
    with pytest.raises(ValueError, match="same shape"):
        mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 16, 3)))
    with pytest.raises(ValueError, match=r"visible must have shape \(2, 17\)"):
        p_mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 17, 3)), np.ones((17,)))
    with pytest.raises(ValueError, match="input_unit must be 'mm' or 'm'"):
        n_mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 17, 3)), input_unit="cm")
    with pytest.raises(ValueError, match="no valid joints"):
        mpjpe(np.zeros((2, 17, 3)), np.zeros((2, 17, 3)), np.zeros((2, 17)))
