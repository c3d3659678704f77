from __future__ import annotations

import cv2
import numpy as np
import pytest

from posekit.threed.cameras import Camera, look_at, random_camera

DIST = np.array([-0.28, 0.09, 0.0012, -0.0008, -0.015])


def _cv2_project(cam: Camera, X: np.ndarray) -> np.ndarray:
    rvec, _ = cv2.Rodrigues(cam.R)
    dist = np.zeros(5) if cam.dist is None else cam.dist
    out, _ = cv2.projectPoints(X.reshape(-1, 1, 3), rvec, cam.t, cam.K, dist)
    return out.reshape(X.shape[:-1] + (2,))


@pytest.mark.parametrize("dist", [None, DIST])
def test_project_matches_cv2(walk_h36m, dist):
    rng = np.random.default_rng(0)
    target = walk_h36m[:, 0].mean(axis=0)
    for _ in range(5):
        c = random_camera(rng, target=target, image_size=(1920, 1080))
        cam = Camera(c.K, c.R, c.t, dist, c.image_size)
        ours = cam.project(walk_h36m)
        assert ours.shape == walk_h36m.shape[:-1] + (2,)
        assert np.abs(ours - _cv2_project(cam, walk_h36m)).max() < 1e-8


def test_world_camera_round_trip_and_projection_matrix(walk_h36m):
    cam = random_camera(np.random.default_rng(1), target=walk_h36m[:, 0].mean(axis=0))
    Xc = cam.world_to_camera(walk_h36m)
    assert np.allclose(cam.camera_to_world(Xc), walk_h36m)
    h = np.concatenate([walk_h36m, np.ones(walk_h36m.shape[:-1] + (1,))], axis=-1) @ cam.projection_matrix.T
    assert np.allclose(h[..., :2] / h[..., 2:], cam.project(walk_h36m))
    assert np.allclose(cam.world_to_camera(cam.center), 0.0, atol=1e-9)


def test_undistort_inverts_projection(walk_h36m):
    c = random_camera(np.random.default_rng(2), target=walk_h36m[:, 0].mean(axis=0))
    cam = Camera(c.K, c.R, c.t, DIST, c.image_size)
    Xc = cam.world_to_camera(walk_h36m)
    xy = cam.undistort_points(cam.project(walk_h36m))
    assert np.abs(xy - Xc[..., :2] / Xc[..., 2:]).max() < 1e-12
    nan = cam.undistort_points(np.array([[np.nan, 1.0], [500.0, 500.0]]))
    assert np.isnan(nan[0]).all() and np.isfinite(nan[1]).all()


def test_look_at_points_the_optical_axis_at_the_target():
    eye, target = np.array([3000.0, 2500.0, -4000.0]), np.array([100.0, 900.0, 200.0])
    cam = look_at(eye, target, focal=(1200.0, 1100.0), image_size=(640, 480))
    axis = (target - eye) / np.linalg.norm(target - eye)
    assert np.allclose(cam.optical_axis, axis)
    assert np.allclose(cam.center, eye)
    assert np.allclose(cam.project(target), [320.0, 240.0])  # principal point = image centre
    assert np.allclose(cam.R @ cam.R.T, np.eye(3)) and np.linalg.det(cam.R) == pytest.approx(1.0)
    # world up appears up in the image (smaller y), and the camera x axis is horizontal
    assert cam.project(target + [0.0, 100.0, 0.0])[1] < 240.0
    assert abs(cam.R[0] @ [0.0, 1.0, 0.0]) < 1e-12
    # from +Z looking at the origin (Y up), world +X is to the right
    front = look_at([0.0, 0.0, 5000.0], [0.0, 0.0, 0.0])
    assert front.project([100.0, 0.0, 0.0])[0] > 500.0
    with pytest.raises(ValueError, match="parallel"):
        look_at([0.0, 5.0, 0.0], [0.0, 0.0, 0.0])


def test_random_camera_ranges_and_reproducibility():
    target = np.array([200.0, 900.0, -300.0])
    kw = dict(target=target, focal_range=(900.0, 1100.0), distance_range=(3000.0, 4000.0),
              elevation_range_deg=(5.0, 25.0), azimuth_range_deg=(-45.0, 45.0), image_size=(800, 600))
    for seed in range(20):
        cam = random_camera(np.random.default_rng(seed), **kw)
        offset = cam.center - target
        d = np.linalg.norm(offset)
        assert 3000.0 <= d <= 4000.0
        assert 900.0 <= cam.K[0, 0] == cam.K[1, 1] <= 1100.0
        assert 5.0 <= np.degrees(np.arcsin(offset[1] / d)) <= 25.0
        assert -45.0 <= np.degrees(np.arctan2(offset[0], offset[2])) <= 45.0  # azimuth 0 = +Z, 90 = +X
        assert np.allclose(cam.project(target), [400.0, 300.0])
    a = random_camera(np.random.default_rng(7), **kw)
    b = random_camera(np.random.default_rng(7), **kw)
    assert np.array_equal(a.R, b.R) and np.array_equal(a.t, b.t) and np.array_equal(a.K, b.K)
    with pytest.raises(TypeError, match="Generator"):
        random_camera(7)


def test_validation_and_immutability():
    K = np.array([[1000.0, 0, 500], [0, 1000, 500], [0, 0, 1]])
    R = np.eye(3)
    t = np.array([0.0, 0, 5000])
    cam = Camera(K, R, t, None, (1000, 1000))
    K[0, 0] = 1.0  # the camera holds a copy
    assert cam.K[0, 0] == 1000.0
    with pytest.raises(ValueError):
        cam.K[0, 0] = 2.0
    with pytest.raises(ValueError, match="R must be a rotation"):
        Camera(np.diag([1000.0, 1000, 1]), np.diag([1.0, 1, -1]), t)
    with pytest.raises(ValueError, match=r"dist must have shape \(5,\)"):
        Camera(np.diag([1000.0, 1000, 1]), R, t, [0.1, 0.2])
    with pytest.raises(ValueError, match="K must have shape"):
        Camera(np.eye(2), R, t)
    with pytest.raises(ValueError, match=r"points must have shape \(..., 3\)"):
        cam.project(np.zeros((4, 2)))
