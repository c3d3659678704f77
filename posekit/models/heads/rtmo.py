"""RTMO's head (MMPose 1.3.2 ``RTMOHead``): the dense YOLO-style branches and the dynamic coordinate classifier.

* :class:`RTMOHeadModule` (``head_module``): per level, the input's first half of channels goes through
  ``conv_cls`` (``stacked_convs`` 3x3 ConvModules) to ``out_cls`` (person logit), the second half through
  ``conv_pose`` (``2 * stacked_convs`` 3x3 ConvModules, grouped after the first) to ``out_bbox`` (box
  ``[dx, dy, log w, log h]`` in stride units), ``out_kpt_vis`` (keypoint visibility logits), ``out_pose`` (pose
  vector) and ``out_kpt_reg`` (keypoint offsets: training only, kept for the checkpoint's keys).
* :class:`DCC` (``dcc``): turns one candidate's pose vector and box into keypoints: the pose vector is split
  into K keypoint tokens (``pose_to_kpts``: Linear + BatchNorm1d), refined by a gated attention unit with a
  learned additive position encoding (``gau``, ``pos_enc``); x / y bins spread over the box scaled by 1.25 are
  sine-encoded relative to the candidate's cell (``spe``, ``x_fc``, ``y_fc``); ``softmax(token . bin)`` over the
  bins gives 1-D heatmaps whose expectation is the keypoint (input pixels).
* :class:`RTMOHead`: both, plus the buffer ``loss_oks.sigmas`` and ``dcc.sigma_fc`` (training only) so an official
  checkpoint loads strictly.

BatchNorm: eps 1e-3, momentum 0.03 in ``head_module`` (the config's ``norm_cfg``); PyTorch defaults in
``dcc.pose_to_kpts``. Activations: SiLU (mmcv's Swish).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from posekit.models.heads.rtmcc import GatedAttentionUnit
from posekit.models.necks.hybrid_encoder import SinePositionalEncoding, conv_bn
from posekit.skeletons import coco17

__all__ = ["DCC", "PositionalGAU", "RTMOHead", "RTMOHeadModule"]

BN = {"bn_eps": 1e-3, "bn_momentum": 0.03}
EPS = 1e-8  # DCC softmax denominator



class RTMOHeadModule(nn.Module):
    """Dense per-level branches (module docstring).

    Args:
        num_keypoints: K.
        in_channels, cls_feat_channels: before ``widen_factor`` (MMPose multiplies both by it); the level input
            has ``2 * int(in_channels * widen_factor)`` channels.
        widen_factor: width multiplier of the variant.
        channels_per_group, num_groups: pose branch width ``num_groups * int(channels_per_group * widen_factor)``.
        pose_vec_channels: channels of the pose vector (``out_pose``).
        num_levels, stacked_convs, num_classes: as MMPose.

    Forward: levels ``(B, 2 * in, h_l, w_l)`` -> four lists over levels of ``(B, c, h_l, w_l)`` maps: person
    logits (c = num_classes), box deltas (4), visibility logits (K), pose vectors (pose_vec_channels).
    """

    def __init__(self, num_keypoints: int, in_channels: int, *, widen_factor: float = 1.0,
                 cls_feat_channels: int = 256, channels_per_group: int = 36, num_groups: int = 8,
                 pose_vec_channels: int = 256, num_levels: int = 2, stacked_convs: int = 2,
                 num_classes: int = 1) -> None:
        super().__init__()
        cin = int(in_channels * widen_factor)
        cls_ch = int(cls_feat_channels * widen_factor)
        pose_ch = num_groups * int(widen_factor * channels_per_group)
        self.in_channels = cin
        levels = range(num_levels)
        self.conv_cls = nn.ModuleList(
            nn.Sequential(*(conv_bn(cin if i == 0 else cls_ch, cls_ch, 3, **BN) for i in range(stacked_convs)))
            for _ in levels)
        self.out_cls = nn.ModuleList(nn.Conv2d(cls_ch, num_classes, 1) for _ in levels)
        self.conv_pose = nn.ModuleList(
            nn.Sequential(*(conv_bn(cin if i == 0 else pose_ch, pose_ch, 3, groups=1 if i == 0 else num_groups,
                                    **BN) for i in range(2 * stacked_convs)))
            for _ in levels)
        self.out_bbox = nn.ModuleList(nn.Conv2d(pose_ch, 4, 1) for _ in levels)
        self.out_kpt_reg = nn.ModuleList(nn.Conv2d(pose_ch, 2 * num_keypoints, 1) for _ in levels)
        self.out_kpt_vis = nn.ModuleList(nn.Conv2d(pose_ch, num_keypoints, 1) for _ in levels)
        self.out_pose = nn.ModuleList(nn.Conv2d(pose_ch, pose_vec_channels, 1) for _ in levels)

    def forward(self, feats: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
        if len(feats) != len(self.conv_cls):
            raise ValueError(f"RTMOHeadModule takes {len(self.conv_cls)} levels, got {len(feats)}")
        cls, bbox, vis, pose = [], [], [], []
        for i, x in enumerate(feats):
            if x.ndim != 4 or x.shape[1] != 2 * self.in_channels:
                raise ValueError(f"level {i} must have shape (B, {2 * self.in_channels}, h, w), got {tuple(x.shape)}")
            cls_feat, reg_feat = x.split(self.in_channels, dim=1)
            cls_feat = self.conv_cls[i](cls_feat)
            reg_feat = self.conv_pose[i](reg_feat)
            cls.append(self.out_cls[i](cls_feat))
            bbox.append(self.out_bbox[i](reg_feat))
            vis.append(self.out_kpt_vis[i](reg_feat))
            pose.append(self.out_pose[i](reg_feat))
        return cls, bbox, vis, pose


class PositionalGAU(GatedAttentionUnit):
    """:class:`~posekit.models.heads.rtmcc.GatedAttentionUnit` with MMPose's ``pos_enc='add'``: a position
    encoding ``(K, s)`` added to the queries and keys. Input / output ``(N, K, dims)``."""

    def _attend(self, x: Tensor, pos_enc: Tensor | None = None) -> Tensor:
        if pos_enc is None:
            return super()._attend(x)
        uv = self.act(self.uv(self.ln(x)))
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=-1)
        q, k = (base.unsqueeze(-2) * self.gamma + self.beta).unbind(dim=-2)
        q, k = q + pos_enc, k + pos_enc
        kernel = torch.square(torch.relu(torch.matmul(q, k.transpose(-1, -2)) / self.sqrt_s))
        return self.o(u * torch.matmul(self.dropout(kernel), v))

    def forward(self, x: Tensor, pos_enc: Tensor | None = None) -> Tensor:
        out = self.drop_path(self._attend(x, pos_enc))
        return self.res_scale(x) + out if self.res_scale is not None else out


class _Scale(nn.Module):
    """mmcv's ``Scale``: one learned scalar (shape ``()``), key ``scale``."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(value, dtype=torch.float32))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale


