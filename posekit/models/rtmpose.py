"""RTMPose (Jiang et al. 2023): CSPNeXt backbone + RTMCC head (GAU) predicting SimCC vectors (split ratio 2),
standard crops, flip test, 256x192 input.

* :func:`rtmpose` -- the builder: ``(TopdownModel, TopdownSpec)`` (the backbone alone is
  :mod:`posekit.models.backbones.cspnext`).
* :data:`CHECKPOINTS` -- the official MMPose checkpoints, one :class:`~posekit.models.mmpose_zoo.MMPoseCheckpoint`
  row per public name (url, sha256 prefix, MMPose config, COCO val2017 AP, input size (w, h) pixels, mean/std
  RGB 0-255, builder arguments).
* :data:`MODELS` -- their registry entries (:func:`posekit.create_model` builds them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from posekit import skeletons
from posekit.models.mmpose_zoo import MMPOSE_URL, MMPoseCheckpoint, TopdownEntry, topdown_entry
from posekit.skeletons import Skeleton

if TYPE_CHECKING:
    from posekit.models.topdown import TopdownModel, TopdownSpec

__all__ = ["CHECKPOINTS", "MODELS", "rtmpose"]


def rtmpose(size: str = "m", *, skeleton: Skeleton = skeletons.coco17) -> tuple[TopdownModel, TopdownSpec]:
    """RTMPose-``size`` (``t``/``s``/``m``/``l``) at 256x192: CSPNeXt + RTMCC head, SimCC (split ratio 2)."""
    from posekit.codecs import SimCC
    from posekit.models.backbones.cspnext import RTMPOSE_CSPNEXT_FACTORS, cspnext
    from posekit.models.heads.rtmcc import RTMCCHead
    from posekit.models.topdown import TopdownModel, TopdownSpec

    if size not in RTMPOSE_CSPNEXT_FACTORS:
        raise ValueError(f"size must be one of {sorted(RTMPOSE_CSPNEXT_FACTORS)}, got {size!r}")
    deepen, widen = RTMPOSE_CSPNEXT_FACTORS[size]
    head = RTMCCHead(int(1024 * widen), skeleton.num_keypoints, (192, 256), (6, 8), simcc_split_ratio=2.0,
                     final_layer_kernel_size=7)
    codec = SimCC((192, 256), sigma=(4.9, 5.66), simcc_split_ratio=2.0, normalize=False, use_dark=False)
    return TopdownModel(cspnext(deepen, widen), head), TopdownSpec(codec, skeleton)


_RTM = MMPOSE_URL + "v1/projects/rtmposev1/"
_CODEC = "SimCC((192, 256), sigma=(4.9, 5.66), split 2.0, normalize=False)"

# One row per public name; metrics: COCO val2017 AP, MMPose's model-zoo table (AIC + COCO training).
CHECKPOINTS: tuple[MMPoseCheckpoint, ...] = (
    MMPoseCheckpoint(
        name="rtmpose_t_coco_256x192",
        description="RTMPose-t (CSPNeXt + SimCC), COCO (AIC pretraining), 256x192 (MMPose)",
        url=_RTM + "rtmpose-tiny_simcc-coco_pt-aic-coco_420e-256x192-e613ba3f_20230127.pth", sha256="e613ba3f",
        config="rtmpose-t_8xb256-420e_coco-256x192", metrics={"coco_ap": 0.682}, args={"size": "t"},
        codec=_CODEC, flip="flip_test",
    ),
    MMPoseCheckpoint(
        name="rtmpose_s_coco_256x192",
        description="RTMPose-s (CSPNeXt + SimCC), COCO (AIC pretraining), 256x192 (MMPose)",
        url=_RTM + "rtmpose-s_simcc-coco_pt-aic-coco_420e-256x192-8edcf0d7_20230127.pth", sha256="8edcf0d7",
        config="rtmpose-s_8xb256-420e_coco-256x192", metrics={"coco_ap": 0.716}, args={"size": "s"},
        codec=_CODEC, flip="flip_test",
    ),
    MMPoseCheckpoint(
        name="rtmpose_m_coco_256x192",
        description="RTMPose-m (CSPNeXt + SimCC), COCO (AIC pretraining), 256x192 (MMPose)",
        url=_RTM + "rtmpose-m_simcc-coco_pt-aic-coco_420e-256x192-d8dd5ca4_20230127.pth", sha256="d8dd5ca4",
        config="rtmpose-m_8xb256-420e_coco-256x192", metrics={"coco_ap": 0.746}, args={"size": "m"},
        codec=_CODEC, flip="flip_test",
    ),
    MMPoseCheckpoint(
        name="rtmpose_l_coco_256x192",
        description="RTMPose-l (CSPNeXt + SimCC), COCO (AIC pretraining), 256x192 (MMPose)",
        url=_RTM + "rtmpose-l_simcc-coco_pt-aic-coco_420e-256x192-1352a4d2_20230127.pth", sha256="1352a4d2",
        config="rtmpose-l_8xb256-420e_coco-256x192", metrics={"coco_ap": 0.758}, args={"size": "l"},
        codec=_CODEC, flip="flip_test",
    ),
)


def _build(row: MMPoseCheckpoint) -> tuple[TopdownModel, TopdownSpec]:
    return rtmpose(**row.args, skeleton=row.skeleton)


MODELS: tuple[TopdownEntry, ...] = tuple(topdown_entry(row, _build) for row in CHECKPOINTS)
