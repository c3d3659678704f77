"""COCO keypoint AP/AR through pycocotools' ``COCOeval``, and MMPose's ``CocoMetric`` pipeline in front of it.

:func:`coco_keypoint_eval` scores COCO keypoint results against a COCO ground-truth file with pycocotools (the
evaluation itself is never re-implemented). It reproduces what MMPose gets from xtcocotools, which differs from
plain pycocotools only where the input is unusual; posekit prepares copies of the inputs so both agree:

* **GT without ``area``** (e.g. ``person_keypoints_val2017_reconstructed.json``, CrowdPose, AIC): the area is
  ``0.53 * w * h`` of the GT box, the fallback of xtcocotools' ``COCOeval`` (and of MMPose's COCO-style datasets,
  which also clip the box to the image and the area to >= 1). 0.53 is the mean ratio of COCO person segmentation
  area to box area. With ``use_area=False`` every GT area is replaced by ``0.53 * w * h`` (xtcocotools'
  ``use_area=False``). The area scales the OKS and selects the medium / large ranges of ``AP (M)`` / ``AP (L)``.
* GT ``num_keypoints`` is recounted from the visibility flags and ``iscrowd`` defaults to 0 (xtcocotools reads
  the keypoints; pycocotools needs the fields).
* Results whose keypoint scores are all <= 0 are dropped (xtcocotools skips them; pycocotools would count them).
* A result's ``bbox`` is ignored: the detection area (which only decides whether an unmatched detection is ignored
  in an area range) is the extent of its keypoints, as for MMPose's results files. pycocotools would use the box.

:func:`coco_metric` reproduces MMPose 1.3.2's ``CocoMetric``: per-instance top-down predictions are grouped by
image, de-duplicated by instance id, rescored (``score_mode``), filtered by per-image OKS-NMS (``nms_mode``),
optionally written as a results JSON (atomic write) and evaluated with :func:`coco_keypoint_eval`.

Coordinates are image pixels, x right, y down; areas are px^2.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posekit.io.coco import load_coco_annotations, read_coco_results, write_coco_results
from posekit.postprocess import SCORE_MODES, oks_nms, rescore_instances, soft_oks_nms
from posekit.skeletons import coco17

__all__ = [
    "STAT_NAMES", "GT_AREA_FACTOR", "KeypointPredictions", "coco_keypoint_eval", "coco_keypoint_results",
    "coco_metric", "keypoint_cocoeval",
]

STAT_NAMES = ("AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)")
"""Names of ``COCOeval.stats`` for keypoints (maxDets 20), as MMPose's CocoMetric reports them."""

GT_AREA_FACTOR = 0.53
"""GT area = ``GT_AREA_FACTOR * w * h`` of the GT box when the annotation has no ``area`` (xtcocotools)."""

_NMS_MODES = ("oks_nms", "soft_oks_nms", "none")


def _coco17_sigmas() -> np.ndarray:
    return coco17.sigmas_array()


# --------------------------------------------------------------------------------------------- evaluation


def coco_keypoint_eval(
    gt: str | os.PathLike | Mapping[str, Any],
    results: str | os.PathLike | Sequence[Mapping[str, Any]],
    *,
    sigmas: Sequence[float] | np.ndarray | None = None,
    use_area: bool = True,
) -> dict[str, float]:
    """COCO keypoint AP/AR of ``results`` against ``gt`` with pycocotools' ``COCOeval(iouType='keypoints')``.

    Args:
        gt: a COCO keypoint annotation file (path) or its parsed dict (not modified).
        results: COCO keypoint results (list of dicts with ``image_id``, ``category_id``, ``keypoints`` = 3K floats
            ``x, y, score`` in image pixels, ``score``) or the path of such a JSON file. Not modified.
        sigmas: (K,) per-keypoint OKS sigmas set on ``params.kpt_oks_sigmas`` (e.g. ``skeleton.sigmas_array()``);
            default: COCO's 17. K must match the GT category's keypoints.
        use_area: ``True``: OKS scale and area ranges use the GT ``area`` (``0.53 * w * h`` of the box where it is
            missing). ``False``: always ``0.53 * w * h`` (xtcocotools' ``use_area=False``, e.g. CrowdPose).

    Returns:
        dict with the 10 stats named as in :data:`STAT_NAMES` (floats in [0, 1]; -1 where no GT falls in a range).

    Raises:
        ValueError: bad sigmas, a GT annotation without ``bbox``, keypoint lists of the wrong length, results for
            images not in the GT file. FileNotFoundError: a missing file.
    """
    data = _prepare_gt(gt, use_area=use_area)
    k = _num_keypoints(data)
    sig = _check_sigmas(sigmas, k)
    dets = _prepare_results(results, k, {image["id"] for image in data["images"]})
    for det in dets:  # what COCO.loadRes sets for keypoint results: the area of the keypoints' extent
        x, y = det["keypoints"][0::3], det["keypoints"][1::3]
        det["area"] = (max(x) - min(x)) * (max(y) - min(y))
    return keypoint_cocoeval(data, dets, sig)


