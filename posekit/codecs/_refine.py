"""Argmax decoding and sub-pixel refinement (quarter offset, DARK, DARK-UDP, SimCC DARK).

Vectorised re-implementations of MMPose 1.3.2 ``codecs/utils/post_processing.py`` and
``codecs/utils/refinement.py``, reproducing their float32 / float64 arithmetic step by step.
Locations are (x, y) in map pixels (heatmap pixels or SimCC bins); ``-1`` marks a map whose maximum
is <= 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from posekit.codecs._gaussian import blur_heatmaps, blur_vectors
from posekit.codecs._validate import to_numpy


def heatmap_argmax(heatmaps: Any) -> tuple[np.ndarray, np.ndarray]:
    """Location and value of each heatmap's maximum.

    Args:
        heatmaps: (..., H, W) numeric array or torch tensor, e.g. (N, K, H, W).

    Returns:
        ``(locs, vals)``: (..., 2) float32 ``(x, y)`` heatmap pixels of the first maximum (row-major),
        ``(-1, -1)`` where the maximum is <= 0; (...) float32 maxima.
    """
    hm = to_numpy(heatmaps, "heatmaps")
    if hm.ndim < 2 or hm.shape[-1] == 0 or hm.shape[-2] == 0:
        raise ValueError(f"heatmaps must have shape (..., H, W) with H, W > 0, got {hm.shape}")
    hm = hm.astype(np.float32, copy=False)
    H, W = hm.shape[-2:]
    flat = hm.reshape(hm.shape[:-2] + (H * W,))
    idx = flat.argmax(axis=-1)
    vals = np.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
    locs = np.stack((idx % W, idx // W), axis=-1).astype(np.float32)
    locs[vals <= 0] = -1
    return locs, vals


def simcc_argmax(
    simcc_x: np.ndarray, simcc_y: np.ndarray, *, apply_softmax: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis argmax of SimCC vectors (MMPose ``get_simcc_maximum``).

    Args:
        simcc_x: (N, K, Wx) float array; simcc_y: (N, K, Hy) float array.
        apply_softmax: softmax each vector first (float64 in, float64 out).

    Returns:
        ``(locs, vals)``: (N, K, 2) float32 bin indices ``(x, y)``, ``-1`` where ``vals <= 0``;
        (N, K) ``min(max_x, max_y)`` in the input dtype (float64 with softmax).
    """
    if apply_softmax:
        simcc_x, simcc_y = _softmax(simcc_x), _softmax(simcc_y)
    ix, iy = simcc_x.argmax(axis=-1), simcc_y.argmax(axis=-1)
    vx = np.take_along_axis(simcc_x, ix[..., None], axis=-1)[..., 0]
    vy = np.take_along_axis(simcc_y, iy[..., None], axis=-1)[..., 0]
    vals = np.minimum(vx, vy)
    locs = np.stack((ix, iy), axis=-1).astype(np.float32)
    locs[vals <= 0] = -1
    return locs, vals


def _softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _inv(matrices: np.ndarray) -> np.ndarray:
    """Stacked 2x2 inverses via LAPACK (as MMPose's per-matrix ``np.linalg.inv``); NaN for singular ones."""
    try:
        return np.linalg.inv(matrices)
    except np.linalg.LinAlgError:
        out = np.full_like(matrices, np.nan)
        for i, m in enumerate(matrices):  # rare fallback: only when some matrix is exactly singular
            try:
                out[i] = np.linalg.inv(m)
            except np.linalg.LinAlgError:
                pass
        return out


