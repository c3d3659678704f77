"""Own bilinear warps whose pixels do not depend on the installed OpenCV.

Parity with MMPose and MediaPipe needs the exact grey levels their crops had, and OpenCV changes how it
rounds sub-pixel positions between releases (4.x: 5-bit fixed point; 5.0: float32 with FMA; 5.1 differs from
5.0 in one value in ~50). The two reference behaviours are written out here:

* :func:`warp_affine_exact`: OpenCV 5.0's ``cv2.warpAffine(INTER_LINEAR, BORDER_CONSTANT 0)`` on uint8 images,
  which made MMPose's top-down crops in ``shared/fixtures/mmpose`` (opencv-python 5.0.0.93): posekit's own source
  positions, sampled by ``cv2.remap`` when a once-per-process probe shows it computes the same arithmetic
  (:func:`remap_is_exact`), else in NumPy.
* :func:`warp_perspective_exact`: OpenCV 4's ``cv2.warpPerspective(INTER_LINEAR)``, which MediaPipe 0.10.14 links,
  and :func:`warp_affine_cv4`: OpenCV 4's ``cv2.warpAffine(INTER_LINEAR)`` (MMPose's bottom-up resize). The
  fixed-point sampling maps are computed here and applied by ``cv2.remap`` with integer maps.

Frames: OpenCV's pixel convention (pixel ``(i, j)`` sits at integer ``(x=j, y=i)``), x right, y down.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["warp_affine_exact", "warp_affine_cv4", "warp_perspective_exact", "remap_is_exact"]


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[0] == 0 or image.shape[1] == 0 or not 1 <= image.shape[2] <= 4:
        raise ValueError(f"image must have shape (H, W, C) with 1 <= C <= 4, got {image.shape}")
    return image


def _fma32(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """float32 ``a * b + c`` with one rounding (a fused multiply-add, as OpenCV's ``v_fma``), through float64.

    Exact for the operands used here: the product of two float32 values is exact in float64, and the sum with
    ``c`` is too unless the terms differ by more than ~2**29 in magnitude (then a double rounding can move the
    last float32 bit; no crop geometry gets there).
    """
    return (np.asarray(a, np.float64) * np.asarray(b, np.float64) + np.asarray(c, np.float64)).astype(np.float32)


def _invert_affine_cv(m: np.ndarray) -> np.ndarray:
    """OpenCV's ``invertAffineTransform`` as ``warpAffine`` does it (closed form, float64); (2, 3) -> (2, 3)."""
    det = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
    d = 1.0 / det if det != 0 else 0.0
    a11, a22, a12, a21 = m[1, 1] * d, m[0, 0] * d, -m[0, 1] * d, -m[1, 0] * d
    b1 = -a11 * m[0, 2] - a12 * m[1, 2]
    b2 = -a21 * m[0, 2] - a22 * m[1, 2]
    return np.array([[a11, a12, b1], [a21, a22, b2]])


# Values closer than this to a .5 rounding tie are recomputed with exact FMAs; the float32 evaluation is within
# ~1e-4 of the exact one for values in [0, 255] (a few float32 ulps), so every other value rounds the same.
_TIE_MARGIN = 1e-3
# Rows of crop pixels computed together: the block's float32 intermediates stay in the CPU cache (about 2x faster
# than whole crops at once).
_BLOCK_ROWS = 64


def _source_positions(mats: np.ndarray, out_w: int, out_h: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV 5.0's float32 source position of every crop pixel: (N, out_h, out_w) ``sx``, ``sy``."""
    inv = np.stack([_invert_affine_cv(m) for m in mats]).astype(np.float32)  # cast to float32, as OpenCV 5
    y = np.arange(out_h, dtype=np.float32)[None, :, None]
    x = np.arange(out_w, dtype=np.float32)[None, None, :]
    rows = [inv[:, r, None, None] for r in range(2)]
    # Per row, in float32 with two roundings: M_x = y * M[1] + M[2]; per pixel, one FMA: sx = M[0] * x + M_x.
    return tuple(_fma32(row[..., 0], x, y * row[..., 1] + row[..., 2]) for row in rows)  # type: ignore[return-value]


def _affine_all(image: np.ndarray, mats: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """The (N, out_h, out_w, C) crops of ``image`` for the (N, 2, 3) image->crop matrices (see
    :func:`warp_affine_exact`), computed in blocks of rows that stay in the CPU cache."""
    h, w, c = image.shape
    n = len(mats)
    sx, sy = (v.reshape(n * out_h, out_w) for v in _source_positions(mats, out_w, out_h))
    # Positions beyond one pixel outside the image read only border pixels, wherever they are: clip them there.
    np.clip(sx, np.float32(-2), np.float32(w + 1), out=sx)
    np.clip(sy, np.float32(-2), np.float32(h + 1), out=sy)
    if remap_is_exact(c):  # the installed OpenCV computes the same bilinear arithmetic: let it
        out = cv2.remap(image, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return out.reshape(n, out_h, out_w, c)
    out = np.empty((n * out_h, out_w, c), np.uint8)
    for start in range(0, n * out_h, _BLOCK_ROWS):
        rows = slice(start, start + _BLOCK_ROWS)
        out[rows] = _bilinear(image, sx[rows], sy[rows])
    return out.reshape(n, out_h, out_w, c)


@functools.lru_cache(maxsize=None)
def remap_is_exact(channels: int = 3) -> bool:
    """Whether the installed OpenCV's ``cv2.remap`` (uint8 with ``channels`` channels, float32 maps, INTER_LINEAR,
    constant border) computes the bilinear arithmetic of :func:`warp_affine_exact` bit for bit, so that it can run it
    (0.06 ms per 256x192 crop instead of ~2 ms in NumPy). OpenCV 5's remap does; OpenCV 4's rounds positions to 1/32
    pixel.

    Probed once per process and channel count (OpenCV has a kernel per channel count) against the NumPy
    evaluation: random positions over an image and its border, and values chosen where an FMA and a plain float32
    multiply-add round to different grey levels (along x and along y), which only the FMA arithmetic passes.
    ``POSEKIT_EXACT_WARP=numpy`` skips the probe and uses NumPy.
    """
    if os.environ.get("POSEKIT_EXACT_WARP", "") == "numpy":
        return False
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (37, 53, channels), dtype=np.uint8)
    sx = rng.uniform(-3.0, 56.0, (128, 128)).astype(np.float32)
    sy = rng.uniform(-3.0, 40.0, (128, 128)).astype(np.float32)
    for img, px, py in [(image, sx, sy), *_fma_probes(rng, channels)]:
        want = _bilinear(img, px, py)
        got = cv2.remap(img, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if not np.array_equal(got.reshape(want.shape), want):
            return False
    return True


def _fma_probes(rng: np.random.Generator, channels: int = 3) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Two (image, sx, sy) probes whose lerps (along x, then along y) land next to a .5 tie, kept where the FMA and
    the plain float32 ``p0 + w * (p1 - p0)`` round to different grey levels."""
    k = 20000
    p0 = rng.integers(0, 200, k)
    p1 = p0 + rng.integers(2, 256 - p0)
    tie = p0 + rng.integers(0, p1 - p0) + 0.5
    weight = ((tie - p0) / (p1 - p0)).astype(np.float32)
    weight = np.nextafter(weight, np.float32(rng.choice([-1.0, 1.0], k)).astype(np.float32))
    plain = np.rint(weight * (p1 - p0).astype(np.float32) + p0.astype(np.float32))
    fma = np.rint(_fma32(weight, p1 - p0, p0))
    keep = plain != fma
    p0, p1, weight = p0[keep], p1[keep], weight[keep]
    m = len(p0)
    along_x = np.stack([np.stack([p0, p1], 1)] * 2, 1)  # (m, 2 rows, 2 cols): rows identical
    img_x = np.repeat(along_x.reshape(2 * m, 2)[..., None], channels, 2).astype(np.uint8)
    sx_x, sy_x = weight[:, None], (2 * np.arange(m, dtype=np.float32))[:, None]
    img_y = np.ascontiguousarray(img_x.reshape(m, 2, 2, channels).transpose(2, 0, 1, 3).reshape(2, 2 * m, channels))
    sx_y, sy_y = (2 * np.arange(m, dtype=np.float32))[:, None], weight[:, None]
    return [(img_x, sx_x, sy_x), (img_y, sx_y, sy_y)]


def _bilinear(image: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    """OpenCV 5.0's bilinear sampling of uint8 ``image`` (H, W, C) at float32 positions (R, S): (R, S, C) uint8."""
    c = image.shape[2]
    fx, fy = np.floor(sx), np.floor(sy)
    alpha, beta = (sx - fx)[..., None], (sy - fy)[..., None]
    # The four neighbours (x, y), (x+1, y), (x, y+1), (x+1, y+1), fetched in one exact nearest-pixel copy
    # (integer maps; outside the image reads 0).
    xi, yi = fx.astype(np.int16), fy.astype(np.int16)
    maps = np.empty((4, *sx.shape, 2), np.int16)
    for t, (dx, dy) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        np.add(xi, dx, out=maps[t, ..., 0])
        np.add(yi, dy, out=maps[t, ..., 1])
    taps = cv2.remap(image, maps.reshape(4 * sx.shape[0], sx.shape[1], 2), None, cv2.INTER_NEAREST,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    p00, p01, p10, p11 = taps.reshape(4, *sx.shape, c)
    # float32 evaluation (fast); values near a rounding tie are redone exactly below.
    top = np.subtract(p01, p00, dtype=np.float32)
    top *= alpha
    top += p00
    bottom = np.subtract(p11, p10, dtype=np.float32)
    bottom *= alpha
    bottom += p10
    value = np.subtract(bottom, top, out=bottom)
    value *= beta
    value += top
    out = np.rint(value)
    gap = np.subtract(value, out, out=value)
    near = np.flatnonzero(np.abs(gap, out=gap) > np.float32(0.5 - _TIE_MARGIN))
    if near.size:  # OpenCV's FMAs, exactly: the x lerps, their float32 difference (v_sub), the y lerp
        at = np.unravel_index(near, out.shape)
        a, b = alpha[at[:2]][:, 0], beta[at[:2]][:, 0]
        top_e = _fma32(a, p01[at].astype(np.int16) - p00[at], p00[at])
        bottom_e = _fma32(a, p11[at].astype(np.int16) - p10[at], p10[at])
        out[at] = np.rint(_fma32(b, bottom_e - top_e, top_e))
    return out.astype(np.uint8)  # in [0, 255]: a bilinear mix of uint8 values; v_round: half to even


def warp_affine_exact(image: np.ndarray, matrices: np.ndarray, out_size: Sequence[int]) -> np.ndarray:
    """Bilinear crops as OpenCV 5.0's ``cv2.warpAffine(image, M, out_size, INTER_LINEAR, BORDER_CONSTANT, 0)``.

    OpenCV 5.0 inverts ``M`` in float64, casts it to float32, computes each row's offset ``y * M[1] + M[2]`` in
    float32, each source position with one FMA, and interpolates in float32 with FMAs
    (``p0 + alpha * (p1 - p0)``, first along x then along y), rounding half to even. This reproduces MMPose's
    fixture crops (made with opencv-python 5.0.0.93) whatever OpenCV is installed. posekit computes the source
    positions itself; the sampling runs in ``cv2.remap`` where :func:`remap_is_exact` proved the installed OpenCV's
    arithmetic identical (OpenCV 5), else in NumPy (float32, exact FMAs next to rounding ties).

    Args:
        image: (H, W, C) uint8, 1 <= C <= 4, any channel order (kept). Not modified.
        matrices: (N, 2, 3) image -> crop affine maps (image pixels to crop pixels).
        out_size: crop ``(width, height)``.

    Returns:
        (N, height, width, C) uint8; positions whose four neighbours all lie outside the image are 0, partly
        outside ones interpolate with 0 for the missing neighbours (OpenCV's constant border).
    """
    image = _check_image(image)
    mats = np.asarray(matrices, dtype=np.float64)
    if mats.ndim != 3 or mats.shape[1:] != (2, 3):
        raise ValueError(f"matrices must have shape (N, 2, 3), got {mats.shape}")
    if not np.all(np.isfinite(mats)):
        raise ValueError("matrices must be finite")
    ow, oh = (int(v) for v in out_size)
    if not len(mats):
        return np.empty((0, oh, ow, image.shape[2]), np.uint8)
    return _affine_all(np.ascontiguousarray(image), mats, ow, oh)


# OpenCV 4's fixed-point bilinear sampling (MediaPipe 0.10.14 links OpenCV 4; OpenCV 5 rounds differently).
_INTER_BITS = 5
_TAB = 1 << _INTER_BITS
_AB_BITS = 10  # warpAffine's fixed-point source positions


def _fixed_point_maps(matrix: np.ndarray, out_w: int, out_h: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV 4's ``warpPerspective`` INTER_LINEAR map for a (3, 3) image->output matrix: integer source pixel
    (int16 x, y) and the 5-bit sub-pixel index ``(fy << 5) | fx`` of every output pixel (``cvRound`` rounding)."""
    m = np.linalg.inv(matrix)
    x = np.arange(out_w, dtype=np.float64)[None, :]
    y = np.arange(out_h, dtype=np.float64)[:, None]
    wgt = m[2, 0] * x + (m[2, 1] * y + m[2, 2])
    wgt = np.where(wgt != 0, _TAB / np.where(wgt != 0, wgt, 1.0), 0.0)
    lim = (-(2.0 ** 31), 2.0 ** 31 - 1)
    fx = np.clip((m[0, 1] * y + m[0, 2] + m[0, 0] * x) * wgt, *lim)
    fy = np.clip((m[1, 1] * y + m[1, 2] + m[1, 0] * x) * wgt, *lim)
    ix, iy = np.rint(fx).astype(np.int64), np.rint(fy).astype(np.int64)
    xy = np.stack([ix >> _INTER_BITS, iy >> _INTER_BITS], -1).clip(-32768, 32767).astype(np.int16)
    frac = ((iy & (_TAB - 1)) * _TAB + (ix & (_TAB - 1))).astype(np.uint16)
    return xy, frac


def warp_perspective_exact(image: np.ndarray, matrices: np.ndarray, out_size: tuple[int, int], *,
                           border: str = "replicate") -> np.ndarray:
    """Bilinear crops bit-identical to OpenCV 4's ``cv2.warpPerspective(image, M, out_size, INTER_LINEAR)``.

    MediaPipe's detector letterbox and landmark crops are made by OpenCV 4; OpenCV 5 rounds sub-pixel positions
    differently (up to 3 grey levels apart), which moves landmarks. The fixed-point sampling map is computed here
    and applied with ``cv2.remap`` (integer maps: a table lookup with 15-bit weights), so the result is OpenCV 4's
    whatever OpenCV is installed.

    Args:
        image: (H, W, C) uint8, not modified.
        matrices: (N, 3, 3) or (N, 2, 3) maps from image pixels to crop pixels.
        out_size: crop ``(width, height)``.
        border: ``"replicate"`` (``BORDER_REPLICATE``) or ``"zero"`` (``BORDER_CONSTANT`` 0).

    Returns:
        (N, height, width, C) uint8.
    """
    if border not in ("replicate", "zero"):
        raise ValueError(f"border must be 'replicate' or 'zero', got {border!r}")
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be an (H, W, C) uint8 array, got {getattr(image, 'shape', type(image))} "
                         f"{getattr(image, 'dtype', '')}")
    mats = np.asarray(matrices, dtype=np.float64)
    if mats.ndim != 3 or mats.shape[1:] not in ((3, 3), (2, 3)):
        raise ValueError(f"matrices must have shape (N, 3, 3) or (N, 2, 3), got {mats.shape}")
    if mats.shape[1] == 2:
        mats = np.concatenate([mats, np.broadcast_to([[[0.0, 0.0, 1.0]]], (len(mats), 1, 3))], 1)
    ow, oh = (int(v) for v in out_size)
    mode = cv2.BORDER_REPLICATE if border == "replicate" else cv2.BORDER_CONSTANT
    src = np.ascontiguousarray(image)
    out = np.empty((len(mats), oh, ow, image.shape[2]), np.uint8)
    for i, m in enumerate(mats):
        xy, frac = _fixed_point_maps(m, ow, oh)
        warped = cv2.remap(src, xy, frac, cv2.INTER_LINEAR, borderMode=mode, borderValue=0)
        out[i] = warped.reshape(oh, ow, -1)
    return out


def warp_affine_cv4(image: np.ndarray, matrix: np.ndarray, out_size: Sequence[int], *,
                    border_value: int = 0) -> np.ndarray:
    """OpenCV 4's ``cv2.warpAffine(image, matrix, out_size, INTER_LINEAR, BORDER_CONSTANT, border_value)`` bit for
    bit, whatever OpenCV is installed (MMPose's bottom-up references, e.g. RTMO's ``BottomupResize``, ran OpenCV 4;
    OpenCV 5 rounds sub-pixel positions differently, one grey level apart on ~20 % of the pixels of a
    half-pixel-shifted resize).

    OpenCV 4 inverts ``matrix`` (float64, closed form), computes each source position in 10-bit fixed point
    (``cvRound(M0 * x * 1024)`` plus the row term, rounded by 16), keeps 5 sub-pixel bits and samples with
    ``cv2.remap``'s integer-map table (15-bit weights), which is what is called here.

    Args:
        image: (H, W, C) uint8, not modified.
        matrix: (2, 3) map from image pixels to output pixels.
        out_size: output ``(width, height)``.
        border_value: the grey level outside the image.

    Returns:
        (height, width, C) uint8.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be an (H, W, C) uint8 array, got {getattr(image, 'shape', type(image))} "
                         f"{getattr(image, 'dtype', '')}")
    m = np.asarray(matrix, np.float64)
    if m.shape != (2, 3):
        raise ValueError(f"matrix must have shape (2, 3), got {m.shape}")
    ow, oh = (int(v) for v in out_size)
    d = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
    d = 1.0 / d if d != 0 else 0.0
    a11, a22, a12, a21 = m[1, 1] * d, m[0, 0] * d, -m[0, 1] * d, -m[1, 0] * d
    b1 = -a11 * m[0, 2] - a12 * m[1, 2]
    b2 = -a21 * m[0, 2] - a22 * m[1, 2]
    scale = float(1 << _AB_BITS)
    xs, ys = np.arange(ow, dtype=np.float64), np.arange(oh, dtype=np.float64)
    adelta = np.rint(a11 * xs * scale).astype(np.int64)[None, :]
    bdelta = np.rint(a21 * xs * scale).astype(np.int64)[None, :]
    round_delta = (1 << _AB_BITS) // _TAB // 2
    x0 = np.rint((a12 * ys + b1) * scale).astype(np.int64)[:, None] + round_delta
    y0 = np.rint((a22 * ys + b2) * scale).astype(np.int64)[:, None] + round_delta
    fx = (x0 + adelta) >> (_AB_BITS - _INTER_BITS)
    fy = (y0 + bdelta) >> (_AB_BITS - _INTER_BITS)
    xy = np.stack([fx >> _INTER_BITS, fy >> _INTER_BITS], -1).clip(-32768, 32767).astype(np.int16)
    frac = ((fy & (_TAB - 1)) * _TAB + (fx & (_TAB - 1))).astype(np.uint16)
    out = cv2.remap(np.ascontiguousarray(image), xy, frac, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                    borderValue=(border_value,) * 4)
    return out.reshape(oh, ow, -1)
