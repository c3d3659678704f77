from __future__ import annotations

import time

import numpy as np
import pytest

from posekit.skeletons import h36m17
from posekit.threed import asf_amc, bvh, cmu_h36m, h36m_stats
from tests.conftest import shared_path

UP = np.array([0.0, 1.0, 0.0])
J = {n: i for i, n in enumerate(h36m17.keypoints)}
# (joint a, joint b, min mm, max mm): plausible adult segment lengths; the last two span the flexible spine/neck
BONES = [
    ("left_hip", "left_knee", 350, 500), ("right_hip", "right_knee", 350, 500),
    ("left_knee", "left_foot", 330, 500), ("right_knee", "right_foot", 330, 500),
    ("left_shoulder", "left_elbow", 220, 350), ("right_shoulder", "right_elbow", 220, 350),
    ("left_elbow", "left_wrist", 200, 300), ("right_elbow", "right_wrist", 200, 300),
    ("root", "left_hip", 80, 200), ("root", "right_hip", 80, 200),  # BVH subject 141: 239 mm (wide CMU fit)
    ("root", "thorax", 380, 600), ("thorax", "head", 150, 350),
]
# segments on one CMU bone (or fixed to the pelvis) stay rigid; the widened hips and narrowed shoulders move the
# thigh and upper arm off the CMU rotation centres, so those vary a little (documented in cmu_h36m)
RIGID = {("left_knee", "left_foot"), ("right_knee", "right_foot"), ("left_elbow", "left_wrist"),
         ("right_elbow", "right_wrist"), ("root", "left_hip"), ("root", "right_hip")}
NEAR_RIGID = {("left_hip", "left_knee"), ("right_hip", "right_knee"), ("left_shoulder", "left_elbow"),
              ("right_shoulder", "right_elbow")}
# bones that are CMU's own femur / humerus: their proportions are the subject's, not the placement's
OWN_BONES = {("left_hip", "left_knee"), ("right_hip", "right_knee"), ("left_shoulder", "left_elbow"),
             ("right_shoulder", "right_elbow")}


def _check_bones(h: np.ndarray, *, slack: float = 0.0) -> None:
    """``slack``: widen the ranges by this fraction (the CMU calibrations vary: subject 12's thigh is 336 mm)."""
    for a, b, lo, hi in BONES:
        d = np.linalg.norm(h[:, J[a]] - h[:, J[b]], axis=-1)
        assert lo * (1 - slack) < d.mean() < hi * (1 + slack), (a, b, d.mean())
        if (a, b) in RIGID:
            assert d.std() < 1e-6 * d.mean(), (a, b)
        elif (a, b) in NEAR_RIGID:
            assert d.std() < 0.1 * d.mean(), (a, b, d.std())


def _facing(h: np.ndarray) -> np.ndarray:
    """(T, 3) horizontal unit 'forward' of a Y-up subject whose left hip is h[:, left_hip]."""
    f = np.cross(h[:, J["left_hip"]] - h[:, J["right_hip"]], UP)
    return f / np.linalg.norm(f, axis=-1, keepdims=True)


def _walk_direction(h: np.ndarray) -> np.ndarray:
    v = np.gradient(h[:, J["root"]], axis=0) * np.array([1.0, 0.0, 1.0])
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return a + t * (b - a)


