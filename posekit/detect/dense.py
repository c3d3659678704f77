"""What the dense (per-cell) detectors -- NanoDet, RTMDet, YOLOX -- share: :class:`DenseDetector` (options checked,
one runner, a batch of images per network run) and its last step :func:`dense_detections` ((cell, class) candidates
above a score, the best ``pre_nms`` of them, per-class NMS, boxes back to image pixels).

Network-input pixels relate to image pixels by :class:`Transform` (the image's top-left corner is the input's; any
letterbox padding is at the right/bottom).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from posekit.detect.boxes import check_image
from posekit.detect.nms import batched_nms
from posekit.runtime.runner import InputSpec, check_options, make_runner
from posekit.runtime.torch_runner import EngineOptions
from posekit.types import Detections

__all__ = ["DenseDetector", "Transform", "dense_detections"]


@dataclass(frozen=True)
class Transform:
    """Image pixels -> network input pixels: ``x_net = x_img * scale[0]``, ``y_net = y_img * scale[1]``."""

    scale: tuple[float, float]

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        """(N, 4) xyxy boxes in network-input pixels -> image pixels (float64)."""
        sx, sy = self.scale
        return np.asarray(boxes, np.float64) / np.array([sx, sy, sx, sy])


def dense_detections(scores: np.ndarray, boxes_of: Callable[[np.ndarray], np.ndarray], *,
                     classes: Sequence[int] | None, score_threshold: float, iou_threshold: float,
                     max_detections: int, pre_nms: int, image_size: tuple[int, int], transform: Transform
                     ) -> Detections:
    """One image's per-cell scores -> :class:`~posekit.types.Detections` in image pixels.

    Args:
        scores: (cells, C) scores in [0, 1] of each cell and class.
        boxes_of: ``cells (M,) int -> (M, 4)`` xyxy boxes of those cells in network-input pixels (decoded only for
            the candidates).
        classes: class ids (columns of ``scores``) to keep; ``None`` = all.
        score_threshold: keep (cell, class) pairs scoring ``>= score_threshold``; at most ``pre_nms`` best of them.
        iou_threshold: NMS per class (:func:`posekit.detect.nms.batched_nms`); at most ``max_detections`` after it.
        image_size: ``(width, height)`` of the image; transform: network input -> image pixels.

    Returns:
        Detections by decreasing score: boxes (N, 4) float32 xyxy image pixels clipped to the image (boxes empty after
        clipping dropped), scores (N,), labels (N,) class ids.
    """
    scores = np.asarray(scores, np.float32)
    cols = np.arange(scores.shape[1]) if classes is None else np.asarray(classes, np.int64)
    cell, which = np.nonzero(scores[:, cols] >= score_threshold)
    s = scores[cell, cols[which]]
    if len(s) > pre_nms:
        top = np.argsort(-s, kind="stable")[:pre_nms]
        cell, which, s = cell[top], which[top], s[top]
    boxes = boxes_of(cell)
    labels = cols[which]
    keep = batched_nms(boxes, s, labels, iou_threshold)[:max_detections]
    w, h = image_size
    out = np.clip(transform.to_image(boxes[keep]), 0.0, [w, h, w, h])
    ok = (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])
    return Detections(out[ok].astype(np.float32), s[keep][ok], labels[keep][ok])


class DenseDetector:
    """Base of the dense detectors: a network run by a :class:`~posekit.runtime.runner.Runner` on square
    ``(B, 3, size, size)`` inputs, ``detector(image) -> Detections`` and :meth:`detect_batch` (one network run for
    the batch). Subclasses set ``name`` and implement :meth:`preprocess` and :meth:`decode`; :meth:`check_input` may
    add their own image checks.

    Args:
        module: the network (a torch module, an ``.onnx`` file for ONNX Runtime, or a ready runner).
        size: the network input side in pixels.
        score_threshold, iou_threshold: in [0, 1]; max_detections: >= 1 (see :func:`dense_detections`).
        classes: class ids to keep (``None``: all), each in ``0 .. num_classes - 1`` (``num_classes=None``: any
            non-negative id).
        precision, compile, channels_last, device: engine options (:class:`~posekit.runtime.torch_runner.
            EngineOptions`); backend, backend_options: the runner's.
    """

    name = "detector"

    def __init__(self, module: Any, *, size: int, score_threshold: float, iou_threshold: float,
                 classes: Sequence[int] | None, max_detections: int, num_classes: int | None = None,
                 precision: str = "fp32", compile: bool = False, channels_last: bool | None = None,
                 device: str | torch.device | None = None, backend: str = "torch", **backend_options: Any) -> None:
        if not 0.0 <= float(score_threshold) <= 1.0:
            raise ValueError(f"score_threshold must lie in [0, 1], got {score_threshold}")
        if not 0.0 <= float(iou_threshold) <= 1.0:
            raise ValueError(f"iou_threshold must lie in [0, 1], got {iou_threshold}")
        if int(max_detections) < 1:
            raise ValueError(f"max_detections must be >= 1, got {max_detections}")
        if int(size) % 32 or int(size) < 32:
            raise ValueError(f"size must be a positive multiple of 32, got {size}")
        if classes is not None:
            classes = tuple(int(c) for c in classes)
            if num_classes is not None and (not classes or not all(0 <= c < num_classes for c in classes)):
                raise ValueError(f"classes must be COCO class ids in 0..{num_classes - 1} (or None for all), "
                                 f"got {classes}")
            if not classes or min(classes) < 0:
                raise ValueError(f"classes must be non-negative class ids (or None for all), got {classes}")
        options = EngineOptions.for_network(module, device=device, precision=precision, compile=compile,
                                            channels_last=channels_last, batch_size=None)
        check_options(backend, options)
        self.module = module
        self.size = int(size)
        self.runner = make_runner(module, backend=backend, options=options, name=self.name,
                                  input_spec=InputSpec.image(3, self.size, self.size),
                                  metadata={"posekit.network": "detector"}, **backend_options)
        self.score_threshold = float(score_threshold)
        self.iou_threshold = float(iou_threshold)
        self.classes = classes
        self.max_detections = int(max_detections)

    def check_input(self, image: object, what: str = "image") -> np.ndarray:
        """``image`` when the detector can take it (:func:`posekit.detect.boxes.check_image`), else ``ValueError``."""
        return check_image(image, what)

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Transform]:
        """One checked image -> ``(network input (3, size, size) float32, Transform)``."""
        raise NotImplementedError

    def decode(self, outputs: Any, image_sizes: list[tuple[int, int]], transforms: list[Transform]
               ) -> list[Detections]:
        """The runner's outputs for a batch -> Detections per image (``image_sizes``: ``(width, height)``)."""
        raise NotImplementedError

    def __call__(self, image: np.ndarray) -> Detections:
        return self.detect_batch([self.check_input(image)])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """Detections for each of ``images`` ((H, W, 3) RGB uint8 arrays, any sizes), one network run."""
        if isinstance(images, np.ndarray) and images.ndim == 4:
            images = list(images)
        images = [self.check_input(im, f"images[{i}]") for i, im in enumerate(images)]
        if not images:
            return []
        prepared = [self.preprocess(im) for im in images]
        outputs = self.runner(np.stack([t for t, _ in prepared]))
        return self.decode(outputs, [(im.shape[1], im.shape[0]) for im in images], [tf for _, tf in prepared])
