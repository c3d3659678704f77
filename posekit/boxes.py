"""Axis-aligned box geometry, written once for the whole package: area, intersection and IoU.

Boxes are ``x1, y1, x2, y2`` in image pixels (x right, y down, origin at the top-left pixel's corner), or in any
other consistent unit (e.g. coordinates normalised to a network input). Coordinates are continuous: a box's width
is ``x2 - x1`` (no ``+ 1`` pixel convention). A box with ``x2 <= x1`` or ``y2 <= y1`` is empty (area 0) and
overlaps nothing, not even itself. This module imports only NumPy; every layer of posekit may use it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["box_area", "box_intersection", "box_iou", "invalid_boxes", "check_boxes"]


def box_area(boxes: Any) -> np.ndarray:
    """(...,) areas of ``x1, y1, x2, y2`` boxes (..., 4), in squared box units (px^2); 0 for empty boxes.

    Computed in the input's dtype (integers stay integers); NaN coordinates give NaN."""
    b = np.asarray(boxes)
    return np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)


def box_intersection(a: Any, b: Any) -> np.ndarray:
    """(...,) intersection areas of ``x1, y1, x2, y2`` boxes ``a`` (..., 4) and ``b`` (..., 4), element-wise with
    NumPy broadcasting (pass ``a[:, None], b[None]`` for all pairs); 0 where they do not overlap."""
    a, b = np.asarray(a), np.asarray(b)
    w = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    h = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def box_iou(a: Any, b: Any, *, dtype: DTypeLike = np.float64) -> np.ndarray:
    """(N, M) intersection-over-union of every pair of ``x1, y1, x2, y2`` boxes ``a`` (N, 4) and ``b`` (M, 4).

    Each input is reshaped to ``(-1, 4)`` (one box (4,) counts as N = 1: the IoU of one box with many is
    ``box_iou(box, boxes)[0]``); either side may be empty, giving an (N, 0) or (0, M) result. The IoU is 0 where
    the union area is not positive (two empty boxes) or not finite (NaN or infinite coordinates), so an empty box
    overlaps nothing, as MediaPipe's ``OverlapSimilarity(INTERSECTION_OVER_UNION)``.

    Args:
        a: (N, 4) boxes. b: (M, 4) boxes, same unit as ``a``.
        dtype: floating dtype of the arithmetic and of the result; ``np.float32`` reproduces MediaPipe's float
            math bit for bit.

    Returns:
        (N, M) ``dtype`` array in [0, 1], symmetric: ``box_iou(b, a) == box_iou(a, b).T``.
    """
    dtype = np.dtype(dtype)
    a = np.asarray(a, dtype).reshape(-1, 4)
    b = np.asarray(b, dtype).reshape(-1, 4)
    inter = box_intersection(a[:, None], b[None])
    union = box_area(a)[:, None] + box_area(b)[None] - inter
    ok = union > 0
    iou = np.where(ok, inter / np.where(ok, union, dtype.type(1)), dtype.type(0))
    return np.nan_to_num(iou, nan=0.0).astype(dtype, copy=False)


def invalid_boxes(boxes: Any) -> np.ndarray:
    """(N,) bool mask of the ``x1, y1, x2, y2`` boxes (N, 4) that cannot be cropped: a non-finite coordinate, or
    zero or negative width or height (``x2 <= x1`` or ``y2 <= y1``)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return ~np.isfinite(b).all(axis=1) | (b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])


def check_boxes(boxes: Any, *, name: str = "boxes") -> np.ndarray:
    """``boxes`` as an (N, 4) array (its own dtype) after checking that every box can be cropped.

    Raises:
        ValueError: for a shape other than (N, 4), or a box :func:`invalid_boxes` flags; the message names the
            first bad box by index and value (``name[i] = [...]``) and counts the bad ones.
    """
    arr = np.asarray(boxes)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4) as x1, y1, x2, y2 pixels, got {arr.shape}")
    bad = invalid_boxes(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name}[{i}] = {arr[i].tolist()} is not a finite box with x2 > x1 and y2 > y1 "
                         f"({int(bad.sum())} bad box(es) in total)")
    return arr
