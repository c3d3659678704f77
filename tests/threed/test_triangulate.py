from __future__ import annotations

import numpy as np
import pytest

from posekit.threed.cameras import Camera, random_camera
from posekit.threed.triangulate import reprojection_error, triangulate_dlt, triangulate_ransac

DISTS = [[-0.25, 0.07, 0.001, -0.001, -0.01], [0.1, -0.03, 0.0, 0.002, 0.0], None, [-0.05, 0.0, 0.0, 0.0, 0.0]]


def _rig(poses: np.ndarray, n: int = 4, *, distorted: bool = False, seed: int = 0) -> list[Camera]:
    rng = np.random.default_rng(seed)
    target = poses[:, 0].mean(axis=0)
    cams = []
    for v in range(n):  # cameras spread around the subject, as in a capture studio
        c = random_camera(rng, target=target, distance_range=(3500.0, 5000.0), elevation_range_deg=(0.0, 30.0),
                          azimuth_range_deg=(v * 360.0 / n, v * 360.0 / n + 40.0), image_size=(1280, 960))
        cams.append(Camera(c.K, c.R, c.t, DISTS[v % len(DISTS)] if distorted else None, c.image_size))
    return cams


def _project(cams, poses):
    return np.stack([c.project(poses) for c in cams])  # (V, T, 17, 2)


@pytest.mark.parametrize("distorted", [False, True])
def test_exact_recovery(walk_h36m, distorted):
    cams = _rig(walk_h36m, distorted=distorted)
    X = triangulate_dlt(_project(cams, walk_h36m), cams)
    assert X.shape == walk_h36m.shape
    err = np.linalg.norm(X - walk_h36m, axis=-1)
    assert err.max() < 1e-6  # mm
    assert (err / np.linalg.norm(walk_h36m, axis=-1)).max() < 1e-9
    e = reprojection_error(X, _project(cams, walk_h36m), cams)
    assert e.shape == (4,) + walk_h36m.shape[:-1] and e.max() < 1e-6
    two = triangulate_dlt(_project(cams[1:3], walk_h36m), cams[1:3])  # the minimum: two views
    assert np.abs(two - walk_h36m).max() < 1e-6


def test_bounded_error_with_noise(walk_h36m):
    cams = _rig(walk_h36m, distorted=True, seed=1)
    rng = np.random.default_rng(0)
    errors = []
    for sigma in (0.5, 2.0):
        pts = _project(cams, walk_h36m) + rng.normal(scale=sigma, size=(4,) + walk_h36m.shape[:-1] + (2,))
        X = triangulate_dlt(pts, cams)
        err = np.linalg.norm(X - walk_h36m, axis=-1)
        # a pixel at ~4.5 m with f ~ 1200 px is ~4 mm; four views average it down
        assert err.mean() < 4.0 * sigma and np.percentile(err, 99) < 12.0 * sigma
        rep = reprojection_error(X, pts, cams)
        assert rep.mean() < 2.0 * sigma
        errors.append(err.mean())
    assert errors[1] > 2.0 * errors[0]  # error grows with the noise


def test_ransac_rejects_an_outlier_view(walk_h36m):
    cams = _rig(walk_h36m, n=5, distorted=True, seed=2)
    rng = np.random.default_rng(1)
    pts = _project(cams, walk_h36m) + rng.normal(scale=1.0, size=(5,) + walk_h36m.shape[:-1] + (2,))
    bad = pts.copy()
    bad[3] += rng.uniform(60.0, 200.0, size=bad[3].shape) * rng.choice([-1.0, 1.0], size=bad[3].shape)
    plain = np.linalg.norm(triangulate_dlt(bad, cams) - walk_h36m, axis=-1)
    res = triangulate_ransac(bad, cams, threshold=8.0)
    robust = np.linalg.norm(res.points - walk_h36m, axis=-1)
    reference = np.linalg.norm(triangulate_dlt(np.delete(pts, 3, axis=0), cams[:3] + cams[4:]) - walk_h36m, axis=-1)
    assert plain.mean() > 30.0
    assert not res.inliers[3].any() and res.inliers[[0, 1, 2, 4]].mean() > 0.99
    assert robust.mean() < reference.mean() * 1.05 + 0.1
    assert res.errors.shape == (5,) + walk_h36m.shape[:-1] and res.errors[3].min() > 8.0


