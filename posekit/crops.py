"""Top-down crop geometry: boxes -> (center, scale), affine warp matrices, warping, back-projection.

Frames: *image* pixels of the original picture and *input* pixels of the model-input crop, both with x to the
right, y down. ``center`` (N, 2) and ``scale`` (N, 2) describe the crop region in image pixels: its centre
``(cx, cy)`` and its size ``(w, h)``. ``output_size`` / ``input_size`` are ``(width, height)`` of the crop.

Everything reproduces MMPose 1.3.2 (``bbox_xyxy2cs``, ``TopdownAffine``, ``get_warp_matrix``,
``get_udp_warp_matrix``, ``TopdownPoseEstimator.add_pred_to_datasample``) batched over N boxes.

Example:
    >>> boxes = np.array([[10.0, 20.0, 110.0, 220.0]], dtype=np.float32)
    >>> center, scale = box_to_center_scale(boxes)
    >>> scale = fix_aspect_ratio(scale, aspect_ratio=192 / 256)
    >>> center.tolist(), scale.tolist()
    ([[60.0, 120.0]], [[187.5, 250.0]])
    >>> m = warp_matrix(center, scale, (192, 256))
    >>> transform_points(np.array([[[60.0, 120.0]]]), m).round(6).tolist()
    [[[96.0, 128.0]]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posekit.boxes import check_boxes
from posekit.warps import warp_affine_exact

__all__ = [
    "box_to_center_scale",
    "fix_aspect_ratio",
    "warp_matrix",
    "warp_crops",
    "transform_points",
    "invert_affine",
    "crop_to_image",
]


def _float_dtype(*arrays: np.ndarray) -> np.dtype:
    """Promoted floating dtype of the arrays (at least float32; integers promote to float64)."""
    dtype = np.result_type(*arrays)
    if not np.issubdtype(dtype, np.floating):
        return np.dtype(np.float64)
    return np.result_type(dtype, np.float32)


def _pairs(name: str, value: np.ndarray | Sequence, n: int | None = None) -> np.ndarray:
    """``value`` as a finite (N, 2) array (dtype kept if floating, else float64); checks N when given."""
    arr = np.asarray(value)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2), got {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} must have {n} rows to match the other arguments, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.argwhere(~np.isfinite(arr).all(axis=1))[0, 0])
        raise ValueError(f"{name} must be finite; row {bad} is {arr[bad].tolist()}")
    return arr


def _size(name: str, size: Sequence[int] | np.ndarray) -> tuple[int, int]:
    """``(width, height)`` as positive Python ints."""
    arr = np.asarray(size)
    if arr.shape != (2,) or not np.all(arr == np.round(arr)) or not np.all(arr > 0):
        raise ValueError(f"{name} must be (width, height) positive integers, got {size!r}")
    return int(arr[0]), int(arr[1])


def _matrices(matrices: np.ndarray) -> np.ndarray:
    """Validated (N, 2, 3) float64 affine matrices."""
    m = np.asarray(matrices)
    if m.ndim != 3 or m.shape[1:] != (2, 3):
        raise ValueError(f"matrices must have shape (N, 2, 3), got {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError("matrices must be finite")
    return m.astype(np.float64)


def box_to_center_scale(boxes: np.ndarray, *, padding: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """Crop centre and padded size of xyxy boxes (MMPose ``bbox_xyxy2cs``, as ``GetBBoxCenterScale`` uses it).

    Args:
        boxes: (N, 4) ``x1, y1, x2, y2`` image pixels (x2 = x1 + width, no -1).
        padding: factor applied to the box width and height.

    Returns:
        ``center`` (N, 2) ``(cx, cy)`` and ``scale`` (N, 2) ``(w, h) * padding``, image pixels. Computed in the
        boxes' floating dtype (float32 boxes give MMPose's float32 values bit for bit; integer boxes give float64).

    Raises:
        ValueError: for a wrong shape, or a non-finite, zero-size or negative-size box (naming its index).
    """
    if not np.isfinite(padding) or padding <= 0:
        raise ValueError(f"padding must be a positive finite number, got {padding!r}")
    arr = check_boxes(boxes)
    arr = arr.astype(_float_dtype(arr), copy=False)
    pad = arr.dtype.type(padding)
    center = (arr[:, 2:] + arr[:, :2]) * arr.dtype.type(0.5)
    scale = (arr[:, 2:] - arr[:, :2]) * pad
    return center, scale


def fix_aspect_ratio(scale: np.ndarray, *, aspect_ratio: float) -> np.ndarray:
    """Grow each ``(w, h)`` to the aspect ratio ``w / h`` (MMPose ``TopdownAffine._fix_aspect_ratio``).

    The side that is too short is enlarged: ``(w, w / r)`` if ``w > h * r`` else ``(h * r, h)``.

    Args:
        scale: (N, 2) ``(w, h)`` image pixels.
        aspect_ratio: target ``w / h``, e.g. ``192 / 256``.

    Returns:
        (N, 2) new ``(w, h)``, in ``scale``'s floating dtype (float64 for integer input).
    """
    arr = _pairs("scale", scale)
    if not np.isfinite(aspect_ratio) or aspect_ratio <= 0:
        raise ValueError(f"aspect_ratio must be a positive finite number, got {aspect_ratio!r}")
    arr = arr.astype(_float_dtype(arr), copy=False)
    w, h = arr[:, :1], arr[:, 1:]
    wide = w > h * aspect_ratio
    return np.where(wide, np.hstack([w, w / aspect_ratio]), np.hstack([h * aspect_ratio, h]))


def _third_points(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MMPose ``_get_3rd_point`` batched: ``b + rot90(a - b)`` (anticlockwise); (N, 2) -> (N, 2), dtype kept."""
    d = a - b
    return b + np.stack([-d[:, 1], d[:, 0]], axis=1)


