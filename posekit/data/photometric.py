"""Pixel-value augmentation of a model-input crop: photometric jitter and coarse-dropout occlusion.

Neither moves image content, so keypoints are unaffected (the geometric transforms are in
:mod:`posekit.data.augment`). Randomness comes only from the ``numpy.random.Generator`` passed in; inputs are never
modified.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["coarse_dropout", "photometric_distortion"]


def _rgb_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"image must be an (H, W, 3) uint8 array, got {got}")


def _affine(values: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    """``clip(values * alpha + beta, 0, 255)`` in float32, truncated to uint8 (MMPose
    ``PhotometricDistortion._convert``), through a 256-entry lookup table (the same values, several times faster)."""
    table = np.clip(np.arange(256, dtype=np.float32) * np.float32(alpha) + np.float32(beta), 0, 255).astype(np.uint8)
    return cv2.LUT(np.ascontiguousarray(values), table)


def photometric_distortion(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    brightness_delta: float = 32.0,
    contrast_range: tuple[float, float] = (0.5, 1.5),
    saturation_range: tuple[float, float] = (0.5, 1.5),
    hue_delta: int = 18,
    channel_swap: bool = True,
) -> np.ndarray:
    """Random brightness, contrast, saturation, hue and channel order (MMPose ``PhotometricDistortion``).

    The same draws and defaults as MMPose 1.3.2: each step is applied with probability 1/2 -- brightness
    ``+ U(-brightness_delta, brightness_delta)``; contrast ``* U(contrast_range)``, before or after the HSV steps
    (another coin); then one of {nothing, saturation, hue, both} (``hsv_mode``): saturation ``* U(saturation_range)``,
    hue ``+ randint(-hue_delta, hue_delta)`` in OpenCV's 0-179 hue units; finally a random channel permutation
    (``channel_swap``). Two deliberate differences: contrast is applied once (MMPose 1.3.2 tests the same mode twice,
    applying it twice or never; mmdet's original applies it once), and hue wraps modulo 180 (MMPose lets uint8
    wrap at 256).

    Args:
        image: (H, W, 3) uint8 **RGB** (the hue is computed in RGB order); not modified.
        rng: the source of randomness.

    Returns:
        New (H, W, 3) uint8 image.
    """
    _rgb_image(image)
    contrast_last = rng.integers(2)
    brightness_flag = rng.integers(2)
    contrast_flag = rng.integers(2)
    hsv_mode = rng.integers(4)
    swap_flag = rng.integers(2)
    beta = rng.uniform(-brightness_delta, brightness_delta)
    alpha = rng.uniform(*contrast_range)
    saturation = rng.uniform(*saturation_range)
    hue = int(rng.integers(-hue_delta, hue_delta)) if hue_delta > 0 else 0
    order = rng.permutation(3)

    out = image
    if brightness_flag:
        out = _affine(out, beta=beta)
    if contrast_flag and not contrast_last:
        out = _affine(out, alpha=alpha)
    if hsv_mode:
        hsv = cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_RGB2HSV)
        if hsv_mode in (1, 3):
            hsv[:, :, 1] = _affine(hsv[:, :, 1], alpha=saturation)
        if hsv_mode in (2, 3):
            hsv[:, :, 0] = ((hsv[:, :, 0].astype(np.int32) + hue) % 180).astype(np.uint8)
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if contrast_flag and contrast_last:
        out = _affine(out, alpha=alpha)
    if channel_swap and swap_flag:
        out = out[..., order]
    return np.array(out, copy=True) if out is image else np.ascontiguousarray(out)


def coarse_dropout(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    num_holes: tuple[int, int] = (1, 1),
    size_range: tuple[float, float] = (0.2, 0.4),
    fill: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Erase random rectangles (Albumentations ``CoarseDropout`` as MMPose's RTMPose recipes configure it:
    ``max_holes=1, min_holes=1, max_height=max_width=0.4, min_height=min_width=0.2, p=1``).

    For each of ``randint(num_holes[0], num_holes[1])`` holes (inclusive): height ``int(H * U(size_range))``, width
    ``int(W * U(size_range))``, top-left corner uniform over the positions that keep the hole inside the image.
    Keypoints are left alone (MMPose passes only the image to Albumentations): an erased keypoint keeps its target,
    which is the point of the occlusion augmentation.

    Args:
        image: (H, W, C) uint8; not modified.
        rng: the source of randomness.
        num_holes: (min, max) number of holes.
        size_range: (min, max) hole side as a fraction of the image side, in (0, 1].
        fill: value written into the holes.

    Returns:
        ``(new_image, holes)``; holes (M, 4) int32 ``x1, y1, x2, y2`` pixels with exclusive ends.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"image must be an (H, W, C) uint8 array, got {getattr(image, 'shape', type(image))}")
    lo_n, hi_n = (int(v) for v in num_holes)
    lo, hi = (float(v) for v in size_range)
    if not 0 <= lo_n <= hi_n:
        raise ValueError(f"num_holes must be (min, max) with 0 <= min <= max, got {num_holes!r}")
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"size_range must be fractions (min, max) with 0 < min <= max <= 1, got {size_range!r}")
    height, width = image.shape[:2]
    out = image.copy()
    holes = np.zeros((int(rng.integers(lo_n, hi_n + 1)), 4), dtype=np.int32)
    for i in range(len(holes)):
        hh = int(height * rng.uniform(lo, hi))
        hw = int(width * rng.uniform(lo, hi))
        y1 = int(rng.integers(0, height - hh + 1))
        x1 = int(rng.integers(0, width - hw + 1))
        out[y1:y1 + hh, x1:x1 + hw] = fill
        holes[i] = (x1, y1, x1 + hw, y1 + hh)
    return out, holes
