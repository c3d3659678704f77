"""Scoring step of ``posekit eval`` (see :mod:`posekit.eval`): predictions file records -> metrics dict, and the
printed table. Coordinates are image pixels, x right, y down, origin at the top-left pixel's corner."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from posekit.boxes import box_iou
from posekit.data.sample import PoseSample, box_from_keypoints
from posekit.io.coco import write_coco_results
from posekit.metrics.coco import (
    KeypointPredictions,
    coco_keypoint_eval,
    coco_keypoint_results,
)
from posekit.metrics.pck import bbox_size, mpii_pckh, pck, torso_size
from posekit.metrics.wholebody import (
    WHOLEBODY_FIELDS,
    WHOLEBODY_PARTS,
    coco_wholebody_eval,
    coco_wholebody_metric,
)
from posekit.skeletons import (
    KeypointMapping,
    Skeleton,
    coco17,
    coco_wholebody133,
    mapping,
)

__all__ = ["MATCH_IOU", "PCK_THRESHOLD", "format_table", "score_predictions", "skeleton_mapping"]

PCK_THRESHOLD = 0.2
MATCH_IOU = 0.3
COCO_FORMAT = ("coco", "posetrack18")
"""Evaluation sets with COCO-format annotations: annotated GT boxes and COCO keypoint AP (pycocotools)."""
_STRUCTURAL = ("missing_key", "bad_shape", "bad_value")


def skeleton_mapping(source: Skeleton, target: Skeleton) -> tuple[KeypointMapping, str]:
    """The explicit mapping ``source -> target`` and its route: the direct one, else composed through ``coco17``,
    else the inverse of a one-to-one ``target -> source`` mapping (e.g. ``coco17`` or ``blazepose33`` models on
    ``coco_wholebody133``: the inverse of ``COCO_WHOLEBODY133_TO_COCO17`` / ``_TO_BLAZEPOSE33``), else through
    ``coco17`` and such an inverse (``lsp14 -> coco17 -> coco_wholebody133``).

    Raises ``ValueError`` naming both skeletons when none exists."""
    s, t, c = source.name, target.name, coco17.name
    routes = ((lambda: mapping(source, target), f"{s} -> {t}"),
              (lambda: mapping(source, coco17).then(mapping(coco17, target)), f"{s} -> {c} -> {t}"),
              (lambda: _inverse(mapping(target, source)), f"{s} -> {t} (inverse of {t} -> {s})"),
              (lambda: mapping(source, coco17).then(_inverse(mapping(target, coco17))),
               f"{s} -> {c} -> {t} (inverse of {t} -> {c})"))
    for k, (build, route) in enumerate(routes):
        try:
            return build(), route
        except ValueError as exc:
            if k == 0 and "is ambiguous" in str(exc):  # coco_wholebody133 -> hand21: which hand is the caller's call
                raise
    raise ValueError(f"no keypoint mapping from the model's skeleton {s!r} to the dataset's {t!r} (not directly, "
                     f"not through coco17, not as the inverse of a one-to-one {t} -> {s} mapping); see "
                     "posekit.skeletons")


def _inverse(m: KeypointMapping) -> KeypointMapping:
    """``m`` reversed (``target -> source``); ``ValueError`` unless every source index occurs once."""
    return KeypointMapping(m.target, m.source, tuple(sorted(((d, s_) for s_, d in m.pairs), key=lambda p: p[1])))


def _int_id(sample: PoseSample, fallback: int) -> int:
    """COCO image id for the results file: the int id, else the number ending a string id (``im1001`` -> 1001)."""
    if isinstance(sample.image_id, (int, np.integer)):
        return int(sample.image_id)
    found = re.search(r"(\d+)$", str(sample.image_id or ""))
    return int(found.group(1)) if found else fallback


def score_predictions(eval_set: Any, records: list[dict[str, Any]], *, model_skeleton: Skeleton,
                      results_file: str | Path | None = None) -> dict[str, Any]:
    """Metrics of the predictions ``records`` (as :func:`posekit.eval.predict.read_predictions` returns them).

    Returns a dict with ``skeleton`` (model, dataset, route, ``unmapped`` joints), ``counts`` (images and samples
    evaluated, samples without a prediction) and ``metrics``: ``pck_bbox`` and ``pck_torso`` (each ``threshold``,
    ``normalizer`` in words, ``mean`` over the mapped joints, ``per_joint`` and ``counts`` by joint name, ``None``
    for a joint with no GT or no mapping), ``mpii_pckh`` (MPII, percent) and ``coco`` (COCO-format sets: the 10
    pycocotools stats, or a ``note`` why not; COCO-WholeBody: the ``wholebody`` part's, else ``body``'s, named by
    ``part``) and, for ``coco_wholebody133`` sets, ``coco_wholebody`` (``parts``: part -> the 10 stats, ``None``
    for a part the model does not predict in full; ``not_predicted``: part -> why; ``note``). Writes the COCO
    results list to ``results_file`` when given (COCO-WholeBody: MMPose's split fields ``keypoints`` (body 17),
    ``foot_kpts``, ``face_kpts``, ``lefthand_kpts``, ``righthand_kpts``).
    """
    ds, samples = eval_set.skeleton, eval_set.samples
    route_map, route = skeleton_mapping(model_skeleton, ds)
    k = ds.num_keypoints
    mapped = np.zeros(k, bool)
    mapped[[d for _, d in route_map.pairs]] = True
    pred = np.full((len(samples), k, 2), np.nan)
    evaluated = np.zeros(len(samples), bool)
    coco_items: list[tuple[int, np.ndarray, np.ndarray, float, np.ndarray, Any]] = []
    by_image = {str(p): ix for p, ix in eval_set.images}
    for rec in records:
        ix = by_image.get(rec.get("image"))
        if ix is None or "error" in rec:
            continue
        evaluated[list(ix)] = True
        insts = rec.get("instances", [])
        if not insts:
            continue
        kp, sc = route_map.apply(np.array([i["keypoints"] for i in insts], dtype=np.float64),
                                 np.array([i["scores"] for i in insts], dtype=np.float64))
        boxes = np.array([i["box"] for i in insts], dtype=np.float64).reshape(-1, 4)
        image_id = _int_id(samples[ix[0]], len(coco_items) + 1)
        for j, inst in enumerate(insts):
            owner = inst.get("sample")  # GT boxes: the GT instance, whose category the prediction takes
            category = None if owner is None else samples[int(owner)].meta.get("category_id", 1)
            coco_items.append((image_id, kp[j], sc[j], float(inst["box_score"]), boxes[j], category))
            if inst.get("sample") is not None:
                pred[int(inst["sample"])] = kp[j]
        if all(i.get("sample") is None for i in insts):  # detector / file boxes: best-IoU match per GT
            gt_boxes = np.stack([_gt_box(samples[i], eval_set.dataset) for i in ix])
            iou = box_iou(gt_boxes, boxes)
            for _ in range(min(iou.shape)):
                g, j = np.unravel_index(np.argmax(iou), iou.shape)
                if iou[g, j] < MATCH_IOU:
                    break
                pred[ix[g]] = kp[j]
                iou[g, :], iou[:, j] = -1, -1
    sel = np.flatnonzero(evaluated)
    gt = np.stack([samples[i].keypoints for i in sel]).astype(np.float64) if len(sel) else np.zeros((0, k, 2))
    p = pred[sel]
    mask = np.isfinite(gt).all(axis=2) & mapped[None]
    unmapped = [n for n, m in zip(ds.keypoints, mapped) if not m]
    metrics: dict[str, Any] = {}
    if len(sel):
        bbox = bbox_size(np.stack([_gt_box(samples[i], eval_set.dataset) for i in sel]))
        what = ("the annotated GT box" if eval_set.dataset in COCO_FORMAT
                else "the tight box of the labelled GT joints")
        metrics["pck_bbox"] = _pck_dict(pck(p, gt, mask, threshold=PCK_THRESHOLD, normalize=bbox), ds, mapped,
                                        f"longer side of {what} (MMPose PCKAccuracy norm_item='bbox')")
        if {"left_shoulder", "right_hip"} <= set(ds.keypoints):
            torso = torso_size(gt, first=ds.index("left_shoulder"), second=ds.index("right_hip"))
            metrics["pck_torso"] = _pck_dict(
                pck(p, gt, mask, threshold=PCK_THRESHOLD, normalize=np.nan_to_num(torso, nan=0.0)), ds, mapped,
                "||GT left_shoulder - GT right_hip|| (LSP literature, Sapp & Taskar 2013; samples without "
                "both joints left out)")
        if eval_set.dataset == "mpii":
            heads = np.array([samples[i].meta["head_size"] for i in sel], dtype=np.float64)
            metrics["mpii_pckh"] = {k_: _num(v) for k_, v in mpii_pckh(p, gt, mask, head_sizes=heads).items()}
    results = _coco_results(coco_items, k)
    if eval_set.dataset in COCO_FORMAT and ds == coco_wholebody133:
        metrics["coco_wholebody"] = _wholebody_ap(eval_set, sel, coco_items, results_file, mapped)
        metrics["coco"] = _wholebody_headline(metrics["coco_wholebody"])
    elif eval_set.dataset in COCO_FORMAT:
        metrics["coco"] = _coco_ap(eval_set, sel, coco_items, results, ds, results_file, mapped)
    elif results_file is not None:
        write_coco_results(results_file, results)
    missing = int(sum(not np.isfinite(pred[i]).any() for i in sel))
    return {
        "skeleton": {"model": model_skeleton.name, "dataset": ds.name, "mapping": route, "unmapped": unmapped,
                     "note": "unmapped joints are excluded from every metric" if unmapped else ""},
        "counts": {"images_evaluated": len({str(samples[i].image_path) for i in sel}), "samples_evaluated": len(sel),
                   "samples_without_prediction": missing, "instances_predicted": len(coco_items)},
        "metrics": metrics,
    }


def _gt_box(sample: PoseSample, dataset: str) -> np.ndarray:
    """xyxy GT box for normalising / matching: COCO's annotated box, else the joints' tight box."""
    if dataset in COCO_FORMAT and sample.box is not None:
        return np.asarray(sample.box, np.float64)
    return np.asarray(box_from_keypoints(sample.keypoints, padding=1.0), np.float64)


def _num(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _pck_dict(res: Any, ds: Skeleton, mapped: np.ndarray, normalizer: str) -> dict[str, Any]:
    return {
        "threshold": res.threshold, "normalizer": normalizer, "mean": _num(res.mean),
        "mean_over": int(((res.counts > 0) & mapped).sum()),
        "per_joint": {n: (_num(v) if m else None) for n, v, m in zip(ds.keypoints, res.per_joint, mapped)},
        "counts": {n: int(c) for n, c in zip(ds.keypoints, res.counts)},
    }


def _coco_results(items: list, k: int) -> list[dict[str, Any]]:
    """COCO results (dataset skeleton) with MMPose's instance score: box score x mean keypoint score > 0.2."""
    out = []
    for image_id, kp, sc, box_score, box, _ in items:
        above = sc > 0.2
        score = box_score * (float(sc[above].mean()) if above.any() else 0.0)
        flat = np.concatenate([np.nan_to_num(kp, nan=0.0), sc[:, None]], axis=1).reshape(-1)
        out.append({"image_id": image_id, "category_id": 1, "keypoints": [round(float(v), 3) for v in flat],
                    "score": score, "bbox": [float(box[0]), float(box[1]), float(box[2] - box[0]),
                                             float(box[3] - box[1])]})
    return out


