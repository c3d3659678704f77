"""ImageNet-C image corruptions (Hendrycks & Dietterich, ICLR 2019) plus random occluder patches, severities 1-5.

Every corruption maps an (H, W, 3) RGB uint8 image to a new (H, W, 3) RGB uint8 image; the input is never modified.
Randomness comes only from ``np.random.default_rng([seed, crc32(name)])``, so a given (image, name, severity, seed)
always gives the same bytes and global random state is never touched.  The stream deliberately does not depend on the
severity (common random numbers): for one seed, the five severities share the noise draws, the motion direction and
the fog pattern, so a severity curve measures the severity rather than a fresh random draw per point.

Parameter tables (``Corruption.params[severity - 1]``) are the ImageNet-C values, which are defined for 224x224 images.
Size scaling: with ``s = min(H, W) / 224`` (the short side of an ImageNet-C centre crop),

- blur radii / sigmas (``gaussian_blur``, ``defocus_blur``, ``motion_blur``) are multiplied by ``s``, so a blur covers
  the same fraction of the image at any resolution;
- ``pixelate`` uses blocks of ``max(s, 1) / c`` pixels (ImageNet-C: ``1 / c`` pixels at 224), i.e. the image is
  shrunk by ``c / max(s, 1)`` with area averaging and enlarged back with OpenCV's pixel-area interpolation (exact
  blocks at integer ratios, blended block edges otherwise: with nearest neighbour, severity 1's irregular 1.67 px blocks
  scored lower SSIM than severity 2's exact 2 px blocks on all 20 LSP images tried); images smaller than 224 keep the
  ImageNet-C factors (sub-pixel blocks would leave them unchanged);
- ``fog`` draws its fractal field over the whole image (ImageNet-C: a 256 px plasma field cropped to 224), so it is
  already relative to the image extent;
- noise, ``jpeg_compression``, ``brightness`` and ``contrast`` act per pixel and are not scaled.

Differences from the reference code (which uses Wand/ImageMagick, skimage and PIL):
``motion_blur`` is a one-sided line kernel with Gaussian weights along a random angle in [-45, 45] degrees (an
approximation of ImageMagick's motion blur), ``fog`` uses a multi-octave value-noise field whose octave amplitude
falls by ``wibble_decay`` per octave (the role of the plasma fractal's decay), and JPEG is encoded by OpenCV (libjpeg,
4:2:0 chroma) rather than PIL.  ``gaussian_blur`` uses the ImageNet-C-extra sigmas ``(1, 2, 3, 4, 6)``.

``occluder`` (not in ImageNet-C): rectangles of random solid colour or uniform noise, aspect ratio in [1/2, 2],
placed at random until they cover ``fraction`` of the image, or of each given person box (xyxy pixels, clipped to
the image), to within about 1 %.
"""
from __future__ import annotations

import difflib
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import cv2
import numpy as np

from posekit.detect.boxes import check_image

__all__ = ["CORRUPTIONS", "Corruption", "check_corruption", "corrupt", "corruption_names"]

FAMILIES = ("noise", "blur", "weather", "digital", "occlusion")
_REFERENCE_SIDE = 224.0


@dataclass(frozen=True)
class Corruption:
    """One corruption: ``params[severity - 1]`` is the parameter for severity 1..5 (meaning in ``param_doc``)."""

    name: str
    family: str
    params: tuple[Any, ...]
    param_doc: str
    random: bool
    _fn: Callable[[np.ndarray, Any, np.random.Generator, np.ndarray | None], np.ndarray]

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"corruption {self.name!r}: family {self.family!r} is not one of {FAMILIES}")
        if len(self.params) != 5:
            raise ValueError(f"corruption {self.name!r}: needs 5 severity parameters, got {len(self.params)}")


