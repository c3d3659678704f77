"""MSRA heatmap codec (SimpleBaseline / HRNet), plain or DARK ("unbiased"), matching MMPose 1.3.2.

Input-space pixel ``p`` maps to heatmap pixel ``p / s`` with ``s = input_size / heatmap_size``
(float32), and back by ``* s``.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from posekit.codecs._gaussian import unbiased_gaussians, windowed_gaussians
from posekit.codecs._refine import fallback_nonfinite, heatmap_argmax, refine_dark, refine_quarter_offset
from posekit.codecs._types import Decoded, HeatmapTargets
from posekit.codecs._validate import (
    float32_array,
    keypoints_and_visibility,
    odd_kernel,
    positive_float,
    size_pair,
)


@dataclass(frozen=True)
class MSRAHeatmap:
    """Gaussian heatmaps at ``heatmap_size``; decode = argmax + quarter-pixel shift or DARK refinement.

    Attributes:
        input_size: model input ``(w, h)`` pixels.
        heatmap_size: heatmap ``(W, H)`` pixels.
        sigma: Gaussian sigma in heatmap pixels (2 for 256x192 models, 3 for 384x288 DARK models).
        unbiased: DARK: encode untruncated Gaussians at the exact keypoint; decode with a Newton step
            on the log of the blurred heatmap.
        blur_kernel_size: odd kernel of the DARK Gaussian modulation (11 for sigma 2, 17 for sigma 3
            per the DARK paper; MMPose's configs keep 11).

    Example:
        >>> codec = MSRAHeatmap((192, 256), (48, 64), sigma=2.0)
        >>> t = codec.encode(np.array([[[96.0, 128.0]]]))
        >>> t.heatmaps.shape, codec.decode(t.heatmaps).keypoints.tolist()
        ((1, 1, 64, 48), [[[96.0, 128.0]]])
    """

    input_size: tuple[int, int]
    heatmap_size: tuple[int, int]
    _: KW_ONLY
    sigma: float = 2.0
    unbiased: bool = False
    blur_kernel_size: int = 11

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", size_pair(self.input_size, "input_size"))
        object.__setattr__(self, "heatmap_size", size_pair(self.heatmap_size, "heatmap_size"))
        object.__setattr__(self, "sigma", positive_float(self.sigma, "sigma"))
        object.__setattr__(self, "unbiased", bool(self.unbiased))
        object.__setattr__(self, "blur_kernel_size", odd_kernel(self.blur_kernel_size, "blur_kernel_size"))

    @property
    def scale_factor(self) -> np.ndarray:
        """(2,) float32 input pixels per heatmap pixel, ``input_size / heatmap_size``."""
        return (np.array(self.input_size) / np.array(self.heatmap_size)).astype(np.float32)

    def encode(self, keypoints: Any, keypoints_visible: Any = None) -> HeatmapTargets:
        """Heatmap targets for a batch of instances.

        Args:
            keypoints: (N, K, 2) input-space pixels (x right, y down). Non-finite keypoints count as
                invisible.
            keypoints_visible: (N, K) in [0, 1] (drawn when >= 0.5, as MMPose), or None = all visible.

        Returns:
            :class:`HeatmapTargets`: heatmaps (N, K, H, W) float32 (peak 1; all zero for invisible
            keypoints), keypoint_weights (N, K) float32 = visibility, 0 for non-finite keypoints and
            for visible keypoints whose Gaussian window misses the map entirely.
        """
        kp, vis, _ = keypoints_and_visibility(keypoints, keypoints_visible)
        N, K = vis.shape
        W, H = self.heatmap_size
        active = vis >= 0.5
        kp_hm = (kp / self.scale_factor).reshape(-1, 2)
        if self.unbiased:
            heatmaps, in_bounds = unbiased_gaussians(kp_hm, active.reshape(-1), self.heatmap_size, self.sigma)
        else:
            heatmaps, in_bounds = windowed_gaussians(
                kp_hm, active.reshape(-1), self.heatmap_size, self.sigma, udp=False
            )
        weights = np.where(active & ~in_bounds.reshape(N, K), 0, vis).astype(np.float32)
        return HeatmapTargets(heatmaps=heatmaps.reshape(N, K, H, W), keypoint_weights=weights)

    def decode(self, heatmaps: Any) -> Decoded:
        """Keypoints from heatmaps.

        Args:
            heatmaps: (N, K, H, W) NumPy array or torch tensor (any device), ``(W, H) == heatmap_size``;
                computed in float32.

        Returns:
            :class:`Decoded` with keypoints (N, K, 2) float32 input-space pixels and scores (N, K)
            float32 (heatmap maxima). Maps whose maximum is <= 0 decode to ``-1 * scale_factor``.
            DARK: where MMPose would return NaN (a degenerate, e.g. all-zero, map at a refined
            location) the plain argmax location is returned with score 0.
        """
        hm = float32_array(heatmaps, "heatmaps", 4, "(N, K, H, W)")
        W, H = self.heatmap_size
        if hm.shape[2:] != (H, W):
            raise ValueError(
                f"heatmaps must have shape (N, K, {H}, {W}) for heatmap_size {self.heatmap_size}, "
                f"got {hm.shape}"
            )
        locs, vals = heatmap_argmax(hm)
        if self.unbiased:
            refined = refine_dark(locs, hm, self.blur_kernel_size)
        else:
            refined = refine_quarter_offset(locs, hm)
        keypoints, scores = fallback_nonfinite(refined, locs, vals)
        return Decoded(keypoints=(keypoints * self.scale_factor).astype(np.float32), scores=scores)
