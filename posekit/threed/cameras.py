"""Pinhole cameras with OpenCV lens distortion, ``look_at`` placement and random virtual cameras.

Frames: world points are ``(..., 3)`` float64 (millimetres for the mocap data); ``X_cam = R @ X_world + t``;
the camera frame is OpenCV's (x right, y down, z forward along the optical axis). Pixels are ``(..., 2)``
float64 with x right, y down and the origin at the top-left pixel's corner (so the image centre of a
``(width, height)`` image is ``(width / 2, height / 2)``). Distortion is OpenCV's 5-coefficient model
``(k1, k2, p1, p2, k3)``; :meth:`Camera.project` equals ``cv2.projectPoints`` (vectorised, float64).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Camera", "look_at", "random_camera", "distort_normalized"]


def _frozen(a, shape: tuple[int, ...], name: str) -> np.ndarray:
    arr = np.array(a, dtype=np.float64)  # copy: never alias the caller's array
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr}")
    arr.flags.writeable = False
    return arr


def distort_normalized(xy: np.ndarray, dist: np.ndarray | None) -> np.ndarray:
    """Apply OpenCV's ``(k1, k2, p1, p2, k3)`` model to normalized image coordinates ``(..., 2)`` (x/z, y/z)."""
    xy = np.asarray(xy, dtype=np.float64)
    if dist is None:
        return xy.copy()
    k1, k2, p1, p2, k3 = dist
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
    yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
    return np.stack([xd, yd], axis=-1)


