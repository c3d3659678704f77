"""Regression codec: coordinates normalised by the input size, matching MMPose 1.3.2's ``RegressionLabel``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from posekit.codecs._types import Decoded, RegressionTargets
from posekit.codecs._validate import float32_array, keypoints_and_visibility, size_pair


@dataclass(frozen=True)
class Regression:
    """Keypoints as ``(x / w, y / h)``; an optional predicted sigma turns into a score.

    Attributes:
        input_size: model input ``(w, h)`` pixels.

    Example:
        >>> codec = Regression((192, 256))
        >>> codec.encode(np.array([[[96.0, 64.0]]])).keypoint_labels.tolist()
        [[[0.5, 0.25]]]
    """

    input_size: tuple[int, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", size_pair(self.input_size, "input_size"))

    def encode(self, keypoints: Any, keypoints_visible: Any = None) -> RegressionTargets:
        """Normalised coordinate targets for a batch of instances.

        Args:
            keypoints: (N, K, 2) input-space pixels; non-finite keypoints count as invisible.
            keypoints_visible: (N, K) in [0, 1], or None = all visible.

        Returns:
            :class:`RegressionTargets`: keypoint_labels (N, K, 2) float32 ``keypoints / (w, h)`` (0 for
            non-finite keypoints), keypoint_weights (N, K) float32: 1 where visible (> 0.5) and inside
            ``[0, w - 1] x [0, h - 1]``, else 0.
        """
        kp, vis, finite = keypoints_and_visibility(keypoints, keypoints_visible)
        w, h = self.input_size
        inside = ((kp >= 0) & (kp <= np.array([w - 1, h - 1]))).all(axis=-1)
        weights = (inside & (vis > 0.5) & finite).astype(np.float32)
        labels = (kp.astype(np.float64) / np.array([w, h])).astype(np.float32)
        return RegressionTargets(keypoint_labels=labels, keypoint_weights=weights)

    def decode(self, coords: Any) -> Decoded:
        """Keypoints from normalised coordinates.

        Args:
            coords: (N, K, 2) normalised ``(x, y)``, or (N, K, 4) ``(x, y, sigma_x, sigma_y)``; NumPy
                array or torch tensor, computed in float32.

        Returns:
            :class:`Decoded`: keypoints (N, K, 2) float32 input-space pixels; scores (N, K) float32, all
            1 without sigma, else ``mean(1 - sigma)`` over x and y.
        """
        c = float32_array(coords, "coords", 3, "(N, K, 2) or (N, K, 4)")
        if c.shape[-1] not in (2, 4):
            raise ValueError(f"coords must have shape (N, K, 2) or (N, K, 4), got {c.shape}")
        if c.shape[-1] == 4:
            scores = (1 - c[..., 2:4]).mean(axis=-1, dtype=np.float32)
        else:
            scores = np.ones(c.shape[:2], dtype=np.float32)
        keypoints = (c[..., :2].astype(np.float64) * np.array(self.input_size)).astype(np.float32)
        return Decoded(keypoints=keypoints, scores=scores)
