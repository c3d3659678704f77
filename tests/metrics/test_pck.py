"""posekit.metrics.pck: PCK / PCKh / AUC / EPE on hand-computed cases, against plain loops, and on MPII GT."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posekit.metrics.pck import (
    auc, bbox_size, epe, mpii_head_size, mpii_pckh, normalized_distances, pck, pckh, torso_size,
)
from tests.conftest import shared_path

# ------------------------------------------------------------------------------------- loop references


def loop_pck(pred, gt, vis, thr, norm):
    """MMPose's keypoint_pck_accuracy written as loops: per joint, fraction of valid samples closer than thr."""
    n, k = vis.shape
    per_joint = []
    for j in range(k):
        hits = total = 0
        for i in range(n):
            nx, ny = norm[i]
            if not vis[i, j] or nx == 0 or ny == 0:
                continue
            d = math.hypot((pred[i, j, 0] - gt[i, j, 0]) / nx, (pred[i, j, 1] - gt[i, j, 1]) / ny)
            total += 1
            hits += d < thr
        per_joint.append(hits / total if total else float("nan"))
    valid = [a for a in per_joint if not math.isnan(a)]
    return per_joint, (sum(valid) / len(valid) if valid else float("nan"))


def loop_mpii(pred, gt, vis, heads, thr):
    """MPII PCKh: per joint, and pooled over all joints but pelvis (6) and thorax (7)."""
    per_joint, _ = loop_pck(pred, gt, vis, thr, np.stack([heads, heads], 1))
    hits = total = 0
    for i in range(len(gt)):
        for j in range(16):
            if j in (6, 7) or not vis[i, j]:
                continue
            total += 1
            hits += math.dist(pred[i, j], gt[i, j]) / heads[i] < thr
    return per_joint, hits / total


def _random_case(seed, n=40, k=5):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0, 200, (n, k, 2))
    pred = gt + rng.normal(0, 8, (n, k, 2))
    vis = rng.random((n, k)) > 0.2
    norm = rng.uniform(20, 80, (n, 2))
    return pred, gt, vis, norm


# --------------------------------------------------------------------------------------------------- PCK


