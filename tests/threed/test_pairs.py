from __future__ import annotations

import numpy as np
import pytest

from posekit.skeletons import h36m17
from posekit.threed.cameras import Camera, random_camera
from posekit.threed.pairs import (
    H36M17_DETECTOR_SIGMAS,
    DetectorNoise,
    VirtualCameras,
    apply_detector_noise,
    clip_subject,
    person_size,
    project_pairs,
    random_pairs,
    split_by_clip,
    split_by_subject,
)

CLEAN = DetectorNoise(sigma_scale=0.0, outlier_prob=0.0, swap_prob=0.0, drop_prob=0.0)


def test_root_relative_3d_projects_to_the_2d(walk_h36m):
    c = random_camera(np.random.default_rng(0), target=walk_h36m[:, 0].mean(axis=0))
    for cam in (c, Camera(c.K, c.R, c.t, [-0.2, 0.05, 0.001, 0.0, 0.0], c.image_size)):
        p = project_pairs(walk_h36m, cam, clip="02_01")
        assert p.keypoints2d.shape == (len(walk_h36m), 17, 2) and p.joints3d.shape == (len(walk_h36m), 17, 3)
        assert np.all(p.joints3d[:, 0] == 0.0)
        assert np.allclose(cam.project_camera_points(p.joints3d + p.root3d[:, None]), p.keypoints2d, atol=1e-9)
        assert np.allclose(p.keypoints2d, cam.project(walk_h36m), atol=1e-9)
        assert np.array_equal(p.scores, np.ones((len(walk_h36m), 17)))
        # a rigid change of frame: limb lengths unchanged (mm)
        for a, b in h36m17.links:
            assert np.allclose(np.linalg.norm(p.joints3d[:, a] - p.joints3d[:, b], axis=-1),
                               np.linalg.norm(walk_h36m[:, a] - walk_h36m[:, b], axis=-1))


def test_random_pairs_cameras_and_depth(walk_h36m):
    before = walk_h36m.copy()
    views = random_pairs(walk_h36m, np.random.default_rng(3), num_cameras=3, clip="02_01",
                         cameras=VirtualCameras(min_depth=2000.0))
    assert np.array_equal(walk_h36m, before)  # input untouched
    assert len(views) == 3 and len({tuple(v.camera.center.round(3)) for v in views}) == 3
    for v in views:
        assert (v.joints3d + v.root3d[:, None])[..., 2].min() >= 2000.0
        assert np.array_equal(v.keypoints2d, v.keypoints2d_clean) and v.clip == "02_01"
    again = random_pairs(walk_h36m, np.random.default_rng(3), num_cameras=3, cameras=VirtualCameras(min_depth=2000.0))
    assert all(np.array_equal(a.keypoints2d, b.keypoints2d) for a, b in zip(views, again))
    with pytest.raises(ValueError, match="raise distance_range"):
        VirtualCameras(distance_range=(500.0, 600.0), max_tries=5).sample(np.random.default_rng(0), walk_h36m)
    with pytest.raises(ValueError, match=r"\(T, 17, 3\)"):
        random_pairs(walk_h36m[:, :16], np.random.default_rng(0))


def _many_frames(walk_h36m, n=60):
    cam = random_camera(np.random.default_rng(5), target=walk_h36m[:, 0].mean(axis=0))
    kp = project_pairs(walk_h36m, cam).keypoints2d
    return np.concatenate([kp] * n)  # ~5000 frames: tight statistics


def test_jitter_statistics(walk_h36m):
    kp = _many_frames(walk_h36m)
    noise = DetectorNoise(sigma_scale=0.4, outlier_prob=0.0, swap_prob=0.0, drop_prob=0.0)
    noisy, scores = apply_detector_noise(kp, np.random.default_rng(0), noise)
    rel = (noisy - kp) / person_size(kp)[:, None, None]  # (T, 17, 2) in units of the person's size
    expected = 0.4 * np.asarray(H36M17_DETECTOR_SIGMAS)
    assert np.allclose(rel.std(axis=(0, 2)), expected, rtol=0.05)
    assert np.abs(rel.mean(axis=(0, 2))).max() < 0.05 * expected.min() * 3
    assert scores.min() > 0.0 and scores.max() <= 1.0
    d = np.linalg.norm(noisy - kp, axis=-1)
    assert np.corrcoef(d.ravel(), scores.ravel())[0, 1] < -0.5  # accurate joints are the confident ones


