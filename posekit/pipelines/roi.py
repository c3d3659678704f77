"""Rotated regions of interest (ROIs) of MediaPipe's landmark pipelines: construction, crop, projection.

A MediaPipe landmark model never sees the whole image: a rotated rectangle (MediaPipe's ``NormalizedRect``) is
derived from detector keypoints or from the previous frame's landmarks, cropped to the model's square input, and
the model's landmarks (in crop coordinates) are projected back with the rectangle's rotation. This module
reproduces MediaPipe 0.10.14's calculators bit for bit where it matters:

* ``AlignmentPointsRectsCalculator`` -> :func:`rois_from_alignment_points` (BlazePose),
* ``DetectionsToRectsCalculator`` -> :func:`rois_from_boxes` (palm, face) and, with
  ``LandmarksToDetectionCalculator``, :func:`rois_from_landmark_bounds` (face tracking),
* ``HandLandmarksToRectCalculator`` -> :func:`hand_rois_from_landmarks`,
* ``RectTransformationCalculator`` -> :func:`transform_rois` (scale, shift, square_long),
* ``ImageToTensorCalculator`` (OpenCV path) -> :func:`crop_matrices` + :func:`warp_crops`,
* ``LandmarkProjectionCalculator`` / ``WorldLandmarkProjectionCalculator`` -> :func:`project_landmarks`,
  :func:`rotate_world_landmarks`.

Conventions. ROIs are stored as MediaPipe stores them: float32 centre and size *normalised* by the image width and
height, rotation in radians (positive = clockwise on screen, because y points down). Pixel coordinates in and out
of this module are MediaPipe's normalised coordinates times the image size (``x_px = x_norm * W``), the same numbers
``mp.solutions`` users get; posekit does not shift them by half a pixel. Arithmetic follows the C++ float32 steps
so that ROIs, crop matrices and crops equal MediaPipe's (the crop reproduces OpenCV 4's fixed-point bilinear warp
exactly, independent of the installed OpenCV version).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Rois", "normalize_radians", "rois_from_alignment_points", "rois_from_boxes", "rois_from_landmark_bounds",
    "hand_rois_from_landmarks", "transform_rois", "crop_matrices", "project_landmarks",
    "rotate_world_landmarks",
]

_F = np.float32


def _image_size(image_size: Any) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (width, height), got {image_size!r}") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"image_size must be positive (width, height), got {image_size!r}")
    return w, h


def _points(name: str, value: Any, k: int | None = None) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[2] != 2 or (k is not None and arr.shape[1] < k):
        want = f"(N, {'K' if k is None else f'>={k}'}, 2)"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    return arr


def normalize_radians(angle: Any) -> np.ndarray:
    """Wrap angles (radians) into [-pi, pi) as MediaPipe's ``NormalizeRadians`` (double maths, float32 result)."""
    a = np.asarray(angle, dtype=np.float64)
    return (a - 2 * math.pi * np.floor((a + math.pi) / (2 * math.pi))).astype(_F)


