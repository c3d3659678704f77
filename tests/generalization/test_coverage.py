"""Coverage, separability, variance and OOD scores on constructed distributions with known overlap."""

import numpy as np
import pytest

from posekit import skeletons as sk
from posekit.generalization.coverage import (
    OODScorer,
    domain_separability,
    knn_coverage,
    knn_distances,
    per_joint_variance,
    subsample,
)
from posekit.generalization.posespace import BODY12, PoseSet, normalize_poses
from tests.generalization.test_posespace import coco_poses


def cloud(n, center=0.0, seed=0, dim=2, sd=1.0):
    rng = np.random.default_rng(seed)
    return PoseSet(rng.normal(center, sd, (n, 12, dim)), BODY12, f"cloud{center}")


def transformed_copy(kp):
    """The same poses translated, scaled and image-flipped (x mirrored, left/right relabelled)."""
    out = kp[:, list(sk.coco17.flip_indices)] * 2.5 + np.array([300.0, 40.0])
    out[..., 0] = 2000.0 - out[..., 0]
    return out


def test_transformed_copy_is_covered_and_inseparable():
    kp1, kp2 = coco_poses(300, seed=1), coco_poses(300, seed=2)
    a = normalize_poses(kp1, sk.coco17, canonicalize_lr=True)
    same = normalize_poses(transformed_copy(kp1), sk.coco17, canonicalize_lr=True)
    np.testing.assert_allclose(same.points, a.points, atol=1e-9)
    assert knn_coverage(a, same).coverage == 1.0
    b = normalize_poses(transformed_copy(kp2), sk.coco17, canonicalize_lr=True)
    cov = knn_coverage(a, b, quantiles=(0.5, 0.9))
    assert cov.coverage > 0.95
    assert 0.8 < cov.distance_quantiles[0.5] / cov.reference_quantiles[0.5] < 1.25
    sep = domain_separability(a, b, folds=5, seed=0)
    assert abs(sep.accuracy - 0.5) < 0.08 and len(sep.fold_accuracies) == 5 and sep.n_per_set == 300


def test_disjoint_clouds():
    a, b = cloud(300, 0.0, seed=1), cloud(300, 10.0, seed=2)
    cov = knn_coverage(a, b)
    assert cov.coverage == 0.0 and cov.distance_quantiles[0.5] > 5 * cov.reference_quantiles[0.5]
    assert domain_separability(a, b).accuracy > 0.99


def test_half_overlap_gives_half_coverage():
    b = cloud(400, 0.0, seed=3)
    inside, outside = cloud(200, 0.0, seed=4).points, cloud(200, 10.0, seed=5).points
    a = PoseSet(np.concatenate([inside, outside]), BODY12)
    cov = knn_coverage(a, b)
    assert abs(cov.coverage - 0.5) < 0.03
    assert knn_coverage(a, b, radius=1e-6).coverage == 0.0  # an explicit radius is used as given
    sep = domain_separability(a, b, seed=1).accuracy
    assert 0.6 < sep < 0.85  # Bayes-optimal 0.75 (A inside is outnumbered 1:2 by B), k-NN a little lower


def test_ood_scores():
    ref = cloud(600, 0.0, seed=6)
    scorer = OODScorer.fit(ref, k=5)
    assert abs(np.mean(scorer.reference_scores < 1.0) - 0.95) < 0.01
    fresh = scorer.score(cloud(600, 0.0, seed=7))
    assert 0.9 < np.mean(fresh < 1.0) < 0.99
    far = cloud(50, 4.0, seed=8)
    assert (scorer.score(far) > 1.5).all() and scorer.flag(far).all()
    np.testing.assert_array_equal(scorer.score(far.points), scorer.score(far))  # plain arrays accepted
    with pytest.raises(ValueError, match="shape"):
        scorer.score(np.zeros((3, 12, 3)))


def test_nan_aware_distances():
    rng = np.random.default_rng(0)
    a, b = cloud(20, seed=9).points.copy(), cloud(30, seed=10).points.copy()
    a[rng.random((20, 12)) < 0.2] = np.nan
    b[rng.random((30, 12)) < 0.2] = np.nan
    b[0] = np.nan  # an all-missing pose is never anyone's neighbour
    d = knn_distances(PoseSet(a, BODY12), PoseSet(b, BODY12), 3)
    for i in range(20):
        ref = []
        for q in b:
            both = np.isfinite(a[i]).all(1) & np.isfinite(q).all(1)
            ref.append(np.sqrt(12 / both.sum() * ((a[i][both] - q[both]) ** 2).sum()) if both.any() else np.inf)
        np.testing.assert_allclose(d[i], np.sort(ref)[:3], rtol=1e-9)
    # leave-one-out by the brute force (a NaN pose forces it) matches the k-d tree path (<= 10 dimensions)
    small = PoseSet(rng.normal(0, 1, (50, 4, 2)), BODY12[:4])
    loo_tree = knn_distances(small, small, 4, exclude_self=True)
    pts = np.concatenate([small.points, np.full((1, 4, 2), np.nan)])
    loo_masked = knn_distances(PoseSet(pts, BODY12[:4]), PoseSet(pts, BODY12[:4]), 4, exclude_self=True)
    np.testing.assert_allclose(loo_masked[:50], loo_tree, rtol=1e-9)
    assert np.isinf(loo_masked[50]).all()
    c = cloud(50, seed=11)
    # a copy with 20 % of joints missing is still covered
    holes = c.points.copy()
    holes[rng.random((50, 12)) < 0.2] = np.nan
    assert knn_coverage(PoseSet(holes, BODY12), c).coverage > 0.95
    np.testing.assert_allclose(per_joint_variance(cloud(2000, sd=2.0, seed=12)), 8.0, rtol=0.1)  # 2 coords x 4


def test_subsample_is_seeded():
    c = cloud(100, seed=13)
    s1, s2, s3 = subsample(c, 10, seed=1), subsample(c, 10, seed=1), subsample(c, 10, seed=2)
    np.testing.assert_array_equal(s1.indices, s2.indices)
    assert not np.array_equal(s1.indices, s3.indices) and len(s1) == 10
    np.testing.assert_array_equal(s1.points, c.points[s1.indices])
    assert subsample(c, 500) is c


def test_clear_errors():
    a = cloud(20)
    with pytest.raises(ValueError, match="not in the same space"):
        knn_coverage(a, cloud(20, dim=3))
    with pytest.raises(ValueError, match="empty"):
        knn_coverage(a, a.select(np.zeros(20, bool)))
    with pytest.raises(ValueError, match="no present joint"):
        domain_separability(a, PoseSet(np.full((5, 12, 2), np.nan), BODY12))
    with pytest.raises(ValueError, match="needs more than k=5"):
        OODScorer.fit(cloud(5))
    with pytest.raises(TypeError, match="PoseSet"):
        knn_coverage(a.points, a)


def test_narrow_set_inside_a_broad_one_is_covered_one_way_and_separable():
    broad, narrow = cloud(400, 0.0, seed=6, sd=1.0), cloud(400, 0.0, seed=7, sd=0.3)
    assert knn_coverage(narrow, broad).coverage > 0.95 and knn_coverage(broad, narrow).coverage < 0.05
    sep = domain_separability(narrow, broad, seed=0)
    assert sep.knn_accuracy < 0.65  # k-NN alone is nearly blind to a change of spread
    assert sep.gaussian_accuracy > 0.95 and sep.accuracy == sep.gaussian_accuracy
