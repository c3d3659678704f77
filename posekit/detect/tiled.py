"""Candidate detection: find the people that MediaPipe's single confident detector pass misses.

MediaPipe's detectors see the whole image letterboxed to 224x224 (pose) or less, so a person shorter than about a
fifth of the image is rarely found, and people in a group often score below ``mp.solutions.pose``'s 0.5
(three boys on a bench: 0.59, 0.35, 0.30). :class:`TiledDetector` runs the detector on the whole image and on an
overlapping grid of tiles *in one batch*, maps the tile detections back to image pixels and keeps:

1. every whole-image detection scoring at least ``trusted_score`` unchanged (so wherever MediaPipe finds a person,
   the result is exactly MediaPipe's), and
2. as *candidates*, marked ``needs_check`` and ordered by score: the whole-image detections below
   ``trusted_score`` (down to the detector's ``min_score``), and the tile detections that overlap no whole-image
   detection, merged among themselves with the detector's own weighted NMS (a person seen by two overlapping
   tiles is reported once).

Overlap is measured on the model's own boxes (the face box for BlazePose), which stay apart for people standing
side by side, unlike body boxes.

Candidates bring false positives that only the landmark model's output reveals: poses that lie mostly outside the
image, a second skeleton on a person already found, a hand taken for a small person. :func:`tile_false_positives`
applies checks to the landmark results of the ``needs_check`` instances (never to trusted ones); the landmark
pipelines call it (:class:`posekit.pipelines.mediapipe_pose.BlazePoseEstimator`), after dropping the instances whose
presence flag is not above ``min_presence`` (the landmark model's own verdict). A tangled second skeleton on a person
passes these checks; :mod:`posekit.detect.duplicates` finds it afterwards, among all instances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from posekit.boxes import box_area, box_intersection, box_iou
from posekit.detect.duplicates import visible_boxes
from posekit.detect.boxes import check_image
from posekit.detect.mediapipe import MediaPipeDetector, alignment_boxes
from posekit.detect.ssd import weighted_nms
from posekit.postprocess import oks_iou
from posekit.types import Detections

__all__ = ["tile_windows", "TiledDetector", "TileFilter", "tile_false_positives", "wants_candidates"]


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
        min_presence: (d) drop when the instance's presence score (BlazePose: the landmark model's pose flag) is
            below this; stricter than the pipeline's ``min_presence`` (0.5), which every instance passes.
        visibility_threshold: a keypoint counts as visible above this score.
    """

    min_inside: float | None = 0.75
    max_contained: float | None = 0.8
    max_oks: float | None = 0.5
    min_torso_visibility: float | None = 0.5
    min_presence: float | None = 0.8
    visibility_threshold: float = 0.5

    def __post_init__(self) -> None:
        for name in ("min_inside", "max_contained", "max_oks", "min_torso_visibility", "min_presence",
                     "visibility_threshold"):
            v = getattr(self, name)
            if v is not None and not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"TileFilter.{name} must lie in [0, 1] or be None, got {v}")


