"""The last step every dense (per-cell) detector shares -- NanoDet, RTMDet, YOLOX: (cell, class) candidates above a
score, the best ``pre_nms`` of them, per-class NMS, boxes back to image pixels.

Network-input pixels relate to image pixels by :class:`Transform` (the image's top-left corner is the input's; any
letterbox padding is at the right/bottom).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from posekit.detect.nms import batched_nms
from posekit.types import Detections

__all__ = ["Transform", "dense_detections"]


@dataclass(frozen=True)
class Transform:
    """Image pixels -> network input pixels: ``x_net = x_img * scale[0]``, ``y_net = y_img * scale[1]``."""

    scale: tuple[float, float]

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) xyxy boxes in network-input pixels -> image pixels (float64)."""
        sx, sy = self.scale
        return np.asarray(boxes, np.float64) / np.array([sx, sy, sx, sy])


def dense_detections(scores: np.ndarray, boxes_of: Callable[[np.ndarray], np.ndarray], *,
                     classes: Sequence[int] | None, score_threshold: float, iou_threshold: float,
                     max_detections: int, pre_nms: int, image_size: tuple[int, int], transform: Transform
                     ) -> Detections:
    """One image's per-cell scores -> :class:`~posekit.types.Detections` in image pixels.

    Args:
        scores: (cells, C) scores in [0, 1] of each cell and class.
        boxes_of: ``cells (M,) int -> (M, 4)`` xyxy boxes of those cells in network-input pixels (decoded only for
            the candidates).
        classes: class ids (columns of ``scores``) to keep; ``None`` = all.
        score_threshold: keep (cell, class) pairs scoring ``>= score_threshold``; at most ``pre_nms`` best of them.
        iou_threshold: NMS per class (:func:`posekit.detect.nms.batched_nms`); at most ``max_detections`` after it.
        image_size: ``(width, height)`` of the image; transform: network input -> image pixels.

    Returns:
        Detections by decreasing score: boxes (N, 4) float32 xyxy image pixels clipped to the image (boxes empty after
        clipping dropped), scores (N,), labels (N,) class ids.
    """
    scores = np.asarray(scores, np.float32)
    cols = np.arange(scores.shape[1]) if classes is None else np.asarray(classes, np.int64)
    cell, which = np.nonzero(scores[:, cols] >= score_threshold)
    s = scores[cell, cols[which]]
    if len(s) > pre_nms:
        top = np.argsort(-s, kind="stable")[:pre_nms]
        cell, which, s = cell[top], which[top], s[top]
    boxes = boxes_of(cell)
    labels = cols[which]
    keep = batched_nms(boxes, s, labels, iou_threshold)[:max_detections]
    w, h = image_size
    out = np.clip(transform.to_image(boxes[keep]), 0.0, [w, h, w, h])
    ok = (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])
    return Detections(out[ok].astype(np.float32), s[keep][ok], labels[keep][ok])
