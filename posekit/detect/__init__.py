"""Detectors: an (H, W, 3) RGB uint8 image in, :class:`~posekit.types.Detections` (image pixels) out.

The protocol (:class:`Detector`): ``detector(image) -> Detections`` and ``detector.detect_batch(images) ->
list[Detections]`` (one network run for the whole batch where the backend has a network).

Backends:

* :class:`~posekit.detect.mediapipe.MediaPipeDetector` -- MediaPipe's SSD detectors, built by
  :func:`blazepose_detector` (persons), :func:`palm_detector` and :func:`face_detector`;
* :class:`~posekit.detect.boxes.FixedBoxes` (caller-given boxes) and :class:`~posekit.detect.boxes.BoxesFromFile`
  (COCO-style detections JSON; called as ``detector(image, key=image_id_or_file_name)``);
* :class:`~posekit.detect.lazy.LazyDetector`: any of them, built on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from posekit.detect.boxes import BoxesFromFile, FixedBoxes
from posekit.detect.lazy import LazyDetector
from posekit.detect.mediapipe import MediaPipeDetector, blazepose_detector, face_detector, palm_detector
from posekit.types import Detections

__all__ = [
    "Detector", "MediaPipeDetector", "blazepose_detector", "palm_detector", "face_detector", "FixedBoxes",
    "BoxesFromFile", "LazyDetector",
]


@runtime_checkable
class Detector(Protocol):
    """Anything that finds boxes in an (H, W, 3) RGB uint8 image."""

    def __call__(self, image: np.ndarray) -> Detections: ...

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]: ...
