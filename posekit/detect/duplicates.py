"""Duplicate people in the landmark results of a person search: pose NMS with a second look.

A person search that looks hard (:mod:`posekit.detect.tiled`: tiles, detections down to 0.3), and sometimes
MediaPipe's own detector, hands the landmark model crops that hold a person already found, or parts of two
people. The model then draws a second skeleton on that person, usually a *tangled* one (left and right swapped, an
arm read as a leg, the head of one person on the hips of another) with a confident presence flag. OKS against
the first skeleton misses it because its labels are wrong. Two signals find it:

* **limb overlap** (:func:`limb_overlap`): the fraction of a pose's visible keypoints that lie on the other pose's
  visible limbs (within ``radius`` x the other's size). It ignores the labels, so a tangled skeleton on the same
  body scores high, while people side by side score low (at most 0.17 on the 23 pairs of annotated neighbours
  in the COCO sets of ``benchmarks/recall_blazepose.py``) -- but a person half hidden behind another can score
  0.3, so overlap alone does not decide;
* **stability** (:func:`pose_stability`): the landmark model looks again, at the ROI the pose itself predicts
  (MediaPipe's tracking ROI, landmarks 33 and 34). A real person's pose mostly comes back (OKS 0.77-1.0 for the
  overlapping neighbours checked by eye in those sets and in LSP images 1-300); a tangled pose does not (0.01-0.68
  for the tangled skeletons there).

:func:`duplicate_poses` is a greedy NMS over both: by decreasing score, a pose is dropped when its OKS with a kept
one exceeds ``max_oks`` (the same person found twice) or when it overlaps a kept one by more than
``max_overlap`` *and* is unstable (stability below ``min_stability``). Only poses in such a conflict need the
second look (:func:`pose_conflicts`), so an image of people standing apart costs nothing more.

Measured with BlazePose's defaults (CPU fp32): on the 18 OpenPose COCO examples it keeps all 29 of the 44 people
found and halves the unmatched skeletons (4 -> 2); on the 28 train2017 images 23 of 72 found either way (8 -> 6);
on LSP images 1-300 (one athlete each, sometimes bystanders) images with more than one pose fall from 92 to 31;
about 5 ms per image more on the OpenPose examples (114 ms instead of 109).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from posekit.boxes import box_area
from posekit.postprocess import oks_iou

__all__ = ["DuplicateFilter", "visible_boxes", "limb_overlap", "pose_oks", "pose_conflicts", "pose_stability",
           "duplicate_poses"]


@dataclass(frozen=True)
class DuplicateFilter:
    """Thresholds of :func:`duplicate_poses`; ``None`` turns a rule off.

    Attributes:
        max_oks: drop a pose whose OKS against a kept one (the kept one's visible keypoints and visible-box area
            as the reference) exceeds this: the same person found twice.
        max_overlap: drop a pose whose :func:`limb_overlap` with a kept one (either way round) exceeds this ...
        min_stability: ... when its :func:`pose_stability` is below this (a tangled skeleton).
        radius: a keypoint lies on a limb when within ``radius`` x sqrt(visible-box area of the limb's pose).
        visibility_threshold: a keypoint counts as visible above this score.
    """

    max_oks: float | None = 0.5
    max_overlap: float | None = 0.15
    min_stability: float = 0.7
    radius: float = 0.15
    visibility_threshold: float = 0.5

    def __post_init__(self) -> None:
        for name in ("max_oks", "max_overlap", "min_stability", "radius", "visibility_threshold"):
            v = getattr(self, name)
            if v is not None and not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"DuplicateFilter.{name} must lie in [0, 1] or be None, got {v}")


def _check_poses(keypoints: np.ndarray, visibility: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    kp = np.asarray(keypoints, np.float64)
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(f"keypoints must have shape (N, K, 2), got {kp.shape}")
    vis = np.asarray(visibility, np.float64)
    if vis.shape != kp.shape[:2]:
        raise ValueError(f"visibility must have shape {kp.shape[:2]} to match keypoints, got {vis.shape}")
    return kp, vis


def _seen(kp: np.ndarray, vis: np.ndarray, threshold: float) -> np.ndarray:
    """(N, K) bool: finite keypoints scoring above ``threshold``; all finite ones where fewer than 2 do."""
    finite = np.isfinite(kp).all(-1)
    use = finite & (vis > threshold)
    return np.where(use.sum(1, keepdims=True) >= 2, use, finite)


def visible_boxes(keypoints: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(N, 4) float64 xyxy pixel bounds of the ``keypoints`` (N, K, 2) where ``visible`` (N, K) holds (all finite
    ones where fewer than 2 do); NaN rows for poses with no finite keypoint."""
    kp = np.asarray(keypoints, np.float64)
    finite = np.isfinite(kp).all(-1)
    use = np.asarray(visible, bool) & finite
    use = np.where(use.sum(1, keepdims=True) >= 2, use, finite)
    lo = np.where(use[..., None], kp, np.inf).min(1)
    hi = np.where(use[..., None], kp, -np.inf).max(1)
    out = np.concatenate([lo, hi], -1)
    out[~use.any(1)] = np.nan
    return out


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(P, S) distances of ``points`` (P, 2) to the segments ``a`` -> ``b`` (S, 2 each)."""
    ab = b - a
    t = ((points[:, None] - a[None]) * ab[None]).sum(-1) / np.maximum((ab**2).sum(-1), 1e-12)[None]
    nearest = a[None] + t.clip(0.0, 1.0)[..., None] * ab[None]
    return np.linalg.norm(points[:, None] - nearest, axis=-1)


def limb_overlap(keypoints: np.ndarray, visibility: np.ndarray, links: Sequence[tuple[int, int]], *,
                 radius: float = 0.15, visibility_threshold: float = 0.5) -> np.ndarray:
    """How much each pose lies on each other pose's limbs, whatever its keypoints are called.

    Args:
        keypoints: (N, K, 2) image pixels (x right, y down); NaN = missing.
        visibility: (N, K) keypoint scores in [0, 1]; visible = above ``visibility_threshold`` (all finite
            keypoints of a pose with fewer than 2 visible).
        links: (L, 2) keypoint index pairs, the limbs (e.g. ``coco17.links``).
        radius: a keypoint lies on a limb of pose j within ``radius * sqrt(area of j's visible-keypoint box)``.

    Returns:
        (N, N) float64 in [0, 1]: ``[i, j]`` = the fraction of pose i's visible keypoints on a visible limb (both
        ends visible) of pose j; 0 on the diagonal and where j has no visible limb.
    """
    kp, vis = _check_poses(keypoints, visibility)
    n = len(kp)
    pairs = np.asarray(links, np.int64).reshape(-1, 2)
    seen = _seen(kp, vis, visibility_threshold)
    scale = np.sqrt(np.maximum(box_area(visible_boxes(kp, seen)), 1e-12))
    out = np.zeros((n, n))
    for j in range(n):
        limbs = pairs[seen[j, pairs[:, 0]] & seen[j, pairs[:, 1]]]
        if not len(limbs) or not np.isfinite(scale[j]):
            continue
        a, b = kp[j, limbs[:, 0]], kp[j, limbs[:, 1]]
        for i in range(n):
            if i != j and seen[i].any():
                out[i, j] = float((_segment_distance(kp[i, seen[i]], a, b).min(1) < radius * scale[j]).mean())
    return out


def pose_oks(keypoints: np.ndarray, visibility: np.ndarray, sigmas: Sequence[float], *,
             visibility_threshold: float = 0.5) -> np.ndarray:
    """(N, N) float64 OKS: ``[i, j]`` = pose j against pose i as the reference (i's visible keypoints, the area of
    their box as the scale); 0 on the diagonal. Shapes and units as :func:`limb_overlap`; ``sigmas`` (K,)."""
    kp, vis = _check_poses(keypoints, visibility)
    n = len(kp)
    seen = _seen(kp, vis, visibility_threshold)
    area = np.nan_to_num(box_area(visible_boxes(kp, seen)), nan=0.0)
    sig = np.asarray(sigmas, np.float64)
    out = np.zeros((n, n))
    for i in range(n):
        if seen[i].any() and n > 1:
            others = np.nan_to_num(kp[:, seen[i]], nan=-1e9)  # a missing keypoint counts as far away
            out[i] = oks_iou(kp[i, seen[i]], others, area[i], np.full(n, area[i]), sig[seen[i]])
            out[i, i] = 0.0
    return out


def pose_conflicts(keypoints: np.ndarray, visibility: np.ndarray, *, sigmas: Sequence[float],
                   links: Sequence[tuple[int, int]], rules: DuplicateFilter = DuplicateFilter()) -> np.ndarray:
    """(N,) bool: the poses that one of ``rules``' thresholds (OKS or limb overlap, either way round) links to
    another pose. Only these can drop or be dropped in :func:`duplicate_poses`. Arguments as there."""
    oks, overlap = _pairwise(keypoints, visibility, sigmas, links, rules)
    hit = np.zeros(oks.shape, bool)
    if rules.max_oks is not None:
        hit |= np.maximum(oks, oks.T) > rules.max_oks
    if rules.max_overlap is not None:
        hit |= overlap > rules.max_overlap
    return hit.any(1)


def _pairwise(keypoints: np.ndarray, visibility: np.ndarray, sigmas: Sequence[float],
              links: Sequence[tuple[int, int]], rules: DuplicateFilter) -> tuple[np.ndarray, np.ndarray]:
    """(OKS [i, j] with i the reference, symmetric limb overlap), both (N, N)."""
    oks = pose_oks(keypoints, visibility, sigmas, visibility_threshold=rules.visibility_threshold)
    overlap = limb_overlap(keypoints, visibility, links, radius=rules.radius,
                           visibility_threshold=rules.visibility_threshold)
    return oks, np.maximum(overlap, overlap.T)


def pose_stability(first: np.ndarray, visibility: np.ndarray, second: np.ndarray, sigmas: Sequence[float], *,
                   visibility_threshold: float = 0.5) -> np.ndarray:
    """(N,) float64 OKS of each ``second`` pose against its ``first`` one (the first's visible keypoints and the
    area of their box as the reference): how well a second look of the landmark model reproduces a pose.

    Args:
        first, second: (N, K, 2) image pixels. visibility: (N, K) scores of ``first``. sigmas: (K,).
    """
    kp, vis = _check_poses(first, visibility)
    again = np.asarray(second, np.float64)
    if again.shape != kp.shape:
        raise ValueError(f"second must have the shape of first {kp.shape}, got {again.shape}")
    seen = _seen(kp, vis, visibility_threshold)
    area = np.nan_to_num(box_area(visible_boxes(kp, seen)), nan=0.0)
    sig = np.asarray(sigmas, np.float64)
    return np.array([oks_iou(kp[i, s], np.nan_to_num(again[i, s], nan=-1e9)[None], area[i], area[i:i + 1], sig[s])[0]
                     if s.any() else 0.0 for i, s in enumerate(seen)])


def duplicate_poses(keypoints: np.ndarray, visibility: np.ndarray, scores: np.ndarray, *, stability: np.ndarray,
                    sigmas: Sequence[float], links: Sequence[tuple[int, int]],
                    rules: DuplicateFilter = DuplicateFilter()) -> np.ndarray:
    """Which poses are duplicates of a better one (greedy NMS, see the module docstring).

    Poses are visited by decreasing ``scores`` (ties: input order); a pose is dropped when, against a pose kept
    before it, its OKS exceeds ``rules.max_oks`` or their limb overlap (either way round) exceeds
    ``rules.max_overlap`` while its ``stability`` is below ``rules.min_stability``. Dropped poses suppress
    nothing.

    Args:
        keypoints: (N, K, 2) image pixels (x right, y down); NaN = missing.
        visibility: (N, K) keypoint scores in [0, 1].
        scores: (N,) pose quality, higher first (BlazePose: presence flag x stability).
        stability: (N,) :func:`pose_stability` in [0, 1] (1 where not measured: such a pose never meets the
            overlap rule).
        sigmas: (K,) OKS sigmas (e.g. ``coco17.sigmas``). links: (L, 2) limbs (e.g. ``coco17.links``).

    Returns:
        (N,) bool, True = drop.
    """
    kp, _ = _check_poses(keypoints, visibility)
    n = len(kp)
    sc, stab = np.asarray(scores, np.float64), np.asarray(stability, np.float64)
    if sc.shape != (n,) or stab.shape != (n,):
        raise ValueError(f"scores and stability must have shape ({n},), got {sc.shape} and {stab.shape}")
    drop = np.zeros(n, bool)
    if n < 2:
        return drop
    oks, overlap = _pairwise(keypoints, visibility, sigmas, links, rules)
    kept: list[int] = []
    for j in np.argsort(-sc, kind="stable"):
        same = rules.max_oks is not None and any(oks[i, j] > rules.max_oks for i in kept)
        tangled = (rules.max_overlap is not None and stab[j] < rules.min_stability
                   and any(overlap[i, j] > rules.max_overlap for i in kept))
        if same or tangled:
            drop[j] = True
        else:
            kept.append(int(j))
    return drop