@dataclass(frozen=True)
class Rois:
    """N rotated rectangles in one image (MediaPipe ``NormalizedRect``).

    Attributes:
        center: (N, 2) float32 centre ``(x / W, y / H)``, normalised by the image size.
        size: (N, 2) float32 ``(width / W, height / H)`` before rotation.
        rotation: (N,) float32 radians, clockwise on screen (y down); 0 = upright.
        image_size: ``(W, H)`` of the image the ROIs live in, pixels.
    """

    center: np.ndarray
    size: np.ndarray
    rotation: np.ndarray
    image_size: tuple[int, int]

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", _image_size(self.image_size))
        center = np.array(self.center, dtype=_F).reshape(-1, 2)
        n = len(center)
        size = np.array(self.size, dtype=_F).reshape(-1, 2)
        rotation = np.array(self.rotation, dtype=_F).reshape(-1)
        if len(size) != n or len(rotation) != n:
            raise ValueError(f"center, size and rotation disagree on N: {n}, {len(size)}, {len(rotation)}")
        for name, arr in (("center", center), ("size", size), ("rotation", rotation)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @classmethod
    def empty(cls, image_size: tuple[int, int]) -> Rois:
        return cls(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), image_size)

    @classmethod
    def concat(cls, rois: list[Rois], image_size: tuple[int, int]) -> Rois:
        """All ROIs of ``rois`` (same image) in one :class:`Rois`."""
        if not rois:
            return cls.empty(image_size)
        return cls(np.concatenate([r.center for r in rois]), np.concatenate([r.size for r in rois]),
                   np.concatenate([r.rotation for r in rois]), image_size)

    def __len__(self) -> int:
        return len(self.center)

    def __getitem__(self, index: Any) -> Rois:
        idx = np.arange(len(self))[index]
        idx = np.atleast_1d(idx)
        return Rois(self.center[idx], self.size[idx], self.rotation[idx], self.image_size)

    @property
    def center_px(self) -> np.ndarray:
        """(N, 2) float64 centre in image pixels."""
        return self.center.astype(np.float64) * self.image_size

    @property
    def size_px(self) -> np.ndarray:
        """(N, 2) float64 width, height in image pixels."""
        return self.size.astype(np.float64) * self.image_size

    def corners_px(self) -> np.ndarray:
        """(N, 4, 2) float64 corners in image pixels: bottom-left, top-left, top-right, bottom-right of the
        crop (OpenCV ``boxPoints`` order), i.e. the points that map to crop pixels (0, H), (0, 0), (W, 0), (W, H)."""
        c, s = np.cos(self.rotation.astype(np.float64)), np.sin(self.rotation.astype(np.float64))
        w, h = self.size_px[:, 0], self.size_px[:, 1]
        local = np.array([[-0.5, 0.5], [-0.5, -0.5], [0.5, -0.5], [0.5, 0.5]])
        lx = local[None, :, 0] * w[:, None]
        ly = local[None, :, 1] * h[:, None]
        x = c[:, None] * lx - s[:, None] * ly
        y = s[:, None] * lx + c[:, None] * ly
        return np.stack([x, y], -1) + self.center_px[:, None, :]

    def bounds_px(self) -> np.ndarray:
        """(N, 4) float32 axis-aligned ``x1, y1, x2, y2`` pixels enclosing each rotated rectangle (not clipped)."""
        corners = self.corners_px()
        if len(corners) == 0:
            return np.zeros((0, 4), _F)
        return np.concatenate([corners.min(1), corners.max(1)], 1).astype(_F)


def _rotation(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, target_deg: float) -> np.ndarray:
    """``DetectionsToRectsCalculator::ComputeRotation``: float32 atan2 of the vector (p0 -> p1), y flipped."""
    target = _F(math.pi * target_deg / _F(180.0))
    return normalize_radians(target - np.arctan2(-(y1 - y0), x1 - x0).astype(_F))


def rois_from_alignment_points(
    center: Any, scale: Any, image_size: tuple[int, int], *, target_angle_deg: float = 90.0
) -> Rois:
    """MediaPipe's ``AlignmentPointsRectsCalculator``: a square ROI centred on ``center`` whose side is twice the
    distance to ``scale``, rotated so that (center -> scale) points up (``target_angle_deg=90``).

    Args:
        center: (N, 2) image pixels (BlazePose: detector keypoint 0, hip centre; tracking: auxiliary landmark 0).
        scale: (N, 2) image pixels (detector keypoint 1 / auxiliary landmark 1).
        image_size: ``(W, H)``.

    Returns:
        raw ROIs (before :func:`transform_rois`).
    """
    w, h = _image_size(image_size)
    c = _points("center", np.asarray(center, np.float64)[:, None])[:, 0]
    s = _points("scale", np.asarray(scale, np.float64)[:, None])[:, 0]
    if len(c) != len(s):
        raise ValueError(f"center and scale must have the same length, got {len(c)} and {len(s)}")
    # Keypoints travel as float32 normalised coordinates in MediaPipe; x * W is a float32 product.
    cn, sn = (c / (w, h)).astype(_F), (s / (w, h)).astype(_F)
    x0, y0 = cn[:, 0] * _F(w), cn[:, 1] * _F(h)
    x1, y1 = sn[:, 0] * _F(w), sn[:, 1] * _F(h)
    box = (np.sqrt((x1 - x0) * (x1 - x0) + (y1 - y0) * (y1 - y0)) * _F(2.0)).astype(_F)
    center_n = np.stack([x0 / _F(w), y0 / _F(h)], -1)
    size_n = np.stack([box / _F(w), box / _F(h)], -1)
    return Rois(center_n, size_n, _rotation(x0, y0, x1, y1, target_angle_deg), (w, h))


