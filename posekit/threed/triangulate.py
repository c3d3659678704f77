"""Multi-view triangulation: confidence-weighted DLT, RANSAC over views, reprojection error.

Shapes: ``V`` calibrated views (:class:`posekit.threed.cameras.Camera`) of the same points; ``points2d``
``(V, ..., 2)`` float pixels (distorted, as detected; x right, y down), the ``...`` being any batch of points
(e.g. ``(T, 17)`` frames x joints); ``weights`` ``(V, ...)`` confidences >= 0 (0: the view is ignored for
that point). Results are world points ``(..., 3)`` float64 in the cameras' world units (mm for the mocap data).

Method: the 2D points are undistorted to normalized coordinates (:meth:`Camera.undistort_points`), then each
view contributes the two DLT rows ``w (x p3 - p1)``, ``w (y p3 - p2)`` of ``P = [R | t]``; per point, the
world is first translated and scaled so the cameras that point uses (weight > 0) sit at unit mean distance
around the origin (Hartley normalisation; it also makes a zero-weight view irrelevant, not merely small), and
the homogeneous least-squares solution is the last right singular vector, batched over all points.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from posekit.threed.cameras import Camera

__all__ = ["triangulate_dlt", "reprojection_error", "triangulate_ransac", "RansacResult"]


def _check(points2d, cameras: Sequence[Camera], weights) -> tuple[np.ndarray, np.ndarray]:
    pts = np.asarray(points2d, dtype=np.float64)
    V = len(cameras)
    if V < 2:
        raise ValueError(f"need at least 2 cameras, got {V}")
    if not all(isinstance(c, Camera) for c in cameras):
        raise TypeError("cameras must be posekit.threed.cameras.Camera objects")
    if pts.ndim < 2 or pts.shape[0] != V or pts.shape[-1] != 2:
        raise ValueError(f"points2d must have shape (V={V}, ..., 2), got {pts.shape}")
    if weights is None:
        w = np.ones(pts.shape[:-1])
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != pts.shape[:-1]:
            raise ValueError(f"weights must have shape {pts.shape[:-1]} (points2d without its last axis), "
                             f"got {w.shape}")
        if np.any(w < 0) or not np.all(np.isfinite(w)):
            raise ValueError("weights must be finite and >= 0")
    # A missing detection (NaN) counts as weight 0.
    bad = ~np.all(np.isfinite(pts), axis=-1)
    w = np.where(bad, 0.0, w)
    return pts, w


def _dlt(xy: np.ndarray, w: np.ndarray, P: np.ndarray) -> np.ndarray:
    """xy (V, N, 2) normalized coords, w (V, N), P (V, N, 3, 4) per-point normalised ``[R | t]`` -> (N, 3) points
    in the normalised world (NaN where fewer than two views have positive weight)."""
    V, N, _ = xy.shape
    xy = np.where(w[..., None] > 0, xy, 0.0)  # zero-weight rows vanish; keep NaN out of the SVD
    rows_x = xy[..., 0:1] * P[:, :, 2] - P[:, :, 0]  # (V, N, 4)
    rows_y = xy[..., 1:2] * P[:, :, 2] - P[:, :, 1]
    A = np.stack([rows_x, rows_y], axis=1) * w[:, None, :, None]  # (V, 2, N, 4)
    A = A.reshape(2 * V, N, 4).transpose(1, 0, 2)  # (N, 2V, 4)
    _, _, vt = np.linalg.svd(A, full_matrices=False)
    X = vt[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = X[:, :3] / X[:, 3:4]
    out[np.sum(w > 0, axis=0) < 2] = np.nan
    return out


def triangulate_dlt(
    points2d: np.ndarray,
    cameras: Sequence[Camera],
    *,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Weighted linear triangulation (see the module docstring).

    Args:
        points2d: ``(V, ..., 2)`` distorted pixels; NaN marks a missing detection (weight 0).
        cameras: ``V`` cameras.
        weights: ``(V, ...)`` confidences >= 0, default 1. Rows are scaled by the weight: a zero-weight view is
            ignored exactly, and only the ratios between views matter.

    Returns:
        ``(..., 3)`` float64 world points; NaN where fewer than two views have positive weight.
    """
    pts, w = _check(points2d, cameras, weights)
    batch = pts.shape[1:-1]
    V = len(cameras)
    return _Normalised(pts.reshape(V, -1, 2), cameras).solve(w.reshape(V, -1)).reshape(batch + (3,))


