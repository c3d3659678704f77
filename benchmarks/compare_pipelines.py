"""Which whole-image pipeline should ``posekit predict`` run by default? (the table in ``docs/results.md``).

Every candidate runs on whole images (its own person detector, or none for one-stage / bottom-up models) through
``posekit.eval.run_evaluation(boxes="detector")``, one image per call, on two sets of real COCO images with keypoint
ground truth in ``../shared/data/coco``:

* **openpose**: the 18 COCO images OpenPose ships with keypoints (44 people with >= 5 keypoints), the images the
  BlazePose tiling thresholds were tuned on (issue #15): reported, not used for tuning;
* **train2017**: the 28 train2017 images with full ground truth (72 people with >= 5 keypoints).

Both sets are COCO train images, so figures are optimistic for models trained on COCO (NanoDet, MoveNet, PoseNet);
BlazePose was trained on other data. Columns per set:

* **AP**: whole-image COCO keypoint AP (pycocotools COCOeval, through ``posekit eval``'s scoring, keypoints mapped to
  COCO-17);
* **found / unmatched**: :func:`posekit.metrics.recall.person_recall` (GT people with >= 5 keypoints that a
  prediction matches at OKS > 0.5, and the predictions that match nobody: false skeletons, or real people without
  annotations);
* **ms / image**: median wall time of the whole predict call per image (the first image, which builds the models,
  is left out), on the given back end and thread count.

    python benchmarks/compare_pipelines.py [--pipelines NAME,...] [--backend torch|onnxruntime] [--threads N]
                                           [--shared DIR] [--json PATH]

``NAME`` is a registry model, optionally ``MODEL+DETECTOR`` (e.g. ``blazepose_full+nanodet``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from posekit.eval import run_evaluation
from posekit.eval.predict import read_predictions
from posekit.eval.scores import skeleton_mapping
from posekit.io.coco import load_coco_annotations
from posekit.metrics.recall import PersonRecall, person_recall
from posekit.runtime.threads import configure_threads
from posekit import skeletons
from posekit.skeletons import coco17

SETS = {"openpose": ("coco/openpose_examples_keypoints.json", "coco/openpose_examples"),
        "train2017": ("coco/person_keypoints_train2017_fullgt_subset.json", "coco/train2017_subset")}
DEFAULT = ("blazepose_full,blazepose_full+nanodet,blazepose_heavy+nanodet,blazepose_lite+nanodet,movenet_thunder,"
           "movenet_lightning,movenet_multipose,posenet")


def _annotations(path: Path) -> dict[str, list[dict]]:
    """file name -> COCO annotations of that image."""
    data = load_coco_annotations(path)
    names = {im["id"]: im["file_name"] for im in data["images"]}
    out: dict[str, list[dict]] = {n: [] for n in names.values()}
    for a in data["annotations"]:
        out[names[a["image_id"]]].append(a)
    return out


def _recall(predictions: Path, anns: dict[str, list[dict]]) -> PersonRecall:
    _, records, _ = read_predictions(predictions)
    total = PersonRecall()
    for r in records:
        if "error" in r:
            continue
        skeleton = getattr(skeletons, r["skeleton"])
        to_coco, _ = skeleton_mapping(skeleton, coco17)
        kp = np.array([[[np.nan if v is None else v for v in pt] for pt in inst["keypoints"]]
                       for inst in r["instances"]], np.float64).reshape(-1, skeleton.num_keypoints, 2)
        mapped, _ = to_coco.apply(kp)
        total += person_recall(mapped, anns[Path(r["image"]).name], coco17.sigmas)
    return total


def evaluate(pipeline: str, shared: Path, work: Path) -> dict:
    """One pipeline on both sets: AP, recall and time per image."""
    model, _, detector = pipeline.partition("+")
    row: dict = {"pipeline": pipeline, "model": model, "detector": detector or None}
    times: list[float] = []
    for name, (ann, images) in SETS.items():
        out = work / pipeline / name
        report = run_evaluation(model=model, dataset="coco", ann=shared / "data" / ann, images=shared / "data" / images,
                                out=out, boxes="detector", detector=detector or None, batch_size=1, progress=False)
        recall = _recall(out / "predictions.jsonl", _annotations(shared / "data" / ann))
        _, records, _ = read_predictions(out / "predictions.jsonl")
        times += [r["seconds"] for r in records[1:] if "seconds" in r]  # the first call builds the models
        row[name] = {"AP": report["metrics"]["coco"]["stats"]["AP"], "found": recall.found, "people": recall.people,
                     "unmatched": recall.unmatched}
    row["ms_per_image"] = 1000 * float(np.median(times))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pipelines", default=DEFAULT, help="comma-separated MODEL or MODEL+DETECTOR")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (default: posekit's, from the load)")
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = ap.parse_args()
    threads = configure_threads(args.threads)
    print(f"# threads {threads}, load average {os.getloadavg()[0]:.2f}")
    print("| pipeline | OpenPose AP | found / 44, unmatched | train2017 AP | found / 72, unmatched | ms / image |")
    print("|---|---:|---|---:|---|---:|")
    rows = []
    with tempfile.TemporaryDirectory(prefix="posekit-compare-") as tmp:
        for pipeline in args.pipelines.split(","):
            row = evaluate(pipeline, args.shared, Path(tmp))
            o, t = row["openpose"], row["train2017"]
            print(f"| {pipeline} | {100 * o['AP']:.1f} | {o['found']} / {o['people']}, {o['unmatched']} "
                  f"| {100 * t['AP']:.1f} | {t['found']} / {t['people']}, {t['unmatched']} "
                  f"| {row['ms_per_image']:.0f} |", flush=True)
            rows.append(row)
    if args.json is not None:
        args.json.write_text(json.dumps({"threads": threads, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
