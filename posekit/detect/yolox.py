"""YOLOX (Megvii-BaseDetection/YOLOX, :mod:`posekit.models.yolox`) as a posekit detector.

Pipeline, step by step (as the official ``yolox/data/data_augment.py:preproc`` and ``YOLOXHead.decode_outputs``):

1. :func:`preprocess`: the (H, W, 3) RGB uint8 image becomes BGR, is resized by ``r = min(size / H, size / W)`` to
   ``(int(W * r), int(H * r))`` (OpenCV ``INTER_LINEAR``), and placed at the top-left corner of a ``size`` x
   ``size`` canvas filled with 114; a (3, size, size) float32 tensor of BGR 0-255 values, no normalisation.
2. The network: NCHW ``(B, 3, size, size)`` in, ``(B, cells, 85)`` out: per cell (stride 8, 16, 32 levels in this
   order, row-major cells: cell ``i`` of an ``n`` x ``n`` level is column ``i % n``, row ``i // n``)
   ``[dx, dy, log w, log h, objectness, 80 class scores]``, objectness and classes already sigmoid-ed (checked
   on the official ``yolox_nano.onnx``, whose output is this same tensor).
3. :func:`decode`: centre ``((dx, dy) + (col, row)) * stride``, size ``exp(log w, log h) * stride``, in input
   pixels, as xyxy.
4. :func:`postprocess`: the score of (cell, class) is ``objectness * class score``; every pair of a kept class
   scoring ``>= score_threshold`` is a candidate (at most ``pre_nms`` best); :func:`posekit.detect.nms.batched_nms`
   per class; the best ``max_detections``; boxes divided by ``r`` (image pixels, xyxy, origin at the top-left
   pixel's corner) and clipped to the image; boxes empty after clipping are dropped. (The official postprocess
   keeps only each cell's best class; with ``classes=(0,)`` a cell whose best class is not person can still give
   a person box here.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch

from posekit.detect.boxes import check_image
from posekit.detect.dense import DenseDetector, Transform, dense_detections
from posekit.runtime.runner import check_options
from posekit.runtime.torch_runner import EngineOptions
from posekit.types import Detections

__all__ = ["NUM_CLASSES", "PAD_VALUE", "STRIDES", "Transform", "YOLOXDetector", "decode", "postprocess",
           "preprocess", "yolox_detector"]

STRIDES = (8, 16, 32)
NUM_CLASSES = 80
PAD_VALUE = 114


def _check_input(image: object, what: str = "image") -> np.ndarray:
    """The RGB uint8 checks of the other detectors, plus a minimum size of 2 pixels a side."""
    check_image(image, what)
    if min(image.shape[:2]) < 2:
        raise ValueError(f"{what} is {image.shape[1]}x{image.shape[0]} (width x height) pixels; YOLOX needs at least "
                         "2 pixels on each side")
    return image


def preprocess(image: np.ndarray, size: int = 416) -> tuple[np.ndarray, Transform]:
    """One (H, W, 3) RGB uint8 image -> ``(tensor (3, size, size) float32 BGR 0-255, Transform)`` (see the module
    docstring, step 1). The input is not modified."""
    _check_input(image)
    if size <= 0 or size % 32:
        raise ValueError(f"size must be a positive multiple of 32, got {size}")
    h, w = image.shape[:2]
    r = min(size / h, size / w)
    nw, nh = max(int(w * r), 1), max(int(h * r), 1)
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    canvas[:nh, :nw] = cv2.resize(np.ascontiguousarray(image[..., ::-1]), (nw, nh), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(canvas.transpose(2, 0, 1), dtype=np.float32), Transform((r, r))


def _grid(size: int, strides: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(cells, 2) cell (col, row) of all levels concatenated and (cells,) their strides."""
    cols_rows, steps = [], []
    for s in strides:
        n = size // s
        row, col = np.divmod(np.arange(n * n), n)
        cols_rows.append(np.stack([col, row], axis=1))
        steps.append(np.full(n * n, s, np.float64))
    return np.concatenate(cols_rows).astype(np.float64), np.concatenate(steps)


def decode(boxes: np.ndarray, *, size: int = 416, strides: Sequence[int] = STRIDES,
           cells: np.ndarray | None = None) -> np.ndarray:
    """YOLOX grid decoding: (cells, >= 4) raw outputs (only the first 4 columns are read: dx, dy, log w, log h) of
    a ``size`` x ``size`` input -> (cells, 4) float64 xyxy boxes in input pixels; ``cells``: decode only these (M,)
    cell indices, giving (M, 4)."""
    raw = np.asarray(boxes, np.float64)
    grid, steps = _grid(size, strides)
    if raw.ndim != 2 or raw.shape[0] != len(grid) or raw.shape[1] < 4:
        raise ValueError(f"boxes must have shape ({len(grid)}, >= 4) for a {size} input and strides "
                         f"{tuple(strides)}, got {raw.shape}")
    if cells is not None:
        cells = np.asarray(cells, np.int64)
        raw, grid, steps = raw[cells], grid[cells], steps[cells]
    centre = (raw[:, :2] + grid) * steps[:, None]
    half = np.exp(raw[:, 2:4]) * steps[:, None] / 2
    return np.concatenate([centre - half, centre + half], axis=1)


