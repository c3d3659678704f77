"""Normalised mean error (NME) for face (and other) landmarks, MMPose's ``keypoint_nme``.

``NME = mean over visible GT keypoints of || (pred - gt) / normalize ||`` pooled over all samples and keypoints
(with every keypoint visible this is also the mean of the per-sample NMEs). Usually reported in percent (x 100).

Normalisers (all (N,) float64, one per sample):

* :func:`interocular_distance`: distance between the outer eye corners of the GT, the standard for 300-W
  (``face68`` indices 36 and 45, the defaults), COCO-WholeBody-face (36, 45), WFLW (60, 72) and COFW (8, 9);
  MMPose's ``NME(norm_mode='keypoint_distance')`` uses exactly these pairs.
* :func:`bbox_sqrt_area`: ``sqrt(w * h)`` of the face box. MMPose's AFLW NME divides by the annotation's
  ``box_size``, the side of AFLW's square face box (``200 * scale``), which is ``sqrt(w * h)`` for that box; this
  is the "NME_box" of the face-alignment literature.
* :func:`bbox_diagonal`: ``sqrt(w^2 + h^2)``, the "NME_diag" of some protocols (e.g. Menpo / 300W-LP); MMPose does
  not use it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from posekit.metrics.pck import normalized_distances

__all__ = ["bbox_diagonal", "bbox_sqrt_area", "interocular_distance", "nme", "nme_per_sample"]


def nme(pred: Any, gt: Any, visible: Any, *, normalize: Any) -> float:
    """Normalised mean error (a fraction; x 100 for percent), MMPose's ``keypoint_nme``.

    Args:
        pred, gt: (N, K, 2) landmarks, pixels.
        visible: (N, K) GT visibility (``> 0`` = visible) or ``None`` (all).
        normalize: (N,) per-sample normaliser in pixels (e.g. :func:`interocular_distance` of the GT), or
            (N, 2) per coordinate, or a scalar; a sample whose normaliser is 0 is left out (as MMPose).

    Returns:
        the pooled mean over the visible keypoints (NaN when there is none).

    Raises:
        ValueError: bad shapes, a negative normaliser, or a missing (non-finite) prediction at a visible keypoint.
    """
    dist, valid = _distances(pred, gt, visible, normalize)
    return float(dist[valid].mean()) if valid.any() else float("nan")


def nme_per_sample(pred: Any, gt: Any, visible: Any, *, normalize: Any) -> np.ndarray:
    """(N,) float64 NME of each sample (mean over its visible keypoints; NaN for a sample with none). Arguments as
    :func:`nme`. Useful for failure rates (fraction of samples above e.g. 0.1) and CED curves."""
    dist, valid = _distances(pred, gt, visible, normalize)
    counts = valid.sum(axis=1)
    out = np.full(counts.shape, np.nan)
    np.divide(np.where(valid, dist, 0.0).sum(axis=1), counts, out=out, where=counts > 0)
    return out


def _distances(pred: Any, gt: Any, visible: Any, normalize: Any) -> tuple[np.ndarray, np.ndarray]:
    dist, valid = normalized_distances(pred, gt, visible, normalize=normalize)
    if np.isnan(dist[valid]).any():
        raise ValueError("pred has non-finite coordinates at visible GT keypoints; NME is undefined")
    return dist, valid


def interocular_distance(keypoints: Any, *, left: int = 36, right: int = 45) -> np.ndarray:
    """(N,) float64 distance between keypoints ``left`` and ``right`` of (N, K, 2) ``keypoints`` (the GT).

    Defaults: the outer eye corners of ``face68`` / 300-W (36 and 45). WFLW: 60, 72; COFW: 8, 9.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[2] < 2:
        raise ValueError(f"keypoints must have shape (N, K, 2), got {kp.shape}")
    k = kp.shape[1]
    for name, j in (("left", left), ("right", right)):
        if not 0 <= int(j) < k:
            raise ValueError(f"{name} = {j} is out of range for K={k} keypoints")
    return np.linalg.norm(kp[:, int(left)] - kp[:, int(right)], axis=1)


def _box_wh(boxes: Any, box_format: str) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {b.shape}")
    if box_format not in ("xyxy", "xywh"):
        raise ValueError(f"box_format must be 'xyxy' or 'xywh', got {box_format!r}")
    wh = b[:, 2:] - b[:, :2] if box_format == "xyxy" else b[:, 2:]
    if np.any(wh < 0):
        raise ValueError("boxes must have non-negative width and height")
    return wh


def bbox_sqrt_area(boxes: Any, *, box_format: str = "xyxy") -> np.ndarray:
    """(N,) float64 ``sqrt(w * h)`` of (N, 4) face boxes in pixels (AFLW-style box-size normaliser)."""
    wh = _box_wh(boxes, box_format)
    return np.sqrt(wh[:, 0] * wh[:, 1])


def bbox_diagonal(boxes: Any, *, box_format: str = "xyxy") -> np.ndarray:
    """(N,) float64 ``sqrt(w^2 + h^2)`` of (N, 4) boxes in pixels."""
    return np.linalg.norm(_box_wh(boxes, box_format), axis=1)
