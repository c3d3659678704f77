"""The published Human3.6M skeleton table and the bone-length-ratio helpers."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.skeletons import h36m17
from posekit.threed import h36m_stats as hs


def _rest_pose_32() -> np.ndarray:
    """(32, 3) mm: the 32-joint skeleton in its rest pose (offsets summed along the parents)."""
    off = np.array(hs.H36M32_OFFSETS_MM)
    pos = np.zeros((32, 3))
    for j, parent in enumerate(hs.H36M32_PARENTS):
        assert parent < j
        pos[j] = off[j] + (pos[parent] if parent >= 0 else 0.0)
    return pos


def test_bone_table_is_the_published_skeleton_restricted_to_h36m17():
    assert len(hs.H36M32_PARENTS) == len(hs.H36M32_OFFSETS_MM) == 32
    assert hs.H36M32_PARENTS[:4] == (-1, 0, 1, 2)
    assert tuple(hs.H36M17_BONE_LENGTHS_MM) == hs.H36M17_BONES
    assert len(hs.H36M17_BONES) == 16 and {b for _, b in hs.H36M17_BONES} == set(h36m17.keypoints) - {"root"}
    # every bone of the table is the distance of its two joints in the 32-joint skeleton (VideoPose3D's 17)
    joints = _rest_pose_32()[list(hs.H36M17_FROM_32)]
    table = np.array([hs.H36M17_BONE_LENGTHS_MM[b] for b in hs.H36M17_BONES])
    np.testing.assert_allclose(hs.bone_lengths(joints), table, atol=1e-3)
    # the shoulders' 32-joint parents (16 / 24) sit exactly on the thorax (13): VideoPose3D re-parents them
    pos = _rest_pose_32()
    np.testing.assert_allclose(pos[16], pos[13])
    np.testing.assert_allclose(pos[24], pos[13])
    # headline numbers quoted in issue #18 and the docs
    t = hs.H36M17_BONE_LENGTHS_MM
    assert t[("left_elbow", "left_wrist")] == pytest.approx(251.7, abs=0.1)
    assert t[("root", "spine")] + t[("spine", "thorax")] == pytest.approx(490.6, abs=0.1)
    assert t[("root", "left_hip")] == pytest.approx(132.9, abs=0.1)


def test_ratios_are_scale_free_and_zero_error_on_the_reference():
    joints = _rest_pose_32()[list(hs.H36M17_FROM_32)]
    np.testing.assert_allclose(hs.ratio_errors(joints), 0.0, atol=1e-5)
    np.testing.assert_allclose(hs.ratio_errors(np.stack([joints * 0.9, joints * 0.9])), 0.0, atol=1e-5)
    longer_forearm = joints.copy()
    w, e = h36m17.index("left_wrist"), h36m17.index("left_elbow")
    longer_forearm[w] = joints[e] + 1.2 * (joints[w] - joints[e])
    err = hs.ratio_errors(longer_forearm)
    i = hs.H36M17_BONES.index(("left_elbow", "left_wrist"))
    assert err[i] > 0.1 and np.all(err[np.arange(16) != i] < 0)  # the limb sum grew: the others shrink
    assert len(hs.LIMB_BONES) == 8
    ratios = hs.bone_length_ratios(hs.bone_lengths(joints))
    assert ratios[list(hs.LIMB_BONES)].sum() == pytest.approx(1.0)


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, 3\)"):
        hs.bone_lengths(np.zeros((4, 16, 3)))
    with pytest.raises(ValueError, match=r"\(\.\.\., 16\)"):
        hs.bone_length_ratios(np.zeros((4, 15)))