def rois_from_boxes(
    boxes: Any, image_size: tuple[int, int], *, rotation_points: Any = None, target_angle_deg: float = 0.0
) -> Rois:
    """MediaPipe's ``DetectionsToRectsCalculator``: the box's centre and size, rotated by the direction of
    ``rotation_points`` (start -> end) relative to ``target_angle_deg``; rotation 0 when ``rotation_points`` is None.

    Args:
        boxes: (N, 4) ``x1, y1, x2, y2`` image pixels.
        image_size: ``(W, H)``.
        rotation_points: optional (N, 2, 2) image pixels, ``[:, 0]`` start and ``[:, 1]`` end keypoint
            (palm: wrist centre -> middle-finger MCP with target 90; face: eye -> eye with target 0).
    """
    w, h = _image_size(image_size)
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4) as x1, y1, x2, y2 pixels, got {b.shape}")
    xmin, ymin = (b[:, 0] / w).astype(_F), (b[:, 1] / h).astype(_F)
    bw, bh = ((b[:, 2] - b[:, 0]) / w).astype(_F), ((b[:, 3] - b[:, 1]) / h).astype(_F)
    center = np.stack([xmin + bw / _F(2), ymin + bh / _F(2)], -1)
    rotation = np.zeros(len(b), _F)
    if rotation_points is not None:
        p = _points("rotation_points", rotation_points, 2)
        if len(p) != len(b):
            raise ValueError(f"rotation_points has {len(p)} entries but there are {len(b)} boxes")
        pn = (p[:, :2] / (w, h)).astype(_F)
        rotation = _rotation(pn[:, 0, 0] * _F(w), pn[:, 0, 1] * _F(h), pn[:, 1, 0] * _F(w), pn[:, 1, 1] * _F(h),
                             target_angle_deg)
    return Rois(center, np.stack([bw, bh], -1), rotation, (w, h))


def rois_from_landmark_bounds(
    landmarks: Any, image_size: tuple[int, int], *, start: int, end: int, target_angle_deg: float = 0.0
) -> Rois:
    """``LandmarksToDetectionCalculator`` + ``DetectionsToRectsCalculator``: the axis-aligned bounds of all
    landmarks, rotated by the direction landmark ``start`` -> ``end`` (face tracking: 33 -> 263, target 0).

    Args:
        landmarks: (N, K, 2) image pixels.
    """
    w, h = _image_size(image_size)
    lm = _points("landmarks", landmarks, max(start, end) + 1)
    ln = (lm / (w, h)).astype(_F)
    lo, hi = ln.min(1), ln.max(1)
    size = hi - lo  # relative bounding box: xmin, ymin, width, height (float32)
    rotation = _rotation(ln[:, start, 0] * _F(w), ln[:, start, 1] * _F(h), ln[:, end, 0] * _F(w),
                         ln[:, end, 1] * _F(h), target_angle_deg)
    return Rois(lo + size / _F(2), size, rotation, (w, h))


_HAND_PARTIAL = (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18)


