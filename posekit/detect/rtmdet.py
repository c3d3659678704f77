"""RTMDet (MMDetection 3.x, :mod:`posekit.models.rtmdet`) as a posekit detector.

Pipeline (MMDet's test pipeline and ``DetDataPreprocessor`` of ``rtmdet_nano_320-8xb32_coco-person.py``):

1. :func:`preprocess`: the (H, W, 3) RGB uint8 image is resized keeping its aspect ratio so that it fits
   ``size`` x ``size`` (``scale = min(size / H, size / W)``, new size ``int(W * scale + 0.5)`` x
   ``int(H * scale + 0.5)``, bilinear), padded with 114 at the right/bottom to ``size`` x ``size``, and becomes a
   (3, size, size) float32 BGR tensor ``(v - MEAN_BGR) / STD_BGR``.
2. The network (:class:`~posekit.models.rtmdet.RTMDet`, run by a :class:`~posekit.runtime.runner.Runner`): per
   stride 8, 16, 32 class logits ``(B, C, size/s, size/s)`` and distances ``(B, 4, size/s, size/s)``.
3. :func:`flatten` + :func:`decode`: scores = sigmoid(logits); cell ``(x, y)`` of stride ``s`` has its prior at
   ``(x * s, y * s)`` (MMDet's ``MlvlPointGenerator``, offset 0) and its box is ``(px - l, py - t, px + r, py + b)``
   in network-input pixels.
4. :func:`postprocess`: (cell, class) pairs scoring ``>= score_threshold`` (at most ``pre_nms`` best),
   :func:`posekit.detect.nms.batched_nms` per class, the best ``max_detections``, boxes divided by the resize scale
   (image pixels, xyxy, origin at the top-left pixel's corner), clipped to the image, empty boxes dropped.

Defaults: NMS IoU 0.6 as the MMDeploy export of the MMPose person detector
(``../shared/weights/rtmdet_nano_320_person_end2end.onnx``: IoU 0.6, at most 5000 candidates before NMS, 100 after)
and score 0.3 (MMPose's ``bbox_thr`` for top-down demos; 39/44 persons of the 18 OpenPose examples at IoU >= 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from posekit.detect.boxes import check_image
from posekit.detect.dense import DenseDetector, Transform, dense_detections
from posekit.types import Detections

__all__ = ["MEAN_BGR", "PAD_VALUE", "STD_BGR", "STRIDES", "RTMDetDetector", "Transform", "decode", "flatten",
           "postprocess", "preprocess", "priors"]

STRIDES = (8, 16, 32)
PAD_VALUE = 114
MEAN_BGR = np.array([103.53, 116.28, 123.675])  # input = (BGR pixel - MEAN_BGR) / STD_BGR
STD_BGR = np.array([57.375, 57.12, 58.395])


def preprocess(image: np.ndarray, *, size: int = 320) -> tuple[np.ndarray, Transform]:
    """One (H, W, 3) RGB uint8 image -> ``(tensor (3, size, size) float32 normalised BGR, Transform)`` (see the module
    docstring, step 1). The input is not modified."""
    check_image(image)
    if size % 32:
        raise ValueError(f"size must be a multiple of 32 (RTMDet's largest stride), got {size}")
    h, w = image.shape[:2]
    scale = min(size / h, size / w)
    nw, nh = min(int(w * scale + 0.5), size), min(int(h * scale + 0.5), size)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    canvas[:nh, :nw] = resized
    tensor = (canvas[..., ::-1] - MEAN_BGR) / STD_BGR
    return np.ascontiguousarray(tensor.transpose(2, 0, 1), dtype=np.float32), Transform((nw / w, nh / h))


def priors(height: int, width: int, strides: Sequence[int] = STRIDES) -> np.ndarray:
    """(cells, 3) ``(x, y, stride)`` of every prior point in network-input pixels, levels concatenated stride 8 first,
    row-major within a level (cell ``(col, row)`` at ``(col * s, row * s)``)."""
    out = []
    for s in strides:
        rows, cols = -(-height // s), -(-width // s)
        row, col = np.divmod(np.arange(rows * cols), cols)
        out.append(np.stack([col * s, row * s, np.full(rows * cols, s)], axis=1).astype(np.float64))
    return np.concatenate(out)


def flatten(outputs: Sequence[np.ndarray], strides: Sequence[int] = STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """The network's ``2 * levels`` outputs (logits per level, then distances per level, NCHW) -> ``(scores (B, cells,
    C) sigmoid-ed, distances (B, cells, 4))``, levels concatenated, row-major cells (as :func:`priors`)."""
    n = len(strides)
    if len(outputs) != 2 * n:
        raise ValueError(f"RTMDet returns {2 * n} outputs (logits and distances per level), got {len(outputs)}")
    logits = [np.asarray(o, np.float32) for o in outputs[:n]]
    dists = [np.asarray(o, np.float32) for o in outputs[n:]]
    for lg, d in zip(logits, dists):
        if lg.ndim != 4 or d.shape != (lg.shape[0], 4, *lg.shape[2:]):
            raise ValueError(f"RTMDet logits (B, C, h, w) and distances (B, 4, h, w) disagree: {lg.shape} vs {d.shape}")
    flat = [np.concatenate([a.reshape(*a.shape[:2], -1).transpose(0, 2, 1) for a in arrays], axis=1)
            for arrays in (logits, dists)]
    return 1.0 / (1.0 + np.exp(-flat[0])), flat[1]


def decode(distances: np.ndarray, prior_points: np.ndarray) -> np.ndarray:
    """(N, 4) l, t, r, b distances and (N, >=2) prior points ``(x, y, ...)`` -> (N, 4) xyxy boxes (float64), all in
    network-input pixels."""
    d = np.asarray(distances, np.float64)
    p = np.asarray(prior_points, np.float64)[:, :2]
    if d.ndim != 2 or d.shape[1] != 4 or len(p) != len(d):
        raise ValueError(f"distances must have shape ({len(p)}, 4) to match the priors, got {d.shape}")
    return np.concatenate([p - d[:, :2], p + d[:, 2:]], axis=1)


def postprocess(scores: np.ndarray, distances: np.ndarray, prior_points: np.ndarray, *, image_size: tuple[int, int],
                transform: Transform, score_threshold: float, iou_threshold: float, classes: Sequence[int] | None,
                max_detections: int = 100, pre_nms: int = 5000) -> Detections:
    """One image: scores (cells, C), distances (cells, 4), priors (cells, 3) -> Detections in image pixels (boxes
    (N, 4) xyxy clipped to the image ``(width, height)``, scores, labels = class ids) by decreasing score."""
    scores = np.asarray(scores, np.float32)
    if scores.ndim != 2 or len(scores) != len(distances):
        raise ValueError(f"scores must have shape ({len(distances)}, C) to match distances, got {scores.shape}")
    return dense_detections(scores, lambda cells: decode(np.asarray(distances)[cells], np.asarray(prior_points)[cells]),
                            classes=classes, score_threshold=score_threshold, iou_threshold=iou_threshold,
                            max_detections=max_detections, pre_nms=pre_nms, image_size=image_size,
                            transform=transform)


class RTMDetDetector(DenseDetector):
    """RTMDet around a network run by a :class:`~posekit.runtime.runner.Runner`.

    ``detector(image)`` takes an (H, W, 3) RGB uint8 array and returns :class:`~posekit.types.Detections` in image
    pixels; :meth:`detect_batch` runs the network once for the batch.

    Args:
        module: NCHW ``(B, 3, size, size)`` float32 -> the six outputs (an :class:`~posekit.models.rtmdet.RTMDet`, an
            ``.onnx`` file of it for ONNX Runtime, or a ready runner).
        size: the network input side (320 for nano, 640 for the others).
        score_threshold, iou_threshold, max_detections, pre_nms: see :func:`postprocess`.
        classes: class ids to keep (``(0,)``: persons of COCO or of a person-only model; ``None``: all).
        precision, compile, channels_last, device: engine options; backend, backend_options: the runner's.
    """

    name = "rtmdet"

    def __init__(self, module: Any, *, size: int = 320, score_threshold: float = 0.3, iou_threshold: float = 0.6,
                 classes: Sequence[int] | None = (0,), max_detections: int = 100, pre_nms: int = 5000,
                 **engine: Any) -> None:
        if int(pre_nms) < 1:
            raise ValueError(f"pre_nms must be >= 1, got {pre_nms}")
        super().__init__(module, size=size, score_threshold=score_threshold, iou_threshold=iou_threshold,
                         classes=classes, max_detections=max_detections, **engine)
        self.priors = priors(self.size, self.size)
        self.pre_nms = int(pre_nms)

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Transform]:
        return preprocess(image, size=self.size)

    def decode(self, outputs: Any, image_sizes: list[tuple[int, int]], transforms: list[Transform]
               ) -> list[Detections]:
        scores, dists = flatten(outputs)
        if len(scores) != len(image_sizes) or scores.shape[1] != len(self.priors):
            raise ValueError(f"RTMDet network returned scores {scores.shape} for {len(image_sizes)} image(s) of "
                             f"{self.size}x{self.size} ({len(self.priors)} cells expected)")
        if self.classes is not None and max(self.classes) >= scores.shape[2]:
            raise ValueError(f"classes {self.classes} exceed the network's {scores.shape[2]} classes")
        return [postprocess(scores[i], dists[i], self.priors, image_size=size, transform=tf,
                            score_threshold=self.score_threshold, iou_threshold=self.iou_threshold,
                            classes=self.classes, max_detections=self.max_detections, pre_nms=self.pre_nms)
                for i, (size, tf) in enumerate(zip(image_sizes, transforms))]
