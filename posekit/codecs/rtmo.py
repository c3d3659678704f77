"""RTMO's decoding as plain NumPy functions (MMPose 1.3.2 ``RTMOHead.predict`` and ``BottomupPoseEstimator``).

Frames: *input pixels* are the network input's (``(W, H)`` = ``input_size``, the resized and padded image), x
right, y down; *image pixels* the original image's. Boxes are ``x1, y1, x2, y2``.

Steps (:func:`select_candidates`, then the DCC network on the survivors, then :func:`to_image`):

1. cell centres (:func:`grid_priors`): level stride ``s``, cell ``(i, j)`` -> ``(j * s + (s - 1) / 2,
   i * s + (s - 1) / 2)`` (MMDet ``MlvlPointGenerator(centralize_points=True)``), levels finest first, row-major;
2. boxes (:func:`decode_boxes`): centre ``delta_xy * s + prior``, size ``exp(delta_wh) * s``;
3. person score ``sigmoid(logit)``; candidates scoring ``> score_threshold`` sorted by score (descending), at most
   ``nms_pre``; greedy NMS at IoU ``> nms_threshold`` (:func:`nms`, MMPose ``nms_torch``);
4. the DCC input: pose vector, box centre and size x 1.25 (``bbox_xyxy2cs``, the *unclamped* box), cell centre
   (:func:`pack_dcc_input`);
5. boxes clamped to the input, keypoint scores ``sigmoid(visibility logit)``; keypoints and boxes mapped to image
   pixels with BottomupResize's centre and scale (:func:`to_image`).

Arithmetic is float32 as in MMPose (the image mapping in float64, as MMPose's NumPy code).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from posekit.numerics import sigmoid

__all__ = [
    "BBOX_PADDING",
    "Candidates",
    "box_iou_mmpose",
    "decode_boxes",
    "grid_priors",
    "nms",
    "pack_dcc_input",
    "select_candidates",
    "to_image",
]

_F = np.float32
BBOX_PADDING = 1.25  # RTMOHead's bbox_padding: the DCC's bins span the box scaled by this


def grid_priors(input_size: Sequence[int], strides: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres (N, 2) ``(x, y)`` input pixels and each cell's stride (N,), float32, for an input of
    ``input_size`` ``(W, H)`` pixels: per stride ``s`` the ``ceil(H / s) x ceil(W / s)`` cells row-major, finest
    level first."""
    w, h = (int(v) for v in input_size)
    priors, stride = [], []
    for s in strides:
        fw, fh = -(-w // s), -(-h // s)
        xs = (np.arange(fw, dtype=_F) * _F(s)) + _F((s - 1) / 2.0)
        ys = (np.arange(fh, dtype=_F) * _F(s)) + _F((s - 1) / 2.0)
        xx, yy = np.meshgrid(xs, ys)
        priors.append(np.stack([xx.ravel(), yy.ravel()], axis=1))
        stride.append(np.full(fw * fh, s, dtype=_F))
    return np.concatenate(priors).astype(_F), np.concatenate(stride)


def decode_boxes(deltas: np.ndarray, priors: np.ndarray, strides: np.ndarray) -> np.ndarray:
    """``deltas`` (N, 4) ``[dx, dy, log w, log h]`` (stride units) -> boxes (N, 4) ``x1, y1, x2, y2`` input
    pixels, float32 (MMPose ``YOLOXPoseHead.decode_bbox``)."""
    d = np.asarray(deltas, _F)
    s = np.asarray(strides, _F)[:, None]
    xy = d[:, :2] * s + np.asarray(priors, _F)
    wh = np.exp(d[:, 2:]) * s
    return np.concatenate([xy - wh / _F(2), xy + wh / _F(2)], axis=1).astype(_F)


def box_iou_mmpose(box: np.ndarray, boxes: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """IoU (M,) of one box (4,) with ``boxes`` (M, 4), float32, union floored at ``eps`` (MMPose
    ``bbox_overlaps``)."""
    area1 = (box[2] - box[0]) * (box[3] - box[1])
    area2 = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    lt = np.maximum(box[:2], boxes[:, :2])
    rb = np.minimum(box[2:], boxes[:, 2:])
    wh = np.clip(rb - lt, 0, None)
    overlap = wh[:, 0] * wh[:, 1]
    union = np.maximum(area1 + area2 - overlap, _F(eps))
    return (overlap / union).astype(_F)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy NMS as MMPose's ``nms_torch``: visit boxes by descending score (ties: the earlier first), drop those
    whose IoU with a kept box is ``> threshold``. Returns the kept indices (int64), best first."""
    boxes = np.asarray(boxes, _F)
    order = np.argsort(-np.asarray(scores, _F), kind="stable")
    keep = []
    while len(order):
        i, order = order[0], order[1:]
        keep.append(i)
        if len(order):
            order = order[~(box_iou_mmpose(boxes[i], boxes[order]) > threshold)]
    return np.asarray(keep, np.int64)


@dataclass(frozen=True)
class Candidates:
    """The persons kept for one image, best first (M of them).

    Attributes:
        index: (M,) int64 the cells they came from (rows of the network's flattened outputs).
        boxes: (M, 4) float32 ``x1, y1, x2, y2`` input pixels, not clamped (the DCC's boxes).
        scores: (M,) float32 person scores in [0, 1].
        bbox_cs: (M, 4) float32 box centre ``(cx, cy)`` and padded size ``(w, h)`` x :data:`BBOX_PADDING`.
        grids: (M, 2) float32 cell centres, input pixels.
    """

    index: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    bbox_cs: np.ndarray
    grids: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    def clamped_boxes(self, input_size: Sequence[int]) -> np.ndarray:
        """:attr:`boxes` clamped to ``[0, W] x [0, H]`` (what MMPose returns)."""
        w, h = (float(v) for v in input_size)
        return np.clip(self.boxes, 0, [w, h, w, h]).astype(_F)


def select_candidates(cls_logits: np.ndarray, box_deltas: np.ndarray, input_size: Sequence[int],
                      strides: Sequence[int], *, score_threshold: float = 0.1, nms_threshold: float = 0.65,
                      nms_pre: int = 100000) -> Candidates:
    """Steps 1-4 of the module docstring for one image.

    Args:
        cls_logits: (N, C) person logits (C = 1 class; the best class counts).
        box_deltas: (N, 4) raw box outputs.
        input_size: network input ``(W, H)`` pixels; strides: the levels' strides (16, 32).
        score_threshold: keep scores ``>`` it; nms_threshold: IoU above which a box is suppressed (``>= 1``:
            no NMS); nms_pre: at most this many candidates enter NMS.
    """
    logits = np.asarray(cls_logits, _F)
    priors, stride = grid_priors(input_size, strides)
    if logits.ndim != 2 or len(logits) != len(priors) or np.shape(box_deltas) != (len(priors), 4):
        raise ValueError(f"an input of {tuple(input_size)} pixels has {len(priors)} cells: cls_logits must be "
                         f"({len(priors)}, C) and box_deltas ({len(priors)}, 4), got {logits.shape} and "
                         f"{np.shape(box_deltas)}")
    scores = sigmoid(logits).max(axis=1)
    valid = np.flatnonzero(scores > score_threshold)
    order = valid[np.argsort(-scores[valid], kind="stable")][:nms_pre]
    boxes = decode_boxes(np.asarray(box_deltas, _F)[order], priors[order], stride[order])
    if nms_threshold < 1.0 and len(order):
        kept = nms(boxes, scores[order], nms_threshold)
        order, boxes = order[kept], boxes[kept]
    center = (boxes[:, 2:] + boxes[:, :2]) * _F(0.5)
    size = (boxes[:, 2:] - boxes[:, :2]) * _F(BBOX_PADDING)
    return Candidates(order.astype(np.int64), boxes, scores[order],
                      np.concatenate([center, size], axis=1).astype(_F), priors[order])


def pack_dcc_input(pose_vecs: np.ndarray, candidates: Candidates) -> np.ndarray:
    """The DCC network's one input (:class:`posekit.models.rtmo.DCCNet`): ``(M, C + 6, 1, 1)`` float32 = pose
    vector (C), ``bbox_cs`` (4), cell centre (2) per candidate; ``pose_vecs`` (M, C) are the candidates' rows."""
    v = np.asarray(pose_vecs, _F)
    if v.ndim != 2 or len(v) != len(candidates):
        raise ValueError(f"pose_vecs must have shape ({len(candidates)}, C), got {v.shape}")
    return np.concatenate([v, candidates.bbox_cs, candidates.grids], axis=1).astype(_F)[:, :, None, None]


def to_image(points: np.ndarray, input_size: Sequence[int], center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Input pixels -> image pixels: ``p / input_size * scale + center - scale / 2`` (MMPose
    ``BottomupPoseEstimator.add_pred_to_datasample``; ``center``, ``scale`` (2,) from BottomupResize). ``points``
    (..., 2); returns float32."""
    p = np.asarray(points, np.float64)
    size = np.asarray(input_size, np.float64)
    c, s = np.asarray(center, np.float64), np.asarray(scale, np.float64)
    return (p / size * s + c - 0.5 * s).astype(_F)
