"""Joint angles on hand-built poses with known answers, in 2D and 3D, for several skeletons."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.analysis.angles import angle_at, joint_angles, pose_angles, trunk_lean
from posekit.skeletons import blazepose33, coco17, h36m17, lsp14, mpii16
from posekit.types import Poses


def _pose(skeleton, points: dict[str, tuple[float, ...]], dim: int = 2) -> np.ndarray:
    """(K, dim) array with the named points set and every other keypoint NaN."""
    out = np.full((skeleton.num_keypoints, dim), np.nan)
    for name, p in points.items():
        out[skeleton.index(name)] = p
    return out


# Image pixels, y down. Upright trunk (shoulders above hips); left leg straight; right knee bent at 90 deg; left arm
# hanging straight (shoulder 0, elbow 180); right arm out horizontally (shoulder 90) with the forearm up (elbow 90).
_POINTS_2D = {
    "left_shoulder": (120, 100), "right_shoulder": (80, 100),
    "left_elbow": (120, 160), "right_elbow": (20, 100),
    "left_wrist": (120, 220), "right_wrist": (20, 40),
    "left_hip": (120, 200), "right_hip": (80, 200),
    "left_knee": (120, 300), "right_knee": (80, 300),
    "left_ankle": (120, 400), "right_ankle": (-20, 300),
}
_EXPECTED = {
    "left_knee": 180.0, "right_knee": 90.0, "left_elbow": 180.0, "right_elbow": 90.0,
    "left_shoulder": 0.0, "right_shoulder": 90.0, "trunk_lean": 0.0, "left_hip": 180.0, "right_hip": 180.0,
}


def test_angle_at_basic():
    np.testing.assert_allclose(angle_at([1, 0], [0, 0], [0, 1]), 90.0)
    np.testing.assert_allclose(angle_at([1, 0, 0], [0, 0, 0], [-1, 0, 0]), 180.0)
    np.testing.assert_allclose(angle_at([1, 0], [0, 0], [1, 1]), 45.0)
    assert np.isnan(angle_at([0, 0], [0, 0], [1, 1]))  # zero-length segment
    assert np.isnan(angle_at([np.nan, 0], [0, 0], [1, 1]))


@pytest.mark.parametrize("skeleton", [coco17, blazepose33, mpii16, lsp14], ids=lambda s: s.name)
def test_2d_right_angle_and_straight_leg(skeleton):
    pts = _pose(skeleton, _POINTS_2D)
    angles = joint_angles(pts, skeleton)
    for name, want in _EXPECTED.items():
        np.testing.assert_allclose(angles[name], want, atol=1e-6, err_msg=name)


def test_h36m_uses_foot_for_ankle_and_3d():
    """H36M-17 names the ankle ``*_foot``; 3D points in metres, y down; a 90 deg knee bend pointing at the camera
    (z) is invisible in the 2D projection (x, y) but measured in 3D."""
    pts3 = {
        "left_hip": (0.1, 0.0, 0.0), "left_knee": (0.1, 0.45, 0.0), "left_foot": (0.1, 0.45, -0.45),
        "right_hip": (-0.1, 0.0, 0.0), "right_knee": (-0.1, 0.45, 0.0), "right_foot": (-0.1, 0.9, 0.0),
        "left_shoulder": (0.15, -0.5, 0.2), "right_shoulder": (-0.15, -0.5, 0.2),
    }
    x3 = _pose(h36m17, pts3, dim=3)
    a3 = joint_angles(x3, h36m17)
    np.testing.assert_allclose(a3["left_knee"], 90.0, atol=1e-9)
    np.testing.assert_allclose(a3["right_knee"], 180.0, atol=1e-9)
    np.testing.assert_allclose(a3["trunk_lean"], np.degrees(np.arctan2(0.2, 0.5)), atol=1e-9)  # leaning forward
    a2 = joint_angles(x3[:, :2], h36m17)  # the (x, y) projection: the shin points at the camera
    assert np.isnan(a2["left_knee"])  # the foot projects onto the knee: a zero-length shin, angle undefined
    np.testing.assert_allclose(a2["trunk_lean"], 0.0, atol=1e-9)  # the forward lean vanishes in projection
    assert np.isnan(a3["left_elbow"])  # no elbows given


def test_trunk_lean_and_custom_up():
    pts = _pose(coco17, {"left_hip": (10, 100), "right_hip": (-10, 100),
                         "left_shoulder": (110, 0), "right_shoulder": (90, 0)})
    np.testing.assert_allclose(trunk_lean(pts, coco17), 45.0)
    np.testing.assert_allclose(trunk_lean(pts, coco17, up=np.array([1.0, 0.0])), 45.0)
    np.testing.assert_allclose(trunk_lean(pts, coco17, up=np.array([0.0, 1.0])), 135.0)
    with pytest.raises(ValueError, match="up must have shape"):
        trunk_lean(pts, coco17, up=np.array([0.0, 1.0, 0.0]))


def test_batched_shapes_missing_and_scores():
    one = _pose(coco17, _POINTS_2D)
    traj = np.stack([one, one, one])  # (T, K, 2)
    scores = np.ones(traj.shape[:2])
    scores[1, coco17.index("right_ankle")] = 0.1
    traj[2, coco17.index("left_knee")] = np.nan
    a = joint_angles(traj, coco17, scores=scores, min_score=0.5)
    assert a["right_knee"].shape == (3,)
    np.testing.assert_allclose(a["right_knee"][[0, 2]], 90.0)
    assert np.isnan(a["right_knee"][1])  # low score -> missing
    assert np.isnan(a["left_knee"][2]) and np.isnan(a["left_hip"][2])
    np.testing.assert_allclose(a["left_knee"][:2], 180.0)
    np.testing.assert_array_equal(traj[0], one)  # inputs untouched (NaNs set only in a copy)


def test_pose_angles_2d_and_3d():
    k2 = np.nan_to_num(_pose(coco17, _POINTS_2D), nan=0.0)
    k3 = np.concatenate([k2, np.zeros((17, 1))], axis=1)
    poses = Poses(k2[None], np.ones((1, 17)), [[0, 0, 200, 400]], coco17, keypoints_3d=k3[None])
    a2, a3 = pose_angles(poses), pose_angles(poses, use_3d=True)
    for name in ("left_knee", "right_knee", "right_elbow"):
        np.testing.assert_allclose(a2[name], [_EXPECTED[name]], atol=1e-5)
        np.testing.assert_allclose(a3[name], [_EXPECTED[name]], atol=1e-5)
    with pytest.raises(ValueError, match="keypoints_3d is None"):
        pose_angles(Poses(k2[None], np.ones((1, 17)), [[0, 0, 200, 400]], coco17), use_3d=True)


def test_bad_shapes():
    with pytest.raises(ValueError, match="skeleton 'coco17' has 17"):
        joint_angles(np.zeros((33, 2)), coco17)
    with pytest.raises(ValueError, match=r"\(\.\.\., K, 2\)"):
        joint_angles(np.zeros((17, 4)), coco17)
    with pytest.raises(ValueError, match="scores must have shape"):
        joint_angles(np.zeros((17, 2)), coco17, scores=np.ones(5))
