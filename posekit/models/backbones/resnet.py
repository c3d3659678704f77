"""ResNet backbone (SimpleBaseline), laid out exactly as MMPose 1.3.2's ``ResNet`` (style ``'pytorch'``).

Parameter names follow MMPose so official checkpoints load with ``strict=True``: ``conv1``/``bn1`` stem
(7x7 stride-2 conv, BN, ReLU, 3x3 stride-2 max-pool), then ``layer1`` ... ``layer4`` of
:class:`BasicBlock` (depth 18, 34) or :class:`Bottleneck` (depth 50, 101, 152) blocks, each block's
``conv{i}``/``bn{i}`` and ``downsample.0`` (1x1 conv) / ``downsample.1`` (BN) when the shape changes.
The blocks are shared with the HRNet backbone.

Input ``(B, in_channels, H, W)`` float32 (normalised RGB); output a tuple with one ``(B, C, H/32, W/32)``
feature map per ``out_indices`` entry (C = ``base_channels * expansion * 2**stage``; 2048 for ResNet-50).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "make_res_layer", "resnet"]


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + identity)``.

    ``expansion`` = 1: ``out_channels`` is also the width of the inner conv. ``stride`` is applied by
    ``conv1``; ``downsample`` (or None) maps the input to the output shape for the residual.
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        mid = out_channels // self.expansion
        self.conv1 = nn.Conv2d(in_channels, mid, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 convs with a residual (style ``'pytorch'``: the stride sits on the 3x3 conv).

    ``expansion`` = 4: the inner width is ``out_channels // 4``.
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if out_channels % self.expansion:
            raise ValueError(f"Bottleneck out_channels must be a multiple of {self.expansion}, got {out_channels}")
        mid = out_channels // self.expansion
        self.conv1 = nn.Conv2d(in_channels, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def make_res_layer(
    block: type[BasicBlock] | type[Bottleneck],
    num_blocks: int,
    in_channels: int,
    out_channels: int,
    *,
    stride: int = 1,
    dilation: int = 1,
) -> nn.Sequential:
    """``num_blocks`` blocks; the first takes ``in_channels`` and ``stride`` (with a 1x1 conv + BN
    ``downsample`` when ``stride != 1`` or the channel count changes), the rest keep the shape."""
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be >= 1, got {num_blocks}")
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
        )
    layers = [block(in_channels, out_channels, stride=stride, dilation=dilation, downsample=downsample)]
    layers += [block(out_channels, out_channels, dilation=dilation) for _ in range(1, num_blocks)]
    return nn.Sequential(*layers)


ARCH_SETTINGS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, ...]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


class ResNet(nn.Module):
    """MMPose's ``ResNet`` (no deep stem, no avg-down, style ``'pytorch'``).

    Args:
        depth: 18, 34, 50, 101 or 152.
        in_channels: input image channels.
        stem_channels: width of the 7x7 stem conv.
        base_channels: width of ``layer1``'s blocks before expansion; stage ``i`` outputs
            ``base_channels * expansion * 2**i`` channels.
        num_stages: how many of the four residual stages to build (1-4).
        strides, dilations: per stage (length >= ``num_stages``).
        out_indices: which stages' outputs ``forward`` returns (0-based, default the last).

    Forward: ``(B, in_channels, H, W)`` float32 -> tuple of ``(B, C_i, H / (4 * s_i), W / (4 * s_i))``.
    """

    def __init__(
        self,
        depth: int,
        *,
        in_channels: int = 3,
        stem_channels: int = 64,
        base_channels: int = 64,
        num_stages: int = 4,
        strides: Sequence[int] = (1, 2, 2, 2),
        dilations: Sequence[int] = (1, 1, 1, 1),
        out_indices: Sequence[int] = (3,),
    ) -> None:
        super().__init__()
        if depth not in ARCH_SETTINGS:
            raise ValueError(f"depth must be one of {sorted(ARCH_SETTINGS)}, got {depth}")
        if not 1 <= num_stages <= 4:
            raise ValueError(f"num_stages must be in 1..4, got {num_stages}")
        if len(strides) < num_stages or len(dilations) < num_stages:
            raise ValueError(
                f"strides and dilations need >= num_stages={num_stages} entries, "
                f"got {tuple(strides)}, {tuple(dilations)}"
            )
        out_indices = tuple(int(i) for i in out_indices)
        if not out_indices or any(not 0 <= i < num_stages for i in out_indices):
            raise ValueError(f"out_indices must be non-empty and in [0, {num_stages}), got {out_indices}")
        self.depth = depth
        self.out_indices = out_indices
        block, stage_blocks = ARCH_SETTINGS[depth]
        self.conv1 = nn.Conv2d(in_channels, stem_channels, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_ch, out_ch = stem_channels, base_channels * block.expansion
        self.res_layers: list[str] = []
        for i in range(num_stages):
            layer = make_res_layer(
                block, stage_blocks[i], in_ch, out_ch, stride=int(strides[i]), dilation=int(dilations[i])
            )
            name = f"layer{i + 1}"
            self.add_module(name, layer)
            self.res_layers.append(name)
            in_ch, out_ch = out_ch, out_ch * 2
        self.out_channels = tuple(base_channels * block.expansion * 2**i for i in out_indices)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.ndim != 4:
            raise ValueError(f"ResNet input must have shape (B, C, H, W), got {tuple(x.shape)}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


def resnet(depth: int = 50, *, stem_channels: int = 64, base_channels: int = 64, in_channels: int = 3) -> ResNet:
    """ResNet-``depth`` as used by MMPose's SimpleBaseline configs (last stage only).

    Example:
        >>> resnet(50).out_channels
        (2048,)
        >>> resnet(50, stem_channels=16, base_channels=16).out_channels
        (512,)
    """
    return ResNet(depth, in_channels=in_channels, stem_channels=stem_channels, base_channels=base_channels)