@dataclass(frozen=True, eq=False)
class Camera:
    """A calibrated camera.

    Attributes:
        K: ``(3, 3)`` intrinsics ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` in pixels (no skew, as OpenCV).
        R: ``(3, 3)`` world-to-camera rotation (orthonormal, det +1).
        t: ``(3,)`` world-to-camera translation (world units, e.g. mm): ``X_cam = R X_world + t``.
        dist: ``(5,)`` OpenCV ``(k1, k2, p1, p2, k3)`` or ``None`` for no distortion.
        image_size: ``(width, height)`` in pixels.

    Arrays are stored as read-only float64 copies.
    """

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    dist: np.ndarray | None = None
    image_size: tuple[int, int] = (1000, 1000)

    def __post_init__(self) -> None:
        K = _frozen(self.K, (3, 3), "K")
        if (K[2] != [0.0, 0.0, 1.0]).any() or K[1, 0] != 0 or K[0, 1] != 0 or K[0, 0] <= 0 or K[1, 1] <= 0:
            raise ValueError(f"K must be [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0, got {K.tolist()}")
        R = _frozen(self.R, (3, 3), "R")
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
            raise ValueError("R must be a rotation matrix (orthonormal, det +1)")
        dist = None
        if self.dist is not None:
            dist = _frozen(np.ravel(np.asarray(self.dist, dtype=np.float64)), (5,), "dist")
        size = tuple(int(v) for v in self.image_size)
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f"image_size must be (width, height) > 0, got {self.image_size}")
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "t", _frozen(np.ravel(np.asarray(self.t, dtype=np.float64)), (3,), "t"))
        object.__setattr__(self, "dist", dist)
        object.__setattr__(self, "image_size", size)

    # ---- geometry ----
    @property
    def center(self) -> np.ndarray:
        """``(3,)`` camera centre in world coordinates (``-R^T t``)."""
        return -self.R.T @ self.t

    @property
    def optical_axis(self) -> np.ndarray:
        """``(3,)`` unit viewing direction in world coordinates (camera +z)."""
        return self.R[2].copy()

    @property
    def projection_matrix(self) -> np.ndarray:
        """``(3, 4)`` ``K [R | t]`` (distortion not included)."""
        return self.K @ np.concatenate([self.R, self.t[:, None]], axis=1)

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """World ``(..., 3)`` -> camera frame ``(..., 3)`` (same units)."""
        p = _points3(points, "points")
        return p @ self.R.T + self.t

    def camera_to_world(self, points: np.ndarray) -> np.ndarray:
        """Camera frame ``(..., 3)`` -> world ``(..., 3)``."""
        p = _points3(points, "points")
        return (p - self.t) @ self.R

    def project_camera_points(self, points_cam: np.ndarray) -> np.ndarray:
        """Camera-frame ``(..., 3)`` -> pixels ``(..., 2)`` with distortion. Like ``cv2.projectPoints``,
        points behind the camera (z <= 0) are not rejected: check depths where it matters."""
        p = _points3(points_cam, "points_cam")
        xy = p[..., :2] / p[..., 2:3]
        xy = distort_normalized(xy, self.dist)
        K = self.K
        u = K[0, 0] * xy[..., 0] + K[0, 2]
        v = K[1, 1] * xy[..., 1] + K[1, 2]
        return np.stack([u, v], axis=-1)

    def project(self, points: np.ndarray) -> np.ndarray:
        """World ``(..., 3)`` -> pixels ``(..., 2)`` float64 (x right, y down), lens distortion applied."""
        return self.project_camera_points(self.world_to_camera(points))

    def undistort_points(self, pixels: np.ndarray, *, iterations: int = 5) -> np.ndarray:
        """Distorted pixels ``(..., 2)`` -> normalized ideal coordinates ``(..., 2)`` (x/z, y/z in the camera
        frame). Starts from ``cv2.undistortPoints`` (fixed-point iterations) and refines with ``iterations``
        Gauss-Newton steps on the forward model, so the result inverts :meth:`project_camera_points` to machine
        precision for the moderate distortions of real lenses."""
        px = np.asarray(pixels, dtype=np.float64)
        if px.ndim < 1 or px.shape[-1] != 2:
            raise ValueError(f"pixels must have shape (..., 2), got {px.shape}")
        shape = px.shape
        flat = px.reshape(-1, 2)
        K = self.K
        if self.dist is None or not np.any(self.dist):
            return ((flat - K[:2, 2]) / K[[0, 1], [0, 1]]).reshape(shape)
        finite = np.all(np.isfinite(flat), axis=1)
        out = np.full_like(flat, np.nan)
        if not finite.any():
            return out.reshape(shape)
        obs = flat[finite]
        # OpenCV's default fixed-point iterations as the start (``criteria=`` is OpenCV-5-only in Python).
        xy = cv2.undistortPoints(obs.reshape(-1, 1, 2), K, self.dist).reshape(-1, 2)
        target = (obs - K[:2, 2]) / K[[0, 1], [0, 1]]
        eps = 1e-7
        for _ in range(iterations):  # Gauss-Newton on distort(xy) = target, numeric 2x2 Jacobian
            f = distort_normalized(xy, self.dist) - target
            jx = (distort_normalized(xy + [eps, 0.0], self.dist) - distort_normalized(xy - [eps, 0.0], self.dist))
            jy = (distort_normalized(xy + [0.0, eps], self.dist) - distort_normalized(xy - [0.0, eps], self.dist))
            J = np.stack([jx, jy], axis=-1) / (2 * eps)  # (N, 2, 2): d(out_i)/d(in_j)
            xy = xy - np.linalg.solve(J, f[..., None])[..., 0]
        out[finite] = xy
        return out.reshape(shape)


def _points3(points, name: str) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim < 1 or p.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (..., 3), got {p.shape}")
    return p


def _intrinsics(focal, image_size, principal_point) -> np.ndarray:
    f = np.broadcast_to(np.asarray(focal, dtype=np.float64), (2,))
    w, h = image_size
    c = (w / 2.0, h / 2.0) if principal_point is None else tuple(float(v) for v in principal_point)
    return np.array([[f[0], 0.0, c[0]], [0.0, f[1], c[1]], [0.0, 0.0, 1.0]])