def _gt_subset(eval_set: Any, sel: np.ndarray, keep: Any) -> tuple[dict[str, Any], set, list[dict[str, Any]]]:
    """(annotation file dict, ids of the evaluated images, their annotations that ``keep(a)`` accepts, minus the
    ones the loader rejected as malformed)."""
    data = _coco_json(Path(eval_set.ann))
    image_ids = {eval_set.samples[i].image_id for i in sel}
    bad = {s.index for s in eval_set.report.skipped if s.reason in _STRUCTURAL}
    raw = data.get("annotations", [])
    anns = [a for i, a in zip(data.get("_index") or range(len(raw)), raw)
            if i not in bad and isinstance(a, dict) and a.get("image_id") in image_ids
            and isinstance(a.get("bbox"), list) and len(a["bbox"]) == 4 and keep(a)]
    return data, image_ids, anns


def _gt_dict(data: dict[str, Any], image_ids: set, anns: list[dict[str, Any]]) -> dict[str, Any]:
    cats = [c for c in data.get("categories", []) if any(a.get("category_id") == c.get("id") for a in anns)]
    return {"images": [im for im in data.get("images", []) if isinstance(im, dict) and im.get("id") in image_ids],
            "annotations": anns, "categories": cats or data.get("categories", [])}


def _predictions(items: list) -> KeypointPredictions:
    """``coco_items`` as MMPose-style top-down predictions; NMS areas = the input boxes' ``w * h`` px^2."""
    wh = np.array([it[4][2:] - it[4][:2] for it in items])
    return KeypointPredictions(
        image_ids=np.array([it[0] for it in items]), keypoints=np.stack([it[1] for it in items]),
        keypoint_scores=np.clip(np.stack([it[2] for it in items]), 0, None),
        bbox_scores=np.array([it[3] for it in items]), areas=np.clip(wh[:, 0] * wh[:, 1], 0, None))


