"""Top-down pose model: backbone -> (neck) -> head, named like MMPose's ``TopdownPoseEstimator``.

Submodules are registered as ``backbone``, ``neck`` (only when given) and ``head``, so an official MMPose
1.x checkpoint's ``state_dict`` (keys ``backbone.*``, ``neck.*``, ``head.*``) loads with ``strict=True``
(see :func:`posekit.models._convert.load_official`). Input normalisation, flip test and decoding live
outside the model.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

__all__ = ["TopdownModel"]


class TopdownModel(nn.Module):
    """``head(neck(backbone(x)))``.

    Args:
        backbone: maps ``(B, 3, H, W)`` to a tuple of feature maps.
        head: maps the feature tuple to the model output (heatmaps ``(B, K, h, w)``, SimCC vectors, ...).
        neck: optional module between the two (e.g. ViTPose-simple's ReLU + upsampling).

    Forward: ``x`` ``(B, 3, H, W)`` float32, normalised RGB (``(rgb - mean) / std``) -> the head's output.

    Example:
        >>> import torch
        >>> from posekit.models.backbones.resnet import resnet
        >>> from posekit.models.heads.heatmap import HeatmapHead
        >>> m = TopdownModel(resnet(18), HeatmapHead(512, 17)).eval()
        >>> m(torch.zeros(1, 3, 256, 192)).shape
        torch.Size([1, 17, 64, 48])
    """

    def __init__(self, backbone: nn.Module, head: nn.Module, *, neck: nn.Module | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.neck = neck  # None: a plain attribute, so no ``neck.*`` keys
        self.head = head

    def extract_features(self, x: Tensor) -> Any:
        """Backbone (and neck) features for ``x`` ``(B, C, H, W)``."""
        if x.ndim != 4:
            raise ValueError(f"model input must have shape (B, 3, H, W), got {tuple(x.shape)}")
        feats = self.backbone(x)
        if self.neck is not None:
            feats = self.neck(feats)
        return feats

    def forward(self, x: Tensor) -> Any:
        return self.head(self.extract_features(x))