def test_outliers_drops_and_swaps(walk_h36m):
    kp = _many_frames(walk_h36m)
    s = person_size(kp)[:, None]
    noise = DetectorNoise(sigma_scale=0.0, outlier_prob=0.1, outlier_radius=0.3, swap_prob=0.0, drop_prob=0.2)
    noisy, scores = apply_detector_noise(kp, np.random.default_rng(1), noise)
    moved = np.linalg.norm(noisy - kp, axis=-1) / s
    assert abs((moved > 0).mean() - 0.1) < 0.01 and moved.max() <= 0.3 + 1e-9
    assert abs((scores == 0).mean() - 0.2) < 0.01
    swapped, _ = apply_detector_noise(kp, np.random.default_rng(2), DetectorNoise(
        sigma_scale=0.0, outlier_prob=0.0, swap_prob=1.0, drop_prob=0.0))
    for a, b in h36m17.flip_pairs:
        assert np.array_equal(swapped[:, a], kp[:, b]) and np.array_equal(swapped[:, b], kp[:, a])
    clean, ones = apply_detector_noise(kp, np.random.default_rng(2), CLEAN)
    assert np.array_equal(clean, kp) and np.all(ones == 1.0)
    with pytest.raises(ValueError, match="probability"):
        DetectorNoise(drop_prob=1.5)
    with pytest.raises(ValueError, match=r"\(T, K, 2\)"):
        apply_detector_noise(kp[0], np.random.default_rng(0))


def test_random_pairs_with_noise(walk_h36m):
    (v,) = random_pairs(walk_h36m, np.random.default_rng(4), noise=DetectorNoise())
    err = np.linalg.norm(v.keypoints2d - v.keypoints2d_clean, axis=-1)
    assert 0 < np.median(err) < 0.05 * person_size(v.keypoints2d_clean).mean()


def test_splits_are_by_clip_and_subject():
    ids = ["01_01", "01_02", "02_01", "02_03", "03_01", "39_07", "113_25", "02_05"]
    assert clip_subject("113_25") == "113" and clip_subject("x/asf_amc/subjects/02/02_01.amc") == "02"
    train, test = split_by_subject(ids, test_subjects=["02"])
    assert test == ["02_01", "02_03", "02_05"] and set(train) | set(test) == set(ids)
    assert not {clip_subject(c) for c in train} & {"02"}
    tr, te = split_by_clip(ids, test_fraction=0.25, seed=1)
    assert len(te) == 2 and not set(tr) & set(te) and sorted(tr + te) == sorted(ids)
    assert split_by_clip(list(reversed(ids)), test_fraction=0.25, seed=1)[1] == list(reversed(te))  # order-free
    with pytest.raises(ValueError, match="unique"):
        split_by_clip(["02_01", "a/02_01.bvh"])
    with pytest.raises(ValueError, match="subject"):
        clip_subject("walk")
    with pytest.raises(ValueError, match="no clip"):
        split_by_subject(ids, test_subjects=["99"])


def test_off_axis_cameras_turn_away_from_the_target_by_the_drawn_angle(walk_h36m):
    cams = VirtualCameras(off_axis_deg=(10.0, 10.0), fov_range_deg=(60.0, 60.0), image_sizes=((1920, 1080),))
    target = walk_h36m[:, 0].mean(axis=0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        cam = cams.sample(rng, walk_h36m)
        p = cam.world_to_camera(target[None])[0]
        assert np.degrees(np.arccos(p[2] / np.linalg.norm(p))) == pytest.approx(10.0, abs=1e-9)
        assert cam.image_size == (1920, 1080) and cam.K[0, 0] == pytest.approx(960.0 / np.tan(np.pi / 6))
    with pytest.raises(ValueError, match="off_axis_deg"):
        VirtualCameras(off_axis_deg=(20.0, 10.0))
    with pytest.raises(ValueError, match="fov_range_deg"):
        VirtualCameras(fov_range_deg=(0.0, 60.0))
    with pytest.raises(ValueError, match="inside the image"):  # a 1-degree lens cannot see a whole walk
        VirtualCameras(fov_range_deg=(1.0, 1.0), keep_in_image=True, max_tries=3).sample(rng, walk_h36m)
