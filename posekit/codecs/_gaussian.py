"""Gaussian targets and Gaussian modulation (blur) used by the heatmap and SimCC codecs.

Everything here is vectorised over a flat batch of ``M`` maps / vectors (``M = N * K``) and follows
MMPose 1.3.2 (``codecs/utils/gaussian_heatmap.py``, ``gaussian_blur`` / ``gaussian_blur1d``) to float32
rounding.
"""

from __future__ import annotations

import cv2
import numpy as np

# Keypoints are clipped to this many heatmap pixels before integer conversion; anything that far out is
# outside every map, and the clip keeps int64 casts well defined.
_COORD_LIMIT = 1.0e6


def _profile(center: np.ndarray, lo: np.ndarray, hi: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """(M, size) float64 ``exp(-(p - center)^2 / (2 sigma^2))`` for integer ``lo <= p < hi``, 0 elsewhere."""
    p = np.arange(size, dtype=np.float64)
    d = p - center[:, None]
    inside = (p >= lo[:, None]) & (p < hi[:, None])
    with np.errstate(under="ignore"):
        return np.where(inside, np.exp(-(d * d) / (2.0 * sigma * sigma)), 0.0)


def _maps(dx: np.ndarray, dy: np.ndarray, mask_x: np.ndarray, mask_y: np.ndarray, sigma: float) -> np.ndarray:
    """(M, H, W) float32 ``exp(-(dx^2 + dy^2) / (2 sigma^2))`` inside ``mask_y x mask_x``, 0 outside.

    ``dx`` (M, W) / ``dy`` (M, H) are offsets from the centre; the arithmetic runs in their dtype
    (float32 for MSRA / DARK, float64 for UDP), as MMPose does.
    """
    dtype = dx.dtype.type
    with np.errstate(under="ignore", over="ignore"):
        d2 = (dx * dx)[:, None, :] + (dy * dy)[:, :, None]
        g = np.exp(-d2 / dtype(2 * sigma * sigma))
    return np.where(mask_y[:, :, None] & mask_x[:, None, :], g, 0).astype(np.float32)


def windowed_gaussians(
    keypoints: np.ndarray, active: np.ndarray, heatmap_size: tuple[int, int], sigma: float, *, udp: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussians cut to a ``(6 sigma + 1)`` window around the rounded keypoint (MSRA / UDP targets).

    Args:
        keypoints: (M, 2) float32 heatmap-space pixels ``(x, y)``.
        active: (M,) bool, maps to draw (visible and finite); inactive maps stay 0.
        heatmap_size: ``(W, H)``.
        sigma: Gaussian sigma in heatmap pixels.
        udp: False: peak at the rounded keypoint, float32 arithmetic (MSRA); True: peak at the exact
            keypoint, float64 arithmetic (UDP).

    Returns:
        ``(heatmaps, in_bounds)``: (M, H, W) float32, and (M,) bool, False where the window lies
        completely outside the map (MMPose then sets the weight to 0).
    """
    W, H = heatmap_size
    kp = np.clip(keypoints, -_COORD_LIMIT, _COORD_LIMIT).astype(np.float32)
    radius = sigma * 3
    x0 = (2 * radius + 1) // 2  # centre index inside the window
    mu = (kp + np.float32(0.5)).astype(np.int64)  # truncation toward zero, as MMPose
    left = (mu - radius).astype(np.int64)
    right = (mu + radius + 1).astype(np.int64)
    in_bounds = ~((left[:, 0] >= W) | (left[:, 1] >= H) | (right[:, 0] < 0) | (right[:, 1] < 0))
    draw = active & in_bounds
    heatmaps = np.zeros((kp.shape[0], H, W), dtype=np.float32)
    if not draw.any():
        return heatmaps, in_bounds
    left, right = left[draw], right[draw]
    axes = []
    for a, size in ((0, W), (1, H)):
        p = np.arange(size)
        window_index = p - left[:, a : a + 1]  # index into MMPose's (6 sigma + 1) window
        inside = (p >= left[:, a : a + 1]) & (p < right[:, a : a + 1])
        if udp:
            center = x0 + (kp[draw, a].astype(np.float64) - mu[draw, a])
            offset = window_index.astype(np.float64) - center[:, None]
        else:
            offset = window_index.astype(np.float32) - np.float32(x0)
        axes.append((offset, inside))
    heatmaps[draw] = _maps(axes[0][0], axes[1][0], axes[0][1], axes[1][1], sigma)
    return heatmaps, in_bounds


def unbiased_gaussians(
    keypoints: np.ndarray, active: np.ndarray, heatmap_size: tuple[int, int], sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Untruncated Gaussians centred at the exact keypoint (DARK / ``unbiased=True`` targets), float32.

    Same arguments and returns as :func:`windowed_gaussians`; ``in_bounds`` is False when the keypoint
    lies more than ``3 sigma`` (left/top) or ``3 sigma + 1`` (right/bottom) outside the map.
    """
    W, H = heatmap_size
    kp = np.clip(keypoints, -_COORD_LIMIT, _COORD_LIMIT).astype(np.float32)
    radius = sigma * 3
    left, right = kp - radius, kp + radius + 1  # float32, as MMPose
    in_bounds = ~((left[:, 0] >= W) | (left[:, 1] >= H) | (right[:, 0] < 0) | (right[:, 1] < 0))
    draw = active & in_bounds
    heatmaps = np.zeros((kp.shape[0], H, W), dtype=np.float32)
    if draw.any():
        dx = np.arange(W, dtype=np.float32) - kp[draw, 0:1]
        dy = np.arange(H, dtype=np.float32) - kp[draw, 1:2]
        heatmaps[draw] = _maps(dx, dy, np.ones(dx.shape, bool), np.ones(dy.shape, bool), sigma)
    return heatmaps, in_bounds


def gaussian_profiles(centers: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """(M, size) float32 untruncated 1-D Gaussians ``exp(-(i - c)^2 / (2 sigma^2))`` over bins ``i``."""
    inf = np.full(centers.shape[0], np.inf)
    return _profile(centers.astype(np.float64), -inf, inf, size, sigma).astype(np.float32)


def blur_heatmaps(heatmaps: np.ndarray, kernel: int) -> np.ndarray:
    """DARK modulation: zero-padded Gaussian blur, rescaled so each map keeps its original maximum.

    Args:
        heatmaps: (M, H, W) float32.
        kernel: odd blur kernel size (OpenCV sigma ``0.3 * ((kernel - 1) / 2 - 1) + 0.8``).

    Returns:
        (M, H, W) float32 new array. Maps whose blurred maximum is 0 (e.g. all-zero maps) become NaN,
        as in MMPose (0 / 0); callers replace such results.
    """
    M, H, W = heatmaps.shape
    if M == 0:
        return heatmaps.copy()
    b = (kernel - 1) // 2
    padded = np.zeros((M, H + 2 * b, W + 2 * b), dtype=np.float32)
    padded[:, b : b + H, b : b + W] = heatmaps
    # One tall single-channel image: every map has >= b zero rows around it, so a single OpenCV call
    # equals M separate calls bit for bit.
    blurred = cv2.GaussianBlur(padded.reshape(M * (H + 2 * b), W + 2 * b), (kernel, kernel), 0)
    blurred = blurred.reshape(padded.shape)[:, b : b + H, b : b + W]
    return _rescale(blurred, heatmaps.reshape(M, -1).max(axis=1), blurred.reshape(M, -1).max(axis=1))


def blur_vectors(vectors: np.ndarray, kernel: int) -> np.ndarray:
    """1-D DARK modulation of SimCC vectors: (M, L) float32 -> (M, L) float32 (see :func:`blur_heatmaps`)."""
    M, L = vectors.shape
    if M == 0:
        return vectors.copy()
    b = (kernel - 1) // 2
    padded = np.zeros((M, L + 2 * b), dtype=np.float32)
    padded[:, b : b + L] = vectors
    blurred = cv2.GaussianBlur(padded, (kernel, 1), 0)[:, b : b + L]
    return _rescale(blurred, vectors.max(axis=1), blurred.max(axis=1))


def _rescale(blurred: np.ndarray, origin_max: np.ndarray, blurred_max: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (origin_max / blurred_max).astype(np.float32)
        out = blurred * ratio.reshape((-1,) + (1,) * (blurred.ndim - 1))
    return np.ascontiguousarray(out, dtype=np.float32)
