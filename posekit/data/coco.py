"""COCO-format keypoint annotations (any skeleton) -> :class:`~posekit.data.sample.PoseSample` list + report.

Reads the COCO keypoint layout used by COCO, COCO-WholeBody, CrowdPose, AIC, OCHuman, PoseTrack18, MPII-TRB and
MMPose's conversions of hand, face and animal sets: ``images`` (``id``, ``file_name``), ``categories`` (``id``,
``keypoints`` names, ``skeleton`` links) and ``annotations`` (``image_id``, ``category_id``, ``keypoints`` as
``[x1, y1, v1, ...]`` or a ``(K, 3)`` list, optional ``bbox`` ``[x, y, w, h]``, ``area``, ``iscrowd``).

Per-keypoint flags ``v``: ``v == 0`` is "not labelled" -> keypoint NaN, ``visible`` 0. For ``v > 0`` the keypoint
is labelled; ``visible`` then follows ``occlusion_flags``:

* ``True`` -- COCO semantics: ``v == 2`` labelled and visible (``visible`` 1), ``0 < v < 2`` labelled but
  occluded (``visible`` 0).
* ``False`` -- the flags only say labelled or not (MMPose's conversions of hand, face and PoseTrack data write 1
  for every labelled point): ``visible`` 1 for every labelled keypoint.
* ``None`` (default) -- ``True`` when any loaded keypoint has ``v == 2``, else ``False`` (noted in the report).

The raw flags are kept in ``meta["flags"]``.

Skeleton (``skeleton=None``): K is what the annotations hold (the most common keypoint count); the category's
``keypoints`` names pick a posekit table when they match one (``coco17``, ``ap10k17``, ``mpii16`` (MHP), ``hand21``
also for MMPose's ``wrist, thumb1, ..., pinky_finger4`` names, ...). Files whose categories name no keypoints
(MMPose's face sets, Halpe) map by count: 17 ``coco17``, 21 ``hand21``, 68 ``face68``, 133 ``coco_wholebody133``.
Annotations carrying COCO-WholeBody's ``foot_kpts``/``face_kpts``/``lefthand_kpts``/``righthand_kpts`` are assembled
into 133 keypoints (body, feet, face, left hand, right hand: ``coco_wholebody133``'s order) unless a 17-keypoint
skeleton is passed. Anything else gets a generic skeleton (:func:`skeleton_from_category`).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posekit import skeletons as sk
from posekit.data.sample import LoadReport, PoseSample, _Collector
from posekit.skeletons import Skeleton

__all__ = ["load_coco_keypoints", "parse_coco_keypoints", "skeleton_from_category"]

_WHOLEBODY_PARTS = (("foot_kpts", 6), ("face_kpts", 68), ("lefthand_kpts", 21), ("righthand_kpts", 21))
_WHOLEBODY_BOXES = ("face_box", "lefthand_box", "righthand_box")
_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")
_MMPOSE_HAND_NAMES = ("wrist",) + tuple(f"{finger}{i}" for finger in _FINGERS for i in range(1, 5))
_NAMED_TABLES = (sk.coco17, sk.ap10k17, sk.mpii16, sk.lsp14, sk.h36m17, sk.hand21, sk.coco_wholebody133,
                 sk.posetrack18)
_BY_COUNT = {17: sk.coco17, 21: sk.hand21, 68: sk.face68, 133: sk.coco_wholebody133}


def load_coco_keypoints(
    ann_file: str | os.PathLike,
    *,
    image_dir: str | os.PathLike | None = None,
    skeleton: Skeleton | None = None,
    category_ids: Collection[int] | None = None,
    min_keypoints: int = 1,
    check_images: bool = True,
    occlusion_flags: bool | None = None,
) -> tuple[list[PoseSample], LoadReport]:
    """Load every keypoint annotation of a COCO-format JSON file.

    Args:
        ann_file: the JSON annotation file.
        image_dir: folder the images' ``file_name`` is relative to; ``None`` gives samples with
            ``image_path=None`` (and no image checks), e.g. for label-only files.
        skeleton: the layout to load into; ``None`` infers it (module docstring). Annotations whose keypoint count
            does not match it are skipped as ``bad_shape``.
        category_ids: categories to load; ``None`` = every category (they must share one keypoint list).
        min_keypoints: annotations with fewer labelled keypoints are skipped (``too_few_keypoints``); 0 keeps all.
        check_images: with ``image_dir``, skip annotations whose image file does not exist (``missing_image``).
        occlusion_flags: how flags map to ``visible`` (module docstring).

    Returns:
        ``(samples, report)``: one :class:`PoseSample` per kept annotation in file order, with ``box`` from
        ``bbox`` converted to ``x1, y1, x2, y2`` (``None`` when absent), ``image_id`` the annotation's ``image_id``,
        and ``meta`` holding ``annotation_id``, ``category_id``, ``flags`` ((K,) float32 raw flags), plus ``area``,
        ``iscrowd``, ``num_keypoints``, ``image_size`` ``(width, height)`` and, for COCO-WholeBody, the
        ``face_box``/``lefthand_box``/``righthand_box`` (xyxy) when the file has them.

    Raises:
        FileNotFoundError: ``ann_file`` does not exist.
        ValueError: not JSON, not a COCO keypoint file (no ``images``/``annotations``/``categories`` lists, or a
            category without an ``id``), or categories with different keypoint lists and no ``category_ids``.
    """
    path = Path(ann_file)
    if not path.is_file():
        raise FileNotFoundError(f"COCO annotation file not found: {str(path)!r}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"COCO annotation file {str(path)!r} is not valid JSON: {exc}") from exc
    return parse_coco_keypoints(
        data, source=path, image_dir=image_dir, skeleton=skeleton, category_ids=category_ids,
        min_keypoints=min_keypoints, check_images=check_images, occlusion_flags=occlusion_flags,
    )


def parse_coco_keypoints(
    data: Mapping[str, Any],
    *,
    source: str | os.PathLike = "<memory>",
    image_dir: str | os.PathLike | None = None,
    skeleton: Skeleton | None = None,
    category_ids: Collection[int] | None = None,
    min_keypoints: int = 1,
    check_images: bool = True,
    occlusion_flags: bool | None = None,
    skeleton_name: str | None = None,
    annotation_keys: Sequence[str] = (),
    image_keys: Sequence[str] = (),
) -> tuple[list[PoseSample], LoadReport]:
    """:func:`load_coco_keypoints` on an already parsed COCO dict (not modified).

    Extra args: ``source`` names the data in messages and the report; ``skeleton_name`` names an inferred generic
    skeleton (default: category name + K); ``annotation_keys`` / ``image_keys`` are copied into ``meta`` as they
    are when an annotation / its image has them (e.g. PoseTrack's ``track_id``).
    """
    name = f"COCO annotation data {str(source)!r}"
    if not isinstance(data, Mapping):
        raise ValueError(f"{name} must be a JSON object, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise ValueError(f"{name} lacks the top-level key {key!r}; it has {sorted(data)}")
        if not isinstance(data[key], list):
            raise ValueError(f"{name}: {key!r} must be a list, got {type(data[key]).__name__}")
    if min_keypoints < 0:
        raise ValueError(f"min_keypoints must be >= 0, got {min_keypoints}")
    log = _Collector()
    categories = _categories(data["categories"], category_ids, name)
    images = _images(data["images"], log)
    annotations = [(i, a) for i, a in enumerate(data["annotations"])
                   if category_ids is None or not isinstance(a, Mapping) or _has(categories, a.get("category_id"))]
    skeleton, wholebody = _layout(categories, [a for _, a in annotations], skeleton, skeleton_name, log, name)
    if skeleton is None:  # no keypoint names and no readable 'keypoints': nothing can be loaded
        for index, ann in annotations:
            rid = ann.get("id") if isinstance(ann, Mapping) else None
            log.skip(index, "bad_shape", f"annotations[{index}]: no readable 'keypoints' and the categories name "
                     "no keypoints, so K is unknown (pass skeleton=...)", rid)
        return [], log.report(source, len(annotations), 0)

    parsed = []  # (index, annotation, (K, 3) float64 keypoints)
    for index, ann in annotations:
        triples = _keypoints(index, ann, skeleton.num_keypoints, wholebody, categories, images, log)
        if triples is not None:
            parsed.append((index, ann, triples))
    if occlusion_flags is None:
        occlusion_flags = any(bool(np.any(t[:, 2] == 2)) for _, _, t in parsed)
        log.notes.append(
            "flags read as COCO visibility (2 = visible, 1 = labelled but occluded)" if occlusion_flags
            else "no keypoint has flag 2: flags read as labelled / not labelled, every labelled keypoint visible"
        )
    root = None if image_dir is None else Path(image_dir)
    exists: dict[Any, bool] = {}
    samples = []
    for index, ann, triples in parsed:
        sample = _sample(index, ann, triples, skeleton, images[ann["image_id"]], root, check_images, exists,
                         min_keypoints, occlusion_flags, wholebody, annotation_keys, image_keys, log)
        if sample is not None:
            samples.append(sample)
    return samples, log.report(source, len(annotations), len(samples))


def skeleton_from_category(
    category: Mapping[str, Any], *, num_keypoints: int | None = None, name: str | None = None
) -> Skeleton:
    """A generic :class:`Skeleton` from a COCO category's ``keypoints`` names and ``skeleton`` links.

    Names are normalised to snake_case (``"Right Shoulder"`` -> ``"right_shoulder"``); missing or empty names
    become ``kpt_{i}``, repeated ones get a ``_2`` suffix. ``num_keypoints`` (default: the number of names) cuts
    or extends the name list. Links are 1-based (the COCO convention) unless one of them uses index 0 (some
    conversions write 0-based links); when any link falls outside the keypoints the whole ``skeleton`` field is
    taken as written for another layout (CrowdPose's file carries COCO's 17-keypoint links) and no link is kept.
    Flip pairs pair names that differ only by a ``left``/``right`` token. No OKS sigmas. ``name`` defaults to the
    category name followed by K (``"person14"``).
    """
    raw = category.get("keypoints") or []
    names = [_norm(n) for n in raw] if isinstance(raw, list) else []
    k = len(names) if num_keypoints is None else int(num_keypoints)
    names = (names + [""] * k)[:k]
    seen: Counter[str] = Counter()
    unique = []
    for i, n in enumerate(names):
        n = n or f"kpt_{i}"
        seen[n] += 1
        unique.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    links = _links(category.get("skeleton"), k)
    cat_name = _norm(str(category.get("name", "keypoints"))) or "keypoints"
    return Skeleton(name or f"{cat_name}{k}", tuple(unique), links, _flip_pairs(tuple(unique)))


# ---------------------------------------------------------------------------------------------- layout


def _norm(name: Any) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def _links(raw: Any, k: int) -> tuple[tuple[int, int], ...]:
    try:
        pairs = [(int(a), int(b)) for a, b in raw or []]
    except (TypeError, ValueError):
        return ()
    offset = 0 if any(0 in p for p in pairs) else 1
    pairs = [(a - offset, b - offset) for a, b in pairs]
    if any(not (0 <= a < k and 0 <= b < k) for a, b in pairs):
        return ()
    return tuple(dict.fromkeys((a, b) for a, b in pairs if a != b))


def _flip_pairs(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    swap = {"left": "right", "right": "left"}
    index = {n: i for i, n in enumerate(names)}
    mirror = ["_".join(swap.get(t, t) for t in n.split("_")) for n in names]
    return tuple((i, index[m]) for i, m in enumerate(mirror) if index.get(m, i) > i)


def _categories(raw: list, wanted: Collection[int] | None, name: str) -> dict[Any, Mapping]:
    out = {}
    for i, cat in enumerate(raw):
        if not isinstance(cat, Mapping) or not isinstance(cat.get("id"), (int, str)):
            raise ValueError(f"{name}: categories[{i}] must be an object with an int or str 'id'")
        if wanted is None or cat["id"] in wanted:
            out[cat["id"]] = cat
    if not out:
        have = [c["id"] for c in raw]
        raise ValueError(f"{name}: no category selected (category_ids={wanted!r}, the file has {have})")
    return out


def _images(raw: list, log: _Collector) -> dict[Any, Mapping]:
    out = {}
    for i, image in enumerate(raw):
        if isinstance(image, Mapping) and "id" in image and isinstance(image["id"], (int, str)):
            out[image["id"]] = image
        else:
            log.notes.append(f"images[{i}] has no int or str 'id' and is ignored")
    return out


def _count(ann: Any) -> int | None:
    """Keypoints in ``ann['keypoints']`` (3K flat or (K, 3)), or None when unreadable."""
    try:
        arr = np.asarray(ann["keypoints"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return None
    if arr.ndim == 1 and arr.size % 3 == 0:
        return arr.size // 3
    return arr.shape[0] if arr.ndim == 2 and arr.shape[1] == 3 else None


def _has(mapping: Mapping, key: Any) -> bool:
    """``key in mapping``, False for unhashable keys (a malformed record's id)."""
    try:
        return key in mapping
    except TypeError:
        return False


def _layout(categories, annotations, skeleton, skeleton_name, log, name) -> tuple[Skeleton | None, bool]:
    """(skeleton, assemble COCO-WholeBody parts?) for the selected annotations; None when K is unknowable."""
    has_parts = any(isinstance(a, Mapping) and all(p in a for p, _ in _WHOLEBODY_PARTS) for a in annotations)
    if skeleton is not None:
        if not isinstance(skeleton, Skeleton):
            raise TypeError(f"skeleton must be a posekit Skeleton or None, got {type(skeleton).__name__}")
        return skeleton, has_parts and skeleton.num_keypoints == 133
    if has_parts:
        log.notes.append("COCO-WholeBody part keypoints found: assembled into coco_wholebody133")
        return sk.coco_wholebody133, True
    lists = {tuple(_norm(n) for n in (c.get("keypoints") or [])) for c in categories.values()}
    if len(lists) > 1:
        raise ValueError(f"{name}: the categories {sorted(categories)} have different keypoint lists; "
                         "choose some with category_ids=...")
    names = lists.pop()
    category = next(iter(categories.values()))
    counts = Counter(c for c in (_count(a) for a in annotations) if c)
    k = counts.most_common(1)[0][0] if counts else len(names)
    if len(names) > k and k:
        log.notes.append(f"categories name {len(names)} keypoints but annotations hold {k}: the first {k} names used")
        names = names[:k]
    elif names and len(names) != k:
        log.notes.append(f"categories name {len(names)} keypoints but annotations hold {k}: names ignored")
        names = ()
    if names:
        for table in _NAMED_TABLES:
            if names == table.keypoints:
                return table, False
        if names == _MMPOSE_HAND_NAMES:
            return sk.hand21, False
    elif k in _BY_COUNT:
        log.notes.append(f"no keypoint names: {k} keypoints read as {_BY_COUNT[k].name}")
        return _BY_COUNT[k], False
    if k == 0:
        return None, False
    generic = skeleton_from_category({**category, "keypoints": list(names)}, num_keypoints=k, name=skeleton_name)
    if category.get("skeleton") and not generic.links:
        log.notes.append("the category's 'skeleton' links do not fit its keypoints and were dropped")
    log.notes.append(f"no posekit table matches; generic skeleton {generic.name!r} with {k} keypoints")
    return generic, False


# ---------------------------------------------------------------------------------------------- records


def _triples(value: Any, k: int) -> np.ndarray | str:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return "bad_value"
    if arr.ndim == 1 and arr.size == 3 * k:
        return arr.reshape(k, 3)
    if arr.shape == (k, 3):
        return arr.copy()
    return "bad_shape"


def _keypoints(index, ann, k, wholebody, categories, images, log) -> np.ndarray | None:
    """(K, 3) x, y, flag of one annotation, or None after logging why it is skipped."""
    if not isinstance(ann, Mapping):
        log.skip(index, "bad_value", f"annotations[{index}] must be an object, got {type(ann).__name__}")
        return None
    rid = ann.get("id")
    missing = [key for key in ("image_id", "category_id", "keypoints") if key not in ann]
    if missing:
        log.skip(index, "missing_key", f"annotations[{index}] lacks the key(s) {missing}", rid)
        return None
    if not _has(categories, ann["category_id"]):
        log.skip(index, "bad_value",
                 f"annotations[{index}]['category_id'] = {ann['category_id']!r} is not a category", rid)
        return None
    if not _has(images, ann["image_id"]):
        log.skip(index, "unknown_image",
                 f"annotations[{index}]['image_id'] = {ann['image_id']!r} is not in 'images'", rid)
        return None
    parts = [("keypoints", 17 if wholebody else k)] + (list(_WHOLEBODY_PARTS) if wholebody else [])
    blocks = []
    for key, n in parts:
        if key not in ann:
            log.skip(index, "missing_key", f"annotations[{index}] lacks the key {key!r}", rid)
            return None
        block = _triples(ann[key], n)
        if isinstance(block, str):
            got = np.shape(ann[key]) if block == "bad_shape" else type(ann[key]).__name__
            what = f"3 x {n} = {3 * n} numbers or ({n}, 3)" if block == "bad_shape" else "numbers"
            log.skip(index, block, f"annotations[{index}][{key!r}] must hold {what}, got {got}", rid)
            return None
        blocks.append(block)
    triples = np.concatenate(blocks)
    if np.isinf(triples).any():
        log.skip(index, "bad_value", f"annotations[{index}]['keypoints'] holds infinite values", rid)
        return None
    return triples


def _box(value: Any) -> np.ndarray | None | str:
    try:
        b = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return "bad"
    if b.shape != (4,) or not np.isfinite(b).all() or b[2] < 0 or b[3] < 0:
        return "bad"
    return np.array([b[0], b[1], b[0] + b[2], b[1] + b[3]])


def _sample(index, ann, triples, skeleton, image, root, check_images, exists, min_keypoints, occlusion_flags,
            wholebody, annotation_keys, image_keys, log) -> PoseSample | None:
    rid = ann.get("id")
    flags = np.nan_to_num(triples[:, 2], nan=0.0)
    labelled = (flags > 0) & np.isfinite(triples[:, :2]).all(axis=1)
    if labelled.sum() < min_keypoints:
        count = int(labelled.sum())
        log.skip(index, "too_few_keypoints",
                 f"annotations[{index}] has {count} labelled keypoints (min_keypoints={min_keypoints})", rid)
        return None
    box = None
    if ann.get("bbox") is not None:
        box = _box(ann["bbox"])
        if isinstance(box, str):
            log.skip(index, "bad_value", f"annotations[{index}]['bbox'] must be [x, y, w, h] with w, h >= 0, "
                     f"got {ann['bbox']!r}", rid)
            return None
    path = None
    if root is not None:
        if "file_name" not in image:
            log.skip(index, "missing_key", f"image {ann['image_id']!r} of annotations[{index}] lacks 'file_name'", rid)
            return None
        path = root / str(image["file_name"])
        if check_images:
            if ann["image_id"] not in exists:
                exists[ann["image_id"]] = path.is_file()
            if not exists[ann["image_id"]]:
                log.skip(index, "missing_image", f"image file of annotations[{index}] not found: {str(path)!r}", rid)
                return None
    kpts = np.where(labelled[:, None], triples[:, :2], np.nan)
    visible = (flags >= 2) & labelled if occlusion_flags else labelled
    meta: dict[str, Any] = {"annotation_id": rid, "category_id": ann["category_id"], "flags": flags.astype(np.float32)}
    for key in ("area", "iscrowd", "num_keypoints"):
        if key in ann:
            meta[key] = ann[key]
    if "width" in image and "height" in image:
        meta["image_size"] = (image["width"], image["height"])
    if wholebody:
        for key in _WHOLEBODY_BOXES:
            part = _box(ann.get(key)) if ann.get(key) is not None else None
            if part is not None and not isinstance(part, str):
                meta[key] = part.astype(np.float32)
    meta.update({key: ann[key] for key in annotation_keys if key in ann})
    meta.update({key: image[key] for key in image_keys if key in image})
    return PoseSample(path, kpts, visible.astype(np.float32), box, skeleton, ann["image_id"], meta)
