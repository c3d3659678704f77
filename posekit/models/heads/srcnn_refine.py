"""SRCNN-style heatmap refinement: learn to sharpen bilinearly upsampled heatmaps.

``SRCNNRefine`` follows SRCNN (Dong et al., 2014): patch extraction (9x9 conv, 64 ch), non-linear
mapping (5x5 conv, 32 ch), reconstruction (5x5 conv back to K channels), ReLU between, 'same' zero
padding ``k // 2``. Unlike the original SRCNN it predicts a **residual** on top of the bilinear upsampling:

    up = bilinear_upsample(coarse, upscale)          # align_corners=False
    refined = up + conv3(relu(conv2(relu(conv1(up)))))

**Init**: conv1/conv2 keep PyTorch's default (Kaiming-uniform) init, conv3's weight and bias are zero, so
an untrained refine head returns ``up`` exactly (decoding a refined heatmap then equals decoding the
upsampled one) and training starts from bilinear upsampling. Gradients still reach conv3 (its input is
non-zero), and through it the earlier convs once conv3 moves away from zero.

Frames: the refined map has ``upscale`` times the coarse resolution (decode it with the codec's
heatmap_size multiplied by ``upscale``). Bilinear upsampling with ``align_corners=False`` puts fine index
``j`` at coarse index ``(j + 0.5) / upscale - 0.5``, so with MSRA's ``input = index * scale_factor``
convention a keypoint decoded from the (untrained) refined map lies
``0.5 * coarse_scale_factor * (1 - 1 / upscale)`` input pixels too far right/down (1 px for a 4x coarse
map upsampled 2x); :meth:`SRCNNRefine.input_offset` returns it. A trained refine head learns whatever
frame its targets use.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["RefinedHeatmapHead", "SRCNNRefine"]


class SRCNNRefine(nn.Module):
    """Upsample ``(B, K, h, w)`` heatmaps by ``upscale`` and refine them with a residual 3-conv SRCNN.

    Args:
        num_keypoints: K (input and output channels).
        upscale: integer upsampling factor (1 = refine at the same resolution).
        channels: widths of the first two convs.
        kernels: three odd kernel sizes.

    Forward: ``(B, K, h, w)`` float -> ``(B, K, h * upscale, w * upscale)``.
    """

    def __init__(
        self,
        num_keypoints: int,
        *,
        upscale: int = 2,
        channels: Sequence[int] = (64, 32),
        kernels: Sequence[int] = (9, 5, 5),
    ) -> None:
        super().__init__()
        if int(num_keypoints) < 1:
            raise ValueError(f"num_keypoints must be >= 1, got {num_keypoints}")
        if int(upscale) != upscale or upscale < 1:
            raise ValueError(f"upscale must be a positive integer, got {upscale}")
        channels = tuple(int(c) for c in channels)
        kernels = tuple(int(k) for k in kernels)
        if len(channels) != 2 or min(channels) < 1:
            raise ValueError(f"channels must be two positive widths, got {channels}")
        if len(kernels) != 3 or any(k < 1 or k % 2 == 0 for k in kernels):
            raise ValueError(f"kernels must be three odd sizes, got {kernels}")
        self.num_keypoints = int(num_keypoints)
        self.upscale = int(upscale)
        k = self.num_keypoints
        c1, c2 = channels
        self.conv1 = nn.Conv2d(k, c1, kernels[0], padding=kernels[0] // 2)
        self.conv2 = nn.Conv2d(c1, c2, kernels[1], padding=kernels[1] // 2)
        self.conv3 = nn.Conv2d(c2, k, kernels[2], padding=kernels[2] // 2)
        self.relu = nn.ReLU()
        nn.init.zeros_(self.conv3.weight)
        nn.init.zeros_(self.conv3.bias)

    def input_offset(self, coarse_scale_factor: float) -> float:
        """Input-space pixels to subtract from MSRA-decoded keypoints of the upsampled map
        (``0.5 * coarse_scale_factor * (1 - 1 / upscale)``, x and y alike); see the module docstring."""
        return 0.5 * float(coarse_scale_factor) * (1.0 - 1.0 / self.upscale)

    def upsample(self, heatmaps: Tensor) -> Tensor:
        """Bilinear (``align_corners=False``) upsampling by ``upscale``: ``(B, K, h, w)`` -> ``(B, K, h*s, w*s)``."""
        if heatmaps.ndim != 4 or heatmaps.shape[1] != self.num_keypoints:
            raise ValueError(
                f"heatmaps must have shape (B, {self.num_keypoints}, h, w), got {tuple(heatmaps.shape)}"
            )
        if self.upscale == 1:
            return heatmaps
        return F.interpolate(heatmaps, scale_factor=self.upscale, mode="bilinear", align_corners=False)

    def forward(self, heatmaps: Tensor) -> Tensor:
        up = self.upsample(heatmaps)
        return up + self.conv3(self.relu(self.conv2(self.relu(self.conv1(up)))))


class RefinedHeatmapHead(nn.Module):
    """Any heatmap head followed by a refinement module.

    Submodules ``head`` (the wrapped head, its keys unchanged under ``head.``) and ``refine``. To reuse an
    official checkpoint, load it into the plain model first, then wrap:
    ``model.head = RefinedHeatmapHead(model.head, SRCNNRefine(17))``.

    ``forward(feats)`` -> refined heatmaps ``(B, K, h * s, w * s)``; ``forward_both(feats)`` -> ``(coarse,
    refined)`` for training with losses at both resolutions.
    """

    def __init__(self, head: nn.Module, refine: nn.Module) -> None:
        super().__init__()
        self.head = head
        self.refine = refine

    def forward_both(self, feats: Tensor | Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        coarse = self.head(feats)
        return coarse, self.refine(coarse)

    def forward(self, feats: Tensor | Sequence[Tensor]) -> Tensor:
        return self.refine(self.head(feats))
