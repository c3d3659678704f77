"""Plain Vision Transformer backbone of ViTPose (MMPose 1.x: mmpretrain's ``VisionTransformer``).

The module tree reproduces the official state_dict keys exactly (``pos_embed``,
``patch_embed.projection.*``, ``layers.<i>.{ln1,attn.qkv,attn.proj,ln2,ffn.layers.0.0,ffn.layers.1}.*``,
``ln1.*``), so official ViTPose checkpoints load with ``strict=True`` under the ``backbone.`` prefix.

ViTPose settings (all official 1.x configs): patch 16 with conv padding 2 (256x192 input -> 16x12
tokens), qkv bias, no class token, LayerNorm eps 1e-6, final LayerNorm, no layer scale, exact GELU,
output = the patch tokens as a feature map ``(B, C, H/16, W/16)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ViTArch", "VIT_ARCHS", "VisionTransformer", "resize_pos_embed", "vit"]


@dataclass(frozen=True)
class ViTArch:
    """Width/depth of a ViT: token width, number of encoder layers, heads, FFN hidden width."""

    embed_dims: int
    num_layers: int
    num_heads: int
    feedforward_channels: int


# ViTPose's variants. Note "small" is ViTPose-S (384 wide, 12 layers, 12 heads), which the official
# config writes as a dict; mmpretrain's own 'small' preset (768 wide, 8 layers) is a different model.
VIT_ARCHS: dict[str, ViTArch] = {
    "small": ViTArch(384, 12, 12, 1536),
    "base": ViTArch(768, 12, 12, 3072),
    "large": ViTArch(1024, 24, 16, 4096),
    "huge": ViTArch(1280, 32, 16, 5120),
}


def _pair(value: int | tuple[int, int] | list[int], name: str) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    pair = tuple(int(v) for v in value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a pair (h, w), got {value!r}")
    return pair  # type: ignore[return-value]


def resize_pos_embed(pos_embed: Tensor, src_hw: tuple[int, int], dst_hw: tuple[int, int], *,
                     mode: str = "bicubic") -> Tensor:
    """Resize patch position embeddings to another token grid (mmpretrain's ``resize_pos_embed``).

    Args:
        pos_embed: ``(1, src_h * src_w, C)`` embeddings in row-major token order (no extra tokens).
        src_hw: token grid ``(rows, cols)`` the embeddings were trained for.
        dst_hw: token grid ``(rows, cols)`` wanted.
        mode: ``F.interpolate`` mode (``align_corners=False``), bicubic as in mmpretrain.

    Returns:
        ``(1, dst_h * dst_w, C)`` tensor, same dtype as ``pos_embed`` (interpolated in float32);
        ``pos_embed`` itself when the grids are equal.
    """
    src_h, src_w = src_hw
    if tuple(src_hw) == tuple(dst_hw):
        return pos_embed
    if pos_embed.ndim != 3 or pos_embed.shape[0] != 1 or pos_embed.shape[1] != src_h * src_w:
        raise ValueError(f"pos_embed must have shape (1, {src_h * src_w}, C) for grid {tuple(src_hw)}, "
                         f"got {tuple(pos_embed.shape)}")
    channels = pos_embed.shape[2]
    grid = pos_embed.reshape(1, src_h, src_w, channels).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=tuple(dst_hw), mode=mode, align_corners=False)
    return grid.flatten(2).transpose(1, 2).to(pos_embed.dtype)


class DropPath(nn.Module):
    """Stochastic depth: drops whole residual branches per sample while training (identity in eval)."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"drop_prob must be in [0, 1), got {drop_prob}")
        self.drop_prob = float(drop_prob)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


class PatchEmbed(nn.Module):
    """Non-overlapping patch projection (a strided conv) -> ``(B, N, C)`` tokens and the token grid."""

    def __init__(self, in_channels: int, embed_dims: int, *, patch_size: int, padding: int) -> None:
        super().__init__()
        self.projection = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size, padding=padding)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        x = self.projection(x)
        grid = (x.shape[2], x.shape[3])
        return x.flatten(2).transpose(1, 2), grid


class Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection (keys ``qkv``, ``proj``)."""

    def __init__(self, embed_dims: int, num_heads: int, *, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f"embed_dims ({embed_dims}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(embed_dims, 3 * embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop if self.training else 0.0)
        x = x.transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(x))


class FFN(nn.Module):
    """Linear -> GELU -> Linear, laid out as mmcv's FFN (keys ``layers.0.0``, ``layers.1``)."""

    def __init__(self, embed_dims: int, feedforward_channels: int, *, drop: float = 0.0) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(embed_dims, feedforward_channels), nn.GELU(), nn.Dropout(drop)),
            nn.Linear(feedforward_channels, embed_dims),
            nn.Dropout(drop),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class EncoderLayer(nn.Module):
    """Pre-norm transformer block: ``x + attn(ln1(x))`` then ``x + ffn(ln2(x))``, with drop path."""

    def __init__(self, arch: ViTArch, *, qkv_bias: bool, drop_rate: float, drop_path_rate: float,
                 ln_eps: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(arch.embed_dims, eps=ln_eps)
        self.attn = Attention(arch.embed_dims, arch.num_heads, qkv_bias=qkv_bias, proj_drop=drop_rate)
        self.ln2 = nn.LayerNorm(arch.embed_dims, eps=ln_eps)
        self.ffn = FFN(arch.embed_dims, arch.feedforward_channels, drop=drop_rate)
        self.drop_path = DropPath(drop_path_rate)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.attn(self.ln1(x)))
        return x + self.drop_path(self.ffn(self.ln2(x)))