def _solve_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Affine maps taking the 3 points ``src`` (N, 3, 2) onto ``dst`` (N, 3, 2); (N, 2, 3) float64.

    Same system as ``cv2.getAffineTransform`` (solved in float64).
    """
    n = src.shape[0]
    lhs = np.concatenate([src, np.ones((n, 3, 1))], axis=2)
    return np.linalg.solve(lhs, dst).transpose(0, 2, 1)


def warp_matrix(
    center: np.ndarray,
    scale: np.ndarray,
    output_size: Sequence[int],
    *,
    rotation: float | np.ndarray = 0.0,
    shift: Sequence[float] = (0.0, 0.0),
    inverse: bool = False,
    udp: bool = False,
) -> np.ndarray:
    """Affine matrices mapping the crop region of each box onto an ``output_size`` crop.

    Standard (``udp=False``, MMPose ``get_warp_matrix``): uniform scale ``output_w / scale_w`` (``scale_h`` is
    not used: fix the aspect ratio first), the box centre goes to the crop centre ``(w/2, h/2)``, and the content
    turns ``rotation`` degrees anticlockwise on screen. As in MMPose, the three point pairs are rounded to float32
    and the matrix solved from them (``cv2.getAffineTransform``); ``inverse=True`` solves the crop -> image
    direction from the same points.

    UDP (``udp=True``, MMPose ``get_udp_warp_matrix``, "unbiased data processing"): per-axis scale
    ``(output - 1) / scale``, so the box corners map to pixel centres 0 and ``output - 1``; the content turns
    ``rotation`` degrees *clockwise* on screen (MMPose's UDP sign convention). Computed in float32 operation for
    operation as MMPose does (this matters for bit-exact crops); ``inverse=True`` is their float64 inverse.

    Args:
        center: (N, 2) crop centre, image pixels.
        scale: (N, 2) crop size ``(w, h)``, image pixels.
        output_size: ``(width, height)`` of the crop in pixels.
        rotation: degrees, a scalar or (N,).
        shift: ``(sx, sy)`` moves the region centre by ``scale * shift`` (fractions of the size).
        inverse: return the crop -> image matrices instead of image -> crop.
        udp: use the UDP matrix.

    Returns:
        (N, 2, 3) float64; ``[x', y'] = M[:, :2] @ [x, y] + M[:, 2]``.
    """
    c = _pairs("center", center).astype(np.float64)
    s = _pairs("scale", scale, c.shape[0]).astype(np.float64)
    if np.any(s <= 0):
        bad = int(np.argwhere((s <= 0).any(axis=1))[0, 0])
        raise ValueError(f"scale must be positive; row {bad} is {s[bad].tolist()}")
    out_w, out_h = _size("output_size", output_size)
    n = c.shape[0]
    rot = np.asarray(rotation, dtype=np.float64)
    if rot.ndim > 1 or (rot.ndim == 1 and rot.shape[0] != n):
        raise ValueError(f"rotation must be a scalar or have shape ({n},), got {rot.shape}")
    if not np.all(np.isfinite(rot)):
        raise ValueError("rotation must be finite")
    rad = np.deg2rad(np.broadcast_to(rot, (n,)))
    sh = np.asarray(shift, dtype=np.float64)
    if sh.shape != (2,) or not np.all(np.isfinite(sh)):
        raise ValueError(f"shift must be a finite (sx, sy) pair, got {shift!r}")
    cos, sin = np.cos(rad), np.sin(rad)
    c = c + s * sh

    if udp:
        # MMPose evaluates this in float32 (float32 centre/scale, Python-float trig); repeat it op for op.
        f32 = np.float32
        c32, s32 = c.astype(f32), s.astype(f32)
        cos32, sin32 = cos.astype(f32), sin.astype(f32)
        kx = f32(out_w - 1) / s32[:, 0]
        ky = f32(out_h - 1) / s32[:, 1]
        in_x, in_y = c32[:, 0] * f32(2), c32[:, 1] * f32(2)
        half = f32(0.5)
        m = np.empty((n, 2, 3), dtype=f32)
        m[:, 0, 0] = cos32 * kx
        m[:, 0, 1] = -sin32 * kx
        m[:, 0, 2] = kx * ((-half * in_x) * cos32 + (half * in_y) * sin32 + half * s32[:, 0])
        m[:, 1, 0] = sin32 * ky
        m[:, 1, 1] = cos32 * ky
        m[:, 1, 2] = ky * ((-half * in_x) * sin32 - (half * in_y) * cos32 + half * s32[:, 1])
        m = m.astype(np.float64)
        return invert_affine(m) if inverse else m

    # Point 0: centre; point 1: centre + the rotated half-width vector pointing up; point 2: 90 degrees on.
    # MMPose rounds points 0 and 1 to float32 and derives point 2 from them in float32.
    half = -0.5 * s[:, 0]
    src0 = c.astype(np.float32)
    src1 = (c + np.stack([-sin * half, cos * half], axis=1)).astype(np.float32)
    dst0 = np.broadcast_to(np.array([out_w * 0.5, out_h * 0.5], dtype=np.float32), (n, 2))
    dst1 = dst0 + np.array([0.0, out_w * -0.5], dtype=np.float32)
    src = np.stack([src0, src1, _third_points(src0, src1)], axis=1).astype(np.float64)
    dst = np.stack([dst0, dst1, _third_points(dst0, dst1)], axis=1).astype(np.float64)
    return _solve_affine(dst, src) if inverse else _solve_affine(src, dst)


def invert_affine(matrices: np.ndarray) -> np.ndarray:
    """Inverse affine maps: (N, 2, 3) -> (N, 2, 3) float64. Raises ``ValueError`` for a singular matrix."""
    m = _matrices(matrices)
    a, t = m[:, :, :2], m[:, :, 2]
    det = np.linalg.det(a) if len(m) else np.zeros(0)
    scale = np.abs(a).max(axis=(1, 2), initial=0.0) ** 2
    singular = ~(np.abs(det) > 1e-12 * np.maximum(scale, np.finfo(np.float64).tiny))
    if singular.any():
        i = int(np.argmax(singular))
        raise ValueError(f"matrices[{i}] = {m[i].tolist()} is singular and cannot be inverted")
    a_inv = np.linalg.inv(a)
    return np.concatenate([a_inv, -(a_inv @ t[:, :, None])], axis=2)


def transform_points(points: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Apply one affine matrix per instance: ``points`` (N, K, 2) x ``matrices`` (N, 2, 3) -> (N, K, 2) float64.

    NaN points stay NaN.
    """
    p = np.asarray(points)
    if p.ndim != 3 or p.shape[2] != 2:
        raise ValueError(f"points must have shape (N, K, 2), got {p.shape}")
    m = _matrices(matrices)
    if m.shape[0] != p.shape[0]:
        raise ValueError(f"points has {p.shape[0]} instances but matrices has {m.shape[0]}")
    p = p.astype(np.float64)
    return np.einsum("nij,nkj->nki", m[:, :, :2], p) + m[:, None, :, 2]


def warp_crops(image: np.ndarray, matrices: np.ndarray, output_size: Sequence[int]) -> np.ndarray:
    """Cut one bilinear crop per matrix out of ``image``, as MMPose's ``TopdownAffine`` does.

    The pixels are those of ``cv2.warpAffine(INTER_LINEAR, BORDER_CONSTANT 0)`` in OpenCV 5.0, the release that
    made MMPose's fixtures, computed by :func:`posekit.warps.warp_affine_exact` (no dependence on the installed
    OpenCV).

    Args:
        image: (H, W, C) uint8 (any channel order; it is kept). Never modified.
        matrices: (N, 2, 3) image -> crop affine matrices (see :func:`warp_matrix`).
        output_size: ``(width, height)`` of the crops.

    Returns:
        (N, height, width, C) uint8 crops; outside the image is 0.
    """
    return warp_affine_exact(image, matrices, _size("output_size", output_size))


def crop_to_image(
    keypoints_input: np.ndarray, center: np.ndarray, scale: np.ndarray, input_size: Sequence[int]
) -> np.ndarray:
    """Back-project keypoints from input (crop) pixels to image pixels, as MMPose's top-down estimator does.

    ``kpt_img = kpt_input / input_size * scale + center - 0.5 * scale`` (no rotation; the same map for the
    standard and UDP crops, as in MMPose).

    Args:
        keypoints_input: (N, K, 2) input pixels.
        center: (N, 2) crop centres, image pixels.
        scale: (N, 2) crop sizes ``(w, h)``, image pixels.
        input_size: ``(width, height)`` of the crop.

    Returns:
        (N, K, 2) image pixels, computed in float64 and returned in the keypoints' floating dtype (float32
        keypoints stay float32, as MMPose writes them back in place; bit-identical to MMPose). NaN stays NaN.
    """
    k = np.asarray(keypoints_input)
    if k.ndim != 3 or k.shape[2] != 2:
        raise ValueError(f"keypoints_input must have shape (N, K, 2), got {k.shape}")
    c = _pairs("center", center, k.shape[0]).astype(np.float64)
    s = _pairs("scale", scale, k.shape[0]).astype(np.float64)[:, None, :]
    size = np.asarray(_size("input_size", input_size), dtype=np.float64)
    out = k.astype(np.float64) / size * s + c[:, None, :] - 0.5 * s
    return out.astype(_float_dtype(k), copy=False)
