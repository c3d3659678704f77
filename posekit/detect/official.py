"""Detectors from official checkpoints (:mod:`posekit.models.detector_zoo`): RTMDet and YOLOX by registry name."""

from __future__ import annotations

import os
from typing import Any

from posekit.detect.dense import DenseDetector
from posekit.detect.rtmdet import RTMDetDetector
from posekit.detect.yolox import YOLOXDetector
from posekit.models.detector_zoo import build_detector_network, detector_checkpoint

__all__ = ["official_detector"]

_DETECTORS: dict[str, type[DenseDetector]] = {"rtmdet": RTMDetDetector, "yolox": YOLOXDetector}


def official_detector(name: str, *, weights: str | os.PathLike[str] | None = None, pretrained: bool = True,
                      check_sha256: bool = False, device: str = "cpu", backend: str = "torch",
                      **options: Any) -> DenseDetector:
    """The detector registered as ``name`` (``"rtmdet_nano_person"``, ``"yolox_s"``, ...; ``posekit models --task
    detect``) with its official weights.

    Args:
        name: a row of :data:`posekit.models.detector_zoo.CHECKPOINTS`.
        weights: path to the official checkpoint (loaded strictly, ``weights_only=True``). Without it the official
            file is downloaded into the cache on first use (``pretrained=True``; offline: an error naming the URL and
            ``weights=``) or, with ``pretrained=False``, the network keeps random weights (tests, benchmarks).
        check_sha256: also check ``weights`` against the pinned hash.
        device, backend: where and how the network runs (``"torch"`` or ``"onnxruntime"``).
        options: the detector's own (:class:`~posekit.detect.rtmdet.RTMDetDetector` /
            :class:`~posekit.detect.yolox.YOLOXDetector`: ``score_threshold=`` (0.3), ``iou_threshold=``,
            ``classes=`` (default ``(0,)``: persons; ``None``: every class of a COCO-80 model), ``max_detections=``,
            ``size=`` (default: the size the model was trained at), engine and back-end options).

    Returns a detector: ``detector(image) -> Detections`` (boxes xyxy in image pixels, scores, COCO class ids).
    """
    row = detector_checkpoint(name)
    network = build_detector_network(row, weights=weights, pretrained=pretrained and weights is None,
                                     check_sha256=check_sha256, device=device)
    options.setdefault("size", row.input_size)
    return _DETECTORS[row.family](network, device=device, backend=backend, **options)
