"""Small element-wise NumPy functions shared across posekit. Imports only NumPy; every layer may use it."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["sigmoid"]


def sigmoid(x: Any) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-x))`` of an array (any shape), in float32 arithmetic -> float32, same shape.

    The float32 formula of MediaPipe's calculators (``TensorsToDetectionsCalculator``, landmark visibility and
    presence, face flag), so results match MediaPipe bit for bit. It is stable for large ``|x|``: ``exp(-x)``
    overflowing to ``inf`` for ``x << 0`` gives exactly 0 (no warning), and ``x >> 0`` gives exactly 1.
    """
    x = np.asarray(x, np.float32)
    with np.errstate(over="ignore"):
        return (np.float32(1) / (np.float32(1) + np.exp(-x))).astype(np.float32)
