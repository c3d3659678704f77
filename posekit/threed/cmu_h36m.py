"""The 17 Human3.6M joints (``posekit.skeletons.h36m17`` order) placed on the CMU mocap skeletons as Human3.6M does.

Two CMU sources are covered: the ASF/AMC skeletons (points named by :func:`posekit.threed.asf_amc.forward_kinematics`:
``"root"`` and each bone's *end*) and the BVH walk cycles (joint names of :func:`posekit.threed.bvh.read_bvh`).
Each h36m17 joint is a fixed **affine** combination of skeleton points (weights sum to 1, some negative: points
interpolated or extrapolated along a bone), so the conversion is one ``(17, J)`` matrix per skeleton.

Where Human3.6M puts its joints (:mod:`posekit.threed.h36m_stats`: the dataset's 32-joint skeleton, VideoPose3D's
17 kept joints) and the matching CMU point, ASF names (``x end`` = end of bone ``x``; ``lerp(a, b, t)`` =
``a + t (b - a)``). The fractions were fitted to Human3.6M's bone-length *ratios* over the 29 CMU subjects in
``../shared`` (each bone / the summed limb bones; subjects weighted equally) and rounded; each one's anatomical
reading is given. Sides: left = the subject's left (CMU ``l*`` / ``Left*``).

==============  ================================================================================================
h36m17 joint    placement on the CMU skeleton (ASF bone ends) and evidence
==============  ================================================================================================
root            midpoint of the hip joints (``lhipjoint``/``rhipjoint`` ends). Human3.6M's pelvis lies on the line
                between its hip joints (offsets purely sideways); CMU's own root is ~10 cm above/behind it.
left/right_hip  ``lerp(root, hipjoint end, HIP_WIDTH)``, HIP_WIDTH = 1.35: Human3.6M's hip joints are 133 mm
                (0.30 thigh) from the pelvis, CMU's femur heads only 75-93 mm (0.19-0.22 thigh): Human3.6M's hip
                sits further out, towards the greater trochanter. (The thigh then varies by <= 3 % (std).)
knees, feet     ``femur`` / ``tibia`` ends (knee, ankle centres; Human3.6M's "foot" is the ankle).
spine           ``lerp(lowerback end, upperback end, SPINE_AT)``, 0.1: the centre of the spine, on the spine
                chain (not the pelvis-thorax chord), 0.48 of the way up the torso as Human3.6M's (233 / 490 mm).
thorax          ``lerp(thorax end, lowerneck end, THORAX_AT)``, 0.4: Human3.6M's thorax is the "shoulder spine":
                its shoulder joints are purely sideways from it, while CMU's clavicles rise 43-78 mm from the
                thorax end (0.5-0.8 lowerneck) in the rest pose; 0.4 fits the torso ratios best. Pelvis-thorax
                distance / forearm: 1.94 (Human3.6M: 1.95 in this skeleton, 2.03 on subjects 9/11 as issue #18
                measured; 1.82 at CMU's thorax end, the version-1 placement).
neck_base       ``lerp(lowerneck end, upperneck end, NECK_AT)``, 0.6: Human3.6M's "Neck/Nose" (32-joint "Head", the
                head's pivot) is 121 mm (0.27 thigh) above the thorax: below CMU's skull base (upperneck end,
                177-199 mm = 0.41-0.49 thigh above CMU's thorax end). From the front it projects near nose/chin.
head            ``lerp(upperneck end, head end, HEAD_AT)``, 0.75: Human3.6M's head joint (32-joint "Site" of the
                head) is 115 mm above "Neck/Nose", near the top of the head (CMU's head end is 0.25 head bone
                higher).
shoulders       ``lerp(thorax, clavicle end, SHOULDER_AT)``, 0.8: Human3.6M's shoulders are 151 mm from the
                thorax (0.34 thigh), CMU's clavicle ends 200-207 mm (0.47-0.50 thigh). (The upper arm is then
                not rigid: it varies by <= 7 % (std), ~2 % longer on average than CMU's humerus.)
elbows          ``humerus`` end.
wrists          ``lerp(elbow, wrist end, WRIST_AT)``, 0.88, i.e. the ``radius`` end + 0.64 of CMU's ``wrist``
                bone. CMU's ``radius`` end is a forearm-twist point (the ``wrist`` bone continues it in a straight
                line, exactly half its length, and only twists: ``dof ry``): elbow -> radius end is 0.44-0.49
                thigh, elbow -> wrist end 0.66-0.73 (as long as the upper arm; CMU's hand bones beyond it total
                only 56-73 mm); Human3.6M's forearm is 0.57 thigh and 0.90 upper arm.
==============  ================================================================================================

The BVH walk cycles carry the ASF skeletons *without* two bones (checked on 02_01: every other offset equals a
02.asf bone): ``thorax`` (neck and clavicles start at ``Chest2``, the upperback end) and ``lwrist``/``rwrist``
(``LeftWrist`` is the radius end). The placement puts them back: a virtual thorax end ``Chest2 + BVH_THORAX_BONE
(Chest2 - Chest)`` (CMU ASF thorax/upperback length: 1.001-1.007) shifts every point above it by that vector, and
the wrist end is ``LeftWrist + CMU_WRIST_BONE (LeftWrist - LeftElbow)`` (every CMU ASF: ``wrist`` = 0.5 ``radius``).
Rebuilt, the BVH 02_01 gives the joints of AMC 02_01 within 10 mm (the BVH drops the thorax bone's rotation).
BVH names: ``LeftHip`` = lhipjoint end, ``LeftKnee`` = lfemur end, ``LeftAnkle`` = ltibia end, ``Chest`` /
``Chest2`` = lowerback / upperback ends, ``Neck`` / ``Head`` / ``Head_end`` = lowerneck / upperneck / head ends,
``LeftShoulder`` = lclavicle end, ``LeftElbow`` = lhumerus end.

Units: CMU lengths are ``CMU_LENGTH_UNIT_MM`` mm per file unit (ASF ``:units length 0.45``: inches * 0.45).
The output keeps the world frame of the capture (Y up, millimetres). ``PLACEMENT_VERSION`` changes whenever the
placement does: caches of converted clips must include it in their name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from posekit.skeletons import h36m17
from posekit.threed import asf_amc, bvh

__all__ = [
    "ASF_TO_H36M17",
    "BVH_THORAX_BONE",
    "BVH_TO_H36M17",
    "CMU_LENGTH_UNIT_MM",
    "CMU_WRIST_BONE",
    "HEAD_AT",
    "HIP_WIDTH",
    "NECK_AT",
    "PLACEMENT_VERSION",
    "SHOULDER_AT",
    "SPINE_AT",
    "THORAX_AT",
    "WRIST_AT",
    "load_amc_h36m17",
    "load_bvh_h36m17",
    "placement_matrix",
    "to_h36m17",
]

CMU_LENGTH_UNIT_MM = 25.4 / 0.45
"""Millimetres per CMU ASF/BVH length unit (``:units length 0.45``: the lengths are inches * 0.45)."""
PLACEMENT_VERSION = 2
"""Version of the placement tables (1: bone ends only, wrist at the forearm twist; 2: Human3.6M's definitions)."""

HIP_WIDTH = 1.35
"""Hip joint = pelvis + HIP_WIDTH * (CMU hip joint - pelvis)."""
SPINE_AT = 0.1
"""Spine = lowerback end + SPINE_AT * (upperback end - lowerback end)."""
THORAX_AT = 0.4
"""Thorax = thorax end + THORAX_AT * (lowerneck end - thorax end)."""
NECK_AT = 0.6
"""neck_base ("Neck/Nose") = lowerneck end + NECK_AT * (upperneck end - lowerneck end)."""
HEAD_AT = 0.75
"""Head = upperneck end + HEAD_AT * (head end - upperneck end)."""
SHOULDER_AT = 0.8
"""Shoulder = thorax + SHOULDER_AT * (clavicle end - thorax)."""
WRIST_AT = 0.88
"""Wrist = elbow + WRIST_AT * (wrist-bone end - elbow)."""
CMU_WRIST_BONE = 0.5
"""CMU ``lwrist`` / ``lradius`` length (0.5 in every CMU ASF): rebuilds the wrist bone the BVH walk cycles lack."""
BVH_THORAX_BONE = 1.0
"""CMU ``thorax`` / ``upperback`` length (1.001-1.007 in the CMU ASFs): rebuilds the BVH's missing thorax bone."""

Combo = dict[str, float]
Placement = tuple[tuple[str, tuple[tuple[str, float], ...]], ...]


def _lin(*terms: tuple[float, Combo]) -> Combo:
    out: Combo = {}
    for w, combo in terms:
        for name, v in combo.items():
            out[name] = out.get(name, 0.0) + w * v
    return out


def _lerp(a: Combo, b: Combo, t: float) -> Combo:
    return _lin((1.0 - t, a), (t, b))


def _table(p: Mapping[str, Combo]) -> Placement:
    """The 17 joints from the CMU anatomical points ``p`` (``<x>_l`` / ``<x>_r`` per side, see the module table)."""
    root = _lerp(p["hip_l"], p["hip_r"], 0.5)
    thorax = _lerp(p["thorax"], p["lowerneck"], THORAX_AT)
    side = {}
    for s in ("l", "r"):
        side[s] = {
            "hip": _lerp(root, p[f"hip_{s}"], HIP_WIDTH), "knee": p[f"knee_{s}"], "foot": p[f"ankle_{s}"],
            "shoulder": _lerp(thorax, p[f"clavicle_{s}"], SHOULDER_AT), "elbow": p[f"elbow_{s}"],
            "wrist": _lerp(p[f"elbow_{s}"], p[f"wrist_{s}"], WRIST_AT),
        }
    joints = {
        "root": root, "spine": _lerp(p["lowerback"], p["upperback"], SPINE_AT), "thorax": thorax,
        "neck_base": _lerp(p["lowerneck"], p["upperneck"], NECK_AT), "head": _lerp(p["upperneck"], p["head"], HEAD_AT),
        **{f"{'left' if s == 'l' else 'right'}_{k}": v for s, d in side.items() for k, v in d.items()},
    }
    return tuple(
        (name, tuple(sorted((src, w) for src, w in joints[name].items() if abs(w) > 1e-12)))
        for name in h36m17.keypoints
    )


def _pt(name: str) -> Combo:
    return {name: 1.0}


def _asf_points() -> dict[str, Combo]:
    p = {k: _pt(v) for k, v in (("lowerback", "lowerback"), ("upperback", "upperback"), ("thorax", "thorax"),
                                  ("lowerneck", "lowerneck"), ("upperneck", "upperneck"), ("head", "head"))}
    for s in ("l", "r"):
        p.update({f"hip_{s}": _pt(f"{s}hipjoint"), f"knee_{s}": _pt(f"{s}femur"), f"ankle_{s}": _pt(f"{s}tibia"),
                  f"clavicle_{s}": _pt(f"{s}clavicle"), f"elbow_{s}": _pt(f"{s}humerus"),
                  f"wrist_{s}": _pt(f"{s}wrist")})
    return p


def _bvh_points() -> dict[str, Combo]:
    shift = _lin((BVH_THORAX_BONE, _pt("Chest2")), (-BVH_THORAX_BONE, _pt("Chest")))  # the missing thorax bone

    def up(combo: Combo) -> Combo:  # a point above the missing bone
        return _lin((1.0, combo), (1.0, shift))

    p = {"lowerback": _pt("Chest"), "upperback": _pt("Chest2"), "thorax": up(_pt("Chest2")),
         "lowerneck": up(_pt("Neck")), "upperneck": up(_pt("Head")), "head": up(_pt("Head_end"))}
    for s, side in (("l", "Left"), ("r", "Right")):
        elbow, radius_end = _pt(f"{side}Elbow"), _pt(f"{side}Wrist")
        p.update({f"hip_{s}": _pt(f"{side}Hip"), f"knee_{s}": _pt(f"{side}Knee"), f"ankle_{s}": _pt(f"{side}Ankle"),
                  f"clavicle_{s}": up(_pt(f"{side}Shoulder")), f"elbow_{s}": up(elbow),
                  f"wrist_{s}": up(_lerp(elbow, radius_end, 1.0 + CMU_WRIST_BONE))})
    return p


ASF_TO_H36M17: Placement = _table(_asf_points())
"""h36m17 joint -> affine combination of ASF/AMC FK points (bone ends, see the module table)."""

BVH_TO_H36M17: Placement = _table(_bvh_points())
"""h36m17 joint -> affine combination of BVH walk-cycle joints (see the module table)."""


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
