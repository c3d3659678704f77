"""Bone-length-preserving pose augmentation (posekit.threed.pose_augment) on real CMU poses and a built T-pose."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.analysis.angles import angle_at
from posekit.skeletons import h36m17
from posekit.threed.pose_augment import (VARIETY, PoseAugment, PoseOffsets, augment_pose, body_axes, knee_angles,
                                         mirror_pose, random_augment, sample_offsets)

NAMES = list(h36m17.keypoints)


def _bones(joints: np.ndarray) -> np.ndarray:
    """Lengths of the h36m17 bones, ``(..., 16)``."""
    links = np.array(h36m17.links)
    return np.linalg.norm(joints[..., links[:, 0], :] - joints[..., links[:, 1], :], axis=-1)


def _standing(frames: int = 3) -> np.ndarray:
    """A person standing straight (legs exactly straight), facing +z, y up, x = their left; metres, root at 0;
    rotated about the vertical by a different angle in each frame."""
    p = {"root": (0, 0, 0), "right_hip": (-0.12, 0, 0), "right_knee": (-0.12, -0.45, 0),
         "right_foot": (-0.12, -0.88, 0), "left_hip": (0.12, 0, 0), "left_knee": (0.12, -0.45, 0),
         "left_foot": (0.12, -0.88, 0), "spine": (0, 0.25, 0), "thorax": (0, 0.5, 0), "neck_base": (0, 0.6, 0.02),
         "head": (0, 0.72, 0.0), "left_shoulder": (0.18, 0.48, 0), "left_elbow": (0.2, 0.2, 0),
         "left_wrist": (0.22, -0.05, 0), "right_shoulder": (-0.18, 0.48, 0), "right_elbow": (-0.2, 0.2, 0),
         "right_wrist": (-0.22, -0.05, 0)}
    pose = np.array([p[n] for n in NAMES], np.float64)
    out = []
    for a in np.linspace(0.0, 2.0, frames):
        c, s = np.cos(a), np.sin(a)
        out.append(pose @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).T)
    return np.stack(out)


def test_body_axes_of_the_standing_pose_and_of_a_real_walk(walk_h36m):
    j = _standing(1)
    left, up, fwd = (v[0] for v in body_axes(j))
    np.testing.assert_allclose([left, up, fwd], np.eye(3), atol=1e-12)
    # CMU (Y up, right-handed): the walker moves the way `forward` points and `up` is the world's up
    left, up, fwd = body_axes(walk_h36m)
    velocity = np.gradient(walk_h36m[:, 0], axis=0)
    assert np.mean(np.sum(velocity * fwd, axis=-1)) > 0.8 * np.mean(np.linalg.norm(velocity, axis=-1))
    assert np.median(up[:, 1]) > 0.95


def test_zero_offsets_are_the_identity_and_inputs_are_not_mutated(walk_h36m):
    before = walk_h36m.copy()
    out = augment_pose(walk_h36m, PoseOffsets())
    np.testing.assert_allclose(out, walk_h36m, rtol=0, atol=1e-9)
    assert out is not walk_h36m and not np.shares_memory(out, walk_h36m)
    offsets = PoseOffsets(hip_flexion_deg=(40, 70), knee_flexion_deg=90, hip_abduction_deg=10, torso_lean_deg=30)
    augment_pose(walk_h36m, offsets, weights=np.linspace(0, 1, len(walk_h36m)))
    random_augment(walk_h36m, np.random.default_rng(0))
    np.testing.assert_array_equal(walk_h36m, before)
    zero_w = augment_pose(walk_h36m, offsets, weights=np.zeros(len(walk_h36m)))
    np.testing.assert_allclose(zero_w, walk_h36m, rtol=0, atol=1e-9)


def test_bone_lengths_are_preserved_exactly(walk_h36m):
    bones = _bones(walk_h36m)
    rng = np.random.default_rng(1)
    aug = PoseAugment(squat_prob=0.5, ramp_prob=0.5)
    for _ in range(20):
        out = random_augment(walk_h36m, rng, aug)
        np.testing.assert_allclose(_bones(out), bones, rtol=1e-12, atol=1e-9)
        assert not np.allclose(out, walk_h36m)  # every draw changes the pose
    big = PoseOffsets(hip_flexion_deg=120, knee_flexion_deg=150, hip_abduction_deg=30, torso_lean_deg=-40)
    np.testing.assert_allclose(_bones(augment_pose(walk_h36m, big)), bones, rtol=1e-12, atol=1e-9)
    # the pelvis (root, hips) never moves
    np.testing.assert_array_equal(augment_pose(walk_h36m, big)[:, [0, 1, 4]], walk_h36m[:, [0, 1, 4]])


@pytest.mark.parametrize("flexion", [10.0, 60.0, 95.0, 140.0])
def test_knee_angle_equals_the_requested_flexion_for_a_straight_leg(flexion):
    j = _standing()
    out = augment_pose(j, PoseOffsets(knee_flexion_deg=(flexion, 0.0)))
    r_knee = angle_at(out[:, 1], out[:, 2], out[:, 3])  # hip - knee - foot
    np.testing.assert_allclose(r_knee, 180.0 - flexion, atol=1e-9)
    np.testing.assert_allclose(knee_angles(out), np.stack([180.0 - np.full(3, flexion), np.full(3, 180.0)], 1),
                               atol=1e-9)
    np.testing.assert_array_equal(out[:, 4:], j[:, 4:])  # the left leg and the upper body are untouched
    # the foot moves backward (against `forward`) and stays in the sagittal plane of the knee
    _, _, fwd = body_axes(j)
    back = np.sum((out[:, 3] - j[:, 3]) * fwd, axis=-1)
    assert np.all(back < 0)
    left, _, _ = body_axes(j)
    np.testing.assert_allclose(np.sum((out[:, 3] - out[:, 2]) * left, axis=-1), 0.0, atol=1e-12)


def test_knee_flexion_adds_to_a_bent_knee_and_is_capped(walk_h36m):
    k0 = knee_angles(walk_h36m)  # interior angles; flexion = 180 - angle
    bent = k0 < 170.0  # bent by > 10 deg: rotation about the knee's own hinge (thigh x shank), exactly additive
    assert bent.mean() > 0.9
    out = augment_pose(walk_h36m, PoseOffsets(knee_flexion_deg=30.0), max_knee_flexion_deg=150.0)
    expected = np.maximum(k0 - 30.0, np.minimum(30.0, k0))  # capped at 150 deg of flexion
    np.testing.assert_allclose(knee_angles(out)[bent], expected[bent], atol=1e-9)
    np.testing.assert_allclose(knee_angles(out)[~bent], expected[~bent], atol=0.2)  # a nearly straight knee
    deep = augment_pose(walk_h36m, PoseOffsets(knee_flexion_deg=170.0), max_knee_flexion_deg=150.0)
    np.testing.assert_allclose(knee_angles(deep)[bent], np.minimum(30.0, k0)[bent], atol=1e-9)


def test_hip_flexion_moves_the_knee_forward_and_the_lean_moves_the_head_forward():
    j = _standing()
    left, up, fwd = body_axes(j)
    out = augment_pose(j, PoseOffsets(hip_flexion_deg=(90.0, 0.0), torso_lean_deg=30.0))
    thigh = out[:, 2] - out[:, 1]
    np.testing.assert_allclose(np.sum(thigh * fwd, axis=-1), 0.45, atol=1e-12)  # horizontal, pointing forward
    np.testing.assert_allclose(np.sum(thigh * up, axis=-1), 0.0, atol=1e-12)
    trunk = out[:, 8] - out[:, 0]  # root -> thorax, 0.5 m, leaned 30 deg forward
    np.testing.assert_allclose(np.sum(trunk * fwd, axis=-1), 0.5 * np.sin(np.deg2rad(30)), atol=1e-12)
    np.testing.assert_allclose(np.sum(trunk * up, axis=-1), 0.5 * np.cos(np.deg2rad(30)), atol=1e-12)
    np.testing.assert_allclose(np.sum(trunk * left, axis=-1), 0.0, atol=1e-12)
    # the hip cap: asking for 150 deg stops the thigh at 130 deg from straight down
    capped = augment_pose(j, PoseOffsets(hip_flexion_deg=150.0), max_hip_flexion_deg=130.0)
    thigh = capped[:, 5] - capped[:, 4]
    angle = np.degrees(np.arctan2(np.sum(thigh * fwd, axis=-1), -np.sum(thigh * up, axis=-1)))
    np.testing.assert_allclose(angle, 130.0, atol=1e-9)
    # abduction moves each knee outward (away from the other leg)
    abd = augment_pose(j, PoseOffsets(hip_abduction_deg=20.0))
    assert np.all(np.sum((abd[:, 5] - j[:, 5]) * left, axis=-1) > 0)
    assert np.all(np.sum((abd[:, 2] - j[:, 2]) * left, axis=-1) < 0)


def test_a_squat_draw_bends_both_legs_into_the_requested_range(walk_h36m):
    aug = PoseAugment(squat_prob=1.0, ramp_prob=0.0)
    rng = np.random.default_rng(5)
    for _ in range(10):
        out = random_augment(walk_h36m, rng, aug)
        flex = 180.0 - knee_angles(out).mean(axis=0)  # mean over the window, per leg
        assert np.all((flex > 60.0 - 1e-6) & (flex < 150.0 + 1e-6)), flex
        _, up, fwd = body_axes(walk_h36m)
        for hip, knee in ((1, 2), (4, 5)):
            thigh = out[:, knee] - out[:, hip]
            angle = np.degrees(np.arctan2(np.sum(thigh * fwd, -1), -np.sum(thigh * up, -1))).mean()
            assert 55.0 < angle < 125.0, angle


def test_draws_are_deterministic_given_the_generator(walk_h36m):
    a = random_augment(walk_h36m, np.random.default_rng(7))
    b = random_augment(walk_h36m, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    o1, o2 = sample_offsets(np.random.default_rng(3)), sample_offsets(np.random.default_rng(3))
    assert o1 == o2
    squat = sample_offsets(np.random.default_rng(3), PoseAugment(squat_prob=1.0),
                           current_knee_flexion_deg=(200.0, 0.0))
    assert squat.knee_flexion_deg[0] == 0.0 and squat.knee_flexion_deg[1] >= 60.0


def test_bad_inputs_raise_clear_errors(walk_h36m):
    with pytest.raises(ValueError, match=r"joints must have shape \(T, 17, 3\)"):
        augment_pose(np.zeros((5, 16, 3)), PoseOffsets())
    with pytest.raises(ValueError, match=r"joints must have shape \(T, 17, 3\)"):
        random_augment(np.zeros((17, 3)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="finite"):
        augment_pose(np.full((2, 17, 3), np.nan), PoseOffsets())
    with pytest.raises(ValueError, match="hip line"):
        augment_pose(np.zeros((2, 17, 3)), PoseOffsets())
    with pytest.raises(ValueError, match=r"weights must have shape \(3,\)"):
        augment_pose(_standing(), PoseOffsets(), weights=np.ones(4))
    with pytest.raises(ValueError, match=r"hip_flexion_deg must be a number or a \(right, left\) pair"):
        PoseOffsets(hip_flexion_deg=(10.0, 20.0, 30.0))
    with pytest.raises(ValueError, match="knee_flexion_deg must be >= 0"):
        PoseOffsets(knee_flexion_deg=(-5.0, 0.0))
    with pytest.raises(ValueError, match="squat_prob"):
        PoseAugment(squat_prob=1.5)
    with pytest.raises(ValueError, match="squat_hip_flexion_deg"):
        PoseAugment(squat_hip_flexion_deg=(120.0, 60.0))
    with pytest.raises(TypeError, match="PoseOffsets"):
        augment_pose(walk_h36m, {"knee_flexion_deg": 30})


def test_elbow_flexion_and_shoulder_flexion_move_the_arm_forward_with_bones_kept():
    j = _standing()
    _, _, fwd = body_axes(j)
    out = augment_pose(j, PoseOffsets(elbow_flexion_deg=(90.0, 0.0)))
    r_elbow = angle_at(out[:, 14], out[:, 15], out[:, 16])  # right shoulder - elbow - wrist
    straight = angle_at(j[:, 14], j[:, 15], j[:, 16])
    np.testing.assert_allclose(r_elbow, straight - 90.0, atol=1.0)  # the built arm is bent by < 1 deg sideways
    assert np.all(np.sum((out[:, 16] - j[:, 16]) * fwd, axis=-1) > 0.1)  # the forearm comes forward
    np.testing.assert_array_equal(out[:, :14], j[:, :14])
    raised = augment_pose(j, PoseOffsets(shoulder_flexion_deg=(0.0, 90.0)))
    arm = raised[:, 12] - raised[:, 11]  # left upper arm now points forward
    assert np.all(np.sum(arm * fwd, axis=-1) > 0.9 * np.linalg.norm(arm, axis=-1))
    np.testing.assert_allclose(_bones(raised), _bones(j), atol=1e-12)


def test_torso_twist_and_side_lean_rotate_the_upper_body_about_the_root():
    j = _standing()
    left, _, fwd = body_axes(j)
    twist = augment_pose(j, PoseOffsets(torso_twist_deg=30.0))
    chest = twist[:, 11] - twist[:, 14]  # right -> left shoulder
    assert np.all(np.sum(chest * fwd, axis=-1) < 0)  # twisted to the left: the left shoulder goes back
    side = augment_pose(j, PoseOffsets(torso_side_lean_deg=20.0))
    assert np.all(np.sum((side[:, 10] - j[:, 10]) * left, axis=-1) > 0.1)  # the head goes to the left
    np.testing.assert_array_equal(side[:, :7], j[:, :7])
    for out in (twist, side):
        np.testing.assert_allclose(_bones(out), _bones(j), atol=1e-12)


@pytest.mark.parametrize("kind", ["sit", "bend", "reach"])
def test_pose_variety_draws(walk_h36m, kind):
    aug = PoseAugment(squat_prob=0.0, ramp_prob=0.0, **{f"{kind}_prob": 1.0})
    rng = np.random.default_rng(11)
    _, up, fwd = body_axes(walk_h36m)
    for _ in range(6):
        out = random_augment(walk_h36m, rng, aug)
        np.testing.assert_allclose(_bones(out), _bones(walk_h36m), rtol=1e-9, atol=1e-9)
        trunk = out[:, 8] - out[:, 0]
        lean = np.degrees(np.arctan2(np.sum(trunk * fwd, -1), np.sum(trunk * up, -1))).mean()
        thigh = np.degrees(np.arctan2(np.sum((out[:, 2] - out[:, 1]) * fwd, -1),
                                      -np.sum((out[:, 2] - out[:, 1]) * up, -1))).mean()
        if kind == "sit":  # thighs about horizontal, torso nearly upright
            assert 60.0 < thigh < 110.0 and -25.0 < lean < 35.0, (thigh, lean)
        elif kind == "bend":  # torso well forward, the wrists low
            assert lean > 35.0, lean
            assert np.mean(np.sum((out[:, 13] - out[:, 0]) * up, -1)) < np.mean(
                np.sum((walk_h36m[:, 13] - walk_h36m[:, 0]) * up, -1))
        else:  # the arms move
            assert np.abs(out[:, 11:] - walk_h36m[:, 11:]).max() > 50.0


def test_mirror_swaps_sides_and_negates_x(walk_h36m):
    out = mirror_pose(walk_h36m)
    np.testing.assert_array_equal(out[:, 4, 0], -walk_h36m[:, 1, 0])
    np.testing.assert_array_equal(out[:, 14, 1:], walk_h36m[:, 11, 1:])
    np.testing.assert_allclose(np.sort(_bones(out), -1), np.sort(_bones(walk_h36m), -1))
    np.testing.assert_array_equal(mirror_pose(out), walk_h36m)
    with pytest.raises(ValueError, match="probabilities|<= 1"):
        PoseAugment(squat_prob=0.6, sit_prob=0.6)
    assert VARIETY.sit_prob > 0 and VARIETY.bend_prob > 0 and VARIETY.reach_prob > 0