def test_amc_walk_sides_lengths_and_placement(cmu_amc_dir, walk_h36m):
    h = walk_h36m
    assert h.shape[1:] == (17, 3) and h.shape[0] == len(range(0, 343, 4))
    _check_bones(h)
    # left/right: the subject walks (and the toes point) where cross(left - right, up) points
    assert np.mean(np.sum(_facing(h) * _walk_direction(h), axis=-1)) > 0.8
    sk = asf_amc.read_asf(cmu_amc_dir / "02.asf")
    raw = asf_amc.forward_kinematics(sk, asf_amc.read_amc(cmu_amc_dir / "02_01.amc"))[::4]
    n = sk.joint_names
    p = {name: raw[:, n.index(name)] for name in n}
    toes = p["lfoot"] - p["ltibia"]
    assert np.mean(np.sum(_facing(h) * toes, axis=-1) > 0) > 0.9
    # the documented placement
    root = (p["lhipjoint"] + p["rhipjoint"]) / 2
    np.testing.assert_allclose(h[:, J["root"]], root, atol=1e-9)
    np.testing.assert_allclose(h[:, J["left_hip"]], _lerp(root, p["lhipjoint"], cmu_h36m.HIP_WIDTH), atol=1e-9)
    np.testing.assert_allclose(h[:, J["right_knee"]], p["rfemur"], atol=1e-9)
    np.testing.assert_allclose(h[:, J["spine"]], _lerp(p["lowerback"], p["upperback"], cmu_h36m.SPINE_AT),
                               atol=1e-9)
    thorax = _lerp(p["thorax"], p["lowerneck"], cmu_h36m.THORAX_AT)
    np.testing.assert_allclose(h[:, J["thorax"]], thorax, atol=1e-9)
    np.testing.assert_allclose(h[:, J["neck_base"]], _lerp(p["lowerneck"], p["upperneck"], cmu_h36m.NECK_AT),
                               atol=1e-9)
    np.testing.assert_allclose(h[:, J["head"]], _lerp(p["upperneck"], p["head"], cmu_h36m.HEAD_AT), atol=1e-9)
    np.testing.assert_allclose(h[:, J["left_shoulder"]], _lerp(thorax, p["lclavicle"], cmu_h36m.SHOULDER_AT),
                               atol=1e-9)
    np.testing.assert_allclose(h[:, J["left_wrist"]], _lerp(p["lhumerus"], p["lwrist"], cmu_h36m.WRIST_AT),
                               atol=1e-9)
    # evidence for the wrist: CMU's wrist bone continues the radius in a straight line at half its length, so the
    # radius end is a mid-forearm (twist) point and the wrist lies beyond it on the same line
    radius, wrist_bone = p["lradius"] - p["lhumerus"], p["lwrist"] - p["lradius"]
    np.testing.assert_allclose(wrist_bone, cmu_h36m.CMU_WRIST_BONE * radius, atol=1e-6)
    beyond = np.linalg.norm(h[:, J["left_wrist"]] - p["lhumerus"], axis=-1) / np.linalg.norm(radius, axis=-1)
    assert np.all(beyond > 1.25) and np.all(beyond < 1.35)
    # head above neck above thorax above spine above pelvis above knees for an upright walk
    y = h[..., 1]
    for upper, lower in (("head", "neck_base"), ("neck_base", "thorax"), ("thorax", "spine"), ("spine", "root"),
                         ("root", "left_knee")):
        assert np.all(y[:, J[upper]] > y[:, J[lower]]), (upper, lower)


@pytest.mark.parametrize("clip", ["02_01", "39_07"])
def test_bvh_walk_sides_and_lengths(cmu_bvh_dir, clip):
    h = cmu_h36m.load_bvh_h36m17(cmu_bvh_dir / f"{clip}.bvh", stride=2)
    _check_bones(h)
    assert np.mean(np.sum(_facing(h) * _walk_direction(h), axis=-1)) > 0.8


def test_bvh_and_amc_of_the_same_trial_agree(cmu_bvh_dir, walk_h36m):
    """The BVH lacks CMU's thorax and wrist bones; rebuilt, its upper body matches the AMC's within 1.5 cm
    (without them the thorax would sit ~117 mm low and the wrist 95 mm short)."""
    h = cmu_h36m.load_bvh_h36m17(cmu_bvh_dir / "02_01.bvh", stride=4)
    legs = [J[k] for k in ("root", "left_hip", "left_knee", "left_foot", "right_hip", "right_knee", "right_foot")]
    assert np.abs(h[:, legs] - walk_h36m[:, legs]).max() < 0.05
    assert np.linalg.norm(h - walk_h36m, axis=-1).max() < 15.0


def test_bone_ratios_match_human36m(cmu_amc_dir, cmu_bvh_dir, walk_h36m):
    """Per clip, every bone's share of the limb length is within 12 % of Human3.6M's (subject 02 and 39; the
    version-1 placement was 17 % short on the forearms, 31 % on the hips, 69 % long on thorax -> neck); the
    forearm, which the placement sets, within 6 %."""
    clips = [walk_h36m, cmu_h36m.load_amc_h36m17(cmu_amc_dir / "02.asf", cmu_amc_dir / "02_03.amc", stride=4),
             cmu_h36m.load_bvh_h36m17(cmu_bvh_dir / "02_01.bvh", stride=2),
             cmu_h36m.load_bvh_h36m17(cmu_bvh_dir / "39_07.bvh", stride=2)]
    forearms = [h36m_stats.H36M17_BONES.index(b) for b in (("left_elbow", "left_wrist"),
                                                          ("right_elbow", "right_wrist"))]
    for h in clips:
        err = h36m_stats.ratio_errors(h)
        assert np.all(np.abs(err) < 0.12), dict(zip(h36m_stats.H36M17_BONES, np.round(err, 3)))
        assert np.all(np.abs(err[forearms]) < 0.06), err[forearms]


