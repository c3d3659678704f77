"""ViTPose (Xu et al. 2022): plain ViT backbone + the ``"classic"`` decoder (2 stride-2 deconvolutions + 1x1 conv)
or the ``"simple"`` one (ReLU, 4x bilinear upsampling, 3x3 conv); UDP crops, UDP heatmaps (48x64, sigma 2),
flip test without shift, 256x192 input.

* :func:`vitpose` -- the builder: ``(TopdownModel, TopdownSpec)`` (the backbone alone is
  :mod:`posekit.models.backbones.vit`).
* :data:`CHECKPOINTS` -- the official MMPose checkpoints, one :class:`~posekit.models.mmpose_zoo.MMPoseCheckpoint`
  row per public name (url, sha256 prefix, MMPose config, COCO val2017 AP, input size (w, h) pixels, mean/std
  RGB 0-255, builder arguments).
* :data:`MODELS` -- their registry entries (:func:`posekit.create_model` builds them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from posekit import skeletons
from posekit.models.mmpose_zoo import MMPOSE_URL, MMPoseCheckpoint, TopdownEntry, topdown_entry
from posekit.skeletons import Skeleton

if TYPE_CHECKING:
    from posekit.models.topdown import TopdownModel, TopdownSpec

__all__ = ["CHECKPOINTS", "MODELS", "vitpose"]


def vitpose(
    arch: str | Mapping[str, int] = "base", *, decoder: str = "classic", skeleton: Skeleton = skeletons.coco17,
    deconv_out_channels: Sequence[int] = (256, 256),
) -> tuple[TopdownModel, TopdownSpec]:
    """ViTPose-``arch`` (``small``/``base``/``large``/``huge`` or a ViT arch dict) at 256x192.

    ``decoder="classic"``: ``len(deconv_out_channels)`` stride-2 deconvolutions + 1x1 conv; ``"simple"``: ReLU,
    4x bilinear upsampling (the neck) + 3x3 conv. UDP crops, UDP heatmaps (48x64, sigma 2), flip test without shift.
    """
    from posekit.codecs import UDPHeatmap
    from posekit.models.backbones.vit import vit
    from posekit.models.heads.heatmap import HeatmapHead
    from posekit.models.heads.vitpose_simple import ReLUUpsample
    from posekit.models.topdown import TopdownModel, TopdownSpec

    if decoder not in ("classic", "simple"):
        raise ValueError(f"decoder must be 'classic' or 'simple', got {decoder!r}")
    backbone = vit(dict(arch) if isinstance(arch, Mapping) else arch, img_size=(256, 192))
    k = skeleton.num_keypoints
    if decoder == "simple":
        head = HeatmapHead(backbone.embed_dims, k, deconv_out_channels=(), deconv_kernel_sizes=(), final_kernel_size=3)
        model = TopdownModel(backbone, head, neck=ReLUUpsample(scale_factor=4.0))
    else:
        head = HeatmapHead(backbone.embed_dims, k, deconv_out_channels=tuple(deconv_out_channels),
                           deconv_kernel_sizes=(4,) * len(deconv_out_channels))
        model = TopdownModel(backbone, head)
    spec = TopdownSpec(UDPHeatmap((192, 256), (48, 64), sigma=2.0), skeleton, udp=True, shift_heatmap=False)
    return model, spec


_TD = MMPOSE_URL + "v1/body_2d_keypoint/topdown_heatmap/coco/"
_CODEC = "UDPHeatmap((192, 256), (48, 64), sigma=2); UDP crops"

# One row per public name; metrics: COCO val2017 AP, MMPose's model-zoo table.
CHECKPOINTS: tuple[MMPoseCheckpoint, ...] = (
    MMPoseCheckpoint(
        name="vitpose_s_coco_256x192", description="ViTPose-S (classic decoder), COCO, 256x192 (MMPose)",
        url=_TD + "td-hm_ViTPose-small_8xb64-210e_coco-256x192-62d7a712_20230314.pth", sha256="62d7a712",
        config="td-hm_ViTPose-small_8xb64-210e_coco-256x192", metrics={"coco_ap": 0.739},
        args={"arch": "small", "decoder": "classic"}, codec=_CODEC, flip="flip_test",
    ),
    MMPoseCheckpoint(
        name="vitpose_s_simple_coco_256x192", description="ViTPose-S (simple decoder), COCO, 256x192 (MMPose)",
        url=_TD + "td-hm_ViTPose-small-simple_8xb64-210e_coco-256x192-4c101a76_20230314.pth", sha256="4c101a76",
        config="td-hm_ViTPose-small-simple_8xb64-210e_coco-256x192", metrics={"coco_ap": 0.736},
        args={"arch": "small", "decoder": "simple"}, codec=_CODEC, flip="flip_test",
    ),
    MMPoseCheckpoint(
        name="vitpose_b_coco_256x192", description="ViTPose-B (classic decoder), COCO, 256x192 (MMPose)",
        url=_TD + "td-hm_ViTPose-base_8xb64-210e_coco-256x192-216eae50_20230314.pth", sha256="216eae50",
        config="td-hm_ViTPose-base_8xb64-210e_coco-256x192", metrics={"coco_ap": 0.757},
        args={"arch": "base", "decoder": "classic"}, codec=_CODEC, flip="flip_test",
    ),
    MMPoseCheckpoint(
        name="vitpose_b_simple_coco_256x192", description="ViTPose-B (simple decoder), COCO, 256x192 (MMPose)",
        url=_TD + "td-hm_ViTPose-base-simple_8xb64-210e_coco-256x192-0b8234ea_20230407.pth", sha256="0b8234ea",
        config="td-hm_ViTPose-base-simple_8xb64-210e_coco-256x192", metrics={"coco_ap": 0.756},
        args={"arch": "base", "decoder": "simple"}, codec=_CODEC, flip="flip_test",
    ),
    MMPoseCheckpoint(
        name="vitpose_l_coco_256x192", description="ViTPose-L (classic decoder), COCO, 256x192 (MMPose)",
        url=_TD + "td-hm_ViTPose-large_8xb64-210e_coco-256x192-53609f55_20230314.pth", sha256="53609f55",
        config="td-hm_ViTPose-large_8xb64-210e_coco-256x192", metrics={"coco_ap": 0.782},
        args={"arch": "large", "decoder": "classic"}, codec=_CODEC, flip="flip_test",
    ),
    MMPoseCheckpoint(
        name="vitpose_l_simple_coco_256x192", description="ViTPose-L (simple decoder), COCO, 256x192 (MMPose)",
        url=_TD + "td-hm_ViTPose-large-simple_8xb64-210e_coco-256x192-3a7ee9e1_20230314.pth", sha256="3a7ee9e1",
        config="td-hm_ViTPose-large-simple_8xb64-210e_coco-256x192", metrics={"coco_ap": 0.781},
        args={"arch": "large", "decoder": "simple"}, codec=_CODEC, flip="flip_test",
    ),
    MMPoseCheckpoint(
        name="vitpose_h_coco_256x192", description="ViTPose-H (classic decoder), COCO, 256x192 (MMPose)",
        url=_TD + "td-hm_ViTPose-huge_8xb64-210e_coco-256x192-e32adcd4_20230314.pth", sha256="e32adcd4",
        config="td-hm_ViTPose-huge_8xb64-210e_coco-256x192", metrics={"coco_ap": 0.788},
        args={"arch": "huge", "decoder": "classic"}, codec=_CODEC, flip="flip_test",
    ),
    MMPoseCheckpoint(
        name="vitpose_h_simple_coco_256x192", description="ViTPose-H (simple decoder), COCO, 256x192 (MMPose)",
        url=_TD + "td-hm_ViTPose-huge-simple_8xb64-210e_coco-256x192-ffd48c05_20230314.pth", sha256="ffd48c05",
        config="td-hm_ViTPose-huge-simple_8xb64-210e_coco-256x192", metrics={"coco_ap": 0.789},
        args={"arch": "huge", "decoder": "simple"}, codec=_CODEC, flip="flip_test",
    ),
)


def _build(row: MMPoseCheckpoint) -> tuple[TopdownModel, TopdownSpec]:
    return vitpose(**row.args, skeleton=row.skeleton)


MODELS: tuple[TopdownEntry, ...] = tuple(topdown_entry(row, _build) for row in CHECKPOINTS)
