"""UDP heatmap codec (Unbiased Data Processing; ViTPose, HRNet-UDP), matching MMPose 1.3.2.

UDP maps input pixel ``p`` to heatmap pixel ``p / s`` with ``s = (input_size - 1) / (heatmap_size - 1)``
(float32), so that the first and last pixel centres of both grids coincide, and decodes back with
``q / (heatmap_size - 1) * input_size`` (MMPose's decode; note ``input_size``, not ``input_size - 1``).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any

import cv2
import numpy as np

from posekit.codecs._gaussian import windowed_gaussians
from posekit.codecs._refine import fallback_nonfinite, heatmap_argmax, refine_dark_udp
from posekit.codecs._types import Decoded, HeatmapTargets
from posekit.codecs._validate import (
    float32_array,
    keypoints_and_visibility,
    odd_kernel,
    positive_float,
    size_pair,
)

_HEATMAP_TYPES = ("gaussian", "combined")
_CV_MAX_CHANNELS = 128  # channels per OpenCV call; larger counts fail with OpenCV 5


@dataclass(frozen=True)
class UDPHeatmap:
    """UDP heatmaps; decode = argmax + DARK-UDP Newton step (``'gaussian'``) or offsets (``'combined'``).

    Attributes:
        input_size: model input ``(w, h)`` pixels.
        heatmap_size: heatmap ``(W, H)`` pixels, each >= 2.
        sigma: Gaussian sigma in heatmap pixels (``'gaussian'``).
        heatmap_type: ``'gaussian'`` (K maps) or ``'combined'`` (3K maps per instance: for each keypoint
            a binary disc of radius ``radius_factor * max(W, H)``, then x and y offset maps in units of
            that radius).
        radius_factor: disc radius factor for ``'combined'``.
        blur_kernel_size: odd kernel of the Gaussian modulation in decode.
    """

    input_size: tuple[int, int]
    heatmap_size: tuple[int, int]
    _: KW_ONLY
    sigma: float = 2.0
    heatmap_type: str = "gaussian"
    radius_factor: float = 0.0546875
    blur_kernel_size: int = 11

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", size_pair(self.input_size, "input_size"))
        object.__setattr__(self, "heatmap_size", size_pair(self.heatmap_size, "heatmap_size"))
        if min(self.heatmap_size) < 2:
            raise ValueError(f"heatmap_size must be at least (2, 2) for UDP, got {self.heatmap_size}")
        object.__setattr__(self, "sigma", positive_float(self.sigma, "sigma"))
        if self.heatmap_type not in _HEATMAP_TYPES:
            raise ValueError(f"heatmap_type must be one of {_HEATMAP_TYPES}, got {self.heatmap_type!r}")
        object.__setattr__(self, "radius_factor", positive_float(self.radius_factor, "radius_factor"))
        object.__setattr__(self, "blur_kernel_size", odd_kernel(self.blur_kernel_size, "blur_kernel_size"))

    @property
    def scale_factor(self) -> np.ndarray:
        """(2,) float32 input pixels per heatmap pixel, ``(input_size - 1) / (heatmap_size - 1)``."""
        return ((np.array(self.input_size) - 1) / (np.array(self.heatmap_size) - 1)).astype(np.float32)

    def encode(self, keypoints: Any, keypoints_visible: Any = None) -> HeatmapTargets:
        """Heatmap targets for a batch of instances.

        Args:
            keypoints: (N, K, 2) input-space pixels; non-finite keypoints count as invisible.
            keypoints_visible: (N, K) in [0, 1] (drawn when >= 0.5), or None = all visible.

        Returns:
            :class:`HeatmapTargets`: heatmaps (N, K, H, W) float32 (``'combined'``: (N, 3K, H, W)),
            keypoint_weights (N, K) float32 = visibility, 0 for non-finite keypoints and (``'gaussian'``)
            for visible keypoints whose ``6 sigma + 1`` window misses the map.
        """
        kp, vis, _ = keypoints_and_visibility(keypoints, keypoints_visible)
        N, K = vis.shape
        W, H = self.heatmap_size
        active = vis >= 0.5
        kp_hm = kp / self.scale_factor
        if self.heatmap_type == "combined":
            return HeatmapTargets(heatmaps=self._offset_maps(kp_hm, active), keypoint_weights=vis)
        heatmaps, in_bounds = windowed_gaussians(
            kp_hm.reshape(-1, 2), active.reshape(-1), self.heatmap_size, self.sigma, udp=True
        )
        weights = np.where(active & ~in_bounds.reshape(N, K), 0, vis).astype(np.float32)
        return HeatmapTargets(heatmaps=heatmaps.reshape(N, K, H, W), keypoint_weights=weights)

    def decode(self, heatmaps: Any) -> Decoded:
        """Keypoints from heatmaps.

        Args:
            heatmaps: (N, K, H, W) (``'combined'``: (N, 3K, H, W)) NumPy array or torch tensor,
                ``(W, H) == heatmap_size``; computed in float32.

        Returns:
            :class:`Decoded`: keypoints (N, K, 2) float32 input-space pixels, scores (N, K) float32
            heatmap maxima. ``'gaussian'`` follows MMPose exactly, including its refinement of invalid
            (max <= 0) maps; where MMPose returns NaN (all-zero maps, or reads of one) the plain argmax
            location (``-1`` for an all-zero map) is returned with score 0. ``'combined'``: invalid maps
            decode to ``-1`` without an offset (MMPose reads an arbitrary offset there).
        """
        hm = float32_array(heatmaps, "heatmaps", 4, "(N, K, H, W)")
        W, H = self.heatmap_size
        channels = "3K" if self.heatmap_type == "combined" else "K"
        if hm.shape[2:] != (H, W) or (self.heatmap_type == "combined" and hm.shape[1] % 3):
            raise ValueError(
                f"heatmaps must have shape (N, {channels}, {H}, {W}) for heatmap_size {self.heatmap_size}, "
                f"got {hm.shape}"
            )
        if self.heatmap_type == "combined":
            locs, scores = self._decode_offsets(hm)
        else:
            locs, vals = heatmap_argmax(hm)
            locs, scores = fallback_nonfinite(refine_dark_udp(locs, hm, self.blur_kernel_size), locs, vals)
        keypoints = locs.astype(np.float64) / np.array([W - 1, H - 1]) * np.array(self.input_size)
        return Decoded(keypoints=keypoints.astype(np.float32), scores=scores.astype(np.float32))

    def _offset_maps(self, kp_hm: np.ndarray, active: np.ndarray) -> np.ndarray:
        """(N, 3K, H, W) float32 'combined' targets from (N, K, 2) heatmap-space keypoints."""
        N, K = active.shape
        W, H = self.heatmap_size
        radius = self.radius_factor * max(W, H)
        x_off = (kp_hm[..., 0:1].astype(np.float64) - np.arange(W)) / radius  # (N, K, W)
        y_off = (kp_hm[..., 1:2].astype(np.float64) - np.arange(H)) / radius  # (N, K, H)
        disc = (x_off[:, :, None, :] ** 2 + y_off[:, :, :, None] ** 2 <= 1) & active[:, :, None, None]
        maps = np.zeros((N, K, 3, H, W), dtype=np.float32)
        maps[:, :, 0] = disc
        maps[:, :, 1] = np.where(disc, x_off[:, :, None, :], 0)
        maps[:, :, 2] = np.where(disc, y_off[:, :, :, None], 0)
        return maps.reshape(N, 3 * K, H, W)

    def _decode_offsets(self, hm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """'combined' decode: blurred disc-map argmax plus the blurred offsets there, heatmap pixels."""
        N, C, H, W = hm.shape
        K = C // 3
        maps = hm.reshape(N, K, 3, H, W)
        discs = _blur_reflect(maps[:, :, 0].reshape(N * K, H, W), 2 * self.blur_kernel_size + 1)
        offsets = _blur_reflect(maps[:, :, 1:].reshape(N * K * 2, H, W), self.blur_kernel_size)
        locs, scores = heatmap_argmax(discs.reshape(N, K, H, W))
        valid = locs[..., 0] >= 0
        flat = (np.maximum(locs[..., 1], 0) * W + np.maximum(locs[..., 0], 0)).astype(np.int64)
        off = offsets.reshape(N, K, 2, H * W)
        index = np.broadcast_to(flat[:, :, None, None], (N, K, 2, 1))
        delta = np.take_along_axis(off, index, axis=-1)[..., 0]
        radius = self.radius_factor * max(W, H)
        locs = np.where(valid[..., None], locs + (delta * radius).astype(np.float32), locs)
        return locs.astype(np.float32), scores


def _blur_reflect(maps: np.ndarray, kernel: int) -> np.ndarray:
    """OpenCV Gaussian blur of each (H, W) map with the default reflect-101 border: (M, H, W) float32."""
    out = np.empty_like(maps)
    for start in range(0, maps.shape[0], _CV_MAX_CHANNELS):
        chunk = np.ascontiguousarray(maps[start : start + _CV_MAX_CHANNELS].transpose(1, 2, 0))
        blurred = cv2.GaussianBlur(chunk, (kernel, kernel), 0)
        out[start : start + _CV_MAX_CHANNELS] = blurred.reshape(chunk.shape).transpose(2, 0, 1)
    return out
