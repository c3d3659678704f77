"""Post-processing of top-down predictions: flip-test merging and OKS non-maximum suppression.

Flip test (MMPose 1.3.2 ``mmpose.models.utils.tta``): the model also runs on the horizontally flipped crop; its
output is mirrored back, left/right keypoint channels are swapped with ``flip_indices`` and the two are averaged:
``fused = 0.5 * (out + unflip(out_flipped))``. ``flip_indices[k]`` is the keypoint that ``k`` becomes under a
horizontal flip (COCO: ``[0, 2, 1, 4, 3, ...]``). The flip functions accept NumPy arrays and torch tensors and
return the same type; inputs are never modified.

OKS-NMS (MMPose ``mmpose.evaluation.functional.nms``): greedy suppression of poses whose object keypoint
similarity with a higher-scoring pose exceeds a threshold, and its soft (Gaussian re-scoring) variant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch

__all__ = [
    "flip_heatmaps",
    "flip_simcc",
    "flip_keypoints",
    "fuse_flip_heatmaps",
    "fuse_flip_simcc",
    "fuse_flip_keypoints",
    "oks_iou",
    "oks_nms",
    "soft_oks_nms",
    "SCORE_MODES",
    "rescore_instances",
]

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


# ----------------------------------------------------------------------------------------------- flip test


def _check_array(name: str, x: object, ndim: int, layout: str) -> None:
    if not isinstance(x, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(f"{name} must have shape {layout}, got {tuple(x.shape)}")


def _flip_index(flip_indices: Sequence[int] | np.ndarray, k: int, name: str) -> np.ndarray:
    """``flip_indices`` as an int64 (K,) permutation of ``range(K)``."""
    idx = np.asarray(flip_indices)
    if idx.shape != (k,) or (k and not np.issubdtype(idx.dtype, np.integer)):
        raise ValueError(f"flip_indices must be {k} integers (one per keypoint of {name}), got shape {idx.shape}")
    if not np.array_equal(np.sort(idx), np.arange(k)):
        raise ValueError(f"flip_indices must be a permutation of 0..{k - 1}, got {idx.tolist()}")
    return idx.astype(np.int64)


def _take_channels(x: ArrayT, idx: np.ndarray) -> ArrayT:
    """``x[:, idx]`` (a copy) for NumPy or torch."""
    if isinstance(x, torch.Tensor):
        return x[:, torch.as_tensor(idx, device=x.device)]
    return x[:, idx]


def _reverse_last(x: ArrayT) -> ArrayT:
    """``x`` reversed along its last axis (a copy)."""
    if isinstance(x, torch.Tensor):
        return x.flip(-1)
    return x[..., ::-1].copy()


def flip_heatmaps(heatmaps: ArrayT, flip_indices: Sequence[int], *, shift: bool = False) -> ArrayT:
    """Un-flip heatmaps predicted on a horizontally flipped crop (MMPose ``flip_heatmaps``, ``flip_mode='heatmap'``).

    Mirrors the width axis, reorders channels by ``flip_indices`` and, with ``shift``, moves every column one to
    the right (``h[..., 1:] = h[..., :-1]``, column 0 kept), the ``shift_heatmap`` of MSRA-heatmap configs.

    Args:
        heatmaps: (N, K, H, W) NumPy array or torch tensor.
        flip_indices: K keypoint indices (see the module docstring).
        shift: apply MMPose's one-column shift.

    Returns:
        (N, K, H, W), same type, dtype and device as ``heatmaps``.
    """
    _check_array("heatmaps", heatmaps, 4, "(N, K, H, W)")
    idx = _flip_index(flip_indices, heatmaps.shape[1], "heatmaps")
    out = _take_channels(_reverse_last(heatmaps), idx)
    if shift and out.shape[-1] > 1:
        out[..., 1:] = out[..., :-1].clone() if isinstance(out, torch.Tensor) else out[..., :-1].copy()
    return out


def flip_simcc(x: ArrayT, y: ArrayT, flip_indices: Sequence[int]) -> tuple[ArrayT, ArrayT]:
    """Un-flip SimCC vectors predicted on a flipped crop (MMPose ``flip_vectors``).

    Args:
        x: (N, K, Wx) x-axis bins; reordered by ``flip_indices`` and reversed along the bins.
        y: (N, K, Wy) y-axis bins; only reordered.
        flip_indices: K keypoint indices.

    Returns:
        ``(x, y)`` of the same shapes, type and dtype.
    """
    _check_array("x", x, 3, "(N, K, Wx)")
    _check_array("y", y, 3, "(N, K, Wy)")
    if type(x) is not type(y) or x.shape[:2] != y.shape[:2]:
        raise ValueError(
            f"x and y must be the same array type with equal (N, K), got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    idx = _flip_index(flip_indices, x.shape[1], "x")
    return _take_channels(_reverse_last(x), idx), _take_channels(y, idx)


def flip_keypoints(
    keypoints: ArrayT, flip_indices: Sequence[int], *, width: float, shift: bool = True
) -> ArrayT:
    """Mirror keypoints predicted on a horizontally flipped crop back, and swap left/right.

    Args:
        keypoints: (N, K, 2) or (N, K, D >= 1) crop coordinates; only x (index 0) is mirrored.
        flip_indices: K keypoint indices.
        width: crop width in the keypoints' units (pixels).
        shift: ``True``: ``x' = width - 1 - x`` (pixel centres at integer coordinates, as MMPose's
            ``flip_keypoints`` and ``flip_coordinates(shift_coords=True)``; matches flipping the pixel array).
            ``False``: ``x' = width - x`` (a continuous mirror about ``width / 2``).

    Returns:
        Same shape, type and dtype; NaN stays NaN.
    """
    _check_array("keypoints", keypoints, 3, "(N, K, D)")
    if keypoints.shape[2] < 1:
        raise ValueError(f"keypoints must have shape (N, K, D >= 1), got {tuple(keypoints.shape)}")
    if not np.isfinite(width) or width <= 0:
        raise ValueError(f"width must be a positive finite number, got {width!r}")
    idx = _flip_index(flip_indices, keypoints.shape[1], "keypoints")
    out = _take_channels(keypoints, idx)
    out[..., 0] = (width - 1 if shift else width) - out[..., 0]
    return out


def _check_same(name_a: str, a: object, name_b: str, b: object) -> None:
    if type(a) is not type(b) or tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"{name_a} and {name_b} must be the same array type and shape, got "
            f"{type(a).__name__}{tuple(a.shape)} and {type(b).__name__}{tuple(b.shape)}"
        )


def fuse_flip_heatmaps(
    heatmaps: ArrayT, flipped_heatmaps: ArrayT, flip_indices: Sequence[int], *, shift: bool = False
) -> ArrayT:
    """Flip-test merge ``0.5 * (heatmaps + flip_heatmaps(flipped_heatmaps))``; (N, K, H, W) each, raw outputs."""
    _check_same("heatmaps", heatmaps, "flipped_heatmaps", flipped_heatmaps)
    return (heatmaps + flip_heatmaps(flipped_heatmaps, flip_indices, shift=shift)) * 0.5


def fuse_flip_simcc(
    x: ArrayT, y: ArrayT, flipped_x: ArrayT, flipped_y: ArrayT, flip_indices: Sequence[int]
) -> tuple[ArrayT, ArrayT]:
    """Flip-test merge of SimCC vectors: ``0.5 * (out + flip_simcc(out_flipped))`` for x (N, K, Wx), y (N, K, Wy)."""
    _check_same("x", x, "flipped_x", flipped_x)
    _check_same("y", y, "flipped_y", flipped_y)
    fx, fy = flip_simcc(flipped_x, flipped_y, flip_indices)
    return (x + fx) * 0.5, (y + fy) * 0.5


def fuse_flip_keypoints(
    keypoints: ArrayT, flipped_keypoints: ArrayT, flip_indices: Sequence[int], *, width: float, shift: bool = True
) -> ArrayT:
    """Flip-test merge of coordinates: ``0.5 * (kpts + flip_keypoints(kpts_flipped))``, (N, K, D) crop pixels."""
    _check_same("keypoints", keypoints, "flipped_keypoints", flipped_keypoints)
    return (keypoints + flip_keypoints(flipped_keypoints, flip_indices, width=width, shift=shift)) * 0.5


# ----------------------------------------------------------------------------------------------- OKS-NMS


def _as_float(name: str, value: object, shape: tuple[int | None, ...], layout: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, arr.shape)):
        raise ValueError(f"{name} must have shape {layout}, got {arr.shape}")
    return arr


def _check_sigmas(sigmas: object, k: int) -> np.ndarray:
    s = _as_float("sigmas", sigmas, (k,), f"({k},) (one per keypoint)")
    if not np.all(np.isfinite(s) & (s > 0)):
        raise ValueError(f"sigmas must be positive and finite, got {s.tolist()}")
    return s


def oks_iou(
    keypoints: np.ndarray,
    others: np.ndarray,
    area: float,
    other_areas: np.ndarray,
    sigmas: np.ndarray,
    *,
    keypoint_scores: np.ndarray | None = None,
    other_keypoint_scores: np.ndarray | None = None,
    score_threshold: float | None = None,
) -> np.ndarray:
    """Object keypoint similarity of one pose with N others (MMPose ``oks_iou``).

    ``oks = mean_k exp(-d_k^2 / (2 * (2 sigma_k)^2 * ((area + area_n) / 2 + eps)))`` over the keypoints used:
    all of them, or with ``score_threshold`` only those whose score exceeds it in both poses. Keypoints with a
    non-finite coordinate in either pose are left out too (MMPose would return NaN). No keypoint used -> 0.

    Args:
        keypoints: (K, 2) pixels. others: (N, K, 2) pixels.
        area: area of ``keypoints``' instance (px^2). other_areas: (N,) px^2.
        sigmas: (K,) COCO-style per-keypoint sigmas.
        keypoint_scores: (K,), other_keypoint_scores: (N, K); needed with ``score_threshold``.
        score_threshold: MMPose's ``vis_thr``; ``None`` uses every keypoint.

    Returns:
        (N,) float64 in [0, 1].
    """
    g = _as_float("keypoints", keypoints, (None, 2), "(K, 2)")
    k = g.shape[0]
    d = _as_float("others", others, (None, k, 2), f"(N, {k}, 2)")
    n = d.shape[0]
    a_d = _as_float("other_areas", other_areas, (n,), f"({n},)")
    a_g = float(area)
    var = (2.0 * _check_sigmas(sigmas, k)) ** 2
    if not (np.isfinite(a_g) and a_g >= 0 and np.all(np.isfinite(a_d) & (a_d >= 0))):
        raise ValueError("area and other_areas must be finite and non-negative")
    used = np.isfinite(g).all(axis=1)[None, :] & np.isfinite(d).all(axis=2)
    if score_threshold is not None:
        if keypoint_scores is None or other_keypoint_scores is None:
            raise ValueError("score_threshold needs keypoint_scores and other_keypoint_scores")
        vg = _as_float("keypoint_scores", keypoint_scores, (k,), f"({k},)")
        vd = _as_float("other_keypoint_scores", other_keypoint_scores, (n, k), f"({n}, {k})")
        used &= (vg > score_threshold)[None, :] & (vd > score_threshold)
    dist2 = ((d - g[None]) ** 2).sum(axis=2)
    e = dist2 / var / ((a_g + a_d[:, None]) / 2 + np.spacing(1)) / 2
    sim = np.where(used, np.exp(-np.where(used, e, 0.0)), 0.0)
    count = used.sum(axis=1)
    return np.where(count > 0, sim.sum(axis=1) / np.maximum(count, 1), 0.0)


def _nms_inputs(
    keypoints: object, scores: object, areas: object, sigmas: object, keypoint_scores: object, score_threshold: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    kpts = _as_float("keypoints", keypoints, (None, None, 2), "(N, K, 2)")
    n, k = kpts.shape[:2]
    sc = _as_float("scores", scores, (n,), f"({n},)")
    ar = _as_float("areas", areas, (n,), f"({n},)")
    if not np.all(np.isfinite(sc)):
        raise ValueError(f"scores must be finite, got {sc.tolist()}")
    if not np.all(np.isfinite(ar) & (ar >= 0)):
        raise ValueError(f"areas must be finite and non-negative, got {ar.tolist()}")
    sig = _check_sigmas(sigmas, k)
    vis = None
    if keypoint_scores is not None:
        vis = _as_float("keypoint_scores", keypoint_scores, (n, k), f"({n}, {k})")
    if score_threshold is not None and vis is None:
        raise ValueError("score_threshold needs keypoint_scores (N, K)")
    return kpts, sc, ar, sig, vis


def _descending(scores: np.ndarray) -> np.ndarray:
    """MMPose's ``scores.argsort()[::-1]``; ties resolved as its (stable, for N <= 16) sort: higher index first."""
    return np.argsort(scores, kind="stable")[::-1]


