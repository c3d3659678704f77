"""posekit's BlazePose pipeline against MediaPipe's own runtime, same images, same machine, one run.

MediaPipe (0.10.14) runs in its own virtual environment (see benchmarks/README.md); this script starts it as a
subprocess and times ``mp.solutions.pose`` (static image mode, model complexity 1 = the "full" model) there,
then times posekit's variants here, and prints medians and ratios.

    python benchmarks/bench_mediapipe.py --mediapipe-python /path/to/mpvenv/bin/python

Measured:
* per-image latency (detector + landmark model + decoding) on each image, median over repeats;
* batched throughput: ``predict_batch`` on 8 single-person images (both networks run once on a batch of 8)
  against MediaPipe processing the same 8 images one after another.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

import posekit
from posekit.pipelines.mediapipe_pose import blazepose_full

from _timing import sample_ms  # noqa: E402  (benchmarks/ is the script's folder)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DEFAULT_IMAGES = [
    SHARED / "data/coco/openpose_examples" / f"COCO_val2014_000000000{n}.jpg"
    for n in ("294", "328", "338", "415", "428", "459", "474", "488")
]


def run_mediapipe(python: str, images: list[Path], repeats: int, warmup: int) -> dict | None:
    script = Path(__file__).with_name("_mediapipe_peer.py")
    cmd = [python, str(script), "--repeats", str(repeats), "--warmup", str(warmup), *map(str, images)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        print(f"MediaPipe peer failed:\n{res.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


def build_variant(name: str):
    """(estimator, context manager factory) for one posekit variant."""
    if name == "onnxruntime":
        from posekit.export.ort_pipelines import blazepose_full_onnx

        return blazepose_full_onnx(), nullcontext
    est = blazepose_full()
    if name in ("channels_last", "bf16", "compile"):
        est.landmark_model.to(memory_format=torch.channels_last)
        est.detector.module.to(memory_format=torch.channels_last)
    if name == "compile":
        est.landmark_model = torch.compile(est.landmark_model, dynamic=True)
        est.detector.module = torch.compile(est.detector.module, dynamic=True)
    if name == "bf16":
        return est, lambda: torch.autocast("cpu", dtype=torch.bfloat16)
    return est, nullcontext


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mediapipe-python", default=os.environ.get("POSEKIT_MEDIAPIPE_PYTHON"),
                    help="python of a venv with mediapipe==0.10.14 (env POSEKIT_MEDIAPIPE_PYTHON)")
    ap.add_argument("--images", nargs="*", type=Path, default=DEFAULT_IMAGES)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--variants", default="eager,channels_last,bf16",
                    help="comma list of eager, channels_last, bf16, compile, onnxruntime")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    images = [posekit.load_image(p) for p in args.images]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, torch "
          f"{torch.__version__} threads={args.threads}, {len(images)} images")

    mp_res = None
    if args.mediapipe_python:
        mp_res = run_mediapipe(args.mediapipe_python, args.images, args.repeats, args.warmup)
    else:
        print("MediaPipe peer skipped: pass --mediapipe-python (a venv with mediapipe==0.10.14)")
    mp_ms = statistics.median(mp_res["median_ms"].values()) if mp_res else None

    rows = []
    reference = reference_results = None
    for variant in args.variants.split(","):
        try:
            est, ctx = build_variant(variant)
        except Exception as exc:  # a missing optional backend must not end the benchmark
            print(f"{variant}: skipped ({type(exc).__name__}: {exc})")
            continue
        with ctx():
            per_image = statistics.median(
                statistics.median(sample_ms(lambda im=im: est(im), args.repeats, args.warmup)) for im in images)
            batch_ms = statistics.median(sample_ms(lambda: est.predict_batch(images), max(3, args.repeats // 3), 1))
            results = [est(im) for im in images]
        kpts = np.concatenate([r.keypoints[:1] for r in results if len(r)])
        if reference is None:
            reference, reference_results = kpts, results
        shift = float(np.nanmax(np.abs(kpts - reference))) if kpts.shape == reference.shape else float("nan")
        rows.append((variant, per_image, batch_ms / len(images), shift))

    agree = ""
    if mp_res and reference is not None:
        diffs = [np.abs(np.asarray(mp_res["landmarks_px"][str(p)]) - r.keypoints[0]).max()
                 for p, r in zip(args.images, reference_results) if str(p) in mp_res["landmarks_px"] and len(r)]
        agree = f" (posekit {args.variants.split(',')[0]} vs MediaPipe landmarks: max {max(diffs):.2f} px, median {np.median(diffs):.3f} px)"
    print(f"\n{'backend':16s} {'per image ms':>13s} {'batch-8 ms/img':>15s} {'vs MP latency':>14s} "
          f"{'MP seq / batch':>15s} {'max shift px':>13s}")
    if mp_ms is not None:
        print(f"{'mediapipe ' + mp_res['version']:16s} {mp_ms:13.1f} {mp_ms:15.1f} {1.0:14.2f} {1.0:15.2f} {0.0:13.3f}")
    for variant, per_image, per_batch, shift in rows:
        lat = f"{per_image / mp_ms:14.2f}" if mp_ms else f"{'-':>14s}"
        thr = f"{mp_ms / per_batch:15.2f}" if mp_ms else f"{'-':>15s}"
        print(f"{'posekit ' + variant:16s} {per_image:13.1f} {per_batch:15.1f} {lat} {thr} {shift:13.3f}")
    print("\nvs MP latency: posekit / MediaPipe per-image time (goal <= 1.0); MP seq / batch: MediaPipe's "
          "sequential time per image over posekit's batched time per image (goal >= 2.0)" + agree)


if __name__ == "__main__":
    main()
