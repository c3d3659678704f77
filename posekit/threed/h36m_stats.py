"""Published Human3.6M skeleton statistics (as data, with their sources) and bone-length-ratio checks for h36m17.

Sources
-------
* **Bone lengths** -- the Human3.6M skeleton of the dataset's exponential-map release: the 32 joint offsets (mm,
  rest pose) in ``_some_variables()`` of ``src/forward_kinematics.py`` in github ``una-dinosauria/human-motion-
  prediction`` (Martinez et al., CVPR 2017; ported from ``exp2xyz.m`` of ``asheshjain399/RNNexp``), reproduced in
  :data:`H36M32_OFFSETS_MM`. Every h36m17 joint is one of those 32 joints, so each h36m17 bone length is the distance
  of two joints of that skeleton: :data:`H36M17_BONE_LENGTHS_MM` (the test recomputes it from the offsets).
* **Which 17 joints** -- ``common/h36m_dataset.py`` of github ``facebookresearch/VideoPose3D``: the 32-joint parents
  (:data:`H36M32_PARENTS`, identical to the release's), ``remove_joints([4, 5, 9, 10, 11, 16, 20, 21, 22, 23, 24,
  28, 29, 30, 31])`` keeps :data:`H36M17_FROM_32`, and the shoulders are re-parented to the thorax (the 32-joint
  "shoulder" joints 16/24 coincide with the thorax 13: same offset from the spine joint 12).
* Joint meanings (32-joint index: name): 0 pelvis ("Hips"), 1/6 hips, 2/7 knees, 3/8 ankles ("Foot"), 12 spine
  (centre of the spine), 13 thorax ("Neck": the base of the neck, where the clavicle joints 16/24 start; the
  shoulders 17/25 are 151 mm purely sideways from it in the rest pose), 14 "Neck/Nose" ("Head": the head's pivot),
  15 head ("Site": top of the head), 17/25 shoulders ("Arm"), 18/26 elbows ("ForeArm"), 19/27 wrists ("Hand").

One subject's skeleton: other Human3.6M subjects differ (issue #18 measured a 249 mm forearm and a 505 mm
pelvis-thorax distance on subjects 9 and 11, against 251.7 and 490.5 here). Compare **ratios**, not millimetres:
:func:`bone_length_ratios` divides each bone by the summed length of the eight limb bones (thighs, shins, upper
arms, forearms).
"""

from __future__ import annotations

import numpy as np

from posekit.skeletons import h36m17

__all__ = [
    "H36M17_BONES",
    "H36M17_BONE_LENGTHS_MM",
    "H36M17_FROM_32",
    "H36M32_OFFSETS_MM",
    "H36M32_PARENTS",
    "LIMB_BONES",
    "bone_length_ratios",
    "bone_lengths",
    "ratio_errors",
]

H36M32_PARENTS: tuple[int, ...] = (
    -1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19, 22, 12, 24, 25, 26, 27, 28, 27,
    30,
)
"""Parent of each of the 32 Human3.6M joints (VideoPose3D ``h36m_skeleton``; -1 = root)."""

H36M32_OFFSETS_MM: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.0, 0.0), (-132.948591, 0.0, 0.0), (0.0, -442.894612, 0.0), (0.0, -454.206447, 0.0),
    (0.0, 0.0, 162.767078), (0.0, 0.0, 74.999437), (132.948826, 0.0, 0.0), (0.0, -442.894413, 0.0),
    (0.0, -454.20659, 0.0), (0.0, 0.0, 162.767426), (0.0, 0.0, 74.999948), (0.0, 0.1, 0.0),
    (0.0, 233.383263, 0.0), (0.0, 257.077681, 0.0), (0.0, 121.134938, 0.0), (0.0, 115.002227, 0.0),
    (0.0, 257.077681, 0.0), (0.0, 151.034226, 0.0), (0.0, 278.882773, 0.0), (0.0, 251.733451, 0.0),
    (0.0, 0.0, 0.0), (0.0, 0.0, 99.999627), (0.0, 100.000188, 0.0), (0.0, 0.0, 0.0),
    (0.0, 257.077681, 0.0), (0.0, 151.031437, 0.0), (0.0, 278.892924, 0.0), (0.0, 251.72868, 0.0),
    (0.0, 0.0, 0.0), (0.0, 0.0, 99.999888), (0.0, 137.499922, 0.0), (0.0, 0.0, 0.0),
)
"""Offset (mm, rest pose, in the parent's frame) of each of the 32 joints from its parent (human-motion-prediction
``_some_variables()``: the 96 numbers as 32 triples). Only the lengths matter here: the directions are the release's
axis conventions, the rotations of the motion data re-orient them."""

