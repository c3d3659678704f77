"""MediaPipe's landmark models (BlazePose GHUM full, hand landmarks full/lite, face mesh) as registry entries.

Their weights are the pinned ``.tflite`` files of the ``mediapipe==0.10.14`` wheel: each asset (wheel member,
sha256, license) is a ``TFLiteAsset`` row of ``posekit.models.mediapipe_wheel``, which fetches, verifies, converts
and caches it (``posekit weights fetch`` on the command line). ``build_model`` returns the converted landmark
network (``device=``, ``wheel=`` a wheel already on disk); the end-to-end pipelines (detector + landmarks) of these
names are built by :mod:`posekit.pipelines.registry`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from posekit import skeletons
from posekit.models.mediapipe_wheel import (
    FACE_LANDMARK, HAND_LANDMARK_FULL, HAND_LANDMARK_LITE, POSE_DETECTION, POSE_LANDMARK_FULL, TFLiteAsset,
    load_mediapipe_module,
)
from posekit.models.registry import ModelEntry

__all__ = ["MODELS"]

_LICENSE = "Apache-2.0 (MediaPipe model cards)"


def _network(asset: TFLiteAsset) -> Callable[..., Any]:
    def build(*, device: str = "cpu", wheel: str | None = None) -> Any:
        return load_mediapipe_module(asset, wheel=wheel).to(device).eval()

    return build


MODELS: tuple[ModelEntry, ...] = (
    ModelEntry(
        "mediapipe", "detect", None,
        "MediaPipe's BlazePose person detector (face-anchored SSD, 224x224; BlazePose's own, MediaPipe 0.10.14)",
        _network(POSE_DETECTION), offline=True, license=_LICENSE,
    ),
    ModelEntry(
        "blazepose_full", "body", skeletons.blazepose33,
        "BlazePose GHUM full: person detector + 33 landmarks + 3D world landmarks (MediaPipe 0.10.14)",
        _network(POSE_LANDMARK_FULL), offline=True, license=_LICENSE,
    ),
    ModelEntry(
        "mediapipe_hand_full", "hand", skeletons.hand21,
        "MediaPipe palm detector (full) + 21 hand landmarks (full) with handedness",
        _network(HAND_LANDMARK_FULL), offline=True, license=_LICENSE,
    ),
    ModelEntry(
        "mediapipe_hand_lite", "hand", skeletons.hand21,
        "MediaPipe palm detector (lite) + 21 hand landmarks (lite) with handedness",
        _network(HAND_LANDMARK_LITE), offline=True, license=_LICENSE,
    ),
    ModelEntry(
        "mediapipe_face_mesh", "face", skeletons.mediapipe_face468,
        "MediaPipe face detector (short range) + 468-landmark face mesh",
        _network(FACE_LANDMARK), offline=True, license=_LICENSE,
    ),
)
