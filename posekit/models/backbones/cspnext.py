"""CSPNeXt backbone of RTMPose (mmdet's ``CSPNeXt``, P5 arch, as RTMPose configures it).

Module names reproduce the official state_dict keys: ``stem.<i>.{conv,bn}``,
``stage<s>.0`` (stride-2 conv), ``stage4.1`` (SPP bottleneck), ``stage<s>.<last>`` (CSP layer with
``main_conv``, ``short_conv``, ``blocks.<j>.{conv1, conv2.depthwise_conv, conv2.pointwise_conv}``,
``attention.fc``, ``final_conv``). RTMPose configs use BN with PyTorch defaults (eps 1e-5; mmdet's
own default would be eps 1e-3) and SiLU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CSPNeXt", "cspnext", "RTMPOSE_CSPNEXT_FACTORS"]

# (in_channels, out_channels, num_blocks, add_identity, use_spp) of the four P5 stages at factor 1.
_P5 = ((64, 128, 3, True, False), (128, 256, 6, True, False), (256, 512, 6, True, False),
       (512, 1024, 3, False, True))

# (deepen_factor, widen_factor) of RTMPose-t/s/m/l.
RTMPOSE_CSPNEXT_FACTORS: dict[str, tuple[float, float]] = {
    "t": (0.167, 0.375), "s": (0.33, 0.5), "m": (0.67, 0.75), "l": (1.0, 1.0)}


class ConvBNAct(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d -> activation (SiLU unless ``act``); keys ``conv``, ``bn`` (mmcv's
    ConvModule)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, *, stride: int = 1, groups: int = 1,
                 bn_eps: float = 1e-5, bn_momentum: float = 0.1, act: type[nn.Module] = nn.SiLU) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=kernel_size // 2,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=bn_eps, momentum=bn_momentum)
        self.activate = act()


class SepConv(nn.Sequential):
    """Depthwise k x k ConvBNAct (with ``stride``) then pointwise 1 x 1 ConvBNAct (mmcv's
    ``DepthwiseSeparableConvModule``: keys ``depthwise_conv``, ``pointwise_conv``)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, *, stride: int = 1, **bn: float) -> None:
        super().__init__()
        self.depthwise_conv = ConvBNAct(in_ch, in_ch, kernel_size, stride=stride, groups=in_ch, **bn)
        self.pointwise_conv = ConvBNAct(in_ch, out_ch, 1, **bn)


def conv_bn_act(in_ch: int, out_ch: int, kernel_size: int, *, depthwise: bool, stride: int = 1,
                **bn: float) -> nn.Module:
    """:class:`SepConv` when ``depthwise`` (RTMDet-nano / tiny), else :class:`ConvBNAct`."""
    if depthwise:
        return SepConv(in_ch, out_ch, kernel_size, stride=stride, **bn)
    return ConvBNAct(in_ch, out_ch, kernel_size, stride=stride, **bn)


