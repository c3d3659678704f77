"""The inputs of ``posekit bench``: which image(s) and person boxes each suite times, and lossless copies of
them for the peers.

* top-down: the e2e fixture image of ``../shared/fixtures/mmpose/e2e`` (000000197388, 640 x 392) with its three
  person boxes; or the image given with ``--image``, the whole image as one box; without either (a clone without
  ``../shared``) a synthetic 640 x 480 image, whole image as the box: a top-down network's time does not depend
  on what the crop shows.
* BlazePose: eight COCO images with people from ``../shared/data/coco/openpose_examples``, or ``--image``; there
  is no synthetic fall-back (the landmark model runs only where the detector finds a person).

Every image is decoded once, here, by :func:`posekit.load_image`, and written as PNG into the run's work folder:
the peers read those files, so every runner sees exactly the same pixels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posekit.io.image import load_image, save_image

#: ``../shared`` next to the repository (absent in a clone without the data folder).
SHARED = Path(__file__).resolve().parents[3] / "shared"
E2E_DIR = SHARED / "fixtures" / "mmpose" / "e2e"
BLAZEPOSE_IMAGES = tuple(SHARED / "data" / "coco" / "openpose_examples" / f"COCO_val2014_000000000{n}.jpg"
                         for n in ("294", "328", "338", "415", "428", "459", "474", "488"))


@dataclass(frozen=True)
class BenchImage:
    """One input image.

    Attributes:
        rgb: (H, W, 3) uint8 RGB.
        label: where it came from (file name or ``"synthetic"``), for the table.
        png: lossless copy for the peers (the same pixels as ``rgb``).
    """

    rgb: np.ndarray
    label: str
    png: Path


@dataclass(frozen=True)
class TopdownInput:
    """The top-down suite's input: one image and its person boxes, (N, 4) float32 ``x1, y1, x2, y2`` pixels."""

    image: BenchImage
    boxes: np.ndarray
    source: str


@dataclass(frozen=True)
class BlazePoseInput:
    """The BlazePose suite's images (``images`` empty and ``reason`` set when there are none)."""

    images: tuple[BenchImage, ...]
    source: str
    reason: str = ""


def _bench_image(rgb: np.ndarray, label: str, workdir: Path, stem: str) -> BenchImage:
    png = save_image(Path(workdir) / f"{stem}.png", rgb)
    return BenchImage(rgb, label, png)


def _load(path: str | os.PathLike[str]) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} does not exist")
    return load_image(path)


def synthetic_image(*, height: int = 480, width: int = 640, seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 RGB: smooth gradients plus noise (deterministic for a ``seed``)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200, y / height * 200, (x + y) / (width + height) * 200], axis=-1)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def topdown_input(workdir: str | os.PathLike[str], *, image: str | os.PathLike[str] | None = None) -> TopdownInput:
    """The top-down input (see the module docstring); PNG copy written into ``workdir``."""
    if image is not None:
        rgb = _load(image)
        h, w = rgb.shape[:2]
        return TopdownInput(_bench_image(rgb, Path(image).name, Path(workdir), "topdown"),
                            np.array([[0, 0, w, h]], np.float32), "--image, whole image as the box")
    fixture = E2E_DIR / "000000197388.jpg"
    if fixture.is_file() and (E2E_DIR / "bboxes_xyxy.npy").is_file():
        boxes = np.load(E2E_DIR / "bboxes_xyxy.npy").astype(np.float32).reshape(-1, 4)
        return TopdownInput(_bench_image(_load(fixture), fixture.name, Path(workdir), "topdown"), boxes,
                            "e2e fixture image and its person boxes")
    rgb = synthetic_image()
    h, w = rgb.shape[:2]
    return TopdownInput(_bench_image(rgb, "synthetic", Path(workdir), "topdown"), np.array([[0, 0, w, h]], np.float32),
                        f"synthetic image, whole image as the box ({SHARED} absent; pass --image for a real one)")


def blazepose_input(workdir: str | os.PathLike[str], *, image: str | os.PathLike[str] | None = None
                    ) -> BlazePoseInput:
    """The BlazePose input (see the module docstring); PNG copies written into ``workdir``."""
    if image is not None:
        return BlazePoseInput((_bench_image(_load(image), Path(image).name, Path(workdir), "blazepose_0"),),
                              "--image")
    if not all(p.is_file() for p in BLAZEPOSE_IMAGES):
        return BlazePoseInput((), "", f"no image with a person: pass --image ({BLAZEPOSE_IMAGES[0].parent} absent)")
    images = tuple(_bench_image(_load(p), p.name, Path(workdir), f"blazepose_{i}")
                   for i, p in enumerate(BLAZEPOSE_IMAGES))
    return BlazePoseInput(images, f"{len(images)} COCO images of openpose_examples")
