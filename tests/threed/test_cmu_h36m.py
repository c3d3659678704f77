from __future__ import annotations

import numpy as np
import pytest

from posekit.skeletons import h36m17
from posekit.threed import asf_amc, bvh, cmu_h36m
from tests.conftest import shared_path

UP = np.array([0.0, 1.0, 0.0])
J = {n: i for i, n in enumerate(h36m17.keypoints)}
# (joint a, joint b, min mm, max mm): plausible adult segment lengths; the last two span the flexible spine/neck
BONES = [
    ("left_hip", "left_knee", 350, 500), ("right_hip", "right_knee", 350, 500),
    ("left_knee", "left_foot", 330, 500), ("right_knee", "right_foot", 330, 500),
    ("left_shoulder", "left_elbow", 220, 350), ("right_shoulder", "right_elbow", 220, 350),
    ("left_elbow", "left_wrist", 170, 300), ("right_elbow", "right_wrist", 170, 300),
    ("root", "left_hip", 60, 160), ("root", "right_hip", 60, 160),
    ("root", "thorax", 300, 600), ("thorax", "head", 150, 350),
]


def _check_bones(h: np.ndarray, *, slack: float = 0.0) -> None:
    """``slack``: widen the ranges by this fraction (the CMU calibrations vary: subject 12's thigh is 336 mm)."""
    for a, b, lo, hi in BONES:
        d = np.linalg.norm(h[:, J[a]] - h[:, J[b]], axis=-1)
        assert lo * (1 - slack) < d.mean() < hi * (1 + slack), (a, b, d.mean())
        if (a, b) not in {("root", "thorax"), ("thorax", "head")}:  # rigid segments
            assert d.std() < 1e-6 * d.mean(), (a, b)


def _facing(h: np.ndarray) -> np.ndarray:
    """(T, 3) horizontal unit 'forward' of a Y-up subject whose left hip is h[:, left_hip]."""
    f = np.cross(h[:, J["left_hip"]] - h[:, J["right_hip"]], UP)
    return f / np.linalg.norm(f, axis=-1, keepdims=True)


def _walk_direction(h: np.ndarray) -> np.ndarray:
    v = np.gradient(h[:, J["root"]], axis=0) * np.array([1.0, 0.0, 1.0])
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_amc_walk_sides_lengths_and_placement(cmu_amc_dir, walk_h36m):
    h = walk_h36m
    assert h.shape[1:] == (17, 3) and h.shape[0] == len(range(0, 343, 4))
    _check_bones(h)
    # left/right: the subject walks (and the toes point) where cross(left - right, up) points
    assert np.mean(np.sum(_facing(h) * _walk_direction(h), axis=-1)) > 0.8
    sk = asf_amc.read_asf(cmu_amc_dir / "02.asf")
    raw = asf_amc.forward_kinematics(sk, asf_amc.read_amc(cmu_amc_dir / "02_01.amc"))[::4]
    n = sk.joint_names
    toes = raw[:, n.index("lfoot")] - raw[:, n.index("ltibia")]
    assert np.mean(np.sum(_facing(h) * toes, axis=-1) > 0) > 0.9
    # the documented placement
    assert np.allclose(h[:, J["left_hip"]], raw[:, n.index("lhipjoint")])
    assert np.allclose(h[:, J["right_knee"]], raw[:, n.index("rfemur")])
    assert np.allclose(h[:, J["root"]], (h[:, J["left_hip"]] + h[:, J["right_hip"]]) / 2)
    assert np.allclose(h[:, J["spine"]], (h[:, J["root"]] + h[:, J["thorax"]]) / 2)
    assert np.allclose(h[:, J["head"]], raw[:, n.index("head")])
    # head above thorax above pelvis above knees for an upright walk
    y = h[..., 1]
    assert np.all(y[:, J["head"]] > y[:, J["thorax"]]) and np.all(y[:, J["thorax"]] > y[:, J["root"]])
    assert np.all(y[:, J["root"]] > y[:, J["left_knee"]])


@pytest.mark.parametrize("clip", ["02_01", "39_07"])
def test_bvh_walk_sides_and_lengths(cmu_bvh_dir, clip):
    h = cmu_h36m.load_bvh_h36m17(cmu_bvh_dir / f"{clip}.bvh", stride=2)
    _check_bones(h)
    assert np.mean(np.sum(_facing(h) * _walk_direction(h), axis=-1)) > 0.8


def test_bvh_and_amc_of_the_same_trial_agree_on_the_legs(cmu_bvh_dir, walk_h36m):
    h = cmu_h36m.load_bvh_h36m17(cmu_bvh_dir / "02_01.bvh", stride=4)
    legs = [J[k] for k in ("root", "left_hip", "left_knee", "left_foot", "right_hip", "right_knee", "right_foot")]
    assert np.abs(h[:, legs] - walk_h36m[:, legs]).max() < 0.05


def test_placement_matrix_rows_and_errors():
    names = ("root",) + tuple(f"b{i}" for i in range(3))
    with pytest.raises(ValueError, match="rhipjoint"):
        cmu_h36m.placement_matrix(names, cmu_h36m.ASF_TO_H36M17)
    with pytest.raises(ValueError, match="shape"):
        cmu_h36m.to_h36m17(np.zeros((2, 3, 3)), names, cmu_h36m.ASF_TO_H36M17)
    for table in (cmu_h36m.ASF_TO_H36M17, cmu_h36m.BVH_TO_H36M17):
        assert [t for t, _ in table] == list(h36m17.keypoints)
        assert all(abs(sum(w for _, w in src) - 1.0) < 1e-12 for _, src in table)
    assert cmu_h36m.CMU_LENGTH_UNIT_MM == pytest.approx(56.4444, abs=1e-4)


@pytest.mark.slow
def test_all_cmu_clips_plausible(tmp_path):
    """Every AMC (subjects 01-03) and BVH walk cycle: h36m bone lengths plausible and constant."""
    from posekit.threed.mocap_archive import extract_members

    amc = extract_members(shared_path("data", "mocap", "cmu", "cmu_asf_amc.tar.xz"), ["*.asf", "*.amc"], tmp_path)
    clips = [p for p in amc if p.suffix == ".amc"]
    assert len(clips) == 28
    for clip in clips:
        subject = clip.stem.split("_")[0]
        _check_bones(cmu_h36m.load_amc_h36m17(clip.with_name(f"{subject}.asf"), clip, stride=8), slack=0.25)
    walks = extract_members(shared_path("data", "mocap", "cmu", "cmu_bvh_walkcycles.tar.xz"), ["*.bvh"], tmp_path)
    assert len(walks) == 96
    for path in walks:
        motion = bvh.read_bvh(path)
        raw = bvh.forward_kinematics(motion, scale=cmu_h36m.CMU_LENGTH_UNIT_MM)[::4]
        h = cmu_h36m.to_h36m17(raw, motion.joint_names, cmu_h36m.BVH_TO_H36M17)
        _check_bones(h, slack=0.25)
        # the left toes point forward of the left/right axis (stylised walks turn, so walking direction is weaker)
        toes = raw[:, motion.joint_names.index("LeftToe")] - raw[:, motion.joint_names.index("LeftAnkle")]
        assert np.mean(np.sum(_facing(h) * toes, axis=-1) > 0) > 0.85, path.name
        assert np.mean(np.sum(_facing(h) * _walk_direction(h), axis=-1)) > 0.3, path.name
