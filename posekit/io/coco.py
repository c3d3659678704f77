"""COCO keypoint JSON in and out: detection results (read/write) and annotation files (load + check), plain ``json``.

A COCO keypoint **result** is a dict::

    {"image_id": int, "category_id": int,
     "keypoints": [x1, y1, s1, x2, y2, s2, ...],   # 3K floats: image pixels (x right, y down), keypoint score
     "score": float,                               # instance score, finite
     "bbox": [x, y, w, h]}                         # optional, pixels, w and h >= 0

Any other keys are kept as they are (they must be JSON-serialisable).  A keypoint triple holding a NaN is a missing
keypoint and is written (and read back) as ``0, 0, 0`` (score 0); infinite values are an error.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from posekit.io.atomic import atomic_destination

__all__ = ["load_coco_annotations", "read_coco_results", "write_coco_results"]

_REQUIRED = ("image_id", "category_id", "keypoints", "score")


def write_coco_results(path: str | os.PathLike, results: Iterable[Mapping[str, Any]]) -> Path:
    """Validate ``results`` and write them as a COCO keypoint results JSON list (atomic write).

    Args:
        path: destination ``.json`` file; parent folders are created; written to a temporary file in the same
            folder and renamed, so a crash never leaves a half file.
        results: COCO result dicts (see the module docstring); ``keypoints`` may be a flat sequence of 3K numbers,
            or an array of shape (3K,) or (K, 3).  Inputs are not modified.

    Returns:
        the destination path.

    Raises:
        ValueError: a record is invalid; the message names its index and key, e.g.
            ``results[3]['keypoints'] must have a length that is a multiple of 3, got 50``.
    """
    if isinstance(results, Mapping):
        raise ValueError("results must be a list of COCO result dicts, got a single dict")
    lines = []
    for index, record in enumerate(results):
        clean = _validate_result(record, where=f"results[{index}]")
        try:
            lines.append(json.dumps(clean, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"results[{index}] is not JSON-serialisable: {exc}") from exc
    text = "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"
    path = Path(path)
    with atomic_destination(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def read_coco_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read and validate a COCO keypoint results JSON file.

    Returns:
        a list of new dicts with ``image_id``/``category_id`` as ``int``, ``keypoints`` as a list of 3K floats
        (NaN triples as ``0, 0, 0``), ``score`` as ``float``, ``bbox`` (if present) as 4 floats, other keys as read.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not JSON, not a list, or an invalid record; the message names the file and the record index.
    """
    path = Path(path)
    data = _read_json(path, what="COCO results file")
    if not isinstance(data, list):
        raise ValueError(f"COCO results file {str(path)!r} must hold a JSON list, got {type(data).__name__}")
    return [_validate_result(record, where=f"{str(path)!r}: record {index}") for index, record in enumerate(data)]


