"""Speed of whole-image pipelines against rtmlib's two-stage ``Body`` (RTMDet-nano + RTMPose-m), same images, same
thread count, measured in one run (issue #16's speed figures in ``docs/results.md``).

For each image of the 18 COCO images OpenPose ships (``../shared/data/coco/openpose_examples``): the median wall time
of ``repeats`` whole-image calls after ``warmup`` (every stage: decoding the image is not timed, detection,
crops, networks, decoding are). posekit runs each pipeline on the torch and the ONNX Runtime back ends; rtmlib
(``benchmarks/peers/peer_rtmlib_body.py``, found as ``posekit bench`` finds it: ``--rtmlib-python``,
``$POSEKIT_RTMLIB_PYTHON`` or ``~/venvs/rtmlib``) runs the real RTMDet-nano person detector
(``../shared/weights/rtmdet_nano_320_person_end2end.onnx``) and an RTMPose-m ONNX file exported by posekit with
random weights (the official checkpoint cannot be downloaded here; the network, so its cost, is the same; its
keypoints are meaningless and not compared). Ratio = posekit ms / rtmlib ms (< 1: posekit is faster).

    python benchmarks/bench_default_pipeline.py [--pipelines NAME,...] [--threads 2] [--repeats 3] [--warmup 1]
                                                [--rtmlib-python PATH] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

import posekit
from posekit.bench.peers import RTMLIB, find_python, run_peer
from posekit.bench.timing import sample_ms
from posekit.runtime.onnx_files import export_model
from posekit.runtime.threads import configure_threads

SHARED = Path(__file__).resolve().parents[2] / "shared"
RTMLIB_BODY = replace(RTMLIB, script="peer_rtmlib_body.py")  # rtmlib's venv, its two-stage Body script


def _posekit_ms(pipeline: str, backend: str, images: list[np.ndarray], repeats: int, warmup: int) -> list[float]:
    model, _, detector = pipeline.partition("+")
    est = posekit.PoseEstimator.from_pretrained(model, backend=backend, **({"detector": detector} if detector else {}))
    return [float(np.median(sample_ms(lambda: est(rgb), repeats, warmup))) for rgb in images]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pipelines", default="movenet_thunder,movenet_multipose",
                    help="comma-separated MODEL or MODEL+DETECTOR (the default first)")
    ap.add_argument("--backends", default="torch,onnxruntime")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--rtmlib-python", default=None)
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    threads = configure_threads(args.threads)
    paths = sorted((args.shared / "data" / "coco" / "openpose_examples").glob("*.jpg"))
    images = [posekit.load_image(p) for p in paths]
    print(f"# {len(images)} images, {threads} threads, load average {os.getloadavg()[0]:.2f} (before the run)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="posekit-bench-") as tmp:
        pose_onnx = export_model("rtmpose_m_coco_256x192", tmp, random_weights=True, dynamic_batch=True)[0]
        spec = {"det_onnx": str(args.shared / "weights" / "rtmdet_nano_320_person_end2end.onnx"),
                "det_input_size": [320, 320], "pose_onnx": str(pose_onnx), "pose_input_size": [192, 256],
                "images": [str(p) for p in paths], "threads": threads, "repeats": args.repeats, "warmup": args.warmup}
        peer = run_peer(find_python(RTMLIB_BODY, args.rtmlib_python), spec)
    if peer.data is None:
        print(f"rtmlib: {peer.reason}")
        peer_ms = None
    else:
        peer_ms = float(np.mean(peer.data["ms_per_image"]))
        print(f"rtmlib {peer.data['version']} ({peer.data['runtime']}) RTMDet-nano + RTMPose-m: {peer_ms:.0f} ms/image "
              f"(mean of per-image medians; {sum(peer.data['persons'])} person boxes in all)")
    for pipeline in args.pipelines.split(","):
        for backend in args.backends.split(","):
            ms = float(np.mean(_posekit_ms(pipeline, backend, images, args.repeats, args.warmup)))
            ratio = None if peer_ms is None else ms / peer_ms
            print(f"posekit {pipeline} [{backend}]: {ms:.0f} ms/image"
                  + ("" if ratio is None else f", {ratio:.2f}x rtmlib's time"), flush=True)
            rows.append({"pipeline": pipeline, "backend": backend, "ms_per_image": ms, "ratio_to_rtmlib": ratio})
    if args.json is not None:
        args.json.write_text(json.dumps({
            "threads": threads, "images": len(images), "repeats": args.repeats, "warmup": args.warmup,
            "rtmlib": None if peer.data is None else {**peer.data, "mean_ms_per_image": peer_ms},
            "rtmlib_missing": peer.reason or None, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
