"""Joint angles in degrees from 2D or 3D keypoints, found by the skeleton's joint names.

Definitions (``s`` is ``left`` or ``right``, the subject's side; the angle at the middle joint, in [0, 180]):

==================  ==========================================  ================================================
angle               points                                      reading
==================  ==========================================  ================================================
``s_knee``          hip - knee - ankle                          180 = straight leg
``s_hip``           shoulder - hip - knee                       180 = upright, smaller = flexed
``s_elbow``         shoulder - elbow - wrist                    180 = straight arm
``s_shoulder``      hip - shoulder - elbow                      0 = arm down along the trunk, 90 = arm out
``trunk_lean``      mid-hip -> mid-shoulder against ``up``      0 = upright, 90 = horizontal trunk
==================  ==========================================  ================================================

Names are looked up in ``skeleton.keypoints`` with these spellings: ``s_ankle`` (or ``s_foot`` as in ``h36m17``),
``s_knee``, ``s_hip``, ``s_shoulder``, ``s_elbow``, ``s_wrist``; so ``coco17``, ``blazepose33``, ``h36m17``,
``mpii16``, ``lsp14`` and ``coco_wholebody133`` all work. An angle whose joints the skeleton lacks, or that are
missing (NaN, or scoring below ``min_score``) in a pose, is NaN.

The same functions work on image pixels ``(..., K, 2)`` (x right, y down: ``up`` defaults to ``(0, -1)``) and on 3D
points ``(..., K, 3)`` (``up`` defaults to ``(0, -1, 0)``, y down as in MediaPipe world landmarks and Human3.6M
camera coordinates; pass ``up`` for other frames). 2D angles are the angles of the projections, so they depend on
the viewpoint (a knee bending towards the camera looks straight).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posekit.skeletons import Skeleton
from posekit.types import Poses

__all__ = ["AngleDef", "ANGLES", "angle_at", "joint_angles", "pose_angles", "trunk_lean"]


@dataclass(frozen=True)
class AngleDef:
    """The angle at joint ``b`` between the segments ``b -> a`` and ``b -> c``; each entry is a tuple of
    accepted keypoint names, the first one present in the skeleton is used."""

    name: str
    a: tuple[str, ...]
    b: tuple[str, ...]
    c: tuple[str, ...]


def _side(side: str) -> tuple[AngleDef, ...]:
    ankle = (f"{side}_ankle", f"{side}_foot")
    hip, knee, sh = (f"{side}_hip",), (f"{side}_knee",), (f"{side}_shoulder",)
    elbow, wrist = (f"{side}_elbow",), (f"{side}_wrist",)
    return (
        AngleDef(f"{side}_knee", hip, knee, ankle),
        AngleDef(f"{side}_hip", sh, hip, knee),
        AngleDef(f"{side}_elbow", sh, elbow, wrist),
        AngleDef(f"{side}_shoulder", hip, sh, elbow),
    )


ANGLES: tuple[AngleDef, ...] = _side("left") + _side("right")
"""The three-point angles :func:`joint_angles` computes (``trunk_lean`` is computed separately)."""


def angle_at(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle in degrees at ``b`` between ``b -> a`` and ``b -> c``, in [0, 180].

    ``a``, ``b``, ``c``: (..., D) float arrays (D = 2 or 3), broadcast together. NaN where a point is non-finite
    or a segment has zero length.
    """
    a, b, c = (np.asarray(p, dtype=np.float64) for p in (a, b, c))
    u, v = a - b, c - b
    nu, nv = np.linalg.norm(u, axis=-1), np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(u * v, axis=-1) / (nu * nv)
    cos = np.where((nu > 0) & (nv > 0), cos, np.nan)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _default_up(d: int) -> np.ndarray:
    if d == 2:
        return np.array([0.0, -1.0])
    if d == 3:
        return np.array([0.0, -1.0, 0.0])
    raise ValueError(f"keypoints must have 2 or 3 coordinates in the last axis, got {d}")


def _lookup(skeleton: Skeleton, names: tuple[str, ...]) -> int | None:
    for n in names:
        if n in skeleton.keypoints:
            return skeleton.keypoints.index(n)
    return None