def postprocess(output: np.ndarray, *, image_size: tuple[int, int], transform: Transform, score_threshold: float,
                iou_threshold: float, size: int = 416, classes: Sequence[int] | None = (0,),
                max_detections: int = 100, pre_nms: int = 1000) -> Detections:
    """One image's raw output -> :class:`~posekit.types.Detections` in image pixels.

    Args:
        output: (cells, 5 + 80) network output for a ``size`` x ``size`` input (module docstring, step 2).
        image_size: the image ``(width, height)`` in pixels; transform: from :func:`preprocess`.
        score_threshold: keep (cell, class) pairs with ``objectness * class score >= score_threshold``;
        iou_threshold: NMS, per class. classes: COCO class ids (0..79) to keep; ``None`` = all 80.
        max_detections: at most this many boxes after NMS; pre_nms: at most this many candidates before it.

    Returns:
        Detections by decreasing score: boxes (N, 4) xyxy image pixels clipped to the image, scores (N,),
        labels (N,) COCO class ids (0 = person).
    """
    out = np.asarray(output, np.float32)
    if out.ndim != 2 or out.shape[1] != 5 + NUM_CLASSES:
        raise ValueError(f"output must have shape (cells, {5 + NUM_CLASSES}), got {out.shape}")
    return dense_detections(out[:, 4:5] * out[:, 5:], lambda cells: decode(out, size=size, cells=cells),
                            classes=classes, score_threshold=score_threshold, iou_threshold=iou_threshold,
                            max_detections=max_detections, pre_nms=pre_nms, image_size=image_size,
                            transform=transform)


class YOLOXDetector(DenseDetector):
    """YOLOX around a network run by a :class:`~posekit.runtime.runner.Runner`.

    ``detector(image)`` takes an (H, W, 3) RGB uint8 array and returns :class:`~posekit.types.Detections` in image
    pixels; :meth:`detect_batch` runs the network once for the batch.

    Args:
        module: NCHW ``(B, 3, size, size)`` float32 BGR 0-255 -> ``(B, cells, 85)`` (a
            :class:`~posekit.models.yolox.YOLOX`, an ``.onnx`` file such as the official ``yolox_nano.onnx`` for
            ONNX Runtime, or a ready runner).
        size: the network input side (416 for nano/tiny, 640 for s/m/l/x; default: ``module.input_size`` when the
            module has one, else 416).
        score_threshold, iou_threshold, classes, max_detections: see :func:`postprocess`.
        precision, compile, channels_last, device: engine options
            (:class:`posekit.runtime.torch_runner.EngineOptions`); backend, backend_options: the runner's.
    """

    name = "yolox"

    def __init__(self, module: Any, *, size: int | None = None, score_threshold: float = 0.3,
                 iou_threshold: float = 0.45, classes: Sequence[int] | None = (0,), max_detections: int = 100,
                 **engine: Any) -> None:
        size = int(getattr(module, "input_size", 416) if size is None else size)
        super().__init__(module, size=size, score_threshold=score_threshold, iou_threshold=iou_threshold,
                         classes=classes, max_detections=max_detections, num_classes=NUM_CLASSES, **engine)

    def check_input(self, image: object, what: str = "image") -> np.ndarray:
        return _check_input(image, what)

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Transform]:
        return preprocess(image, self.size)

    def decode(self, outputs: Any, image_sizes: list[tuple[int, int]], transforms: list[Transform]
               ) -> list[Detections]:
        out = np.asarray(outputs[0] if isinstance(outputs, (list, tuple)) else outputs)
        if out.shape[0] != len(image_sizes):
            raise ValueError(f"YOLOX network returned a batch of {out.shape[0]} for {len(image_sizes)} image(s)")
        return [postprocess(out[i], image_size=size, transform=tf, size=self.size,
                            score_threshold=self.score_threshold, iou_threshold=self.iou_threshold,
                            classes=self.classes, max_detections=self.max_detections)
                for i, (size, tf) in enumerate(zip(image_sizes, transforms))]


def yolox_detector(module: Any, *, device: str | torch.device = "cpu", backend: str = "torch",
                   **options: Any) -> YOLOXDetector:
    """A :class:`YOLOXDetector` around ``module`` (a YOLOX module with its weights loaded, e.g.
    ``posekit.models.yolox.yolox("nano")`` after ``load_state_dict(checkpoint["model"])``, or an ``.onnx`` file)
    on ``device`` run by ``backend``; ``options``: the rest of :class:`YOLOXDetector`'s keywords."""
    check_options(backend, EngineOptions(device=device))
    return YOLOXDetector(module, device=device, backend=backend, **options)