class VisionTransformer(nn.Module):
    """ViT encoder returning the last layer's patch tokens as a feature map.

    Input: ``(B, 3, H, W)`` float32 normalised RGB crop (ViTPose: H, W = 256, 192).
    Output: a 1-tuple (MMPose's backbone convention) holding ``(B, C, H', W')`` with
    ``H' = (H + 2 * padding - patch) // patch + 1`` (16 x 12 for 256 x 192), ``C = arch.embed_dims``.
    Inputs of another size get position embeddings resized bicubically from the ``img_size`` grid
    (as mmpretrain does at run time).
    """

    def __init__(self, arch: ViTArch, *, img_size: tuple[int, int] = (256, 192), patch_size: int = 16,
                 patch_padding: int = 2, in_channels: int = 3, qkv_bias: bool = True, drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, ln_eps: float = 1e-6, final_norm: bool = True) -> None:
        super().__init__()
        h, w = _pair(img_size, "img_size")
        self.arch = arch
        self.embed_dims = arch.embed_dims
        self.patch_embed = PatchEmbed(in_channels, arch.embed_dims, patch_size=patch_size, padding=patch_padding)
        self.patch_grid = ((h + 2 * patch_padding - patch_size) // patch_size + 1,
                           (w + 2 * patch_padding - patch_size) // patch_size + 1)
        if min(self.patch_grid) < 1:
            raise ValueError(f"img_size {(h, w)} is smaller than one patch of {patch_size} px")
        num_patches = self.patch_grid[0] * self.patch_grid[1]
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches, arch.embed_dims))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        self.drop_after_pos = nn.Dropout(drop_rate)
        n = arch.num_layers
        rates = [drop_path_rate * i / (n - 1) if n > 1 else 0.0 for i in range(n)]  # linear 0 -> rate
        self.layers = nn.ModuleList(
            EncoderLayer(arch, qkv_bias=qkv_bias, drop_rate=drop_rate, drop_path_rate=rate, ln_eps=ln_eps)
            for rate in rates)
        self.ln1 = nn.LayerNorm(arch.embed_dims, eps=ln_eps) if final_norm else nn.Identity()

    def forward(self, x: Tensor) -> tuple[Tensor]:
        if x.ndim != 4 or x.shape[1] != self.patch_embed.projection.in_channels:
            raise ValueError(f"input must have shape (B, {self.patch_embed.projection.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        tokens, grid = self.patch_embed(x)
        tokens = tokens + resize_pos_embed(self.pos_embed, self.patch_grid, grid)
        tokens = self.drop_after_pos(tokens)
        for layer in self.layers:
            tokens = layer(tokens)
        tokens = self.ln1(tokens)
        b = tokens.shape[0]
        return (tokens.transpose(1, 2).reshape(b, self.embed_dims, grid[0], grid[1]),)


def vit(arch: str | ViTArch | dict[str, int] = "base", *, img_size: tuple[int, int] = (256, 192),
        patch_size: int = 16, patch_padding: int = 2, drop_path_rate: float = 0.0,
        qkv_bias: bool = True) -> VisionTransformer:
    """Build the ViTPose backbone.

    Args:
        arch: ``"small" | "base" | "large" | "huge"`` (ViTPose-S/B/L/H), a :class:`ViTArch`, or a dict
            with keys ``embed_dims, num_layers, num_heads, feedforward_channels``.
        img_size: training input ``(height, width)`` in pixels; fixes the position-embedding grid.
        patch_size: patch side in pixels.
        patch_padding: zero padding of the patch conv (2 in every ViTPose config).
        drop_path_rate: stochastic depth of the last layer (linear from 0); only active in training.
        qkv_bias: bias on the qkv projection.
    """
    if isinstance(arch, str):
        if arch.lower() not in VIT_ARCHS:
            raise ValueError(f"unknown ViT arch {arch!r}; choose from {sorted(VIT_ARCHS)} or pass a dict")
        spec = VIT_ARCHS[arch.lower()]
    elif isinstance(arch, ViTArch):
        spec = arch
    elif isinstance(arch, dict):
        needed = {"embed_dims", "num_layers", "num_heads", "feedforward_channels"}
        if set(arch) != needed:
            raise ValueError(f"arch dict must have exactly the keys {sorted(needed)}, got {sorted(arch)}")
        spec = ViTArch(**{k: int(v) for k, v in arch.items()})
    else:
        raise TypeError(f"arch must be a name, a ViTArch or a dict, got {type(arch).__name__}")
    return VisionTransformer(spec, img_size=_pair(img_size, "img_size"), patch_size=patch_size,
                             patch_padding=patch_padding, drop_path_rate=drop_path_rate, qkv_bias=qkv_bias)
