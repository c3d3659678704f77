"""The model table: every public model name, its skeleton and how to build it.

Builders import their family lazily so that ``import posekit`` stays light.
"""

from __future__ import annotations

from typing import Any

from posekit import skeletons
from posekit.models._registry import ModelEntry


def _mediapipe_module(asset_name: str) -> Any:
    def build(*, device: str = "cpu", wheel: str | None = None) -> Any:
        from posekit.models import _weights

        return _weights.load_mediapipe_module(getattr(_weights, asset_name), wheel=wheel).to(device).eval()

    return build


def _blazepose_full(**kwargs: Any) -> Any:
    from posekit.pipelines.mediapipe import blazepose_full

    return blazepose_full(**kwargs)


def _hand(variant: str) -> Any:
    def build(**kwargs: Any) -> Any:
        from posekit.pipelines.mediapipe import mediapipe_hand

        return mediapipe_hand(variant=variant, **kwargs)

    return build


def _face_mesh(**kwargs: Any) -> Any:
    from posekit.pipelines.mediapipe import mediapipe_face_mesh

    return mediapipe_face_mesh(**kwargs)


_MP_LICENSE = "Apache-2.0 (MediaPipe model cards)"

MODELS: tuple[ModelEntry, ...] = (
    ModelEntry(
        "blazepose_full", "body", skeletons.blazepose33,
        "BlazePose GHUM full: person detector + 33 landmarks + 3D world landmarks (MediaPipe 0.10.14)",
        _mediapipe_module("POSE_LANDMARK_FULL"), _blazepose_full, offline=True, license=_MP_LICENSE,
    ),
    ModelEntry(
        "mediapipe_hand_full", "hand", skeletons.hand21,
        "MediaPipe palm detector (full) + 21 hand landmarks (full) with handedness",
        _mediapipe_module("HAND_LANDMARK_FULL"), _hand("full"), offline=True, license=_MP_LICENSE,
    ),
    ModelEntry(
        "mediapipe_hand_lite", "hand", skeletons.hand21,
        "MediaPipe palm detector (lite) + 21 hand landmarks (lite) with handedness",
        _mediapipe_module("HAND_LANDMARK_LITE"), _hand("lite"), offline=True, license=_MP_LICENSE,
    ),
    ModelEntry(
        "mediapipe_face_mesh", "face", skeletons.mediapipe_face468,
        "MediaPipe face detector (short range) + 468-landmark face mesh",
        _mediapipe_module("FACE_LANDMARK"), _face_mesh, offline=True, license=_MP_LICENSE,
    ),
)