def _coco_ap(eval_set: Any, sel: np.ndarray, items: list, results: list, ds: Skeleton,
             results_file: str | Path | None, mapped: np.ndarray) -> dict[str, Any]:
    """pycocotools AP/AR (MMPose CocoMetric pipeline) against the GT of the evaluated images; GT joints the model's
    skeleton has no mapping for (``~mapped``) are left out of the OKS, like every other metric.

    Categories (AP-10K: one per species): with GT boxes each prediction takes its GT instance's ``category_id``, as
    MMPose's CocoMetric writes it; rescoring and OKS-NMS run per category (MMPose's NMS runs across categories of an
    image: the same unless two animals of different species get near-identical poses). With detector or file boxes
    the category is unknown: a GT with several categories is then scored class-agnostically (all GT in one)."""
    if ds.sigmas is None:
        if results_file is not None:
            write_coco_results(results_file, results)
        return {"note": f"skeleton {ds.name!r} has no OKS sigmas: AP not computed"}
    k = ds.num_keypoints
    data, image_ids, anns = _gt_subset(eval_set, sel, lambda a: isinstance(a.get("keypoints"), list)
                                       and len(a["keypoints"]) == 3 * k)
    if not mapped.all():  # unmapped joints: unlabelled in the GT copy the OKS sees
        keep = np.repeat(mapped, 3)
        anns = [{**a, "keypoints": [v if m else 0 for v, m in zip(a["keypoints"], keep)],
                 "num_keypoints": int(sum(1 for v, m in zip(a["keypoints"][2::3], mapped) if m and v > 0))}
                for a in anns]
    note = (f"GT = the {len(anns)} annotations of the {len(image_ids)} evaluated images (annotations the loader "
            f"rejected as malformed left out); person score = box score x mean keypoint score > 0.2, OKS-NMS 0.9")
    gt_cats = sorted({a.get("category_id", 1) for a in anns}, key=str)
    if any(it[5] is None for it in items) or not items:
        if len(gt_cats) > 1:
            note += f"; boxes without a GT category: the GT categories {gt_cats} scored as one (class-agnostic)"
            anns = [dict(a, category_id=gt_cats[0]) for a in anns]
        items = [(*it[:5], gt_cats[0] if gt_cats else 1) for it in items]
    elif len(gt_cats) > 1:
        note += f"; {len(gt_cats)} categories, each prediction in its GT instance's, OKS-NMS per category"
    gt = _gt_dict(data, image_ids, anns)
    sigmas = np.asarray(ds.sigmas, np.float64)
    if not mapped.all():
        unmapped = ", ".join(n for n, m in zip(ds.keypoints, mapped) if not m)
        note += f"; the joints without a mapping from the model's skeleton ({unmapped}) are left out of the OKS"
    if not items or not anns:
        if results_file is not None:
            write_coco_results(results_file, [])
        stats = coco_keypoint_eval(gt, [], sigmas=sigmas) if anns else {}
        return {"stats": {n: _num(v) for n, v in stats.items()}, "note": note}
    scored = []
    for cat in sorted({it[5] for it in items}, key=str):
        scored += coco_keypoint_results(_predictions([it for it in items if it[5] == cat]), sigmas=sigmas,
                                        category_id=cat)
    if results_file is not None:
        write_coco_results(Path(results_file), scored)
    stats = coco_keypoint_eval(gt, scored, sigmas=sigmas)
    return {"stats": {n: _num(v) for n, v in stats.items()}, "note": note}


