"""MoveNet's square crops: where they come from (person boxes, the previous frame's keypoints, the whole image),
how they are cut (zero padding outside the image) and how network coordinates go back to image pixels.

A crop *region* is an axis-aligned square ``x1, y1, x2, y2`` (``x2 - x1 == y2 - y1``) in image pixels (x right,
y down, origin at the top-left pixel's corner); it may extend past the image, where the crop is 0 (black), as
MoveNet's ``tf.image.crop_and_resize`` crops are. MoveNet returns ``(y, x)`` normalised to its input, i.e. to the
region: ``x = x1 + x_norm * side``, ``y = y1 + y_norm * side`` (:func:`region_to_image`).

:func:`tracking_region` is ``determine_crop_region`` of the TF Hub MoveNet tutorial (crop from the previous frame's
keypoints), in image pixels.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from posekit.boxes import check_boxes

__all__ = [
    "cut_regions",
    "keypoint_boxes",
    "region_to_image",
    "snap_regions",
    "square_regions",
    "torso_visible",
    "tracking_region",
    "whole_image_region",
]

# COCO-17 indices (MoveNet's keypoint order is COCO's)
_SHOULDERS = (5, 6)
_HIPS = (11, 12)
_TORSO = (5, 6, 11, 12)


def square_regions(boxes: Any, *, margin: float) -> np.ndarray:
    """(N, 4) float64 square regions around xyxy ``boxes`` (N, 4) image pixels: same centre, side
    ``max(w, h) * margin``.

    Raises:
        ValueError: a non-positive or non-finite ``margin``; boxes that are not (N, 4), not finite, or of zero or
            negative size (:func:`posekit.boxes.check_boxes`, naming the first bad box).
    """
    if not np.isfinite(margin) or margin <= 0:
        raise ValueError(f"margin must be a positive finite number, got {margin!r}")
    b = np.asarray(boxes, np.float64)
    b = check_boxes(b.reshape(0, 4) if b.size == 0 else b)
    centre = (b[:, :2] + b[:, 2:]) / 2
    half = np.max(b[:, 2:] - b[:, :2], axis=1, keepdims=True) * margin / 2
    return np.concatenate([centre - half, centre + half], axis=1)


def whole_image_region(image_size: tuple[int, int]) -> np.ndarray:
    """(4,) the square ``[0, 0, s, s]`` with ``s = max(width, height)``: the whole image, padded right or bottom
    (MoveNet's ``init_crop_region`` letterboxes it centred; the TF.js fixtures pad right/bottom, as here)."""
    w, h = image_size
    s = float(max(w, h))
    return np.array([0.0, 0.0, s, s])


def snap_regions(regions: Any) -> np.ndarray:
    """(N, 4) float64 square ``regions`` moved to whole pixels: corner rounded, side rounded (at least 1 pixel).
    A crop of a snapped region is an exact copy of image pixels before resizing (:func:`cut_regions`); the
    region moves by at most half a pixel."""
    r = np.asarray(regions, np.float64).reshape(-1, 4)
    corner = np.round(r[:, :2])
    side = np.maximum(np.round(r[:, 2] - r[:, 0]), 1.0)[:, None]
    return np.concatenate([corner, corner + side], axis=1)


def cut_regions(image: np.ndarray, regions: np.ndarray, size: int) -> np.ndarray:
    """(N, size, size, 3) uint8 crops of ``image`` (H, W, 3) uint8 at whole-pixel square ``regions`` (N, 4) image
    pixels (:func:`snap_regions`): the region's pixels (0 outside the image) resized to ``size`` with
    ``cv2.INTER_AREA`` when shrinking (anti-aliased, as the TF.js fixture inputs) and ``cv2.INTER_LINEAR`` when
    enlarging; crop pixel ``u`` covers region fraction ``[u, u + 1] / size``. ``image`` is not modified.

    Raises:
        ValueError: regions not on whole pixels (snap them first).
    """
    regions = np.asarray(regions, np.float64).reshape(-1, 4)
    if not np.array_equal(regions, snap_regions(regions)):
        raise ValueError("regions must be squares on whole pixels: pass them through snap_regions first")
    h, w = image.shape[:2]
    out = np.empty((len(regions), size, size, 3), np.uint8)
    for i, (x1, y1, x2, _) in enumerate(regions.astype(np.int64)):
        side = x2 - x1
        patch = np.zeros((side, side, 3), np.uint8)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y1 + side, h)
        if sx2 > sx1 and sy2 > sy1:
            patch[sy1 - y1:sy2 - y1, sx1 - x1:sx2 - x1] = image[sy1:sy2, sx1:sx2]
        interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        out[i] = patch if side == size else cv2.resize(patch, (size, size), interpolation=interp)
    return out