def test_ransac_rejects_scattered_wrong_detections(walk_h36m):
    """Each (view, joint) detection is wrong with probability 0.15 (e.g. a left/right confusion)."""
    cams = _rig(walk_h36m, n=6, seed=3)
    rng = np.random.default_rng(2)
    pts = _project(cams, walk_h36m)
    wrong = rng.random(pts.shape[:-1]) < 0.15
    pts[wrong] += rng.normal(scale=80.0, size=(int(wrong.sum()), 2))
    res = triangulate_ransac(pts, cams, threshold=3.0)
    ok = np.sum(~wrong, axis=0) >= 2
    err = np.linalg.norm(res.points - walk_h36m, axis=-1)
    assert np.median(err[ok]) < 1e-6 and np.mean(err[ok] < 1e-3) > 0.99
    assert np.mean(res.inliers[:, ok] == ~wrong[:, ok]) > 0.99


def test_confidence_weights(walk_h36m):
    cams = _rig(walk_h36m, seed=4)
    rng = np.random.default_rng(3)
    pts = _project(cams, walk_h36m) + rng.normal(scale=1.0, size=(4,) + walk_h36m.shape[:-1] + (2,))
    pts[2] += 300.0  # a broken view...
    w = np.ones(pts.shape[:-1])
    w[2] = 0.0  # ...with zero confidence is ignored exactly
    X = triangulate_dlt(pts, cams, weights=w)
    ref = triangulate_dlt(pts[[0, 1, 3]], [cams[0], cams[1], cams[3]])
    assert np.allclose(X, ref, atol=1e-9)
    assert np.allclose(triangulate_dlt(pts, cams, weights=w * 7.5), X, atol=1e-9)  # only ratios matter
    nan = pts.copy()
    nan[2] = np.nan  # missing detections behave as weight 0
    assert np.allclose(triangulate_dlt(nan, cams), ref, atol=1e-9)
    # a low weight pulls less: the broken view with weight 0.01 hurts far less than with weight 1
    w[2] = 0.01
    low = np.linalg.norm(triangulate_dlt(pts, cams, weights=w) - walk_h36m, axis=-1).mean()
    full = np.linalg.norm(triangulate_dlt(pts, cams) - walk_h36m, axis=-1).mean()
    assert low < 0.1 * full
    # zero-weight views never count as RANSAC inliers; fewer than two usable views -> NaN
    w1 = np.zeros(pts.shape[:-1])
    w1[0] = 1.0
    assert np.isnan(triangulate_dlt(pts, cams, weights=w1)).all()
    res = triangulate_ransac(pts, cams, weights=np.where(np.arange(4)[:, None, None] == 2, 0.0, 1.0) * np.ones_like(w))
    assert not res.inliers[2].any()


def test_bad_input(walk_h36m):
    cams = _rig(walk_h36m)
    pts = _project(cams, walk_h36m)
    with pytest.raises(ValueError, match=r"points2d must have shape \(V=4"):
        triangulate_dlt(pts[:3], cams)
    with pytest.raises(ValueError, match="weights must have shape"):
        triangulate_dlt(pts, cams, weights=np.ones(4))
    with pytest.raises(ValueError, match=">= 0"):
        triangulate_dlt(pts, cams, weights=-np.ones(pts.shape[:-1]))
    with pytest.raises(ValueError, match="at least 2 cameras"):
        triangulate_dlt(pts[:1], cams[:1])
