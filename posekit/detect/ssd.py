"""Single-shot detector (SSD) post-processing as MediaPipe 0.10.14 does it: anchors, raw-tensor decoding and
weighted non-maximum suppression.

Each function reproduces one MediaPipe calculator (same formulas, float32 arithmetic where MediaPipe uses it):

* :func:`ssd_anchors` -- ``SsdAnchorsCalculator`` (``mediapipe/calculators/tflite/ssd_anchors_calculator.cc``),
  the non-multiscale branch;
* :func:`decode_ssd` -- the CPU path of ``TensorsToDetectionsCalculator``
  (``mediapipe/calculators/tensor/tensors_to_detections_calculator.cc``): box and keypoint decoding relative to
  the anchors, sigmoid scores with clipping, best class per anchor;
* :func:`weighted_nms` -- ``NonMaxSuppressionCalculator`` with ``algorithm: WEIGHTED`` and
  ``overlap_type: INTERSECTION_OVER_UNION`` (``mediapipe/calculators/util/non_max_suppression_calculator.cc``).

Coordinates here are *normalised to the network input*: x and y in [0, 1] across the input tensor's width and
height (0 = left/top edge, 1 = right/bottom edge); boxes are ``x1, y1, x2, y2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from posekit.boxes import box_iou
from posekit.numerics import sigmoid

__all__ = ["AnchorOptions", "DecodeOptions", "SsdDecoded", "ssd_anchors", "decode_ssd", "weighted_nms"]


@dataclass(frozen=True)
class AnchorOptions:
    """``SsdAnchorsCalculatorOptions`` (the fields MediaPipe's detectors use; proto defaults as defaults).

    Attributes:
        input_size: network input ``(width, height)`` in pixels.
        strides: one stride per output layer (``num_layers == len(strides)``); consecutive layers with the same
            stride share one feature map and their anchors are interleaved per cell.
        min_scale, max_scale: anchor scale range (only used when ``fixed_anchor_size`` is false).
        anchor_offset: ``(x, y)`` offset of the anchor centre inside its cell, in cells.
        aspect_ratios: aspect ratios of the anchors of each layer.
        interpolated_scale_aspect_ratio: aspect ratio of one extra anchor per layer (0 = none); proto default 1.0.
        reduce_boxes_in_lowest_layer: use the fixed 3 anchors (ratios 1, 2, 0.5) in layer 0.
        fixed_anchor_size: every anchor has ``w = h = 1`` (the regressors are then in input pixels).
    """

    input_size: tuple[int, int]
    strides: tuple[int, ...]
    min_scale: float
    max_scale: float
    anchor_offset: tuple[float, float] = (0.5, 0.5)
    aspect_ratios: tuple[float, ...] = (1.0,)
    interpolated_scale_aspect_ratio: float = 1.0
    reduce_boxes_in_lowest_layer: bool = False
    fixed_anchor_size: bool = False

    def __post_init__(self) -> None:
        w, h = (int(v) for v in self.input_size)
        if w <= 0 or h <= 0:
            raise ValueError(f"input_size must be positive (width, height), got {self.input_size}")
        strides = tuple(int(s) for s in self.strides)
        if not strides or any(s <= 0 for s in strides):
            raise ValueError(f"strides must be a non-empty sequence of positive ints, got {self.strides}")
        object.__setattr__(self, "input_size", (w, h))
        object.__setattr__(self, "strides", strides)
        object.__setattr__(self, "aspect_ratios", tuple(float(a) for a in self.aspect_ratios))


def _scale(min_scale: float, max_scale: float, index: int, count: int) -> float:
    if count == 1:
        return (min_scale + max_scale) * 0.5
    return min_scale + (max_scale - min_scale) * index / (count - 1.0)


def ssd_anchors(options: AnchorOptions) -> np.ndarray:
    """SSD anchors in MediaPipe's order.

    Returns:
        (N, 4) float32 ``x_center, y_center, w, h``, normalised to the input size (centres in (0, 1)).

    >>> ssd_anchors(AnchorOptions((128, 128), (8, 16, 16, 16), 0.1484375, 0.75, fixed_anchor_size=True)).shape
    (896, 4)
    """
    o = options
    f32 = np.float32
    out = []
    strides = o.strides
    layer = 0
    while layer < len(strides):
        ratios: list[float] = []
        scales: list[float] = []
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            scale = _scale(o.min_scale, o.max_scale, last, len(strides))
            if last == 0 and o.reduce_boxes_in_lowest_layer:
                ratios += [1.0, 2.0, 0.5]
                scales += [0.1, scale, scale]
            else:
                ratios += list(o.aspect_ratios)
                scales += [scale] * len(o.aspect_ratios)
                if o.interpolated_scale_aspect_ratio > 0.0:
                    nxt = 1.0 if last == len(strides) - 1 else _scale(o.min_scale, o.max_scale, last + 1, len(strides))
                    scales.append(float(np.sqrt(f32(scale) * f32(nxt))))
                    ratios.append(o.interpolated_scale_aspect_ratio)
            last += 1
        sq = np.sqrt(np.asarray(ratios, f32))
        heights = np.asarray(scales, f32) / sq
        widths = np.asarray(scales, f32) * sq
        fw = int(np.ceil(f32(o.input_size[0]) / f32(strides[layer])))
        fh = int(np.ceil(f32(o.input_size[1]) / f32(strides[layer])))
        xc = (np.arange(fw, dtype=f32) + f32(o.anchor_offset[0])) / f32(fw)
        yc = (np.arange(fh, dtype=f32) + f32(o.anchor_offset[1])) / f32(fh)
        n = len(ratios)
        grid = np.empty((fh, fw, n, 4), f32)
        grid[..., 0] = xc[None, :, None]
        grid[..., 1] = yc[:, None, None]
        if o.fixed_anchor_size:
            grid[..., 2:] = 1.0
        else:
            grid[..., 2] = widths
            grid[..., 3] = heights
        out.append(grid.reshape(-1, 4))
        layer = last
    return np.concatenate(out, axis=0)


@dataclass(frozen=True)
class DecodeOptions:
    """``TensorsToDetectionsCalculatorOptions`` for raw SSD outputs (no post-processing op in the model).

    Attributes:
        num_keypoints: keypoints per anchor (2 values each, after the 4 box values).
        scale: ``(x_scale, y_scale, w_scale, h_scale)`` dividing the raw regressors (the input size in pixels
            for MediaPipe's models).
        box_format: ``"xywh"`` (``reverse_output_order: true``, MediaPipe's detectors) or ``"yxhw"``.
        box_coord_offset, keypoint_coord_offset: where the box and the first keypoint start in each row.
        sigmoid_score: apply a sigmoid to the raw scores.
        score_clipping_thresh: clip raw scores to ``[-t, t]`` before the sigmoid (``None`` = no clipping).
        apply_exponential_on_box_size: ``w = exp(raw_w / w_scale) * anchor_w`` instead of linear.
    """

    num_keypoints: int
    scale: tuple[float, float, float, float]
    box_format: Literal["xywh", "yxhw"] = "xywh"
    box_coord_offset: int = 0
    keypoint_coord_offset: int = 4
    sigmoid_score: bool = True
    score_clipping_thresh: float | None = 100.0
    apply_exponential_on_box_size: bool = False

    def __post_init__(self) -> None:
        if self.box_format not in ("xywh", "yxhw"):
            raise ValueError(f"box_format must be 'xywh' or 'yxhw', got {self.box_format!r}")
        if len(self.scale) != 4 or any(float(s) == 0 for s in self.scale):
            raise ValueError(f"scale must be 4 non-zero numbers (x, y, w, h), got {self.scale}")
        if self.num_keypoints < 0:
            raise ValueError(f"num_keypoints must be >= 0, got {self.num_keypoints}")

    @property
    def num_coords(self) -> int:
        """Values per anchor row: 4 box values + 2 per keypoint."""
        return 4 + 2 * self.num_keypoints


@dataclass(frozen=True)
class SsdDecoded:
    """Decoded SSD outputs for a batch, before thresholding and NMS (normalised input coordinates).

    Attributes:
        boxes: (B, N, 4) float32 ``x1, y1, x2, y2``.
        keypoints: (B, N, K, 2) float32 ``x, y``.
        scores: (B, N) float32 best class score per anchor (in [0, 1] with ``sigmoid_score``).
        labels: (B, N) int64 best class per anchor.
    """

    boxes: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


def decode_ssd(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray,
               options: DecodeOptions) -> SsdDecoded:
    """Decode raw SSD regressors and logits against ``anchors`` (MediaPipe's ``DecodeBoxes`` + scoring).

    Args:
        raw_boxes: (B, N, C) or (N, C) float regressors, ``C == options.num_coords``, in input pixels relative to
            the anchor centre (``x / x_scale * anchor_w + anchor_x``).
        raw_scores: (B, N, num_classes) or (N, num_classes) float logits.
        anchors: (N, 4) ``x_center, y_center, w, h`` from :func:`ssd_anchors`.
        options: decoding options.

    Returns:
        :class:`SsdDecoded` with a batch axis (B = 1 for 2D inputs).
    """
    f32 = np.float32
    raw_boxes = np.asarray(raw_boxes, f32)
    raw_scores = np.asarray(raw_scores, f32)
    anchors = np.asarray(anchors, f32)
    if raw_boxes.ndim == 2:
        raw_boxes = raw_boxes[None]
    if raw_scores.ndim == 2:
        raw_scores = raw_scores[None]
    if anchors.ndim != 2 or anchors.shape[1] != 4:
        raise ValueError(f"anchors must have shape (N, 4), got {anchors.shape}")
    n = len(anchors)
    if raw_boxes.ndim != 3 or raw_boxes.shape[1:] != (n, options.num_coords):
        raise ValueError(f"raw_boxes must have shape (B, {n}, {options.num_coords}), got {raw_boxes.shape}")
    if raw_scores.ndim != 3 or raw_scores.shape[:2] != (raw_boxes.shape[0], n) or raw_scores.shape[2] < 1:
        raise ValueError(f"raw_scores must have shape ({raw_boxes.shape[0]}, {n}, num_classes), got {raw_scores.shape}")
    xs, ys, ws, hs = (f32(s) for s in options.scale)
    ax, ay, aw, ah = (anchors[None, :, i] for i in range(4))
    b = raw_boxes[..., options.box_coord_offset:options.box_coord_offset + 4]
    if options.box_format == "xywh":
        x, y, w, h = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    else:
        y, x, h, w = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    xc = x / xs * aw + ax
    yc = y / ys * ah + ay
    if options.apply_exponential_on_box_size:
        h = np.exp(h / hs) * ah
        w = np.exp(w / ws) * aw
    else:
        h = h / hs * ah
        w = w / ws * aw
    half = f32(2.0)
    boxes = np.stack([xc - w / half, yc - h / half, xc + w / half, yc + h / half], axis=-1)
    k = options.num_keypoints
    start = options.keypoint_coord_offset
    kp = raw_boxes[..., start:start + 2 * k].reshape(raw_boxes.shape[0], n, k, 2)
    if options.box_format == "yxhw":
        kp = kp[..., ::-1]
    keypoints = np.empty_like(kp)
    keypoints[..., 0] = kp[..., 0] / xs * aw[..., None] + ax[..., None]
    keypoints[..., 1] = kp[..., 1] / ys * ah[..., None] + ay[..., None]
    scores = raw_scores
    if options.sigmoid_score:
        if options.score_clipping_thresh is not None:
            t = f32(options.score_clipping_thresh)
            scores = np.clip(scores, -t, t)
        scores = sigmoid(scores)
    labels = np.argmax(scores, axis=-1)
    best = np.take_along_axis(scores, labels[..., None], axis=-1)[..., 0]
    return SsdDecoded(boxes.astype(f32), keypoints.astype(f32), best.astype(f32), labels.astype(np.int64))


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, *, iou_threshold: float, keypoints: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """MediaPipe's weighted non-maximum suppression (``algorithm: WEIGHTED``, IoU overlap).

    Detections are visited by decreasing score (ties: lower index first). The best remaining detection seeds a
    cluster of every remaining detection whose IoU with it is ``> iou_threshold`` (itself included); the output is
    the score-weighted mean of the cluster's box corners and keypoints, with the seed's score. The cluster is
    removed and the loop repeats; as in MediaPipe, it stops when a seed removes nothing (an empty seed box).

    Args:
        boxes: (N, 4) ``x1, y1, x2, y2`` (any consistent unit).
        scores: (N,) scores used as weights (> 0).
        iou_threshold: suppression threshold (MediaPipe's ``min_suppression_threshold``).
        keypoints: optional (N, K, 2) keypoints averaged like the boxes.

    Returns:
        ``(boxes (M, 4) float32, scores (M,) float32, keypoints (M, K, 2) float32 or None, seeds (M,) int64)``,
        ordered by decreasing score; ``seeds`` index the input detection that seeded each output.
    """
    if not 0.0 <= float(iou_threshold) < 1.0:
        raise ValueError(f"iou_threshold must lie in [0, 1), got {iou_threshold}")
    boxes = np.asarray(boxes, np.float32)
    scores = np.asarray(scores, np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {boxes.shape}")
    if scores.shape != (len(boxes),):
        raise ValueError(f"scores must have shape ({len(boxes)},), got {scores.shape}")
    if keypoints is not None:
        keypoints = np.asarray(keypoints, np.float32)
        if keypoints.ndim != 3 or keypoints.shape[0] != len(boxes) or keypoints.shape[2] != 2:
            raise ValueError(f"keypoints must have shape ({len(boxes)}, K, 2), got {keypoints.shape}")
    remaining = np.argsort(-scores, kind="stable")
    out_boxes, out_scores, out_kpts, seeds = [], [], [], []
    while len(remaining):
        seed = remaining[0]
        member = box_iou(boxes[seed], boxes[remaining], dtype=np.float32)[0] > iou_threshold
        cluster = remaining[member]
        if len(cluster):
            w = scores[cluster].astype(np.float64)
            total = w.sum()
            out_boxes.append((boxes[cluster] * w[:, None]).sum(0) / total)
            if keypoints is not None:
                out_kpts.append((keypoints[cluster] * w[:, None, None]).sum(0) / total)
        else:
            out_boxes.append(boxes[seed])
            if keypoints is not None:
                out_kpts.append(keypoints[seed])
        out_scores.append(scores[seed])
        seeds.append(seed)
        if not member.any():
            break
        remaining = remaining[~member]
    m = len(seeds)
    k = 0 if keypoints is None else keypoints.shape[1]
    kp = None if keypoints is None else np.asarray(out_kpts, np.float32).reshape(m, k, 2)
    return (np.asarray(out_boxes, np.float32).reshape(m, 4), np.asarray(out_scores, np.float32),
            kp, np.asarray(seeds, np.int64))
