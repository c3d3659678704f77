"""RTMO (MMPose 1.3.2, ``configs/body_2d_keypoint/rtmo/coco/rtmo-{s,m,l}_*_coco-640x640.py``): one-stage
multi-person pose estimation in plain PyTorch, laid out like the official checkpoints.

Network (:class:`RTMO`): ``backbone`` MMDet's CSPDarknet (YOLOX's, :mod:`posekit.models.yolox`, with MMDet's module
names, see :class:`CSPDarknet`), ``neck`` :class:`~posekit.models.necks.hybrid_encoder.HybridEncoder` (strides 16
and 32 kept, then a ChannelMapper), ``head`` :class:`~posekit.models.heads.rtmo.RTMOHead`. The state-dict keys are
MMPose's (``backbone.stage1.1.main_conv.conv.weight``, ``neck.encoder.0.layers.0.self_attn.attn.in_proj_weight``,
``head.head_module.conv_pose.0.3.bn.running_var``, ``head.dcc.gau.uv.weight``, ``head.loss_oks.sigmas``, ...), so
an official ``state_dict`` loads with ``strict=True``.

Input: ``(B, 3, H, W)`` float32 **BGR 0-255** (no normalisation: mean 0, std 1), H and W multiples of 32 (640:
the image resized to fit and centred, padded with 114; see :mod:`posekit.pipelines.rtmo`). :meth:`RTMO.forward`
returns the raw dense outputs of both levels flattened as MMPose's ``_flatten_predictions`` (stride 16 first,
cells row-major): person logits (B, N, 1), box deltas (B, N, 4) ``[dx, dy, log w, log h]`` in stride units,
keypoint visibility logits (B, N, 17) and pose vectors (B, N, C). :class:`DCCNet` runs the dynamic coordinate
classifier on the candidates kept by :func:`posekit.codecs.rtmo.select_candidates`.

The official checkpoints (data) and their registry entries ``rtmo_s``, ``rtmo_m``, ``rtmo_l`` live in
:mod:`posekit.models.rtmo_zoo`, which imports this module only when a network is built.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import torch
from torch import Tensor, nn

from posekit.models import yolox
from posekit.models.convert import load_official_file
from posekit.models.heads.rtmo import DCC, RTMOHead, RTMOHeadModule
from posekit.models.necks.hybrid_encoder import HybridEncoder

__all__ = [
    "RTMO",
    "STRIDES",
    "VARIANTS",
    "CSPDarknet",
    "DCCNet",
    "RTMOConfig",
    "load_rtmo_weights",
    "rtmo",
]


@dataclass(frozen=True)
class RTMOConfig:
    """The numbers that differ between the official RTMO configs.

    Attributes:
        deepen_factor, widen_factor: backbone / neck / head multipliers.
        backbone_channels: CSPDarknet output channels at strides 8, 16, 32 (the neck's ``in_channels``).
        out_channels: ChannelMapper output = head input channels = pose-vector channels = DCC input.
        input_size: the square test input side in pixels.
    """

    deepen_factor: float
    widen_factor: float
    backbone_channels: tuple[int, int, int]
    out_channels: int
    input_size: int = 640


VARIANTS: Mapping[str, RTMOConfig] = MappingProxyType({
    "s": RTMOConfig(0.33, 0.5, (128, 256, 512), 256),
    "m": RTMOConfig(0.67, 0.75, (192, 384, 768), 384),
    "l": RTMOConfig(1.0, 1.0, (256, 512, 1024), 512),
})

STRIDES = (16, 32)
class _MMDetNames:
    """Mixin for a :mod:`posekit.models.yolox` block whose children are registered under MMDet's names
    (``RENAME``: posekit name -> MMDet name); the block's own code still reads them by the posekit names."""

    RENAME: Mapping[str, str] = MappingProxyType({})

    def __getattr__(self, name: str) -> Any:
        return super().__getattr__(self.RENAME.get(name, name))  # type: ignore[misc]

    @classmethod
    def adopt(cls, module: nn.Module) -> nn.Module:
        """``module`` (an instance of ``cls``'s posekit base) with its children renamed, in place."""
        if not isinstance(module, cls.__mro__[2]):
            raise TypeError(f"{cls.__name__} adopts {cls.__mro__[2].__name__}, got {type(module).__name__}")
        children = list(module._modules.items())
        module._modules.clear()
        module._modules.update((cls.RENAME.get(n, n), m) for n, m in children)
        module.__class__ = cls
        return module


class _CSPLayer(_MMDetNames, yolox.CSPLayer):
    """:class:`posekit.models.yolox.CSPLayer` named as MMDet's ``CSPLayer``."""

    RENAME = MappingProxyType({"conv1": "main_conv", "conv2": "short_conv", "conv3": "final_conv", "m": "blocks"})


class CSPDarknet(_MMDetNames, yolox.CSPDarknet):
    """MMDet's ``CSPDarknet`` (``out_indices=(2, 3, 4)``): posekit's YOLOX CSPDarknet, same layers and maths
    (Focus stem in the same channel order, BN eps 1e-3 / momentum 0.03, SiLU (MMDet's Swish ``x * sigmoid(x)``, the
    same function up to float32 rounding), SPP 5/9/13), registered under MMDet's
    names: ``stem``, ``stage1`` .. ``stage4`` (Megvii ``dark2`` .. ``dark5``), CSP layers ``main_conv`` /
    ``short_conv`` / ``final_conv`` / ``blocks`` (Megvii ``conv1`` / ``conv2`` / ``conv3`` / ``m``); bottlenecks
    (``conv1``, ``conv2``) and the SPP block (``conv1``, ``conv2``, parameter-free pools) are named alike in both.

    Forward: ``(B, 3, H, W)`` -> features at strides 8, 16, 32 with 4, 8, 16 x ``int(64 * widen_factor)`` channels.
    """

    RENAME = MappingProxyType({"dark2": "stage1", "dark3": "stage2", "dark4": "stage3", "dark5": "stage4"})

    def __init__(self, deepen_factor: float, widen_factor: float) -> None:
        super().__init__(deepen_factor, widen_factor, depthwise=False)
        for name in self.RENAME:
            _CSPLayer.adopt(self._modules[name][-1])
        children = list(self._modules.items())
        self._modules.clear()
        self._modules.update((self.RENAME.get(n, n), m) for n, m in children)


class RTMO(nn.Module):
    """RTMO network (module docstring): ``backbone``, ``neck``, ``head``.

    Args:
        config: the variant's :class:`RTMOConfig`.
        num_keypoints: K (17 for COCO).
        hidden_dim, feedforward_channels: the neck's width and its encoder's FFN width.
        head_in_channels, cls_feat_channels, channels_per_group: head widths before ``widen_factor`` (the head
            input, ``out_channels``, is split into two halves of ``int(head_in_channels * widen_factor)``).
        dcc_feat_channels, num_bins, spe_channels, gau_s: the DCC's sizes.
        neck_widen_factor, head_widen_factor: the neck's and the head's ``widen_factor`` when they differ from the
            backbone's (``None``: ``config.widen_factor``, as in every official config).
    """

    strides = STRIDES

    def __init__(self, config: RTMOConfig, *, num_keypoints: int = 17, hidden_dim: int = 256,
                 feedforward_channels: int = 1024, num_heads: int = 8, head_in_channels: int = 256,
                 cls_feat_channels: int = 256, neck_widen_factor: float | None = None,
                 head_widen_factor: float | None = None,
                 channels_per_group: int = 36, dcc_feat_channels: int = 128, num_bins: tuple[int, int] = (192, 256),
                 spe_channels: int = 128, gau_s: int = 128) -> None:
        super().__init__()
        self.config = config
        self.input_size = config.input_size
        self.num_keypoints = int(num_keypoints)
        self.backbone = CSPDarknet(config.deepen_factor, config.widen_factor)
        neck_widen = config.widen_factor if neck_widen_factor is None else neck_widen_factor
        head_widen = config.widen_factor if head_widen_factor is None else head_widen_factor
        self.neck = HybridEncoder(config.backbone_channels, hidden_dim=hidden_dim,
                                  deepen_factor=config.deepen_factor, widen_factor=neck_widen,
                                  num_heads=num_heads, feedforward_channels=feedforward_channels,
                                  output_indices=(1, 2), projector_channels=config.out_channels)
        if config.out_channels != 2 * int(head_in_channels * head_widen):
            raise ValueError(f"out_channels ({config.out_channels}) must be 2 * int(head_in_channels * widen_factor) "
                             f"= {2 * int(head_in_channels * head_widen)}: the head splits it in halves")
        module = RTMOHeadModule(num_keypoints, head_in_channels, widen_factor=head_widen,
                                cls_feat_channels=cls_feat_channels,
                                channels_per_group=channels_per_group, pose_vec_channels=config.out_channels,
                                num_levels=len(STRIDES))
        dcc = DCC(config.out_channels, num_keypoints, feat_channels=dcc_feat_channels, num_bins=num_bins,
                  spe_channels=spe_channels, gau_s=gau_s)
        self.head = RTMOHead(module, dcc)

    def forward_levels(self, x: Tensor) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
        """Per-level raw head maps (MMPose ``RTMOHead.forward``, training-only offsets left out): lists over
        strides 16, 32 of person logits (B, 1, h, w), box deltas (B, 4, h, w), visibility logits (B, K, h, w),
        pose vectors (B, C, h, w)."""
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"RTMO takes a (B, 3, H, W) BGR batch with H and W multiples of 32, got "
                             f"{tuple(x.shape)}")
        return self.head(self.neck(self.backbone(x)))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(B, 3, H, W)`` BGR 0-255 -> (person logits (B, N, 1), box deltas (B, N, 4), visibility logits
        (B, N, K), pose vectors (B, N, C)); ``N = sum((H / s) * (W / s) for s in (16, 32))``."""
        return tuple(torch.cat([m.permute(0, 2, 3, 1).flatten(1, 2) for m in maps], dim=1)  # type: ignore[return-value]
                     for maps in self.forward_levels(x))


class DCCNet(nn.Module):
    """The DCC of ``model`` (shared parameters) behind one packed input, so a runner can take it:
    ``(N, C + 6, 1, 1)`` = per candidate its pose vector (C), box centre and padded size ``(cx, cy, w, h)`` and
    cell centre ``(gx, gy)`` (input pixels; :func:`posekit.codecs.rtmo.pack_dcc_input`) -> keypoints (N, K, 2),
    input pixels."""

    def __init__(self, model: RTMO) -> None:
        super().__init__()
        self.dcc = model.head.dcc
        self.channels = model.config.out_channels

    def forward(self, packed: Tensor) -> Tensor:
        x = packed.flatten(1)
        c = self.channels
        return self.dcc(x[:, :c], x[:, c:c + 4], x[:, c + 4:c + 6])


def rtmo(variant: str = "s", **overrides: Any) -> RTMO:
    """A randomly initialised RTMO ``variant`` (``"s"``, ``"m"``, ``"l"``) in eval mode, with MMPose's
    state-dict keys. ``overrides``: :class:`RTMOConfig` fields (``deepen_factor``, ``widen_factor``,
    ``backbone_channels``, ``out_channels``, ``input_size``) and :class:`RTMO` sizes (``hidden_dim``,
    ``feedforward_channels``, ``num_heads``, ``dcc_feat_channels``, ``num_bins``, ``gau_s``, ``spe_channels``,
    ...), e.g. for reduced test models."""
    if variant not in VARIANTS:
        raise KeyError(f"unknown RTMO variant {variant!r}; known: {', '.join(VARIANTS)}")
    fields = RTMOConfig.__dataclass_fields__
    config = replace(VARIANTS[variant], **{k: v for k, v in overrides.items() if k in fields})
    return RTMO(config, **{k: v for k, v in overrides.items() if k not in fields}).eval()


def load_rtmo_weights(model: nn.Module, path: str | os.PathLike[str], *, sha256: str | None = None) -> None:
    """Load an official RTMO checkpoint into ``model`` strictly (``torch.load(weights_only=True)``).

    Raises ``ValueError`` naming the file: a file that is not an RTMO checkpoint (no ``head.dcc.`` and
    ``neck.encoder.`` keys: a top-down or detector checkpoint), or every missing / unexpected / mis-shaped key
    (:func:`posekit.models.topdown.load_weights`).
    """
    def check(state: Mapping[str, Tensor]) -> None:
        if not any(k.startswith("head.dcc.") for k in state) or not any(k.startswith("neck.encoder.") for k in state):
            raise ValueError(f"{path}: not an RTMO checkpoint (no head.dcc.* and neck.encoder.* keys; its first keys: "
                             f"{', '.join(list(state)[:3])})")

    load_official_file(model, path, sha256=sha256, check=check)
