"""Prediction step of ``posekit eval``: run an estimator over an :class:`~posekit.eval.dataset.EvalSet` into a
resumable JSON-lines predictions file.

:func:`predict_to_file` runs the estimator image by image (``batch_size`` images per model call) and appends one
JSON line per image, flushed and synced after every batch: a crash loses nothing already written, and
``resume=True`` skips the images already in the file. Lines hold the model's own skeleton and image pixels (x
right, y down, origin at the top-left pixel's corner); ``null`` = missing keypoint. An image that cannot be read
gets an ``"error"`` line and is left out of the metrics (retried on resume).

With ``boxes="gt"`` every prediction belongs to the GT instance whose box it was given; a box the model rejects
(e.g. BlazePose's presence flag <= 0.5) has no prediction and its joints count as wrong.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from posekit.data.sample import PoseSample, box_from_keypoints
from posekit.detect.boxes import BoxesFromFile
from posekit.eval.dataset import EvalSet
from posekit.io.atomic import atomic_destination
from posekit.io.image import load_image
from posekit.postprocess import flip_keypoints
from posekit.types import Poses

__all__ = ["ImageTransform", "predict_to_file", "read_predictions"]


ImageTransform = Callable[[np.ndarray, Path, np.ndarray], np.ndarray]
"""``(rgb HxWx3 uint8, image path, (N, 4) xyxy px GT boxes of the image) -> new HxWx3 uint8 image`` of the same size,
applied to every image after it is read and before the model sees it (e.g. an image corruption); it must not modify
its input."""


def _header(eval_set: EvalSet, model: str, boxes: str, flip_mode: str, estimator: Any,
            transform_id: str | None) -> dict[str, Any]:
    header = {"posekit_eval_predictions": 1, "model": model, "dataset": eval_set.dataset,
              "ann": str(eval_set.ann), "num_samples": len(eval_set.samples), "boxes": boxes, "flip": flip_mode,
              "min_presence": getattr(estimator, "min_presence", None)}
    if transform_id is not None:
        header["transform"] = transform_id
    return header


def read_predictions(path: str | os.PathLike) -> tuple[dict[str, Any] | None, list[dict[str, Any]], int]:
    """``(header, image records, broken lines)`` of a predictions file; a line cut by a crash counts as broken."""
    header, records, broken = None, [], 0
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines()):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            broken += 1
            continue
        if i == 0 and isinstance(rec, dict) and "posekit_eval_predictions" in rec:
            header = rec
        elif isinstance(rec, dict) and "image" in rec:
            records.append(rec)
        else:
            broken += 1
    return header, records, broken


def _boxes_source(boxes: str, eval_set: EvalSet) -> Callable[[Path, tuple[int, ...]], np.ndarray | None]:
    """``(image path, sample indices) -> (N, 4) xyxy px boxes`` (``None`` = the estimator's detector)."""
    if boxes == "gt":
        return lambda path, ix: np.stack([_input_box(eval_set.samples[i]) for i in ix]).astype(np.float32)
    if boxes == "detector":
        return lambda path, ix: None
    source = BoxesFromFile(boxes, images=eval_set.ann if eval_set.dataset == "coco" else None)

    def lookup(path: Path, ix: tuple[int, ...]) -> np.ndarray:
        image_id = eval_set.samples[ix[0]].image_id
        key = image_id if isinstance(image_id, int) else path.name
        return np.asarray(source[key].boxes, np.float32).reshape(-1, 4)
    return lookup


def _input_box(sample: PoseSample) -> np.ndarray:
    """The loader's GT box (COCO: annotated; LSP: joints' box x 1.2; MPII: the hg crop square)."""
    return sample.box if sample.box is not None else box_from_keypoints(sample.keypoints)


def predict_to_file(estimator: Any, eval_set: EvalSet, path: str | os.PathLike, *, model: str = "",
                    boxes: str = "gt", flip_mode: str = "off", batch_size: int = 8, resume: bool = False,
                    progress: bool = True, transform: ImageTransform | None = None,
                    transform_id: str | None = None) -> dict[str, int]:
    """Predict every image of ``eval_set`` into the JSON-lines file ``path`` (module docstring).

    Args:
        estimator: a :class:`posekit.PoseEstimator` (images go through its ``predict_batch``).
        model: the model name recorded in the file's header line.
        boxes: ``"gt"`` (the GT boxes of each image), ``"detector"`` (the estimator's detector) or the path of a
            detections file (:class:`posekit.detect.BoxesFromFile` layouts).
        flip_mode: ``"image"`` runs the image-level flip test (needs boxes; see
            :func:`posekit.eval.runner.build_estimator`).
        batch_size: images per model call (and per flushed write).
        resume: keep the images already predicted in ``path`` (same model, dataset, annotations, boxes, flip and
            transform, else ``ValueError``) and predict only the others; without it ``path`` is started afresh.
        transform: an :data:`ImageTransform` applied to each image before prediction (its time is recorded per
            image as ``transform_seconds``, apart from the model's ``seconds``); ``transform_id`` names it in the
            header (required with ``transform``), so a resumed file never mixes two transforms.

    Returns:
        ``{"predicted": images predicted now, "resumed": images kept from the file, "failed": unreadable now}``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if flip_mode == "image" and boxes == "detector":
        raise ValueError("the image-level flip test needs boxes (--boxes gt or a file), not the detector")
    if (transform is None) != (transform_id is None):
        raise ValueError("transform and transform_id go together (the id names the transform in the file header)")
    path = Path(path)
    header = _header(eval_set, model, boxes, flip_mode, estimator, transform_id)
    done: list[dict[str, Any]] = []
    if resume and path.is_file():
        old, records, _ = read_predictions(path)
        if old is not None and any(old.get(k) != v for k, v in header.items()):
            diff = {k: [old.get(k), v] for k, v in header.items() if old.get(k) != v}
            raise ValueError(f"cannot resume {str(path)!r}: it was made with other settings (old, new): {diff}")
        done = [r for r in records if "error" not in r]
    with atomic_destination(path) as tmp:  # rewritten without broken (cut) or error lines
        tmp.write_text("".join(json.dumps(r) + "\n" for r in [header, *done]), encoding="utf-8")
    have = {r["image"] for r in done}
    todo = [(p, ix) for p, ix in eval_set.images if str(p) not in have]
    box_of = _boxes_source(boxes, eval_set)
    counts = {"predicted": 0, "resumed": len(eval_set.images) - len(todo), "failed": 0}
    bar = tqdm(total=len(eval_set.images), initial=counts["resumed"], unit="img", disable=not progress,
               desc=f"{model} on {eval_set.dataset}")
    with path.open("a", encoding="utf-8") as fh:
        for start in range(0, len(todo), batch_size):
            lines = _predict_batch(estimator, todo[start:start + batch_size], box_of, boxes == "gt", flip_mode,
                                   _gt_transform(eval_set, transform))
            fh.write("".join(json.dumps(r) + "\n" for r in lines))
            fh.flush()
            os.fsync(fh.fileno())
            counts["failed"] += sum("error" in r for r in lines)
            counts["predicted"] += sum("error" not in r for r in lines)
            bar.update(len(lines))
    bar.close()
    return counts


def _gt_transform(eval_set: EvalSet, transform: ImageTransform | None) -> Callable | None:
    """``(rgb, path, sample indices) -> image``: ``transform`` given the image's GT boxes."""
    if transform is None:
        return None

    def apply(rgb: np.ndarray, path: Path, ix: tuple[int, ...]) -> np.ndarray:
        gt = np.stack([_input_box(eval_set.samples[i]) for i in ix]).astype(np.float32)
        out = transform(rgb, path, gt)
        if not isinstance(out, np.ndarray) or out.shape != rgb.shape or out.dtype != rgb.dtype:
            raise ValueError(f"the image transform must return a {rgb.shape} {rgb.dtype} image for {str(path)!r}, "
                             f"got {getattr(out, 'shape', type(out))} {getattr(out, 'dtype', '')}")
        return out
    return apply


def _predict_batch(est: Any, items: list[tuple[Path, tuple[int, ...]]], box_of: Callable, gt_boxes: bool,
                   flip_mode: str, transform: Callable | None = None) -> list[dict[str, Any]]:
    """One JSON record per image of ``items`` (an ``"error"`` record for an unreadable one)."""
    lines, rgbs, ok, t_transform = [], [], [], []
    for p, ix in items:
        try:
            rgb = load_image(p)
        except (OSError, ValueError) as exc:
            lines.append({"image": str(p), "error": f"{type(exc).__name__}: {exc}"})
            continue
        if transform is not None:
            t0 = time.perf_counter()
            rgb = transform(rgb, p, ix)
            t_transform.append(round(time.perf_counter() - t0, 4))
        rgbs.append(rgb)
        ok.append((p, ix))
    if not ok:
        return lines
    t0 = time.perf_counter()
    given = [box_of(p, ix) for p, ix in ok]
    poses = _run(est, rgbs, given)
    if flip_mode == "image":
        mirrored_boxes = [_mirror_boxes(b, rgb.shape[1]) for b, rgb in zip(given, rgbs)]
        mirrored = _run(est, [np.ascontiguousarray(rgb[:, ::-1]) for rgb in rgbs], mirrored_boxes)
        poses = [_fuse_flip(a, m, b, mb, rgb.shape[1])
                 for a, m, b, mb, rgb in zip(poses, mirrored, given, mirrored_boxes, rgbs)]
    seconds = (time.perf_counter() - t0) / len(ok)
    for n, ((p, ix), rgb, b, pose) in enumerate(zip(ok, rgbs, given, poses)):
        owner = _match_boxes(pose.boxes, b) if gt_boxes else np.full(len(pose), -1)
        instances = [{
            "sample": int(ix[owner[j]]) if owner[j] >= 0 else None,
            "box": pose.boxes[j].tolist(), "box_score": float(pose.box_scores[j]),
            "keypoints": np.where(np.isfinite(pose.keypoints[j]), pose.keypoints[j], np.nan).tolist(),
            "scores": pose.scores[j].tolist(),
        } for j in range(len(pose))]
        for inst in instances:  # NaN -> null (strict JSON)
            inst["keypoints"] = [[None if v != v else v for v in pt] for pt in inst["keypoints"]]
        lines.append({"image": str(p), "width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
                      "skeleton": pose.skeleton.name, "seconds": round(seconds, 4), "instances": instances})
        if t_transform:
            lines[-1]["transform_seconds"] = t_transform[n]
    return lines


def _run(est: Any, rgbs: list[np.ndarray], boxes: list[np.ndarray | None]) -> list[Any]:
    """Poses per image; images with an empty box list get no call."""
    out: list[Any] = [None] * len(rgbs)
    todo = [i for i, b in enumerate(boxes) if b is None or len(b)]
    for i in set(range(len(rgbs))) - set(todo):
        out[i] = Poses.empty(est.skeleton, image_size=(rgbs[i].shape[1], rgbs[i].shape[0]))
    if todo:
        use = [boxes[i] for i in todo]
        results = est.predict_batch([rgbs[i] for i in todo], boxes=None if all(b is None for b in use) else use)
        for i, poses in zip(todo, results):
            out[i] = poses
    return out


def _mirror_boxes(boxes: np.ndarray | None, width: int) -> np.ndarray | None:
    """xyxy boxes of the horizontally mirrored image (continuous frame: ``x -> width - x``)."""
    if boxes is None:
        return None
    return np.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], axis=1).astype(np.float32)