H36M17_FROM_32: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)
"""32-joint index of each h36m17 joint (``posekit.skeletons.h36m17`` order; VideoPose3D's kept joints)."""

H36M17_BONES: tuple[tuple[str, str], ...] = tuple(
    (h36m17.keypoints[a], h36m17.keypoints[b]) for a, b in h36m17.links)
"""The 16 h36m17 bones as (parent, child) joint names, in ``h36m17.links`` order."""

H36M17_BONE_LENGTHS_MM: dict[tuple[str, str], float] = {
    ("root", "left_hip"): 132.949, ("left_hip", "left_knee"): 442.894, ("left_knee", "left_foot"): 454.207,
    ("root", "right_hip"): 132.949, ("right_hip", "right_knee"): 442.895, ("right_knee", "right_foot"): 454.206,
    ("root", "spine"): 233.483, ("spine", "thorax"): 257.078, ("thorax", "neck_base"): 121.135,
    ("neck_base", "head"): 115.002, ("thorax", "left_shoulder"): 151.034, ("left_shoulder", "left_elbow"): 278.883,
    ("left_elbow", "left_wrist"): 251.733, ("thorax", "right_shoulder"): 151.031,
    ("right_shoulder", "right_elbow"): 278.893, ("right_elbow", "right_wrist"): 251.729,
}
"""Length (mm) of each h36m17 bone in the Human3.6M skeleton above (rest pose; the pelvis-spine distance includes the
0.1 mm "Spine" joint 11). ``thorax -> neck_base`` is Human3.6M's thorax -> "Neck/Nose"."""

LIMB_BONES: tuple[int, ...] = tuple(
    i for i, (a, b) in enumerate(H36M17_BONES)
    if b.endswith(("knee", "foot", "elbow", "wrist")))
"""Indices (into :data:`H36M17_BONES`) of the 8 limb bones whose summed length normalises the ratios."""


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """``(..., 17, 3)`` h36m17 joints -> ``(..., 16)`` bone lengths (same unit), in :data:`H36M17_BONES` order."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim < 2 or joints.shape[-2:] != (17, 3):
        raise ValueError(f"joints must have shape (..., 17, 3) in h36m17 order, got {joints.shape}")
    a, b = np.array(h36m17.links).T
    return np.linalg.norm(joints[..., b, :] - joints[..., a, :], axis=-1)


def bone_length_ratios(lengths: np.ndarray) -> np.ndarray:
    """``(..., 16)`` bone lengths -> each divided by the sum of the 8 :data:`LIMB_BONES` (scale-free proportions)."""
    lengths = np.asarray(lengths, dtype=np.float64)
    if lengths.shape[-1:] != (16,):
        raise ValueError(f"lengths must have shape (..., 16) in H36M17_BONES order, got {lengths.shape}")
    return lengths / lengths[..., list(LIMB_BONES)].sum(axis=-1, keepdims=True)


def ratio_errors(joints: np.ndarray) -> np.ndarray:
    """Relative error ``(16,)`` of a sequence's proportions against Human3.6M's.

    ``joints``: ``(T, 17, 3)`` (or ``(17, 3)``) h36m17 joints, any unit. Each bone's length is averaged over the
    frames, turned into a ratio (:func:`bone_length_ratios`) and compared: ``ratio / h36m_ratio - 1`` (0.05 = 5 %
    too long), in :data:`H36M17_BONES` order."""
    mean = bone_lengths(joints).reshape(-1, 16).mean(axis=0)
    ref = np.array([H36M17_BONE_LENGTHS_MM[b] for b in H36M17_BONES])
    return bone_length_ratios(mean) / bone_length_ratios(ref) - 1.0
