"""Normalisation into the common pose space, checked on constructed poses."""

import numpy as np
import pytest

from posekit import skeletons as sk
from posekit.generalization.posespace import (
    BODY12,
    PoseSet,
    canonical_lr,
    common_mapping,
    flatten,
    mirror_lr,
    normalize_poses,
)

# a frontal COCO-17 pose in image pixels (subject's left on +x, y down)
_TEMPLATE = {
    "nose": (100, 40), "left_eye": (104, 36), "right_eye": (96, 36), "left_ear": (108, 38), "right_ear": (92, 38),
    "left_shoulder": (120, 70), "right_shoulder": (80, 70), "left_elbow": (130, 105), "right_elbow": (70, 105),
    "left_wrist": (135, 140), "right_wrist": (65, 140), "left_hip": (112, 150), "right_hip": (88, 150),
    "left_knee": (114, 200), "right_knee": (86, 200), "left_ankle": (115, 250), "right_ankle": (85, 250),
}


def coco_poses(n, seed=0, noise=8.0):
    base = np.array([_TEMPLATE[k] for k in sk.coco17.keypoints], dtype=np.float64)
    rng = np.random.default_rng(seed)
    return base + rng.normal(0, noise, (n, 17, 2))


def test_root_at_origin_and_torso_length_one():
    kp = coco_poses(20)
    ps = normalize_poses(kp, sk.coco17, dataset="c")
    assert ps.points.shape == (20, 12, 2) and ps.joint_names == BODY12
    c = {n: i for i, n in enumerate(BODY12)}
    mid_hip = 0.5 * (ps.points[:, c["left_hip"]] + ps.points[:, c["right_hip"]])
    mid_sh = 0.5 * (ps.points[:, c["left_shoulder"]] + ps.points[:, c["right_shoulder"]])
    np.testing.assert_allclose(mid_hip, 0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(mid_sh, axis=1), 1.0, rtol=1e-12)
    # the same poses translated and scaled give the same normalised poses; the input is not modified
    kp2 = kp * 3.5 + np.array([400.0, -20.0])
    before = kp2.copy()
    np.testing.assert_allclose(normalize_poses(kp2, sk.coco17).points, ps.points, atol=1e-12)
    np.testing.assert_array_equal(kp2, before)


def test_bone_scale_and_no_scale():
    kp = coco_poses(5)
    ps = normalize_poses(kp, sk.coco17, scale="bones")
    c = {n: i for i, n in enumerate(BODY12)}
    lengths = [np.linalg.norm(ps.points[:, c[a]] - ps.points[:, c[b]], axis=1)
               for s in ("left", "right") for a, b in ((f"{s}_shoulder", f"{s}_elbow"), (f"{s}_elbow", f"{s}_wrist"),
                                                        (f"{s}_hip", f"{s}_knee"), (f"{s}_knee", f"{s}_ankle"))]
    np.testing.assert_allclose(np.mean(lengths, axis=0), 1.0, rtol=1e-12)
    raw = normalize_poses(kp, sk.coco17, scale=None)
    ls = sk.coco17.index("left_shoulder")
    mid = 0.5 * (kp[:, 11] + kp[:, 12])
    np.testing.assert_allclose(raw.points[:, 0], kp[:, ls] - mid)


def test_skeletons_map_to_the_same_points():
    kp = coco_poses(4)
    ref = normalize_poses(kp, sk.coco17).points
    for skel in (sk.lsp14, sk.mpii16, sk.h36m17):
        m = common_mapping(sk.coco17, skel)  # coco17 -> mpii16 goes through lsp14
        other, _ = m.apply(kp)
        np.testing.assert_allclose(normalize_poses(other, skel).points, ref, atol=1e-12)


def test_canonicalisation():
    kp = coco_poses(30, seed=1, noise=15.0)
    ps = normalize_poses(kp, sk.coco17)
    mir = mirror_lr(ps.points, ps.joint_names)
    assert not np.allclose(mir, ps.points)
    np.testing.assert_allclose(mirror_lr(mir, ps.joint_names), ps.points)  # the mirror is an involution
    can = canonical_lr(ps.points, ps.joint_names)
    np.testing.assert_allclose(canonical_lr(can, ps.joint_names), can)  # idempotent
    np.testing.assert_allclose(canonical_lr(mir, ps.joint_names), can, atol=1e-12)  # mirrored pose -> same point
    # an image flip of the input (x -> W - x, left/right relabelled) canonicalises onto the original
    flipped = kp[:, list(sk.coco17.flip_indices)].copy()
    flipped[..., 0] = 640 - flipped[..., 0]
    a = normalize_poses(kp, sk.coco17, canonicalize_lr=True).points
    b = normalize_poses(flipped, sk.coco17, canonicalize_lr=True).points
    np.testing.assert_allclose(a, b, atol=1e-9)
    c = {n: i for i, n in enumerate(BODY12)}
    x = a[..., 0]
    pairs = [(c[n], c[n.replace("left", "right")]) for n in BODY12 if n.startswith("left")]
    assert (sum(x[:, i] + x[:, j] for i, j in pairs) >= -1e-9).all()