def _wholebody_ap(eval_set: Any, sel: np.ndarray, items: list, results_file: str | Path | None,
                  mapped: np.ndarray) -> dict[str, Any]:
    """COCO-WholeBody AP/AR per part (:func:`posekit.metrics.wholebody.coco_wholebody_metric`, MMPose's
    CocoWholeBodyMetric; results file in its split-field format) against the GT of the evaluated images.

    A part is scored only when the model predicts every keypoint of it (through the mapping); the others are
    ``None`` in ``parts`` and listed in ``not_predicted`` (e.g. a ``coco17`` model: ``body`` only)."""
    fields = [field for _, field, *_ in WHOLEBODY_FIELDS]
    data, image_ids, anns = _gt_subset(eval_set, sel, lambda a: all(isinstance(a.get(f), list) for f in fields))
    gt = _gt_dict(data, image_ids, anns)
    ranges = {part: (a, b) for part, _, a, b in WHOLEBODY_FIELDS} | {"wholebody": (0, len(mapped))}
    not_predicted = {part: f"{int(mapped[a:b].sum())} of {b - a} keypoints predicted"
                     for part, (a, b) in ranges.items() if not mapped[a:b].all()}
    note = (f"GT = the {len(anns)} annotations of the {len(image_ids)} evaluated images (annotations the loader "
            "rejected as malformed left out); MMPose's CocoWholeBodyMetric: person score = box score x mean "
            "keypoint score > 0.2, OKS-NMS 0.9 with the 133 sigmas, each part with its own sigmas and GT ignore")
    if not_predicted:
        note += "; parts the model does not predict in full are not scored"
    if items:
        stats = coco_wholebody_metric(gt, _predictions(items), results_file=results_file)
    else:
        if results_file is not None:
            write_coco_results(results_file, [])
        stats = coco_wholebody_eval(gt, []) if anns else {}
    parts = {part: ({n: _num(v) for n, v in stats[part].items()} if part in stats and part not in not_predicted
                    else None) for part in WHOLEBODY_PARTS}
    return {"parts": parts, "not_predicted": not_predicted, "note": note}


