"""Detectors that do not detect: boxes given by the caller (:class:`FixedBoxes`) or read from a COCO-style
detections file (:class:`BoxesFromFile`), e.g. to evaluate a pose model on the person boxes of another detector.

Accepted file layouts (JSON):

* a COCO *results* list: ``[{"image_id": 1, "bbox": [x, y, w, h], "score": 0.9, "category_id": 1}, ...]``
  (``score`` and ``category_id`` optional; an optional ``"file_name"`` per record lets you look boxes up by name);
* a COCO *dataset* dict with ``"annotations"`` (ground-truth boxes, score 1 unless given) and optionally
  ``"images"`` (``id`` and ``file_name``), which maps file names to ids.

``bbox`` is COCO's ``x, y, width, height`` in pixels (top-left corner); returned boxes are ``x1, y1, x2, y2``.
Crowd regions (``"iscrowd": 1``, COCO's unlabelled groups of people) are not persons, and boxes with zero or negative
width or height cannot be cropped: both are skipped, and :attr:`BoxesFromFile.skipped` lists them.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posekit.types import Detections

__all__ = ["FixedBoxes", "BoxesFromFile", "SkippedBox", "check_image"]


def check_image(image: object, what: str = "image") -> np.ndarray:
    """``image`` itself when it is a non-empty (H, W, 3) RGB uint8 array (what every detector takes); ``TypeError``
    or ``ValueError`` naming ``what``, the shape or the dtype otherwise."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{what} must be an (H, W, 3) RGB uint8 numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{what} must have shape (H, W, 3) (RGB), got {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8 RGB, got dtype {image.dtype}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{what} is empty: shape {image.shape}")
    return image


class FixedBoxes:
    """A detector that returns the same caller-given boxes for every image.

    Args:
        boxes: (N, 4) ``x1, y1, x2, y2`` pixels.
        scores: optional (N,) in [0, 1] (default 1).
        labels: optional (N,) int class ids (default 0).
    """

    def __init__(self, boxes: np.ndarray | Sequence, scores: np.ndarray | Sequence | None = None,
                 labels: np.ndarray | Sequence | None = None) -> None:
        boxes = np.asarray(boxes, np.float32)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(f"boxes must have shape (N, 4) as x1, y1, x2, y2 pixels, got {boxes.shape}")
        if not np.isfinite(boxes).all() or (boxes[:, 2:] < boxes[:, :2]).any():
            raise ValueError("boxes must be finite with x2 >= x1 and y2 >= y1")
        scores = np.ones(len(boxes), np.float32) if scores is None else scores
        self.detections = Detections(boxes, scores, labels)

    def __call__(self, image: np.ndarray) -> Detections:
        check_image(image)
        return self.detections

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        return [self(image) for image in images]


@dataclass(frozen=True)
class SkippedBox:
    """A record of a detections file that :class:`BoxesFromFile` did not turn into a person box.

    Attributes:
        record: index of the record in the file's list (or in its ``"annotations"``).
        image_id: the record's COCO image id.
        bbox: the record's ``[x, y, width, height]`` pixels, as written.
        reason: ``"crowd"`` (``iscrowd`` set: a region of several people) or ``"degenerate"`` (zero or negative
            width or height).
    """

    record: int
    image_id: int
    bbox: list[float]
    reason: str

    def describe(self) -> str:
        """One line for a user: which record, which image, which box, why."""
        why = "a crowd region (iscrowd), not a person" if self.reason == "crowd" else "zero or negative width/height"
        return f"record {self.record} (image id {self.image_id}) bbox {self.bbox}: {why}"


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


