"""Tiled detection: find small people that a single low-resolution detector pass misses.

MediaPipe's detectors see the whole image letterboxed to 224x224 (pose) or less, so a person shorter than
about a fifth of the image is rarely found. :class:`TiledDetector` runs the detector on the whole image and on
an overlapping grid of tiles *in one batch*, maps the tile detections back to image pixels and keeps:

1. every whole-image detection unchanged (so wherever MediaPipe finds a person, the result is exactly
   MediaPipe's), and
2. the tile detections that overlap no whole-image detection, merged among themselves with the detector's own
   weighted NMS (a person seen by two overlapping tiles is reported once), marked ``from_tiles``.

Overlap is measured on the model's own boxes (the face box for BlazePose), which stay apart for people standing
side by side, unlike body boxes.

A tile sees a part of a scene out of context, so tile detections bring false positives that only the landmark
model's output reveals: poses that lie mostly outside the image, a second skeleton on a person already found, a
hand taken for a small person. :func:`tile_false_positives` applies checks to the landmark results of the
``from_tiles`` instances (never to whole-image ones); the landmark pipelines call it
(:class:`posekit.pipelines.mediapipe_pose.BlazePoseEstimator`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from posekit.detect.mediapipe import MediaPipeDetector, _check_image, alignment_boxes
from posekit.detect.ssd import box_iou, weighted_nms
from posekit.types import Detections

__all__ = ["tile_windows", "TiledDetector", "TileFilter", "tile_false_positives"]


@dataclass(frozen=True)
class TileFilter:
    """Thresholds of :func:`tile_false_positives`; ``None`` turns a rule off.

    Attributes:
        min_inside: (a) drop when less than this fraction of the pose's visible-keypoint box lies inside the
            image (a real person's visible keypoints are in the image; those of a pose hallucinated on a tile
            often are not). The box of all keypoints would also drop real people cut off by the image border,
            whose hidden keypoints are extrapolated outside.
        max_contained: (b) drop when more than this fraction of the pose's visible-keypoint box lies inside the
            visible-keypoint box of a kept instance (a part of that person read as a whole one).
        max_oks: (b) drop when its OKS against a kept instance (the kept one as reference) exceeds this (the
            same person found twice).
        min_torso_visibility: (c) drop when the mean visibility of the torso keypoints is below this.
        visibility_threshold: a keypoint counts as visible above this score.
    """

    min_inside: float | None = 0.75
    max_contained: float | None = 0.8
    max_oks: float | None = 0.5
    min_torso_visibility: float | None = 0.5
    visibility_threshold: float = 0.5

    def __post_init__(self) -> None:
        for name in ("min_inside", "max_contained", "max_oks", "min_torso_visibility", "visibility_threshold"):
            v = getattr(self, name)
            if v is not None and not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"TileFilter.{name} must lie in [0, 1] or be None, got {v}")


def _boxes(keypoints: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(N, 4) float64 xyxy bounds of the keypoints where ``mask`` (N, K) holds (all finite ones when fewer than 2
    do); NaN rows for instances with no finite keypoint."""
    finite = np.isfinite(keypoints).all(-1)
    use = mask & finite
    use = np.where(use.sum(1, keepdims=True) >= 2, use, finite)
    lo = np.where(use[..., None], keypoints, np.inf).min(1)
    hi = np.where(use[..., None], keypoints, -np.inf).max(1)
    out = np.concatenate([lo, hi], -1).astype(np.float64)
    out[~use.any(1)] = np.nan
    return out


def _area(b: np.ndarray) -> np.ndarray:
    return np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)


