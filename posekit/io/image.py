"""Images in and out: a path, a NumPy array or a PIL image -> an (H, W, 3) uint8 RGB array.

Conversion rules of :func:`load_image` (the same for arrays, PIL images and decoded files):

* grayscale (H, W) or (H, W, 1) is repeated into three channels;
* RGBA (H, W, 4): the alpha channel is **dropped, not composited** (transparent pixels keep their colour);
* ``uint8`` is taken as is; ``uint16`` is scaled to 8 bits by ``value >> 8`` (the high byte, the same as Pillow's
  and libpng's 16 -> 8 bit reduction); floating point must lie in [0, 1] and becomes ``round(value * 255)``;
  ``bool`` becomes 0 / 255; anything else raises ``ValueError`` naming the dtype or shape.

Files are decoded with Pillow (EXIF orientation applied with ``ImageOps.exif_transpose``; multi-frame files such
as GIF, multi-page TIFF or MPO give their first frame); only when Pillow cannot
identify the format, OpenCV's ``cv2.imdecode`` is tried.  A file that Pillow identifies but cannot decode
(truncated, corrupt) raises ``ValueError`` naming the file: it is not handed to OpenCV, which may quietly fill
the missing part with grey.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Union

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from posekit.io.atomic import atomic_destination

ImageSource = Union[str, os.PathLike, np.ndarray, Image.Image]

__all__ = ["IMAGE_SUFFIXES", "ImageSource", "load_image", "save_image"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
"""File suffixes (lower case) that folder searches take for images (``posekit predict``, ``posekit batch``)."""

# Pillow modes whose ``convert("RGB")`` is a plain, lossless-enough colour conversion.
_PIL_CONVERTIBLE = {"1", "L", "P", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LA", "La", "PA"}


def load_image(source: ImageSource) -> np.ndarray:
    """Load an image as an ``(H, W, 3)`` ``uint8`` RGB array (C-contiguous, always a new array).

    Args:
        source: a file path (``str`` or ``os.PathLike``); an ``np.ndarray`` of shape (H, W), (H, W, 1),
            (H, W, 3) RGB or (H, W, 4) RGBA with dtype uint8, uint16, bool or float in [0, 1]; or a
            ``PIL.Image.Image`` of any common mode ('1', 'L', 'P', 'RGB', 'RGBA', 'LA', 'PA', 'CMYK', 'YCbCr',
            'I;16*', 'I', 'F').  The conversion rules are in the module docstring.  A PIL image is taken as the
            pixels it holds: EXIF orientation is applied only when decoding a file.

    Returns:
        ``(H, W, 3)`` ``uint8`` array, RGB channel order, row 0 at the top.  Never a view of ``source``.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: an empty, corrupt or undecodable file, or an array of unsupported dtype/shape/values.
        TypeError: ``source`` is none of the accepted types.

    >>> load_image(np.zeros((2, 3), np.uint8)).shape
    (2, 3, 3)
    """
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source, what="image array")
    if isinstance(source, Image.Image):
        return _pil_to_rgb(source, what="PIL image")
    if isinstance(source, (str, os.PathLike)):
        return _load_file(Path(source))
    raise TypeError(
        f"image must be a path, a numpy array or a PIL image, got {type(source).__module__}.{type(source).__name__}"
    )


def save_image(path: str | os.PathLike, image: np.ndarray, *, quality: int = 95) -> Path:
    """Write an ``(H, W, 3)`` ``uint8`` RGB array to ``path``; the format follows the file suffix.

    The write is atomic: the image goes to a temporary file in the destination folder, which then replaces
    ``path`` (``os.replace``), so a crash never leaves a half-written file there.  Missing parent folders are
    created.  ``quality`` (1-100) is used by JPEG and WebP.  ``image`` is not modified.

    Returns:
        the destination path.
    """
    path = Path(path)
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        got = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"image must be an (H, W, 3) uint8 RGB array, got {got}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image must not be empty, got shape {image.shape}")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be in [1, 100], got {quality}")
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot tell the image format from the suffix of {str(path)!r} (use e.g. .png or .jpg)")
    options = {"quality": int(quality)} if fmt in ("JPEG", "WEBP") else {}
    pil = Image.fromarray(np.ascontiguousarray(image))
    with atomic_destination(path) as tmp:
        pil.save(tmp, format=fmt, **options)
    return path


def _load_file(path: Path) -> np.ndarray:
    if not path.exists():
        raise FileNotFoundError(f"image file not found: {str(path)!r}")
    data = path.read_bytes()
    if not data:
        raise ValueError(f"image file is empty (0 bytes): {str(path)!r}")
    try:
        pil = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:  # a format Pillow does not know: let OpenCV try
        return _decode_with_opencv(data, path)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise ValueError(f"cannot decode image file {str(path)!r}: {exc}") from exc
    try:
        with pil:
            pil.load()
            pil = ImageOps.exif_transpose(pil)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise ValueError(f"cannot decode image file {str(path)!r} ({pil.format}): {exc}") from exc
    return _pil_to_rgb(pil, what=f"image file {str(path)!r}")


def _decode_with_opencv(data: bytes, path: Path) -> np.ndarray:
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.size == 0:
        raise ValueError(f"not a readable image file (neither Pillow nor OpenCV can decode it): {str(path)!r}")
    if decoded.ndim == 3 and decoded.shape[2] in (3, 4):
        decoded = decoded[..., [2, 1, 0] + ([3] if decoded.shape[2] == 4 else [])]  # BGR(A) -> RGB(A)
    return _array_to_rgb(decoded, what=f"image file {str(path)!r}")


def _pil_to_rgb(pil: Image.Image, *, what: str) -> np.ndarray:
    mode = pil.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        array = np.asarray(pil)
        if mode == "I":
            # 32-bit integer mode: Pillow uses it for 16-bit files; values are clipped to the 16-bit range.
            array = np.clip(array, 0, 65535).astype(np.uint16)
        elif mode.startswith("I;16"):
            array = array.astype(np.uint16)  # native byte order for 'I;16B'
        return _array_to_rgb(array, what=f"{what} (mode {mode!r})")
    if mode not in _PIL_CONVERTIBLE:
        raise ValueError(f"{what} has unsupported PIL mode {mode!r}; convert it to 'RGB' first")
    if mode in ("P", "PA"):
        pil = pil.convert("RGBA")  # resolve the palette (and its transparency) before dropping alpha
    rgb = pil if pil.mode == "RGB" else pil.convert("RGB")
    return np.array(rgb, dtype=np.uint8, order="C", copy=True)


def _array_to_rgb(array: np.ndarray, *, what: str) -> np.ndarray:
    shape = array.shape
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise ValueError(f"{what} must have shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{what} must not be empty, got shape {shape}")
    array = _to_uint8(array, what=what)  # always a new array
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif array.shape[2] == 4:
        array = array[:, :, :3]  # alpha dropped, not composited
    return np.ascontiguousarray(array)


def _to_uint8(array: np.ndarray, *, what: str) -> np.ndarray:
    """New uint8 array of the same shape as ``array`` following the dtype rules of the module docstring."""
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    dtype = array.dtype
    if dtype == np.uint8:
        return array.copy()
    if dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    if dtype == np.bool_:
        return array.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(dtype, np.floating):
        finite = np.isfinite(array)
        if not finite.all():
            raise ValueError(f"{what} of dtype {dtype} contains NaN or infinite values")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"{what} of dtype {dtype} must hold values in [0, 1], got [{low:g}, {high:g}] "
                "(for a float image in [0, 255], convert it with .astype(np.uint8) first)"
            )
        return np.rint(array.astype(np.float64) * 255.0).astype(np.uint8)
    raise ValueError(f"{what} has unsupported dtype {dtype}; expected uint8, uint16, bool or float in [0, 1]")
