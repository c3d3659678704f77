"""RTMDet (MMDetection 3.x): CSPNeXt backbone + CSPNeXtPAFPN neck + RTMDetSepBNHead, in plain PyTorch.

Module names reproduce MMDet 3.x's state-dict keys (``backbone.stem.0.conv.weight``, ``backbone.stage1.0...``,
``neck.reduce_layers.0.conv.weight``, ``neck.top_down_blocks...``, ``neck.downsamples...``,
``neck.bottom_up_blocks...``, ``neck.out_convs...``, ``bbox_head.cls_convs.<level>.<i>...``,
``bbox_head.reg_convs...``, ``bbox_head.rtm_cls.<level>``, ``bbox_head.rtm_reg.<level>``). The building blocks
(``ConvBNAct``, the CSP layer with its ``use_depthwise`` option for RTMDet-nano/tiny's depthwise-separable
convolutions, ``SPPBottleneck``) are those of :mod:`posekit.models.backbones.cspnext`; the neck is the path
aggregation of :mod:`posekit.models.necks.cspnext_pafpn` plus MMDet's output convolutions.

Output of :class:`RTMDet`: per level (strides 8, 16, 32, in that order) the class logits ``(B, num_classes, H/s,
W/s)`` (apply a sigmoid for scores) and the box distances ``(B, 4, H/s, W/s)`` (left, top, right, bottom, in
network-input pixels, already multiplied by the stride) from the prior point ``(x * s, y * s)`` of cell
``(x, y)`` (MMDet's ``MlvlPointGenerator`` with offset 0); see :func:`posekit.detect.rtmdet.decode`.

BatchNorm: the RTMDet configs use ``SyncBN`` with its defaults (eps 1e-5, momentum 0.1), which is what is built here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from posekit.models.backbones.cspnext import ConvBNAct, CSPLayer, SPPBottleneck
from posekit.models.backbones.cspnext import conv_bn_act as _conv
from posekit.models.necks.cspnext_pafpn import CSPNeXtPAFPN as PathAggregation

__all__ = ["RTMDET_VARIANTS", "RTMDet", "RTMDetConfig", "rtmdet"]

STRIDES = (8, 16, 32)

# (in_channels, out_channels, num_blocks, add_identity, use_spp) of the four P5 stages at factor 1 (MMDet CSPNeXt).
_P5 = ((64, 128, 3, True, False), (128, 256, 6, True, False), (256, 512, 6, True, False),
       (512, 1024, 3, False, True))


@dataclass(frozen=True)
class RTMDetConfig:
    """One RTMDet variant as the MMDet 3.x configs set it (``rtmdet_<v>_8xb32-300e_coco.py``; nano:
    ``rtmdet_nano_320-8xb32_coco-person.py``)."""

    deepen_factor: float
    widen_factor: float
    use_depthwise: bool  # backbone, neck and head (nano only)
    exp_on_reg: bool  # distances = exp(reg) * stride (m, l) instead of reg * stride
    input_size: int  # the size the variant was trained for

    @property
    def neck_in_channels(self) -> tuple[int, int, int]:
        return tuple(int(c * self.widen_factor) for c in (256, 512, 1024))  # type: ignore[return-value]

    @property
    def feat_channels(self) -> int:
        return int(256 * self.widen_factor)

    @property
    def num_csp_blocks(self) -> int:
        return max(round(3 * self.deepen_factor), 1)


RTMDET_VARIANTS: dict[str, RTMDetConfig] = {
    "nano": RTMDetConfig(0.33, 0.25, True, False, 320),
    "tiny": RTMDetConfig(0.167, 0.375, False, False, 640),
    "s": RTMDetConfig(0.33, 0.5, False, False, 640),
    "m": RTMDetConfig(0.67, 0.75, False, True, 640),
    "l": RTMDetConfig(1.0, 1.0, False, True, 640),
}


class CSPNeXtBackbone(nn.Module):
    """CSPNeXt-P5 returning stages 2, 3, 4 (strides 8, 16, 32); ``use_depthwise`` makes the stride-2 stage convs and
    the blocks' first convs depthwise-separable (RTMDet-nano). Input ``(B, 3, H, W)``."""

    def __init__(self, *, deepen_factor: float, widen_factor: float, use_depthwise: bool, expand_ratio: float = 0.5,
                 **bn: float) -> None:
        super().__init__()
        stem_ch = int(_P5[0][0] * widen_factor)
        self.stem = nn.Sequential(
            ConvBNAct(3, stem_ch // 2, 3, stride=2, **bn),
            ConvBNAct(stem_ch // 2, stem_ch // 2, 3, **bn),
            ConvBNAct(stem_ch // 2, stem_ch, 3, **bn))
        for i, (in_ch, out_ch, blocks, add_identity, use_spp) in enumerate(_P5):
            in_ch, out_ch = int(in_ch * widen_factor), int(out_ch * widen_factor)
            stage: list[nn.Module] = [_conv(in_ch, out_ch, 3, stride=2, depthwise=use_depthwise, **bn)]
            if use_spp:
                stage.append(SPPBottleneck(out_ch, out_ch, **bn))
            stage.append(CSPLayer(out_ch, out_ch, num_blocks=max(round(blocks * deepen_factor), 1),
                                  add_identity=add_identity, expand_ratio=expand_ratio, channel_attention=True,
                                  use_depthwise=use_depthwise, **bn))
            self.add_module(f"stage{i + 1}", nn.Sequential(*stage))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = self.stage2(self.stage1(self.stem(x)))
        c4 = self.stage3(x)
        return x, c4, self.stage4(c4)


class CSPNeXtPAFPN(PathAggregation):
    """MMDet's CSPNeXtPAFPN: the path aggregation of :mod:`posekit.models.necks.cspnext_pafpn` over all levels,
    then a 3x3 output conv per level; every output has ``out_channels``."""

    def __init__(self, in_channels: Sequence[int], out_channels: int, *, num_csp_blocks: int, use_depthwise: bool,
                 expand_ratio: float = 0.5, **bn: float) -> None:
        super().__init__(in_channels, out_indices=range(len(in_channels)), num_csp_blocks=num_csp_blocks,
                         use_depthwise=use_depthwise, expand_ratio=expand_ratio, **bn)
        self.out_convs = nn.ModuleList(_conv(c, out_channels, 3, depthwise=use_depthwise, **bn)
                                       for c in in_channels)

    def forward(self, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
        return tuple(conv(o) for conv, o in zip(self.out_convs, super().forward(inputs)))


class RTMDetSepBNHead(nn.Module):
    """Per level: ``stacked_convs`` cls convs -> ``rtm_cls`` logits, ``stacked_convs`` reg convs -> ``rtm_reg``
    distances (times the stride, after ``exp`` when ``exp_on_reg``). With ``share_conv`` the levels share the conv
    weights of level 0 and keep their own BatchNorms (as MMDet; with depthwise-separable convs MMDet's sharing does
    not apply, so each level has its own)."""

    def __init__(self, num_classes: int, in_channels: int, feat_channels: int, *, stacked_convs: int = 2,
                 strides: Sequence[int] = STRIDES, share_conv: bool = True, use_depthwise: bool = False,
                 pred_kernel_size: int = 1, exp_on_reg: bool = False, **bn: float) -> None:
        super().__init__()
        self.strides = tuple(int(s) for s in strides)
        self.exp_on_reg = exp_on_reg
        self.cls_convs, self.reg_convs = nn.ModuleList(), nn.ModuleList()
        self.rtm_cls, self.rtm_reg = nn.ModuleList(), nn.ModuleList()
        for _ in self.strides:
            for convs in (self.cls_convs, self.reg_convs):
                convs.append(nn.ModuleList(
                    _conv(in_channels if i == 0 else feat_channels, feat_channels, 3, depthwise=use_depthwise, **bn)
                    for i in range(stacked_convs)))
            pad = pred_kernel_size // 2
            self.rtm_cls.append(nn.Conv2d(feat_channels, num_classes, pred_kernel_size, padding=pad))
            self.rtm_reg.append(nn.Conv2d(feat_channels, 4, pred_kernel_size, padding=pad))
        if share_conv and not use_depthwise:
            for level in range(1, len(self.strides)):
                for i in range(stacked_convs):
                    self.cls_convs[level][i].conv = self.cls_convs[0][i].conv
                    self.reg_convs[level][i].conv = self.reg_convs[0][i].conv

    def forward(self, feats: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        if len(feats) != len(self.strides):
            raise ValueError(f"the head takes {len(self.strides)} feature maps, got {len(feats)}")
        scores, dists = [], []
        for level, (x, stride) in enumerate(zip(feats, self.strides)):
            cls_feat, reg_feat = x, x
            for layer in self.cls_convs[level]:
                cls_feat = layer(cls_feat)
            scores.append(self.rtm_cls[level](cls_feat))
            for layer in self.reg_convs[level]:
                reg_feat = layer(reg_feat)
            reg = self.rtm_reg[level](reg_feat)
            dists.append((reg.exp() if self.exp_on_reg else reg) * stride)
        return scores, dists


class RTMDet(nn.Module):
    """RTMDet: ``(B, 3, H, W)`` normalised BGR (H, W multiples of 32) -> ``(logits_8, logits_16, logits_32,
    dists_8, dists_16, dists_32)``: class logits ``(B, num_classes, H/s, W/s)`` and box distances ``(B, 4, H/s,
    W/s)`` (l, t, r, b in input pixels from the prior ``(x * s, y * s)``)."""

    def __init__(self, config: RTMDetConfig, *, num_classes: int = 80, bn_eps: float = 1e-5,
                 bn_momentum: float = 0.1) -> None:
        super().__init__()
        bn = {"bn_eps": bn_eps, "bn_momentum": bn_momentum}
        self.config = config
        self.num_classes = int(num_classes)
        self.strides = STRIDES
        self.backbone = CSPNeXtBackbone(deepen_factor=config.deepen_factor, widen_factor=config.widen_factor,
                                        use_depthwise=config.use_depthwise, **bn)
        self.neck = CSPNeXtPAFPN(config.neck_in_channels, config.feat_channels, num_csp_blocks=config.num_csp_blocks,
                                 use_depthwise=config.use_depthwise, **bn)
        self.bbox_head = RTMDetSepBNHead(self.num_classes, config.feat_channels, config.feat_channels,
                                         use_depthwise=config.use_depthwise, exp_on_reg=config.exp_on_reg, **bn)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"RTMDet input must have shape (B, 3, H, W), got {tuple(x.shape)}")
        if x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(f"RTMDet input height and width must be multiples of 32, got {tuple(x.shape[2:])}")
        scores, dists = self.bbox_head(self.neck(self.backbone(x)))
        return (*scores, *dists)


def rtmdet(variant: str = "nano", *, num_classes: int = 80, bn_eps: float = 1e-5, bn_momentum: float = 0.1) -> RTMDet:
    """Build RTMDet-``variant`` (``"nano"``, ``"tiny"``, ``"s"``, ``"m"``, ``"l"``; factors in
    :data:`RTMDET_VARIANTS`) with random weights, in eval mode. ``num_classes``: 80 (COCO) or 1 (the MMPose person
    detectors)."""
    if variant not in RTMDET_VARIANTS:
        raise KeyError(f"unknown RTMDet variant {variant!r}; choose one of {sorted(RTMDET_VARIANTS)}")
    if int(num_classes) < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    return RTMDet(RTMDET_VARIANTS[variant], num_classes=num_classes, bn_eps=bn_eps, bn_momentum=bn_momentum).eval()