def load_coco_annotations(path: str | os.PathLike) -> dict[str, Any]:
    """Load a COCO keypoint annotation file and check its structure.

    Checks: the top level is an object with list-valued ``images``, ``annotations`` and ``categories``; every
    image has an ``id``; every category has an ``id`` and at least one has a ``keypoints`` name list; every
    annotation has ``id``, ``image_id`` (of a listed image) and ``category_id`` (of a listed category), and its
    ``keypoints``, when present, has 3 x (number of keypoint names of its category) values.

    Returns:
        the parsed JSON dict, unchanged (the same object ``pycocotools.coco.COCO`` would build its index from).

    Raises:
        FileNotFoundError: no such file.
        ValueError: invalid JSON or structure; the message names the file, the list, the index and the key.
    """
    path = Path(path)
    name = f"COCO annotation file {str(path)!r}"
    data = _read_json(path, what="COCO annotation file")
    if not isinstance(data, dict):
        raise ValueError(f"{name} must hold a JSON object, got {type(data).__name__}")
    missing = [key for key in ("images", "annotations", "categories") if key not in data]
    if missing:
        raise ValueError(f"{name} lacks the top-level key(s) {missing}; it has {sorted(data)}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data[key], list):
            raise ValueError(f"{name}: {key!r} must be a list, got {type(data[key]).__name__}")

    image_ids = {_record_key(name, "images", i, image, "id") for i, image in enumerate(data["images"])}
    num_keypoints: dict[Any, int | None] = {}
    for i, category in enumerate(data["categories"]):
        category_id = _record_key(name, "categories", i, category, "id")
        names = category.get("keypoints")
        if names is not None and not isinstance(names, list):
            raise ValueError(f"{name}: categories[{i}]['keypoints'] must be a list of names")
        num_keypoints[category_id] = None if names is None else len(names)
    if not any(n for n in num_keypoints.values()):
        raise ValueError(f"{name}: no category has a 'keypoints' list; this is not a keypoint annotation file")

    for i, annotation in enumerate(data["annotations"]):
        _record_key(name, "annotations", i, annotation, "id")
        if _record_key(name, "annotations", i, annotation, "image_id") not in image_ids:
            raise ValueError(f"{name}: annotations[{i}]['image_id'] = {annotation['image_id']!r} is not in 'images'")
        category_id = _record_key(name, "annotations", i, annotation, "category_id")
        if category_id not in num_keypoints:
            raise ValueError(f"{name}: annotations[{i}]['category_id'] = {category_id!r} is not in 'categories'")
        keypoints, expected = annotation.get("keypoints"), num_keypoints[category_id]
        if keypoints is not None and expected is not None:
            if not isinstance(keypoints, list) or len(keypoints) != 3 * expected:
                got = len(keypoints) if isinstance(keypoints, list) else type(keypoints).__name__
                raise ValueError(
                    f"{name}: annotations[{i}]['keypoints'] must have 3 x {expected} = {3 * expected} values "
                    f"(category {category_id!r}), got {got}"
                )
    return data


def _read_json(path: Path, *, what: str) -> Any:
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {str(path)!r}")
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise ValueError(f"{what} {str(path)!r} is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} {str(path)!r} is not valid JSON: {exc}") from exc


def _record_key(name: str, list_name: str, index: int, record: Any, key: str) -> Any:
    if not isinstance(record, dict):
        raise ValueError(f"{name}: {list_name}[{index}] must be an object, got {type(record).__name__}")
    if key not in record:
        raise ValueError(f"{name}: {list_name}[{index}] lacks the key {key!r}")
    return record[key]


def _validate_result(record: Any, *, where: str) -> dict[str, Any]:
    """Return a new, normalised copy of one COCO result dict; raise ``ValueError`` naming ``where`` and the key."""
    if not isinstance(record, Mapping):
        raise ValueError(f"{where} must be a dict, got {type(record).__name__}")
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise ValueError(f"{where} lacks the key(s) {missing}")
    clean = {key: value for key, value in record.items() if key not in _REQUIRED and key != "bbox"}
    clean["image_id"] = _as_int(record["image_id"], f"{where}['image_id']")
    clean["category_id"] = _as_int(record["category_id"], f"{where}['category_id']")
    clean["keypoints"] = _as_keypoints(record["keypoints"], f"{where}['keypoints']")
    clean["score"] = _as_float(record["score"], f"{where}['score']")
    if "bbox" in record:
        bbox = _as_floats(record["bbox"], f"{where}['bbox']")
        if len(bbox) != 4:
            raise ValueError(f"{where}['bbox'] must be [x, y, w, h] (4 numbers), got {len(bbox)} values")
        if not all(math.isfinite(v) for v in bbox) or bbox[2] < 0 or bbox[3] < 0:
            raise ValueError(f"{where}['bbox'] must be finite with w, h >= 0, got {bbox}")
        clean["bbox"] = bbox
    return clean


def _as_int(value: Any, where: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{where} must be an int, got {value!r} ({type(value).__name__})")
    return int(value)


def _as_float(value: Any, where: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{where} must be a number, got {value!r} ({type(value).__name__})")
    if not math.isfinite(value):
        raise ValueError(f"{where} must be finite, got {value!r}")
    return float(value)


def _as_floats(value: Any, where: str) -> list[float]:
    """Flatten a list/tuple/array of numbers ((n,) or (n, m)) into a list of Python floats."""
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise ValueError(f"{where} must be a list of numbers, got {type(value).__name__}")
    if isinstance(value, np.ndarray) and value.dtype == np.bool_:
        raise ValueError(f"{where} must hold numbers, got a bool array")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must hold only numbers") from None
    if array.ndim > 2:
        raise ValueError(f"{where} must be flat (3K,) or (K, 3), got shape {array.shape}")
    return array.reshape(-1).tolist()


def _as_keypoints(value: Any, where: str) -> list[float]:
    if isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[1] != 3:
        raise ValueError(f"{where} must have shape (3K,) or (K, 3), got {value.shape}")
    if isinstance(value, (list, tuple)) and any(isinstance(v, (list, tuple)) for v in value):
        raise ValueError(f"{where} must be a flat list of 3K numbers [x1, y1, s1, ...]")
    flat = _as_floats(value, where)
    if not flat or len(flat) % 3:
        raise ValueError(f"{where} must have a length that is a non-zero multiple of 3 (x, y, score), got {len(flat)}")
    triples = np.asarray(flat, dtype=np.float64).reshape(-1, 3)
    if np.isinf(triples).any():
        raise ValueError(f"{where} holds infinite values (keypoint {int(np.isinf(triples).any(1).argmax())})")
    triples[np.isnan(triples).any(axis=1)] = 0.0  # NaN = missing keypoint -> (0, 0, score 0)
    return triples.reshape(-1).tolist()