class _Normalised:
    """Undistorted normalized coordinates of ``V`` views, computed once; :meth:`solve` triangulates with the
    world normalised per point by the views it uses, so a zero-weight view has no influence at all."""

    def __init__(self, flat: np.ndarray, cameras: Sequence[Camera]) -> None:
        self.xy = np.stack([c.undistort_points(flat[v]) for v, c in enumerate(cameras)])  # (V, N, 2)
        self.R = np.stack([c.R for c in cameras])  # (V, 3, 3)
        self.t = np.stack([c.t for c in cameras])  # (V, 3)
        self.centers = np.stack([c.center for c in cameras])  # (V, 3)

    def solve(self, w: np.ndarray) -> np.ndarray:
        active = (w > 0).astype(np.float64)  # (V, N)
        count = np.maximum(active.sum(axis=0), 1.0)
        mid = active.T @ self.centers / count[:, None]  # (N, 3): centroid of the used cameras
        spread = np.linalg.norm(self.centers[:, None] - mid[None], axis=-1)  # (V, N)
        scale = (active * spread).sum(axis=0) / count
        scale = np.where(scale > 0, scale, 1.0)
        # world X = mid + scale X'  =>  R X + t = scale (R X' + (R mid + t) / scale)
        t_n = (np.einsum("vij,nj->vni", self.R, mid) + self.t[:, None]) / scale[None, :, None]  # (V, N, 3)
        P = np.concatenate([np.broadcast_to(self.R[:, None], t_n.shape + (3,)), t_n[..., None]], axis=-1)
        return _dlt(self.xy, w, P) * scale[:, None] + mid


def reprojection_error(points3d: np.ndarray, points2d: np.ndarray, cameras: Sequence[Camera]) -> np.ndarray:
    """Pixel distance ``(V, ...)`` between ``points2d`` ``(V, ..., 2)`` and the projections (with distortion) of
    ``points3d`` ``(..., 3)`` into each camera (NaN where either is NaN)."""
    X = np.asarray(points3d, dtype=np.float64)
    pts = np.asarray(points2d, dtype=np.float64)
    if pts.shape[0] != len(cameras) or pts.shape[1:-1] != X.shape[:-1] or pts.shape[-1] != 2 or X.shape[-1] != 3:
        raise ValueError(f"points2d {pts.shape} must be (V={len(cameras)}, ..., 2) matching points3d {X.shape} "
                         "= (..., 3)")
    proj = np.stack([c.project(X) for c in cameras])
    return np.linalg.norm(proj - pts, axis=-1)


@dataclass(frozen=True, eq=False)
class RansacResult:
    """``points`` ``(..., 3)`` world (NaN where no two views agree); ``inliers`` ``(V, ...)`` bool, the views
    used for each point; ``errors`` ``(V, ...)`` reprojection errors (pixels) of ``points`` in every view."""

    points: np.ndarray
    inliers: np.ndarray
    errors: np.ndarray


def triangulate_ransac(
    points2d: np.ndarray,
    cameras: Sequence[Camera],
    *,
    weights: np.ndarray | None = None,
    threshold: float = 10.0,
    max_hypotheses: int = 100,
    rng: np.random.Generator | None = None,
) -> RansacResult:
    """Triangulation robust to wrong views (a mis-detected or swapped joint in some cameras).

    For every pair of views (all ``V (V - 1) / 2`` pairs when at most ``max_hypotheses``, else that many
    random pairs drawn with ``rng``), each point is triangulated from the pair and scored by the views whose
    reprojection error is below ``threshold`` pixels (views with weight 0 never count). Per point, the pair
    with the most inliers wins (ties: the smallest summed inlier error), and the point is re-triangulated
    from all its inliers with their weights (:func:`triangulate_dlt`). Vectorised over hypotheses and points.
    """
    pts, w = _check(points2d, cameras, weights)
    if threshold <= 0:
        raise ValueError(f"threshold must be > 0 pixels, got {threshold}")
    V = len(cameras)
    batch = pts.shape[1:-1]
    flat = pts.reshape(V, -1, 2)
    wf = w.reshape(V, -1)
    N = flat.shape[1]
    pairs = list(itertools.combinations(range(V), 2))
    if len(pairs) > max_hypotheses:
        if rng is None:
            raise ValueError(f"{len(pairs)} view pairs exceed max_hypotheses={max_hypotheses}: pass rng to sample")
        pairs = [pairs[i] for i in rng.choice(len(pairs), size=max_hypotheses, replace=False)]
    best_count = np.full(N, -1)
    best_cost = np.full(N, np.inf)
    best_inl = np.zeros((V, N), dtype=bool)
    views = _Normalised(flat, cameras)
    for i, j in pairs:
        wp = np.zeros_like(wf)
        wp[i], wp[j] = wf[i] > 0, wf[j] > 0
        X = views.solve(wp)  # (N, 3); NaN where a pair view has weight 0
        err = reprojection_error(X, flat, cameras)
        inl = (err < threshold) & (wf > 0)
        count = inl.sum(axis=0)
        cost = np.where(inl, err, 0.0).sum(axis=0)
        better = (count > best_count) | ((count == best_count) & (cost < best_cost))
        better &= count >= 2
        best_count = np.where(better, count, best_count)
        best_cost = np.where(better, cost, best_cost)
        best_inl[:, better] = inl[:, better]
    X = views.solve(np.where(best_inl, wf, 0.0))
    err = reprojection_error(X, flat, cameras)
    return RansacResult(X.reshape(batch + (3,)), best_inl.reshape((V,) + batch), err.reshape((V,) + batch))