class CSPNeXtBlock(nn.Module):
    """3x3 conv (depthwise-separable when ``use_depthwise``) -> 5x5 depthwise-separable conv, plus identity."""

    def __init__(self, channels: int, *, add_identity: bool, kernel_size: int = 5, use_depthwise: bool = False,
                 **bn: float) -> None:
        super().__init__()
        self.conv1 = conv_bn_act(channels, channels, 3, depthwise=use_depthwise, **bn)
        self.conv2 = SepConv(channels, channels, kernel_size, **bn)
        self.add_identity = add_identity

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class ChannelAttention(nn.Module):
    """Per-channel gate: ``x * hardsigmoid(fc(global_avg_pool(x)))``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        gate = F.hardsigmoid(self.fc(F.adaptive_avg_pool2d(x, 1)))
        return x * gate


class CSPLayer(nn.Module):
    """Cross-stage-partial layer: ``final_conv(attention(cat(blocks(main_conv(x)), short_conv(x))))``."""

    def __init__(self, in_ch: int, out_ch: int, *, num_blocks: int, add_identity: bool, expand_ratio: float,
                 channel_attention: bool, use_depthwise: bool = False, **bn: float) -> None:
        super().__init__()
        mid = int(out_ch * expand_ratio)
        self.main_conv = ConvBNAct(in_ch, mid, 1, **bn)
        self.short_conv = ConvBNAct(in_ch, mid, 1, **bn)
        self.final_conv = ConvBNAct(2 * mid, out_ch, 1, **bn)
        self.blocks = nn.Sequential(*(CSPNeXtBlock(mid, add_identity=add_identity, use_depthwise=use_depthwise,
                                                   **bn) for _ in range(num_blocks)))
        self.attention = ChannelAttention(2 * mid) if channel_attention else None

    def forward(self, x: Tensor) -> Tensor:
        short = self.short_conv(x)  # MMDet's order (short branch first): exported graphs list the convs like MMDet's
        out = torch.cat((self.blocks(self.main_conv(x)), short), dim=1)
        if self.attention is not None:
            out = self.attention(out)
        return self.final_conv(out)


class SPPBottleneck(nn.Module):
    """1x1 conv to half width, concat with stride-1 max pools (5, 9, 13), 1x1 conv back."""

    def __init__(self, in_ch: int, out_ch: int, *, kernel_sizes: Sequence[int] = (5, 9, 13), **bn: float) -> None:
        super().__init__()
        mid = in_ch // 2
        self.conv1 = ConvBNAct(in_ch, mid, 1, **bn)
        self.poolings = nn.ModuleList(nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernel_sizes)
        self.conv2 = ConvBNAct(mid * (len(kernel_sizes) + 1), out_ch, 1, **bn)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.poolings], dim=1))


class CSPNeXt(nn.Module):
    """CSPNeXt (P5): stem (stride 2) + 4 stages (stride 2 each), total stride 32.

    Input: ``(B, 3, H, W)`` float32 normalised RGB. Output: tuple of the feature maps named by
    ``out_indices`` (0 = stem, 1..4 = stages; strides 2, 4, 8, 16, 32), in index order. RTMPose uses
    ``out_indices=(4,)``: ``((B, int(1024 * widen_factor), H/32, W/32),)``.
    """

    def __init__(self, *, deepen_factor: float = 1.0, widen_factor: float = 1.0, expand_ratio: float = 0.5,
                 out_indices: Sequence[int] = (4,), channel_attention: bool = True,
                 spp_kernel_sizes: Sequence[int] = (5, 9, 13), bn_eps: float = 1e-5,
                 bn_momentum: float = 0.1) -> None:
        super().__init__()
        indices = tuple(int(i) for i in out_indices)
        if not indices or any(i not in range(len(_P5) + 1) for i in indices):
            raise ValueError(f"out_indices must be a non-empty subset of 0..{len(_P5)}, got {out_indices!r}")
        self.out_indices = indices
        bn = {"bn_eps": bn_eps, "bn_momentum": bn_momentum}
        stem_ch = int(_P5[0][0] * widen_factor)
        self.stem = nn.Sequential(
            ConvBNAct(3, stem_ch // 2, 3, stride=2, **bn),
            ConvBNAct(stem_ch // 2, stem_ch // 2, 3, **bn),
            ConvBNAct(stem_ch // 2, stem_ch, 3, **bn))
        self.out_channels = [stem_ch]
        for i, (in_ch, out_ch, blocks, add_identity, use_spp) in enumerate(_P5):
            in_ch, out_ch = int(in_ch * widen_factor), int(out_ch * widen_factor)
            stage: list[nn.Module] = [ConvBNAct(in_ch, out_ch, 3, stride=2, **bn)]
            if use_spp:
                stage.append(SPPBottleneck(out_ch, out_ch, kernel_sizes=spp_kernel_sizes, **bn))
            stage.append(CSPLayer(out_ch, out_ch, num_blocks=max(round(blocks * deepen_factor), 1),
                                  add_identity=add_identity, expand_ratio=expand_ratio,
                                  channel_attention=channel_attention, **bn))
            self.add_module(f"stage{i + 1}", nn.Sequential(*stage))
            self.out_channels.append(out_ch)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"input must have shape (B, 3, H, W), got {tuple(x.shape)}")
        outs = []
        for i, name in enumerate(("stem", "stage1", "stage2", "stage3", "stage4")):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
            if i >= max(self.out_indices):
                break
        return tuple(outs)


def cspnext(deepen_factor: float = 1.0, widen_factor: float = 1.0, *, expand_ratio: float = 0.5,
            out_indices: Sequence[int] = (4,), channel_attention: bool = True, bn_eps: float = 1e-5,
            bn_momentum: float = 0.1) -> CSPNeXt:
    """Build CSPNeXt-P5; RTMPose-t/s/m/l factors are in :data:`RTMPOSE_CSPNEXT_FACTORS`.

    Args:
        deepen_factor: multiplies the blocks per stage (3, 6, 6, 3), rounded, at least 1.
        widen_factor: multiplies every channel count (stem 64, stages 128, 256, 512, 1024).
        expand_ratio: hidden width of the CSP layers relative to their output.
        out_indices: which feature maps to return (0 = stem ... 4 = stage4, stride 32).
        channel_attention: gate each CSP layer's concatenated features.
        bn_eps, bn_momentum: BatchNorm settings (RTMPose: PyTorch defaults 1e-5 / 0.1).
    """
    return CSPNeXt(deepen_factor=deepen_factor, widen_factor=widen_factor, expand_ratio=expand_ratio,
                   out_indices=out_indices, channel_attention=channel_attention, bn_eps=bn_eps,
                   bn_momentum=bn_momentum)
