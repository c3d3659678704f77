"""The 2D -> 3D lifters' public names (registered by :mod:`posekit.models.registry`).

* ``simplebaseline3d_h36m`` -- :func:`posekit.models.lifters.mlp.simplebaseline3d`, one frame.
* ``videopose3d_{27,81,243}f_h36m`` -- :func:`posekit.models.lifters.temporal.videopose3d` with that receptive
  field (frames).

No pretrained file is downloaded: MMPose's Human3.6M weights are research-only, so ``weights=`` takes a local
official checkpoint (MMPose 1.x / 0.x or original VideoPose3D layout). Torch loads when a model is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from posekit import skeletons
from posekit.models.registry import ModelEntry

__all__ = ["MODELS"]

_LICENSE = "MMPose (Apache-2.0) weights trained on Human3.6M: research use only"


def _simplebaseline3d(**kwargs: Any) -> Any:
    from posekit.models.lifters.mlp import simplebaseline3d

    return simplebaseline3d(**kwargs)


def _videopose3d(receptive_field: int) -> Callable[..., Any]:
    def build(**kwargs: Any) -> Any:
        from posekit.models.lifters.temporal import videopose3d

        return videopose3d(receptive_field=receptive_field, **kwargs)

    return build


MODELS: tuple[ModelEntry, ...] = (
    ModelEntry(
        "simplebaseline3d_h36m", "lift3d", skeletons.h36m17,
        "SimpleBaseline3D residual MLP, 1 frame -> root-relative 3D (MMPose layout; weights=official .pth)",
        _simplebaseline3d, license=_LICENSE,
    ),
    *(ModelEntry(
        f"videopose3d_{rf}f_h36m", "lift3d", skeletons.h36m17,
        f"VideoPose3D dilated temporal convolutions, {rf}-frame window -> root-relative 3D",
        _videopose3d(rf), license=_LICENSE,
    ) for rf in (27, 81, 243)),
)