def _match_boxes(found: np.ndarray, given: np.ndarray) -> np.ndarray:
    """(M,) index of the given box each returned box is (estimators report the caller's boxes), -1 if none."""
    out = np.full(len(found), -1)
    used: set[int] = set()
    for j, box in enumerate(found):
        hits = [i for i in np.flatnonzero(np.abs(given - box).max(axis=1) < 1e-3) if i not in used]
        if hits:
            out[j] = hits[0]
            used.add(hits[0])
    return out


def _fuse_flip(plain: Any, mirrored: Any, boxes: np.ndarray, mirrored_boxes: np.ndarray, width: int) -> Any:
    """Image-level flip test: per given box, the mean of the plain and the mirrored-back prediction (scores and
    box scores averaged too); a box only one pass kept takes that pass's prediction."""
    flip = list(plain.skeleton.flip_indices)
    a, m = _match_boxes(plain.boxes, boxes), _match_boxes(mirrored.boxes, mirrored_boxes)
    kpts, scores, box_scores, keep = [], [], [], []
    for i in range(len(boxes)):
        parts = []
        if i in a:
            j = int(np.flatnonzero(a == i)[0])
            parts.append((plain.keypoints[j], plain.scores[j], plain.box_scores[j]))
        if i in m:
            j = int(np.flatnonzero(m == i)[0])
            back = flip_keypoints(mirrored.keypoints[j:j + 1].copy(), flip, width=float(width), shift=False)[0]
            parts.append((back, mirrored.scores[j][flip], mirrored.box_scores[j]))
        if parts:
            kpts.append(np.mean([p[0] for p in parts], axis=0))
            scores.append(np.mean([p[1] for p in parts], axis=0))
            box_scores.append(float(np.mean([p[2] for p in parts])))
            keep.append(i)
    if not keep:
        return Poses.empty(plain.skeleton, image_size=plain.image_size)
    return Poses(np.stack(kpts), np.stack(scores), boxes[keep], plain.skeleton, box_scores=np.array(box_scores),
                 image_size=plain.image_size)
