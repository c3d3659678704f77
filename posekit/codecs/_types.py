"""Result types shared by the keypoint codecs: training targets and decoded keypoints.

All arrays are NumPy. ``N`` = instances, ``K`` = keypoints. Coordinates are in *input space*: pixels
of the model-input crop, x to the right, y down, pixel ``i`` centred at ``i`` (MMPose convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class HeatmapTargets:
    """Targets of a heatmap codec.

    Attributes:
        heatmaps: (N, K, H, W) float32 Gaussian targets, peak 1 (UDP ``'combined'``: (N, 3K, H, W),
            per keypoint a binary map, an x-offset map and a y-offset map).
        keypoint_weights: (N, K) float32 loss weights: the visibility value (kept as given, e.g. 0.6),
            0 for invisible, non-finite or out-of-range keypoints.
    """

    heatmaps: np.ndarray
    keypoint_weights: np.ndarray


@dataclass(frozen=True, eq=False)
class SimCCTargets:
    """Targets of the SimCC codec.

    Attributes:
        x_labels: (N, K, Wx) float32 per-bin x labels, ``Wx = round(w * simcc_split_ratio)``.
        y_labels: (N, K, Hy) float32 per-bin y labels, ``Hy = round(h * simcc_split_ratio)``.
        keypoint_weights: (N, K) float32 loss weights (as :class:`HeatmapTargets`).
    """

    x_labels: np.ndarray
    y_labels: np.ndarray
    keypoint_weights: np.ndarray


@dataclass(frozen=True, eq=False)
class RegressionTargets:
    """Targets of the regression codec.

    Attributes:
        keypoint_labels: (N, K, 2) float32 coordinates divided by the input size ``(w, h)``
            (0 for non-finite keypoints, so that a zero weight also zeroes the loss).
        keypoint_weights: (N, K) float32, 1 where the keypoint is visible (> 0.5) and inside
            ``[0, w-1] x [0, h-1]``, else 0.
    """

    keypoint_labels: np.ndarray
    keypoint_weights: np.ndarray


@dataclass(frozen=True, eq=False)
class Decoded:
    """Keypoints decoded from model outputs.

    Attributes:
        keypoints: (N, K, 2) float32 input-space pixels (x right, y down).
        scores: (N, K) float32 confidences (heatmap / SimCC maxima; may be negative or exceed 1).
        visibility: (N, K) float32 in [0, 1], only from ``SimCC(decode_visibility=True)``, else None.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    visibility: np.ndarray | None = None