def region_to_image(yx: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """(N, K, 2) ``x, y`` image pixels of MoveNet's ``(y, x)`` (N, K, 2) normalised to the square ``regions``
    (N, 4) image pixels."""
    yx = np.asarray(yx, np.float64)
    regions = np.asarray(regions, np.float64).reshape(-1, 4)
    side = (regions[:, 2] - regions[:, 0])[:, None]
    x = regions[:, 0:1] + yx[..., 1] * side
    y = regions[:, 1:2] + yx[..., 0] * side
    return np.stack([x, y], axis=-1)


def torso_visible(scores: np.ndarray, *, min_score: float = 0.2) -> bool:
    """MoveNet's ``torso_visible``: a hip and a shoulder (either side) score above ``min_score``; ``scores``
    (17,) COCO-17 keypoint scores."""
    s = np.asarray(scores)
    return bool(max(s[i] for i in _HIPS) > min_score and max(s[i] for i in _SHOULDERS) > min_score)


def tracking_region(keypoints: np.ndarray, scores: np.ndarray, image_size: tuple[int, int], *,
                    min_score: float = 0.2, torso_expansion: float = 1.9, body_expansion: float = 1.2
                    ) -> np.ndarray | None:
    """The next frame's crop region from one person's keypoints, as MoveNet's ``determine_crop_region``.

    Centre: the hip midpoint. Half side: the largest of ``torso_expansion`` x the torso's x and y ranges from the
    centre (the four torso joints, whatever their scores) and ``body_expansion`` x the body's ranges (joints scoring
    above ``min_score``), capped at the largest distance from the centre to an image edge. A half side above half
    the image's longer side gives the whole image (:func:`whole_image_region`), as MoveNet's init crop.

    Args:
        keypoints: (17, 2) COCO-17 ``x, y`` image pixels. scores: (17,) in [0, 1].
        image_size: ``(width, height)`` pixels.

    Returns:
        (4,) float64 square region in image pixels, or ``None`` when the torso is not visible
        (:func:`torso_visible`): the caller re-initialises (detector or whole image).
    """
    kp = np.asarray(keypoints, np.float64)
    sc = np.asarray(scores, np.float64)
    if not torso_visible(sc, min_score=min_score) or not np.isfinite(kp[list(_TORSO)]).all():
        return None
    w, h = image_size
    cx, cy = (kp[_HIPS[0]] + kp[_HIPS[1]]) / 2
    torso = np.abs(kp[list(_TORSO)] - (cx, cy)).max(axis=0)
    body_pts = kp[(sc > min_score) & np.isfinite(kp).all(axis=1)]
    body = np.abs(body_pts - (cx, cy)).max(axis=0) if len(body_pts) else np.zeros(2)
    half = max(torso.max() * torso_expansion, body.max() * body_expansion)
    half = min(half, max(cx, w - cx, cy, h - cy))
    if half > max(w, h) / 2:
        return whole_image_region(image_size)
    if not half > 0:
        return None
    return np.array([cx - half, cy - half, cx + half, cy + half])


def keypoint_boxes(keypoints: np.ndarray, scores: np.ndarray, fallback: np.ndarray, *,
                   min_score: float = 0.2) -> np.ndarray:
    """(N, 4) float32 xyxy boxes around each person's keypoints scoring above ``min_score`` ((N, 17, 2) pixels,
    (N, 17) scores); ``fallback`` (N, 4) where fewer than two keypoints qualify."""
    kp = np.asarray(keypoints, np.float64)
    ok = (np.asarray(scores) > min_score) & np.isfinite(kp).all(axis=-1)
    out = np.asarray(fallback, np.float64).reshape(-1, 4).copy()
    for i in range(len(kp)):
        if ok[i].sum() >= 2:
            pts = kp[i][ok[i]]
            out[i] = [*pts.min(axis=0), *pts.max(axis=0)]
    return out.astype(np.float32)
