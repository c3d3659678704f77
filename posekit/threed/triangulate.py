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

Robust triangulation (:func:`triangulate_ransac`), vectorised over points and hypotheses: the hypotheses are the
points triangulated from every pair of views (minimal samples), from all views and, with 4 or more views, from all
but one. A hypothesis counts for a point only when its views see the point, lie in front of it, agree with it
within the threshold and include a pair whose rays meet at ``min_angle_deg`` to ``180 - min_angle_deg`` degrees
(nearly collinear rays -- cameras side by side, or facing each other across the point -- leave the depth along
them unconstrained: 2 px of noise there moves a point by metres). Hypotheses are ranked by the score-weighted
truncated reprojection error (MSAC), the winner's inliers are refit with the weighted DLT, then views within
``3 tau`` are added back when the refit keeps them all within ``tau`` (so without outliers the result is exactly
:func:`triangulate_dlt`). By default the threshold ``tau`` follows the noise: a first pass at a generous
threshold (3% of each image's larger side) finds the consensus, the 2D noise ``sigma`` is estimated robustly from
its inliers' residuals, and the second pass uses ``noise_multiple * sigma`` (at least ``min_threshold``). The
second pass also weights each view's vote by how often it agreed with the consensus on the other joints of the
same pose (the last batch axis), which settles the ambiguous joints of a camera that is wrong throughout.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from posekit.threed.cameras import Camera

__all__ = ["STATUS_REASONS", "RansacResult", "reprojection_error", "triangulate_dlt", "triangulate_ransac"]


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

    def solve(self, w: np.ndarray, *, repeat: int = 1, chunk: int = 32768) -> np.ndarray:
        """``w`` ``(V, repeat * N)``: ``repeat`` weightings of the same ``N`` points -> ``(repeat * N, 3)``, solved
        ``chunk`` points at a time (bounded memory)."""
        M, N = w.shape[1], self.xy.shape[1]
        out = np.empty((M, 3))
        for start in range(0, M, chunk):
            stop = min(start + chunk, M)
            out[start:stop] = self._solve(w[:, start:stop], np.arange(start, stop) % N)
        return out

    def _solve(self, w: np.ndarray, index: np.ndarray) -> np.ndarray:
        active = (w > 0).astype(np.float64)  # (V, M)
        count = np.maximum(active.sum(axis=0), 1.0)
        mid = active.T @ self.centers / count[:, None]  # (M, 3): centroid of the used cameras
        spread = np.linalg.norm(self.centers[:, None] - mid[None], axis=-1)  # (V, M)
        scale = (active * spread).sum(axis=0) / count
        scale = np.where(scale > 0, scale, 1.0)
        # world X = mid + scale X'  =>  R X + t = scale (R X' + (R mid + t) / scale)
        t_n = (np.einsum("vij,nj->vni", self.R, mid) + self.t[:, None]) / scale[None, :, None]  # (V, M, 3)
        P = np.concatenate([np.broadcast_to(self.R[:, None], t_n.shape + (3,)), t_n[..., None]], axis=-1)
        return _dlt(self.xy[:, index], w, P) * scale[:, None] + mid


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


STATUS_REASONS = (
    "ok",
    "seen by fewer than 2 cameras (missing, NaN or weight 0)",
    "rays nearly collinear: no usable pair of views meets at min_angle_deg or more",
    "no two views agree within the threshold",
)
"""Meaning of the :attr:`RansacResult.status` codes (index = code)."""

_RAYLEIGH_MEDIAN = float(np.sqrt(2.0 * np.log(2.0)))  # median |e| of a 2D Gaussian e with unit sigma per axis


@dataclass(frozen=True, eq=False)
class RansacResult:
    """Result of :func:`triangulate_ransac`.

    Attributes:
        points: ``(..., 3)`` world points; NaN where ``status != 0``.
        inliers: ``(V, ...)`` bool, the views used for each point.
        errors: ``(V, ...)`` reprojection errors (pixels) of ``points`` in every view (NaN where either is missing).
        status: ``(...)`` int8 codes into :data:`STATUS_REASONS`: 0 ok, 1 seen by fewer than 2 views, 2 only nearly
            collinear rays, 3 no two views agree.
        threshold: ``(V,)`` inlier thresholds (pixels) used in each view.
        sigma: robust estimate (pixels per axis) of the 2D noise from the final inliers' residuals; NaN when no
            point has inliers.
    """

    points: np.ndarray
    inliers: np.ndarray
    errors: np.ndarray
    status: np.ndarray
    threshold: np.ndarray
    sigma: float

    @property
    def num_inliers(self) -> np.ndarray:
        """``(...)`` int, the number of views used for each point."""
        return self.inliers.sum(axis=0)

    def reasons(self) -> np.ndarray:
        """``(...)`` object array of :data:`STATUS_REASONS` strings, one per point."""
        return np.asarray(STATUS_REASONS, dtype=object)[self.status]


def _residuals(X: np.ndarray, flat: np.ndarray, cameras: Sequence[Camera]) -> np.ndarray:
    """Reprojection errors ``(V, *X.shape[:-1])`` of world points ``X`` against ``flat`` ``(V, N, 2)``; +inf where
    the point or the detection is missing or the point is behind the camera (never an inlier)."""
    err = np.empty((len(cameras),) + X.shape[:-1])
    with np.errstate(invalid="ignore"):
        for v, c in enumerate(cameras):
            e = np.linalg.norm(c.project(X) - flat[v], axis=-1)
            err[v] = np.where((c.world_to_camera(X)[..., 2] > 0) & np.isfinite(e), e, np.inf)
    return err


def _sines(X: np.ndarray, centers: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Sine of the angle at ``X`` ``(..., 3)`` between the rays to camera centres ``i`` and ``j`` (index arrays
    broadcasting against ``X.shape[:-1]``); NaN where ``X`` is."""
    with np.errstate(invalid="ignore", divide="ignore"):
        a = X - centers[i]
        b = X - centers[j]
        return np.linalg.norm(np.cross(a, b), axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def _has_good_pair(X, inl, centers, pairs: np.ndarray, sin_min: float) -> np.ndarray:
    """``(...)``: the views ``inl`` ``(V, ...)`` hold a pair whose rays meet at ``X`` ``(..., 3)`` at an angle in
    ``[min_angle, 180 deg - min_angle]``."""
    good = np.zeros(X.shape[:-1], bool)
    for i, j in pairs:  # one pair at a time: (P, ..., 3) temporaries would be large
        good |= inl[i] & inl[j] & (np.nan_to_num(_sines(X, centers, i, j)) >= sin_min)
    return good


def _consensus(err_h, vote, valid, member, tau):
    """Per point, the hypothesis with the least weighted truncated-quadratic (MSAC) cost ``sum_v vote_v min((e_v /
    tau_v)^2, 1)`` among the valid ones whose own views (``member`` ``(V, H, N)``) are all inliers. ``err_h``
    ``(V, H, N)``, ``vote`` ``(V, N)`` (0: the view is missing); returns the winners' inliers ``(V, N)`` and
    ``found`` ``(N,)``. Ties go to the first hypothesis."""
    inl = (err_h < tau[:, None, None]) & (vote > 0)[:, None]
    ok = valid & np.all(~member | inl, axis=0)
    cost = np.where(ok, _cost(err_h, vote[:, None], tau), np.inf)  # (H, N)
    best = np.argmin(cost, axis=0)
    n = np.arange(err_h.shape[2])
    found = np.isfinite(cost[best, n])
    return inl[:, best, n] & found, found


def _cost(err: np.ndarray, wf: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Weighted truncated-quadratic (MSAC) cost ``sum_v w_v min((e_v / tau_v)^2, 1)`` over axis 0."""
    return np.sum(wf * np.minimum((err / tau.reshape((-1,) + (1,) * (err.ndim - 1))) ** 2, 1.0), axis=0)


def _refit(views, flat, cameras, wf, vote, inl, tau, centers, pairs, sin_min, rounds: int = 2):
    """Weighted DLT of the inliers, then local optimisation, ``rounds`` times: take the views within ``3 tau`` of
    the refit point when the refit with them keeps every one of them within ``tau`` (so an all-inlier point ends as
    the plain weighted DLT); drop the views beyond ``tau`` when that lowers the MSAC cost (``vote`` weights). A
    changed set keeps >= 2 views and a well-conditioned pair. Returns ``(X, inliers, errors)``."""
    usable = wf > 0
    X = views.solve(np.where(inl, wf, 0.0))
    err = _residuals(X, flat, cameras)
    for _ in range(rounds):
        for grow in (True, False):
            cand = (err < (3.0 if grow else 1.0) * tau[:, None]) & usable
            todo = np.any(cand != inl, axis=0) & (cand.sum(axis=0) >= 2)
            if not todo.any():
                continue
            Xc = views.solve(np.where(cand, wf, 0.0))
            ec = _residuals(Xc, flat, cameras)
            ok = todo & _has_good_pair(Xc, cand, centers, pairs, sin_min)
            if grow:  # more support: every view of the larger set within tau of its refit
                ok &= np.all(~cand | (ec < tau[:, None]), axis=0)
            else:  # fewer views: only when the fit gets better
                ok &= _cost(ec, vote, tau) < _cost(err, vote, tau)
            inl = np.where(ok, cand, inl)
            X = np.where(ok[:, None], Xc, X)
            err = np.where(ok, ec, err)
    return X, inl, err


def _noise_sigma(err: np.ndarray, inl: np.ndarray) -> float:
    """Robust per-axis 2D noise (pixels) from the inliers' residuals: a point fitted to ``n`` views leaves residuals
    of about ``sigma sqrt(1 - 3 / (2 n))`` times a Rayleigh variable, whose median is ``sqrt(2 ln 2)``."""
    n = inl.sum(axis=0)
    use = inl & (n >= 2) & np.isfinite(err)
    if not use.any():
        return float("nan")
    r = (err / np.sqrt(1.0 - 3.0 / (2.0 * np.maximum(n, 2))))[use]
    return float(np.median(r) / _RAYLEIGH_MEDIAN)


def _reliability(inl, usable, found, batch: tuple[int, ...], floor: float = 0.05) -> np.ndarray:
    """``(V, N)`` per view, the fraction of the points of the same pose (the last batch axis; all points when the
    batch has one axis) that the view sees and agrees with, at least ``floor``."""
    V = inl.shape[0]
    group = (V, -1, batch[-1]) if len(batch) >= 2 else (V, 1, -1)
    agree = inl.reshape(group).sum(axis=-1)
    seen = (usable & found).reshape(group).sum(axis=-1)
    rate = np.where(seen > 0, agree / np.maximum(seen, 1), 1.0)
    return np.broadcast_to(np.maximum(rate, floor)[..., None], inl.reshape(group).shape).reshape(V, -1)


def triangulate_ransac(
    points2d: np.ndarray,
    cameras: Sequence[Camera],
    *,
    weights: np.ndarray | None = None,
    threshold: float | None = None,
    noise_multiple: float = 4.0,
    min_threshold: float = 1.0,
    max_threshold: float | None = None,
    min_angle_deg: float = 15.0,
    max_hypotheses: int = 100,
    seed: int | np.random.Generator = 0,
) -> RansacResult:
    """Triangulation robust to wrong views (a mis-detected or swapped joint in some cameras).

    See the module docstring for the method. Pairs are all ``V (V - 1) / 2`` when at most ``max_hypotheses``, else
    that many drawn with ``seed`` (the same for every point: the result is deterministic). ``weights`` (keypoint
    scores) weight each view's term in the hypothesis cost ``sum_v w_v min((e_v / tau_v)^2, 1)`` and its rows in
    the final weighted DLT; without outliers the result equals ``triangulate_dlt(points2d, cameras,
    weights=weights)``.

    Args:
        points2d: ``(V, ..., 2)`` distorted pixels; NaN marks a missing detection.
        cameras: ``V`` cameras.
        weights: ``(V, ...)`` confidences >= 0 (keypoint scores), default 1; 0 = missing.
        threshold: inlier threshold in pixels, the same in every view. Default (``None``): from the noise, as
            ``clip(noise_multiple * sigma, min_threshold, max_threshold)``, ``sigma`` estimated (module docstring)
            from a first pass at ``max_threshold``.
        noise_multiple: threshold / noise ratio of the default threshold (4: a true inlier is rejected with
            probability ~exp(-8)).
        min_threshold: the default threshold's floor, pixels (sub-pixel disagreement never makes an outlier).
        max_threshold: the first pass's threshold and the default threshold's ceiling, pixels; default 3% of each
            camera's larger image side (30 px at 1000 x 1000).
        min_angle_deg: smallest angle between two rays for a pair to triangulate alone (0 disables the guard; a
            narrow-baseline stereo rig needs a small value).
        max_hypotheses: most pairs tried.
        seed: seed or generator for drawing the pairs when there are more than ``max_hypotheses``.

    Returns:
        :class:`RansacResult`; points with ``status != 0`` are NaN (see :data:`STATUS_REASONS`).
    """
    pts, w = _check(points2d, cameras, weights)
    if threshold is not None and not threshold > 0:
        raise ValueError(f"threshold must be > 0 pixels, got {threshold}")
    if not (noise_multiple > 0 and min_threshold > 0):
        raise ValueError(f"noise_multiple and min_threshold must be > 0, got {noise_multiple}, {min_threshold}")
    if max_threshold is not None and not max_threshold >= min_threshold:
        raise ValueError(f"max_threshold must be >= min_threshold={min_threshold} pixels, got {max_threshold}")
    if not 0 <= min_angle_deg < 90:
        raise ValueError(f"min_angle_deg must be in [0, 90), got {min_angle_deg}")
    if max_hypotheses < 1:
        raise ValueError(f"max_hypotheses must be >= 1, got {max_hypotheses}")
    V = len(cameras)
    batch = pts.shape[1:-1]
    flat = pts.reshape(V, -1, 2)
    wf = w.reshape(V, -1)
    N = flat.shape[1]
    sin_min = float(np.sin(np.deg2rad(min_angle_deg)))
    all_pairs = np.array(list(itertools.combinations(range(V), 2)))
    pairs = all_pairs
    if len(pairs) > max_hypotheses:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        pairs = all_pairs[np.sort(rng.choice(len(all_pairs), size=max_hypotheses, replace=False))]
    views = _Normalised(flat, cameras)
    centers = views.centers

    # Hypotheses (view subsets): every pair (minimal samples), then all views and, from 4 views, all but one.
    subsets = [np.isin(np.arange(V), p) for p in pairs] + [np.ones(V, bool)]
    if V >= 4:
        subsets += [np.arange(V) != v for v in range(V)]
    S = np.array(subsets)  # (H, V)
    H = len(S)
    usable = wf > 0
    member = S.T[:, :, None] & usable[:, None]  # (V, H, N)
    wp = np.where(member, np.where((S.sum(axis=1) == 2)[None, :, None], 1.0, wf[:, None]), 0.0)
    Xh = views.solve(wp.reshape(V, H * N), repeat=H).reshape(H, N, 3)  # all hypotheses at once
    err_h = _residuals(Xh, np.broadcast_to(flat[:, None], (V, H, N, 2)), cameras)  # (V, H, N)
    valid = (member.sum(axis=0) >= 2) & _has_good_pair(Xh, member, centers, all_pairs, sin_min)  # (H, N)

    ceiling = np.array([0.03 * max(c.image_size) for c in cameras]) if max_threshold is None else \
        np.full(V, float(max_threshold))
    # Pass 1: consensus at the given threshold (else the generous ceiling) -> noise level, view reliabilities.
    tau = np.full(V, float(threshold)) if threshold is not None else ceiling
    inl, found = _consensus(err_h, wf, valid, member, tau)
    _, inl, err = _refit(views, flat, cameras, wf, wf, inl, tau, centers, all_pairs, sin_min)
    if threshold is None:
        sigma = _noise_sigma(err, inl & found)
        tau = ceiling if not np.isfinite(sigma) else np.clip(noise_multiple * sigma, min_threshold, ceiling)
    vote = wf * _reliability(inl & found, wf > 0, found, batch)
    # Pass 2: at the final threshold, views weighted by their agreement with the consensus on the same pose.
    inl, found = _consensus(err_h, vote, valid, member, tau)
    X, inl, err = _refit(views, flat, cameras, wf, vote, inl, tau, centers, all_pairs, sin_min)

    status = np.full(N, 3, dtype=np.int8)
    status[~np.any(valid, axis=0)] = 2
    status[usable.sum(axis=0) < 2] = 1
    status[found] = 0
    inl &= found
    X[~found] = np.nan
    with np.errstate(invalid="ignore"):
        err = np.where(np.isfinite(err), err, np.nan)
        err[:, ~found] = np.nan
        err = np.where(wf > 0, err, np.nan)
    return RansacResult(X.reshape(batch + (3,)), inl.reshape((V,) + batch), err.reshape((V,) + batch),
                        status.reshape(batch), tau, _noise_sigma(np.nan_to_num(err, nan=np.inf), inl))
