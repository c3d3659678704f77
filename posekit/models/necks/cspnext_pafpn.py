"""MMPose 1.3.2's own ``CSPNeXtPAFPN`` (``mmpose/models/necks/cspnext_pafpn.py``), as RTMW configures it.

It is RTMDet's path-aggregation neck (:class:`posekit.models.rtmdet.CSPNeXtPAFPN`: top-down then bottom-up over
the backbone's levels) **without** the output convolutions (``out_channels=None``) and returning only the levels
named by ``out_indices`` (RTMDet's subclasses this one and adds the output convs). The building blocks (1x1 reduce ConvBNAct, CSP layers without channel attention or identity, stride-2
downsampling convs) are those of :mod:`posekit.models.backbones.cspnext`.

State-dict keys (identical to MMPose's): ``reduce_layers.<i>.{conv,bn}``, ``top_down_blocks.<i>.{main_conv,
short_conv,final_conv,blocks.<j>...}``, ``downsamples.<i>.{conv,bn}``, ``bottom_up_blocks.<i>...``.
RTMW: ``in_channels = (256, 512, 1024) * widen``, ``out_indices=(1, 2)``, ``num_csp_blocks=2``, SiLU, BN eps 1e-5.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.models.backbones.cspnext import CSPLayer, conv_bn_act

__all__ = ["CSPNeXtPAFPN"]


class CSPNeXtPAFPN(nn.Module):
    """Path aggregation over ``len(in_channels)`` levels (strides doubling), no output convs.

    Input: tuple of feature maps ``(B, in_channels[i], H_i, W_i)`` with ``H_i = 2 * H_{i+1}`` (the backbone's
    ``out_indices=(2, 3, 4)`` maps, strides 8, 16, 32). Output: the tuple of levels ``out_indices`` of the
    bottom-up path, level ``i`` with ``in_channels[i]`` channels at the input's resolution of that level.

    Args:
        in_channels: channels per level, finest first.
        out_indices: which levels to return (RTMW: ``(1, 2)``, strides 16 and 32).
        num_csp_blocks: CSPNeXt blocks per CSP layer.
        use_depthwise: depthwise-separable stride-2 convs and block convs (no RTMW config uses it).
        expand_ratio: hidden width of the CSP layers relative to their output.
        bn_eps, bn_momentum: BatchNorm settings (RTMW's ``SyncBN`` defaults: 1e-5, 0.1).
    """

    def __init__(self, in_channels: Sequence[int], *, out_indices: Sequence[int] = (0, 1, 2), num_csp_blocks: int = 3,
                 use_depthwise: bool = False, expand_ratio: float = 0.5, bn_eps: float = 1e-5,
                 bn_momentum: float = 0.1) -> None:
        super().__init__()
        ch = [int(c) for c in in_channels]
        n = len(ch)
        if n < 2:
            raise ValueError(f"in_channels must list at least 2 levels, got {in_channels!r}")
        indices = tuple(int(i) for i in out_indices)
        if not indices or any(i not in range(n) for i in indices):
            raise ValueError(f"out_indices must be a non-empty subset of 0..{n - 1}, got {out_indices!r}")
        self.in_channels = tuple(ch)
        self.out_indices = indices
        bn = {"bn_eps": bn_eps, "bn_momentum": bn_momentum}
        csp = {"num_blocks": int(num_csp_blocks), "add_identity": False, "expand_ratio": expand_ratio,
               "channel_attention": False, "use_depthwise": use_depthwise, **bn}

        self.reduce_layers = nn.ModuleList(conv_bn_act(ch[i], ch[i - 1], 1, depthwise=False, **bn)
                                           for i in range(n - 1, 0, -1))
        self.top_down_blocks = nn.ModuleList(CSPLayer(ch[i - 1] * 2, ch[i - 1], **csp) for i in range(n - 1, 0, -1))
        self.downsamples = nn.ModuleList(conv_bn_act(ch[i], ch[i], 3, stride=2, depthwise=use_depthwise, **bn)
                                         for i in range(n - 1))
        self.bottom_up_blocks = nn.ModuleList(CSPLayer(ch[i] * 2, ch[i + 1], **csp) for i in range(n - 1))

    def forward(self, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
        n = len(self.in_channels)
        if len(inputs) != n:
            raise ValueError(f"CSPNeXtPAFPN takes {n} feature maps, got {len(inputs)}")
        for i, (x, c) in enumerate(zip(inputs, self.in_channels)):
            if x.ndim != 4 or x.shape[1] != c:
                raise ValueError(f"feature map {i} must have shape (B, {c}, H, W), got {tuple(x.shape)}")
        inner = [inputs[-1]]  # top-down: coarsest first, each reduced then upsampled into the next finer level
        for k, idx in enumerate(range(n - 1, 0, -1)):
            high = self.reduce_layers[k](inner[0])
            inner[0] = high
            up = F.interpolate(high, scale_factor=2.0, mode="nearest")
            inner.insert(0, self.top_down_blocks[k](torch.cat([up, inputs[idx - 1]], dim=1)))
        outs = [inner[0]]  # bottom-up
        for idx in range(n - 1):
            down = self.downsamples[idx](outs[-1])
            outs.append(self.bottom_up_blocks[idx](torch.cat([down, inner[idx + 1]], dim=1)))
        return tuple(outs[i] for i in self.out_indices)