def _oks_row(
    i: int, rest: np.ndarray, kpts: np.ndarray, areas: np.ndarray, sigmas: np.ndarray,
    vis: np.ndarray | None, score_threshold: float | None,
) -> np.ndarray:
    return oks_iou(
        kpts[i], kpts[rest], areas[i], areas[rest], sigmas,
        keypoint_scores=None if vis is None else vis[i],
        other_keypoint_scores=None if vis is None else vis[rest],
        score_threshold=score_threshold,
    )


def oks_nms(
    keypoints: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    sigmas: np.ndarray,
    *,
    threshold: float = 0.9,
    keypoint_scores: np.ndarray | None = None,
    score_threshold: float | None = None,
) -> np.ndarray:
    """Greedy OKS-NMS over the poses of one image (MMPose ``oks_nms``).

    Visits poses by decreasing score; keeps one and drops every remaining pose whose OKS with it is
    ``> threshold``.

    Args:
        keypoints: (N, K, 2) image pixels (NaN keypoints are ignored in the OKS, see :func:`oks_iou`).
        scores: (N,) instance scores.
        areas: (N,) instance areas in px^2 (MMPose: product of the box scale ``w * h``).
        sigmas: (K,) per-keypoint OKS sigmas.
        threshold: OKS above which a lower-scoring pose is suppressed.
        keypoint_scores: (N, K) keypoint scores; used only with ``score_threshold``.
        score_threshold: keypoints scoring ``<=`` this in either pose are left out of the OKS (``vis_thr``).

    Returns:
        (M,) int64 indices of the kept poses, by decreasing score.
    """
    kpts, sc, ar, sig, vis = _nms_inputs(keypoints, scores, areas, sigmas, keypoint_scores, score_threshold)
    order = _descending(sc)
    keep: list[int] = []
    while order.size:
        i, rest = int(order[0]), order[1:]
        keep.append(i)
        if not rest.size:
            break
        oks = _oks_row(i, rest, kpts, ar, sig, vis, score_threshold)
        order = rest[oks <= threshold]
    return np.asarray(keep, dtype=np.int64)