def tile_false_positives(
    keypoints: np.ndarray, visibility: np.ndarray, needs_check: np.ndarray, image_size: tuple[int, int], *,
    sigmas: Sequence[float], torso: Sequence[int], rules: TileFilter = TileFilter(),
    presence: np.ndarray | None = None,
) -> np.ndarray:
    """Which candidate pose instances (``needs_check``) are false positives; trusted instances are never dropped.

    Rules (thresholds in ``rules``), for each instance with ``needs_check``; the visible-keypoint box is the box of
    the keypoints with visibility above ``rules.visibility_threshold`` (of all finite ones when fewer than 2 are):

    (a) *outside*: less than ``min_inside`` of its visible-keypoint box lies inside the image;
    (b) *duplicate*: its visible-keypoint box lies more than ``max_contained`` inside another instance's, or its
        OKS against another instance (that one's visible keypoints and visible-box area as the reference,
        ``sigmas``) exceeds ``max_oks``. "Another instance" = every trusted instance and every candidate
        kept before it (input order, so put the better one first: :class:`TiledDetector` orders candidates by
        score); instances that (a), (c) or (d) drop suppress nothing;
    (c) *no torso*: the mean visibility of the ``torso`` keypoints is below ``min_torso_visibility``;
    (d) *unsure*: its ``presence`` is below ``min_presence`` (skipped when ``presence`` is None).

    Args:
        keypoints: (N, K, 2) float image pixels (x right, y down); NaN = missing.
        visibility: (N, K) float in [0, 1] (BlazePose: landmark visibility).
        needs_check: (N,) bool, True for candidates (``Detections.needs_check``).
        image_size: ``(width, height)`` pixels.
        sigmas: (K,) OKS sigmas of the skeleton (e.g. ``coco17.sigmas``); NaN = keypoint not used in the OKS
            (e.g. BlazePose landmarks without a COCO counterpart).
        torso: indices of the torso keypoints (e.g. shoulders and hips).
        presence: (N,) float in [0, 1] instance presence scores (BlazePose: pose flag) or None.

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
    tiled = np.asarray(needs_check, bool)
    if tiled.shape != (n,):
        raise ValueError(f"needs_check must have shape ({n},), got {tiled.shape}")
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
    shown = visible_boxes(kp, seen)
    drop |= tiled & np.isnan(shown).any(1)  # no finite keypoint at all
    if rules.min_inside is not None:
        area = box_area(shown)
        inside = np.where(area > 0, box_intersection(shown, np.array([0.0, 0.0, w, h])) / np.maximum(area, 1e-12),
                          ((shown[:, :2] >= 0) & (shown[:, :2] <= [w, h])).all(1))
        drop |= tiled & (inside < rules.min_inside)
    if rules.min_torso_visibility is not None:
        drop |= tiled & (vis[:, torso].mean(1) < rules.min_torso_visibility)
    if rules.min_presence is not None and presence is not None:
        flag = np.asarray(presence, np.float64)
        if flag.shape != (n,):
            raise ValueError(f"presence must have shape ({n},), got {flag.shape}")
        drop |= tiled & (flag < rules.min_presence)
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
        area = box_area(box)
        contained = box_intersection(box, ref_box) / area if area > 0 else float(
            ref_box[0] <= box[0] <= ref_box[2] and ref_box[1] <= box[1] <= ref_box[3])
        if contained > rules.max_contained:
            return True
    if rules.max_oks is not None:
        ok = ref_seen & np.isfinite(sigmas) & np.isfinite(kp).all(-1) & np.isfinite(ref_kp).all(-1)
        if ok.any():
            area = max(float(box_area(ref_box)), 1e-9)
            oks = oks_iou(ref_kp[ok], kp[ok][None], area, np.array([area]), sigmas[ok])[0]
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


def wants_candidates(tiles: int, min_score: float | None, trusted_score: float) -> bool:
    """Whether a pose detector must be wrapped in :class:`TiledDetector`: with tiles (``tiles > 1``), or with a
    ``min_score`` below ``trusted_score`` (its extra detections are candidates to check); ``None`` = the detector's
    default, taken as trusted."""
    return int(tiles) > 1 or (min_score is not None and float(min_score) < float(trusted_score))


class TiledDetector:
    """A :class:`~posekit.detect.mediapipe.MediaPipeDetector` run on the image plus a grid of tiles; detections
    it is not sure of come back as candidates (``needs_check``) for the landmark pipeline to confirm.

    Args:
        detector: a detector built with ``box="model"`` (the merge compares model boxes); its ``min_score`` is the
            lowest score returned at all.
        grid: tiles per side (``1`` = whole image only).
        overlap: fraction of a tile shared with its neighbour.
        iou_threshold: a tile detection whose model box overlaps a whole-image one by more than this is dropped.
        box: the box reported: ``"body"`` (from the alignment keypoints, as ``blazepose_detector``'s default) or
            ``"model"``.
        trusted_score: whole-image detections scoring below this are candidates too (``None``: every whole-image
            detection is trusted). With ``grid=1`` and ``trusted_score=None`` this is exactly the wrapped detector.
    """

    def __init__(self, detector: MediaPipeDetector, *, grid: int = 2, overlap: float = 0.25,
                 iou_threshold: float = 0.3, box: Literal["model", "body"] = "body",
                 trusted_score: float | None = None) -> None:
        if detector.box != "model":
            raise ValueError("TiledDetector needs a detector built with box='model' (it merges on model boxes)")
        if box == "body" and detector.config.alignment is None:
            raise ValueError(f"box='body' needs alignment keypoints; {detector.config.name} has none")
        if trusted_score is not None and not 0.0 <= float(trusted_score) <= 1.0:
            raise ValueError(f"trusted_score must lie in [0, 1] or be None, got {trusted_score}")
        tile_windows((2, 2), grid=grid, overlap=overlap)  # validates
        self.detector = detector
        self.grid, self.overlap, self.iou_threshold, self.box = int(grid), float(overlap), float(iou_threshold), box
        self.trusted_score = None if trusted_score is None else float(trusted_score)

    def __call__(self, image: np.ndarray) -> Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """Detections for each image; the whole images and all their tiles go through the network at once."""
        images = [check_image(im, f"images[{i}]") for i, im in enumerate(images)]
        # Whole images in their own batch: batch composition changes oneDNN's kernels in the last float bits,
        # and trusted detections must stay exactly the wrapped detector's at trusted_score.
        lowest = self.detector.min_score
        weak = self.trusted_score is not None and self.trusted_score > lowest
        levels = self.detector.detect_batch_at(images, (self.trusted_score, lowest) if weak else (lowest,))
        crops, owners, offsets = [], [], []
        if self.grid > 1:
            for i, im in enumerate(images):
                for x0, y0, x1, y1 in tile_windows((im.shape[1], im.shape[0]), grid=self.grid, overlap=self.overlap):
                    crops.append(im[y0:y1, x0:x1])
                    owners.append(i)
                    offsets.append((int(x0), int(y0)))
        tiles = self.detector.detect_batch(crops) if crops else []
        return [
            self._merge(levels[i][0], levels[i][-1] if weak else None,
                        [(d, o) for d, o, k in zip(tiles, offsets, owners) if k == i])
            for i in range(len(images))
        ]

    def _merge(self, trusted: Detections, weak: Detections | None,
               tiles: list[tuple[Detections, tuple[int, int]]]) -> Detections:
        """The trusted whole-image detections first (unchanged, in the wrapped detector's order), then the
        candidates by decreasing score, marked ``needs_check``: the detections of the low-threshold decode
        (``weak``) whose model box overlaps no trusted one, and the merged tile detections that overlap no
        whole-image detection."""
        boxes, scores, kpts = [], [], []
        if weak is not None and len(weak):
            fresh = _fresh(weak.boxes, trusted.boxes, self.iou_threshold)
            boxes.append(weak.boxes[fresh])
            scores.append(weak.scores[fresh])
            kpts.append(weak.keypoints[fresh])
        if tiles:
            tb = np.concatenate([d.boxes + np.array([x, y, x, y], np.float32) for d, (x, y) in tiles])
            ts = np.concatenate([d.scores for d, _ in tiles])
            tk = np.concatenate([d.keypoints + np.array([x, y], np.float32) for d, (x, y) in tiles])
            fresh = _fresh(tb, np.concatenate([trusted.boxes, *boxes]), self.iou_threshold)
            if fresh.any():
                mb, ms, mk, _ = weighted_nms(tb[fresh], ts[fresh], keypoints=tk[fresh],
                                             iou_threshold=self.detector.config.iou_threshold)
                boxes.append(mb)
                scores.append(ms)
                kpts.append(mk)
        cb = np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32)
        cs = np.concatenate(scores) if scores else np.zeros(0, np.float32)
        ck = np.concatenate(kpts) if kpts else np.zeros((0, *trusted.keypoints.shape[1:]), np.float32)
        order = np.argsort(-cs, kind="stable")
        if self.detector.max_detections is not None:  # the trusted detections take the first slots
            order = order[:max(self.detector.max_detections - len(trusted), 0)]
        b = np.concatenate([trusted.boxes, cb[order]])
        s = np.concatenate([trusted.scores, cs[order]])
        k = np.concatenate([trusted.keypoints, ck[order]])
        needs_check = np.arange(len(s)) >= len(trusted)
        if self.box == "body":
            b = alignment_boxes(k.astype(np.float64), self.detector.config.alignment)
        return Detections(b.astype(np.float32), s, np.zeros(len(s), np.int64), k, needs_check)


def _fresh(boxes: np.ndarray, others: np.ndarray, iou_threshold: float) -> np.ndarray:
    """(N,) bool: which of ``boxes`` (N, 4) overlap none of ``others`` (M, 4) by IoU above ``iou_threshold``
    (float32 IoU, as the detector's own NMS)."""
    return (box_iou(boxes, others, dtype=np.float32) <= iou_threshold).all(1)
