"""The 17 Human3.6M joints (``posekit.skeletons.h36m17`` order) placed on the CMU mocap skeletons.

Two CMU sources are covered: the ASF/AMC skeletons (points named by :func:`posekit.threed.asf_amc.forward_kinematics`:
``"root"`` and each bone's *end*) and the BVH walk cycles (joint names of :func:`posekit.threed.bvh.read_bvh`).
Each h36m joint is a fixed weighted average of skeleton points (weights sum to 1):

=================  ==========================================  ===========================================
h36m17 joint       ASF/AMC (bone *end* points)                  BVH walk cycles
=================  ==========================================  ===========================================
root (pelvis)      midpoint of the hip joints (lhipjoint,       midpoint of LeftHip, RightHip
                   rhipjoint ends). CMU's own root sits ~10 cm
                   above and behind the hips; Human3.6M's
                   pelvis lies on the line between the hips.
right/left_hip     rhipjoint / lhipjoint end (femur head)       RightHip / LeftHip
right/left_knee    rfemur / lfemur end                          RightKnee / LeftKnee
right/left_foot    rtibia / ltibia end: the ankle (Human3.6M's  RightAnkle / LeftAnkle
                   "foot" joint is at the ankle)
spine              midpoint of pelvis and thorax (Human3.6M's   same rule
                   spine joint sits half-way up the torso)
thorax             thorax end (base of the neck, centre of the  Chest2 (the walk cycles have no "thorax"
                   clavicles' start)                            segment: their neck starts at Chest2)
neck_base          upperneck end (top of the neck, skull base;  Head (top of the neck)
                   Human3.6M's "Neck/Nose" joint)
head               head end (top of the head)                   Head_end
right/left_should. rclavicle / lclavicle end                    RightShoulder / LeftShoulder
right/left_elbow   rhumerus / lhumerus end                      RightElbow / LeftElbow
right/left_wrist   rradius / lradius end                        RightWrist / LeftWrist
=================  ==========================================  ===========================================

Sides: CMU's ``l*``/``Left*`` names are the subject's own left (checked in the tests: with Y up,
``cross(left_hip - right_hip, up)`` points where the toes point and where the subject walks).
Units: CMU lengths are ``CMU_LENGTH_UNIT_MM`` mm per file unit (ASF ``:units length 0.45``: inches * 0.45).
The output keeps the world frame of the capture (Y up, millimetres).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from posekit.skeletons import h36m17
from posekit.threed import asf_amc, bvh

__all__ = [
    "CMU_LENGTH_UNIT_MM",
    "ASF_TO_H36M17",
    "BVH_TO_H36M17",
    "placement_matrix",
    "to_h36m17",
    "load_amc_h36m17",
    "load_bvh_h36m17",
]

CMU_LENGTH_UNIT_MM = 25.4 / 0.45
"""Millimetres per CMU ASF/BVH length unit (``:units length 0.45``: the lengths are inches * 0.45)."""

Placement = tuple[tuple[str, tuple[tuple[str, float], ...]], ...]


def _table(hips: tuple[str, str], knees, ankles, thorax, neck, head, shoulders, elbows, wrists) -> Placement:
    (rh, lh), (rk, lk), (ra, la), (rs, ls), (re, le), (rw, lw) = hips, knees, ankles, shoulders, elbows, wrists
    return (
        ("root", ((rh, 0.5), (lh, 0.5))),
        ("right_hip", ((rh, 1.0),)),
        ("right_knee", ((rk, 1.0),)),
        ("right_foot", ((ra, 1.0),)),
        ("left_hip", ((lh, 1.0),)),
        ("left_knee", ((lk, 1.0),)),
        ("left_foot", ((la, 1.0),)),
        ("spine", ((rh, 0.25), (lh, 0.25), (thorax, 0.5))),
        ("thorax", ((thorax, 1.0),)),
        ("neck_base", ((neck, 1.0),)),
        ("head", ((head, 1.0),)),
        ("left_shoulder", ((ls, 1.0),)),
        ("left_elbow", ((le, 1.0),)),
        ("left_wrist", ((lw, 1.0),)),
        ("right_shoulder", ((rs, 1.0),)),
        ("right_elbow", ((re, 1.0),)),
        ("right_wrist", ((rw, 1.0),)),
    )


ASF_TO_H36M17: Placement = _table(
    ("rhipjoint", "lhipjoint"), ("rfemur", "lfemur"), ("rtibia", "ltibia"), "thorax", "upperneck", "head",
    ("rclavicle", "lclavicle"), ("rhumerus", "lhumerus"), ("rradius", "lradius"),
)
"""h36m17 joint -> weighted ASF/AMC FK points (bone ends, see the module table)."""

BVH_TO_H36M17: Placement = _table(
    ("RightHip", "LeftHip"), ("RightKnee", "LeftKnee"), ("RightAnkle", "LeftAnkle"), "Chest2", "Head", "Head_end",
    ("RightShoulder", "LeftShoulder"), ("RightElbow", "LeftElbow"), ("RightWrist", "LeftWrist"),
)
"""h36m17 joint -> weighted BVH walk-cycle joints (see the module table)."""


def placement_matrix(names: Sequence[str], placement: Placement) -> np.ndarray:
    """``(17, J)`` float64 weights: ``h36m = W @ points`` for points named ``names`` (the FK output order)."""
    index = {n: i for i, n in enumerate(names)}
    targets = [t for t, _ in placement]
    if tuple(targets) != tuple(h36m17.keypoints):
        raise ValueError(f"placement must list the h36m17 joints in order {h36m17.keypoints}, got {targets}")
    w = np.zeros((len(placement), len(names)), dtype=np.float64)
    for k, (target, sources) in enumerate(placement):
        for src, weight in sources:
            if src not in index:
                raise ValueError(f"h36m17 joint {target!r} needs skeleton point {src!r}, absent from names "
                                 f"{list(names)}")
            w[k, index[src]] += weight
    return w


def to_h36m17(points: np.ndarray, names: Sequence[str], placement: Placement) -> np.ndarray:
    """Skeleton points ``(T, J, 3)`` named ``names`` -> ``(T, 17, 3)`` h36m17 points (same units and frame)."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (len(names), 3):
        raise ValueError(f"points must have shape (T, {len(names)}, 3) to match names, got {points.shape}")
    return np.einsum("kj,tjd->tkd", placement_matrix(names, placement), points)


