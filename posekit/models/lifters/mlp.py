"""SimpleBaseline3D (Martinez et al. 2017): a residual MLP that lifts one frame of 2D keypoints to 3D.

MMPose 1.3.2 builds it as a ``PoseLifter`` whose ``TCN`` backbone has kernel sizes (1, 1, 1) -- 1x1 temporal
convolutions are per-frame linear layers -- and a ``TemporalRegressionHead`` with 16 joints (the root is not
predicted). Module names equal MMPose's (``backbone.*``, ``head.*``), so official checkpoints load strictly:

* ``backbone.expand_conv``: Linear(2K -> C) + BN + ReLU + dropout;
* ``backbone.tcn_blocks.{i}``: two Linear(C -> C) + BN + ReLU + dropout, plus a residual connection;
* ``head.conv``: Linear(C -> 3 (K - 1)); output channel ``3j + c``.

Official Human3.6M model (config ``image-pose-lift_tcn_8xb64-200e_h36m``, codec ``ImagePoseLifting``):

* input: the 2D keypoints of one frame (h36m17, pixels of the 1000x1000 Human3.6M images) normalised per joint
  with :data:`H36M_KEYPOINTS_MEAN` / :data:`H36M_KEYPOINTS_STD` (``mean_std_normalize``);
* output: the 16 non-root joints, normalised; :meth:`SimpleBaseline3D.decode` de-normalises them with
  :data:`H36M_TARGET_MEAN` / :data:`H36M_TARGET_STD` into root-relative **metres** (camera frame: x right, y
  down, z forward) and inserts the root (pelvis) at index 0.

The statistics are the numbers of the MMPose config (computed on Human3.6M training subjects).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import nn

from posekit.models.lifters.convert import load_lifter_weights
from posekit.models.lifters.normalize import decode_lifting, insert_root
from posekit.models.lifters.temporal import TCN, TemporalRegressionHead

__all__ = [
    "H36M_KEYPOINTS_MEAN", "H36M_KEYPOINTS_STD", "H36M_TARGET_MEAN", "H36M_TARGET_STD", "SimpleBaseline3D",
    "simplebaseline3d",
]

# (17, 2) pixels: ImagePoseLifting keypoints_mean / keypoints_std of the official config.
H36M_KEYPOINTS_MEAN = (
    (532.08351635, 419.74137558), (531.80953144, 418.2607141), (530.68456967, 493.54259285),
    (529.36968722, 575.96448516), (532.29767646, 421.28483336), (531.93946631, 494.72186795),
    (529.71984447, 578.96110365), (532.93699382, 370.65225054), (534.1101856, 317.90342311),
    (534.55416813, 304.24143901), (534.86955004, 282.31030885), (534.11308566, 330.11296796),
    (533.53637525, 376.2742511), (533.49380107, 391.72324565), (533.52579142, 330.09494668),
    (532.50804964, 374.190479), (532.72786934, 380.61615716),
)
H36M_KEYPOINTS_STD = (
    (107.73640054, 63.35908715), (119.00836213, 64.1215443), (119.12412107, 50.53806215),
    (120.61688045, 56.38444891), (101.95735275, 62.89636486), (106.24832897, 48.41178119),
    (108.46734966, 54.58177071), (109.07369806, 68.70443672), (111.20130351, 74.87287863),
    (111.63203838, 77.80542514), (113.22330788, 79.90670556), (105.7145833, 73.27049436),
    (107.05804267, 73.93175781), (107.97449418, 83.30391802), (121.60675105, 74.25691526),
    (134.34378973, 77.48125087), (131.79990652, 89.86721124),
)
# (16, 3) metres, root-relative, joints 1..16 of h36m17: ImagePoseLifting target_mean / target_std.
H36M_TARGET_MEAN = (
    (-0.000255652589, -0.0071196057, -0.000981433052), (-0.00565463051, 0.319636009, 0.0719329269),
    (-0.010170584, 0.691147892, 0.155352986), (0.000255651315, 0.00711954606, 0.000981423866),
    (-0.0050972978, 0.327040413, 0.0722258095), (-0.00999656606, 0.708277383, 0.158016408),
    (0.00290583676, -0.211363307, -0.0474210915), (0.00567537804, -0.435088906, -0.0976974016),
    (0.00593884964, -0.49189197, -0.110666618), (0.00737352083, -0.583948619, -0.1311714),
    (0.00541920653, -0.383931702, -0.0868145417), (0.00295964662, -0.187567488, -0.0434536934),
    (0.00126585822, -0.120170579, -0.0282526049), (0.00467186639, -0.383644089, -0.0855125784),
    (0.00167648571, -0.197007177, -0.0431368364), (0.000870569015, -0.168664569, -0.0373902498),
)
H36M_TARGET_STD = (
    (0.11072244, 0.02238818, 0.07246294), (0.15856311, 0.18933832, 0.20880479),
    (0.19179935, 0.24320062, 0.24756193), (0.11072181, 0.02238805, 0.07246253),
    (0.15880454, 0.19977188, 0.2147063), (0.18001944, 0.25052739, 0.24853247),
    (0.05210694, 0.05211406, 0.06908241), (0.09515367, 0.10133032, 0.12899733),
    (0.11742458, 0.12648469, 0.16465091), (0.12360297, 0.13085539, 0.16433336),
    (0.14602232, 0.09707956, 0.13952731), (0.24347532, 0.12982249, 0.20230181),
    (0.2446877, 0.21501816, 0.23938235), (0.13876084, 0.1008926, 0.1424411),
    (0.23687529, 0.14491219, 0.20980829), (0.24400695, 0.23975028, 0.25520584),
)


class SimpleBaseline3D(nn.Module):
    """Residual MLP lifter on one frame: ``backbone`` (:class:`TCN` with 1x1 kernels) + ``head``.

    Args:
        num_keypoints: K input joints (17 for h36m17).
        stem_channels: hidden width C (1024 officially).
        num_blocks: residual blocks (2 officially).
        dropout: dropout probability (training only).
        remove_root: the output omits the root joint (J = K - 1), as the official model.
        target_mean, target_std: (J, 3) output statistics for :meth:`decode` (``None``: outputs are used as
            they are). Plain NumPy data, not part of the ``state_dict`` (MMPose keeps them in the codec).

    Attributes:
        output_unit: ``"m"``, the unit of the official checkpoint's decoded outputs.
        receptive_field: 1.
    """

    output_unit = "m"
    receptive_field = 1
    causal = False

    def __init__(self, *, num_keypoints: int = 17, stem_channels: int = 1024, num_blocks: int = 2,
                 dropout: float = 0.5, remove_root: bool = True, root_index: int = 0,
                 target_mean: Any = None, target_std: Any = None) -> None:
        super().__init__()
        if num_blocks < 1:
            raise ValueError(f"num_blocks must be >= 1, got {num_blocks}")
        self.num_keypoints = num_keypoints
        self.remove_root = remove_root
        self.root_index = root_index
        self.num_joints = num_keypoints - 1 if remove_root else num_keypoints
        self.backbone = TCN(2 * num_keypoints, stem_channels=stem_channels, kernel_sizes=(1,) * (num_blocks + 1),
                            dropout=dropout, use_stride_conv=False)
        self.head = TemporalRegressionHead(stem_channels, num_joints=self.num_joints)
        if (target_mean is None) != (target_std is None):
            raise ValueError("target_mean and target_std must be given together")
        self.target_mean = None if target_mean is None else self._stat("target_mean", target_mean)
        self.target_std = None if target_std is None else self._stat("target_std", target_std)

    def _stat(self, name: str, value: Any) -> np.ndarray:
        arr = np.asarray(value, np.float64)
        if arr.size != self.num_joints * 3:
            raise ValueError(f"{name} must have shape ({self.num_joints}, 3), got {arr.shape}")
        arr = arr.reshape(self.num_joints, 3).copy()
        arr.setflags(write=False)
        return arr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """MMPose's tensor mode.

        Args:
            x: (B, 2K) or (B, 2K, 1) float32 normalised 2D keypoints (channel ``2k + c``).

        Returns:
            (B, J, 3) float32 raw (normalised) outputs; :meth:`decode` turns them into 3D joints.
        """
        if x.ndim == 2:
            x = x[:, :, None]
        if x.ndim != 3 or x.shape[1] != 2 * self.num_keypoints or x.shape[2] != 1:
            raise ValueError(f"x must have shape (B, {2 * self.num_keypoints}) or (B, {2 * self.num_keypoints}, 1), "
                             f"got {tuple(x.shape)}")
        return self.head(self.backbone(x))[:, 0]

    def forward_sequence(self, x: torch.Tensor, *, fuse: bool | None = None) -> torch.Tensor:
        """Every frame of (B, 2K, T) at once -> (B, T, J, 3) raw outputs (1x1 convolutions over time)."""
        if x.ndim != 3 or x.shape[1] != 2 * self.num_keypoints:
            raise ValueError(f"x must have shape (B, {2 * self.num_keypoints}, T), got {tuple(x.shape)}")
        fuse = (not self.training) if fuse is None else fuse
        feats = self.backbone.forward_dilated_fused(x) if fuse else self.backbone.forward_dilated(x)
        return self.head(feats)

    def decode(self, coords: Any) -> np.ndarray:
        """Raw outputs (..., J, 3) -> root-relative 3D joints (..., K, 3) float32 in :attr:`output_unit`.

        De-normalises with ``target_mean`` / ``target_std`` when set and inserts a zero root at ``root_index``
        when the model omits it.
        """
        arr = np.asarray(coords.detach().cpu() if isinstance(coords, torch.Tensor) else coords, np.float32)
        if arr.ndim < 2 or arr.shape[-2:] != (self.num_joints, 3):
            raise ValueError(f"coords must have shape (..., {self.num_joints}, 3), got {arr.shape}")
        lead = arr.shape[:-2]
        flat = decode_lifting(arr.reshape(-1, self.num_joints, 3), target_mean=self.target_mean,
                              target_std=self.target_std)
        out = flat.reshape(*lead, self.num_joints, 3)
        return insert_root(out, root_index=self.root_index) if self.remove_root else out


def simplebaseline3d(*, num_keypoints: int = 17, stem_channels: int = 1024, num_blocks: int = 2,
                     dropout: float = 0.5, h36m_stats: bool = True, weights: str | os.PathLike[str] | None = None,
                     device: str | torch.device = "cpu") -> SimpleBaseline3D:
    """SimpleBaseline3D on h36m17 as MMPose's official config (eval mode, on ``device``).

    ``h36m_stats`` attaches the official Human3.6M target statistics for :meth:`SimpleBaseline3D.decode`
    (metres); inputs must then be normalised with ``H36M_KEYPOINTS_MEAN/STD``. ``weights``: a local MMPose
    checkpoint (1.x or the official 0.x file), loaded strictly.
    """
    stats: dict[str, Any] = {}
    if h36m_stats:
        if num_keypoints != 17:
            raise ValueError(f"h36m_stats needs num_keypoints=17, got {num_keypoints}")
        stats = dict(target_mean=H36M_TARGET_MEAN, target_std=H36M_TARGET_STD)
    model = SimpleBaseline3D(num_keypoints=num_keypoints, stem_channels=stem_channels, num_blocks=num_blocks,
                             dropout=dropout, **stats)
    if weights is not None:
        load_lifter_weights(model, weights)
    return model.to(device).eval()
