"""Top-down pose model: backbone -> (neck) -> head, named like MMPose's ``TopdownPoseEstimator``, and its
test-time settings.

* :class:`TopdownModel` -- the network. Submodules are registered as ``backbone``, ``neck`` (only when given) and
  ``head``, so an official MMPose 1.x checkpoint's ``state_dict`` (keys ``backbone.*``, ``neck.*``, ``head.*``)
  loads with ``strict=True`` (see :func:`load_weights`).
* :class:`TopdownSpec` -- what the top-down pipeline needs besides the network: codec, skeleton, input
  normalisation, crop flavour and flip-test settings. Every family builder (:func:`posekit.models.simplebaseline.
  simplebaseline`, :func:`posekit.models.hrnet.hrnet_topdown`, :func:`posekit.models.vitpose.vitpose`,
  :func:`posekit.models.rtmpose.rtmpose`, :func:`posekit.models.mmpose_cfg.from_mmpose_cfg`) returns
  ``(TopdownModel, TopdownSpec)`` with the values of the official MMPose 1.3.2 configs; :func:`posekit.create_model`
  attaches the spec as ``model.spec``.
* :func:`msra_spec` -- the settings shared by the MSRA-heatmap families (SimpleBaseline, HRNet).
* :func:`load_weights` -- strict loading of an official checkpoint in any supported key layout.

Input normalisation, flip test and decoding live outside the model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from torch import Tensor, nn

from posekit.codecs import MSRAHeatmap, SimCC, UDPHeatmap
from posekit.models.convert import load_official_file
from posekit.models.weights import IMAGENET_MEAN, IMAGENET_STD
from posekit.skeletons import Skeleton

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "Codec", "TopdownModel", "TopdownSpec", "load_weights", "msra_spec"]

Codec = Union[MSRAHeatmap, UDPHeatmap, SimCC]


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


@dataclass(frozen=True)
class TopdownSpec:
    """Test-time settings of a top-down model (MMPose: codec + ``test_cfg`` + data preprocessor + pipeline).

    Attributes:
        codec: decodes the model output (:class:`MSRAHeatmap`, :class:`UDPHeatmap` or :class:`SimCC`); its
            ``input_size`` is the model input ``(width, height)`` in pixels.
        skeleton: keypoint layout of the output (``flip_indices`` come from it).
        mean, std: per-channel normalisation ``(rgb - mean) / std`` on the 0-255 RGB crop.
        udp: cut crops with the UDP warp matrix (ViTPose) instead of the standard one.
        flip_test: average with the prediction on the horizontally flipped crop.
        shift_heatmap: shift un-flipped heatmaps one column right (MSRA-heatmap configs).
        padding: box enlargement before the aspect-ratio fix (``GetBBoxCenterScale``).
    """

    codec: Codec
    skeleton: Skeleton
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    udp: bool = False
    flip_test: bool = True
    shift_heatmap: bool = False
    padding: float = 1.25
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.codec, (MSRAHeatmap, UDPHeatmap, SimCC)):
            raise TypeError(f"codec must be MSRAHeatmap, UDPHeatmap or SimCC, got {type(self.codec).__name__}")
        if not isinstance(self.skeleton, Skeleton):
            raise TypeError(f"skeleton must be a posekit Skeleton, got {type(self.skeleton).__name__}")
        for name in ("mean", "std"):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != 3:
                raise ValueError(f"{name} must have 3 values (R, G, B), got {value}")
            object.__setattr__(self, name, value)
        if min(self.std) <= 0:
            raise ValueError(f"std must be positive, got {self.std}")
        if not self.padding > 0:
            raise ValueError(f"padding must be positive, got {self.padding}")

    @property
    def input_size(self) -> tuple[int, int]:
        """Model input ``(width, height)`` in pixels."""
        return self.codec.input_size


def msra_spec(input_size: tuple[int, int], sigma: float, skeleton: Skeleton) -> TopdownSpec:
    """Settings of an MSRA-heatmap model: heatmaps at 1/4 of ``input_size`` ``(w, h)`` pixels, Gaussian ``sigma``
    (heatmap pixels), standard crops, flip test with the one-column heatmap shift."""
    w, h = (int(v) for v in input_size)
    codec = MSRAHeatmap((w, h), (w // 4, h // 4), sigma=sigma)
    return TopdownSpec(codec, skeleton, shift_heatmap=True)


def load_weights(model: nn.Module, path: str | os.PathLike[str], *, sha256: str | None = None) -> None:
    """Load an official checkpoint file into ``model`` strictly (``torch.load(weights_only=True)``).

    The key layout is recognised from the keys (MMPose 1.x, MMPose 0.x ``keypoint_head.``, original ViTPose; see
    :func:`posekit.models.convert.guess_source`). ``sha256`` (full or a prefix of >= 8 hex digits), when given,
    is checked first. Raises ``ValueError`` naming the file and every missing / unexpected / mis-shaped key,
    :class:`~posekit.models.weights.ChecksumError` on a hash mismatch.
    """
    load_official_file(model, path, sha256=sha256)