class BoxesFromFile:
    """Boxes read from a COCO-style detections JSON file, looked up per image by id or file name.

    ``detector(image, key=...)`` returns the boxes of image ``key``: an ``int`` is a COCO ``image_id``; a ``str``
    or path is a file name (only its base name is used: ``"val/000000000139.jpg"`` finds ``000000000139.jpg``).
    ``detector[key]`` does the same without an image.

    Args:
        path: the JSON file (layouts in the module docstring).
        category_id: keep only records of this category (default 1 = COCO person; records without a
            ``category_id`` are kept); ``None`` keeps all.
        min_score: drop records scoring below this.
        images: optional extra ``{file_name: image_id}`` mapping or a COCO dataset JSON path with ``"images"``.
        strict: raise ``KeyError`` for an image id or file name the file does not know (default: no boxes).
            A file name can only be looked up when the file (or ``images``) has file names at all.

    Attributes:
        skipped: the crowd regions and degenerate boxes left out (:class:`SkippedBox`, file order); those of one
            image: :meth:`skipped_for`.

    Raises:
        FileNotFoundError / ValueError: missing file, invalid JSON, or a bad record (the message names the record
        index and field).
    """

    def __init__(self, path: str | os.PathLike[str], *, category_id: int | None = 1, min_score: float = 0.0,
                 images: dict[str, int] | str | os.PathLike[str] | None = None, strict: bool = False) -> None:
        self.path = Path(path)
        data = self._load(self.path)
        records, image_list = (data, []) if isinstance(data, list) else self._dataset(data)
        if images is not None:
            image_list = image_list + self._images_arg(images)
        self.strict = strict
        self._names: dict[str, int] = {}
        self._known: set[int] = set()
        for i, im in enumerate(image_list):
            if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
                raise ValueError(f"{self.path}: images[{i}] must have 'id' and 'file_name', got {im!r}")
            self._names[Path(str(im["file_name"])).name] = int(im["id"])
            self._known.add(int(im["id"]))
        per_image: dict[int, list[tuple[list[float], float, int]]] = {}
        self.skipped: list[SkippedBox] = []
        for i, rec in enumerate(records):
            where = f"{self.path}: record {i}"
            if not isinstance(rec, dict):
                raise ValueError(f"{where} must be an object, got {type(rec).__name__}")
            if "image_id" not in rec:
                raise ValueError(f"{where} has no 'image_id'")
            if isinstance(rec["image_id"], bool) or not isinstance(rec["image_id"], int):
                raise ValueError(f"{where}: 'image_id' must be an int, got {rec['image_id']!r}")
            bbox = rec.get("bbox")
            if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
                raise ValueError(f"{where}: 'bbox' must be 4 finite numbers [x, y, width, height], got {bbox!r}")
            x, y, w, h = (float(v) for v in bbox)
            score = rec.get("score", 1.0)
            if not _is_number(score) or not 0.0 <= score <= 1.0:
                raise ValueError(f"{where}: 'score' must be a number in [0, 1], got {score!r}")
            score = float(score)
            cat = rec.get("category_id")
            if cat is not None and (isinstance(cat, bool) or not isinstance(cat, int)):
                raise ValueError(f"{where}: 'category_id' must be an int, got {cat!r}")
            image_id = rec["image_id"]
            self._known.add(image_id)
            if "file_name" in rec:
                self._names[Path(str(rec["file_name"])).name] = image_id
            if (category_id is not None and cat is not None and cat != category_id) or score < min_score:
                continue
            if rec.get("iscrowd") or w <= 0 or h <= 0:
                reason = "crowd" if rec.get("iscrowd") else "degenerate"
                self.skipped.append(SkippedBox(i, image_id, list(bbox), reason))
                continue
            per_image.setdefault(image_id, []).append(([x, y, x + w, y + h], score, 0 if cat is None else cat))
        self._detections = {
            k: Detections(np.array([b for b, _, _ in v], np.float32), np.array([s for _, s, _ in v], np.float32),
                          np.array([c for _, _, c in v], np.int64))
            for k, v in per_image.items()
        }

    @staticmethod
    def _load(path: Path) -> Any:
        if path.is_dir():
            raise ValueError(f"detections file {path} is a folder; give a JSON file")
        if not path.is_file():
            raise FileNotFoundError(f"detections file {path} does not exist")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"detections file {path} is not valid JSON: {exc}") from None
        if not isinstance(data, (list, dict)):
            raise ValueError(f"detections file {path} must hold a list of records or a COCO dict, "
                             f"got {type(data).__name__}")
        return data

    def _dataset(self, data: dict) -> tuple[list, list]:
        if "annotations" not in data:
            raise ValueError(f"detections file {self.path} is a dict without 'annotations'")
        records, image_list = data["annotations"], data.get("images", [])
        if not isinstance(records, list) or not isinstance(image_list, list):
            raise ValueError(f"{self.path}: 'annotations' and 'images' must be lists")
        return records, image_list

    def _images_arg(self, images: dict[str, int] | str | os.PathLike[str]) -> list:
        if isinstance(images, dict):
            return [{"file_name": k, "id": v} for k, v in images.items()]
        data = self._load(Path(images))
        if not isinstance(data, dict) or not isinstance(data.get("images"), list):
            raise ValueError(f"images file {images} must be a COCO dict with an 'images' list")
        return data["images"]

    def image_ids(self) -> list[int]:
        """Ids of every image the file mentions (with or without kept boxes), sorted."""
        return sorted(self._known)

    def _resolve(self, key: Any) -> int | None:
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer, str, os.PathLike)):
            raise TypeError(f"key must be an image id (int) or a file name (str / path), got {type(key).__name__}")
        if isinstance(key, (int, np.integer)):
            image_id = int(key)
            if self.strict and image_id not in self._known:
                raise KeyError(f"image id {image_id} is not in {self.path}")
            return image_id
        name = Path(key).name
        if name in self._names:
            return self._names[name]
        if not self._names:
            raise KeyError(f"cannot look up file name {name!r}: {self.path} has no file names "
                           "(pass images={file_name: image_id} or a COCO dataset JSON, or look up by image id)")
        if self.strict:
            raise KeyError(f"file name {name!r} is not in {self.path}")
        return None

    def skipped_for(self, key: int | str | os.PathLike[str]) -> list[SkippedBox]:
        """The :attr:`skipped` records of image ``key`` (an image id or a file name, as in ``detector[key]``)."""
        image_id = self._resolve(key)
        return [s for s in self.skipped if s.image_id == image_id]

    def __getitem__(self, key: int | str | os.PathLike[str]) -> Detections:
        image_id = self._resolve(key)
        if image_id is not None and image_id in self._detections:
            return self._detections[image_id]
        return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    def __len__(self) -> int:
        """Number of images with at least one kept box."""
        return len(self._detections)

    def __call__(self, image: np.ndarray, *, key: int | str | os.PathLike[str]) -> Detections:
        """The boxes of image ``key`` (``image`` is only validated)."""
        check_image(image)
        return self[key]

    def detect_batch(self, images: Sequence[np.ndarray], *,
                     keys: Sequence[int | str | os.PathLike[str]]) -> list[Detections]:
        """:meth:`__call__` on each image with its key."""
        if len(keys) != len(images):
            raise ValueError(f"keys has {len(keys)} entries but there are {len(images)} images")
        return [self(image, key=k) for image, k in zip(images, keys)]