def _masked(keypoints: np.ndarray, scores: np.ndarray | None, min_score: float) -> np.ndarray:
    x = np.array(keypoints, dtype=np.float64)
    if x.ndim < 2 or x.shape[-1] not in (2, 3):
        raise ValueError(f"keypoints must have shape (..., K, 2) or (..., K, 3), got {x.shape}")
    if scores is not None:
        s = np.asarray(scores, dtype=np.float64)
        if s.shape != x.shape[:-1]:
            raise ValueError(f"scores must have shape {x.shape[:-1]} to match keypoints {x.shape}, got {s.shape}")
        x[~(s >= min_score)] = np.nan
    return x


def trunk_lean(keypoints: np.ndarray, skeleton: Skeleton, *, scores: np.ndarray | None = None,
               min_score: float = 0.0, up: np.ndarray | None = None) -> np.ndarray:
    """Trunk lean in degrees: the angle between the mid-hip -> mid-shoulder vector and ``up``, in [0, 180].

    Args: as :func:`joint_angles`. Returns (...) float64 (the leading shape of ``keypoints``).
    """
    x = _masked(keypoints, scores, min_score)
    up = _default_up(x.shape[-1]) if up is None else np.asarray(up, dtype=np.float64)
    if up.shape != (x.shape[-1],):
        raise ValueError(f"up must have shape ({x.shape[-1]},) to match keypoints, got {up.shape}")
    idx = [_lookup(skeleton, (n,)) for n in ("left_hip", "right_hip", "left_shoulder", "right_shoulder")]
    if any(i is None for i in idx):
        return np.full(x.shape[:-2], np.nan)
    lh, rh, ls, rs = (x[..., i, :] for i in idx)
    trunk = (ls + rs) / 2 - (lh + rh) / 2
    return angle_at(trunk, np.zeros_like(trunk), np.broadcast_to(up, trunk.shape))


def joint_angles(keypoints: np.ndarray, skeleton: Skeleton, *, scores: np.ndarray | None = None,
                 min_score: float = 0.0, up: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every angle of :data:`ANGLES` plus ``trunk_lean``, in degrees.

    Args:
        keypoints: (..., K, 2) image pixels (x right, y down) or (..., K, 3) 3D points of ``skeleton``'s K
            keypoints, e.g. (K, 2) one pose, (N, K, 2) a frame, (T, K, 3) a 3D trajectory.
        skeleton: names the keypoints.
        scores: optional (..., K) keypoint scores; keypoints scoring below ``min_score`` count as missing.
        min_score: see ``scores``.
        up: the "up" direction for ``trunk_lean`` (default ``(0, -1)`` in 2D, ``(0, -1, 0)`` in 3D).

    Returns:
        ``{name: (...) float64 degrees}`` for ``left_knee, left_hip, left_elbow, left_shoulder``, the same
        ``right_*`` and ``trunk_lean``; NaN where a joint is missing or the skeleton lacks it.
    """
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton must be a posekit Skeleton, got {type(skeleton).__name__}")
    x = _masked(keypoints, scores, min_score)
    if x.shape[-2] != skeleton.num_keypoints:
        raise ValueError(f"keypoints have {x.shape[-2]} keypoints but skeleton {skeleton.name!r} has "
                         f"{skeleton.num_keypoints}")
    out: dict[str, np.ndarray] = {}
    for d in ANGLES:
        idx = [_lookup(skeleton, names) for names in (d.a, d.b, d.c)]
        if any(i is None for i in idx):
            out[d.name] = np.full(x.shape[:-2], np.nan)
        else:
            out[d.name] = angle_at(x[..., idx[0], :], x[..., idx[1], :], x[..., idx[2], :])
    out["trunk_lean"] = trunk_lean(x, skeleton, up=up)
    return out


def pose_angles(poses: Poses, *, min_score: float = 0.0, use_3d: bool = False,
                up: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """:func:`joint_angles` of one frame's poses: ``{name: (N,) float64 degrees}``.

    ``use_3d=True`` uses ``poses.keypoints_3d`` (raises ``ValueError`` when it is ``None``); otherwise the 2D
    pixel keypoints. Keypoint scores below ``min_score`` count as missing either way.
    """
    if use_3d:
        if poses.keypoints_3d is None:
            raise ValueError("use_3d=True but poses.keypoints_3d is None")
        pts = poses.keypoints_3d
    else:
        pts = poses.keypoints
    return joint_angles(pts, poses.skeleton, scores=poses.scores, min_score=min_score, up=up)