def keypoint_cocoeval(data: Mapping[str, Any], dets: Sequence[Mapping[str, Any]],
                      sigmas: np.ndarray) -> dict[str, float]:
    """The 10 stats of pycocotools' ``COCOeval(iouType='keypoints')`` of ``dets`` against ``data``.

    ``data``: a prepared COCO GT dict (``area``, ``num_keypoints``, ``iscrowd`` set, as :func:`coco_keypoint_eval`
    prepares it); ``dets``: result dicts with ``image_id``, ``category_id``, ``keypoints``, ``score`` and their own
    ``area`` (what ``COCO.loadRes`` would compute from the keypoints; the COCO-WholeBody parts take it from the body
    keypoints); ``sigmas``: (K,) OKS sigmas. Neither is modified.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = data
        coco_gt.createIndex()
        coco_dt = COCO()  # what COCO.loadRes builds, with the detection areas given
        coco_dt.dataset = {"images": list(data["images"]), "categories": copy.deepcopy(data["categories"]),
                           "annotations": [dict(det, id=i + 1) for i, det in enumerate(dets)]}
        coco_dt.createIndex()
        evaluator = COCOeval(coco_gt, coco_dt, "keypoints")
        evaluator.params.kpt_oks_sigmas = sigmas
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: float(value) for name, value in zip(STAT_NAMES, evaluator.stats)}


def _load_gt(gt: str | os.PathLike | Mapping[str, Any], what: str = "COCO") -> tuple[dict[str, Any], str]:
    """(a private copy of the GT dict: the file's content or a deep copy of ``gt``, where it came from in words).
    ``what`` names the format in messages (``"COCO"``, ``"COCO-WholeBody"``)."""
    if isinstance(gt, (str, os.PathLike)):
        return load_coco_annotations(gt), f"{what} annotation file {str(gt)!r}"
    if not isinstance(gt, Mapping):
        raise TypeError(f"gt must be a path or a {what} annotation dict, got {type(gt).__name__}")
    data = copy.deepcopy(dict(gt))
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"gt must have a list {key!r} (a {what} annotation dict); it has {sorted(data)}")
    return data, "gt"


def _prepare_gt(gt: str | os.PathLike | Mapping[str, Any], *, use_area: bool) -> dict[str, Any]:
    data, where = _load_gt(gt)
    for i, ann in enumerate(data["annotations"]):
        bbox = ann.get("bbox")
        if bbox is None or len(bbox) != 4:
            raise ValueError(f"{where}: annotations[{i}] needs a 'bbox' [x, y, w, h], got {bbox!r}")
        if "keypoints" not in ann:
            raise ValueError(f"{where}: annotations[{i}] lacks 'keypoints'")
        if not use_area or "area" not in ann:
            ann["area"] = GT_AREA_FACTOR * float(bbox[2]) * float(bbox[3])
        ann["num_keypoints"] = int(np.count_nonzero(np.asarray(ann["keypoints"], dtype=np.float64)[2::3] > 0))
        ann.setdefault("iscrowd", 0)
    return data


def _num_keypoints(data: Mapping[str, Any]) -> int:
    counts = {len(c["keypoints"]) for c in data["categories"] if c.get("keypoints")}
    counts |= {len(a["keypoints"]) // 3 for a in data["annotations"]}
    if len(counts) != 1:
        raise ValueError(f"gt must have one number of keypoints per instance, found {sorted(counts)}")
    return counts.pop()


def _check_sigmas(sigmas: Sequence[float] | np.ndarray | None, k: int) -> np.ndarray:
    sig = _coco17_sigmas() if sigmas is None else np.array(sigmas, dtype=np.float64)
    if sig.shape != (k,):
        raise ValueError(f"sigmas must have shape ({k},) (one per GT keypoint), got {sig.shape}")
    if not np.all(np.isfinite(sig) & (sig > 0)):
        raise ValueError(f"sigmas must be positive and finite, got {sig.tolist()}")
    return sig


def _prepare_results(
    results: str | os.PathLike | Sequence[Mapping[str, Any]], k: int, image_ids: set
) -> list[dict[str, Any]]:
    if isinstance(results, (str, os.PathLike)):
        results = read_coco_results(results)
    elif isinstance(results, Mapping) or not isinstance(results, Iterable):
        raise TypeError(f"results must be a list of COCO result dicts or a path, got {type(results).__name__}")
    out = []
    for i, rec in enumerate(results):
        missing = [key for key in ("image_id", "keypoints", "score") if key not in rec]
        if missing:
            raise ValueError(f"results[{i}] lacks the key(s) {missing}")
        kpts = np.asarray(rec["keypoints"], dtype=np.float64).reshape(-1)
        if kpts.size != 3 * k:
            raise ValueError(f"results[{i}]['keypoints'] must have 3 x {k} = {3 * k} values, got {kpts.size}")
        if rec["image_id"] not in image_ids:
            raise ValueError(f"results[{i}]['image_id'] = {rec['image_id']!r} is not an image of the GT file")
        kpts = np.where(np.isnan(kpts.reshape(k, 3)).any(1, keepdims=True), 0.0, kpts.reshape(k, 3)).reshape(-1)
        if not np.any(kpts[2::3] > 0):
            continue  # xtcocotools drops detections without any positive keypoint score
        out.append({
            "image_id": rec["image_id"], "category_id": int(rec.get("category_id", 1)),
            "keypoints": kpts.tolist(), "score": float(rec["score"]),
        })
    return out


# ------------------------------------------------------------------------------------------ MMPose CocoMetric


def _array(name: str, value: Any, dtype: type, shape: tuple[int | None, ...], layout: str) -> np.ndarray:
    arr = np.array(value, dtype=dtype, copy=True)
    if arr.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, arr.shape)):
        raise ValueError(f"{name} must have shape {layout}, got {arr.shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class KeypointPredictions:
    """N top-down pose predictions (one per detected box) over a dataset, as MMPose's CocoMetric receives them.

    Attributes:
        image_ids: (N,) int64 COCO image ids.
        keypoints: (N, K, 2) float32 image pixels (x right, y down); NaN = missing (written as ``0, 0, 0``).
        keypoint_scores: (N, K) float32.
        bbox_scores: (N,) float32 detection scores (default 1).
        areas: (N,) float32 px^2 instance areas used by OKS-NMS; MMPose uses ``prod(bbox_scales)`` (the padded,
            aspect-fixed crop size). ``None``: MMPose's fallback, the area of the keypoints' bounding box.
        instance_ids: (N,) int64 ids; within an image MMPose sorts by id and keeps the first of equal ids.
            ``None``: ``0..N-1`` (input order, no duplicates).
    """

    image_ids: np.ndarray
    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    bbox_scores: np.ndarray | None = None
    areas: np.ndarray | None = None
    instance_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        kpts = _array("keypoints", self.keypoints, np.float32, (None, None, 2), "(N, K, 2)")
        n, k = kpts.shape[:2]
        set_ = object.__setattr__
        set_(self, "keypoints", kpts)
        set_(self, "image_ids", _array("image_ids", self.image_ids, np.int64, (n,), f"({n},)"))
        set_(self, "keypoint_scores",
             _array("keypoint_scores", self.keypoint_scores, np.float32, (n, k), f"({n}, {k})"))
        bbox_scores = np.ones(n, np.float32) if self.bbox_scores is None else self.bbox_scores
        set_(self, "bbox_scores", _array("bbox_scores", bbox_scores, np.float32, (n,), f"({n},)"))
        if self.areas is not None:
            areas = _array("areas", self.areas, np.float32, (n,), f"({n},)")
            if not np.all(np.isfinite(areas) & (areas >= 0)):
                raise ValueError("areas must be finite and non-negative")
            set_(self, "areas", areas)
        ids = np.arange(n) if self.instance_ids is None else self.instance_ids
        set_(self, "instance_ids", _array("instance_ids", ids, np.int64, (n,), f"({n},)"))

    def __len__(self) -> int:
        return len(self.keypoints)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> KeypointPredictions:
        """From MMPose-style per-instance dicts: ``img_id`` (or ``image_id``), ``keypoints`` (K, 2),
        ``keypoint_scores`` (K,), optional ``bbox_score``, ``id`` and ``area`` (px^2) or ``bbox_scales`` (w, h)
        (area = their float32 product, as CocoMetric). Either every record has an area source or none has."""
        records = list(records)
        if not records:
            raise ValueError("records is empty")
        areas = []
        for i, rec in enumerate(records):
            if ("img_id" not in rec and "image_id" not in rec) or not {"keypoints", "keypoint_scores"} <= set(rec):
                raise ValueError(f"records[{i}] needs 'img_id' (or 'image_id'), 'keypoints' and 'keypoint_scores'")
            if "area" in rec:
                areas.append(np.float32(rec["area"]))
            elif "bbox_scales" in rec:
                areas.append(np.prod(np.asarray(rec["bbox_scales"], dtype=np.float32)))
        if areas and len(areas) != len(records):
            raise ValueError("either every record or none has an 'area' or 'bbox_scales'")
        return cls(
            image_ids=[rec.get("img_id", rec.get("image_id")) for rec in records],
            keypoints=[rec["keypoints"] for rec in records],
            keypoint_scores=[rec["keypoint_scores"] for rec in records],
            bbox_scores=[rec.get("bbox_score", 1.0) for rec in records], areas=areas or None,
            instance_ids=[rec.get("id", i) for i, rec in enumerate(records)],
        )

    @classmethod
    def from_poses(cls, items: Iterable[tuple[int, Any]]) -> KeypointPredictions:
        """From ``(image_id, posekit.Poses)`` pairs; NMS areas are the boxes' ``w * h`` (MMPose uses the padded
        crop size instead: build the object directly with ``areas`` to match that)."""
        ids, kpts, scores, box_scores, areas = [], [], [], [], []
        k = None
        for image_id, poses in items:
            k = poses.skeleton.num_keypoints if k is None else k
            if poses.skeleton.num_keypoints != k:
                raise ValueError(f"all poses must have K={k} keypoints, got {poses.skeleton.num_keypoints}")
            ids += [int(image_id)] * len(poses)
            kpts.append(poses.keypoints)
            scores.append(poses.scores)
            box_scores.append(poses.box_scores)
            wh = poses.boxes[:, 2:] - poses.boxes[:, :2]
            areas.append(wh[:, 0] * wh[:, 1])
        if k is None:
            raise ValueError("items is empty")
        return cls(image_ids=np.asarray(ids, np.int64), keypoints=np.concatenate(kpts),
                   keypoint_scores=np.concatenate(scores), bbox_scores=np.concatenate(box_scores),
                   areas=np.concatenate(areas))


def coco_keypoint_results(
    predictions: KeypointPredictions,
    *,
    sigmas: Sequence[float] | np.ndarray | None = None,
    score_mode: str = "bbox_keypoint",
    keypoint_score_thr: float = 0.2,
    nms_mode: str = "oks_nms",
    nms_threshold: float = 0.9,
    category_id: int = 1,
) -> list[dict[str, Any]]:
    """The COCO results list MMPose's CocoMetric writes for ``predictions`` (its ``format_only`` output).

    Per image (in order of first appearance): instances sorted by id (stable; the first of equal ids kept),
    rescored by :func:`rescore_instances`, then ``nms_mode`` ``"oks_nms"`` (:func:`posekit.postprocess.oks_nms`)
    or ``"soft_oks_nms"`` (:func:`posekit.postprocess.soft_oks_nms`, max 20 per image; like MMPose the original,
    not the decayed, scores are written) with ``nms_threshold`` and ``sigmas`` (default COCO's), or ``"none"``.

    Returns:
        list of dicts ``{"image_id", "category_id", "keypoints": 3K floats (x, y, score; float32 values),
        "score": float}``; kept instances in NMS order (by id for ``"none"``).
    """
    if nms_mode not in _NMS_MODES:
        raise ValueError(f"nms_mode must be one of {_NMS_MODES}, got {nms_mode!r}")
    if not isinstance(predictions, KeypointPredictions):
        raise TypeError(f"predictions must be KeypointPredictions, got {type(predictions).__name__}")
    p = predictions
    k = p.keypoints.shape[1]
    sig = _check_sigmas(sigmas, k)
    scores = rescore_instances(p.keypoint_scores, p.bbox_scores, score_mode=score_mode,
                               keypoint_score_thr=keypoint_score_thr)
    areas = p.areas if p.areas is not None else _keypoint_extent_areas(p.keypoints)
    _, first = np.unique(p.image_ids, return_index=True)
    out: list[dict[str, Any]] = []
    for image_id in p.image_ids[np.sort(first)]:
        members = np.flatnonzero(p.image_ids == image_id)
        members = members[np.argsort(p.instance_ids[members], kind="stable")]
        ids = p.instance_ids[members]
        members = members[np.concatenate([[True], ids[1:] != ids[:-1]])]
        if nms_mode == "oks_nms":
            members = members[oks_nms(p.keypoints[members], scores[members], areas[members], sig,
                                      threshold=nms_threshold)]
        elif nms_mode == "soft_oks_nms":
            keep, _ = soft_oks_nms(p.keypoints[members], scores[members], areas[members], sig,
                                   threshold=nms_threshold)
            members = members[keep]
        for i in members:
            triples = np.concatenate([p.keypoints[i], p.keypoint_scores[i][:, None]], axis=1)
            triples[~np.isfinite(p.keypoints[i]).all(axis=1)] = 0.0
            out.append({"image_id": int(image_id), "category_id": int(category_id),
                        "keypoints": triples.reshape(-1).tolist(), "score": float(scores[i])})
    return out


def _keypoint_extent_areas(keypoints: np.ndarray) -> np.ndarray:
    """(N,) float32 area of each pose's keypoint bounding box (MMPose's fallback; NaN keypoints skipped)."""
    finite = np.isfinite(keypoints).all(axis=2, keepdims=True)
    lo = np.where(finite, keypoints, np.inf).min(axis=1)
    hi = np.where(finite, keypoints, -np.inf).max(axis=1)
    wh = np.where(np.isfinite(hi - lo), hi - lo, 0).astype(np.float32)
    return (wh[:, 0] * wh[:, 1]).astype(np.float32)


def coco_metric(
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
) -> dict[str, float]:
    """MMPose 1.3.2 ``CocoMetric`` end to end: :func:`coco_keypoint_results`, then (when ``results_file`` is
    given) an atomic write of that list as JSON, then :func:`coco_keypoint_eval`.

    Defaults are CocoMetric's (``score_mode="bbox_keypoint"``, ``keypoint_score_thr=0.2``, ``nms_mode="oks_nms"``,
    ``nms_threshold=0.9``, ``use_area=True``); ``sigmas`` default to COCO's 17.

    Returns:
        dict of the 10 stats (:data:`STAT_NAMES`).
    """
    results = coco_keypoint_results(
        predictions, sigmas=sigmas, score_mode=score_mode, keypoint_score_thr=keypoint_score_thr,
        nms_mode=nms_mode, nms_threshold=nms_threshold,
    )
    if results_file is not None:
        write_coco_results(Path(results_file), results)
    return coco_keypoint_eval(gt, results, sigmas=sigmas, use_area=use_area)
