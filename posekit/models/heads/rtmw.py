"""RTMW's SimCC head (MMPose 1.3.2's ``RTMWHead``, ``mmpose/models/heads/coord_cls_heads/rtmw_head.py``).

Two feature levels from the neck: ``enc_b`` (stride 16, ``in_channels / 2`` channels) and ``enc_t`` (stride 32,
``in_channels`` channels). The coarse level goes through a large-kernel conv-BN-ReLU to K keypoint maps, flattened
and projected (ScaleNorm + Linear) to ``hidden_dims / 2``; it is also pixel-shuffled (x2) to stride 16, convolved
(``conv_dec``) and concatenated with ``enc_b``, which goes the same way (``final_layer2``, ``mlp2``). The two
``hidden_dims / 2`` halves are concatenated per keypoint and refined by a gated attention unit over the K keypoint
tokens, then ``cls_x`` / ``cls_y`` give the SimCC logits.

State-dict keys (identical to MMPose's): ``conv_dec.{conv,bn}``, ``final_layer.{conv,bn}``,
``final_layer2.{conv,bn}``, ``mlp.{0.g,1.weight}``, ``mlp2.{0.g,1.weight}``, ``gau.{gamma,beta,o.weight,
uv.weight,ln.g,res_scale.scale}``, ``cls_x.weight``, ``cls_y.weight``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from posekit.models.backbones.cspnext import ConvBNAct
from posekit.models.heads.rtmcc import GatedAttentionUnit, ScaleNorm

__all__ = ["RTMWHead"]


class RTMWHead(nn.Module):
    """SimCC head of RTMW.

    Input: ``(enc_b, enc_t)``: ``(B, in_channels // 2, 2h, 2w)`` and ``(B, in_channels, h, w)`` with
    ``(w, h) == in_featuremap_size`` (RTMW 256x192: (6, 8); 384x288: (9, 12)).
    Output: ``(simcc_x, simcc_y)`` raw logits ``(B, K, int(W * ratio))``, ``(B, K, int(H * ratio))`` where
    ``(W, H) = input_size``; bin ``i`` is input pixel ``i / ratio``.

    Args:
        in_channels: channels of the coarse level ``enc_t`` (divisible by 4).
        out_channels: number of keypoints K.
        input_size: model input ``(W, H)`` pixels.
        in_featuremap_size: ``(w, h)`` of ``enc_t``.
        simcc_split_ratio: SimCC bins per input pixel.
        final_layer_kernel_size: kernel of the three conv-BN-ReLU layers.
        hidden_dims, s, expansion_factor, act: the GAU (``gau_cfg``); every RTMW config: 256, 128, 2, SiLU.
    """

    def __init__(self, in_channels: int, out_channels: int, input_size: Sequence[int],
                 in_featuremap_size: Sequence[int], *, simcc_split_ratio: float = 2.0, final_layer_kernel_size: int = 1,
                 hidden_dims: int = 256, s: int = 128, expansion_factor: float = 2, dropout_rate: float = 0.0,
                 drop_path: float = 0.0, act: str = "relu") -> None:
        super().__init__()
        if len(input_size) != 2 or len(in_featuremap_size) != 2:
            raise ValueError(f"input_size and in_featuremap_size must be (w, h) pairs, "
                             f"got {input_size!r} and {in_featuremap_size!r}")
        if in_channels % 4:
            raise ValueError(f"in_channels must be divisible by 4 (pixel shuffle x2), got {in_channels}")
        ps, k = 2, final_layer_kernel_size
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.in_featuremap_size = (int(in_featuremap_size[0]), int(in_featuremap_size[1]))
        self.simcc_split_ratio = float(simcc_split_ratio)
        flatten_dims = self.in_featuremap_size[0] * self.in_featuremap_size[1]
        self.ps = nn.PixelShuffle(ps)
        self.conv_dec = ConvBNAct(in_channels // ps**2, in_channels // 4, k, act=nn.ReLU)
        self.final_layer = ConvBNAct(in_channels, out_channels, k, act=nn.ReLU)
        self.final_layer2 = ConvBNAct(in_channels // ps + in_channels // 4, out_channels, k, act=nn.ReLU)
        self.mlp = nn.Sequential(ScaleNorm(flatten_dims), nn.Linear(flatten_dims, hidden_dims // 2, bias=False))
        self.mlp2 = nn.Sequential(ScaleNorm(flatten_dims * ps**2),
                                  nn.Linear(flatten_dims * ps**2, hidden_dims // 2, bias=False))
        self.gau = GatedAttentionUnit(hidden_dims, hidden_dims, expansion_factor=expansion_factor, s=s,
                                      dropout_rate=dropout_rate, drop_path=drop_path, act=act)
        self.cls_x = nn.Linear(hidden_dims, int(self.input_size[0] * self.simcc_split_ratio), bias=False)
        self.cls_y = nn.Linear(hidden_dims, int(self.input_size[1] * self.simcc_split_ratio), bias=False)

    def forward(self, feats: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
        if len(feats) != 2:
            raise ValueError(f"RTMWHead takes 2 feature maps (enc_b at stride 16, enc_t at stride 32), "
                             f"got {len(feats)}")
        enc_b, enc_t = feats
        w, h = self.in_featuremap_size
        c = self.in_channels
        if enc_t.ndim != 4 or enc_t.shape[1] != c or tuple(enc_t.shape[2:]) != (h, w):
            raise ValueError(f"RTMWHead expects enc_t of shape (B, {c}, {h}, {w}), got {tuple(enc_t.shape)}")
        if enc_b.ndim != 4 or enc_b.shape[1] != c // 2 or tuple(enc_b.shape[2:]) != (2 * h, 2 * w):
            raise ValueError(f"RTMWHead expects enc_b of shape (B, {c // 2}, {2 * h}, {2 * w}), "
                             f"got {tuple(enc_b.shape)}")
        feats_t = self.mlp(self.final_layer(enc_t).flatten(2))  # (B, K, hidden / 2)
        enc_b = torch.cat([self.conv_dec(self.ps(enc_t)), enc_b], dim=1)
        feats_b = self.mlp2(self.final_layer2(enc_b).flatten(2))  # (B, K, hidden / 2)
        x = self.gau(torch.cat([feats_t, feats_b], dim=2))  # (B, K, hidden)
        return self.cls_x(x), self.cls_y(x)
