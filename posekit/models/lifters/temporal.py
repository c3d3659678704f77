"""VideoPose3D (Pavllo et al. 2019): dilated temporal convolutions over a window of 2D poses -> one 3D pose.

The network is MMPose 1.3.2's ``PoseLifter`` with a ``TCN`` backbone and a ``TemporalRegressionHead``; module
names equal MMPose's, so official checkpoints load strictly (``backbone.*``, ``head.*`` and, for the
semi-supervised configs, ``traj_backbone.*``, ``traj_head.*``).

Architecture (kernel sizes ``k_0, ..., k_B``; receptive field ``prod(k_i)``):

* ``expand_conv``: Conv1d(2K -> C, kernel k_0, no bias) + BN + ReLU, then dropout;
* ``B`` residual blocks; block ``i`` (1-based): ``conv1`` = Conv1d(C -> C, kernel k_i, dilation
  ``d_i = k_0 * ... * k_{i-1}``) + BN + ReLU + dropout, ``conv2`` = Conv1d(C -> C, 1) + BN + ReLU + dropout, plus
  the input cropped to the output frames (the centre frame of each window, or its last frame when causal);
* ``head.conv``: Conv1d(C -> 3J, 1, bias); output channel ``3j + c`` = coordinate c (x, y, z) of joint j.

Two equivalent evaluation forms share the same weights:

* **strided** (``use_stride_conv=True``, MMPose's training/test layout, all official configs): every conv uses
  ``stride = kernel`` and no dilation, so a window of exactly ``receptive_field`` frames is reduced to one
  output without computing unused intermediate frames (:meth:`VideoPose3D.forward`);
* **dilated** (the original VideoPose3D ``TemporalModel``): stride 1 and dilations ``d_i``; a sequence of T
  frames gives ``T - receptive_field + 1`` outputs at once, sharing every intermediate result between
  neighbouring windows (:meth:`VideoPose3D.forward_sequence`; per output frame 4 C^2 multiply-adds per block,
  about 10x fewer than the strided form run on every window for 243 frames). Use this for whole sequences.

Input: ``(B, 2K, T)`` float32, channel ``2k + c`` = coordinate c (0 = x, 1 = y) of joint k of the normalised
2D pose (MMPose's ``reshape_keypoints`` layout; see :mod:`posekit.models.lifters.normalize`). Output:
root-relative 3D joints ``(B, J, 3)`` in the units of the training targets: **metres** for MMPose's Human3.6M
checkpoints (MMPose's h36m annotations are in metres; the VideoPoseLifting codec zero-centres them on the
pelvis and its ``decode`` returns the network output unchanged), camera frame (x right, y down, z forward).

Causal models (``causal=True``) align every window with its **last** frame (output t depends on input frames
``t - receptive_field + 1 .. t``), for real-time use; non-causal ones with the centre frame.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from posekit.models.lifters.convert import load_lifter_weights
from posekit.models.lifters.winograd import conv1d_nlc, winograd_conv1d, winograd_conv1d_nlc, winograd_pays_off

__all__ = [
    "KERNEL_SIZES", "ConvBN", "TemporalBlock", "TCN", "TemporalRegressionHead", "VideoPose3D", "videopose3d",
]

# Kernel sizes of the official MMPose VideoPose3D configs by receptive field (1 frame: 4 blocks of 1x1 convs).
KERNEL_SIZES: Mapping[int, tuple[int, ...]] = MappingProxyType({
    1: (1, 1, 1, 1, 1),
    27: (3, 3, 3),
    81: (3, 3, 3, 3),
    243: (3, 3, 3, 3, 3),
})


class ConvBN(nn.Module):
    """Conv1d (no bias) + BatchNorm1d + ReLU: MMPose's ``ConvModule`` (keys ``conv.weight``, ``bn.*``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, stride: int = 1,
                 dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm1d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))

    def forward_with(self, x: torch.Tensor, *, stride: int, dilation: int) -> torch.Tensor:
        """The same layer with another stride/dilation (same weights and BN)."""
        return F.relu(self.bn(F.conv1d(x, self.conv.weight, stride=stride, dilation=dilation)))

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(weight, bias)`` of the conv with the eval-mode BN folded in (new tensors)."""
        bn = self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        return self.conv.weight * scale[:, None, None], bn.bias - bn.running_mean * scale


class TemporalBlock(nn.Module):
    """One residual block (MMPose ``BasicTemporalBlock``): ``conv1`` (kernel k, dilation d) and ``conv2`` (1x1).

    Attributes:
        kernel_size, dilation: of ``conv1`` in the dilated form (the strided form uses stride = kernel).
        causal: residual taken from the last frame of each window instead of the centre.
    """

    def __init__(self, channels: int, *, kernel_size: int, dilation: int, dropout: float, causal: bool,
                 use_stride_conv: bool) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.causal = causal
        self.use_stride_conv = use_stride_conv
        stride, conv_dilation = (kernel_size, 1) if use_stride_conv else (1, dilation)
        self.conv1 = nn.Sequential(ConvBN(channels, channels, kernel_size, stride=stride, dilation=conv_dilation))
        self.conv2 = nn.Sequential(ConvBN(channels, channels, 1))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def _body(self, x: torch.Tensor, *, strided: bool) -> torch.Tensor:
        if strided:
            out = self.conv1[0].forward_with(x, stride=self.kernel_size, dilation=1)
        else:
            out = self.conv1[0].forward_with(x, stride=1, dilation=self.dilation)
        return self.dropout(self.conv2[0](self.dropout(out)))

    def forward_strided(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, L) -> (B, C, L // k): each group of k consecutive frames -> one frame."""
        k = self.kernel_size
        first = k - 1 if self.causal else k // 2
        out = self._body(x, strided=True)
        return out + x[:, :, first::k][:, :, : out.shape[-1]]

    @property
    def residual_offset(self) -> int:
        """Dilated form: input frame of window 0 that the residual adds (its centre, or its end when causal)."""
        span = (self.kernel_size - 1) * self.dilation
        return span if self.causal else span // 2

    def forward_dilated(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, L) -> (B, C, L - (k - 1) d)."""
        first = self.residual_offset
        out = self._body(x, strided=False)
        return out + x[:, :, first : first + out.shape[-1]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_strided(x) if self.use_stride_conv else self.forward_dilated(x)


class TCN(nn.Module):
    """MMPose's ``TCN`` backbone: ``expand_conv`` + ``tcn_blocks`` (see the module docstring).

    Args:
        in_channels: 2K (2D coordinates of K joints).
        stem_channels: C, the width (1024 in every official config).
        kernel_sizes: odd kernel sizes ``(k_0, ..., k_B)``; ``B = len(kernel_sizes) - 1`` blocks.
        dropout: dropout probability after every ReLU (training only).
        causal: align windows with their last frame.
        use_stride_conv: :meth:`forward` uses the strided form (else the dilated one).
    """

    def __init__(self, in_channels: int, *, stem_channels: int = 1024, kernel_sizes: Sequence[int] = (3, 3, 3),
                 dropout: float = 0.25, causal: bool = False, use_stride_conv: bool = True) -> None:
        super().__init__()
        kernel_sizes = tuple(int(k) for k in kernel_sizes)
        if len(kernel_sizes) < 2 or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"kernel_sizes must hold at least 2 odd positive sizes, got {kernel_sizes}")
        self.kernel_sizes = kernel_sizes
        self.causal = causal
        self.use_stride_conv = use_stride_conv
        k0 = kernel_sizes[0]
        self.expand_conv = ConvBN(in_channels, stem_channels, k0, stride=k0 if use_stride_conv else 1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        blocks, dilation = [], k0
        for k in kernel_sizes[1:]:
            blocks.append(TemporalBlock(stem_channels, kernel_size=k, dilation=dilation, dropout=dropout,
                                        causal=causal, use_stride_conv=use_stride_conv))
            dilation *= k
        self.tcn_blocks = nn.ModuleList(blocks)

    @property
    def receptive_field(self) -> int:
        """Number of input frames that make one output frame (the product of the kernel sizes)."""
        return math.prod(self.kernel_sizes)

    def forward_strided(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2K, L) -> (B, C, L // receptive_field)."""
        k0 = self.kernel_sizes[0]
        x = self.dropout(self.expand_conv.forward_with(x, stride=k0, dilation=1))
        for block in self.tcn_blocks:
            x = block.forward_strided(x)
        return x

    def forward_dilated(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2K, L) -> (B, C, L - receptive_field + 1)."""
        x = self.dropout(self.expand_conv.forward_with(x, stride=1, dilation=1))
        for block in self.tcn_blocks:
            x = block.forward_dilated(x)
        return x

    @torch.no_grad()
    def forward_dilated_fused(self, x: torch.Tensor, *, channels_last: bool | None = None,
                              winograd: bool | None = None) -> torch.Tensor:
        """Inference-only :meth:`forward_dilated` with BN folded into the convs (no dropout, no autograd).

        (B, 2K, T) -> (B, C, T - receptive_field + 1), dtype of ``x`` (float32 or bfloat16); equals
        :meth:`forward_dilated` in eval mode to rounding.

        By default (``None``: automatic), wide networks on long inputs on CPU (C >= 256 and at least 1024
        output frames, e.g. VideoPose3D-243 on a long sequence) keep their activations channels-last,
        (B, T, C): 1x1 convs are single GEMMs and the 3-tap dilated convs use Winograd F(2, 3)
        (:func:`~posekit.models.lifters.winograd.winograd_conv1d_nlc`: 4 GEMMs per 2 output frames instead of
        6, a quarter fewer multiply-adds in VideoPose3D's backbone; 1.27x faster on 2 CPU threads). The result
        is then a (B, C, L) transposed view of a channels-last tensor. Other inputs use ``F.conv1d``.

        Float32 agrees with the ``F.conv1d`` path to ~1e-6 relative. bfloat16 uses Winograd as well: its rounded
        transforms make one layer's error ~1.5x that of a direct bfloat16 convolution, but through the network
        that is lost in bfloat16's own rounding (VideoPose3D-243, 1024 channels, random weights, 10,000 frames,
        outputs up to 583 mm; vs the float32 output: mean |diff| 0.47 mm with Winograd, 0.46 mm direct; max
        2.96 vs 2.97 mm), for ~1.13x speed (``benchmarks/bench_lift.py``).

        Args:
            x: (B, 2K, T) float input (channel ``2k + c``).
            channels_last: force the channels-last path (True) or the ``F.conv1d`` path (False).
            winograd: force Winograd F(2, 3) for every 3-tap conv (True; in the ``F.conv1d`` path via
                :func:`~posekit.models.lifters.winograd.winograd_conv1d`) or direct convolutions (False);
                ``None``: per layer where it pays off (:func:`~posekit.models.lifters.winograd.winograd_pays_off`),
                channels-last path only. For benchmarks and tests; results agree to rounding.
        """
        if channels_last is None:  # measured on CPUs; GPUs keep F.conv1d (cuDNN)
            out_frames = x.shape[-1] - self.receptive_field + 1
            wide = self.expand_conv.conv.out_channels >= 256
            channels_last = x.device.type == "cpu" and wide and out_frames >= 1024
        if channels_last:
            return self._forward_dilated_fused_nlc(x, winograd=winograd)
        dtype = x.dtype
        w, b = self.expand_conv.folded()
        x = F.relu_(F.conv1d(x, w.to(dtype), b.to(dtype)))
        for block in self.tcn_blocks:
            w1, b1 = (t.to(dtype) for t in block.conv1[0].folded())
            w2, b2 = (t.to(dtype) for t in block.conv2[0].folded())
            first = block.residual_offset
            if winograd and block.kernel_size == 3:
                out = winograd_conv1d(x, w1, b1, dilation=block.dilation, relu=True)
            else:
                out = F.relu_(F.conv1d(x, w1, b1, dilation=block.dilation))
            out = F.relu_(F.conv1d(out, w2, b2))
            x = out.add_(x[:, :, first : first + out.shape[-1]])
        return x

    def _forward_dilated_fused_nlc(self, x: torch.Tensor, *, winograd: bool | None) -> torch.Tensor:
        """:meth:`forward_dilated_fused` in the channels-last layout; returns a (B, C, L) transposed view."""
        dtype = x.dtype
        w, b = self.expand_conv.folded()
        batch, channels = x.shape[0], w.shape[0]
        frames = x.shape[2] - w.shape[2] + 1
        # Three activation buffers, reused by every block (fresh 40 MB allocations cost ~10 ms of page faults):
        # the block input h, the dilated conv's output, the 1x1 conv's output (the next h).
        buffers = [torch.empty(batch * frames * channels, dtype=dtype, device=x.device) for _ in range(3)]

        def buffer(i: int, length: int) -> torch.Tensor:
            return buffers[i][: batch * length * channels].view(batch, length, channels)

        h = conv1d_nlc(x.transpose(1, 2).contiguous(), w.to(dtype), b.to(dtype), relu=True,
                       out=buffer(0, frames))  # (B, T', C)
        current = 0
        for block in self.tcn_blocks:
            w1, b1 = (t.to(dtype) for t in block.conv1[0].folded())
            w2, b2 = (t.to(dtype) for t in block.conv2[0].folded())
            first, d = block.residual_offset, block.dilation
            length = h.shape[1] - (block.kernel_size - 1) * d
            use = winograd_pays_off(h.shape[2], w1.shape[0], h.shape[1], dilation=d) if winograd is None else winograd
            if use and block.kernel_size == 3:
                out = winograd_conv1d_nlc(h, w1, b1, dilation=d, relu=True, out=buffer(1, length))
            else:
                out = conv1d_nlc(h, w1, b1, dilation=d, relu=True, out=buffer(1, length))
            nxt = 2 - current  # buffers 0 and 2 alternate as h
            out = conv1d_nlc(out, w2, b2, relu=True, out=buffer(nxt, length))
            h = out.add_(h[:, first : first + length])
            current = nxt
        return h.transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_strided(x) if self.use_stride_conv else self.forward_dilated(x)


class TemporalRegressionHead(nn.Module):
    """MMPose's ``TemporalRegressionHead`` / ``TrajectoryRegressionHead``: Conv1d(C -> 3J, 1) with bias."""

    def __init__(self, in_channels: int, *, num_joints: int) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.conv = nn.Conv1d(in_channels, num_joints * 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, L) -> (B, L, J, 3)."""
        y = self.conv(x)
        return y.transpose(1, 2).reshape(y.shape[0], y.shape[2], self.num_joints, 3)


def _check_input(x: torch.Tensor, channels: int, min_frames: int) -> None:
    if x.ndim != 3 or x.shape[1] != channels or x.shape[2] < min_frames:
        raise ValueError(
            f"x must have shape (B, {channels}, T) with T >= {min_frames} (channel 2k + c = coordinate c of "
            f"joint k), got {tuple(x.shape)}"
        )


class VideoPose3D(nn.Module):
    """VideoPose3D lifter: ``backbone`` (:class:`TCN`) + ``head`` (:class:`TemporalRegressionHead`).

    Args:
        num_keypoints: K input joints (17 for h36m17).
        num_joints: J output joints (17; MMPose's VideoPoseLifting keeps the root).
        channels: backbone width C.
        kernel_sizes: see :class:`TCN`; :data:`KERNEL_SIZES` maps receptive fields to the official ones.
        dropout, causal, use_stride_conv: see :class:`TCN`.
        with_trajectory: add ``traj_backbone`` + ``traj_head`` (one joint: the root's camera-frame position),
            as in MMPose's semi-supervised configs; :meth:`forward_trajectory` runs them.

    Attributes:
        output_unit: ``"m"``, the unit of the official MMPose checkpoints' outputs.
        root_index: 0, the pelvis of h36m17.
    """

    output_unit = "m"
    root_index = 0

    def __init__(self, *, num_keypoints: int = 17, num_joints: int = 17, channels: int = 1024,
                 kernel_sizes: Sequence[int] = (3, 3, 3, 3, 3), dropout: float = 0.25, causal: bool = False,
                 use_stride_conv: bool = True, with_trajectory: bool = False) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints
        self.num_joints = num_joints
        tcn = dict(stem_channels=channels, kernel_sizes=kernel_sizes, dropout=dropout, causal=causal,
                   use_stride_conv=use_stride_conv)
        self.backbone = TCN(2 * num_keypoints, **tcn)
        self.head = TemporalRegressionHead(channels, num_joints=num_joints)
        self.with_trajectory = with_trajectory
        if with_trajectory:
            self.traj_backbone = TCN(2 * num_keypoints, **tcn)
            self.traj_head = TemporalRegressionHead(channels, num_joints=1)

    @property
    def receptive_field(self) -> int:
        """Input frames per output frame (1, 27, 81 or 243 for the official configs)."""
        return self.backbone.receptive_field

    @property
    def causal(self) -> bool:
        return self.backbone.causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """MMPose's tensor mode: one window -> one pose.

        Args:
            x: (B, 2K, receptive_field) float32 normalised 2D keypoints (channel ``2k + c``).

        Returns:
            (B, J, 3) float32 root-relative 3D joints (model units, see :attr:`output_unit`).
        """
        _check_input(x, 2 * self.num_keypoints, self.receptive_field)
        if x.shape[2] != self.receptive_field:
            raise ValueError(
                f"forward takes exactly receptive_field={self.receptive_field} frames, got {x.shape[2]}; "
                "use forward_sequence for longer sequences"
            )
        return self.head(self.backbone(x))[:, 0]

    def forward_sequence(self, x: torch.Tensor, *, fuse: bool | None = None) -> torch.Tensor:
        """Every window of a sequence at once (dilated form).

        Args:
            x: (B, 2K, T) float32 with ``T >= receptive_field``.
            fuse: fold BN into the convs (inference only); default: when not training.

        Returns:
            (B, T - receptive_field + 1, J, 3): output ``t`` is the pose of input frame
            ``t + receptive_field // 2`` (non-causal) or ``t + receptive_field - 1`` (causal).
        """
        _check_input(x, 2 * self.num_keypoints, self.receptive_field)
        fuse = (not self.training) if fuse is None else fuse
        feats = self.backbone.forward_dilated_fused(x) if fuse else self.backbone.forward_dilated(x)
        head = self.head
        if fuse:
            with torch.no_grad():
                y = F.conv1d(feats, head.conv.weight.to(feats.dtype), head.conv.bias.to(feats.dtype))
            return y.transpose(1, 2).reshape(y.shape[0], y.shape[2], self.num_joints, 3)
        return head(feats)

    def forward_trajectory(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 2K, receptive_field) -> (B, 1, 3) root position (semi-supervised models only)."""
        if not self.with_trajectory:
            raise ValueError("this VideoPose3D has no trajectory model (build it with with_trajectory=True)")
        _check_input(x, 2 * self.num_keypoints, self.receptive_field)
        return self.traj_head(self.traj_backbone(x))[:, 0]

    def decode(self, coords: Any) -> np.ndarray:
        """MMPose's VideoPoseLifting decode without a target root: the outputs unchanged, as a float32 array.

        (..., J, 3) root-relative 3D joints in :attr:`output_unit`.
        """
        arr = np.array(coords.detach().cpu() if isinstance(coords, torch.Tensor) else coords, np.float32)
        if arr.ndim < 2 or arr.shape[-2:] != (self.num_joints, 3):
            raise ValueError(f"coords must have shape (..., {self.num_joints}, 3), got {arr.shape}")
        return arr


def videopose3d(*, receptive_field: int = 243, channels: int = 1024, causal: bool = False,
                dropout: float = 0.25, num_keypoints: int = 17, with_trajectory: bool = False,
                weights: str | os.PathLike[str] | None = None, device: str | torch.device = "cpu") -> VideoPose3D:
    """VideoPose3D on h36m17 with the official kernel sizes for ``receptive_field`` in {1, 27, 81, 243}.

    ``weights``: a local checkpoint (MMPose 1.x/0.x or original VideoPose3D), loaded strictly. The returned
    module is in eval mode on ``device``; ``model.receptive_field`` gives the window length.
    """
    if receptive_field not in KERNEL_SIZES:
        raise ValueError(f"receptive_field must be one of {sorted(KERNEL_SIZES)}, got {receptive_field!r}")
    model = VideoPose3D(num_keypoints=num_keypoints, num_joints=num_keypoints, channels=channels,
                        kernel_sizes=KERNEL_SIZES[receptive_field], dropout=dropout, causal=causal,
                        with_trajectory=with_trajectory)
    if weights is not None:
        load_lifter_weights(model, weights)
    return model.to(device).eval()
