"""2D keypoints of a detector skeleton (BlazePose-33, COCO-17, ...) placed on the 17 Human3.6M joints for lifting.

The lifters (:mod:`posekit.models.lifters`) take h36m17 keypoints; detectors output other layouts. Seven h36m17
joints exist in no detector skeleton and are **synthesised** here, so this is not a plain index mapping
(:func:`posekit.skeletons.mapping`). Each joint is placed to match how :mod:`posekit.threed.cmu_h36m` placed it on
the CMU mocap skeletons that posekit's lifters are trained on:

=================  ==========================================================================================
h36m17 joint       placement from the source skeleton (image pixels)
=================  ==========================================================================================
root (pelvis)      midpoint of left_hip and right_hip
right/left_hip     right_hip / left_hip
right/left_knee    right_knee / left_knee
right/left_foot    right_ankle / left_ankle (Human3.6M's "foot" joint is the ankle)
thorax             midpoint of left_shoulder and right_shoulder (base of the neck)
spine              midpoint of root and thorax (as in the mocap placement)
neck_base          the head centre ``c``: midpoint of the ears; one ear if only one is present; the nose if
                   neither ear is. (Human3.6M's "Neck/Nose" joint, CMU's top of the neck at the skull base,
                   lies ~180 mm above the thorax, about at the height of the ear canals.)
head               ``thorax + 1.5 (c - thorax)``: the top of the head continues the thorax -> head-centre line
                   (CMU skeletons: thorax -> top of the head ~275 mm, 1.5 x the thorax -> neck_base length)
shoulders, elbows, left_/right_ names of the source (identity)
wrists
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

__all__ = ["HEAD_TOP_FACTOR", "REQUIRED_NAMES", "to_h36m17"]

HEAD_TOP_FACTOR = 1.5
"""Top of the head = thorax + ``HEAD_TOP_FACTOR`` * (head centre - thorax) (CMU proportions, see the module doc)."""

_LIMBS = {
    "right_hip": "right_hip", "right_knee": "right_knee", "right_foot": "right_ankle",
    "left_hip": "left_hip", "left_knee": "left_knee", "left_foot": "left_ankle",
    "left_shoulder": "left_shoulder", "left_elbow": "left_elbow", "left_wrist": "left_wrist",
    "right_shoulder": "right_shoulder", "right_elbow": "right_elbow", "right_wrist": "right_wrist",
}
REQUIRED_NAMES: tuple[str, ...] = (*sorted(set(_LIMBS.values())), "left_ear", "right_ear", "nose")
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
    neck = (centre, centre_s)
    head = (thorax[0] + HEAD_TOP_FACTOR * (centre - thorax[0]), np.minimum(centre_s, thorax[1]))
    synth = {"root": root, "spine": spine, "thorax": thorax, "neck_base": neck, "head": head}
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
