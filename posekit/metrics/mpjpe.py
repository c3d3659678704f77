"""3D pose errors: MPJPE, P-MPJPE (Procrustes-aligned) and N-MPJPE (scale-aligned), reported in millimetres.

Inputs are (N, K, 3) joint positions (2D, (N, K, 2), works too) in millimetres (``input_unit="mm"``, Human3.6M's
convention) or metres (``input_unit="m"``, converted); every result is in mm. Joints that are not visible, or
non-finite in the prediction or the GT, are masked: they neither enter the alignment nor the means.

* MPJPE ("protocol 1"): mean Euclidean distance between predicted and GT joints, no alignment. Root-relative
  inputs are the caller's choice (MMPose / VideoPose3D subtract the root before calling).
* P-MPJPE ("protocol 2", PA-MPJPE): each prediction is first aligned to its GT by the similarity transform
  (scale, rotation, translation) that minimises the squared error over its valid joints (Umeyama / orthogonal
  Procrustes via SVD; reflections are excluded: the rotation has determinant +1), as MMPose's
  ``compute_similarity_transform``.
* N-MPJPE: each prediction is scaled by ``s = <pred, gt> / <pred, pred>`` (least squares, no centring,
  no rotation), as MMPose's ``keypoint_mpjpe(alignment='scale')`` and VideoPose3D's ``n_mpjpe``.

With every joint valid the three values equal MMPose's ``keypoint_mpjpe`` with alignment ``'none'``,
``'procrustes'`` and ``'scale'``; the mean pools all valid joints of all samples, as MMPose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MPJPEResult", "mpjpe", "n_mpjpe", "p_mpjpe", "procrustes_align", "scale_align"]

_UNITS = {"mm": 1.0, "m": 1000.0}


@dataclass(frozen=True)
class MPJPEResult:
    """A joint-position error.

    Attributes:
        value: mean error over all valid joints of all samples, in ``unit``.
        per_joint: (K,) float64 mean error of each joint over the samples where it is valid (NaN if never).
        per_sample: (N,) float64 mean error of each sample over its valid joints (NaN if none).
        count: number of valid joints that entered ``value``.
        alignment: ``"none"``, ``"procrustes"`` or ``"scale"``.
        unit: always ``"mm"``.
    """

    value: float
    per_joint: np.ndarray
    per_sample: np.ndarray
    count: int
    alignment: str
    unit: str = "mm"


def _inputs(pred: Any, gt: Any, visible: Any, input_unit: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float64 (N, K, D) pred and gt in mm (NaN zeroed) and the (N, K) valid mask."""
    if input_unit not in _UNITS:
        raise ValueError(f"input_unit must be 'mm' or 'm', got {input_unit!r}")
    p = np.array(pred, dtype=np.float64, copy=True)
    g = np.array(gt, dtype=np.float64, copy=True)
    for name, arr in (("pred", p), ("gt", g)):
        if arr.ndim != 3 or arr.shape[2] not in (2, 3):
            raise ValueError(f"{name} must have shape (N, K, 3) (or (N, K, 2)), got {arr.shape}")
    if p.shape != g.shape:
        raise ValueError(f"pred and gt must have the same shape, got {p.shape} and {g.shape}")
    valid = np.isfinite(p).all(axis=2) & np.isfinite(g).all(axis=2)
    if visible is not None:
        v = np.asarray(visible)
        if v.shape != p.shape[:2]:
            raise ValueError(f"visible must have shape {p.shape[:2]} (N, K), got {v.shape}")
        valid &= v > 0
    scale = _UNITS[input_unit]
    p = np.where(valid[..., None], p, 0.0) * scale
    g = np.where(valid[..., None], g, 0.0) * scale
    return p, g, valid


def _result(p: np.ndarray, g: np.ndarray, valid: np.ndarray, alignment: str) -> MPJPEResult:
    count = int(valid.sum())
    if count == 0:
        raise ValueError("no valid joints: every joint is invisible or non-finite in pred or gt")
    err = np.where(valid, np.linalg.norm(p - g, axis=2), 0.0)

    def mean(axis: int) -> np.ndarray:
        n = valid.sum(axis=axis)
        out = np.full(n.shape, np.nan)
        np.divide(err.sum(axis=axis), n, out=out, where=n > 0)
        return out

    return MPJPEResult(float(err.sum() / count), mean(0), mean(1), count, alignment)


