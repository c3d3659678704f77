"""Tiled detection: find small people that a single low-resolution detector pass misses.

MediaPipe's detectors see the whole image letterboxed to 224x224 (pose) or less, so a person shorter than
about a fifth of the image is rarely found. :class:`TiledDetector` runs the detector on the whole image and on
an overlapping grid of tiles *in one batch*, maps the tile detections back to image pixels and keeps:

1. every whole-image detection unchanged (so wherever MediaPipe finds a person, the result is exactly
   MediaPipe's), and
2. the tile detections that overlap no whole-image detection, merged among themselves with the detector's own
   weighted NMS (a person seen by two overlapping tiles is reported once).

Overlap is measured on the model's own boxes (the face box for BlazePose), which stay apart for people standing
side by side, unlike body boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from posekit.detect.mediapipe import MediaPipeDetector, _check_image, alignment_boxes
from posekit.detect.ssd import box_iou, weighted_nms
from posekit.types import Detections


def tile_windows(image_size: tuple[int, int], *, grid: int, overlap: float) -> np.ndarray:
    """(grid*grid, 4) int64 tile windows ``x1, y1, x2, y2`` (pixels, exclusive end) covering an image of
    ``(width, height)``; neighbouring tiles share ``overlap`` of a tile's width/height."""
    if int(grid) < 1:
        raise ValueError(f"grid must be >= 1, got {grid}")
    if not 0.0 <= float(overlap) < 1.0:
        raise ValueError(f"overlap must lie in [0, 1), got {overlap}")
    w, h = image_size
    span = grid - (grid - 1) * overlap
    tw, th = max(1, int(round(w / span))), max(1, int(round(h / span)))
    steps = max(grid - 1, 1)
    out = []
    for gy in range(grid):
        for gx in range(grid):
            x0 = int(round(gx * (w - tw) / steps))
            y0 = int(round(gy * (h - th) / steps))
            out.append((x0, y0, x0 + tw, y0 + th))
    return np.asarray(out, np.int64)


class TiledDetector:
    """A :class:`~posekit.detect.mediapipe.MediaPipeDetector` run on the image plus a grid of tiles.

    Args:
        detector: a detector built with ``box="model"`` (the merge compares model boxes).
        grid: tiles per side (``1`` = whole image only, i.e. exactly the wrapped detector).
        overlap: fraction of a tile shared with its neighbour.
        iou_threshold: a tile detection whose model box overlaps a whole-image one by more than this is dropped.
        box: the box reported: ``"body"`` (from the alignment keypoints, as ``blazepose_detector``'s default) or
            ``"model"``.
    """

    def __init__(self, detector: MediaPipeDetector, *, grid: int = 2, overlap: float = 0.25,
                 iou_threshold: float = 0.3, box: Literal["model", "body"] = "body") -> None:
        if detector.box != "model":
            raise ValueError("TiledDetector needs a detector built with box='model' (it merges on model boxes)")
        if box == "body" and detector.config.alignment is None:
            raise ValueError(f"box='body' needs alignment keypoints; {detector.config.name} has none")
        tile_windows((2, 2), grid=grid, overlap=overlap)  # validates
        self.detector = detector
        self.grid, self.overlap, self.iou_threshold, self.box = int(grid), float(overlap), float(iou_threshold), box

    def __call__(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """Detections for each image; the whole images and all their tiles go through the network at once."""
        images = [_check_image(im, f"images[{i}]") for i, im in enumerate(images)]
        # Whole images in their own batch: batch composition changes oneDNN's kernels in the last float bits,
        # and whole-image detections must stay exactly the wrapped detector's.
        wholes = self.detector.detect_batch(images)
        crops, owners, offsets = [], [], []
        if self.grid > 1:
            for i, im in enumerate(images):
                for x0, y0, x1, y1 in tile_windows((im.shape[1], im.shape[0]), grid=self.grid, overlap=self.overlap):
                    crops.append(im[y0:y1, x0:x1])
                    owners.append(i)
                    offsets.append((int(x0), int(y0)))
        tiles = self.detector.detect_batch(crops) if crops else []
        return [
            self._merge(wholes[i], [(d, o) for d, o, k in zip(tiles, offsets, owners) if k == i])
            for i in range(len(images))
        ]

    def _merge(self, whole: Detections, tiles: list[tuple[Detections, tuple[int, int]]]) -> Detections:
        boxes, scores, kpts = [whole.boxes], [whole.scores], [whole.keypoints]
        if tiles:
            tb = np.concatenate([d.boxes + np.array([x, y, x, y], np.float32) for d, (x, y) in tiles])
            ts = np.concatenate([d.scores for d, _ in tiles])
            tk = np.concatenate([d.keypoints + np.array([x, y], np.float32) for d, (x, y) in tiles])
            fresh = np.array([all(box_iou(b, whole.boxes) <= self.iou_threshold) if len(whole) else True
                              for b in tb], bool)
            if fresh.any():
                mb, ms, mk, _ = weighted_nms(tb[fresh], ts[fresh], keypoints=tk[fresh],
                                             iou_threshold=self.detector.config.iou_threshold)
                boxes.append(mb)
                scores.append(ms)
                kpts.append(mk)
        b, s, k = np.concatenate(boxes), np.concatenate(scores), np.concatenate(kpts)
        order = np.argsort(-s, kind="stable")
        b, s, k = b[order], s[order], k[order]
        if self.detector.max_detections is not None:
            b, s, k = (a[: self.detector.max_detections] for a in (b, s, k))
        if self.box == "body":
            b = alignment_boxes(k.astype(np.float64), self.detector.config.alignment)
        return Detections(b.astype(np.float32), s, np.zeros(len(s), np.int64), k)
