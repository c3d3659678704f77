"""Corruption robustness of a pose estimator: accuracy on a dataset under every image corruption and severity.

:func:`run_robustness` evaluates one registered model on one evaluation set (:func:`posekit.eval.load_eval_set`: LSP
PCK@0.2, COCO-format AP, MPII PCKh ...) once clean and once per (corruption, severity) cell, the images corrupted by
:func:`posekit.generalization.corruptions.corrupt` right after they are read. The model is built once; each cell is
:func:`posekit.eval.predict.predict_to_file` + :func:`posekit.eval.scores.score_predictions`, exactly what ``posekit
eval`` runs, so a cell's numbers are directly comparable with ``posekit eval`` and the clean cell *is* ``posekit eval``.

**Determinism.** Image ``f`` gets corruption seed ``crc32("{seed}:{f.name}")``: independent of the order, the batch
size and the folder, and shared by the five severities (the corruption module's common random numbers).

**Resuming.** Every cell writes ``OUT/cells/<corruption>-s<severity>/predictions.jsonl`` (``clean/`` for the clean
pass), one line per image, flushed per batch; a rerun keeps the images already there (the file header names the
model, the dataset, the boxes and the corruption, so a changed setting is refused rather than mixed) and predicts
only the rest. Cells already complete cost only their scoring.

**Summary** (:func:`summarize`), per metric, as the robustness literature reports it (ImageNet-C, Hendrycks &
Dietterich 2019; COCO-C for pose, Wang et al. 2021): ``clean`` accuracy; per corruption the accuracy per severity,
their mean and its ratio to clean; ``mPC``, the mean performance under corruption (mean over every corruption and
severity cell run); ``rPC = mPC / clean``, the relative robustness. Accuracies are fractions in [0, 1].

**Timing.** Each image's model time (``seconds``) and corruption time (``transform_seconds``) are recorded apart;
the summary reports both per cell, so the cost of a cell is the clean cost plus the corruption's own.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from posekit.eval.dataset import load_eval_set
from posekit.eval.predict import predict_to_file, read_predictions
from posekit.eval.runner import build_estimator, check_coverage
from posekit.eval.scores import score_predictions, skeleton_mapping
from posekit.generalization.corruptions import CORRUPTIONS, check_corruption, corrupt
from posekit.io.atomic import atomic_destination

__all__ = ["CLEAN", "SCHEMA", "cell_metrics", "corruptor", "image_seed", "plot_robustness", "run_robustness",
           "summarize"]

SCHEMA = "posekit.robustness/1"
CLEAN = "clean"


def image_seed(seed: int, path: str | os.PathLike) -> int:
    """The corruption seed of one image: ``crc32("{seed}:{file name}")`` (module docstring)."""
    return zlib.crc32(f"{int(seed)}:{Path(path).name}".encode())


def cell_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The headline numbers of a :func:`~posekit.eval.scores.score_predictions` ``metrics`` dict, as fractions:
    ``pck_bbox`` / ``pck_torso`` (mean over the mapped joints), ``pckh`` (MPII, PCKh@0.5 total) and ``coco_ap``."""
    out: dict[str, float] = {}
    for key in ("pck_bbox", "pck_torso"):
        if metrics.get(key, {}).get("mean") is not None:
            out[key] = float(metrics[key]["mean"])
    pckh = metrics.get("mpii_pckh") or {}
    total = pckh.get("PCKh")
    if total is not None:
        out["pckh"] = float(total) / 100.0
    ap = (metrics.get("coco") or {}).get("stats", {}).get("AP")
    if ap is not None and ap >= 0:
        out["coco_ap"] = float(ap)
    return out


def _check_cells(corruptions: Sequence[str] | None, severities: Sequence[int]) -> tuple[list[str], list[int]]:
    names = list(CORRUPTIONS) if corruptions is None else [str(c) for c in corruptions]
    for name in names:
        check_corruption(name)
    if len(set(names)) != len(names):
        raise ValueError(f"corruptions are listed twice: {names}")
    sev = [int(s) for s in severities]
    if not sev or any(not 1 <= s <= 5 for s in sev) or len(set(sev)) != len(sev):
        raise ValueError(f"severities must be distinct integers in 1..5, got {list(severities)}")
    return names, sorted(sev)


