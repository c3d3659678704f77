"""Top-down heatmap head (SimpleBaseline), laid out exactly as MMPose 1.3.2's ``HeatmapHead``.

``deconv_layers`` (per entry: ConvTranspose2d stride 2 without bias, BN, ReLU -> indices ``3i``, ``3i+1``),
optional ``conv_layers`` (Conv2d with bias, BN, ReLU, 'same' padding), then ``final_layer`` (Conv2d with
bias to ``out_channels``). Missing parts are ``nn.Identity`` and hold no weights, as in MMPose.

Input: the backbone's feature tuple (the last map is used) or one ``(B, C, h, w)`` tensor.
Output: ``(B, out_channels, h * 2**len(deconv_out_channels), w * ...)`` float32 heatmaps
(ResNet/HRNet at 256x192: ``(B, 17, 64, 48)``).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["HeatmapHead", "last_feature"]

# ConvTranspose2d (padding, output_padding) per kernel size so that stride 2 exactly doubles the size.
_DECONV_PADDING = {4: (1, 0), 3: (1, 1), 2: (0, 0)}


def last_feature(feats: Tensor | Sequence[Tensor]) -> Tensor:
    """The last ``(B, C, h, w)`` map of a backbone/neck output (tuple or list), or the tensor itself."""
    x = feats if isinstance(feats, Tensor) else (feats[-1] if len(feats) else None)
    if not isinstance(x, Tensor) or x.ndim != 4:
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"head input must be a (B, C, h, w) tensor or a non-empty sequence of them, got {got}")
    return x


class HeatmapHead(nn.Module):
    """Deconvolutions + convolutions + final conv to ``out_channels`` heatmaps.

    Args:
        in_channels: channels of the input feature map.
        out_channels: number of keypoints K.
        deconv_out_channels: width of each stride-2 deconvolution; empty/None = no upsampling
            (HRNet, ViTPose-simple).
        deconv_kernel_sizes: kernel of each deconvolution (4, 3 or 2), same length.
        conv_out_channels: width of each intermediate conv (None = none).
        conv_kernel_sizes: kernel of each intermediate conv (odd), same length.
        final_kernel_size: kernel of the final conv ('same' padding ``(k - 1) // 2``; 1 for
            SimpleBaseline/HRNet, 3 for ViTPose-simple); None = no final conv.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        deconv_out_channels: Sequence[int] | None = (256, 256, 256),
        deconv_kernel_sizes: Sequence[int] | None = (4, 4, 4),
        conv_out_channels: Sequence[int] | None = None,
        conv_kernel_sizes: Sequence[int] | None = None,
        final_kernel_size: int | None = 1,
    ) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        ch = self.in_channels
        if deconv_out_channels:
            kernels = tuple(deconv_kernel_sizes or ())
            if len(kernels) != len(deconv_out_channels):
                raise ValueError(
                    "deconv_out_channels and deconv_kernel_sizes must have the same length, "
                    f"got {tuple(deconv_out_channels)} and {kernels}"
                )
            layers: list[nn.Module] = []
            for cout, k in zip(deconv_out_channels, kernels):
                if k not in _DECONV_PADDING:
                    raise ValueError(f"deconv kernel sizes must be 2, 3 or 4, got {k}")
                pad, out_pad = _DECONV_PADDING[k]
                layers += [
                    nn.ConvTranspose2d(ch, cout, k, stride=2, padding=pad, output_padding=out_pad, bias=False),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True),
                ]
                ch = int(cout)
            self.deconv_layers: nn.Module = nn.Sequential(*layers)
        else:
            self.deconv_layers = nn.Identity()
        if conv_out_channels:
            kernels = tuple(conv_kernel_sizes or ())
            if len(kernels) != len(conv_out_channels):
                raise ValueError(
                    "conv_out_channels and conv_kernel_sizes must have the same length, "
                    f"got {tuple(conv_out_channels)} and {kernels}"
                )
            layers = []
            for cout, k in zip(conv_out_channels, kernels):
                layers += [nn.Conv2d(ch, cout, k, padding=(k - 1) // 2), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
                ch = int(cout)
            self.conv_layers: nn.Module = nn.Sequential(*layers)
        else:
            self.conv_layers = nn.Identity()
        if final_kernel_size is None:
            self.final_layer: nn.Module = nn.Identity()
        else:
            k = int(final_kernel_size)
            self.final_layer = nn.Conv2d(ch, self.out_channels, k, padding=(k - 1) // 2)

    def forward(self, feats: Tensor | Sequence[Tensor]) -> Tensor:
        x = last_feature(feats)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"HeatmapHead expects {self.in_channels} input channels, got shape {tuple(x.shape)}")
        return self.final_layer(self.conv_layers(self.deconv_layers(x)))
