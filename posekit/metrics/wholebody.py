"""COCO-WholeBody keypoint AP/AR per part through pycocotools, and MMPose's ``CocoWholeBodyMetric`` pipeline.

MMPose 1.3.2's ``CocoWholeBodyMetric`` runs xtcocotools' ``COCOeval`` six times on one results file, with the
iouTypes ``keypoints_body``, ``_foot``, ``_face``, ``_lefthand``, ``_righthand`` and ``_wholebody`` and the slice
of the 133 COCO-WholeBody sigmas of each part. Every run is plain COCO keypoint evaluation of one keypoint subset,
so :func:`coco_wholebody_eval` gives pycocotools' ``COCOeval(iouType='keypoints')`` per-part copies of the inputs
(the evaluation itself is never re-implemented; the copies are prepared with :mod:`posekit.metrics.coco`'s GT
preparation, so its xtcocotools notes hold here too). What xtcocotools does per part, and posekit reproduces:

* **GT keypoints** of a part: ``keypoints`` (body 0-16), ``foot_kpts`` (17-22), ``face_kpts`` (23-90),
  ``lefthand_kpts`` (91-111), ``righthand_kpts`` (112-132), or their concatenation (``wholebody``). The
  ``*_valid`` / ``*_box`` fields are not read.
* **GT ignore** per part: a GT with no visible (``v > 0``) keypoint *in that part* (or a crowd) is ignored in that
  part's evaluation only (e.g. a person with no labelled left hand does not count in ``left_hand``).
* **GT area** is the person's ``area`` (``0.53 * w * h`` of its box where absent or ``use_area=False``) for every
  part: it scales the OKS and picks the medium / large ranges, also for hands and faces.
* **Detections** of a part are dropped when none of the part's keypoint scores is > 0; all parts use the result's
  ``score`` (MMPose writes no per-part scores).
* **Detection area** (whether an unmatched detection is ignored in an area range) is the extent of the result's
  **body** keypoints (17, ``0, 0`` triples included) for every part, as xtcocotools' ``loadRes`` computes it from
  the ``keypoints`` field. A result's ``bbox`` is ignored (MMPose's whole-body results have none).
* **Sigmas** are MMPose's, as float32 (MMPose's dataset meta stores them so; posekit passes the same float32 array
  to pycocotools, so the OKS are bit-identical).

:func:`coco_wholebody_metric` is ``CocoWholeBodyMetric`` end to end: :func:`posekit.metrics.coco.coco_keypoint_results`
(sort / de-duplicate by id, rescore, OKS-NMS with the 133 sigmas), the split results of ``results2json``, an
optional atomic write of that file, then :func:`coco_wholebody_eval`. MMPose's metric returns only the
``wholebody`` stats (it prints the other parts); posekit returns all six.

Coordinates are image pixels, x right, y down; areas are px^2.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posekit.io.coco import read_coco_results, write_coco_results
from posekit.metrics.coco import (
    KeypointPredictions,
    _load_gt,
    _prepare_gt,
    coco_keypoint_results,
    keypoint_cocoeval,
)
from posekit.skeletons import coco_wholebody133

__all__ = [
    "WHOLEBODY_FIELDS",
    "WHOLEBODY_PARTS",
    "coco_wholebody_eval",
    "coco_wholebody_metric",
    "coco_wholebody_results",
]

WHOLEBODY_FIELDS = (
    ("body", "keypoints", 0, 17), ("foot", "foot_kpts", 17, 23), ("face", "face_kpts", 23, 91),
    ("left_hand", "lefthand_kpts", 91, 112), ("right_hand", "righthand_kpts", 112, 133),
)
"""``(part, COCO-WholeBody field, first, end)``: each part's annotation / result field and its keypoint range
``[first, end)`` among the 133 (``coco_wholebody133`` order; MMPose's iouType ``keypoints_body`` ... uses
``lefthand`` / ``righthand`` for the hands)."""

WHOLEBODY_PARTS = tuple(part for part, *_ in WHOLEBODY_FIELDS) + ("wholebody",)
"""The evaluated parts, in MMPose's order; ``wholebody`` is all 133 keypoints (the stats MMPose's metric returns)."""

_K = 133
_SPLIT_FIELDS = tuple(field for _, field, *_ in WHOLEBODY_FIELDS[1:])


def _wholebody_sigmas(sigmas: Sequence[float] | np.ndarray | None) -> np.ndarray:
    sig = coco_wholebody133.sigmas_array() if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    if sig.shape != (_K,):
        raise ValueError(f"sigmas must have shape ({_K},) (one per COCO-WholeBody keypoint), got {sig.shape}")
    if not np.all(np.isfinite(sig) & (sig > 0)):
        raise ValueError("sigmas must be positive and finite")
    return sig.astype(np.float32)


# --------------------------------------------------------------------------------------------- evaluation


def coco_wholebody_eval(
    gt: str | os.PathLike | Mapping[str, Any],
    results: str | os.PathLike | Sequence[Mapping[str, Any]],
    *,
    sigmas: Sequence[float] | np.ndarray | None = None,
    use_area: bool = True,
) -> dict[str, dict[str, float]]:
    """COCO-WholeBody AP/AR of ``results`` against ``gt`` per part, as MMPose's ``CocoWholeBodyMetric`` scores a
    results file (six pycocotools ``COCOeval(iouType='keypoints')`` runs; see the module docstring).

    Args:
        gt: a COCO-WholeBody annotation file (path) or its parsed dict (not modified); every annotation needs
            ``bbox``, ``keypoints`` (17 x 3), ``foot_kpts`` (6 x 3), ``face_kpts`` (68 x 3), ``lefthand_kpts`` and
            ``righthand_kpts`` (21 x 3 each), values ``x, y, v`` in image pixels.
        results: list of result dicts (or the path of such a JSON list), each with ``image_id``, ``score``,
            optional ``category_id`` (default 1) and either MMPose's split fields (``keypoints`` = 17 x 3 body
            values plus ``foot_kpts``, ``face_kpts``, ``lefthand_kpts``, ``righthand_kpts``, as its results file)
            or ``keypoints`` = all 133 x 3 values ``x, y, score`` in ``coco_wholebody133`` order. A triple with NaN
            is a missing keypoint (``0, 0, 0``). Not modified.
        sigmas: (133,) OKS sigmas (default ``coco_wholebody133``'s = MMPose's); each part uses its slice. They are
            used as float32, as MMPose does.
        use_area: as in :func:`posekit.metrics.coco.coco_keypoint_eval`.

    Returns:
        ``{part: {stat: value}}`` for the parts of :data:`WHOLEBODY_PARTS`, each with the 10 stats of
        :data:`posekit.metrics.coco.STAT_NAMES` (floats in [0, 1]; -1 where no GT falls in a range).

    Raises:
        ValueError: a GT file without the whole-body fields or with wrong-length / non-finite keypoints, results
            with a keypoint count other than 133 (or 17 + the split fields), infinite values, or an ``image_id``
            that is not in the GT file. FileNotFoundError: a missing file.
    """
    sig = _wholebody_sigmas(sigmas)
    data, gt_kpts = _wholebody_gt(gt)
    dets = _wholebody_results(results, {image["id"] for image in data["images"]})
    keep = ("id", "image_id", "category_id", "bbox", "area", "iscrowd")
    slim = [{key: ann[key] for key in keep if key in ann} for ann in data["annotations"]]
    stats = {}
    for part, first, end in [(p, a, b) for p, _, a, b in WHOLEBODY_FIELDS] + [("wholebody", 0, _K)]:
        part_data = dict(data, annotations=[
            dict(ann, keypoints=kpts[first:end].reshape(-1).tolist()) for ann, kpts in zip(slim, gt_kpts)
        ])
        part_data = _prepare_gt(part_data, use_area=use_area)  # area, num_keypoints (-> ignore), iscrowd
        part_dets = [
            {"image_id": image_id, "category_id": category_id, "keypoints": kpts[first:end].reshape(-1).tolist(),
             "score": score, "area": area}
            for image_id, category_id, kpts, score, area in dets
            if np.any(kpts[first:end, 2] > 0)  # xtcocotools drops detections without a positive part score
        ]
        stats[part] = keypoint_cocoeval(part_data, part_dets, sig[first:end])
    return stats


def _wholebody_gt(gt: str | os.PathLike | Mapping[str, Any]) -> tuple[dict[str, Any], list[np.ndarray]]:
    """(a copy of the GT dict, per annotation its (133, 3) float64 keypoints x, y, v)."""
    data, where = _load_gt(gt, "COCO-WholeBody")
    kpts_per_ann = []
    for i, ann in enumerate(data["annotations"]):
        missing = [field for _, field, *_ in WHOLEBODY_FIELDS if field not in ann]
        if missing:
            raise ValueError(
                f"{where}: annotations[{i}] lacks {missing}; a COCO-WholeBody annotation needs 'keypoints' (17 x 3), "
                "'foot_kpts' (6 x 3), 'face_kpts' (68 x 3), 'lefthand_kpts' and 'righthand_kpts' (21 x 3 each)"
            )
        parts = []
        for _, field, first, end in WHOLEBODY_FIELDS:
            values = np.asarray(ann[field], dtype=np.float64).reshape(-1)
            if values.size != 3 * (end - first):
                raise ValueError(f"{where}: annotations[{i}][{field!r}] must have 3 x {end - first} = "
                                 f"{3 * (end - first)} values, got {values.size}")
            if not np.all(np.isfinite(values)):
                raise ValueError(f"{where}: annotations[{i}][{field!r}] holds NaN or infinite values")
            parts.append(values.reshape(-1, 3))
        kpts_per_ann.append(np.concatenate(parts))
    return data, kpts_per_ann


def _wholebody_results(
    results: str | os.PathLike | Sequence[Mapping[str, Any]], image_ids: set
) -> list[tuple[Any, int, np.ndarray, float, float]]:
    """Per result: (image_id, category_id, (133, 3) keypoints with NaN triples zeroed, score, body-extent area)."""
    if isinstance(results, (str, os.PathLike)):
        where = f"results file {str(results)!r}: record"
        results = read_coco_results(results)
    elif isinstance(results, Mapping) or not isinstance(results, Iterable):
        raise TypeError(f"results must be a list of COCO-WholeBody result dicts or a path, got {type(results).__name__}")
    else:
        where = "results"
    out = []
    for i, rec in enumerate(results):
        name = f"{where}[{i}]"
        if not isinstance(rec, Mapping):
            raise TypeError(f"{name} must be a dict, got {type(rec).__name__}")
        missing = [key for key in ("image_id", "keypoints", "score") if key not in rec]
        if missing:
            raise ValueError(f"{name} lacks the key(s) {missing}")
        split = [field for field in _SPLIT_FIELDS if field in rec]
        if split and len(split) != len(_SPLIT_FIELDS):
            raise ValueError(f"{name} has {split} but not {sorted(set(_SPLIT_FIELDS) - set(split))}: give all "
                             "the split whole-body fields, or all 133 keypoints in 'keypoints'")
        if split:
            kpts = np.concatenate([_triples(rec[field], end - first, f"{name}[{field!r}]")
                                   for _, field, first, end in WHOLEBODY_FIELDS])
        else:
            kpts = _triples(rec["keypoints"], _K, f"{name}['keypoints']", hint=(
                " (or 17 x 3 = 51 body values with 'foot_kpts', 'face_kpts', 'lefthand_kpts', 'righthand_kpts')"))
        if rec["image_id"] not in image_ids:
            raise ValueError(f"{name}['image_id'] = {rec['image_id']!r} is not an image of the GT file")
        score = float(rec["score"])
        if not np.isfinite(score):
            raise ValueError(f"{name}['score'] must be finite, got {score}")
        body = kpts[:17, :2]  # xtcocotools' loadRes: area of the extent of the 'keypoints' (body) field
        area = float((body[:, 0].max() - body[:, 0].min()) * (body[:, 1].max() - body[:, 1].min()))
        out.append((rec["image_id"], int(rec.get("category_id", 1)), kpts, score, area))
    return out


def _triples(value: Any, k: int, name: str, hint: str = "") -> np.ndarray:
    """(k, 3) float64 triples from a flat list of 3k numbers; NaN triples -> 0, 0, 0; inf -> ValueError."""
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a flat list of numbers") from None
    if arr.size != 3 * k:
        raise ValueError(f"{name} must have 3 x {k} = {3 * k} values{hint}, got {arr.size}")
    arr = arr.reshape(k, 3)
    if np.isinf(arr).any():
        raise ValueError(f"{name} holds infinite values (keypoint {int(np.isinf(arr).any(1).argmax())})")
    return np.where(np.isnan(arr).any(axis=1, keepdims=True), 0.0, arr)


# ---------------------------------------------------------------------------------- MMPose CocoWholeBodyMetric


def coco_wholebody_results(
    predictions: KeypointPredictions,
    *,
    sigmas: Sequence[float] | np.ndarray | None = None,
    score_mode: str = "bbox_keypoint",
    keypoint_score_thr: float = 0.2,
    nms_mode: str = "oks_nms",
    nms_threshold: float = 0.9,
) -> list[dict[str, Any]]:
    """The results list MMPose's ``CocoWholeBodyMetric`` writes for ``predictions`` (K = 133).

    Rescoring and NMS are :func:`posekit.metrics.coco.coco_keypoint_results`'s with the whole-body sigmas
    (default ``coco_wholebody133``'s); each result is then split as MMPose's ``results2json`` does.

    Returns:
        list of dicts ``{"image_id", "category_id": 1, "keypoints": 17 x 3 body values, "foot_kpts": 6 x 3,
        "face_kpts": 68 x 3, "lefthand_kpts": 21 x 3, "righthand_kpts": 21 x 3, "score"}`` (x, y, score;
        float32 values; NaN keypoints written as ``0, 0, 0``).

    Raises:
        ValueError: predictions without 133 keypoints, or with NaN / infinite keypoint or box scores.
    """
    if not isinstance(predictions, KeypointPredictions):
        raise TypeError(f"predictions must be KeypointPredictions, got {type(predictions).__name__}")
    k = predictions.keypoints.shape[1]
    if k != _K:
        raise ValueError(f"COCO-WholeBody predictions need {_K} keypoints per instance (coco_wholebody133), got {k}")
    for name in ("keypoint_scores", "bbox_scores"):
        bad = ~np.isfinite(getattr(predictions, name))
        if bad.any():
            raise ValueError(f"predictions.{name} holds NaN or infinite values (instance "
                             f"{int(np.argwhere(bad)[0][0])}); a missing keypoint is a NaN coordinate, not score")
    flat = coco_keypoint_results(
        predictions, sigmas=_wholebody_sigmas(sigmas), score_mode=score_mode, keypoint_score_thr=keypoint_score_thr,
        nms_mode=nms_mode, nms_threshold=nms_threshold, category_id=1,
    )
    out = []
    for rec in flat:
        split = {field: rec["keypoints"][3 * first:3 * end] for _, field, first, end in WHOLEBODY_FIELDS}
        out.append({"image_id": rec["image_id"], "category_id": rec["category_id"], **split, "score": rec["score"]})
    return out


def coco_wholebody_metric(
    gt: str | os.PathLike | Mapping[str, Any],
    predictions: KeypointPredictions,
    *,
    sigmas: Sequence[float] | np.ndarray | None = None,
    score_mode: str = "bbox_keypoint",
    keypoint_score_thr: float = 0.2,
    nms_mode: str = "oks_nms",
    nms_threshold: float = 0.9,
    use_area: bool = True,
    results_file: str | os.PathLike | None = None,
) -> dict[str, dict[str, float]]:
    """MMPose 1.3.2 ``CocoWholeBodyMetric`` end to end: :func:`coco_wholebody_results`, then (when
    ``results_file`` is given) an atomic write of that list as JSON, then :func:`coco_wholebody_eval`.

    Defaults are the metric's (``score_mode="bbox_keypoint"``, ``keypoint_score_thr=0.2``,
    ``nms_mode="oks_nms"``, ``nms_threshold=0.9``, ``use_area=True``, sigmas ``coco_wholebody133``'s).

    Returns:
        ``{part: {stat: value}}`` for :data:`WHOLEBODY_PARTS`; ``["wholebody"]`` is what MMPose's metric returns.
    """
    results = coco_wholebody_results(
        predictions, sigmas=sigmas, score_mode=score_mode, keypoint_score_thr=keypoint_score_thr,
        nms_mode=nms_mode, nms_threshold=nms_threshold,
    )
    if results_file is not None:
        write_coco_results(Path(results_file), results)
    return coco_wholebody_eval(gt, results, sigmas=sigmas, use_area=use_area)
