"""SimCC codec (coordinate classification; RTMPose), matching MMPose 1.3.2's ``SimCCLabel``.

Input pixel ``p`` maps to bin ``round(p * simcc_split_ratio)`` (NumPy rounding, half to even) and
bin ``i`` decodes to ``i / simcc_split_ratio``. There are ``Wx = round(w * ratio)`` x bins and
``Hy = round(h * ratio)`` y bins.
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from posekit.codecs._gaussian import gaussian_profiles
from posekit.codecs._refine import fallback_nonfinite, refine_simcc_dark, simcc_argmax
from posekit.codecs._types import Decoded, SimCCTargets
from posekit.codecs._validate import float32_array, keypoints_and_visibility, positive_float, size_pair

_SMOOTHING_TYPES = ("gaussian", "standard")
_COORD_LIMIT = 1.0e6


@dataclass(frozen=True)
class SimCC:
    """1-D x and y label vectors per keypoint; decode = per-axis argmax (optionally 1-D DARK).

    Attributes:
        input_size: model input ``(w, h)`` pixels.
        sigma: Gaussian sigma in bins, one float or ``(sigma_x, sigma_y)`` (RTMPose 256x192:
            ``(4.9, 5.66)``); stored as a pair.
        simcc_split_ratio: bins per input pixel.
        smoothing_type: ``'gaussian'`` labels or ``'standard'`` one-hot labels (with optional
            ``label_smooth_weight`` spread over the other bins).
        label_smooth_weight: in [0, 1]; only for ``'standard'``.
        normalize: divide Gaussian labels by ``sigma * sqrt(2 pi)`` (MMPose's default; RTMPose configs
            set False).
        use_dark: refine decoded bins with 1-D DARK; blur kernels derived from sigma as MMPose.
        decode_visibility: also decode a visibility ``min(max softmax(x * beta * sigma_x),
            max softmax(y * beta * sigma_y))``.
        decode_beta: the ``beta`` above.
    """

    input_size: tuple[int, int]
    _: KW_ONLY
    sigma: float | tuple[float, float] = 6.0
    simcc_split_ratio: float = 2.0
    smoothing_type: str = "gaussian"
    label_smooth_weight: float = 0.0
    normalize: bool = True
    use_dark: bool = False
    decode_visibility: bool = False
    decode_beta: float = 150.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_size", size_pair(self.input_size, "input_size"))
        sigma = self.sigma
        bad_sigma = f"sigma must be a positive number or a pair (sigma_x, sigma_y), got {self.sigma!r}"
        if isinstance(sigma, (int, float, np.integer, np.floating)) and not isinstance(sigma, (bool, np.bool_)):
            sigma = (sigma, sigma)
        try:
            pair = tuple(sigma)
        except TypeError:
            raise ValueError(bad_sigma) from None
        if len(pair) != 2:
            raise ValueError(bad_sigma)
        object.__setattr__(self, "sigma", (positive_float(pair[0], "sigma"), positive_float(pair[1], "sigma")))
        object.__setattr__(
            self, "simcc_split_ratio", positive_float(self.simcc_split_ratio, "simcc_split_ratio")
        )
        if self.smoothing_type not in _SMOOTHING_TYPES:
            raise ValueError(f"smoothing_type must be one of {_SMOOTHING_TYPES}, got {self.smoothing_type!r}")
        lsw = float(self.label_smooth_weight)
        if not 0.0 <= lsw <= 1.0:
            raise ValueError(f"label_smooth_weight must be in [0, 1], got {self.label_smooth_weight!r}")
        if self.smoothing_type == "gaussian" and lsw > 0:
            raise ValueError("label_smooth_weight is only used with smoothing_type='standard'")
        object.__setattr__(self, "label_smooth_weight", lsw)
        object.__setattr__(self, "decode_beta", positive_float(self.decode_beta, "decode_beta"))
        for name in ("normalize", "use_dark", "decode_visibility"):
            object.__setattr__(self, name, bool(getattr(self, name)))
        if min(self.simcc_size) < 2:
            raise ValueError(
                f"input_size * simcc_split_ratio must give at least 2 bins per axis, got {self.simcc_size}"
            )

    @property
    def simcc_size(self) -> tuple[int, int]:
        """``(Wx, Hy)``: number of x and y bins, ``round(input_size * simcc_split_ratio)``."""
        w, h = self.input_size
        return int(np.around(w * self.simcc_split_ratio)), int(np.around(h * self.simcc_split_ratio))

    @property
    def blur_kernel_sizes(self) -> tuple[int, int]:
        """DARK kernels ``(kx, ky)``: ``(20 sigma - 7) // 3`` made odd downward, as MMPose (at least 1)."""
        sizes = []
        for s in self.sigma:
            k = int((s * 20 - 7) // 3)
            k -= int(k % 2 == 0)
            sizes.append(max(k, 1))
        return sizes[0], sizes[1]

    def encode(self, keypoints: Any, keypoints_visible: Any = None) -> SimCCTargets:
        """SimCC labels for a batch of instances.

        Args:
            keypoints: (N, K, 2) input-space pixels; non-finite keypoints count as invisible.
            keypoints_visible: (N, K) in [0, 1] (labelled when >= 0.5), or None = all visible.

        Returns:
            :class:`SimCCTargets`: x_labels (N, K, Wx), y_labels (N, K, Hy) float32 (zero for invisible
            keypoints), keypoint_weights (N, K) float32 = visibility, 0 for non-finite keypoints and for
            visible keypoints outside the label range (``'gaussian'``: more than ``3 sigma`` bins out;
            ``'standard'``: any bin outside).
        """
        kp, vis, _ = keypoints_and_visibility(keypoints, keypoints_visible)
        N, K = vis.shape
        Wx, Hy = self.simcc_size
        kp = np.clip(kp, -_COORD_LIMIT, _COORD_LIMIT)
        mu = np.around(kp * self.simcc_split_ratio).astype(np.int64)  # float32 product, as MMPose
        active = vis >= 0.5
        if self.smoothing_type == "gaussian":
            radius = np.array(self.sigma) * 3
            left, right = mu - radius, mu + radius + 1
            outside = (left[..., 0] >= Wx) | (left[..., 1] >= Hy) | (right[..., 0] < 0) | (right[..., 1] < 0)
        else:
            outside = (mu[..., 0] >= Wx) | (mu[..., 1] >= Hy) | (mu[..., 0] < 0) | (mu[..., 1] < 0)
        draw = active & ~outside
        weights = np.where(active & outside, 0, vis).astype(np.float32)
        x_labels = np.zeros((N, K, Wx), dtype=np.float32)
        y_labels = np.zeros((N, K, Hy), dtype=np.float32)
        if draw.any():
            x_labels[draw], y_labels[draw] = self._labels(mu[draw])
        return SimCCTargets(x_labels=x_labels, y_labels=y_labels, keypoint_weights=weights)

    def _labels(self, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(M, Wx), (M, Hy) float32 labels for (M, 2) int64 bin centres."""
        Wx, Hy = self.simcc_size
        if self.smoothing_type == "standard":
            lsw = self.label_smooth_weight
            x = np.full((mu.shape[0], Wx), lsw / (Wx - 1) if lsw > 0 else 0.0, dtype=np.float32)
            y = np.full((mu.shape[0], Hy), lsw / (Hy - 1) if lsw > 0 else 0.0, dtype=np.float32)
            rows = np.arange(mu.shape[0])
            x[rows, mu[:, 0]] = 1.0 - lsw
            y[rows, mu[:, 1]] = 1.0 - lsw
            return x, y
        x = gaussian_profiles(mu[:, 0], Wx, self.sigma[0])
        y = gaussian_profiles(mu[:, 1], Hy, self.sigma[1])
        if self.normalize:
            # float32 labels divided in float64, as MMPose's in-place division by a float64 scalar
            x = (x.astype(np.float64) / (self.sigma[0] * math.sqrt(2 * math.pi))).astype(np.float32)
            y = (y.astype(np.float64) / (self.sigma[1] * math.sqrt(2 * math.pi))).astype(np.float32)
        return x, y

    def decode(self, simcc_x: Any, simcc_y: Any) -> Decoded:
        """Keypoints from SimCC vectors (raw logits as the head outputs them).

        Args:
            simcc_x: (N, K, Wx) NumPy array or torch tensor; simcc_y: (N, K, Hy); computed in float32.

        Returns:
            :class:`Decoded`: keypoints (N, K, 2) float32 input-space pixels, scores (N, K) float32
            ``min(max_x, max_y)`` (keypoints -1 / ratio where that is <= 0), and with
            ``decode_visibility`` a visibility (N, K) float32. ``use_dark``: where MMPose returns NaN
            (an all-zero vector) the plain argmax location is returned with score 0. The visibility is
            computed from the raw vectors (MMPose computes it from the DARK-modulated vectors when both
            ``use_dark`` and ``decode_visibility`` are set, a side effect of in-place modulation).
        """
        x = float32_array(simcc_x, "simcc_x", 3, "(N, K, Wx)")
        y = float32_array(simcc_y, "simcc_y", 3, "(N, K, Hy)")
        if x.shape[:2] != y.shape[:2] or x.shape[2] == 0 or y.shape[2] == 0:
            raise ValueError(
                f"simcc_x (N, K, Wx) and simcc_y (N, K, Hy) must share N and K and have bins, "
                f"got {x.shape} and {y.shape}"
            )
        locs, vals = simcc_argmax(x, y)
        if self.use_dark:
            kx, ky = self.blur_kernel_sizes
            refined = np.stack(
                (refine_simcc_dark(locs[..., 0], x, kx), refine_simcc_dark(locs[..., 1], y, ky)), axis=-1
            )
            locs, vals = fallback_nonfinite(refined, locs, vals)
        keypoints = (locs / self.simcc_split_ratio).astype(np.float32)
        visibility = None
        if self.decode_visibility:
            bx = (x * self.decode_beta).astype(np.float64) * self.sigma[0]  # float32 product, then float64
            by = (y * self.decode_beta).astype(np.float64) * self.sigma[1]
            _, visibility = simcc_argmax(bx, by, apply_softmax=True)
            visibility = visibility.astype(np.float32)
        return Decoded(keypoints=keypoints, scores=vals.astype(np.float32), visibility=visibility)
