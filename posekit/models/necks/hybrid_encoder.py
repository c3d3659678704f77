"""RT-DETR's hybrid encoder neck and mmdet's ChannelMapper, as MMPose 1.3.2 builds them for RTMO.

:class:`HybridEncoder` (MMPose ``HybridEncoder``): 1x1 ``input_proj`` of every backbone level to ``hidden_dim``
channels, a post-norm transformer encoder layer (multi-head self-attention with a 2-D sine position encoding,
then a GELU FFN) over the cells of the coarsest level, a top-down FPN (``lateral_convs``, ``fpn_blocks``) and a
bottom-up PAN (``downsample_convs``, ``pan_blocks``) of :class:`CSPRepLayer` blocks, the levels of
``output_indices`` kept and mapped by an optional ``projector`` (:class:`ChannelMapper`).

Module and parameter names are MMPose's (``input_proj.0.conv.weight``, ``encoder.0.layers.0.self_attn.attn.
in_proj_weight``, ``fpn_blocks.0.bottlenecks.0.branch_3x3.bn.running_var``, ``projector.convs.1.bn.weight``,
the buffer ``sincos_pos_enc.dim_t``). Every BatchNorm of this neck has PyTorch's defaults (eps 1e-5, momentum
0.1): the RTMO configs give the neck no ``norm_cfg``. Activations: SiLU (the neck's default ``act_cfg``).

Frames: feature maps ``(B, C, h, w)``; cells are flattened row-major (``y * w + x``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.models.backbones.cspnext import ConvBNAct
from posekit.models.backbones.vit import FFN

__all__ = [
    "CSPRepLayer",
    "ChannelMapper",
    "DetrEncoderLayer",
    "HybridEncoder",
    "RepVGGBlock",
    "SinePositionalEncoding",
    "conv_bn",
]


def conv_bn(cin: int, cout: int, kernel_size: int, *, stride: int = 1, groups: int = 1, act: bool = True,
            bn_eps: float = 1e-5, bn_momentum: float = 0.1) -> ConvBNAct:
    """mmcv's ``ConvModule`` with BN: conv (no bias, 'same' padding) -> BatchNorm2d -> SiLU (``act=False``: no
    activation); keys ``conv.weight``, ``bn.*``."""
    m = ConvBNAct(cin, cout, kernel_size, stride=stride, groups=groups, bn_eps=bn_eps, bn_momentum=bn_momentum)
    if not act:
        del m.activate
    return m


class SinePositionalEncoding(nn.Module):
    """MMPose's non-learnable ``SinePositionalEncoding``: frequencies ``dim_t = temperature ** (i / (C / 2))``,
    ``i < C / 2`` (buffer ``dim_t``), encoding ``[cos(p / dim_t), sin(p / dim_t)]`` (``C`` values).

    :meth:`encode` ``position`` (..., ) -> (..., C) (1-D, e.g. DCC bin positions in pixels);
    :meth:`grid` ``(h, w)`` -> (h * w, 2 * C): per cell (row-major) the encoding of its row index then of its
    column index (HybridEncoder's 2-D encoding after its transpose/reshape).
    """

    def __init__(self, out_channels: int, *, temperature: float) -> None:
        super().__init__()
        if out_channels % 2:
            raise ValueError(f"out_channels must be even, got {out_channels}")
        pos_dim = out_channels // 2
        self.register_buffer("dim_t", temperature ** (torch.arange(pos_dim, dtype=torch.float32) / pos_dim))

    def encode(self, position: Tensor) -> Tensor:
        freq = position.unsqueeze(-1) / self.dim_t
        return torch.cat((freq.cos(), freq.sin()), dim=-1)

    def grid(self, h: int, w: int) -> Tensor:
        ys = torch.arange(h, dtype=torch.float32, device=self.dim_t.device)
        xs = torch.arange(w, dtype=torch.float32, device=self.dim_t.device)
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
        return torch.cat((self.encode(grid_y.flatten()), self.encode(grid_x.flatten())), dim=-1)


class RepVGGBlock(nn.Module):
    """``act(bn(conv3x3(x)) + bn(conv1x1(x)))`` (no identity branch); keys ``branch_3x3.*``, ``branch_1x1.*``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.branch_3x3 = conv_bn(channels, channels, 3, act=False)
        self.branch_1x1 = conv_bn(channels, channels, 1, act=False)
        self.act = nn.SiLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.branch_3x3(x) + self.branch_1x1(x))


