"""RTMW (RTMPose-Wholebody, MMPose 1.3.2, ``configs/wholebody_2d_keypoint/rtmpose/cocktail14``): 133 COCO-WholeBody
keypoints from a CSPNeXt backbone (strides 8, 16, 32) + MMPose's CSPNeXtPAFPN neck (levels at strides 16 and 32,
no output convs) + the two-level RTMW SimCC head; SimCC split ratio 2, standard crops, flip test.

* :func:`rtmw` -- the builder: ``(TopdownModel, TopdownSpec)``.
* :data:`CHECKPOINTS` -- the official checkpoints of the five cocktail14 configs, one
  :class:`~posekit.models.mmpose_zoo.MMPoseCheckpoint` row per public name (metrics: COCO-WholeBody val with the
  model-zoo person detector, as fractions, from ``rtmw_cocktail14.yml``).
* :data:`MODELS` -- their registry entries (:func:`posekit.create_model` builds them).

The RTMW-m and RTMW-l files (``rtmw-dw-...-20231122.pth``, distilled) carry no hash in their names: those rows have
``sha256=None`` (no automatic download; pass ``weights=`` a local copy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from posekit import skeletons
from posekit.models.mmpose_zoo import (
    MMPOSE_URL,
    MMPoseCheckpoint,
    TopdownEntry,
    topdown_entry,
)
from posekit.models.rtmpose import SIMCC_SIGMAS
from posekit.skeletons import Skeleton

if TYPE_CHECKING:
    from posekit.models.topdown import TopdownModel, TopdownSpec

__all__ = ["CHECKPOINTS", "MODELS", "RTMW_FACTORS", "RTMW_SIGMAS", "rtmw"]

# (deepen_factor, widen_factor) of the CSPNeXt backbone of RTMW-m/l/x (the configs').
RTMW_FACTORS: dict[str, tuple[float, float]] = {"m": (0.67, 0.75), "l": (1.0, 1.0), "x": (1.33, 1.25)}
# SimCC label sigma (x, y) per model input (w, h), as the configs set it (the 384x288 configs also decode a
# visibility: ``decode_visibility=True``, which leaves keypoints and scores unchanged).
RTMW_SIGMAS: dict[tuple[int, int], tuple[float, float]] = {k: SIMCC_SIGMAS[k] for k in ((192, 256), (288, 384))}


def rtmw(size: str = "l", *, input_size: tuple[int, int] = (192, 256),
         skeleton: Skeleton = skeletons.coco_wholebody133) -> tuple[TopdownModel, TopdownSpec]:
    """RTMW-``size`` (``m``/``l``/``x``) at ``input_size`` ``(w, h)`` pixels ((192, 256) or (288, 384)).

    Backbone CSPNeXt (``out_indices=(2, 3, 4)``), neck CSPNeXtPAFPN (``out_channels=None``, ``out_indices=(1,
    2)``, 2 CSP blocks), head RTMWHead (kernel 7, GAU 256 / s 128 / x2 / SiLU), codec SimCC (split 2, no
    normalisation, sigma per input size; at 384x288 also ``decode_visibility``), flip test, ImageNet mean/std on
    RGB 0-255.
    """
    from posekit.codecs import SimCC
    from posekit.models.backbones.cspnext import cspnext
    from posekit.models.heads.rtmw import RTMWHead
    from posekit.models.necks.cspnext_pafpn import CSPNeXtPAFPN
    from posekit.models.topdown import TopdownModel, TopdownSpec

    if size not in RTMW_FACTORS:
        raise ValueError(f"size must be one of {sorted(RTMW_FACTORS)}, got {size!r}")
    w, h = (int(v) for v in input_size)
    if (w, h) not in RTMW_SIGMAS:
        raise ValueError(f"input_size must be one of {sorted(RTMW_SIGMAS)} (w, h), got {tuple(input_size)!r}")
    deepen, widen = RTMW_FACTORS[size]
    channels = [int(c * widen) for c in (256, 512, 1024)]
    backbone = cspnext(deepen, widen, out_indices=(2, 3, 4))
    neck = CSPNeXtPAFPN(channels, out_indices=(1, 2), num_csp_blocks=2)
    head = RTMWHead(channels[-1], skeleton.num_keypoints, (w, h), (w // 32, h // 32), simcc_split_ratio=2.0,
                    final_layer_kernel_size=7, hidden_dims=256, s=128, expansion_factor=2, act="silu")
    codec = SimCC((w, h), sigma=RTMW_SIGMAS[(w, h)], simcc_split_ratio=2.0, normalize=False, use_dark=False,
                  decode_visibility=(w, h) == (288, 384))
    return TopdownModel(backbone, head, neck=neck), TopdownSpec(codec, skeleton)


_RTMW = MMPOSE_URL + "v1/projects/rtmw/"
_CODEC = "SimCC(({w}, {h}), sigma={sigma}, split 2.0, normalize=False{vis})"
_DW_NOTE = ("distilled checkpoint (rtmw-dw-*); the official file name carries no hash, so nothing is downloaded "
            "automatically: pass weights= a local copy")


def _row(name: str, size: str, input_size: tuple[int, int], config: str, url: str, sha256: str | None,
         metrics: dict[str, float]) -> MMPoseCheckpoint:
    w, h = input_size
    return MMPoseCheckpoint(
        name=name, task="wholebody",
        description=f"RTMW-{size} (CSPNeXt + PAFPN + SimCC), COCO-WholeBody 133 keypoints (Cocktail14), "
                    f"{h}x{w} (MMPose)",
        url=_RTMW + url, sha256=sha256, config=config, metrics=metrics, args={"size": size, "input_size": input_size},
        codec=_CODEC.format(w=w, h=h, sigma=RTMW_SIGMAS[input_size],
                            vis=", decode_visibility=True" if h == 384 else ""),
        flip="flip_test", input_size=input_size,
        skeleton=skeletons.coco_wholebody133, notes="" if sha256 else _DW_NOTE,
    )


def _metrics(whole_ap: float, whole_ar: float, body: float, foot: float, face: float, hand: float) -> dict[str, float]:
    return {"wholebody_ap": whole_ap, "wholebody_ar": whole_ar, "body_ap": body, "foot_ap": foot, "face_ap": face,
            "hand_ap": hand}


# One row per public name; metrics: COCO-WholeBody val (rtmw_cocktail14.yml: Whole AP/AR, Body/Foot/Face/Hand AP).
CHECKPOINTS: tuple[MMPoseCheckpoint, ...] = (
    _row("rtmw_m_wholebody_256x192", "m", (192, 256), "rtmw-m_8xb1024-270e_cocktail14-256x192",
         "rtmw-dw-l-m_simcc-cocktail14_270e-256x192-20231122.pth", None,
         _metrics(0.582, 0.673, 0.676, 0.671, 0.783, 0.491)),
    _row("rtmw_l_wholebody_256x192", "l", (192, 256), "rtmw-l_8xb1024-270e_cocktail14-256x192",
         "rtmw-dw-x-l_simcc-cocktail14_270e-256x192-20231122.pth", None,
         _metrics(0.660, 0.746, 0.743, 0.763, 0.834, 0.598)),
    _row("rtmw_x_wholebody_256x192", "x", (192, 256), "rtmw-x_8xb704-270e_cocktail14-256x192",
         "rtmw-x_simcc-cocktail14_pt-ucoco_270e-256x192-13a2546d_20231208.pth", "13a2546d",
         _metrics(0.672, 0.752, 0.746, 0.770, 0.844, 0.610)),
    _row("rtmw_l_wholebody_384x288", "l", (288, 384), "rtmw-l_8xb320-270e_cocktail14-384x288",
         "rtmw-dw-x-l_simcc-cocktail14_270e-384x288-20231122.pth", None,
         _metrics(0.701, 0.780, 0.761, 0.793, 0.884, 0.663)),
    _row("rtmw_x_wholebody_384x288", "x", (288, 384), "rtmw-x_8xb320-270e_cocktail14-384x288",
         "rtmw-x_simcc-cocktail14_pt-ucoco_270e-384x288-f840f204_20231122.pth", "f840f204",
         _metrics(0.702, 0.781, 0.763, 0.796, 0.884, 0.664)),
)


def _build(row: MMPoseCheckpoint) -> tuple[TopdownModel, TopdownSpec]:
    return rtmw(**row.args, skeleton=row.skeleton)


MODELS: tuple[TopdownEntry, ...] = tuple(topdown_entry(row, _build) for row in CHECKPOINTS)
