"""RTMO's official checkpoints as data and their registry entries (``rtmo_s``, ``rtmo_m``, ``rtmo_l``); the network
is :mod:`posekit.models.rtmo`, imported when one is built (``posekit models`` lists them without it).

* :data:`CHECKPOINTS` -- one :class:`~posekit.models.mmpose_zoo.MMPoseCheckpoint` row per official file (MMPose
  ``configs/body_2d_keypoint/rtmo/coco/rtmo_coco.yml``; sha256 = the 8-hex prefix in the file name).
* :data:`MODELS` -- registry entries (task ``body``, skeleton coco17):
  ``build_model(weights=None, pretrained=False, check_sha256=False, device="cpu")`` returns the network.
"""

from __future__ import annotations

from typing import Any

from posekit import skeletons
from posekit.models.mmpose_zoo import MMPoseCheckpoint
from posekit.models.registry import ModelEntry
from posekit.models.weights import fetch_pretrained

__all__ = ["CHECKPOINTS", "MODELS"]

_URL = "https://download.openmmlab.com/mmpose/v1/projects/rtmo/"
_CODEC = "RTMO: YOLOX-style boxes + dynamic coordinate classification (192 x / 256 y bins), score 0.1, NMS 0.65"
_NOTES = ("BGR 0-255 input (mean 0, std 1), image resized to fit 640x640 and centred, padded with 114. AP as listed "
          "in MMPose's rtmo_coco.yml, whose 'Dataset' field says CrowdPose although these configs train and test on "
          "COCO (train2017 / val2017).")


def _row(variant: str, config: str, tag: str, ap: float) -> MMPoseCheckpoint:
    return MMPoseCheckpoint(
        name=f"rtmo_{variant}", description=f"RTMO-{variant} one-stage multi-person, 640x640, COCO val AP {ap:.3f}",
        url=f"{_URL}{config}-{tag}_20231211.pth", sha256=tag, config=config, metrics={"coco_ap": ap},
        args={"variant": variant}, codec=_CODEC, flip="none", input_size=(640, 640), skeleton=skeletons.coco17,
        mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), notes=_NOTES)


#: the official checkpoints (MMPose ``rtmo_coco.yml``); sha256 = the 8-hex prefix in the file name.
CHECKPOINTS: tuple[MMPoseCheckpoint, ...] = (
    _row("s", "rtmo-s_8xb32-600e_coco-640x640", "8db55a59", 0.673),
    _row("m", "rtmo-m_16xb16-600e_coco-640x640", "6f4e0306", 0.709),
    _row("l", "rtmo-l_16xb16-600e_coco-640x640", "516a421f", 0.724),
)


def _builder(row: MMPoseCheckpoint) -> Any:
    spec = row.weights_spec()

    def build_model(*, weights: Any = None, pretrained: bool = False, check_sha256: bool = False,
                    device: str = "cpu") -> Any:
        """The network in eval mode. ``weights``: an official checkpoint file, loaded strictly
        (``check_sha256=True`` also checks the official hash prefix); without it ``pretrained=True`` fetches the
        official file (offline: an error naming the URL and ``--weights``), else random initialisation."""
        from posekit.models.rtmo import load_rtmo_weights, rtmo

        model = rtmo(row.args["variant"])
        if weights is None and pretrained:
            weights = fetch_pretrained(spec, what=row.name)
        if weights is not None:
            load_rtmo_weights(model, weights, sha256=spec.sha256 if check_sha256 else None)
        return model.to(device).eval()

    return build_model


#: registry entries (task ``body``, skeleton coco17): ``build_model(weights=None, pretrained=False, device="cpu")``.
MODELS: tuple[ModelEntry, ...] = tuple(
    ModelEntry(row.name, "body", row.skeleton, row.description, _builder(row), offline=False,
               license="Apache-2.0 (OpenMMLab model zoo)", weights=row.weights_spec())
    for row in CHECKPOINTS)