def _scale(image: np.ndarray) -> float:
    return min(image.shape[:2]) / _REFERENCE_SIDE


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] -> uint8 (rounded, clipped)."""
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------------------- noise
def _gaussian_noise(img, std, rng, boxes):
    x = img.astype(np.float32) / 255.0
    return _to_uint8(x + np.float32(std) * rng.standard_normal(x.shape, dtype=np.float32))


def _shot_noise(img, photons, rng, boxes):
    x = img.astype(np.float64) / 255.0
    return _to_uint8(rng.poisson(x * photons) / photons)


def _impulse_noise(img, amount, rng, boxes):
    out = img.copy()
    flip = rng.random(img.shape) < amount  # each channel value independently, as skimage's 's&p'
    salt = rng.random(img.shape) < 0.5
    out[flip & salt] = 255
    out[flip & ~salt] = 0
    return out


# ------------------------------------------------------------------------------------------------------------ blur
def _gaussian_blur(img, sigma, rng, boxes):
    s = sigma * _scale(img)
    return cv2.GaussianBlur(img, (0, 0), sigmaX=s, sigmaY=s, borderType=cv2.BORDER_REFLECT)


def _disk(radius: float, alias_sigma: float) -> np.ndarray:
    half = int(np.ceil(max(8.0, radius)))
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    kernel = (xx**2 + yy**2 <= radius**2).astype(np.float32)
    kernel /= kernel.sum()
    ksize = 3 if radius <= 8 else 5
    return cv2.GaussianBlur(kernel, (ksize, ksize), sigmaX=alias_sigma)


def _defocus_blur(img, param, rng, boxes):
    radius, alias = param
    s = _scale(img)
    kernel = _disk(radius * s, alias * s)
    out = cv2.filter2D(img.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _motion_kernel(length: float, sigma: float, angle_deg: float) -> np.ndarray:
    half = int(np.ceil(length)) + 1
    kernel = np.zeros((2 * half + 1, 2 * half + 1), np.float32)
    c, s = np.cos(np.deg2rad(angle_deg)), np.sin(np.deg2rad(angle_deg))
    for d in np.arange(0.0, length + 1e-9, 0.5):
        w = np.exp(-0.5 * (d / sigma) ** 2)
        x, y = half + d * c, half + d * s
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        fx, fy = x - x0, y - y0
        kernel[y0, x0] += w * (1 - fx) * (1 - fy)
        kernel[y0, x0 + 1] += w * fx * (1 - fy)
        kernel[y0 + 1, x0] += w * (1 - fx) * fy
        kernel[y0 + 1, x0 + 1] += w * fx * fy
    return kernel / kernel.sum()


def _motion_blur(img, param, rng, boxes):
    radius, sigma = param
    s = _scale(img)
    kernel = _motion_kernel(radius * s, sigma * s, float(rng.uniform(-45.0, 45.0)))
    out = cv2.filter2D(img.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------------------- weather
def _fractal_field(h: int, w: int, decay: float, rng: np.random.Generator) -> np.ndarray:
    """(h, w) float32 smooth random field in [0, 1]: octaves of bicubic value noise, amplitude / decay per octave."""
    side = max(h, w)
    field = np.zeros((h, w), np.float32)
    amp, cells = 1.0, 2
    while cells <= side:
        grid = rng.uniform(-1.0, 1.0, size=(cells + 1, cells + 1)).astype(np.float32)
        up = cv2.resize(grid, (side, side), interpolation=cv2.INTER_CUBIC)
        field += amp * up[:h, :w]
        amp /= decay
        cells *= 2
    field -= field.min()
    return field / max(float(field.max()), 1e-12)


def _fog(img, param, rng, boxes):
    strength, decay = param
    x = img.astype(np.float32) / 255.0
    max_val = float(x.max())
    x = x + strength * _fractal_field(img.shape[0], img.shape[1], decay, rng)[..., None]
    return _to_uint8(x * max_val / (max_val + strength))


# --------------------------------------------------------------------------------------------------------- digital
def _brightness(img, delta, rng, boxes):
    hsv = cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)
    hsv[..., 2] = np.clip(hsv[..., 2] + delta, 0.0, 1.0)
    return _to_uint8(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB))


def _contrast(img, factor, rng, boxes):
    x = img.astype(np.float32) / 255.0
    means = x.mean(axis=(0, 1), keepdims=True)
    return _to_uint8((x - means) * factor + means)


def _jpeg(img, quality, rng, boxes):
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("jpeg_compression: OpenCV failed to encode the image")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _pixelate(img, factor, rng, boxes):
    h, w = img.shape[:2]
    f = factor / max(1.0, _scale(img))
    small = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_AREA)


# ------------------------------------------------------------------------------------------------------- occlusion
def _occlude_region(out, covered, region, fraction, rng, n_patches=3):
    """Paint patches inside ``region`` (x0, y0, x1, y1 ints) until ``fraction`` of it is covered."""
    x0, y0, x1, y1 = region
    rw, rh = x1 - x0, y1 - y0
    target = fraction * rw * rh
    for _ in range(60):
        done = covered[y0:y1, x0:x1].sum()
        remaining = target - done
        if remaining < max(1.0, 0.005 * rw * rh):
            break
        area = min(remaining, target / n_patches)
        aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
        pw = int(np.clip(round(np.sqrt(area * aspect)), 1, rw))
        ph = int(np.clip(round(area / pw), 1, rh))
        px = x0 + int(rng.integers(0, rw - pw + 1))
        py = y0 + int(rng.integers(0, rh - ph + 1))
        if rng.random() < 0.5:
            out[py : py + ph, px : px + pw] = rng.integers(0, 256, size=3, dtype=np.uint8)
        else:
            out[py : py + ph, px : px + pw] = rng.integers(0, 256, size=(ph, pw, 3), dtype=np.uint8)
        covered[py : py + ph, px : px + pw] = True


def _occluder(img, fraction, rng, boxes):
    h, w = img.shape[:2]
    out = img.copy()
    covered = np.zeros((h, w), bool)
    if boxes is None:
        _occlude_region(out, covered, (0, 0, w, h), fraction, rng)
        return out
    for x0, y0, x1, y1 in boxes:
        r = (int(np.clip(np.floor(x0), 0, w)), int(np.clip(np.floor(y0), 0, h)),
             int(np.clip(np.ceil(x1), 0, w)), int(np.clip(np.ceil(y1), 0, h)))
        if r[2] > r[0] and r[3] > r[1]:
            _occlude_region(out, covered, r, fraction, rng)
    return out


_TABLE = (
    Corruption("gaussian_noise", "noise", (0.08, 0.12, 0.18, 0.26, 0.38), "std of additive noise, [0, 1] scale", True, _gaussian_noise),
    Corruption("shot_noise", "noise", (60, 25, 12, 5, 3), "photons at full scale: poisson(x * c) / c", True, _shot_noise),
    Corruption("impulse_noise", "noise", (0.03, 0.06, 0.09, 0.17, 0.27), "fraction of values set to 0 or 255", True, _impulse_noise),
    Corruption("defocus_blur", "blur", ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)), "(disk radius, alias sigma) px at 224, x s", False, _defocus_blur),
    Corruption("motion_blur", "blur", ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)), "(length, sigma) px at 224, x s; random angle", True, _motion_blur),
    Corruption("gaussian_blur", "blur", (1, 2, 3, 4, 6), "sigma px at 224, x s", False, _gaussian_blur),
    Corruption("fog", "weather", ((1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)), "(strength, wibble decay)", True, _fog),
    Corruption("brightness", "digital", (0.1, 0.2, 0.3, 0.4, 0.5), "added to HSV value, [0, 1] scale", False, _brightness),
    Corruption("contrast", "digital", (0.4, 0.3, 0.2, 0.1, 0.05), "factor toward the per-channel mean", False, _contrast),
    Corruption("jpeg_compression", "digital", (25, 18, 15, 10, 7), "JPEG quality", False, _jpeg),
    Corruption("pixelate", "digital", (0.6, 0.5, 0.4, 0.3, 0.25), "resize factor at 224 (blocks of max(s, 1) / c px)", False, _pixelate),
    Corruption("occluder", "occlusion", (0.1, 0.2, 0.3, 0.4, 0.5), "fraction of the image (or each box) covered", True, _occluder),
)
CORRUPTIONS: Mapping[str, Corruption] = MappingProxyType({c.name: c for c in _TABLE})


def corruption_names() -> tuple[str, ...]:
    """Names of all corruptions, in table order (noise, blur, weather, digital, occlusion)."""
    return tuple(CORRUPTIONS)


def _check_boxes(boxes: Any) -> np.ndarray | None:
    if boxes is None:
        return None
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"corrupt: boxes must be (N, 4) xyxy pixels, got shape {b.shape}")
    if not np.isfinite(b).all():
        raise ValueError("corrupt: boxes contain NaN or inf")
    if (b[:, 2] < b[:, 0]).any() or (b[:, 3] < b[:, 1]).any():
        raise ValueError("corrupt: boxes must be xyxy with x1 >= x0 and y1 >= y0")
    return b


def check_corruption(name: str) -> None:
    """``ValueError`` naming ``name``, the closest known name and all known ones, unless ``name`` is in
    :data:`CORRUPTIONS`."""
    if name not in CORRUPTIONS:
        close = difflib.get_close_matches(str(name), list(CORRUPTIONS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown corruption {name!r}{hint}; known: {', '.join(CORRUPTIONS)}")


def corrupt(image: np.ndarray, name: str, severity: int, *, seed: int = 0, boxes: Any = None) -> np.ndarray:
    """Apply corruption ``name`` at ``severity`` (1..5) to an (H, W, 3) RGB uint8 image; returns a new uint8 image.

    ``seed`` (int >= 0) with ``name`` seeds the only random generator used (shared by the five severities). ``boxes`` ((N, 4) xyxy
    image pixels, optional) is used by ``occluder`` only: each box (clipped to the image) gets the severity's covered
    fraction instead of the whole image; other corruptions ignore it.
    """
    check_corruption(name)
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or not 1 <= severity <= 5:
        raise ValueError(f"corrupt: severity must be an int in 1..5, got {severity!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"corrupt: seed must be an int >= 0, got {seed!r}")
    img = np.ascontiguousarray(check_image(image, "corrupt: image"))
    box_arr = _check_boxes(boxes)
    spec = CORRUPTIONS[name]
    rng = np.random.default_rng([int(seed), zlib.crc32(name.encode())])
    out = spec._fn(img, spec.params[int(severity) - 1], rng, box_arr)
    if out is image or np.shares_memory(out, image):
        out = out.copy()
    return out
