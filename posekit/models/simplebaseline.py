"""SimpleBaseline (Xiao et al. 2018): ResNet + 3 stride-2 deconvolutions + 1x1 conv, MSRA heatmaps at 1/4 of the
input, standard crops, flip test with the one-column heatmap shift.

* :func:`simplebaseline` -- the builder: ``(TopdownModel, TopdownSpec)``.
* :data:`CHECKPOINTS` -- the official MMPose checkpoints, one :class:`~posekit.models.mmpose_zoo.MMPoseCheckpoint`
  row per public name (url, sha256 prefix, MMPose config, published metric, input size (w, h) pixels, mean/std
  RGB 0-255, builder arguments).
* :data:`MODELS` -- their registry entries (:func:`posekit.create_model` builds them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from posekit import skeletons
from posekit.models.mmpose_zoo import MMPOSE_URL, MMPoseCheckpoint, TopdownEntry, topdown_entry
from posekit.skeletons import Skeleton

if TYPE_CHECKING:
    from posekit.models.topdown import TopdownModel, TopdownSpec

__all__ = ["CHECKPOINTS", "MODELS", "simplebaseline"]


def simplebaseline(
    depth: int = 50, *, input_size: tuple[int, int] = (192, 256), skeleton: Skeleton = skeletons.coco17,
    sigma: float = 2.0, stem_channels: int = 64, base_channels: int = 64,
    deconv_out_channels: Sequence[int] = (256, 256, 256),
) -> tuple[TopdownModel, TopdownSpec]:
    """SimpleBaseline: ResNet-``depth`` + deconvolution head; MSRA heatmaps at 1/4 of ``input_size`` (w, h)."""
    from posekit.models.backbones.resnet import resnet
    from posekit.models.heads.heatmap import HeatmapHead
    from posekit.models.topdown import TopdownModel, msra_spec

    backbone = resnet(depth, stem_channels=stem_channels, base_channels=base_channels)
    head = HeatmapHead(backbone.out_channels[-1], skeleton.num_keypoints, deconv_out_channels=deconv_out_channels,
                       deconv_kernel_sizes=(4,) * len(deconv_out_channels))
    return TopdownModel(backbone, head), msra_spec(tuple(input_size), sigma, skeleton)


_TD = MMPOSE_URL + "v1/body_2d_keypoint/topdown_heatmap/coco/"
_CODEC = "MSRAHeatmap(input/4, sigma=2)"
_FLIP = "flip_test, shift_heatmap"

# One row per public name; metrics: COCO val2017 AP (MPII: PCKh on MPII val), MMPose's model-zoo tables.
CHECKPOINTS: tuple[MMPoseCheckpoint, ...] = (
    MMPoseCheckpoint(
        name="simplebaseline_res50_coco_256x192", description="SimpleBaseline ResNet-50, COCO, 256x192 (MMPose)",
        url=_TD + "td-hm_res50_8xb64-210e_coco-256x192-04af38ce_20220923.pth", sha256="04af38ce",
        config="td-hm_res50_8xb64-210e_coco-256x192", metrics={"coco_ap": 0.718}, args={"depth": 50},
        codec=_CODEC, flip=_FLIP,
    ),
    MMPoseCheckpoint(
        name="simplebaseline_res101_coco_256x192", description="SimpleBaseline ResNet-101, COCO, 256x192 (MMPose)",
        url=_TD + "td-hm_res101_8xb64-210e_coco-256x192-065d3625_20220926.pth", sha256="065d3625",
        config="td-hm_res101_8xb64-210e_coco-256x192", metrics={"coco_ap": 0.728}, args={"depth": 101},
        codec=_CODEC, flip=_FLIP,
    ),
    MMPoseCheckpoint(
        name="simplebaseline_res50_mpii_256x256",
        description="SimpleBaseline ResNet-50, MPII, 256x256 (MMPose 0.x checkpoint, keypoint_head. keys)",
        url=MMPOSE_URL + "top_down/resnet/res50_mpii_256x256-418ffc88_20200812.pth", sha256="418ffc88",
        config="td-hm_res50_8xb64-210e_mpii-256x256", metrics={"mpii_pckh": 0.882, "mpii_pckh_0.1": 0.286},
        args={"depth": 50}, codec=_CODEC, flip=_FLIP, input_size=(256, 256), skeleton=skeletons.mpii16,
        notes="MMPose 0.x checkpoint: 'keypoint_head.' keys, remapped on load",
    ),
)


def _build(row: MMPoseCheckpoint) -> tuple[TopdownModel, TopdownSpec]:
    return simplebaseline(**row.args, input_size=row.input_size, skeleton=row.skeleton)


MODELS: tuple[TopdownEntry, ...] = tuple(topdown_entry(row, _build) for row in CHECKPOINTS)
