"""RTMPose's SimCC head: large-kernel conv -> flatten -> ScaleNorm + Linear -> GAU -> x / y classifiers.

Reproduces MMPose 1.3.2's ``RTMCCHead`` with its ``RTMCCBlock`` (gated attention unit, self-attention,
no relative position bias, no rotary encoding: the settings of every official RTMPose config).
State_dict keys: ``final_layer.*``, ``mlp.0.g``, ``mlp.1.weight``, ``gau.{gamma,beta,o.weight,
uv.weight,ln.g,res_scale.scale}``, ``cls_x.weight``, ``cls_y.weight``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.models.backbones.vit import DropPath

__all__ = ["ScaleNorm", "Scale", "GatedAttentionUnit", "RTMCCHead"]


class ScaleNorm(nn.Module):
    """``x / max(||x||_2 / sqrt(dim), eps) * g`` over the last axis, one learned scalar ``g``."""

    def __init__(self, dim: int, *, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = dim ** -0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: Tensor) -> Tensor:
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class Scale(nn.Module):
    """Elementwise learned scale over the last axis (key ``scale``)."""

    def __init__(self, dim: int, *, init_value: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(init_value * torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale


class GatedAttentionUnit(nn.Module):
    """GAU over the K keypoint tokens (MMPose's ``RTMCCBlock``, self-attention form).

    ``x -> ScaleNorm -> uv = act(Linear(x))`` split into ``u, v`` (``e`` wide each) and a shared
    ``base`` (``s`` wide); ``q, k = base * gamma + beta``; ``kernel = relu(q k^T / sqrt(s))^2``;
    ``out = Linear(u * kernel v)``; residual ``res_scale * x + out`` when in/out widths match.
    Input and output: ``(B, K, dims)``.
    """

    def __init__(self, in_dims: int, out_dims: int, *, expansion_factor: float = 2, s: int = 128,
                 eps: float = 1e-5, dropout_rate: float = 0.0, drop_path: float = 0.0, act: str = "silu") -> None:
        super().__init__()
        if act.lower() not in ("silu", "relu"):
            raise ValueError(f"act must be 'silu' or 'relu', got {act!r}")
        self.s = s
        self.e = int(in_dims * expansion_factor)
        self.o = nn.Linear(self.e, out_dims, bias=False)
        self.uv = nn.Linear(in_dims, 2 * self.e + s, bias=False)
        self.gamma = nn.Parameter(torch.rand(2, s))
        self.beta = nn.Parameter(torch.rand(2, s))
        self.ln = ScaleNorm(in_dims, eps=eps)
        nn.init.xavier_uniform_(self.uv.weight)
        self.act = nn.SiLU() if act.lower() == "silu" else nn.ReLU()
        self.res_scale = Scale(in_dims) if in_dims == out_dims else None
        self.dropout = nn.Dropout(dropout_rate)
        self.drop_path = DropPath(drop_path)
        self.sqrt_s = math.sqrt(s)

    def _attend(self, x: Tensor) -> Tensor:
        uv = self.act(self.uv(self.ln(x)))
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=2)
        qk = base.unsqueeze(2) * self.gamma + self.beta  # (B, K, 2, s)
        q, k = qk.unbind(dim=2)
        kernel = torch.square(F.relu(torch.bmm(q, k.transpose(1, 2)) / self.sqrt_s))
        return self.o(u * torch.bmm(self.dropout(kernel), v))

    def forward(self, x: Tensor) -> Tensor:
        out = self.drop_path(self._attend(x))
        return self.res_scale(x) + out if self.res_scale is not None else out


class RTMCCHead(nn.Module):
    """SimCC head of RTMPose.

    Input: backbone feature map ``(B, in_channels, h, w)`` (or a tuple/list of maps, the last is used)
    with ``(w, h) == in_featuremap_size`` (RTMPose 256x192: (6, 8)).
    Output: ``(simcc_x, simcc_y)`` raw logits, float, ``(B, K, int(W * ratio))`` and
    ``(B, K, int(H * ratio))`` where ``(W, H) = input_size``; bin ``i`` is input pixel ``i / ratio``.
    """

    def __init__(self, in_channels: int, out_channels: int, input_size: tuple[int, int],
                 in_featuremap_size: tuple[int, int], *, simcc_split_ratio: float = 2.0,
                 final_layer_kernel_size: int = 7, hidden_dims: int = 256, s: int = 128,
                 expansion_factor: float = 2, dropout_rate: float = 0.0, drop_path: float = 0.0,
                 act: str = "silu") -> None:
        super().__init__()
        if len(input_size) != 2 or len(in_featuremap_size) != 2:
            raise ValueError(f"input_size and in_featuremap_size must be (w, h) pairs, "
                             f"got {input_size!r} and {in_featuremap_size!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.in_featuremap_size = (int(in_featuremap_size[0]), int(in_featuremap_size[1]))
        self.simcc_split_ratio = float(simcc_split_ratio)
        flatten_dims = self.in_featuremap_size[0] * self.in_featuremap_size[1]
        self.final_layer = nn.Conv2d(in_channels, out_channels, final_layer_kernel_size,
                                     padding=final_layer_kernel_size // 2)
        self.mlp = nn.Sequential(ScaleNorm(flatten_dims), nn.Linear(flatten_dims, hidden_dims, bias=False))
        self.gau = GatedAttentionUnit(hidden_dims, hidden_dims, expansion_factor=expansion_factor, s=s,
                                      dropout_rate=dropout_rate, drop_path=drop_path, act=act)
        self.cls_x = nn.Linear(hidden_dims, int(self.input_size[0] * self.simcc_split_ratio), bias=False)
        self.cls_y = nn.Linear(hidden_dims, int(self.input_size[1] * self.simcc_split_ratio), bias=False)

    def forward(self, feats: Tensor | tuple[Tensor, ...] | list[Tensor]) -> tuple[Tensor, Tensor]:
        x = feats[-1] if isinstance(feats, (tuple, list)) else feats
        w, h = self.in_featuremap_size
        if x.ndim != 4 or x.shape[1] != self.in_channels or tuple(x.shape[2:]) != (h, w):
            raise ValueError(f"RTMCCHead expects features of shape (B, {self.in_channels}, {h}, {w}), "
                             f"got {tuple(x.shape)}")
        x = self.final_layer(x).flatten(2)  # (B, K, h*w)
        x = self.gau(self.mlp(x))  # (B, K, hidden)
        return self.cls_x(x), self.cls_y(x)