def test_conversion_is_deterministic_and_fast(cmu_amc_dir):
    t0 = time.perf_counter()
    a = cmu_h36m.load_amc_h36m17(cmu_amc_dir / "02.asf", cmu_amc_dir / "02_01.amc")
    elapsed = time.perf_counter() - t0
    b = cmu_h36m.load_amc_h36m17(cmu_amc_dir / "02.asf", cmu_amc_dir / "02_01.amc")
    np.testing.assert_array_equal(a, b)
    assert elapsed < 2.0, elapsed  # 343 frames at 120 fps; ~0.02 s here
    # affine: moving the capture moves the joints with it
    sk = asf_amc.read_asf(cmu_amc_dir / "02.asf")
    raw = asf_amc.forward_kinematics(sk, asf_amc.read_amc(cmu_amc_dir / "02_01.amc"))[:5]
    shift = np.array([100.0, -20.0, 3.0])
    np.testing.assert_allclose(cmu_h36m.to_h36m17(raw + shift, sk.joint_names, cmu_h36m.ASF_TO_H36M17),
                               a[:5] + shift, atol=1e-9)


def test_placement_matrix_rows_and_errors():
    names = ("root",) + tuple(f"b{i}" for i in range(3))
    with pytest.raises(ValueError, match="hipjoint"):
        cmu_h36m.placement_matrix(names, cmu_h36m.ASF_TO_H36M17)
    with pytest.raises(ValueError, match="shape"):
        cmu_h36m.to_h36m17(np.zeros((2, 3, 3)), names, cmu_h36m.ASF_TO_H36M17)
    for table in (cmu_h36m.ASF_TO_H36M17, cmu_h36m.BVH_TO_H36M17):
        assert [t for t, _ in table] == list(h36m17.keypoints)
        assert all(abs(sum(w for _, w in src) - 1.0) < 1e-12 for _, src in table)
    assert cmu_h36m.CMU_LENGTH_UNIT_MM == pytest.approx(56.4444, abs=1e-4)
    assert cmu_h36m.PLACEMENT_VERSION >= 2


@pytest.mark.slow
def test_all_cmu_clips_plausible_and_human36m_proportions(tmp_path):
    """Every AMC (subjects 01-03) and BVH walk cycle: h36m bones plausible (rigid where they should be); averaged
    per subject (29), then over subjects, every placed bone's share of the limb length is within 5 % of
    Human3.6M's; CMU's own femur / humerus within 12 % (measured: thigh -6 %, upper arm +10 %)."""
    from posekit.threed.mocap_archive import extract_members

    amc = extract_members(shared_path("data", "mocap", "cmu", "cmu_asf_amc.tar.xz"), ["*.asf", "*.amc"], tmp_path)
    clips = [p for p in amc if p.suffix == ".amc"]
    assert len(clips) == 28
    per_subject: dict[str, list[np.ndarray]] = {}
    for clip in clips:
        subject = clip.stem.split("_")[0]
        h = cmu_h36m.load_amc_h36m17(clip.with_name(f"{subject}.asf"), clip, stride=8)
        _check_bones(h, slack=0.25)
        per_subject.setdefault(subject, []).append(h36m_stats.ratio_errors(h))
    walks = extract_members(shared_path("data", "mocap", "cmu", "cmu_bvh_walkcycles.tar.xz"), ["*.bvh"], tmp_path)
    assert len(walks) == 96
    for path in walks:
        motion = bvh.read_bvh(path)
        raw = bvh.forward_kinematics(motion, scale=cmu_h36m.CMU_LENGTH_UNIT_MM)[::4]
        h = cmu_h36m.to_h36m17(raw, motion.joint_names, cmu_h36m.BVH_TO_H36M17)
        _check_bones(h, slack=0.25)
        per_subject.setdefault(path.stem.split("_")[0], []).append(h36m_stats.ratio_errors(h))
        # the left toes point forward of the left/right axis (stylised walks turn, so walking direction is weaker)
        toes = raw[:, motion.joint_names.index("LeftToe")] - raw[:, motion.joint_names.index("LeftAnkle")]
        assert np.mean(np.sum(_facing(h) * toes, axis=-1) > 0) > 0.85, path.name
        assert np.mean(np.sum(_facing(h) * _walk_direction(h), axis=-1)) > 0.3, path.name
    assert len(per_subject) == 29
    err = np.mean([np.mean(v, axis=0) for v in per_subject.values()], axis=0)
    for bone, e in zip(h36m_stats.H36M17_BONES, err):
        assert abs(e) < (0.12 if bone in OWN_BONES else 0.05), (bone, e)
