"""posekit's top-down pipeline against MMPose 1.3.2: per-person latency, fp32 and bf16, batch 1 and 8.

For ViTPose-B, HRNet-W32 and RTMPose-m (full-size architectures, random weights: speed does not depend on the
weights) on the e2e fixture image (640x392) with its person boxes repeated to the batch size:

* end to end per person: ``TopDownEstimator.estimate(image, boxes=...)`` = crop + normalise + forward with the
  flipped crops + flip fusion + decode + back-projection (what MMPose's ``inference_topdown`` does), / persons;
* raw forward per image: the network alone on a (B, 3, 256, 192) batch, no flip, / B.

Ratios are against MMPose's figures measured on this machine at 2 threads (issue #4: raw forward ViTPose-B
242-287 ms, HRNet-W32 147 ms, RTMPose-m 45 ms per image at batch 1; ``inference_topdown`` 493-569 / 301 / 93 ms
per person) and, with ``--mmpose-python`` (a venv with MMPose 1.3.2, see benchmarks/README.md), against MMPose
timed in the same run on the same image and boxes. The load average is printed: on a shared machine the absolute
figures are only comparable when it is below the thread count.

bf16 accuracy: the keypoints of every model in bf16 against fp32 on the three fixture persons. With random
weights most keypoints sit on one of several near-equal heatmap maxima and jump between them under any rounding,
so the shift is reported, not judged; the accuracy guard is ``tests/pipelines/test_precision.py``.

    python benchmarks/bench_topdown.py [--threads 2] [--repeats 3] [--mmpose-python PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

import posekit
from posekit.pipelines.topdown import TopDownEstimator

from _timing import sample_ms  # noqa: E402  (benchmarks/ is the script's folder)

ROOT = Path(__file__).resolve().parents[1]
E2E = ROOT.parent / "shared" / "fixtures" / "mmpose" / "e2e"
# name -> (posekit model, MMPose config, MMPose raw forward ms/image at batch 1, inference_topdown ms/person)
MODELS = {
    "vitpose_b": ("vitpose_b_coco_256x192", "body_2d_keypoint/topdown_heatmap/coco/"
                  "td-hm_ViTPose-base_8xb64-210e_coco-256x192.py", (242.0, 287.0), (493.0, 569.0)),
    "hrnet_w32": ("hrnet_w32_coco_256x192", "body_2d_keypoint/topdown_heatmap/coco/"
                  "td-hm_hrnet-w32_8xb64-210e_coco-256x192.py", (147.0, 147.0), (301.0, 301.0)),
    "rtmpose_m": ("rtmpose_m_coco_256x192", "body_2d_keypoint/rtmpose/coco/rtmpose-m_8xb256-420e_coco-256x192.py",
                  (45.0, 45.0), (93.0, 93.0)),
}
def _median_min(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), min(times)


GOALS = {"fp32": 0.6, "bf16": 0.35}  # end to end, x MMPose inference_topdown fp32


def ratio(ms: float, ref: tuple[float, float]) -> str:
    lo, hi = ms / ref[1], ms / ref[0]
    return f"{lo:.2f}x" if abs(hi - lo) < 5e-3 else f"{lo:.2f}-{hi:.2f}x"


def run_mmpose(python: str, args: argparse.Namespace, image: Path, boxes: np.ndarray) -> dict | None:
    script = Path(__file__).with_name("_mmpose_peer.py")
    spec = {"image": str(image), "boxes": boxes.tolist(), "batches": args.batches, "threads": args.threads,
            "repeats": args.repeats, "warmup": args.warmup,
            "configs": {k: MODELS[k][1] for k in args.models}}
    if not Path(python).is_file():
        print(f"# MMPose side by side skipped: --mmpose-python {python} does not exist")
        return None
    res = subprocess.run([python, str(script)], input=json.dumps(spec), capture_output=True, text=True)
    if res.returncode != 0:
        print(f"MMPose peer failed (skipped):\n{res.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=lambda s: s.split(","), default=list(MODELS), help="comma list of "
                    + ", ".join(MODELS))
    ap.add_argument("--batches", type=lambda s: [int(v) for v in s.split(",")], default=[1, 8])
    ap.add_argument("--precisions", type=lambda s: s.split(","), default=["fp32", "bf16"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile'd models")
    ap.add_argument("--mmpose-python", default=os.environ.get("POSEKIT_MMPOSE_PYTHON"),
                    help="python of a venv with mmpose==1.3.2 (env POSEKIT_MMPOSE_PYTHON)")
    args = ap.parse_args()
    unknown = set(args.models) - set(MODELS)
    if unknown:
        ap.error(f"unknown models {sorted(unknown)}; choose from {list(MODELS)}")
    torch.set_num_threads(args.threads)
    image = np.load(E2E / "000000197388_bgr.npy")[..., ::-1].copy()
    fixture_boxes = np.load(E2E / "bboxes_xyxy.npy")
    load0 = os.getloadavg()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, torch {torch.__version__}, "
          f"threads={args.threads}, load average {load0[0]:.1f} / {load0[1]:.1f} / {load0[2]:.1f} (1/5/15 min)")
    print("# times: median (min) of", args.repeats, "runs; ratios use the median, against MMPose's issue-4 figures")

    mm = None
    if args.mmpose_python:
        mm = run_mmpose(args.mmpose_python, args, E2E / "000000197388.jpg", fixture_boxes)
    else:
        print("# MMPose side by side skipped: pass --mmpose-python (a venv with mmpose==1.3.2; benchmarks/README.md)")

    header = f"{'model':10s} {'prec':5s} {'B':>2s}  {'e2e ms/person':>18s} {'x MMPose':>10s}  " \
             f"{'forward ms/img':>18s} {'x MMPose':>10s}  {'goal':>6s}"
    print(header)
    variants = [(p, False) for p in args.precisions] + ([(p, True) for p in args.precisions] if args.compile else [])
    accuracy = []
    for key in args.models:
        name, _, mm_fwd, mm_e2e = MODELS[key]
        torch.manual_seed(0)
        model = posekit.create_model(name)
        keypoints = {}
        for precision, compiled in variants:
            label = precision + ("+c" if compiled else "")
            for batch in args.batches:
                est = TopDownEstimator(model, None, batch_size=batch, precision=precision, compile=compiled)
                boxes = np.resize(fixture_boxes, (batch, 4))
                e2e_med, e2e_min = _median_min(
                    sample_ms(lambda: est.estimate(image, boxes=boxes), args.repeats, args.warmup))
                x = (torch.randn(batch, 3, 256, 192) * 50).contiguous()
                with torch.inference_mode():
                    fwd_med, fwd_min = _median_min(sample_ms(lambda: est._run(x), args.repeats, args.warmup))
                e2e_p, fwd_p = e2e_med / batch, fwd_med / batch
                goal = "" if compiled or batch != 1 else (
                    "ok" if e2e_p / mm_e2e[1] <= GOALS[precision] else f"> {GOALS[precision]}")
                print(f"{key:10s} {label:5s} {batch:2d}  {e2e_p:9.1f} ({e2e_min / batch:6.1f}) "
                      f"{ratio(e2e_p, mm_e2e):>10s}  {fwd_p:9.1f} ({fwd_min / batch:6.1f}) "
                      f"{ratio(fwd_p, mm_fwd):>10s}  {goal:>6s}", flush=True)
                if mm and key in mm:
                    got = mm[key].get(str(batch))
                    if got:
                        print(f"{'':10s} {'MMPose same run':>20s}: e2e {got['e2e_ms_per_person']:.1f} ms/person "
                              f"(posekit {e2e_p / got['e2e_ms_per_person']:.2f}x), forward "
                              f"{got['forward_ms_per_image']:.1f} ms/img (posekit "
                              f"{fwd_p / got['forward_ms_per_image']:.2f}x)")
            if not compiled:
                keypoints[precision] = TopDownEstimator(model, None, precision=precision).estimate(
                    image, boxes=fixture_boxes).keypoints
        if "fp32" in keypoints and "bf16" in keypoints:
            shift = np.abs(keypoints["bf16"] - keypoints["fp32"]).max(-1)
            accuracy.append(f"{key}: bf16 vs fp32 on the 3 fixture persons: median {np.median(shift):.2f} px, "
                            f"{(shift < 0.5).mean() * 100:.0f} % < 0.5 px, max {shift.max():.1f} px")
    load1 = os.getloadavg()
    print(f"# load average after: {load1[0]:.1f} / {load1[1]:.1f} / {load1[2]:.1f}")
    for line in accuracy:
        print("#", line, "(random weights: ill-conditioned, see the docstring)")


if __name__ == "__main__":
    main()
