"""What ``posekit bench --suite topdown`` does not time: the raw network forward per image at several batch
sizes, fp32 and bf16, and how far bf16 moves the keypoints.

The side-by-side comparison with MMPose and rtmlib (end to end per person) is ``posekit bench``; this script
reuses its pieces (model names, inputs, timing loop, machine description). Raw forward = the network alone on a
(B, 3, H, W) batch in the estimator's memory format and precision, no flip, per image. bf16 accuracy: keypoints
in bf16 against fp32 on the benchmark boxes; with random weights most keypoints sit on one of several near-equal
maxima and jump under any rounding, so the shift is reported, not judged (the accuracy guard is
``tests/pipelines/test_precision.py``).

    python benchmarks/bench_topdown.py [--models rtmpose_m,vitpose_b,hrnet_w32] [--batches 1,8] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
import torch

import posekit
from posekit.bench.inputs import topdown_input
from posekit.bench.report import machine_line
from posekit.bench.timing import load_average_text, machine_info, sample_ms, summarize
from posekit.bench.topdown import estimator, resolve_models


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=lambda s: s.split(","), default=["rtmpose_m", "vitpose_b", "hrnet_w32"])
    ap.add_argument("--batches", type=lambda s: [int(v) for v in s.split(",")], default=[1, 8])
    ap.add_argument("--backends", type=lambda s: s.split(","), default=["eager", "bf16"],
                    help="comma list of eager, bf16, compile (onnxruntime: see posekit bench)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    machine = {**machine_info(), "torch": torch.__version__, "threads": args.threads}
    print(f"# {machine_line(machine)}; load average {load_average_text(machine['load_average'])}")
    print(f"# raw forward, random weights, median (min) of {args.repeats} runs, ms per image")
    with tempfile.TemporaryDirectory() as tmp:
        inp = topdown_input(tmp)
    for name in resolve_models(args.models):
        torch.manual_seed(0)
        model = posekit.create_model(name)
        width, height = model.spec.input_size
        keypoints = {}
        for backend in args.backends:
            est = estimator(model, backend, flip=False, onnx=lambda: None, threads=args.threads)
            for batch in args.batches:
                x = torch.randn(batch, 3, height, width) * 50
                with torch.inference_mode():
                    s = summarize(sample_ms(lambda: est._run(x), args.repeats, args.warmup))
                print(f"{name:24s} {backend:8s} B={batch:<3d} {s.median_ms / batch:8.1f} ({s.min_ms / batch:.1f})",
                      flush=True)
            keypoints[backend] = est.estimate(inp.image.rgb, boxes=inp.boxes).keypoints
        if "eager" in keypoints and "bf16" in keypoints:
            shift = np.abs(keypoints["bf16"] - keypoints["eager"]).max(-1)
            print(f"# {name}: bf16 vs fp32 on {len(inp.boxes)} boxes of {inp.image.label}: median "
                  f"{np.median(shift):.2f} px, {(shift < 0.5).mean() * 100:.0f} % < 0.5 px, max {shift.max():.1f} px "
                  f"(random weights: ill-conditioned, see the docstring)")


if __name__ == "__main__":
    main()