def soft_oks_nms(
    keypoints: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    sigmas: np.ndarray,
    *,
    threshold: float = 0.9,
    max_dets: int = 20,
    keypoint_scores: np.ndarray | None = None,
    score_threshold: float | None = None,
    method: str = "gaussian",
) -> tuple[np.ndarray, np.ndarray]:
    """Soft OKS-NMS over the poses of one image (MMPose ``soft_oks_nms``).

    Repeatedly takes the highest-scoring remaining pose and decays the others' scores by their OKS ``o`` with it:
    ``score * exp(-o^2 / threshold)`` (``method="gaussian"``, MMPose's default) or ``score * (1 - o)`` where
    ``o >= threshold`` (``"linear"``). Nothing is dropped except by ``max_dets``.

    Args: as :func:`oks_nms`, plus ``max_dets`` (maximum number of poses returned) and ``method``.

    Returns:
        ``(keep, new_scores)``: (M,) int64 indices in selection order and (M,) float64 their decayed scores
        (non-increasing). MMPose's CocoMetric uses only ``keep`` and writes the original scores.
    """
    if method not in ("gaussian", "linear"):
        raise ValueError(f"method must be 'gaussian' or 'linear', got {method!r}")
    if int(max_dets) != max_dets or max_dets < 0:
        raise ValueError(f"max_dets must be a non-negative integer, got {max_dets!r}")
    kpts, sc, ar, sig, vis = _nms_inputs(keypoints, scores, areas, sigmas, keypoint_scores, score_threshold)
    order = _descending(sc)
    current = sc[order]
    keep: list[int] = []
    kept_scores: list[float] = []
    while order.size and len(keep) < max_dets:
        i, rest = int(order[0]), order[1:]
        keep.append(i)
        kept_scores.append(float(current[0]))
        if not rest.size:
            break
        oks = _oks_row(i, rest, kpts, ar, sig, vis, score_threshold)
        current = current[1:]
        if method == "gaussian":
            current = current * np.exp(-(oks**2) / threshold)
        else:
            current = np.where(oks >= threshold, current * (1 - oks), current)
        resort = _descending(current)
        order, current = rest[resort], current[resort]
    return np.asarray(keep, dtype=np.int64), np.asarray(kept_scores, dtype=np.float64)


