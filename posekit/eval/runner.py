"""The evaluation runner behind ``posekit eval``: load (:mod:`posekit.eval.dataset`), predict
(:mod:`posekit.eval.predict`), score (:mod:`posekit.eval.scores`) and write the report.

See :mod:`posekit.eval` for the metrics and how predictions are matched to the GT instances.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from posekit.eval.dataset import EvalSet, load_eval_set
from posekit.eval.predict import predict_to_file, read_predictions
from posekit.eval.scores import score_predictions, skeleton_mapping
from posekit.io.atomic import atomic_destination
from posekit.pipelines.registry import build_estimator as build, estimator_entry

__all__ = ["SCHEMA", "build_estimator", "check_coverage", "run_evaluation"]

SCHEMA = "posekit.eval/1"
"""``schema`` of the JSON report written by :func:`run_evaluation`."""


def build_estimator(model: str, *, weights: str | os.PathLike | None = None, flip: bool | None = None,
                    min_presence: float | None = None, device: str = "cpu", detector: str | None = None,
                    detector_weights: str | os.PathLike | None = None) -> tuple[Any, str]:
    """``(estimator, flip_mode)`` for the registered ``model``, built by the registry
    (:func:`posekit.pipelines.registry.build_estimator`) with the evaluation's options checked against its
    :class:`~posekit.pipelines.registry.Capabilities`.

    ``min_presence``: for pipelines with a presence gate (MediaPipe: an instance is dropped unless its presence
    flag is above it, default 0.5), a new threshold (a negative one keeps a prediction for every box: the gate is
    ``presence > min_presence`` and the presence can be exactly 0); ``None`` keeps the pipeline's. ``ValueError``
    for a model without one.

    ``flip``: ``None`` keeps the model's default; models with a built-in flip test (top-down heatmap models) get
    it switched on or off (``flip_mode`` ``"model"`` / ``"off"``); others with ``flip=True`` get an image-level
    flip test in :func:`predict_to_file` (``"image"``: the prediction on the mirrored image and boxes, mirrored
    back with left/right swapped, averaged with the plain one).
    """
    caps = estimator_entry(model).capabilities
    options: dict[str, Any] = {"device": device}
    if detector is not None:  # a registry name; the registry refuses it for models that find people themselves
        options["detector"] = detector
    if detector_weights is not None:  # the registry refuses it without a detector that loads a checkpoint
        options["detector_weights"] = str(detector_weights)
    if weights is not None:  # the registry refuses it for models that do not take weights
        options["weights"] = str(weights)
    if min_presence is not None:
        if not caps.presence_gate:
            raise ValueError(f"model {model!r} has no presence gate; --min-presence applies to MediaPipe pipelines")
        options["min_presence"] = float(min_presence)
    if caps.flip_test and flip is not None:
        options["flip_test"] = flip
    est = build(model, **options)
    if caps.flip_test:
        return est, "model" if est.flip_test else "off"
    return est, "image" if flip else "off"


# --------------------------------------------------------------------------------------------------- driver


def run_evaluation(*, model: str, dataset: str, ann: str | os.PathLike, images: str | os.PathLike | None,
                   out: str | os.PathLike, weights: str | os.PathLike | None = None, boxes: str = "gt",
                   flip: bool | None = None, min_presence: float | None = None, batch_size: int = 8,
                   limit: int | None = None, resume: bool = False, device: str = "cpu",
                   progress: bool = True, max_missing: float = 0.1, detector: str | None = None,
                   detector_weights: str | os.PathLike | None = None) -> dict[str, Any]:
    """Load, predict, score; write ``out/predictions.jsonl``, ``out/results.json`` (COCO keypoint results in the
    dataset's skeleton) and ``out/report.json`` (atomic); return the report.

    Report keys: ``schema``, ``model``, ``dataset``, ``ann``, ``images``, ``boxes``, ``flip``, ``limit``,
    ``min_presence`` (the presence gate used, ``null`` for models without one), ``skeleton``, ``counts``,
    ``metrics`` (see :func:`score_predictions`), ``load_report`` (``summary``,
    ``num_records``, ``num_loaded``, ``skipped`` records with ``index``/``reason``/``message``/``record_id``,
    ``notes``), ``image_errors`` (``image``, ``error``), ``timing`` (``seconds_per_image`` mean over the images,
    ``images_predicted_now``, ``images_resumed``), ``files``.

    Raises ``ValueError`` before anything is predicted when the annotations leave nothing to evaluate, or when
    more than ``max_missing`` (a fraction) of the annotation records name image files that do not exist: the
    usual sign of a wrong ``images`` folder, which would otherwise score a handful of images (or none) silently.
    ``detector`` (a registry name) replaces the model's person detector for ``boxes="detector"``;
    ``detector_weights`` is its official checkpoint file (RTMDet, YOLOX).
    """
    if not 0.0 <= max_missing <= 1.0:
        raise ValueError(f"max_missing must be a fraction in [0, 1], got {max_missing!r}")
    if boxes not in ("gt", "detector") and not Path(boxes).is_file():
        raise ValueError(f"boxes must be 'gt', 'detector' or an existing detections file, got {boxes!r}")
    eval_set = load_eval_set(dataset, ann=ann, images=images, limit=limit)
    check_coverage(eval_set, images, max_missing)
    if detector is not None and boxes != "detector":
        raise ValueError(f"detector={detector!r} needs boxes='detector' (the boxes are {boxes!r})")
    if boxes != "detector" and not estimator_entry(model).capabilities.boxes:
        raise ValueError(f"{model} finds people itself (one-stage or bottom-up) and takes no boxes: evaluate it with "
                         f"boxes='detector' (--boxes detector), not {boxes!r}")
    est, flip_mode = build_estimator(model, weights=weights, flip=flip, min_presence=min_presence, device=device,
                                     detector=detector, detector_weights=detector_weights)
    skeleton_mapping(est.skeleton, eval_set.skeleton)  # fail before predicting when nothing maps
    out = Path(out)
    files = {"predictions": str(out / "predictions.jsonl"), "results": str(out / "results.json"),
             "report": str(out / "report.json")}
    counts = predict_to_file(est, eval_set, files["predictions"], model=model, boxes=boxes, flip_mode=flip_mode,
                             batch_size=batch_size, resume=resume, progress=progress)
    _, records, _ = read_predictions(files["predictions"])
    scored = score_predictions(eval_set, records, model_skeleton=est.skeleton, results_file=files["results"])
    seconds = [r["seconds"] for r in records if "seconds" in r]
    report = {
        "schema": SCHEMA, "model": model, "dataset": dataset, "ann": str(ann),
        "images": None if images is None else str(images), "boxes": boxes, "detector": detector, "flip": flip_mode,
        "limit": limit,
        "min_presence": getattr(est, "min_presence", None), **scored,
        "load_report": {"summary": eval_set.report.summary(), "num_records": eval_set.report.num_records,
                        "num_loaded": eval_set.report.num_loaded, "notes": list(eval_set.report.notes),
                        "skipped": [_jsonable(asdict(s)) for s in eval_set.report.skipped]},
        "image_errors": [{"image": r["image"], "error": r["error"]} for r in records if "error" in r],
        "timing": {"seconds_per_image": float(np.mean(seconds)) if seconds else None,
                   "images_predicted_now": counts["predicted"], "images_resumed": counts["resumed"]},
        "files": files,
    }
    report["counts"]["images_failed"] = len(report["image_errors"])
    with atomic_destination(Path(files["report"])) as tmp:
        tmp.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return report


def check_coverage(eval_set: EvalSet, images: str | os.PathLike | None, max_missing: float) -> None:
    """Refuse an evaluation that would evaluate nothing, or miss more than ``max_missing`` of its images."""
    report = eval_set.report
    missing = [s for s in report.skipped if s.reason == "missing_image"]
    share = len(missing) / max(report.num_records, 1)
    if eval_set.images and share <= max_missing:
        return
    hint = ""
    if missing:
        hint = (f"; {len(missing)} of {report.num_records} records name image files that do not exist (first: "
                f"{missing[0].message}); is --images {images} the folder the annotations' file names are relative "
                "to?")
    what = "nothing to evaluate" if not eval_set.images else f"{share:.0%} of the records have no image"
    raise ValueError(f"{what}: {report.summary()}{hint} (max_missing {max_missing:g})")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)
