"""ViTPose's "simple" decoder neck: ReLU then bilinear x4 upsampling (no parameters).

MMPose 1.3.2 writes the simple decoder as ``neck=FeatureMapProcessor(scale_factor=4.0, apply_relu=True)``
followed by a ``HeatmapHead`` without deconvolutions and a 3x3 ``final_layer`` (padding 1). The neck
has no weights, so an official checkpoint holds only ``backbone.*`` and ``head.final_layer.*``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ReLUUpsample"]


class ReLUUpsample(nn.Module):
    """``interpolate(relu(x), scale_factor, bilinear, align_corners=False)`` (MMPose's FeatureMapProcessor).

    Input: ``(B, C, h, w)`` feature map (or a tuple/list of them, each processed, same container type
    returned). Output: ``(B, C, round(h * scale_factor), round(w * scale_factor))``; ViTPose: 16x12 -> 64x48.
    """

    def __init__(self, *, scale_factor: float = 4.0, apply_relu: bool = True, align_corners: bool = False) -> None:
        super().__init__()
        if scale_factor <= 0:
            raise ValueError(f"scale_factor must be positive, got {scale_factor}")
        self.scale_factor = float(scale_factor)
        self.apply_relu = apply_relu
        self.align_corners = align_corners

    def _one(self, x: Tensor) -> Tensor:
        if x.ndim != 4:
            raise ValueError(f"feature map must have shape (B, C, h, w), got {tuple(x.shape)}")
        if self.apply_relu:
            x = F.relu(x)
        if self.scale_factor != 1.0:
            x = F.interpolate(x, scale_factor=self.scale_factor, mode="bilinear", align_corners=self.align_corners)
        return x

    def forward(self, feats: Tensor | tuple[Tensor, ...] | list[Tensor]) -> Tensor | tuple[Tensor, ...] | list[Tensor]:
        if isinstance(feats, (tuple, list)):
            return type(feats)(self._one(f) for f in feats)
        return self._one(feats)

    def extra_repr(self) -> str:
        return f"scale_factor={self.scale_factor}, apply_relu={self.apply_relu}, align_corners={self.align_corners}"
