"""Detectors: an (H, W, 3) RGB uint8 image in, :class:`~posekit.types.Detections` (image pixels) out.

The protocol (:class:`Detector`): ``detector(image) -> Detections`` and ``detector.detect_batch(images) ->
list[Detections]`` (one network run for the whole batch where the backend has a network).

Build one by its registry name with :func:`create_detector` (``posekit.list_models(task="detect")``:
``"nanodet"``, the default person detector of the top-down pipelines, ``"mediapipe"``, BlazePose's
face-anchored detector, and the official-checkpoint detectors ``"rtmdet_nano_person"``, ``"rtmdet_m_person"``,
``"rtmdet_{tiny,s,m,l}"``, ``"yolox_{nano,tiny,s,m,l,x}"``). Backends:

* :class:`~posekit.detect.nanodet.NanoDetDetector` -- NanoDet (COCO 80 classes, persons by default) from npm;
* :class:`~posekit.detect.rtmdet.RTMDetDetector` and :class:`~posekit.detect.yolox.YOLOXDetector` -- RTMDet
  (MMDetection) and YOLOX (Megvii) on official checkpoints, built by :func:`official_detector`;
* :class:`~posekit.detect.mediapipe.MediaPipeDetector` -- MediaPipe's SSD detectors, built by
  :func:`blazepose_detector` (persons), :func:`palm_detector` and :func:`face_detector`;
* :class:`~posekit.detect.boxes.FixedBoxes` (caller-given boxes) and :class:`~posekit.detect.boxes.BoxesFromFile`
  (COCO-style detections JSON; called as ``detector(image, key=image_id_or_file_name)``);
* :class:`~posekit.detect.lazy.LazyDetector`: any of them, built on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol, runtime_checkable

import numpy as np

from posekit.detect.boxes import BoxesFromFile, FixedBoxes
from posekit.detect.lazy import LazyDetector
from posekit.detect.mediapipe import MediaPipeDetector, blazepose_detector, face_detector, palm_detector
from posekit.detect.nanodet import NanoDetDetector, nanodet_detector
from posekit.detect.official import official_detector
from posekit.detect.rtmdet import RTMDetDetector
from posekit.detect.yolox import YOLOXDetector
from posekit.models.detector_zoo import CHECKPOINTS
from posekit.models.registry import get_entry, list_models
from posekit.types import Detections

__all__ = [
    "Detector", "create_detector", "NanoDetDetector", "nanodet_detector", "RTMDetDetector", "YOLOXDetector",
    "official_detector", "MediaPipeDetector", "blazepose_detector", "palm_detector", "face_detector", "FixedBoxes",
    "BoxesFromFile", "LazyDetector",
]

# The builder of each detector registered (task "detect") in posekit.models.registry, by its registry name.
_BUILDERS: dict[str, Callable[..., Any]] = {
    "nanodet": nanodet_detector, "mediapipe": blazepose_detector,
    **{row.name: partial(official_detector, row.name) for row in CHECKPOINTS},
}


@runtime_checkable
class Detector(Protocol):
    """Anything that finds boxes in an (H, W, 3) RGB uint8 image."""

    def __call__(self, image: np.ndarray) -> Detections: ...

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]: ...


def create_detector(name: str, **options: Any) -> Detector:
    """The person detector registered as ``name`` (``posekit.list_models(task="detect")``), with its pretrained
    weights (fetched and converted on first use).

    ``options`` go to its builder: ``device=``, ``backend=`` (``"torch"`` or ``"onnxruntime"``) and the back end's
    own options for every detector, plus each one's own (:func:`~posekit.detect.nanodet.nanodet_detector`:
    ``score_threshold=``, ``iou_threshold=``, ``classes=``, ...; :func:`~posekit.detect.mediapipe.blazepose_detector`:
    ``min_score=``, ...; :func:`~posekit.detect.official.official_detector`: ``weights=`` the official checkpoint
    file, ...). ``KeyError`` (with the closest names) for an unknown name, ``ValueError`` for a registered
    name that is not a detector.
    """
    entry = get_entry(name)
    if entry.task != "detect" or name not in _BUILDERS:
        raise ValueError(f"{name!r} is a {entry.task} model, not a person detector; detectors: "
                         f"{', '.join(list_models(task='detect'))}")
    return _BUILDERS[name](**options)
