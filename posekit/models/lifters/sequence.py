"""Lift a whole sequence of 2D poses to 3D in a few batched calls (no per-frame Python loop).

The sequence is edge-padded as VideoPose3D's evaluation does (the first/last pose repeated
``receptive_field // 2`` times on each side; ``receptive_field - 1`` times on the left only for causal models),
so there is one 3D pose per input frame. The padded sequence is cut into overlapping chunks of
``chunk_size + receptive_field - 1`` frames and each chunk goes through the dilated form of the network
(:meth:`VideoPose3D.forward_sequence`), which shares all intermediate activations between neighbouring
windows. Results equal running the strided (MMPose) form on every window (tested to 1e-5).

Example:
    >>> import numpy as np
    >>> from posekit.models.lifters.temporal import videopose3d
    >>> from posekit.models.lifters.normalize import screen_normalize
    >>> model = videopose3d(receptive_field=27, channels=64)
    >>> pixels = np.random.default_rng(0).uniform(0, 640, size=(100, 17, 2))
    >>> lift_sequence(model, screen_normalize(pixels, width=640, height=480)).shape  # millimetres
    (100, 17, 3)
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["lift_sequence", "sequence_padding"]

_UNIT_SCALE = MappingProxyType({"m": 1.0, "mm": 1000.0})


def sequence_padding(receptive_field: int, *, causal: bool) -> tuple[int, int]:
    """Frames ``(left, right)`` of edge padding so that a sequence of T frames gives T outputs."""
    if receptive_field < 1:
        raise ValueError(f"receptive_field must be >= 1, got {receptive_field}")
    pad = receptive_field - 1
    return (pad, 0) if causal else (pad // 2, pad - pad // 2)


def lift_sequence(
    model: nn.Module,
    keypoints: Any,
    *,
    chunk_size: int = 16384,
    unit: str = "mm",
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Lift every frame of a 2D pose sequence.

    Args:
        model: a lifter with ``receptive_field``, ``causal``, ``num_keypoints``, ``output_unit``,
            ``forward_sequence`` and ``decode`` (:class:`~posekit.models.lifters.temporal.VideoPose3D`,
            :class:`~posekit.models.lifters.mlp.SimpleBaseline3D`). BN uses its running statistics and dropout
            is off whatever ``model.training`` says.
        keypoints: (T, K, 2) float 2D keypoints, **already normalised** the way the model was trained
            (:mod:`posekit.models.lifters.normalize`), all finite (fill missing joints first).
        chunk_size: output frames per network call; each chunk recomputes ``receptive_field - 1`` frames of
            context, so larger is faster; memory ~ ``4 * channels * (chunk_size + receptive_field)`` bytes per
            activation (~70 MB for 1024 channels and the default), a few alive at once.
        unit: ``"mm"`` (default) or ``"m"`` for the output; the model's raw unit is ``model.output_unit``
            (metres for MMPose's Human3.6M checkpoints).
        dtype: compute dtype (``torch.bfloat16`` roughly halves CPU time at ~1e-2 relative error).
        device: where to compute (default: the model's device).

    Returns:
        (T, K, 3) float32 root-relative 3D joints (camera frame: x right, y down, z forward) in ``unit``;
        row t is the pose of input frame t.
    """
    kpts = np.asarray(keypoints)
    k = int(model.num_keypoints)
    if kpts.ndim != 3 or kpts.shape[1:] != (k, 2) or len(kpts) == 0:
        raise ValueError(f"keypoints must have shape (T, {k}, 2) with T >= 1, got {kpts.shape}")
    if not np.issubdtype(kpts.dtype, np.number) or not np.isfinite(kpts).all():
        raise ValueError("keypoints must be finite numbers (fill or interpolate missing joints before lifting)")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if unit not in _UNIT_SCALE:
        raise ValueError(f"unit must be one of {sorted(_UNIT_SCALE)}, got {unit!r}")
    if model.output_unit not in _UNIT_SCALE:
        raise ValueError(f"model.output_unit must be one of {sorted(_UNIT_SCALE)}, got {model.output_unit!r}")
    factor = _UNIT_SCALE[unit] / _UNIT_SCALE[model.output_unit]

    rf = int(model.receptive_field)
    left, right = sequence_padding(rf, causal=bool(model.causal))
    padded = np.pad(kpts.astype(np.float32), ((left, right), (0, 0), (0, 0)), mode="edge")
    if device is None:
        device = next(model.parameters()).device
    # (T + rf - 1, K, 2) -> (1, 2K, T + rf - 1): channel 2k + c (MMPose's reshape_keypoints layout).
    x = torch.from_numpy(padded.reshape(len(padded), 2 * k).T.copy()).to(device=device, dtype=dtype)[None]
    num = len(kpts)
    outputs = []
    with torch.inference_mode():
        for start in range(0, num, chunk_size):
            stop = min(start + chunk_size, num)
            y = model.forward_sequence(x[:, :, start : stop + rf - 1], fuse=True)
            outputs.append(y[0].float().cpu())
    raw = torch.cat(outputs).numpy()
    coords = model.decode(raw)
    return (coords * np.float32(factor)).astype(np.float32) if factor != 1.0 else coords.astype(np.float32)