def look_at(
    eye: Sequence[float],
    target: Sequence[float],
    *,
    up: Sequence[float] = (0.0, 1.0, 0.0),
    focal: float | tuple[float, float] = 1000.0,
    image_size: tuple[int, int] = (1000, 1000),
    principal_point: tuple[float, float] | None = None,
    dist: Sequence[float] | None = None,
) -> Camera:
    """A camera at ``eye`` (world, e.g. mm) whose optical axis passes through ``target``, with the image
    "up" (-y) along the projection of ``up`` (default +Y, the CMU world's up). ``focal`` in pixels (fx, or
    (fx, fy)); the principal point defaults to the image centre."""
    eye = np.asarray(eye, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    up = np.asarray(up, dtype=np.float64)
    for name, v in (("eye", eye), ("target", target), ("up", up)):
        if v.shape != (3,):
            raise ValueError(f"{name} must have shape (3,), got {v.shape}")
    z = target - eye
    if np.linalg.norm(z) == 0:
        raise ValueError("eye and target must differ")
    z = z / np.linalg.norm(z)
    x = np.cross(z, up)
    if np.linalg.norm(x) < 1e-9 * max(np.linalg.norm(up), 1e-300):
        raise ValueError(f"up {up.tolist()} must not be parallel to the viewing direction {z.tolist()}")
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return Camera(_intrinsics(focal, image_size, principal_point), R, -R @ eye, dist, image_size)


def _horizontal_basis(up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit ``e1, e2`` spanning the plane normal to ``up``: ``e1`` = world +Z projected (world +X if ``up`` is
    along Z), ``e2 = up x e1``."""
    ref = np.array([0.0, 0.0, 1.0]) if abs(up[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = ref - up * (ref @ up)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(up, e1)


def random_camera(
    rng: np.random.Generator,
    *,
    target: Sequence[float] = (0.0, 0.0, 0.0),
    up: Sequence[float] = (0.0, 1.0, 0.0),
    focal_range: tuple[float, float] = (800.0, 1600.0),
    distance_range: tuple[float, float] = (3000.0, 7000.0),
    elevation_range_deg: tuple[float, float] = (-10.0, 40.0),
    azimuth_range_deg: tuple[float, float] = (-180.0, 180.0),
    image_size: tuple[int, int] = (1000, 1000),
) -> Camera:
    """A virtual camera looking at ``target`` from a random direction.

    ``focal`` (pixels, fx = fy), ``distance`` (world units, mm for the mocap data), elevation and azimuth are
    drawn uniformly from their ranges. Elevation is the angle above the plane normal to ``up`` (positive: the
    camera looks down); azimuth turns about ``up`` from the reference direction (world +Z for a Y-up world, the
    direction CMU subjects face at rest, so azimuth 0 films them from the front). The principal point is the
    image centre, no distortion.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    for name, r in (("focal_range", focal_range), ("distance_range", distance_range),
                    ("elevation_range_deg", elevation_range_deg), ("azimuth_range_deg", azimuth_range_deg)):
        if len(r) != 2 or r[0] > r[1]:
            raise ValueError(f"{name} must be (low, high) with low <= high, got {r}")
    if focal_range[0] <= 0 or distance_range[0] <= 0:
        raise ValueError(f"focal_range and distance_range must be positive, got {focal_range}, {distance_range}")
    if not -90 < elevation_range_deg[0] <= elevation_range_deg[1] < 90:
        raise ValueError(f"elevation_range_deg must lie in (-90, 90), got {elevation_range_deg}")
    up = np.asarray(up, dtype=np.float64)
    up = up / np.linalg.norm(up)
    target = np.asarray(target, dtype=np.float64)
    f = rng.uniform(*focal_range)
    d = rng.uniform(*distance_range)
    el = np.deg2rad(rng.uniform(*elevation_range_deg))
    az = np.deg2rad(rng.uniform(*azimuth_range_deg))
    e1, e2 = _horizontal_basis(up)
    direction = np.cos(el) * (np.cos(az) * e1 + np.sin(az) * e2) + np.sin(el) * up
    return look_at(target + d * direction, target, up=up, focal=f, image_size=image_size)
