"""PCK, PCKh (MPII), AUC and EPE with MMPose's semantics (``mmpose.evaluation.functional.keypoint_eval``).

A keypoint is *correct* when ``|| (pred - gt) / normalize || < threshold`` (strictly less; the division is per
coordinate, so ``normalize`` may differ along x and y). Joints whose GT is not visible (``visible <= 0``) or not
finite, and whole samples whose normaliser is 0, are left out (MMPose's ``_calc_distances``). A visible joint with
a missing (NaN) prediction counts as wrong. Accuracies are fractions in [0, 1] (MMPose's MPII summary, reproduced
by :func:`mpii_pckh`, is in percent). Arithmetic is float64 (MMPose stores the distances as float32; the two can
differ only for a distance within float32 rounding of the threshold).

Normalisers (all (N,) float64):

* :func:`bbox_size`: the longer side of the GT box, MMPose's ``PCKAccuracy(norm_item='bbox')`` ("PCK@0.2" on LSP,
  "PCK@0.05" on animals / hands).
* :func:`torso_size`: distance between two GT joints (MMPose's ``'torso'``, JHMDB: joints 4 and 5), with an
  optional fallback to the predicted torso where the GT one is shorter than 1 px (as MMPose).
* :func:`mpii_head_size`: MPII head size, ``0.6 * ||head box diagonal||`` (``SC_BIAS = 0.6`` of the MPII
  evaluation code); ``hg_valid.h5``'s ``normalize`` column already holds it.

Coordinates are in any consistent unit (image pixels, x right, y down, in the usual case).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MPII_PCKH_EXCLUDE", "PCKResult", "auc", "bbox_size", "epe", "mpii_head_size", "mpii_pckh",
    "normalized_distances", "pck", "pckh", "torso_size",
]

MPII_PCKH_EXCLUDE = (6, 7)
"""``mpii16`` joints left out of the mean PCKh: pelvis and thorax (MMPose's ``MpiiPCKAccuracy``, the MPII
benchmark's "total")."""


@dataclass(frozen=True)
class PCKResult:
    """Per-joint and mean PCK.

    Attributes:
        per_joint: (K,) float64 fraction of correct keypoints per joint, NaN for a joint with no visible GT.
        counts: (K,) int64 number of visible GT keypoints per joint (the denominators).
        mean: the headline number, defined by the function that made the result (see :func:`pck`, :func:`pckh`).
        threshold: the normalised-distance threshold.
    """

    per_joint: np.ndarray
    counts: np.ndarray
    mean: float
    threshold: float


def _points(name: str, value: Any) -> np.ndarray:
    arr = np.array(value, dtype=np.float64, copy=True)
    if arr.ndim != 3 or arr.shape[2] < 2:
        raise ValueError(f"{name} must have shape (N, K, D) with D >= 2 (usually (N, K, 2)), got {arr.shape}")
    return arr


def _inputs(pred: Any, gt: Any, visible: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float64 pred, gt (N, K, D) and the (N, K) bool mask of visible, finite GT keypoints."""
    p, g = _points("pred", pred), _points("gt", gt)
    if p.shape != g.shape:
        raise ValueError(f"pred and gt must have the same shape, got {p.shape} and {g.shape}")
    n, k = g.shape[:2]
    if visible is None:
        vis = np.ones((n, k), bool)
    else:
        v = np.asarray(visible)
        if v.shape != (n, k):
            raise ValueError(f"visible must have shape ({n}, {k}) (one flag per GT keypoint), got {v.shape}")
        vis = v > 0
    return p, g, vis & np.isfinite(g).all(axis=2)


def _normalizer(name: str, value: Any, n: int, d: int) -> np.ndarray:
    """(N, D) float64 from a scalar, (N,) or (N, D); must be finite and >= 0."""
    arr = np.array(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full((n, d), float(arr))
    elif arr.shape == (n,):
        arr = np.repeat(arr[:, None], d, axis=1)
    elif arr.shape != (n, d):
        raise ValueError(f"{name} must be a scalar or have shape ({n},) or ({n}, {d}), got {arr.shape}")
    if not np.all(np.isfinite(arr) & (arr >= 0)):
        raise ValueError(f"{name} must be finite and >= 0 (0 leaves the sample out), got range "
                         f"[{np.nanmin(arr) if arr.size else 0:.4g}, {np.nanmax(arr) if arr.size else 0:.4g}]")
    return arr


def normalized_distances(
    pred: Any, gt: Any, visible: Any, *, normalize: Any
) -> tuple[np.ndarray, np.ndarray]:
    """``|| (pred - gt) / normalize ||`` per keypoint, and which keypoints count.

    Args:
        pred, gt: (N, K, D) float coordinates (usually D = 2, pixels).
        visible: (N, K) GT visibility (``> 0`` = visible) or ``None`` (all visible).
        normalize: scalar, (N,) or (N, D) per-sample (per-coordinate) normaliser, >= 0; a sample with a 0 is
            left out.

    Returns:
        ``(distances, valid)``: (N, K) float64 (NaN where not valid, or where the prediction is missing) and
        (N, K) bool (visible, finite GT, normaliser > 0).
    """
    p, g, valid = _inputs(pred, gt, visible)
    n, k, d = g.shape
    norm = _normalizer("normalize", normalize, n, d)
    valid &= (norm > 0).all(axis=1)[:, None]
    safe = np.where(norm > 0, norm, 1.0)
    dist = np.linalg.norm((p - g) / safe[:, None, :], axis=2)
    return np.where(valid, dist, np.nan), valid


def _accuracy(dist: np.ndarray, valid: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    counts = valid.sum(axis=0).astype(np.int64)
    hits = (valid & (np.nan_to_num(dist, nan=np.inf) < threshold)).sum(axis=0)
    per_joint = np.full(counts.shape, np.nan)
    np.divide(hits, counts, out=per_joint, where=counts > 0)
    return per_joint, counts


def _threshold(threshold: Any) -> float:
    thr = float(threshold)
    if not np.isfinite(thr) or thr < 0:
        raise ValueError(f"threshold must be a finite number >= 0, got {threshold!r}")
    return thr


def pck(pred: Any, gt: Any, visible: Any, *, threshold: float, normalize: Any) -> PCKResult:
    """PCK, MMPose's ``keypoint_pck_accuracy``.

    Args:
        pred, gt: (N, K, D) coordinates (usually (N, K, 2) pixels).
        visible: (N, K) GT visibility (``> 0`` = visible), or ``None``.
        threshold: fraction of the normaliser, e.g. 0.2 (LSP, with :func:`bbox_size`) or 0.05.
        normalize: scalar, (N,) or (N, D), e.g. :func:`bbox_size` of the GT boxes.

    Returns:
        :class:`PCKResult`; ``mean`` is MMPose's ``avg_acc``: the unweighted mean of the per-joint accuracies
        over joints with at least one visible GT keypoint (NaN when there is none; MMPose returns 0).
    """
    thr = _threshold(threshold)
    dist, valid = normalized_distances(pred, gt, visible, normalize=normalize)
    per_joint, counts = _accuracy(dist, valid, thr)
    has = counts > 0
    mean = float(per_joint[has].mean()) if has.any() else float("nan")
    return PCKResult(per_joint, counts, mean, thr)


def pckh(
    pred: Any, gt: Any, visible: Any, *, head_sizes: Any, threshold: float = 0.5,
    exclude: tuple[int, ...] = MPII_PCKH_EXCLUDE,
) -> PCKResult:
    """PCKh: PCK normalised by the head size (MPII convention, threshold 0.5).

    Args:
        pred, gt: (N, K, 2) pixels (``mpii16`` order for the default ``exclude``).
        visible: (N, K) GT flags; for MPII use "annotated" (MPII's ``1 - jnt_missing``), not the occlusion flag.
        head_sizes: (N,) head sizes in pixels (:func:`mpii_head_size`).
        threshold: fraction of the head size.
        exclude: joints left out of ``mean`` (default pelvis and thorax of ``mpii16``; ``()`` for none).

    Returns:
        :class:`PCKResult`; ``mean`` is weighted by the joint counts over the joints not in ``exclude``, i.e. the
        fraction of all their visible keypoints that are correct (MMPose's ``MpiiPCKAccuracy`` ``PCKh`` / 100).
    """
    thr = _threshold(threshold)
    heads = np.asarray(head_sizes, dtype=np.float64)
    if heads.ndim != 1:
        raise ValueError(f"head_sizes must have shape (N,), got {heads.shape}")
    dist, valid = normalized_distances(pred, gt, visible, normalize=heads)
    per_joint, counts = _accuracy(dist, valid, thr)
    k = counts.shape[0]
    keep = np.ones(k, bool)
    for j in exclude:
        if not -k <= int(j) < k:
            raise ValueError(f"exclude index {j} is out of range for K={k}")
        keep[int(j)] = False
    total = counts[keep].sum()
    mean = float(np.nansum(per_joint[keep] * counts[keep]) / total) if total else float("nan")
    return PCKResult(per_joint, counts, mean, thr)


def mpii_pckh(pred: Any, gt: Any, visible: Any, *, head_sizes: Any) -> dict[str, float]:
    """MMPose's ``MpiiPCKAccuracy`` summary for ``mpii16`` keypoints, in **percent**.

    Keys: ``Head`` (head top), ``Shoulder``, ``Elbow``, ``Wrist``, ``Hip``, ``Knee``, ``Ankle`` (mean of the left
    and right per-joint PCKh@0.5), ``PCKh`` and ``PCKh@0.1`` (count-weighted over all joints but pelvis and thorax;
    upper neck is in the mean but has no group). A group whose joints have no visible GT is NaN.

    MMPose adds 1 px to the predictions first (MATLAB 1-based GT); this function compares the coordinates as given,
    so pass ``pred + 1`` to reproduce that when ``gt`` is 1-based.
    """
    p, g, _ = _inputs(pred, gt, visible)
    if g.shape[1] != 16:
        raise ValueError(f"mpii_pckh needs the 16 mpii16 keypoints, got K={g.shape[1]}")
    at05 = pckh(p, g, visible, head_sizes=head_sizes, threshold=0.5)
    at01 = pckh(p, g, visible, head_sizes=head_sizes, threshold=0.1)
    j = 100.0 * at05.per_joint
    pairs = {"Shoulder": (12, 13), "Elbow": (11, 14), "Wrist": (10, 15), "Hip": (2, 3), "Knee": (1, 4),
             "Ankle": (0, 5)}
    out = {"Head": float(j[9])}
    out.update({name: float(0.5 * (j[a] + j[b])) for name, (a, b) in pairs.items()})
    out["PCKh"] = 100.0 * at05.mean
    out["PCKh@0.1"] = 100.0 * at01.mean
    return out


def auc(pred: Any, gt: Any, visible: Any, *, norm_factor: Any, num_thresholds: int = 20) -> float:
    """Area under the PCK curve, MMPose's ``keypoint_auc``.

    The mean of :func:`pck` ``.mean`` at the thresholds ``i / num_thresholds`` for ``i = 0 .. num_thresholds - 1``
    (0 included, 1 not, so the maximum is ``1 - 1 / num_thresholds``), with distances divided by ``norm_factor``:
    PCK at pixel thresholds from 0 up to ``norm_factor`` (MMPose: 30 px for hands / OneHand10K, 20 px for RHD).

    Args:
        pred, gt: (N, K, D) pixels. visible: (N, K) or ``None``.
        norm_factor: the largest threshold in pixels (scalar; (N,) or (N, D) per sample also accepted).
        num_thresholds: number of thresholds (MMPose: 20).

    Returns:
        AUC in [0, 1) (NaN when no keypoint is visible).
    """
    if int(num_thresholds) != num_thresholds or num_thresholds < 1:
        raise ValueError(f"num_thresholds must be a positive integer, got {num_thresholds!r}")
    dist, valid = normalized_distances(pred, gt, visible, normalize=norm_factor)
    accs = []
    for i in range(int(num_thresholds)):
        per_joint, counts = _accuracy(dist, valid, i / num_thresholds)
        has = counts > 0
        accs.append(per_joint[has].mean() if has.any() else np.nan)
    return float(np.sum([a / num_thresholds for a in accs]))


def epe(pred: Any, gt: Any, visible: Any) -> float:
    """End-point error, MMPose's ``keypoint_epe``: mean Euclidean distance (in the coordinates' unit, e.g. px)
    over all visible GT keypoints pooled (NaN when there is none).

    Raises:
        ValueError: a prediction is missing (non-finite) where the GT is visible.
    """
    p, g, valid = _inputs(pred, gt, visible)
    if not np.isfinite(p[valid]).all():
        raise ValueError("pred has non-finite coordinates at visible GT keypoints; EPE is undefined")
    if not valid.any():
        return float("nan")
    return float(np.linalg.norm(p - g, axis=2)[valid].mean())


def _boxes(boxes: Any, box_format: str) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {b.shape}")
    if box_format == "xyxy":
        wh = b[:, 2:] - b[:, :2]
    elif box_format == "xywh":
        wh = b[:, 2:].copy()
    else:
        raise ValueError(f"box_format must be 'xyxy' or 'xywh', got {box_format!r}")
    if np.any(wh < 0):
        raise ValueError("boxes must have non-negative width and height (x2 >= x1, y2 >= y1)")
    return wh


def bbox_size(boxes: Any, *, box_format: str = "xyxy") -> np.ndarray:
    """(N,) float64 longer side ``max(w, h)`` of (N, 4) boxes in pixels (MMPose's PCK ``'bbox'`` normaliser)."""
    return _boxes(boxes, box_format).max(axis=1)


def torso_size(keypoints: Any, *, first: int, second: int, fallback: Any = None, min_size: float = 1.0) -> np.ndarray:
    """(N,) float64 distance between joints ``first`` and ``second`` of (N, K, D) ``keypoints`` (usually GT).

    E.g. ``coco17``: left shoulder 5 and right hip 12; MMPose's JHMDB ``'torso'`` uses joints 4 and 5. Where the
    distance is below ``min_size`` and ``fallback`` (N, K, D), typically the prediction, is given, the fallback's
    distance is used instead (MMPose does this with ``min_size=1``).
    """
    kp = _points("keypoints", keypoints)
    k = kp.shape[1]
    for name, j in (("first", first), ("second", second)):
        if not 0 <= int(j) < k:
            raise ValueError(f"{name} = {j} is out of range for K={k}")
    size = np.linalg.norm(kp[:, first] - kp[:, second], axis=1)
    if fallback is not None:
        fb = _points("fallback", fallback)
        if fb.shape != kp.shape:
            raise ValueError(f"fallback must have the shape of keypoints {kp.shape}, got {fb.shape}")
        size = np.where(size < min_size, np.linalg.norm(fb[:, first] - fb[:, second], axis=1), size)
    return size


def mpii_head_size(head_boxes: Any, *, box_format: str = "xyxy") -> np.ndarray:
    """(N,) float64 MPII head size ``0.6 * sqrt(w^2 + h^2)`` of (N, 4) head boxes (pixels)."""
    wh = _boxes(head_boxes, box_format)
    return 0.6 * np.linalg.norm(wh, axis=1)
