"""Normalisation of the lifters' 2D inputs and 3D outputs (plain NumPy functions; inputs are never modified).

A lifter sees 2D keypoints in some normalised frame, never raw pixels, so that it works for any image size and
camera. Three schemes are provided; a model must be fed the one it was trained with.

* **Screen** (:func:`screen_normalize`, the official VideoPose3D / MMPose ``VideoPoseLifting`` scheme):
  ``x_n = x / w * 2 - 1`` and ``y_n = y / w * 2 - h / w`` (both axes divided by the image **width**, so the
  aspect ratio is kept; the image centre maps to (0, 0) and x to [-1, 1]). Required by the official MMPose and
  VideoPose3D checkpoints. Independent of the image size, but not of where the person stands in the image or of
  the focal length: a model trained this way learns the training camera set-up.
* **Root + scale** (:func:`root_scale_normalize`, the scheme recommended for posekit-trained lifters):
  centre every pose on its root joint (the pelvis, index 0 of h36m17) and divide by the 2D skeleton size, the
  root-mean-square distance of the joints from the root, ``s = sqrt(mean_k |p_k - p_root|^2)``, per frame or,
  for videos, one value per sequence (the median over frames; keeps the apparent size changes of a squat and
  avoids per-frame scale jitter). The result is invariant to image size, image position, person distance and
  focal length (up to perspective effects), which is what a lifter should not depend on; the root-relative 3D
  output carries no absolute scale or position.
* **Root + scale + ray** (:func:`root_scale_ray_normalize`, posekit's camera-aware scheme, ``"root_scale_ray"``
  in a lifter's metadata): pixels become normalised camera coordinates ``u = (p - c) / f`` (principal point
  ``c``, focal length ``f`` in pixels; :class:`CameraIntrinsics`), then root + scale as above, except that the
  root's own slot, always 0 in root + scale, holds the root's ray ``(u_root_x, u_root_y)`` (the tangent of its
  angle off the optical axis). The pose shape stays scale- and position-free; the lifter also learns where the
  person is relative to the optical axis, which sets the direction they are seen from. Independent of the image
  size and the focal length once the intrinsics are known; for unknown cameras :data:`DEFAULT_FOV_DEG`.
* **Mean / std** (:func:`mean_std_normalize`, MMPose ``ImagePoseLifting`` / the official SimpleBaseline3D):
  ``(p - mean_k) / std_k`` with per-joint pixel statistics of the Human3.6M training images.

:func:`decode_lifting` and :func:`insert_root` turn raw lifter outputs into root-relative 3D poses exactly as
MMPose's ``ImagePoseLifting.decode`` / ``VideoPoseLifting.decode`` do.

Shapes: ``(..., K, 2)`` float keypoints in image pixels (x right, y down); outputs are float32 unless stated.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_FOV_DEG", "CameraIntrinsics", "camera_normalize", "root_scale_ray_normalize",
    "screen_normalize", "screen_denormalize", "root_scale_normalize", "root_scale_denormalize",
    "mean_std_normalize", "mean_std_denormalize", "decode_lifting", "insert_root",
]


def _points(name: str, value: Any, dims: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim < 2 or arr.shape[-1] != dims or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be a numeric array of shape (..., K, {dims}), got {arr.shape} {arr.dtype}")
    return arr.astype(np.float32, copy=True)


def _size(name: str, value: float) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value}")
    return value


DEFAULT_FOV_DEG = 60.0
"""Field of view (degrees, across the **longer** image side) assumed for a camera whose intrinsics are unknown:
phone main cameras (26-28 mm equivalent: 65-69 deg) and webcams (55-65 deg across the width) bracket it;
Human3.6M's cameras (f ~ 1150 px at 1000 x 1000) have 47 deg."""