def procrustes_align(pred: Any, gt: Any, visible: Any = None) -> np.ndarray:
    """Each prediction mapped by the similarity transform ``s R x + t`` (``det R = +1``) that best fits its GT.

    Args:
        pred, gt: (N, K, D) with D = 3 (or 2), any unit.
        visible: (N, K) flags (``> 0`` = use the joint for the fit) or ``None``; non-finite joints are never used.

    Returns:
        (N, K, D) float64 aligned predictions (all joints transformed; NaN stays NaN). A sample with no valid
        joint is returned unchanged; one whose valid predicted joints coincide is mapped to the GT centroid.
    """
    p_raw = np.array(pred, dtype=np.float64, copy=True)
    p, g, valid = _inputs(pred, gt, visible, "mm")
    w = valid[..., None].astype(np.float64)
    n_valid = np.maximum(w.sum(axis=1, keepdims=True), 1.0)
    mu_p = (p * w).sum(axis=1, keepdims=True) / n_valid
    mu_g = (g * w).sum(axis=1, keepdims=True) / n_valid
    x1 = (p - mu_p) * w
    x2 = (g - mu_g) * w
    cov = np.einsum("nki,nkj->nij", x1, x2)  # (N, D, D) = X1^T X2
    u, s, vh = np.linalg.svd(cov)
    v = np.swapaxes(vh, 1, 2)
    ut = np.swapaxes(u, 1, 2)
    z = np.ones(s.shape)
    z[:, -1] = np.sign(np.linalg.det(v @ ut))
    rot = v @ (z[:, :, None] * ut)  # R = V Z U^T maps centred pred onto centred GT
    var1 = (x1**2).sum(axis=(1, 2))
    scale = np.divide((s * z).sum(axis=1), var1, out=np.zeros_like(var1), where=var1 > 0)
    out = scale[:, None, None] * np.einsum("nij,nkj->nki", rot, p_raw - mu_p) + mu_g
    has = valid.any(axis=1)
    return np.where(has[:, None, None], out, p_raw)


def scale_align(pred: Any, gt: Any, visible: Any = None) -> np.ndarray:
    """(N, K, D) float64 predictions scaled by ``<pred, gt> / <pred, pred>`` over each sample's valid joints
    (no centring; a sample with no valid joint, or an all-zero prediction, is left unchanged)."""
    p_raw = np.array(pred, dtype=np.float64, copy=True)
    p, g, _ = _inputs(pred, gt, visible, "mm")
    pp = np.einsum("nkc,nkc->n", p, p)
    pg = np.einsum("nkc,nkc->n", p, g)
    scale = np.divide(pg, pp, out=np.ones_like(pp), where=pp > 0)
    return p_raw * scale[:, None, None]


def mpjpe(pred: Any, gt: Any, visible: Any = None, *, input_unit: str = "mm") -> MPJPEResult:
    """Mean per-joint position error in mm, no alignment.

    Args:
        pred, gt: (N, K, 3) joint positions in ``input_unit`` (same frame; root-relative if wanted).
        visible: (N, K) GT flags (``> 0`` = evaluate the joint) or ``None`` (all finite joints).
        input_unit: ``"mm"`` or ``"m"``.
    """
    p, g, valid = _inputs(pred, gt, visible, input_unit)
    return _result(p, g, valid, "none")


def p_mpjpe(pred: Any, gt: Any, visible: Any = None, *, input_unit: str = "mm") -> MPJPEResult:
    """MPJPE in mm after per-sample Procrustes alignment (scale, rotation, translation; no reflection) fitted on
    the valid joints (:func:`procrustes_align`). Arguments as :func:`mpjpe`."""
    p, g, valid = _inputs(pred, gt, visible, input_unit)
    aligned = procrustes_align(p, g, valid)
    return _result(np.where(valid[..., None], aligned, 0.0), g, valid, "procrustes")


def n_mpjpe(pred: Any, gt: Any, visible: Any = None, *, input_unit: str = "mm") -> MPJPEResult:
    """MPJPE in mm after per-sample least-squares scaling of the prediction (:func:`scale_align`). Arguments as
    :func:`mpjpe`."""
    p, g, valid = _inputs(pred, gt, visible, input_unit)
    return _result(scale_align(p, g, valid), g, valid, "scale")