def hand_rois_from_landmarks(landmarks: Any, image_size: tuple[int, int]) -> Rois:
    """MediaPipe's ``HandLandmarksToRectCalculator``: the tightest rectangle around the palm landmarks
    (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18) in the frame rotated so that wrist -> mean of the index, middle and
    ring MCPs points up. Apply :func:`transform_rois` (scale 2, shift_y -0.1, square_long) afterwards.

    Args:
        landmarks: (N, 21, 2) image pixels.
    """
    w, h = _image_size(image_size)
    lm = _points("landmarks", landmarks, 21)
    p = (lm[:, _HAND_PARTIAL] / (w, h)).astype(_F)
    x0, y0 = p[:, 0, 0] * _F(w), p[:, 0, 1] * _F(h)
    x1 = (p[:, 4, 0] + p[:, 8, 0]) / _F(2)
    y1 = (p[:, 4, 1] + p[:, 8, 1]) / _F(2)
    x1 = (x1 + p[:, 6, 0]) / _F(2) * _F(w)
    y1 = (y1 + p[:, 6, 1]) / _F(2) * _F(h)
    rotation = normalize_radians(_F(math.pi * 0.5) - np.arctan2(-(y1 - y0), x1 - x0).astype(_F))
    reverse = normalize_radians(-rotation)
    axis_c = (p.max(1) + p.min(1)) / _F(2)
    ox = (p[..., 0] - axis_c[:, None, 0]) * _F(w)
    oy = (p[..., 1] - axis_c[:, None, 1]) * _F(h)
    cr, sr = np.cos(reverse)[:, None], np.sin(reverse)[:, None]
    px, py = ox * cr - oy * sr, ox * sr + oy * cr
    pcx = (px.max(1) + px.min(1)) / _F(2)
    pcy = (py.max(1) + py.min(1)) / _F(2)
    c, s = np.cos(rotation), np.sin(rotation)
    cx = pcx * c - pcy * s + _F(w) * axis_c[:, 0]
    cy = pcx * s + pcy * c + _F(h) * axis_c[:, 1]
    size = np.stack([(px.max(1) - px.min(1)) / _F(w), (py.max(1) - py.min(1)) / _F(h)], -1)
    return Rois(np.stack([cx / _F(w), cy / _F(h)], -1), size, rotation, (w, h))


def transform_rois(
    rois: Rois, *, scale: tuple[float, float] = (1.0, 1.0), shift: tuple[float, float] = (0.0, 0.0),
    square_long: bool = False, square_short: bool = False,
) -> Rois:
    """MediaPipe's ``RectTransformationCalculator`` on normalised rects: shift (in units of the rect's size,
    along its rotated axes), make square in pixels (long or short side), then scale. Returns a new :class:`Rois`."""
    if square_long and square_short:
        raise ValueError("square_long and square_short are mutually exclusive")
    w, h = rois.image_size
    fw, fh = _F(w), _F(h)
    sx, sy = _F(shift[0]), _F(shift[1])
    width, height, rot = rois.size[:, 0], rois.size[:, 1], rois.rotation
    cos, sin = np.cos(rot), np.sin(rot)
    x_shift = np.where(rot == 0, width * sx, (fw * width * sx * cos - fh * height * sy * sin) / fw)
    y_shift = np.where(rot == 0, height * sy, (fw * width * sx * sin + fh * height * sy * cos) / fh)
    center = rois.center + np.stack([x_shift, y_shift], -1).astype(_F)
    if square_long or square_short:
        side = (np.maximum if square_long else np.minimum)(width * fw, height * fh)
        width, height = side / fw, side / fh
    size = np.stack([width * _F(scale[0]), height * _F(scale[1])], -1)
    return Rois(center, size, rot, rois.image_size)


def _box_points(rois: Rois) -> np.ndarray:
    """OpenCV's ``RotatedRect::points`` in float32 for ``cv::RotatedRect(center, size, rotation * 180 / pi)``,
    built from the ROI in pixels as MediaPipe's ``GetRoi`` does (float32 products)."""
    fw, fh = _F(rois.image_size[0]), _F(rois.image_size[1])
    cx, cy = rois.center[:, 0] * fw, rois.center[:, 1] * fh
    sw, sh = rois.size[:, 0] * fw, rois.size[:, 1] * fh
    angle = (rois.rotation * _F(180.0)).astype(np.float64) / math.pi
    angle = angle.astype(_F).astype(np.float64) * math.pi / 180.0
    b = np.cos(angle).astype(_F) * _F(0.5)
    a = np.sin(angle).astype(_F) * _F(0.5)
    p0 = np.stack([cx - a * sh - b * sw, cy + b * sh - a * sw], -1)
    p1 = np.stack([cx + a * sh - b * sw, cy - b * sh - a * sw], -1)
    c2 = np.stack([_F(2) * cx, _F(2) * cy], -1)
    return np.stack([p0, p1, c2 - p0, c2 - p1], 1).astype(_F)