@dataclass(frozen=True)
class CameraIntrinsics:
    """What is known of the camera that took the 2D keypoints (pixels).

    ``focal_length``: fx (or ``(fx, fy)``) in pixels; ``fov_deg``: instead, the field of view across the longer
    image side in degrees (``f = (max(w, h) / 2) / tan(fov / 2)``); ``principal_point``: ``(cx, cy)`` pixels
    (default the image centre). With neither focal length nor field of view, :data:`DEFAULT_FOV_DEG` is assumed.
    """

    focal_length: float | tuple[float, float] | None = None
    principal_point: tuple[float, float] | None = None
    fov_deg: float | None = None

    def __post_init__(self) -> None:
        if self.focal_length is not None and self.fov_deg is not None:
            raise ValueError("give either focal_length or fov_deg, not both")
        if self.focal_length is not None:
            f = np.broadcast_to(np.asarray(self.focal_length, np.float64), (2,))
            if not np.all(np.isfinite(f)) or np.any(f <= 0):
                raise ValueError(f"focal_length must be positive pixels, got {self.focal_length}")
        if self.fov_deg is not None and not 1.0 <= float(self.fov_deg) <= 170.0:
            raise ValueError(f"fov_deg must be a field of view in [1, 170] degrees, got {self.fov_deg}")
        if self.principal_point is not None:
            c = np.asarray(self.principal_point, np.float64)
            if c.shape != (2,) or not np.all(np.isfinite(c)):
                raise ValueError(f"principal_point must be (cx, cy) pixels, got {self.principal_point}")

    def resolve(self, image_size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(f, c)``: focal lengths (fx, fy) and principal point (cx, cy), float64 pixels. ``image_size`` (w, h)
        is needed unless both the focal length and the principal point are given."""
        need = self.focal_length is None or self.principal_point is None
        if need and image_size is None:
            raise ValueError("the camera intrinsics need image_size (w, h) unless both the focal length and the "
                             "principal point are given")
        if image_size is not None:
            w, h = (_size("image width", image_size[0]), _size("image height", image_size[1]))
        if self.focal_length is not None:
            f = np.broadcast_to(np.asarray(self.focal_length, np.float64), (2,)).copy()
        else:
            fov = DEFAULT_FOV_DEG if self.fov_deg is None else float(self.fov_deg)
            f = np.full(2, max(w, h) / 2.0 / np.tan(np.deg2rad(fov) / 2.0))
        c = np.array([w / 2.0, h / 2.0]) if self.principal_point is None else np.asarray(self.principal_point, float)
        return f, c


def camera_normalize(keypoints: Any, *, focal_length: Any, principal_point: Any) -> np.ndarray:
    """Pixels -> normalised camera coordinates ``(p - c) / f`` (x/z, y/z of the joint's ray; no distortion).

    Args:
        keypoints: (..., K, 2) pixels, x right, y down.
        focal_length: fx or (fx, fy) pixels; principal_point: (cx, cy) pixels.

    Returns:
        (..., K, 2) float32.
    """
    kpts = _points("keypoints", keypoints, 2).astype(np.float64)
    f = np.broadcast_to(np.asarray(focal_length, np.float64), (2,))
    c = np.asarray(principal_point, np.float64)
    if not np.all(f > 0) or c.shape != (2,):
        raise ValueError(f"focal_length must be > 0 and principal_point (cx, cy), got {focal_length}, "
                         f"{principal_point}")
    return ((kpts - c) / f).astype(np.float32)


def root_scale_ray_normalize(
    keypoints: Any, *, focal_length: Any, principal_point: Any, root_index: int = 0, per_sequence: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`camera_normalize`, then :func:`root_scale_normalize`, then the root's slot set to the root's ray.

    Returns:
        ``(normalized, root, scale)``: (..., K, 2) float32 (joint ``root_index`` = the root's normalised camera
        coordinates ``(p_root - c) / f``, the others root-relative with RMS radius 1); root (..., 2) and scale (...)
        in normalised camera units.
    """
    u = camera_normalize(keypoints, focal_length=focal_length, principal_point=principal_point)
    out, root, scale = root_scale_normalize(u, root_index=root_index, per_sequence=per_sequence)
    out[..., root_index, :] = root
    return out, root, scale


def screen_normalize(keypoints: Any, *, width: float, height: float) -> np.ndarray:
    """Pixels -> screen coordinates ``p / w * 2 - [1, h / w]`` (VideoPose3D's ``normalize_screen_coordinates``).

    Args:
        keypoints: (..., K, 2) pixels, x right, y down.
        width, height: image size in pixels.

    Returns:
        (..., K, 2) float32; the image centre is (0, 0), x spans [-1, 1], y spans [-h/w, h/w].
    """
    kpts = _points("keypoints", keypoints, 2)
    w, h = _size("width", width), _size("height", height)
    return (kpts / w * 2 - np.array([1.0, h / w], np.float32)).astype(np.float32)


def screen_denormalize(normalized: Any, *, width: float, height: float) -> np.ndarray:
    """Inverse of :func:`screen_normalize`: (..., K, 2) screen coordinates -> pixels (float32)."""
    pts = _points("normalized", normalized, 2)
    w, h = _size("width", width), _size("height", height)
    return ((pts + np.array([1.0, h / w], np.float32)) * w / 2).astype(np.float32)


def root_scale_normalize(
    keypoints: Any, *, root_index: int = 0, per_sequence: bool = False, eps: float = 1e-6
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre on the root joint and divide by the 2D skeleton size (RMS joint distance from the root).

    Args:
        keypoints: (..., K, 2) pixels; NaN marks missing joints (ignored by the size, kept NaN in the output).
        root_index: the root joint (0 = pelvis for h36m17).
        per_sequence: one scale for the whole sequence (keypoints ``(T, K, 2)``; the median of the per-frame
            sizes) instead of one per frame.
        eps: smallest scale (degenerate poses whose joints all sit on the root).

    Returns:
        ``(normalized, root, scale)``: (..., K, 2) float32 with the root at (0, 0) and RMS radius 1 (per frame);
        root (..., 2) float32 pixels; scale (...) float32 pixels.
    """
    kpts = _points("keypoints", keypoints, 2)
    k = kpts.shape[-2]
    if not -k <= root_index < k:
        raise ValueError(f"root_index must index one of the {k} keypoints, got {root_index}")
    root = kpts[..., root_index, :]
    rel = kpts - root[..., None, :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames -> NaN scale
        scale = np.sqrt(np.nanmean(np.sum(rel**2, axis=-1), axis=-1))
        if per_sequence:
            if kpts.ndim != 3:
                raise ValueError(f"per_sequence needs keypoints of shape (T, K, 2), got {kpts.shape}")
            scale = np.full_like(scale, np.nanmedian(scale))
    scale = np.maximum(scale, eps).astype(np.float32)
    return (rel / scale[..., None, None]).astype(np.float32), root.astype(np.float32), scale


def root_scale_denormalize(normalized: Any, *, root: Any, scale: Any) -> np.ndarray:
    """Inverse of :func:`root_scale_normalize`: ``normalized * scale + root`` -> (..., K, 2) float32 pixels.

    ``root`` (..., 2) and ``scale`` (...) as returned by :func:`root_scale_normalize`.
    """
    pts = _points("normalized", normalized, 2)
    root_arr = np.asarray(root, np.float32)
    scale_arr = np.asarray(scale, np.float32)
    if root_arr.shape != pts.shape[:-2] + (2,) or scale_arr.shape != pts.shape[:-2]:
        raise ValueError(
            f"root must have shape {pts.shape[:-2] + (2,)} and scale {pts.shape[:-2]} for normalized "
            f"{pts.shape}, got {root_arr.shape} and {scale_arr.shape}"
        )
    return (pts * scale_arr[..., None, None] + root_arr[..., None, :]).astype(np.float32)


def _stats(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value, np.float64)
    if arr.shape[-2:] != shape[-2:] or arr.size != int(np.prod(shape)):
        raise ValueError(f"{name} must have shape {shape} (or with a leading 1), got {arr.shape}")
    return arr.reshape(shape)


def mean_std_normalize(keypoints: Any, *, mean: Any, std: Any) -> np.ndarray:
    """``(keypoints - mean) / std`` per joint and axis (MMPose ``ImagePoseLifting`` 2D normalisation).

    Args:
        keypoints: (..., K, D) float.
        mean, std: (K, D) (or (1, K, D)) statistics, e.g. ``H36M_KEYPOINTS_MEAN/STD`` of
            :mod:`posekit.models.lifters.mlp`.

    Returns:
        (..., K, D) float32.
    """
    arr = np.asarray(keypoints)
    if arr.ndim < 2:
        raise ValueError(f"keypoints must have shape (..., K, D), got {arr.shape}")
    m, s = _stats("mean", mean, arr.shape[-2:]), _stats("std", std, arr.shape[-2:])
    return ((arr.astype(np.float64) - m) / s).astype(np.float32)


def mean_std_denormalize(normalized: Any, *, mean: Any, std: Any) -> np.ndarray:
    """Inverse of :func:`mean_std_normalize`: ``normalized * std + mean`` (float32)."""
    arr = np.asarray(normalized)
    if arr.ndim < 2:
        raise ValueError(f"normalized must have shape (..., K, D), got {arr.shape}")
    m, s = _stats("mean", mean, arr.shape[-2:]), _stats("std", std, arr.shape[-2:])
    return (arr.astype(np.float64) * s + m).astype(np.float32)


def insert_root(coords: Any, *, root_index: int = 0, root: Any = None) -> np.ndarray:
    """Insert the root joint that a lifter does not predict: (..., J, 3) -> (..., J + 1, 3) float32.

    ``root`` (..., 3) is the value to insert (default 0: a root-relative pose).
    """
    arr = np.asarray(coords, np.float32)
    if arr.ndim < 2 or arr.shape[-1] != 3:
        raise ValueError(f"coords must have shape (..., J, 3), got {arr.shape}")
    root_arr = np.zeros(arr.shape[:-2] + (3,), np.float32) if root is None else np.asarray(root, np.float32)
    root_arr = np.broadcast_to(root_arr, arr.shape[:-2] + (3,))
    return np.concatenate([arr[..., :root_index, :], root_arr[..., None, :], arr[..., root_index:, :]], axis=-2)


def decode_lifting(
    coords: Any,
    *,
    target_mean: Any = None,
    target_std: Any = None,
    target_root: Any = None,
    remove_root: bool = False,
    root_index: int = 0,
) -> np.ndarray:
    """MMPose's ``ImagePoseLifting.decode`` / ``VideoPoseLifting.decode`` for a batch.

    Args:
        coords: (N, J, 3) raw lifter outputs.
        target_mean, target_std: (J, 3) (or (1, J, 3)) target statistics (ImagePoseLifting): the output is
            de-normalised ``coords * std + mean`` first.
        target_root: (N, 3) (or (N, 1, 3)) root positions, or None: added to every joint; with ``remove_root``
            the root itself is then inserted at ``root_index``. Without a root the pose stays root-relative
            and has J joints.
        remove_root: the model was trained without the root joint (SimpleBaseline3D: J = K - 1).

    Returns:
        (N, J, 3) or (N, J + 1, 3) float32 (float64 arithmetic inside, as MMPose's float64 statistics).
    """
    arr = np.asarray(coords)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"coords must have shape (N, J, 3), got {arr.shape}")
    out = arr.astype(np.float64)
    if (target_mean is None) != (target_std is None):
        raise ValueError("target_mean and target_std must be given together")
    if target_mean is not None:
        out = out * _stats("target_std", target_std, arr.shape[-2:]) + _stats("target_mean", target_mean,
                                                                             arr.shape[-2:])
    if target_root is not None:
        root = np.asarray(target_root, np.float64).reshape(-1, 3)
        if len(root) != len(arr):
            raise ValueError(f"target_root must have shape (N, 3) with N = {len(arr)}, got {np.shape(target_root)}")
        out = out + root[:, None, :]
        if remove_root:
            out = insert_root(out, root_index=root_index, root=root).astype(np.float64)
    return out.astype(np.float32)
