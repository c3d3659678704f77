"""HRNet top-down (Sun et al. 2019): HRNet backbone + a 1x1 conv on the highest-resolution branch, MSRA heatmaps
at 1/4 of the input, standard crops, flip test with the one-column heatmap shift.

* :func:`hrnet_topdown` -- the builder: ``(TopdownModel, TopdownSpec)`` (the backbone alone is
  :mod:`posekit.models.backbones.hrnet`).
* :data:`CHECKPOINTS` -- the official MMPose checkpoints, one :class:`~posekit.models.mmpose_zoo.MMPoseCheckpoint`
  row per public name (url, sha256 prefix, MMPose config, COCO val2017 AP, input size (w, h) pixels, mean/std
  RGB 0-255, builder arguments).
* :data:`MODELS` -- their registry entries (:func:`posekit.create_model` builds them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from posekit import skeletons
from posekit.models.mmpose_zoo import MMPOSE_URL, MMPoseCheckpoint, TopdownEntry, topdown_entry
from posekit.skeletons import Skeleton

if TYPE_CHECKING:
    from posekit.models.topdown import TopdownModel, TopdownSpec

__all__ = ["CHECKPOINTS", "MODELS", "hrnet_topdown"]


def hrnet_topdown(
    width: int | Mapping[str, Any] = 32, *, input_size: tuple[int, int] = (192, 256),
    skeleton: Skeleton = skeletons.coco17, sigma: float = 2.0,
) -> tuple[TopdownModel, TopdownSpec]:
    """HRNet-W``width`` (32 or 48; or an MMPose ``extra`` dict) + 1x1 conv; MSRA heatmaps at 1/4 of
    ``input_size`` (w, h) pixels with Gaussian ``sigma`` (heatmap pixels)."""
    from posekit.models.backbones.hrnet import hrnet, hrnet_w32, hrnet_w48
    from posekit.models.heads.heatmap import HeatmapHead
    from posekit.models.topdown import TopdownModel, msra_spec

    if isinstance(width, Mapping):
        backbone = hrnet(width)
    elif width in (32, 48):
        backbone = hrnet_w32() if width == 32 else hrnet_w48()
    else:
        raise ValueError(f"width must be 32, 48 or an HRNet 'extra' dict, got {width!r}")
    head = HeatmapHead(backbone.out_channels[0], skeleton.num_keypoints, deconv_out_channels=None)
    return TopdownModel(backbone, head), msra_spec(tuple(input_size), sigma, skeleton)


_TD = MMPOSE_URL + "v1/body_2d_keypoint/topdown_heatmap/coco/"
_FLIP = "flip_test, shift_heatmap"

# One row per public name; metrics: COCO val2017 AP, MMPose's model-zoo table.
CHECKPOINTS: tuple[MMPoseCheckpoint, ...] = (
    MMPoseCheckpoint(
        name="hrnet_w32_coco_256x192", description="HRNet-W32, COCO, 256x192 (MMPose)",
        url=_TD + "td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth", sha256="81c58e40",
        config="td-hm_hrnet-w32_8xb64-210e_coco-256x192", metrics={"coco_ap": 0.749},
        args={"width": 32, "sigma": 2.0}, codec="MSRAHeatmap(input/4, sigma=2)", flip=_FLIP,
    ),
    MMPoseCheckpoint(
        name="hrnet_w48_coco_384x288", description="HRNet-W48, COCO, 384x288 (MMPose)",
        url=_TD + "td-hm_hrnet-w48_8xb32-210e_coco-384x288-c161b7de_20220915.pth", sha256="c161b7de",
        config="td-hm_hrnet-w48_8xb32-210e_coco-384x288", metrics={"coco_ap": 0.767},
        args={"width": 48, "sigma": 3.0}, codec="MSRAHeatmap(input/4, sigma=3)", flip=_FLIP, input_size=(288, 384),
    ),
    # AP-10K animals (17 keypoints); metric: AP on AP-10K val, MMPose's model-zoo table.
    MMPoseCheckpoint(
        name="hrnet_w32_ap10k_256x256", description="HRNet-W32, AP-10K animals (17 keypoints), 256x256 (MMPose)",
        url=MMPOSE_URL + "animal/hrnet/hrnet_w32_ap10k_256x256-18aac840_20211029.pth", sha256="18aac840",
        config="td-hm_hrnet-w32_8xb64-210e_ap10k-256x256", metrics={"ap10k_ap": 0.722},
        args={"width": 32, "sigma": 2.0}, codec="MSRAHeatmap(input/4, sigma=2)", flip=_FLIP, input_size=(256, 256),
        skeleton=skeletons.ap10k17, task="animal",
        notes="MMPose 0.x checkpoint (keys keypoint_head.*), renamed to head.* at load as MMPose 1.x does.",
    ),
)


def _build(row: MMPoseCheckpoint) -> tuple[TopdownModel, TopdownSpec]:
    return hrnet_topdown(**row.args, input_size=row.input_size, skeleton=row.skeleton)


MODELS: tuple[TopdownEntry, ...] = tuple(topdown_entry(row, _build) for row in CHECKPOINTS)