def crop_matrices(rois: Rois, out_size: tuple[int, int]) -> np.ndarray:
    """(N, 3, 3) float64 projective matrices mapping image pixels to crop pixels (MediaPipe's OpenCV
    ``ImageToTensor`` path: ``cv::getPerspectiveTransform`` from the ROI's box points to the crop's corners).

    Pixel coordinates are OpenCV's (the centre of pixel ``i`` is ``i``); the ROI's corners map to the crop's
    corners ``(0, 0)`` .. ``(out_w, out_h)``. ``out_size`` is ``(out_w, out_h)``.
    """
    ow, oh = (int(v) for v in out_size)
    src = _box_points(rois).astype(np.float64)
    dst = np.array([[0.0, oh], [0.0, 0.0], [ow, 0.0], [ow, oh]], _F)
    out = np.zeros((len(rois), 3, 3))
    for i in range(len(rois)):
        a = np.zeros((8, 8))
        b = np.zeros(8)
        for k in range(4):
            sxk, syk = _F(src[i, k, 0]), _F(src[i, k, 1])
            a[k, :3] = a[k + 4, 3:6] = (sxk, syk, 1.0)
            a[k, 6], a[k, 7] = -sxk * dst[k, 0], -syk * dst[k, 0]  # float32 products, as in OpenCV
            a[k + 4, 6], a[k + 4, 7] = -sxk * dst[k, 1], -syk * dst[k, 1]
            b[k], b[k + 4] = dst[k]
        out[i] = np.append(np.linalg.solve(a, b), 1.0).reshape(3, 3)
    return out


def project_landmarks(landmarks: Any, rois: Rois) -> np.ndarray:
    """MediaPipe's ``LandmarkProjectionCalculator``: crop-normalised landmarks -> image pixels.

    Args:
        landmarks: (N, K, 2) or (N, K, 3) float, crop-normalised (``x / crop_w``, ``y / crop_h``; z already divided
            by the crop width and any ``normalize_z``).
        rois: the N ROIs the crops came from.

    Returns:
        (N, K, 2 or 3) float32: x, y in image pixels; z (when given) scaled by the ROI width as MediaPipe does and
        then by the image width, so it has the same pixel scale as x.
    """
    lm = np.asarray(landmarks, dtype=_F)
    if lm.ndim != 3 or lm.shape[2] not in (2, 3) or len(lm) != len(rois):
        raise ValueError(f"landmarks must have shape (N={len(rois)}, K, 2|3), got {lm.shape}")
    x, y = lm[..., 0] - _F(0.5), lm[..., 1] - _F(0.5)
    c, s = np.cos(rois.rotation)[:, None], np.sin(rois.rotation)[:, None]
    nx = (c * x - s * y) * rois.size[:, None, 0] + rois.center[:, None, 0]
    ny = (s * x + c * y) * rois.size[:, None, 1] + rois.center[:, None, 1]
    w, h = rois.image_size
    out = [nx.astype(np.float64) * w, ny.astype(np.float64) * h]
    if lm.shape[2] == 3:
        out.append((lm[..., 2] * rois.size[:, None, 0]).astype(np.float64) * w)
    return np.stack(out, -1).astype(_F)


def rotate_world_landmarks(world: Any, rois: Rois) -> np.ndarray:
    """MediaPipe's ``WorldLandmarkProjectionCalculator``: rotate (x, y) of metric landmarks by each ROI's rotation
    (undoing the crop's rotation); z unchanged. ``world``: (N, K, 3) metres -> (N, K, 3) float32 metres."""
    wl = np.asarray(world, dtype=_F)
    if wl.ndim != 3 or wl.shape[2] != 3 or len(wl) != len(rois):
        raise ValueError(f"world landmarks must have shape (N={len(rois)}, K, 3), got {wl.shape}")
    c, s = np.cos(rois.rotation)[:, None], np.sin(rois.rotation)[:, None]
    x, y = wl[..., 0], wl[..., 1]
    return np.stack([c * x - s * y, s * x + c * y, wl[..., 2]], -1).astype(_F)