def _inter(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection areas of xyxy boxes ``a`` (..., 4) and ``b`` (..., 4) (broadcast)."""
    w = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    h = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


def tile_false_positives(
    keypoints: np.ndarray, visibility: np.ndarray, from_tiles: np.ndarray, image_size: tuple[int, int], *,
    sigmas: Sequence[float], torso: Sequence[int], rules: TileFilter = TileFilter(),
) -> np.ndarray:
    """Which pose instances found only on tiles are false positives; whole-image instances are never dropped.

    Rules (thresholds in ``rules``), for each instance with ``from_tiles``; the visible-keypoint box is the box of
    the keypoints with visibility above ``rules.visibility_threshold`` (of all finite ones when fewer than 2 are):

    (a) *outside*: less than ``min_inside`` of its visible-keypoint box lies inside the image;
    (b) *duplicate*: its visible-keypoint box lies more than ``max_contained`` inside another instance's, or its
        OKS against another instance (that one's visible keypoints and visible-box area as the reference,
        ``sigmas``) exceeds ``max_oks``. "Another instance" = every whole-image instance and every tile
        instance kept before it (input order, so put the better one first: :class:`TiledDetector` orders tile
        detections by score); instances that (a) or (c) drop suppress nothing;
    (c) *no torso*: the mean visibility of the ``torso`` keypoints is below ``min_torso_visibility``.

    Args:
        keypoints: (N, K, 2) float image pixels (x right, y down); NaN = missing.
        visibility: (N, K) float in [0, 1] (BlazePose: landmark visibility).
        from_tiles: (N,) bool, True for instances from tile detections (``Detections.from_tiles``).
        image_size: ``(width, height)`` pixels.
        sigmas: (K,) OKS sigmas of the skeleton (e.g. ``coco17.sigmas``); NaN = keypoint not used in the OKS
            (e.g. BlazePose landmarks without a COCO counterpart).
        torso: indices of the torso keypoints (e.g. shoulders and hips).

    Returns:
        (N,) bool, True = drop.
    """
    kp = np.asarray(keypoints, np.float64)
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(f"keypoints must have shape (N, K, 2), got {kp.shape}")
    n, k = kp.shape[:2]
    vis = np.asarray(visibility, np.float64)
    if vis.shape != (n, k):
        raise ValueError(f"visibility must have shape ({n}, {k}) to match keypoints, got {vis.shape}")
    tiled = np.asarray(from_tiles, bool)
    if tiled.shape != (n,):
        raise ValueError(f"from_tiles must have shape ({n},), got {tiled.shape}")
    sig = np.asarray(sigmas, np.float64)
    if sig.shape != (k,) or np.any(sig[np.isfinite(sig)] <= 0) or np.isinf(sig).any():
        raise ValueError(f"sigmas must be ({k},) positive values or NaN (one per keypoint), got {sig}")
    torso = list(torso)
    if not torso or min(torso) < 0 or max(torso) >= k:
        raise ValueError(f"torso must hold keypoint indices in [0, {k}), got {torso}")
    w, h = (float(v) for v in image_size)
    if w <= 0 or h <= 0:
        raise ValueError(f"image_size must be a positive (width, height), got {image_size}")
    drop = np.zeros(n, bool)
    if not tiled.any():
        return drop
    seen = vis > rules.visibility_threshold
    shown = _boxes(kp, seen)
    drop |= tiled & np.isnan(shown).any(1)  # no finite keypoint at all
    if rules.min_inside is not None:
        area = _area(shown)
        inside = np.where(area > 0, _inter(shown, np.array([0.0, 0.0, w, h])) / np.maximum(area, 1e-12),
                          ((shown[:, :2] >= 0) & (shown[:, :2] <= [w, h])).all(1))
        drop |= tiled & (inside < rules.min_inside)
    if rules.min_torso_visibility is not None:
        drop |= tiled & (vis[:, torso].mean(1) < rules.min_torso_visibility)
    kept = [j for j in range(n) if not tiled[j]]
    for i in np.flatnonzero(tiled & ~drop):
        for j in kept:
            if _duplicate(kp[i], shown[i], kp[j], seen[j], shown[j], sig, rules):
                drop[i] = True
                break
        else:
            kept.append(int(i))
    return drop


def _duplicate(kp: np.ndarray, box: np.ndarray, ref_kp: np.ndarray, ref_seen: np.ndarray, ref_box: np.ndarray,
               sigmas: np.ndarray, rules: TileFilter) -> bool:
    """Rule (b) for one pair: ``kp`` (K, 2) with visible box ``box`` against the reference instance."""
    if np.isnan(ref_box).any():
        return False
    if rules.max_contained is not None:
        area = _area(box)
        contained = _inter(box, ref_box) / area if area > 0 else float(
            ref_box[0] <= box[0] <= ref_box[2] and ref_box[1] <= box[1] <= ref_box[3])
        if contained > rules.max_contained:
            return True
    if rules.max_oks is not None:
        ok = ref_seen & np.isfinite(sigmas) & np.isfinite(kp).all(-1) & np.isfinite(ref_kp).all(-1)
        if ok.any():
            d2 = ((kp[ok] - ref_kp[ok]) ** 2).sum(-1)
            oks = np.exp(-d2 / (2.0 * max(_area(ref_box), 1e-9) * (2.0 * sigmas[ok]) ** 2)).mean()
            if oks > rules.max_oks:
                return True
    return False


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
        """Whole-image detections first (unchanged, in the wrapped detector's order), then the merged tile
        detections by decreasing score; ``from_tiles`` marks the latter."""
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
                if self.detector.max_detections is not None:  # the whole image's detections take the first slots
                    room = max(self.detector.max_detections - len(whole), 0)
                    mb, ms, mk = mb[:room], ms[:room], mk[:room]
                boxes.append(mb)
                scores.append(ms)
                kpts.append(mk)
        b, s, k = np.concatenate(boxes), np.concatenate(scores), np.concatenate(kpts)
        from_tiles = np.arange(len(s)) >= len(whole)
        if self.box == "body":
            b = alignment_boxes(k.astype(np.float64), self.detector.config.alignment)
        return Detections(b.astype(np.float32), s, np.zeros(len(s), np.int64), k, from_tiles)
