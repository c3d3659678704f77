"""posekit.metrics.nme: hand-computed NME, a loop reference, face normalisers, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posekit.metrics.nme import bbox_diagonal, bbox_sqrt_area, interocular_distance, nme, nme_per_sample


def loop_nme(pred, gt, vis, norm):
    total, count = 0.0, 0
    for i in range(len(gt)):
        if norm[i] == 0:
            continue
        for j in range(gt.shape[1]):
            if vis[i, j]:
                total += math.dist(pred[i, j], gt[i, j]) / norm[i]
                count += 1
    return total / count


def _faces(seed, n=12):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(50, 250, (n, 68, 2))
    pred = gt + rng.normal(0, 3, gt.shape)
    vis = rng.random((n, 68)) > 0.1
    return pred, gt, vis


def test_nme_hand_computed():
    gt = np.zeros((2, 3, 2))
    pred = np.array([[[3.0, 4.0], [0.0, 0.0], [6.0, 8.0]], [[0.0, 2.0], [0.0, 0.0], [9.0, 9.0]]])
    vis = np.array([[1, 1, 1], [1, 1, 0]])
    # sample 0 normaliser 10: 0.5, 0, 1.0; sample 1 normaliser 4: 0.5, 0 (third not visible)
    assert nme(pred, gt, vis, normalize=[10.0, 4.0]) == pytest.approx(2.0 / 5)
    np.testing.assert_allclose(nme_per_sample(pred, gt, vis, normalize=[10.0, 4.0]), [0.5, 0.25])


@pytest.mark.parametrize("seed", [0, 1])
def test_nme_matches_loop_with_interocular(seed):
    pred, gt, vis = _faces(seed)
    norm = interocular_distance(gt)
    np.testing.assert_allclose(norm, np.linalg.norm(gt[:, 36] - gt[:, 45], axis=1))
    assert nme(pred, gt, vis, normalize=norm) == pytest.approx(loop_nme(pred, gt, vis, norm), abs=1e-12)
    norm[2] = 0.0  # left out, as MMPose does for a zero normaliser
    assert nme(pred, gt, vis, normalize=norm) == pytest.approx(loop_nme(pred, gt, vis, norm), abs=1e-12)
    per_sample = nme_per_sample(pred, gt, vis, normalize=norm)
    assert math.isnan(per_sample[2])
    assert per_sample[0] == pytest.approx(loop_nme(pred[:1], gt[:1], vis[:1], norm[:1]), abs=1e-12)


def test_all_visible_nme_is_mean_of_per_sample():
    pred, gt, _ = _faces(3)
    norm = interocular_distance(gt, left=60 - 30, right=40)  # any pair of indices
    assert nme(pred, gt, None, normalize=norm) == pytest.approx(nme_per_sample(pred, gt, None, normalize=norm).mean())


def test_box_normalisers():
    boxes = np.array([[10, 10, 50, 110], [0, 0, 30, 30]], float)  # 40 x 100 and 30 x 30
    np.testing.assert_allclose(bbox_sqrt_area(boxes), [math.sqrt(4000), 30])
    np.testing.assert_allclose(bbox_diagonal(boxes), [math.hypot(40, 100), math.hypot(30, 30)])
    np.testing.assert_allclose(bbox_sqrt_area([[10, 10, 40, 100]], box_format="xywh"), [math.sqrt(4000)])


def test_bad_inputs_raise():
    pred, gt, vis = _faces(4, n=2)
    with pytest.raises(ValueError, match=r"normalize must be a scalar or have shape \(2,\)"):
        nme(pred, gt, vis, normalize=np.ones(3))
    with pytest.raises(ValueError, match="right = 70 is out of range for K=68"):
        interocular_distance(gt, right=70)
    with pytest.raises(ValueError, match=r"keypoints must have shape \(N, K, 2\)"):
        interocular_distance(gt[0])
    with pytest.raises(ValueError, match="non-negative width"):
        bbox_sqrt_area([[10, 10, 5, 20]])
    pred = pred.copy()
    pred[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        nme(pred, gt, None, normalize=1.0)
