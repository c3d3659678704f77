"""Multi-person recall of BlazePose's detection settings (the table in ``docs/results.md``).

For each setting of ``blazepose_full`` (``tiles``, ``min_detection_score``, false-positive filter on or off) it
counts, on real COCO images with keypoint ground truth:

* **found** / **unmatched**: :func:`posekit.metrics.recall.person_recall` of the poses mapped to ``coco17``: GT
  persons with >= 5 labelled keypoints that a prediction matches with OKS > 0.5, and the predictions left over
  (real but unannotated people count there too: look at them);
* **video**: persons reported in every 10th frame of the walking-crowd clip (1280x720, 21 frames);
* **ms / image**: median time of the whole predict call on the OpenPose examples (the minimum of 3 runs each).

Sets: the 18 COCO images OpenPose ships with keypoints and the 28 train2017 images with full GT, both in
``../shared/data/coco``. Counts are deterministic on CPU fp32 (eager torch); times depend on the machine.

    python benchmarks/recall_blazepose.py [--settings 1:0.5,2:0.3] [--backend torch|onnxruntime] [--shared DIR]
                                          [--json PATH]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import posekit
from posekit.bench.timing import sample_ms
from posekit.io.coco import load_coco_annotations
from posekit.io.video import read_video_frames
from posekit.metrics.recall import PersonRecall, person_recall
from posekit.pipelines.mediapipe_pose import BlazePoseEstimator
from posekit.skeletons import coco17

SETS = {"openpose": ("coco/openpose_examples_keypoints.json", "coco/openpose_examples"),
        "train2017": ("coco/person_keypoints_train2017_fullgt_subset.json", "coco/train2017_subset")}


def load_set(shared: Path, name: str) -> list[tuple[np.ndarray, list[dict]]]:
    """[(RGB image, its annotations)] of one set (images present on disk only)."""
    ann_file, folder = SETS[name]
    data = load_coco_annotations(shared / "data" / ann_file)
    anns: dict[int, list[dict]] = {}
    for a in data["annotations"]:
        anns.setdefault(a["image_id"], []).append(a)
    out = []
    for im in data["images"]:
        path = shared / "data" / folder / im["file_name"]
        if path.exists():
            out.append((posekit.load_image(path), anns.get(im["id"], [])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--settings", default="1:0.5,1:0.3,2:0.5,2:0.3,3:0.3",
                    help="comma-separated TILES:MIN_DETECTION_SCORE pairs (0.5 = mp.solutions.pose's default)")
    ap.add_argument("--backend", default="torch", choices=["torch", "onnxruntime"])
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    ap.add_argument("--json", type=Path, default=None, help="also write the table as JSON here")
    args = ap.parse_args()
    sets = {name: load_set(args.shared, name) for name in SETS}
    frames = read_video_frames(args.shared / "data" / "videos" / "openpose_example_video.avi", every=10)
    print(f"# {', '.join(f'{k}: {len(v)} images' for k, v in sets.items())}; video: {len(frames)} frames; "
          f"backend {args.backend}")
    print("| tiles | min score | filter | OpenPose found / unmatched | train2017 found / unmatched | video persons "
          "| ms / image |")
    print("|---:|---:|---|---|---|---:|---:|")
    rows = []
    for item in args.settings.split(","):
        tiles, score = item.split(":")
        est = posekit.PoseEstimator.from_pretrained("blazepose_full", backend=args.backend, tiles=int(tiles),
                                                    min_detection_score=float(score))
        variants = [("on", est)]
        if est.tile_filter is not None and (int(tiles) > 1 or float(score) < 0.5):  # same runner, no filters
            variants.append(("off", BlazePoseEstimator(est.runner, est.detector, tile_filter=None,
                                                       duplicate_filter=None)))
        for label, e in variants:
            cells, row = [], {"tiles": int(tiles), "min_detection_score": float(score), "filter": label}
            for name, data in sets.items():
                total = PersonRecall()
                for rgb, anns in data:
                    total += person_recall(e(rgb).to_skeleton(coco17).keypoints, anns, coco17.sigmas)
                cells.append(f"{total.found} / {total.people}, {total.unmatched}")
                row[name] = {"found": total.found, "people": total.people, "unmatched": total.unmatched}
            persons = sum(len(e(f)) for f in frames)
            times = [min(sample_ms(lambda: e(rgb), 3, 0)) for rgb, _ in sets["openpose"]]
            print(f"| {tiles} | {score} | {label} | {cells[0]} | {cells[1]} | {persons} "
                  f"| {np.median(times):.0f} |", flush=True)
            rows.append({**row, "video_persons": persons, "ms_per_image": float(np.median(times))})
    if args.json is not None:
        args.json.write_text(json.dumps({"backend": args.backend, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