class DCC(nn.Module):
    """Dynamic coordinate classifier (module docstring).

    Args:
        in_channels: pose-vector channels.
        num_keypoints: K.
        feat_channels: width of a keypoint token and of a bin encoding.
        num_bins: ``(x bins, y bins)``.
        spe_channels, spe_temperature: the bins' sine encoding.
        gau_s, gau_expansion: the gated attention unit's sizes.

    Forward (:meth:`forward`): ``pose_vecs`` (N, in_channels), ``bbox_cs`` (N, 4) = box centre ``(cx, cy)`` and
    padded size ``(w, h)`` (input pixels), ``grids`` (N, 2) the candidates' cell centres (input pixels) ->
    keypoints (N, K, 2) in input pixels.
    """

    def __init__(self, in_channels: int, num_keypoints: int = 17, *, feat_channels: int = 128,
                 num_bins: tuple[int, int] = (192, 256), spe_channels: int = 128, spe_temperature: float = 300.0,
                 gau_s: int = 128, gau_expansion: float = 2) -> None:
        super().__init__()
        self.num_keypoints = int(num_keypoints)
        self.feat_channels = int(feat_channels)
        self.spe = SinePositionalEncoding(spe_channels, temperature=spe_temperature)
        self.gau = PositionalGAU(feat_channels, feat_channels, expansion_factor=gau_expansion, s=gau_s)
        self.pos_enc = nn.Parameter(torch.randn(num_keypoints, gau_s))
        self.pose_to_kpts = nn.Sequential(nn.Linear(in_channels, feat_channels * num_keypoints),
                                          nn.BatchNorm1d(feat_channels * num_keypoints))
        self.x_fc = nn.Linear(spe_channels, feat_channels)
        self.y_fc = nn.Linear(spe_channels, feat_channels)
        self.sigma_fc = nn.Sequential(nn.Linear(in_channels, num_keypoints), nn.Sigmoid(), _Scale(0.1))
        self.register_buffer("y_bins", torch.linspace(-0.5, 0.5, num_bins[1]))
        self.register_buffer("x_bins", torch.linspace(-0.5, 0.5, num_bins[0]))

    @staticmethod
    def _softmax(hms: Tensor) -> Tensor:
        hms = hms.clamp(min=-5e4, max=5e4)
        e = (hms - hms.max(dim=-1, keepdim=True).values).exp()
        return e / (e.sum(dim=-1, keepdim=True) + EPS)

    def forward(self, pose_vecs: Tensor, bbox_cs: Tensor, grids: Tensor) -> Tensor:
        center, scale = bbox_cs.split(2, dim=-1)
        x_bins = self.x_bins * scale[..., 0:1]  # (N, Bx), relative to the box centre
        y_bins = self.y_bins * scale[..., 1:2]
        rel = center - grids  # bins are encoded relative to the candidate's cell
        x_enc = self.x_fc(self.spe.encode(x_bins + rel[..., 0:1]))  # (N, Bx, C)
        y_enc = self.y_fc(self.spe.encode(y_bins + rel[..., 1:2]))
        tokens = self.pose_to_kpts(pose_vecs).reshape(-1, self.num_keypoints, self.feat_channels)
        tokens = self.gau(tokens, self.pos_enc)
        x_hms = self._softmax(torch.matmul(tokens, x_enc.transpose(-1, -2)))  # (N, K, Bx)
        y_hms = self._softmax(torch.matmul(tokens, y_enc.transpose(-1, -2)))
        x = (x_hms * (x_bins + center[..., 0:1]).unsqueeze(1)).sum(dim=-1)
        y = (y_hms * (y_bins + center[..., 1:2]).unsqueeze(1)).sum(dim=-1)
        return torch.stack((x, y), dim=-1)


class _LossBuffers(nn.Module):
    """Holds the OKS loss's ``sigmas`` buffer of the official checkpoints (unused at inference)."""

    def __init__(self, sigmas: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("sigmas", torch.tensor(sigmas, dtype=torch.float32))


class RTMOHead(nn.Module):
    """``head_module`` (:class:`RTMOHeadModule`), ``dcc`` (:class:`DCC`) and ``loss_oks`` (sigmas buffer).

    Forward: the neck levels -> the head module's four lists (see :class:`RTMOHeadModule`); the DCC runs on the
    candidates left after decoding (:mod:`posekit.codecs.rtmo`).
    """

    def __init__(self, head_module: RTMOHeadModule, dcc: DCC, *, sigmas: Sequence[float] = coco17.sigmas) -> None:
        super().__init__()
        self.loss_oks = _LossBuffers(sigmas)
        self.head_module = head_module
        self.dcc = dcc

    def forward(self, feats: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
        return self.head_module(feats)