def _wholebody_headline(wb: dict[str, Any]) -> dict[str, Any]:
    """The ``coco`` entry of a COCO-WholeBody evaluation: the ``wholebody`` stats (what MMPose's metric returns),
    else the ``body`` ones (a body-only model), else none."""
    part = next((p for p in ("wholebody", "body") if wb["parts"].get(p) is not None), None)
    note = (f"COCO-WholeBody part {part!r} (all parts in metrics['coco_wholebody']); " if part else
            "no COCO-WholeBody part is predicted in full; ") + wb["note"]
    return {"stats": wb["parts"][part] if part else {}, "part": part, "note": note}


def _coco_json(ann: Path) -> dict[str, Any]:
    """The COCO-format annotations of ``ann``: one JSON file, or a folder of them (PoseTrack18: one per video,
    sorted by name) merged, with annotation indices ``"<file name>[<index>]"`` as the loader reports them."""
    if not ann.is_dir():
        return json.loads(ann.read_text(encoding="utf-8"))
    merged: dict[str, Any] = {"images": [], "annotations": [], "categories": [], "_index": []}
    for file in sorted(ann.glob("*.json")):
        data = json.loads(file.read_text(encoding="utf-8"))
        merged["images"] += data.get("images", [])
        merged["annotations"] += data.get("annotations", [])
        merged["_index"] += [f"{file.name}[{i}]" for i in range(len(data.get("annotations", [])))]
        merged["categories"] = merged["categories"] or data.get("categories", [])
    return merged


