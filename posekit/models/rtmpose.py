"""RTMPose (Jiang et al. 2023): CSPNeXt backbone + RTMCC head (GAU) predicting SimCC vectors (split ratio 2),
standard crops, flip test; 256x192 body input, 384x288 whole body, 256x256 hands and animals.

* :func:`rtmpose` -- the builder: ``(TopdownModel, TopdownSpec)`` (the backbone alone is
  :mod:`posekit.models.backbones.cspnext`).
* :data:`CHECKPOINTS` -- the official MMPose checkpoints, one :class:`~posekit.models.mmpose_zoo.MMPoseCheckpoint`
  row per public name (url, sha256 prefix, MMPose config, published accuracy, input size (w, h) pixels, mean/std
  RGB 0-255, builder arguments): COCO body (17), DWPose whole body (COCO-WholeBody 133: the distilled students,
  converted by DWPose's ``pth_transfer.py`` to plain RTMPose keys), hands (21) and AP-10K animals (17).
* :data:`MODELS` -- their registry entries (:func:`posekit.create_model` builds them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from posekit import skeletons
from posekit.models.mmpose_zoo import MMPOSE_URL, MMPoseCheckpoint, TopdownEntry, topdown_entry
from posekit.skeletons import Skeleton

if TYPE_CHECKING:
    from posekit.models.topdown import TopdownModel, TopdownSpec

__all__ = ["CHECKPOINTS", "MODELS", "SIMCC_SIGMAS", "rtmpose"]


# SimCC label sigma (x, y) of the official configs, by model input (width, height) in pixels.
SIMCC_SIGMAS: dict[tuple[int, int], tuple[float, float]] = {
    (192, 256): (4.9, 5.66), (288, 384): (6.0, 6.93), (256, 256): (5.66, 5.66),
}


def rtmpose(size: str = "m", *, input_size: tuple[int, int] = (192, 256),
            skeleton: Skeleton = skeletons.coco17) -> tuple[TopdownModel, TopdownSpec]:
    """RTMPose-``size`` (``t``/``s``/``m``/``l``): CSPNeXt + RTMCC head, SimCC (split ratio 2).

    ``input_size``: model input ``(width, height)`` in pixels, one of the official configs' (192, 256),
    (288, 384), (256, 256); the head's feature map is 1/32 of it and the label sigma is the config's.
    """
    from posekit.codecs import SimCC
    from posekit.models.backbones.cspnext import RTMPOSE_CSPNEXT_FACTORS, cspnext
    from posekit.models.heads.rtmcc import RTMCCHead
    from posekit.models.topdown import TopdownModel, TopdownSpec

    if size not in RTMPOSE_CSPNEXT_FACTORS:
        raise ValueError(f"size must be one of {sorted(RTMPOSE_CSPNEXT_FACTORS)}, got {size!r}")
    input_size = (int(input_size[0]), int(input_size[1]))
    if input_size not in SIMCC_SIGMAS:
        raise ValueError(f"input_size (width, height) must be one of {sorted(SIMCC_SIGMAS)}, got {input_size}")
    deepen, widen = RTMPOSE_CSPNEXT_FACTORS[size]
    feature_map = (input_size[0] // 32, input_size[1] // 32)
    head = RTMCCHead(int(1024 * widen), skeleton.num_keypoints, input_size, feature_map, simcc_split_ratio=2.0,
                     final_layer_kernel_size=7)
    codec = SimCC(input_size, sigma=SIMCC_SIGMAS[input_size], simcc_split_ratio=2.0, normalize=False, use_dark=False)
    return TopdownModel(cspnext(deepen, widen), head), TopdownSpec(codec, skeleton)


_RTM = MMPOSE_URL + "v1/projects/rtmposev1/"
_CODEC = "SimCC((192, 256), sigma=(4.9, 5.66), split 2.0, normalize=False)"
_CODEC_384 = "SimCC((288, 384), sigma=(6.0, 6.93), split 2.0, normalize=False)"
_CODEC_256 = "SimCC((256, 256), sigma=(5.66, 5.66), split 2.0, normalize=False)"
_DW_NOTE = ("DWPose (Yang et al. 2023): RTMPose distilled in two stages on COCO-WholeBody + UBody; the released file "
            "holds the student only (plain RTMPose keys). URL from MMPose's DWPose README table.")

# One row per public name; metrics from MMPose's model-zoo tables (body: COCO val2017 AP, AIC + COCO training; the
# others: see each group's comment).
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
    # DWPose: COCO-WholeBody 133 keypoints; metrics: MMPose's DWPose README (whole-body AP / AR).
    MMPoseCheckpoint(
        name="dwpose_m_wholebody_256x192",
        description="DWPose-m (RTMPose-m distilled), COCO-WholeBody 133, 256x192 (MMPose)",
        url=_RTM + "rtmpose-m_simcc-ucoco_dw-ucoco_270e-256x192-c8b76419_20230728.pth", sha256="c8b76419",
        config="rtmpose-m_8xb64-270e_coco-ubody-wholebody-256x192",
        metrics={"wholebody_ap": 0.606, "wholebody_ar": 0.695}, args={"size": "m"}, codec=_CODEC, flip="flip_test",
        skeleton=skeletons.coco_wholebody133, task="wholebody", notes=_DW_NOTE,
    ),
    MMPoseCheckpoint(
        name="dwpose_l_wholebody_256x192",
        description="DWPose-l (RTMPose-l distilled), COCO-WholeBody 133, 256x192 (MMPose)",
        url=_RTM + "rtmpose-l_simcc-ucoco_dw-ucoco_270e-256x192-4d6dfc62_20230728.pth", sha256="4d6dfc62",
        config="rtmpose-l_8xb64-270e_coco-ubody-wholebody-256x192",
        metrics={"wholebody_ap": 0.631, "wholebody_ar": 0.717}, args={"size": "l"}, codec=_CODEC, flip="flip_test",
        skeleton=skeletons.coco_wholebody133, task="wholebody", notes=_DW_NOTE,
    ),
    MMPoseCheckpoint(
        name="dwpose_l_wholebody_384x288",
        description="DWPose-l (RTMPose-l distilled), COCO-WholeBody 133, 384x288 (MMPose; DWPose's ControlNet model)",
        url=_RTM + "rtmpose-l_simcc-ucoco_dw-ucoco_270e-384x288-2438fd99_20230728.pth", sha256="2438fd99",
        config="rtmpose-l_8xb32-270e_coco-ubody-wholebody-384x288",
        metrics={"wholebody_ap": 0.665, "wholebody_ar": 0.743}, args={"size": "l", "input_size": (288, 384)},
        codec=_CODEC_384, flip="flip_test", input_size=(288, 384), skeleton=skeletons.coco_wholebody133,
        task="wholebody", notes=_DW_NOTE,
    ),
    # Hands (21 keypoints); metrics: PCK@0.2 and AUC (fractions), EPE (pixels) on each config's test sets.
    MMPoseCheckpoint(
        name="rtmpose_m_hand5_256x256",
        description="RTMPose-m hand, Hand5 (COCO-WholeBody-Hand, OneHand10K, FreiHand, RHD, Halpe), 256x256 (MMPose)",
        url=_RTM + "rtmpose-m_simcc-hand5_pt-aic-coco_210e-256x256-74fb594_20230320.pth", sha256=None,
        config="rtmpose-m_8xb256-210e_hand5-256x256", metrics={"pck0.2": 0.964, "auc": 0.839, "epe": 5.06},
        args={"size": "m", "input_size": (256, 256)}, codec=_CODEC_256, flip="flip_test", input_size=(256, 256),
        skeleton=skeletons.hand21, task="hand",
        notes="The file name's tag 74fb594 has 7 hex digits, not a sha256 prefix of 8: no automatic download.",
    ),
    MMPoseCheckpoint(
        name="rtmpose_m_wholebody_hand_256x256",
        description="RTMPose-m hand, COCO-WholeBody-Hand, 256x256 (MMPose)",
        url=_RTM + "rtmpose-m_simcc-coco-wholebody-hand_pt-aic-coco_210e-256x256-99477206_20230228.pth",
        sha256="99477206", config="rtmpose-m_8xb32-210e_coco-wholebody-hand-256x256",
        metrics={"pck0.2": 0.815, "auc": 0.837, "epe": 4.51}, args={"size": "m", "input_size": (256, 256)},
        codec=_CODEC_256, flip="flip_test", input_size=(256, 256), skeleton=skeletons.hand21, task="hand",
        notes="Metrics from MMPose's model-zoo table (its metafile .yml swaps PCK@0.2 and AUC).",
    ),
    # Animals: AP-10K (17 keypoints); metric: AP on AP-10K val (COCO-style OKS with AP-10K's sigmas).
    MMPoseCheckpoint(
        name="rtmpose_m_ap10k_256x256",
        description="RTMPose-m, AP-10K animals (17 keypoints), 256x256 (MMPose)",
        url=_RTM + "rtmpose-m_simcc-ap10k_pt-aic-coco_210e-256x256-7a041aa1_20230206.pth", sha256="7a041aa1",
        config="rtmpose-m_8xb64-210e_ap10k-256x256", metrics={"ap10k_ap": 0.722},
        args={"size": "m", "input_size": (256, 256)}, codec=_CODEC_256, flip="flip_test", input_size=(256, 256),
        skeleton=skeletons.ap10k17, task="animal",
    ),
)


def _build(row: MMPoseCheckpoint) -> tuple[TopdownModel, TopdownSpec]:
    return rtmpose(**row.args, skeleton=row.skeleton)


MODELS: tuple[TopdownEntry, ...] = tuple(topdown_entry(row, _build) for row in CHECKPOINTS)