def load_amc_h36m17(asf_path: str | os.PathLike, amc_path: str | os.PathLike, *, stride: int = 1) -> np.ndarray:
    """Read an ASF skeleton and AMC motion, return ``(T, 17, 3)`` float64 h36m17 joints in mm (world, Y up).

    ``stride`` keeps every ``stride``-th frame (CMU AMC: 120 fps; ``stride=4`` gives 30 fps)."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    skeleton = asf_amc.read_asf(Path(asf_path))
    pos = asf_amc.forward_kinematics(skeleton, asf_amc.read_amc(Path(amc_path)))[::stride]
    return to_h36m17(pos, skeleton.joint_names, ASF_TO_H36M17)


def load_bvh_h36m17(path: str | os.PathLike, *, stride: int = 1, unit_mm: float = CMU_LENGTH_UNIT_MM) -> np.ndarray:
    """Read a CMU walk-cycle BVH, return ``(T, 17, 3)`` float64 h36m17 joints in mm (world, Y up).

    ``unit_mm``: millimetres per file unit (default: the CMU unit of these files)."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    motion = bvh.read_bvh(Path(path))
    pos = bvh.forward_kinematics(motion, scale=unit_mm)[::stride]
    return to_h36m17(pos, motion.joint_names, BVH_TO_H36M17)