def test_pck_hand_computed():
    gt = np.zeros((2, 3, 2))
    pred = np.array([[[1.9, 0.0], [0.0, 2.0], [3.0, 4.0]],   # distances 1.9, 2.0, 5.0 (normaliser 10)
                     [[0.0, 0.0], [6.0, 8.0], [1.0, 1.0]]])  # distances 0, 10, sqrt 2 (normaliser 20)
    vis = np.array([[1, 1, 1], [1, 1, 0]])
    res = pck(pred, gt, vis, threshold=0.2, normalize=np.array([10.0, 20.0]))
    # joint 0: 0.19 and 0 < 0.2 -> 1; joint 1: 0.2 (not < 0.2) and 0.5 -> 0; joint 2: 0.5 -> 0 (2nd invisible)
    np.testing.assert_array_equal(res.per_joint, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(res.counts, [2, 2, 1])
    assert res.mean == pytest.approx(1 / 3) and res.threshold == 0.2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pck_matches_loop_with_per_coordinate_normalisers(seed):
    pred, gt, vis, norm = _random_case(seed)
    norm[3] = [0.0, 30.0]  # a zero normaliser leaves the sample out (MMPose)
    per_joint, mean = loop_pck(pred, gt, vis, 0.15, norm)
    res = pck(pred, gt, vis, threshold=0.15, normalize=norm)
    np.testing.assert_allclose(res.per_joint, per_joint, rtol=0, atol=1e-12)
    assert res.mean == pytest.approx(mean, abs=1e-12)
    # (N,) normalisers are used for both coordinates
    res1 = pck(pred, gt, vis, threshold=0.15, normalize=norm[:, 1])
    assert res1.mean == pytest.approx(loop_pck(pred, gt, vis, 0.15, np.repeat(norm[:, 1:], 2, 1))[1], abs=1e-12)


def test_missing_predictions_count_as_wrong_and_invisible_gt_is_ignored():
    gt = np.zeros((3, 2, 2))
    pred = np.zeros((3, 2, 2))
    pred[0, 0] = np.nan          # visible GT, no prediction: a miss
    gt[1, 1] = np.nan            # GT NaN: not evaluated
    res = pck(pred, gt, None, threshold=0.5, normalize=10.0)
    np.testing.assert_array_equal(res.per_joint, [2 / 3, 1.0])
    np.testing.assert_array_equal(res.counts, [3, 2])
    assert math.isnan(pck(pred, gt, np.zeros((3, 2)), threshold=0.5, normalize=10.0).mean)


def test_normalized_distances_and_inputs_not_modified():
    pred, gt, vis, norm = _random_case(5, n=6, k=3)
    copies = [a.copy() for a in (pred, gt, vis, norm)]
    dist, valid = normalized_distances(pred, gt, vis, normalize=norm)
    np.testing.assert_array_equal(valid, vis)
    np.testing.assert_allclose(dist[vis], np.linalg.norm((pred - gt) / norm[:, None], axis=2)[vis])
    assert np.isnan(dist[~vis]).all()
    for a, b in zip((pred, gt, vis, norm), copies):
        np.testing.assert_array_equal(a, b)


# -------------------------------------------------------------------------------------------------- PCKh


def test_pckh_weights_by_counts_and_excludes_pelvis_thorax():
    gt = np.zeros((2, 16, 2))
    pred = np.zeros((2, 16, 2))
    pred[:, 6:8] = 100.0        # pelvis and thorax wrong: excluded from the mean
    pred[0, 0] = 30.0           # right ankle of sample 0 wrong (42 px > 0.5 * 20)
    vis = np.ones((2, 16))
    vis[1, 0] = 0               # ... and the other right ankle not annotated
    res = pckh(pred, gt, vis, head_sizes=[20.0, 20.0])
    assert res.per_joint[0] == 0.0 and res.per_joint[6] == 0.0 and res.per_joint[9] == 1.0
    assert res.mean == pytest.approx(26 / 27)  # 14 joints x 2 samples - 1 unannotated = 27, one wrong
    # all 16 joints: 31 annotated, wrong: one ankle, two pelvis, two thorax
    assert pckh(pred, gt, vis, head_sizes=[20.0, 20.0], exclude=()).mean == pytest.approx(26 / 31)


def test_mpii_summary_matches_loops():
    rng = np.random.default_rng(3)
    gt = rng.uniform(0, 300, (50, 16, 2))
    heads = rng.uniform(20, 60, 50)
    pred = gt + rng.normal(0, 1, gt.shape) * heads[:, None, None] * 0.3
    vis = rng.random((50, 16)) > 0.1
    stats = mpii_pckh(pred, gt, vis, head_sizes=heads)
    per_joint, mean = loop_mpii(pred, gt, vis, heads, 0.5)
    pj = 100 * np.array(per_joint)
    assert stats["Head"] == pytest.approx(pj[9])
    for name, (a, b) in {"Shoulder": (12, 13), "Elbow": (11, 14), "Wrist": (10, 15), "Hip": (2, 3),
                         "Knee": (1, 4), "Ankle": (0, 5)}.items():
        assert stats[name] == pytest.approx((pj[a] + pj[b]) / 2)
    assert stats["PCKh"] == pytest.approx(100 * mean)
    assert stats["PCKh@0.1"] == pytest.approx(100 * loop_mpii(pred, gt, vis, heads, 0.1)[1])


def _mpii_valid():
    import h5py  # a posekit dependency
    with h5py.File(shared_path("data", "mpii", "hg_valid.h5"), "r") as f:
        part, heads = f["part"][:], f["normalize"][:]
    annotated = ~(part == 0).all(axis=2)  # MPII: a joint at (0, 0) is not annotated (the "visible" column is occlusion)
    return part, heads, annotated


def test_mpii_validation_gt_against_itself_and_known_noise():
    part, heads, annotated = _mpii_valid()
    assert part.shape == (2958, 16, 2)
    perfect = mpii_pckh(part, part, annotated, head_sizes=heads)
    assert all(v == 100.0 for v in perfect.values())
    # every joint moved by exactly 0.3 (correct) or 0.7 (wrong) head sizes in a random direction
    rng = np.random.default_rng(0)
    near = rng.random(annotated.shape) < 0.6
    radius = np.where(near, 0.3, 0.7) * heads[:, None]
    angle = rng.uniform(0, 2 * np.pi, annotated.shape)
    pred = part + radius[..., None] * np.stack([np.cos(angle), np.sin(angle)], axis=2)
    res = pckh(pred, part, annotated, head_sizes=heads)
    expected = (near & annotated).sum(0) / annotated.sum(0)
    np.testing.assert_allclose(res.per_joint, expected, rtol=0, atol=1e-12)
    keep = np.ones(16, bool)
    keep[[6, 7]] = False
    assert res.mean == pytest.approx((near & annotated)[:, keep].sum() / annotated[:, keep].sum())
    assert mpii_pckh(pred, part, annotated, head_sizes=heads)["PCKh@0.1"] == 0.0


def test_mpii_validation_gaussian_noise_matches_loop():
    part, heads, annotated = _mpii_valid()
    pred = part + np.random.default_rng(1).normal(0, 1, part.shape) * heads[:, None, None] * 0.35
    res = pckh(pred, part, annotated, head_sizes=heads)
    per_joint, mean = loop_mpii(pred, part, annotated, heads, 0.5)
    np.testing.assert_allclose(res.per_joint, per_joint, rtol=0, atol=1e-12)
    assert res.mean == pytest.approx(mean, abs=1e-12) and 0.5 < res.mean < 0.95


# --------------------------------------------------------------------------------------------- AUC, EPE


def test_auc_hand_computed_and_loop():
    gt = np.zeros((1, 2, 2))
    pred = np.array([[[3.0, 0.0], [0.0, 12.0]]])  # 3 px and 12 px with norm_factor 20: 0.15 and 0.6
    # thresholds 0, .05, ..., .95: joint 0 correct for 16 of 20 (t > .15), joint 1 for 7 (t > .6)
    assert auc(pred, gt, None, norm_factor=20.0) == pytest.approx((16 / 20 + 7 / 20) / 2)
    p, g, vis, _ = _random_case(4)
    want = np.mean([loop_pck(p, g, vis, i / 20, np.full((len(g), 2), 30.0))[1] for i in range(20)])
    assert auc(p, g, vis, norm_factor=30.0) == pytest.approx(want, abs=1e-12)
    assert auc(g, g, vis, norm_factor=30.0) == pytest.approx(0.95)  # threshold 0 never counts


def test_epe_hand_computed_and_loop():
    gt = np.zeros((2, 2, 2))
    pred = np.array([[[3.0, 4.0], [0.0, 1.0]], [[6.0, 8.0], [100.0, 0.0]]])
    assert epe(pred, gt, [[1, 1], [1, 0]]) == pytest.approx((5 + 1 + 10) / 3)
    p, g, vis, _ = _random_case(6)
    d = [math.dist(p[i, j], g[i, j]) for i in range(len(g)) for j in range(g.shape[1]) if vis[i, j]]
    assert epe(p, g, vis) == pytest.approx(sum(d) / len(d), abs=1e-12)
    pred[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        epe(pred, gt, None)


# ------------------------------------------------------------------------------------------- normalisers


def test_normalisers():
    np.testing.assert_array_equal(bbox_size([[10, 20, 40, 100], [0, 0, 50, 10]]), [80, 50])
    np.testing.assert_array_equal(bbox_size([[10, 20, 30, 80]], box_format="xywh"), [80])
    kp = np.zeros((2, 13, 2))
    kp[0, 12] = [3, 4]
    kp[1, 12] = [0.3, 0.4]
    pred = np.zeros((2, 13, 2))
    pred[:, 12] = [6, 8]
    np.testing.assert_allclose(torso_size(kp, first=5, second=12), [5, 0.5])
    np.testing.assert_allclose(torso_size(kp, first=5, second=12, fallback=pred), [5, 10])  # GT < 1 px
    np.testing.assert_allclose(mpii_head_size([[0, 0, 30, 40]]), [30.0])


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match=r"pred must have shape \(N, K, D\)"):
        pck(np.zeros((3, 17)), np.zeros((3, 17)), None, threshold=0.2, normalize=1.0)
    with pytest.raises(ValueError, match="same shape"):
        pck(np.zeros((3, 17, 2)), np.zeros((3, 16, 2)), None, threshold=0.2, normalize=1.0)
    with pytest.raises(ValueError, match=r"visible must have shape \(3, 17\)"):
        pck(np.zeros((3, 17, 2)), np.zeros((3, 17, 2)), np.ones(17), threshold=0.2, normalize=1.0)
    with pytest.raises(ValueError, match=r"normalize must be a scalar or have shape \(3,\) or \(3, 2\)"):
        pck(np.zeros((3, 17, 2)), np.zeros((3, 17, 2)), None, threshold=0.2, normalize=np.ones(4))
    with pytest.raises(ValueError, match="normalize must be finite and >= 0"):
        pck(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), None, threshold=0.2, normalize=-1.0)
    with pytest.raises(ValueError, match="threshold"):
        pck(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), None, threshold=-0.1, normalize=1.0)
    with pytest.raises(ValueError, match="K=15"):
        mpii_pckh(np.zeros((1, 15, 2)), np.zeros((1, 15, 2)), None, head_sizes=[1.0])
    with pytest.raises(ValueError, match=r"boxes must have shape \(N, 4\)"):
        bbox_size(np.zeros(4))
    with pytest.raises(ValueError, match="second = 20 is out of range"):
        torso_size(np.zeros((1, 17, 2)), first=5, second=20)
