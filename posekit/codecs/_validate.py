"""Argument checks and conversions shared by the codecs (NumPy / torch inputs -> NumPy arrays)."""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np


def size_pair(value: Any, name: str) -> tuple[int, int]:
    """``(w, h)`` of positive integers (tuple, list or array); raises ``ValueError`` otherwise."""
    try:
        items = tuple(value)
        if len(items) != 2 or any(isinstance(v, (bool, np.bool_)) for v in items):
            raise TypeError
        pair = (operator.index(items[0]), operator.index(items[1]))
    except TypeError:
        raise ValueError(f"{name} must be a pair of positive integers (w, h), got {value!r}") from None
    if pair[0] <= 0 or pair[1] <= 0:
        raise ValueError(f"{name} must be a pair of positive integers (w, h), got {value!r}")
    return pair


def positive_float(value: Any, name: str) -> float:
    """A finite float > 0; raises ``ValueError`` otherwise."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(out) and out > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return out


def odd_kernel(value: Any, name: str) -> int:
    """A positive odd integer (Gaussian blur kernel size); raises ``ValueError`` otherwise."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a positive odd integer, got {value!r}")
    try:
        out = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a positive odd integer, got {value!r}") from None
    if out <= 0 or out % 2 == 0:
        raise ValueError(f"{name} must be a positive odd integer, got {value!r}")
    return out


def to_numpy(value: Any, name: str, *, allow_bool: bool = False) -> np.ndarray:
    """NumPy view/copy of an array-like or a torch tensor (detached, moved to CPU).

    Raises ``TypeError`` when the content is not numeric (strings, objects, complex) and
    ``ValueError`` when it cannot form a rectangular array.
    """
    if type(value).__module__.split(".")[0] == "torch" and hasattr(value, "detach"):
        tensor = value.detach().cpu()
        if tensor.is_floating_point():
            tensor = tensor.float()  # float16 / bfloat16 have no (or no exact) NumPy counterpart
        value = tensor.numpy()
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name} could not be converted to a numeric array: {err}") from None
    kinds = "fiub" if allow_bool else "fiu"
    if array.dtype.kind not in kinds:
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    return array


def float32_array(value: Any, name: str, ndim: int, layout: str) -> np.ndarray:
    """Contiguous float32 copy of a numeric array with ``ndim`` dimensions (``layout`` names them)."""
    array = to_numpy(value, name)
    if array.ndim != ndim:
        raise ValueError(f"{name} must have shape {layout}, got {array.shape}")
    return np.array(array, dtype=np.float32, copy=True, order="C")


def keypoints_and_visibility(
    keypoints: Any, keypoints_visible: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked encoder inputs.

    Args:
        keypoints: (N, K, 2) numeric, input-space pixels.
        keypoints_visible: (N, K) numeric or bool in [0, 1], or None (all visible).

    Returns:
        ``(keypoints, visible, finite)``: (N, K, 2) float32 copy with non-finite keypoints set to 0;
        (N, K) float32 visibility with non-finite keypoints set to 0; (N, K) bool finite mask.
    """
    kp = float32_array(keypoints, "keypoints", 3, "(N, K, 2)")
    if kp.shape[-1] != 2:
        raise ValueError(f"keypoints must have shape (N, K, 2), got {kp.shape}")
    if keypoints_visible is None:
        vis = np.ones(kp.shape[:2], dtype=np.float32)
    else:
        vis = np.array(to_numpy(keypoints_visible, "keypoints_visible", allow_bool=True), dtype=np.float32)
        if vis.shape != kp.shape[:2]:
            raise ValueError(
                f"keypoints_visible must have shape (N, K) = {kp.shape[:2]} to match keypoints, "
                f"got {vis.shape}"
            )
        if not np.all((vis >= 0) & (vis <= 1)):
            raise ValueError("keypoints_visible must hold values in [0, 1] (no NaN); got values outside")
    finite = np.isfinite(kp).all(axis=-1)
    kp[~finite] = 0.0
    vis[~finite] = 0.0
    return kp, vis, finite