class CSPRepLayer(nn.Module):
    """``conv3(bottlenecks(conv1(x)) + conv2(x))``: two 1x1 branches of ``int(out * widen_factor)`` channels, the
    first through ``num_blocks`` RepVGG blocks, summed; ``conv3`` (1x1) only when that width differs from ``out``
    (else identity, no keys)."""

    def __init__(self, cin: int, cout: int, num_blocks: int, *, widen_factor: float = 1.0) -> None:
        super().__init__()
        hidden = int(cout * widen_factor)
        self.conv1 = conv_bn(cin, hidden, 1)
        self.conv2 = conv_bn(cin, hidden, 1)
        self.bottlenecks = nn.Sequential(*(RepVGGBlock(hidden) for _ in range(num_blocks)))
        self.conv3 = conv_bn(hidden, cout, 1) if hidden != cout else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.conv3(self.bottlenecks(self.conv1(x)) + self.conv2(x))


class _SelfAttention(nn.Module):
    """mmcv ``MultiheadAttention`` as DETR's encoder uses it: ``x + attn(x + pos, x + pos, x)``; key ``attn``."""

    def __init__(self, embed_dims: int, num_heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(embed_dims, num_heads, batch_first=True)

    def forward(self, x: Tensor, pos: Tensor) -> Tensor:
        q = x + pos
        return x + self.attn(q, q, x, need_weights=False)[0]


class DetrEncoderLayer(nn.Module):
    """Post-norm DETR encoder layer: ``x = LN(x + MHA(x + pos, x + pos, x))``, ``x = LN(x + FFN(x))``.
    Input / output ``(B, L, embed_dims)``; ``pos`` broadcastable to it."""

    def __init__(self, embed_dims: int = 256, num_heads: int = 8, feedforward_channels: int = 1024) -> None:
        super().__init__()
        self.self_attn = _SelfAttention(embed_dims, num_heads)
        self.ffn = FFN(embed_dims, feedforward_channels)
        self.norms = nn.ModuleList(nn.LayerNorm(embed_dims) for _ in range(2))

    def forward(self, x: Tensor, pos: Tensor) -> Tensor:
        x = self.norms[0](self.self_attn(x, pos))
        return self.norms[1](x + self.ffn(x))


class _Encoder(nn.Module):
    """``layers``: a stack of :class:`DetrEncoderLayer` (MMPose's ``DetrTransformerEncoder``)."""

    def __init__(self, num_layers: int, **layer: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(DetrEncoderLayer(**layer) for _ in range(num_layers))

    def forward(self, x: Tensor, pos: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x, pos)
        return x


class ChannelMapper(nn.Module):
    """mmdet's ``ChannelMapper`` without extra levels: one ``kernel_size`` conv + BN (no activation) per level
    (``convs.<i>.conv``, ``convs.<i>.bn``), ``(B, in_channels[i], h, w)`` -> ``(B, out_channels, h, w)``."""

    def __init__(self, in_channels: Sequence[int], out_channels: int, *, kernel_size: int = 1) -> None:
        super().__init__()
        self.convs = nn.ModuleList(conv_bn(c, out_channels, kernel_size, act=False) for c in in_channels)

    def forward(self, feats: Sequence[Tensor]) -> tuple[Tensor, ...]:
        if len(feats) != len(self.convs):
            raise ValueError(f"ChannelMapper takes {len(self.convs)} feature maps, got {len(feats)}")
        return tuple(conv(f) for conv, f in zip(self.convs, feats))


class HybridEncoder(nn.Module):
    """RT-DETR hybrid encoder (see the module docstring).

    Args:
        in_channels: channels of the backbone levels (strides 8, 16, 32).
        hidden_dim: channels inside the neck.
        deepen_factor, widen_factor: RepVGG blocks per CSP layer ``round(3 * deepen_factor)``, CSP hidden width
            ``int(hidden_dim * widen_factor)``.
        use_encoder_idx: levels refined by the transformer encoder (RTMO: the coarsest, 2).
        num_encoder_layers, num_heads, feedforward_channels: the encoder's size.
        pe_temperature: temperature of the 2-D sine position encoding.
        output_indices: levels returned (``None``: all, finest first).
        projector_channels: ``out_channels`` of a :class:`ChannelMapper` ``projector`` on the returned levels
            (``None``: no projector).

    Forward: the backbone levels ``(B, in_channels[i], H / s_i, W / s_i)`` -> a tuple of the kept levels,
    ``(B, projector_channels or hidden_dim, H / s, W / s)``, finest first.
    """

    def __init__(self, in_channels: Sequence[int], *, hidden_dim: int = 256, deepen_factor: float = 1.0,
                 widen_factor: float = 1.0, use_encoder_idx: Sequence[int] = (2,), num_encoder_layers: int = 1,
                 num_heads: int = 8, feedforward_channels: int = 1024, pe_temperature: float = 10000.0,
                 output_indices: Sequence[int] | None = None, projector_channels: int | None = None) -> None:
        super().__init__()
        self.in_channels = tuple(int(c) for c in in_channels)
        self.hidden_dim = int(hidden_dim)
        self.use_encoder_idx = tuple(int(i) for i in use_encoder_idx)
        self.output_indices = None if output_indices is None else tuple(int(i) for i in output_indices)
        n = len(self.in_channels)
        blocks = round(3 * deepen_factor)
        self.input_proj = nn.ModuleList(conv_bn(c, hidden_dim, 1, act=False) for c in self.in_channels)
        self.encoder = nn.ModuleList(
            _Encoder(num_encoder_layers, embed_dims=hidden_dim, num_heads=num_heads,
                     feedforward_channels=feedforward_channels) for _ in self.use_encoder_idx)
        self.sincos_pos_enc = SinePositionalEncoding(hidden_dim // 2, temperature=pe_temperature)
        self.lateral_convs = nn.ModuleList(conv_bn(hidden_dim, hidden_dim, 1) for _ in range(n - 1))
        self.fpn_blocks = nn.ModuleList(CSPRepLayer(hidden_dim * 2, hidden_dim, blocks, widen_factor=widen_factor)
                                        for _ in range(n - 1))
        self.downsample_convs = nn.ModuleList(conv_bn(hidden_dim, hidden_dim, 3, stride=2) for _ in range(n - 1))
        self.pan_blocks = nn.ModuleList(CSPRepLayer(hidden_dim * 2, hidden_dim, blocks, widen_factor=widen_factor)
                                        for _ in range(n - 1))
        kept = n if self.output_indices is None else len(self.output_indices)
        self.projector = (None if projector_channels is None
                          else ChannelMapper([hidden_dim] * kept, int(projector_channels)))

    def forward(self, feats: Sequence[Tensor]) -> tuple[Tensor, ...]:
        n = len(self.in_channels)
        if len(feats) != n:
            raise ValueError(f"HybridEncoder takes {n} feature maps, got {len(feats)}")
        proj = [p(f) for p, f in zip(self.input_proj, feats)]
        for i, level in enumerate(self.use_encoder_idx):
            b, c, h, w = proj[level].shape
            tokens = proj[level].flatten(2).transpose(1, 2)  # (B, h*w, C)
            pos = self.sincos_pos_enc.grid(h, w).unsqueeze(0)  # (1, h*w, C)
            proj[level] = self.encoder[i](tokens, pos).transpose(1, 2).reshape(b, c, h, w)
        inner = [proj[-1]]
        for idx in range(n - 1, 0, -1):  # top-down
            k = n - 1 - idx
            high = self.lateral_convs[k](inner[0])
            inner[0] = high
            up = F.interpolate(high, scale_factor=2.0, mode="nearest")
            inner.insert(0, self.fpn_blocks[k](torch.cat([up, proj[idx - 1]], dim=1)))
        outs = [inner[0]]
        for idx in range(n - 1):  # bottom-up
            down = self.downsample_convs[idx](outs[-1])
            outs.append(self.pan_blocks[idx](torch.cat([down, inner[idx + 1]], dim=1)))
        if self.output_indices is not None:
            outs = [outs[i] for i in self.output_indices]
        return tuple(self.projector(outs)) if self.projector is not None else tuple(outs)