def test_body_frame_removes_yaw():
    rng = np.random.default_rng(0)
    base = np.zeros((17, 3))
    base[:, :2] = np.array([_TEMPLATE[k] for k in sk.coco17.keypoints]) / 100.0
    base[:, 2] = rng.normal(0, 0.1, 17)
    out = []
    for t in np.linspace(0, 2 * np.pi, 7):
        rot = np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])  # yaw about y
        out.append(base @ rot.T + np.array([1.0, 2.0, 5.0]))
    ps = normalize_poses(np.stack(out), sk.coco17, frame="body")
    assert ps.frame == "body" and ps.dim == 3
    np.testing.assert_allclose(ps.points, np.broadcast_to(ps.points[0], ps.points.shape), atol=1e-9)
    hips = ps.points[0, BODY12.index("left_hip")] - ps.points[0, BODY12.index("right_hip")]
    assert hips[0] > 0 and abs(hips[2]) < 1e-9
    cam = normalize_poses(np.stack(out), sk.coco17, frame="camera")
    assert not np.allclose(cam.points[1], cam.points[0])


def test_missing_joints_stay_nan_and_poses_are_dropped():
    kp = coco_poses(6)
    scores = np.ones((6, 17))
    kp[0, sk.coco17.index("left_wrist")] = np.nan  # NaN input
    scores[1, sk.coco17.index("right_knee")] = 0.0  # zero score
    scores[2, sk.coco17.index("left_hip")] = 0.0  # no root -> dropped
    scores[3, 5:] = 0.0  # nothing left -> dropped
    kp[4, 5:11] = np.nan  # 6 joints left (legs): too few for min_joints=7 and no shoulders
    ps = normalize_poses(kp, sk.coco17, scores=scores, min_joints=7, dataset="d")
    np.testing.assert_array_equal(ps.indices, [0, 1, 5])
    assert ps.n_input == 6 and ps.n_dropped == 3
    assert np.isnan(ps.points[0, BODY12.index("left_wrist")]).all()
    assert np.isnan(ps.points[1, BODY12.index("right_knee")]).all()
    assert ps.present.sum() == 3 * 12 - 2
    # missing joints are never zero-filled; flatten fills them only when asked, with the set mean
    f = flatten(ps)
    j = BODY12.index("left_wrist")
    np.testing.assert_allclose(f[0, 2 * j:2 * j + 2], np.nanmean(ps.points[:, j], axis=0))
    assert np.isnan(flatten(ps, fill="nan")).sum() == 4
    assert (flatten(ps, fill="zero")[0, 2 * j:2 * j + 2] == 0).all()


def test_clear_errors():
    with pytest.raises(ValueError, match="'face68'.*'coco17'"):
        normalize_poses(np.zeros((2, 68, 2)), sk.face68)
    with pytest.raises(ValueError, match=r"shape \(N, 17, 2 or 3\).*coco17"):
        normalize_poses(np.zeros((2, 14, 2)), sk.coco17)
    with pytest.raises(ValueError, match="scores must have shape"):
        normalize_poses(coco_poses(2), sk.coco17, scores=np.ones((2, 16)))
    with pytest.raises(ValueError, match="'lsp14' and 'coco17' share 0 of the 2"):
        normalize_poses(np.zeros((1, 14, 2)), sk.lsp14, joints=("nose", "left_eye"))
    with pytest.raises(ValueError, match="scale"):
        normalize_poses(coco_poses(2), sk.coco17, scale="height")
    allnan = normalize_poses(np.full((3, 17, 2), np.nan), sk.coco17)
    assert len(allnan) == 0 and allnan.n_dropped == 3
    with pytest.raises(ValueError, match="points must have shape"):
        PoseSet(np.zeros((2, 5, 2)), BODY12)


def test_poses_object_of_another_skeleton():
    from posekit.types import Poses

    kp = coco_poses(3).astype(np.float32)
    blaze = np.random.default_rng(0).uniform(0, 300, (3, 33, 2)).astype(np.float32)
    for name in sk.coco17.keypoints:
        blaze[:, sk.blazepose33.index(name)] = kp[:, sk.coco17.index(name)]
    scores = np.ones((3, 33), np.float32)
    scores[0, sk.blazepose33.index("left_knee")] = 0.0
    poses = Poses(blaze, scores, np.zeros((3, 4), np.float32), sk.blazepose33)
    ps = normalize_poses(poses, dataset="video")
    ref = normalize_poses(kp, sk.coco17).points
    assert ps.source_skeleton == "blazepose33" and np.isnan(ps.points[0, BODY12.index("left_knee")]).all()
    np.testing.assert_allclose(np.nan_to_num(ps.points), np.nan_to_num(ref * ~np.isnan(ps.points)), atol=1e-4)
