"""The cross-dataset table (issue #19, item 5): every model x every annotated dataset, each scored with the metric
native to the dataset, through the evaluation runner (:func:`posekit.eval.run_evaluation`).

A column is a :class:`CrossDataset` (an evaluation set of :data:`posekit.eval.EVAL_DATASETS` with its files and its
metric); :func:`default_datasets` lists the ones in ``../shared/data``. :func:`run_crosseval` runs each cell into its
own folder ``out/MODEL-DATASET`` (the runner's ``predictions.jsonl``, ``results.json``, ``report.json``), resumable
image by image; a cell that fails records its error and the run goes on. :func:`format_markdown` renders the table.

Boxes: models that run on person boxes (``Capabilities.boxes``: BlazePose, MoveNet single-pose, the top-down
networks) get the GT boxes, as the project's LSP and COCO numbers do; models that find people themselves (MoveNet
MultiPose, PoseNet, RTMO) run on the whole image (``boxes="detector"``) and each GT person takes the prediction whose
box overlaps its GT box most (IoU >= 0.3) for PCK.

Metrics (values as fractions in the JSON, percent in the Markdown):

* ``pck``: PCK@0.2 with the longer side of the GT joints' tight box (``pck_bbox``) and with the torso
  ``||left_shoulder - right_hip||`` (``pck_torso``, the LSP literature's), over the joints both skeletons share.
* ``ap``: COCO keypoint AP (pycocotools, OKS) against the GT of the evaluated images.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from posekit.eval import EVAL_DATASETS, run_evaluation
from posekit.io.atomic import atomic_destination
from posekit.models.registry import get_entry, list_models
from posekit.pipelines.registry import estimator_entries, estimator_entry

__all__ = ["METRICS", "SCHEMA", "CrossDataset", "check_models", "default_datasets", "format_markdown",
           "offline_body_models", "run_crosseval", "write_table"]

SCHEMA = "posekit.crosseval/1"
"""``schema`` of the dict :func:`run_crosseval` returns (and ``crosseval.json``)."""
METRICS = {"pck": ("pck_bbox", "pck_torso"), "ap": ("AP",), "pckh": ("PCKh",)}
"""Metric kind -> the value names a cell holds (``pck``: two normalisers; ``ap``: COCO keypoint AP; ``pckh``: MPII's
PCKh@0.5 total)."""


@dataclass(frozen=True)
class CrossDataset:
    """One column of the table.

    Attributes:
        name: column id (``lsp``, ``coco_subset``, ...); the cell folders are ``out/MODEL-NAME``.
        title: column header in the Markdown table.
        kind: the evaluation set (one of :data:`posekit.eval.EVAL_DATASETS`), or ``None`` for a column that cannot
            be evaluated here (every cell ``n/a``; ``note`` says why).
        ann: annotation file (LSP/LSPET: the folder holding ``joints.mat``). images: image folder (``None``: the
            loader's default).
        metric: ``"pck"``, ``"ap"`` or ``"pckh"`` (:data:`METRICS`).
        note: a footnote (what the column holds, its caveats).
        max_missing: fraction of annotation records allowed to name missing image files (the runner refuses more;
            LSPET's copy here holds 2000 of its 10000 images).
        na: for ``kind=None``, the reason shown in its cells (``n/a (no images)``).
    """

    name: str
    title: str
    kind: str | None
    ann: Path | None
    images: Path | None = None
    metric: str = "pck"
    note: str = ""
    max_missing: float = 0.1
    na: str = ""

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in EVAL_DATASETS:
            raise ValueError(f"dataset {self.name!r}: kind must be one of {', '.join(EVAL_DATASETS)} or None, "
                             f"got {self.kind!r}")
        if self.metric not in METRICS:
            raise ValueError(f"dataset {self.name!r}: metric must be one of {', '.join(METRICS)}, got {self.metric!r}")
        if self.kind is not None and self.ann is None:
            raise ValueError(f"dataset {self.name!r}: ann (the annotation file) is required for kind {self.kind!r}")


def default_datasets(shared_data: str | Path) -> tuple[CrossDataset, ...]:
    """The annotated sets of ``shared_data`` (the project's ``../shared/data``), one column each.

    LSP test (images 1001-2000) and LSPET (the images present: im00001-im02000) with PCK@0.2; the COCO train2017
    subset with full GT (28 images, 86 persons) and OpenPose's COCO val2014 examples with COCO AP; PoseTrack18's
    validation frames (MMPose's test data) with COCO-style AP; MPII as an ``n/a (no images)`` column. A set whose
    files are absent stays as an ``n/a (absent)`` column whose note names the missing paths.
    """
    root = Path(shared_data)
    posetrack = root / "mmpose_testdata" / "tests" / "data" / "posetrack18"
    candidates = (
        CrossDataset("lsp", "LSP test", "lsp", root / "lsp", metric="pck",
                     note="LSP test split, images im1001-im2000 (one person each); PCK@0.2 shown as bbox / torso "
                          "normaliser; the neck and head_top of LSP have no counterpart in COCO-17 / BlazePose-33 "
                          "and are left out"),
        CrossDataset("lspet", "LSPET", "lspet", root / "lspet", metric="pck", max_missing=0.8,
                     note="LSP-extended, the 2000 images present here (im00001-im02000 of 10000); PCK@0.2 as LSP"),
        CrossDataset("coco_subset", "COCO train2017 subset", "coco",
                     root / "coco" / "person_keypoints_train2017_fullgt_subset.json",
                     root / "coco" / "train2017_subset", metric="ap",
                     note="28 COCO train2017 images with their full keypoint GT (86 persons); COCO keypoint AP "
                          "(pycocotools); train2017 images: models trained on COCO (MoveNet's model card lists COCO "
                          "among its training data) may have seen them"),
        CrossDataset("coco_openpose", "COCO (OpenPose examples)", "coco",
                     root / "coco" / "openpose_examples_keypoints.json", root / "coco" / "openpose_examples",
                     metric="ap", note="the 18 COCO val2014 images of OpenPose's examples with their COCO "
                                       "keypoints (48 persons); COCO keypoint AP"),
        CrossDataset("posetrack18", "PoseTrack18 frames", "posetrack18",
                     posetrack / "annotations" / "test_posetrack18_val.json", posetrack, metric="ap",
                     note="PoseTrack18 validation frames (MMPose's test data: 3 frames of 3 videos); COCO-style AP "
                          "(pycocotools, OKS with COCO's sigmas) on PoseTrack's 17-joint layout, not PoseTrack's own "
                          "per-joint mAP (poseval); head_bottom and head_top have no counterpart in the models' "
                          "skeletons and are left out of the OKS; PoseTrack has no segmentation area, so the OKS "
                          "scale is 0.53 x the GT box area (posekit.metrics.coco)"),
        CrossDataset("mpii", "MPII validation", "mpii", root / "mpii" / "hg_valid.h5", root / "mpii" / "images",
                     metric="pckh", note="MPII validation (hg_valid.h5, 2958 persons), PCKh@0.5 total (pelvis and "
                                         "thorax excluded); its images are looked for in mpii/images")
        if (root / "mpii" / "images").is_dir() else
        CrossDataset("mpii", "MPII", None, None, metric="pckh", na="no images",
                     note="the MPII validation annotations (hg_valid.h5) are here but not its images (mpii/images): "
                          "no model can be run on it"),
    )
    out = []
    for d in candidates:
        missing = [str(p) for p in (d.ann, d.images) if p is not None and not p.exists()]
        out.append(replace(d, kind=None, na="absent", note=f"not evaluated: {', '.join(missing)} absent")
                   if missing else d)
    return tuple(out)


def offline_body_models() -> tuple[str, ...]:
    """The registered body estimators whose pretrained weights are offline (``posekit models``' "offline": the
    MediaPipe wheel or an npm package, no account), in registry order."""
    runnable = {e.name for e in estimator_entries()}
    return tuple(n for n in list_models(task="body") if get_entry(n).offline and n in runnable)


def check_models(models: Sequence[str]) -> tuple[str, ...]:
    """``models`` as a tuple after checking each names a registered end-to-end body estimator (``ValueError``
    naming the bad name, with the closest registered ones for an unknown name)."""
    if not models:
        raise ValueError("no model to evaluate")
    for name in models:
        try:
            estimator_entry(name)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
        if get_entry(name).task != "body":
            raise ValueError(f"model {name!r} is a {get_entry(name).task} model; the cross-dataset table is for body "
                             "models (see `posekit models --task body`)")
    if len(set(models)) != len(models):
        raise ValueError(f"a model is named twice: {', '.join(models)}")
    return tuple(models)


def run_crosseval(models: Sequence[str], datasets: Sequence[CrossDataset], *, out: str | Path,
                  limit: int | None = None, resume: bool = True, progress: bool = True, device: str = "cpu",
                  batch_size: int = 8) -> dict[str, Any]:
    """Evaluate every model on every dataset; return the table as a JSON-able dict.

    Each cell runs :func:`posekit.eval.run_evaluation` into ``out/MODEL-DATASET`` (``resume=True`` keeps the
    images already predicted there: an interrupted run picks up where it stopped). A cell that raises records
    ``error`` (the exception's type and message) and the run goes on; a dataset with ``kind=None`` gives ``n/a``
    cells.

    Returns:
        ``{"schema", "models", "datasets": [CrossDataset fields, paths as str], "limit", "cells": [{"model",
        "dataset", "metric", "boxes", "values": {name: fraction or None}, "images", "images_failed", "persons",
        "persons_without_prediction", "seconds_per_image" (model time, from the report), "wall_seconds" (the
        cell's, loading and resumed images included), "report" (its path), "coco_stats"? (AP cells: the 10
        pycocotools numbers), "error"?, "na"?}]}``, cells in model-major order.
    """
    models = check_models(models)
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"dataset names must be unique, got {names}")
    out = Path(out)
    cells = []
    for model in models:
        boxes = "gt" if estimator_entry(model).capabilities.boxes else "detector"
        for d in datasets:
            cell: dict[str, Any] = {"model": model, "dataset": d.name, "metric": d.metric, "boxes": boxes,
                                    "values": {k: None for k in METRICS[d.metric]}}
            if d.kind is None:
                cells.append({**cell, "na": d.na or "not evaluated"})
                continue
            t0 = time.perf_counter()
            try:
                report = run_evaluation(model=model, dataset=d.kind, ann=d.ann, images=d.images,
                                        out=out / f"{model}-{d.name}", boxes=boxes, limit=limit, resume=resume,
                                        device=device, progress=progress, max_missing=d.max_missing,
                                        batch_size=batch_size)
                cell.update(_cell_values(report, d.metric))
            except Exception as exc:  # noqa: BLE001 (a failing cell is recorded; the table goes on)
                cell["error"] = f"{type(exc).__name__}: {exc}"
            cell["wall_seconds"] = round(time.perf_counter() - t0, 2)
            cells.append(cell)
    return {"schema": SCHEMA, "models": list(models), "datasets": [_jsonable_dataset(d) for d in datasets],
            "limit": limit, "cells": cells}


def _cell_values(report: dict[str, Any], metric: str) -> dict[str, Any]:
    m = report["metrics"]
    if metric == "pck":
        values = {k: (m.get(k) or {}).get("mean") for k in METRICS["pck"]}
    elif metric == "pckh":
        total = (m.get("mpii_pckh") or {}).get("PCKh")
        values = {"PCKh": None if total is None else total / 100.0}
    else:
        coco = m.get("coco") or {}
        if not coco.get("stats"):
            raise ValueError(f"no COCO AP in the report: {coco.get('note', 'not computed')}")
        values = {"AP": coco["stats"].get("AP")}
    counts = report["counts"]
    cell = {"values": values, "images": counts["images_evaluated"], "images_failed": counts.get("images_failed", 0),
            "persons": counts["samples_evaluated"], "persons_without_prediction": counts["samples_without_prediction"],
            "seconds_per_image": report["timing"]["seconds_per_image"], "report": report["files"]["report"]}
    if metric == "ap":
        cell["coco_stats"] = m["coco"]["stats"]
    return cell


def _jsonable_dataset(d: CrossDataset) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(d).items()}


# ------------------------------------------------------------------------------------------------- Markdown


def format_markdown(table: dict[str, Any]) -> str:
    """The table of :func:`run_crosseval` as Markdown: one row per model, one column per dataset; PCK cells read
    ``bbox / torso`` (percent), AP cells the AP (percent); failed cells ``error (n)`` with the message in a
    numbered footnote; ``n/a`` cells with the dataset's note. A second table gives each cell's persons without a
    prediction and model seconds per image."""
    datasets = table["datasets"]
    by_key = {(c["model"], c["dataset"]): c for c in table["cells"]}
    errors: list[str] = []
    header = ["model", "boxes"] + [f"{d['title']}<br>{_metric_label(d['metric'])}" for d in datasets]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model in table["models"]:
        cells = [by_key.get((model, d["name"])) for d in datasets]
        boxes = next((c["boxes"] for c in cells if c is not None), "")
        row = [f"`{model}`", "GT" if boxes == "gt" else "own" if boxes == "detector" else boxes]
        for c in cells:
            row.append(_format_cell(c, errors))
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", ("Persons without a prediction, of the persons evaluated (GT boxes: the model rejected the box, e.g. "
                   "BlazePose's presence gate; own: no predicted person overlaps the GT box with IoU >= 0.3; their "
                   "joints count as wrong in PCK), and the model's seconds per image:"), "",
              "| model | " + " | ".join(d["title"] for d in datasets) + " |", "|" + "---|" * (len(datasets) + 1)]
    for model in table["models"]:
        lines.append(f"| `{model}` | " + " | ".join(_format_counts(by_key.get((model, d["name"]))) for d in datasets)
                     + " |")
    foot = [("Boxes: **GT** = the model runs on the ground-truth person boxes (top-down and single-person models, as "
             "the project's LSP and COCO numbers do); **own** = the model finds the people itself on the whole "
             "image (one-stage / bottom-up), and for PCK each GT person takes the prediction whose box overlaps "
             "its GT box most (IoU >= 0.3). AP with GT boxes is an upper bound of the usual COCO protocol (which "
             "runs on detector boxes): AP compares the two groups only loosely. Values in percent; PCK cells read "
             "PCK@0.2 with the bbox / torso normaliser.")]
    if table.get("limit"):
        foot.append(f"Only the first {table['limit']} images of each dataset (limit).")
    foot += [f"{d['title']}: {d['note']}." for d in datasets if d.get("note")]
    foot += [f"({i}) {e}" for i, e in enumerate(errors, 1)]
    return "\n".join(lines) + "\n\n" + "\n".join(f"* {f}" for f in foot) + "\n"


def _metric_label(metric: str) -> str:
    return {"pck": "PCK@0.2 bbox / torso", "ap": "COCO AP", "pckh": "PCKh@0.5"}[metric]


def _format_cell(cell: dict[str, Any] | None, errors: list[str]) -> str:
    if cell is None:
        return "-"
    if "na" in cell:
        return f"n/a ({cell['na']})"
    if "error" in cell:
        errors.append(f"{cell['model']} on {cell['dataset']}: {cell['error']}")
        return f"error ({len(errors)})"
    values = cell["values"]
    if cell["metric"] == "pck":
        return " / ".join(_pct(values.get(k)) for k in METRICS["pck"])
    return _pct(values.get("PCKh" if cell["metric"] == "pckh" else "AP"))


def _format_counts(cell: dict[str, Any] | None) -> str:
    if cell is None or cell.get("persons") is None:
        return "-"
    speed = cell.get("seconds_per_image")
    return (f"{cell['persons_without_prediction']} / {cell['persons']}"
            + ("" if speed is None else f", {speed:.2f} s"))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def write_table(table: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    """Write ``out/crosseval.json`` and ``out/crosseval.md`` (atomically); return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = (out / "crosseval.json", out / "crosseval.md")
    with atomic_destination(paths[0]) as tmp:
        tmp.write_text(json.dumps(table, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    with atomic_destination(paths[1]) as tmp:
        tmp.write_text(format_markdown(table), encoding="utf-8")
    return paths