def corruptor(name: str, severity: int, seed: int):
    """The image transform of one cell (:data:`posekit.eval.predict.ImageTransform`): ``corrupt`` with the image's
    :func:`image_seed`, the occluder on the image's GT person boxes (clipped to the image)."""

    def apply(rgb: np.ndarray, path: Path, gt_boxes: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        boxes = np.clip(gt_boxes, 0, [w, h, w, h]) if len(gt_boxes) else None
        return corrupt(rgb, name, severity, seed=image_seed(seed, path), boxes=boxes)
    return apply


def run_robustness(*, model: str, dataset: str, ann: str | os.PathLike, out: str | os.PathLike,
                   images: str | os.PathLike | None = None, corruptions: Sequence[str] | None = None,
                   severities: Sequence[int] = (1, 2, 3, 4, 5), seed: int = 0, boxes: str = "gt",
                   limit: int | None = None, batch_size: int = 8, device: str = "cpu", weights=None,
                   detector: str | None = None, detector_weights=None, progress: bool = True,
                   max_missing: float = 0.1) -> dict[str, Any]:
    """Evaluate ``model`` on ``dataset`` clean and under every corruption x severity; write ``OUT/robustness.json``
    (the returned report) and ``OUT/robustness.png`` (accuracy vs severity, :func:`plot_robustness`).

    Args:
        model: a registered model name (``posekit models``); ``weights``/``detector``/``detector_weights`` as for
            ``posekit eval``.
        dataset, ann, images, limit, boxes, batch_size: as :func:`posekit.eval.run_evaluation` (``boxes``: ``"gt"``
            or ``"detector"``; the occluder is placed on the GT person boxes either way).
        max_missing: refuse (``ValueError``) when more than this fraction of the annotation records name missing
            image files, or nothing is left to evaluate (:func:`posekit.eval.runner.check_coverage`).
        corruptions: names from :data:`~posekit.generalization.corruptions.CORRUPTIONS` (default all, in table
            order). severities: subset of 1..5. seed: the run's corruption seed (module docstring).

    Report keys: ``schema``, ``model``, ``dataset``, ``ann``, ``limit``, ``seed``, ``boxes``, ``skeleton``,
    ``cells`` (one per cell: ``corruption``, ``severity`` (0 = clean), ``metrics`` (:func:`cell_metrics`),
    ``counts``, ``seconds_per_image`` (model), ``corruption_seconds_per_image``, ``images_predicted_now``,
    ``images_resumed``, ``dir``), ``summary`` (:func:`summarize`), ``files``.
    """
    names, sev = _check_cells(corruptions, severities)
    if boxes not in ("gt", "detector"):
        raise ValueError(f"boxes must be 'gt' or 'detector', got {boxes!r}")
    eval_set = load_eval_set(dataset, ann=ann, images=images, limit=limit)
    check_coverage(eval_set, images, max_missing)
    est, flip_mode = build_estimator(model, weights=weights, device=device, detector=detector,
                                     detector_weights=detector_weights)
    _, route = skeleton_mapping(est.skeleton, eval_set.skeleton)
    out = Path(out)
    plan = [(CLEAN, 0)] + [(c, s) for c in names for s in sev]
    cells = []
    for name, s in tqdm(plan, desc=f"{model} robustness cells", unit="cell", disable=not progress, position=0):
        cell_dir = out / "cells" / (CLEAN if s == 0 else f"{name}-s{s}")
        preds = cell_dir / "predictions.jsonl"
        transform = None if s == 0 else corruptor(name, s, seed)
        counts = predict_to_file(est, eval_set, preds, model=model, boxes=boxes, flip_mode=flip_mode,
                                 batch_size=batch_size, resume=True, progress=progress, transform=transform,
                                 transform_id=None if s == 0 else f"{name}/s{s}/seed{seed}")
        _, records, _ = read_predictions(preds)
        scored = score_predictions(eval_set, records, model_skeleton=est.skeleton,
                                   results_file=cell_dir / "results.json")
        ok = [r for r in records if "error" not in r]
        cells.append({
            "corruption": name, "severity": s, "metrics": cell_metrics(scored["metrics"]),
            "counts": scored["counts"],
            "seconds_per_image": _mean(r.get("seconds") for r in ok),
            "corruption_seconds_per_image": _mean(r.get("transform_seconds") for r in ok) if s else 0.0,
            "images_predicted_now": counts["predicted"], "images_resumed": counts["resumed"],
            "images_failed": len(records) - len(ok), "dir": str(cell_dir),
        })
    report = {"schema": SCHEMA, "model": model, "dataset": dataset, "ann": str(ann), "limit": limit, "seed": seed,
              "boxes": boxes, "flip": flip_mode, "skeleton": route, "num_images": len(eval_set.images),
              "cells": cells, "summary": summarize(cells),
              "files": {"report": str(out / "robustness.json"), "plot": str(out / "robustness.png")}}
    with atomic_destination(out / "robustness.json") as tmp:
        tmp.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    plot_robustness(report, out / "robustness.png")
    return report


def _mean(values) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def summarize(cells: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per metric: ``clean``, ``corruptions`` (name -> ``by_severity`` {severity: value}, ``mean``,
    ``relative`` = mean / clean), ``mPC`` (mean over every corrupted cell), ``rPC`` = mPC / clean, ``cells``.
    Needs the clean cell (severity 0)."""
    clean = [c for c in cells if c["severity"] == 0]
    if len(clean) != 1:
        raise ValueError(f"summarize: need exactly one clean cell (severity 0), got {len(clean)}")
    out: dict[str, Any] = {}
    for metric, base in clean[0]["metrics"].items():
        per: dict[str, dict[str, Any]] = {}
        values = []
        for c in cells:
            v = c["metrics"].get(metric)
            if c["severity"] == 0 or v is None:
                continue
            per.setdefault(c["corruption"], {"by_severity": {}})["by_severity"][str(c["severity"])] = v
            values.append(v)
        for entry in per.values():
            entry["mean"] = float(np.mean(list(entry["by_severity"].values())))
            entry["relative"] = entry["mean"] / base if base > 0 else None
        mpc = float(np.mean(values)) if values else None
        out[metric] = {"clean": base, "corruptions": per, "mPC": mpc,
                       "rPC": None if mpc is None or base <= 0 else mpc / base, "cells": len(values)}
    return out


def plot_robustness(report: dict[str, Any], path: str | os.PathLike, *, metric: str | None = None) -> Path:
    """Accuracy vs severity, one line per corruption, the clean accuracy dashed (PNG, written atomically).
    ``metric``: a key of the summary (default the first: ``pck_bbox`` for LSP, ``coco_ap`` for COCO)."""
    import matplotlib
    from matplotlib.figure import Figure

    summary = report["summary"]
    if not summary:
        raise ValueError("plot_robustness: the report has no metric to plot (the clean cell scored nothing)")
    metric = metric or ("coco_ap" if "coco_ap" in summary else next(iter(summary)))
    if metric not in summary:
        raise ValueError(f"plot_robustness: metric {metric!r} not in the report (has {', '.join(summary)})")
    s = summary[metric]
    fig = Figure(figsize=(8.5, 5.0), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    cmap = matplotlib.colormaps["tab20"]
    for i, (name, entry) in enumerate(s["corruptions"].items()):
        xs = [0] + [int(k) for k in entry["by_severity"]]
        ys = [s["clean"]] + list(entry["by_severity"].values())
        ax.plot(xs, [100 * y for y in ys], marker="o", ms=3, lw=1.4, color=cmap(i % 20),
                label=f"{name} ({100 * entry['mean']:.1f})")
    ax.axhline(100 * s["clean"], color="k", ls="--", lw=1, label=f"clean ({100 * s['clean']:.1f})")
    ax.set_xlabel("severity (0 = clean)")
    ax.set_ylabel(f"{metric} (%)")
    mpc = "-" if s["mPC"] is None else f"{100 * s['mPC']:.1f}"
    rpc = "-" if s["rPC"] is None else f"{100 * s['rPC']:.1f}%"
    ax.set_title(f"{report['model']} on {report['dataset']} ({report['num_images']} images): "
                 f"clean {100 * s['clean']:.1f}, mPC {mpc}, rPC {rpc}", fontsize=10)
    ax.set_xticks(range(0, 6))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), title="corruption (mean)")
    fig.tight_layout()
    path = Path(path)
    with atomic_destination(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