# ------------------------------------------------------------------------------------------ instance scores

#: the ``score_mode`` values of :func:`rescore_instances` (MMPose CocoMetric's)
SCORE_MODES = ("bbox_keypoint", "keypoint", "bbox")


def rescore_instances(
    keypoint_scores: np.ndarray,
    bbox_scores: np.ndarray,
    *,
    score_mode: str = "bbox_keypoint",
    keypoint_score_thr: float = 0.2,
) -> np.ndarray:
    """Instance scores as MMPose's CocoMetric computes them, bit for bit (float32 arithmetic, sequential sum).

    Args:
        keypoint_scores: (N, K) keypoint scores (cast to float32).
        bbox_scores: (N,) detection scores (cast to float32).
        score_mode: ``"bbox_keypoint"``: box score x mean of the keypoint scores ``> keypoint_score_thr`` (0 when
            none); ``"keypoint"``: plain mean of all keypoint scores; ``"bbox"``: the box score.
        keypoint_score_thr: threshold of ``"bbox_keypoint"``.

    Returns:
        (N,) float32 scores.
    """
    if score_mode not in SCORE_MODES:
        raise ValueError(f"score_mode must be one of {SCORE_MODES}, got {score_mode!r}")
    kps = np.asarray(keypoint_scores, dtype=np.float32)
    if kps.ndim != 2:
        raise ValueError(f"keypoint_scores must have shape (N, K), got {kps.shape}")
    n = kps.shape[0]
    if kps.shape[1] == 0:
        raise ValueError("keypoint_scores must have at least one keypoint (K >= 1)")
    box = np.asarray(bbox_scores, dtype=np.float32)
    if box.shape != (n,):
        raise ValueError(f"bbox_scores must have shape ({n},), got {box.shape}")
    if score_mode == "bbox":
        return box.copy()
    if score_mode == "keypoint":
        return np.array([np.mean(row) for row in kps], dtype=np.float32).reshape(n)
    above = kps > np.float32(keypoint_score_thr)
    total = np.cumsum(np.where(above, kps, np.float32(0)), axis=1, dtype=np.float32)[:, -1]
    count = above.sum(axis=1)
    mean = np.where(count > 0, total / np.maximum(count, 1).astype(np.float32), np.float32(0))
    return (box * mean.astype(np.float32)).astype(np.float32)