def format_table(report: dict[str, Any]) -> str:
    """The per-joint and overall table of a :func:`posekit.eval.runner.run_evaluation` report (plain text)."""
    m = report["metrics"]
    cols = [(key, f"PCK@{m[key]['threshold']:g} {key.split('_')[1]}") for key in ("pck_bbox", "pck_torso") if key in m]
    lines = [f"{report['model']} on {report['dataset']} ({report['counts']['images_evaluated']} images, "
             f"{report['counts']['samples_evaluated']} persons, boxes: {report['boxes']}, flip: {report['flip']}"
             + ("" if report.get("min_presence") is None else f", min presence: {report['min_presence']:g}") + "); "
             f"skeleton {report['skeleton']['mapping']}"]
    if cols:
        lines.append(f"{'joint':18s}" + "".join(f"{title:>16s}" for _, title in cols) + f"{'GT joints':>11s}")
        names = list(m[cols[0][0]]["per_joint"])
        for name in names:
            vals = [m[key]["per_joint"][name] for key, _ in cols]
            cells = "".join(f"{'unmapped' if v is None and name in report['skeleton']['unmapped'] else _pct(v):>16s}"
                            for v in vals)
            lines.append(f"{name:18s}{cells}{m[cols[0][0]]['counts'][name]:>11d}")
        means = "".join(f"{_pct(m[key]['mean']):>16s}" for key, _ in cols)
        lines.append(f"{'mean (' + str(m[cols[0][0]]['mean_over']) + ' joints)':18s}{means}")
    if "mpii_pckh" in m:
        lines.append("MPII PCKh (%): " + ", ".join(f"{k} {_pct(v, 1.0)}" for k, v in m["mpii_pckh"].items()))
    if "coco_wholebody" in m:
        for part, stats in m["coco_wholebody"]["parts"].items():
            lines.append(f"COCO-WholeBody {part:10s} (pycocotools): " + (
                ", ".join(f"{k} {_pct(v)}" for k, v in stats.items()) if stats
                else f"not scored ({m['coco_wholebody']['not_predicted'].get(part, 'no GT')})"))
    elif "coco" in m:
        stats = m["coco"].get("stats") or {}
        lines.append("COCO keypoints (pycocotools): " + (", ".join(f"{k} {_pct(v)}" for k, v in stats.items())
                                                         if stats else m["coco"].get("note", "not computed")))
    unmapped = report["skeleton"]["unmapped"]
    if unmapped:
        shown = ", ".join(unmapped) if len(unmapped) <= 24 else (
            f"{len(unmapped)} joints: {', '.join(unmapped[:8])}, ... (all in report.json)")
        lines.append(f"unmapped (excluded from the metrics): {shown}")
    c = report["counts"]
    lines.append(f"persons without a prediction (counted wrong): {c['samples_without_prediction']}; "
                 f"records skipped by the loader: {len(report['load_report']['skipped'])}; "
                 f"unreadable images: {len(report['image_errors'])}")
    return "\n".join(lines)


def _pct(v: float | None, scale: float = 100.0) -> str:
    return "-" if v is None else f"{v * scale:.1f}"
