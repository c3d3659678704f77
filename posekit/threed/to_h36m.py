"""2D keypoints of a detector skeleton (BlazePose-33, COCO-17, ...) placed on the 17 Human3.6M joints for lifting.

The lifters (:mod:`posekit.models.lifters`) take h36m17 keypoints; detectors output other layouts. Five h36m17
joints exist in no detector skeleton and are **synthesised** here, and the shoulders are moved (seven synthesised
joints in all), so this is not a plain index mapping
(:func:`posekit.skeletons.mapping`). Each joint is placed to match how :mod:`posekit.threed.cmu_h36m` placed it on
the CMU mocap skeletons that posekit's lifters are trained on:

=================  ==========================================================================================
h36m17 joint       placement from the source skeleton (image pixels)
=================  ==========================================================================================
root (pelvis)      midpoint of left_hip and right_hip
right/left_hip     right_hip / left_hip
right/left_knee    right_knee / left_knee
right/left_foot    right_ankle / left_ankle (Human3.6M's "foot" joint is the ankle)
thorax             midpoint of left_shoulder and right_shoulder (Human3.6M's thorax is at shoulder height)
spine              midpoint of root and thorax (Human3.6M: 0.48 of the way up)
neck_base          ``thorax + NECK_FACTOR (c - thorax)``, 0.75, with ``c`` the head centre: midpoint of the ears;
                   one ear if only one is present; the nose if neither ear is. (The ear canals are about at the
                   skull base; on the CMU skeletons Human3.6M's "Neck/Nose" is 0.75 of the way from the thorax
                   to the skull base: 0.749-0.750 on subjects 01-03.)
head               ``thorax + HEAD_TOP_FACTOR (c - thorax)``, 1.45: the top of the head continues the
                   thorax -> head-centre line (CMU subjects 01-03: 1.39-1.49)
shoulders          ``thorax + SHOULDER_FACTOR (shoulder - thorax)``, 0.8: detectors mark the shoulder joint as
                   CMU's clavicle end; Human3.6M's shoulders are closer to the thorax
                   (:data:`posekit.threed.cmu_h36m.SHOULDER_AT`)
elbows, wrists     left_/right_ names of the source (identity; the wrist is the anatomical wrist, as placed on
                   CMU)
=================  ==========================================================================================

A source joint counts as missing when it is NaN or its score is below ``min_score``; a synthesised joint is
missing when any point it needs is missing, and its score is the smallest score of those points. Any skeleton
whose keypoint names include the 12 limb joints, ``left_ear``, ``right_ear`` and ``nose`` works (blazepose33 and
coco17 do); ``h36m17`` input is returned as it is (copied, low scores masked).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from posekit.skeletons import Skeleton, h36m17
from posekit.threed.cmu_h36m import SHOULDER_AT

__all__ = ["HEAD_TOP_FACTOR", "NECK_FACTOR", "REQUIRED_NAMES", "SHOULDER_FACTOR", "to_h36m17"]

HEAD_TOP_FACTOR = 1.45
"""Top of the head = thorax + ``HEAD_TOP_FACTOR`` * (head centre - thorax) (CMU proportions, see the module doc)."""
NECK_FACTOR = 0.75
"""neck_base ("Neck/Nose") = thorax + ``NECK_FACTOR`` * (head centre - thorax) (see the module doc)."""
SHOULDER_FACTOR = SHOULDER_AT
"""Shoulder = thorax + ``SHOULDER_FACTOR`` * (detector shoulder - thorax), as on the CMU skeletons."""

_LIMBS = {
    "right_hip": "right_hip", "right_knee": "right_knee", "right_foot": "right_ankle",
    "left_hip": "left_hip", "left_knee": "left_knee", "left_foot": "left_ankle",
    "left_elbow": "left_elbow", "left_wrist": "left_wrist", "right_elbow": "right_elbow", "right_wrist": "right_wrist",
}
REQUIRED_NAMES: tuple[str, ...] = (*sorted({*_LIMBS.values(), "left_shoulder", "right_shoulder"}), "left_ear",
                                    "right_ear", "nose")
"""Keypoint names a source skeleton needs for :func:`to_h36m17`."""


def _mid(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return (a[0] + b[0]) / 2, np.minimum(a[1], b[1])


def to_h36m17(
    keypoints: Any, scores: Any, skeleton: Skeleton, *, min_score: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Place the 17 h36m17 joints on 2D keypoints of ``skeleton`` (see the module table).

    Args:
        keypoints: (..., K, 2) float image pixels (x right, y down) in ``skeleton``'s order; NaN = missing.
        scores: (..., K) float in [0, 1], or None (all 1).
        skeleton: the layout of ``keypoints`` (e.g. ``posekit.skeletons.blazepose33`` or ``coco17``).
        min_score: source joints with a lower score count as missing.

    Returns:
        ``(keypoints, scores)``: new (..., 17, 2) float32 pixels in ``posekit.skeletons.h36m17`` order, NaN where
        missing, and (..., 17) float32 scores, 0 where missing. The inputs are not modified.
    """
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton must be a posekit Skeleton, got {type(skeleton).__name__}")
    kpts = np.array(keypoints, dtype=np.float64)
    k = skeleton.num_keypoints
    if kpts.ndim < 2 or kpts.shape[-2:] != (k, 2):
        raise ValueError(f"keypoints must have shape (..., {k}, 2) for skeleton {skeleton.name!r}, got {kpts.shape}")
    sc = np.ones(kpts.shape[:-1]) if scores is None else np.array(scores, dtype=np.float64)
    if sc.shape != kpts.shape[:-1]:
        raise ValueError(f"scores must have shape {kpts.shape[:-1]} to match keypoints, got {sc.shape}")
    missing = ~np.isfinite(kpts).all(axis=-1) | ~np.isfinite(sc) | (sc < min_score)
    kpts[missing] = np.nan
    sc = np.where(missing, 0.0, sc)
    if skeleton == h36m17:
        return kpts.astype(np.float32), sc.astype(np.float32)
    absent = [n for n in REQUIRED_NAMES if n not in skeleton.keypoints]
    if absent:
        raise ValueError(f"skeleton {skeleton.name!r} lacks keypoints {absent} needed to place the h36m17 joints "
                         f"(needs {list(REQUIRED_NAMES)})")

    def get(name: str) -> tuple[np.ndarray, np.ndarray]:
        i = skeleton.index(name)
        return kpts[..., i, :], sc[..., i]

    root = _mid(get("left_hip"), get("right_hip"))
    thorax = _mid(get("left_shoulder"), get("right_shoulder"))
    spine = _mid(root, thorax)
    (le, les), (re, res), (nose, noses) = get("left_ear"), get("right_ear"), get("nose")
    has_l, has_r = np.isfinite(le).all(-1), np.isfinite(re).all(-1)
    centre = np.where((has_l & has_r)[..., None], (le + re) / 2,
                      np.where(has_l[..., None], le, np.where(has_r[..., None], re, nose)))
    centre_s = np.where(has_l & has_r, np.minimum(les, res), np.where(has_l, les, np.where(has_r, res, noses)))
    def along(p: np.ndarray, p_s: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:  # thorax -> p
        return thorax[0] + t * (p - thorax[0]), np.minimum(p_s, thorax[1])

    synth = {"root": root, "spine": spine, "thorax": thorax, "neck_base": along(centre, centre_s, NECK_FACTOR),
             "head": along(centre, centre_s, HEAD_TOP_FACTOR),
             "left_shoulder": along(*get("left_shoulder"), SHOULDER_FACTOR),
             "right_shoulder": along(*get("right_shoulder"), SHOULDER_FACTOR)}
    out_k = np.full(kpts.shape[:-2] + (17, 2), np.nan)
    out_s = np.zeros(kpts.shape[:-2] + (17,))
    for j, name in enumerate(h36m17.keypoints):
        p, s = synth[name] if name in synth else get(_LIMBS[name])
        out_k[..., j, :] = p
        out_s[..., j] = s
    bad = ~np.isfinite(out_k).all(axis=-1)
    out_k[bad] = np.nan
    out_s[bad] = 0.0
    return out_k.astype(np.float32), out_s.astype(np.float32)