def _gather(maps: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``maps[n, k, y, x]`` for (N, K) integer index arrays (already inside the map)."""
    N, K, H, W = maps.shape
    flat = maps.reshape(N, K, H * W)
    return np.take_along_axis(flat, (y * W + x)[..., None], axis=-1)[..., 0]


def refine_quarter_offset(locs: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Shift each location 0.25 px toward the higher neighbour (MMPose ``refine_keypoints``).

    Args:
        locs: (N, K, 2) float32 argmax locations (``-1`` for invalid).
        heatmaps: (N, K, H, W) float32.

    Returns:
        (N, K, 2) float32 new array. As in MMPose, x moves only when ``1 < x < W - 1`` (sic: not
        ``0 < x``) and ``0 < y``; y only when ``1 < y < H - 1`` and ``0 < x``.
    """
    H, W = heatmaps.shape[-2:]
    x, y = locs[..., 0].astype(np.int64), locs[..., 1].astype(np.int64)
    xc, yc = np.clip(x, 1, max(W - 2, 1)), np.clip(y, 1, max(H - 2, 1))
    okx = (x > 1) & (x < W - 1) & (y > 0) & (y < H)
    oky = (y > 1) & (y < H - 1) & (x > 0) & (x < W)
    ys = np.clip(y, 0, H - 1)
    xs = np.clip(x, 0, W - 1)
    dx = _gather(heatmaps, np.minimum(xc + 1, W - 1), ys) - _gather(heatmaps, xc - 1, ys)
    dy = _gather(heatmaps, xs, np.minimum(yc + 1, H - 1)) - _gather(heatmaps, xs, yc - 1)
    step = np.stack((np.where(okx, np.sign(dx), 0), np.where(oky, np.sign(dy), 0)), axis=-1)
    return (locs + step.astype(np.float32) * np.float32(0.25)).astype(np.float32)


def refine_dark(locs: np.ndarray, heatmaps: np.ndarray, blur_kernel_size: int) -> np.ndarray:
    """DARK: one Newton step on the log of the blurred heatmap (MMPose ``refine_keypoints_dark``).

    Args:
        locs: (N, K, 2) float32 argmax locations.
        heatmaps: (N, K, H, W) float32 (not modified).
        blur_kernel_size: odd Gaussian modulation kernel.

    Returns:
        (N, K, 2) float32. Only locations with ``1 < x < W - 2`` and ``1 < y < H - 2`` and a
        non-singular Hessian move. NaN where the blurred map is degenerate (all-zero) and refined.
    """
    N, K, H, W = heatmaps.shape
    out = locs.copy()
    blurred = blur_heatmaps(heatmaps.reshape(N * K, H, W), blur_kernel_size)
    logm = np.log(np.maximum(blurred, np.float32(1e-10))).reshape(N, K, H, W)
    x, y = locs[..., 0].astype(np.int64), locs[..., 1].astype(np.int64)
    ok = (x > 1) & (x < W - 2) & (y > 1) & (y < H - 2)
    if not ok.any():
        return out
    xc, yc = np.clip(x, 2, max(W - 3, 2)), np.clip(y, 2, max(H - 3, 2))

    def g(dx: int, dy: int) -> np.ndarray:
        return _gather(logm, np.clip(xc + dx, 0, W - 1), np.clip(yc + dy, 0, H - 1))

    f32 = np.float32
    c = g(0, 0)
    dx = f32(0.5) * (g(1, 0) - g(-1, 0))
    dy = f32(0.5) * (g(0, 1) - g(0, -1))
    dxx = f32(0.25) * (g(2, 0) - f32(2) * c + g(-2, 0))
    dxy = f32(0.25) * (g(1, 1) - g(1, -1) - g(-1, 1) + g(-1, -1))
    dyy = f32(0.25) * (g(0, 2) - f32(2) * c + g(0, -2))
    with np.errstate(invalid="ignore", over="ignore"):
        det = dxx * dyy - dxy**2
    ok &= det != 0  # NaN passes, as in MMPose, and yields NaN below
    finite = np.isfinite(det) & np.isfinite(dx) & np.isfinite(dy)
    out[ok & ~finite] = np.nan
    ok &= finite
    if not ok.any():
        return out
    hessian = np.stack((np.stack((dxx, dxy), -1), np.stack((dxy, dyy), -1)), -2)[ok]  # (M, 2, 2) float32
    derivative = np.stack((dx, dy), -1)[ok][..., None]  # (M, 2, 1) float32
    with np.errstate(invalid="ignore", over="ignore"):
        offset = (-_inv(hessian) @ derivative)[..., 0]
        out[ok] = out[ok] + offset.astype(np.float32)
    return out


def refine_dark_udp(locs: np.ndarray, heatmaps: np.ndarray, blur_kernel_size: int) -> np.ndarray:
    """DARK-UDP: Newton step on the log of the blurred, clipped heatmap (``refine_keypoints_dark_udp``).

    Reproduces MMPose's flat indexing into the edge-padded ``(K, H + 2, W + 2)`` maps of each instance,
    including invalid ``-1`` locations (which read neighbouring maps, wrapping around), so that results
    match MMPose everywhere. NaN where a map read is degenerate (all-zero input map).

    Args and returns as :func:`refine_dark`; output (N, K, 2) float32.
    """
    N, K, H, W = heatmaps.shape
    if N * K == 0:
        return locs.copy()
    blurred = blur_heatmaps(heatmaps.reshape(N * K, H, W), blur_kernel_size)
    with np.errstate(invalid="ignore"):
        logm = np.log(np.clip(blurred, np.float32(1e-3), np.float32(50.0)))
    padded = np.pad(logm.reshape(N, K, H, W), ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge").reshape(N, -1)
    Wp = W + 2
    x, y = locs[..., 0].astype(np.int64), locs[..., 1].astype(np.int64)
    index = x + 1 + (y + 1) * Wp + Wp * (H + 2) * np.arange(K)  # (N, K); may be negative: wraps like MMPose

    def g(offset: int) -> np.ndarray:
        return np.take_along_axis(padded, index + offset, axis=1)

    f32 = np.float32
    i_, ix1, iy1, ix1y1 = g(0), g(1), g(Wp), g(Wp + 1)
    ix1_y1_, ix1_, iy1_ = g(-Wp - 1), g(-1), g(-Wp)
    dx = f32(0.5) * (ix1 - ix1_)
    dy = f32(0.5) * (iy1 - iy1_)
    dxx = ix1 - f32(2) * i_ + ix1_
    dyy = iy1 - f32(2) * i_ + iy1_
    dxy = f32(0.5) * (ix1y1 - ix1 - iy1 + i_ + i_ - ix1_ - iy1_ + ix1_y1_)
    hessian = np.stack((np.stack((dxx, dxy), -1), np.stack((dxy, dyy), -1)), -2).astype(np.float64)
    hessian += np.finfo(np.float32).eps * np.eye(2)
    derivative = np.stack((dx, dy), -1).astype(np.float64)[..., None]
    out = locs.astype(np.float64)
    finite = np.isfinite(hessian).all(axis=(-2, -1))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        inv = np.full_like(hessian, np.nan)
        if finite.any():
            inv[finite] = _inv(hessian[finite])
        out -= (inv @ derivative)[..., 0]
    return out.astype(np.float32)


def refine_simcc_dark(locs: np.ndarray, simcc: np.ndarray, blur_kernel_size: int) -> np.ndarray:
    """1-D DARK on SimCC vectors (MMPose ``refine_simcc_dark``) for one axis.

    Args:
        locs: (N, K) float32 argmax bins of this axis (``-1`` for invalid).
        simcc: (N, K, L) float32 vectors of this axis (not modified).
        blur_kernel_size: odd Gaussian modulation kernel.

    Returns:
        (N, K) float32 refined bins; NaN where the vector is all zero (as MMPose).
    """
    N, K, L = simcc.shape
    if N * K == 0:
        return locs.copy()
    blurred = blur_vectors(simcc.reshape(N * K, L), blur_kernel_size)
    with np.errstate(invalid="ignore"):
        logv = np.log(np.clip(blurred, np.float32(1e-3), np.float32(50.0)))
    padded = np.pad(logv.reshape(N, K, L), ((0, 0), (0, 0), (2, 2)), mode="edge")
    px = (locs + np.float32(2.5)).astype(np.int64)

    def g(offset: int) -> np.ndarray:
        return np.take_along_axis(padded, (px + offset)[..., None], axis=-1)[..., 0]

    f32 = np.float32
    dx = f32(0.5) * (g(1) - g(-1))
    dxx = f32(1e-9) + f32(0.25) * (g(2) - f32(2) * g(0) + g(-2))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return (locs - dx / dxx).astype(np.float32)


def fallback_nonfinite(
    refined: np.ndarray, locs: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Replace keypoints whose refinement is not finite by the plain argmax location, with score 0.

    MMPose returns NaN there (DARK / UDP / SimCC-DARK decodes of all-zero maps: the Gaussian
    modulation divides 0 by 0). Args: (N, K, 2) refined, (N, K, 2) argmax locations, (N, K) scores.
    Returns new ``(keypoints (N, K, 2) float32, scores (N, K) float32)``.
    """
    bad = ~np.isfinite(refined).all(axis=-1)
    keypoints = np.where(bad[..., None], locs, refined).astype(np.float32)
    scores = np.where(bad, 0, scores).astype(np.float32)
    return keypoints, scores

