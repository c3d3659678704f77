"""What ``posekit bench --suite mediapipe`` does not time: BlazePose throughput on a batch of images
(``predict_batch``: both networks once on the whole batch) against MediaPipe processing the same images one
after another (goal: >= 2x MediaPipe's sequential throughput).

The per-image latency comparison is ``posekit bench``; this script reuses its pieces (inputs, backends, peer
lookup and MediaPipe peer script, timing loop).

    python benchmarks/bench_mediapipe.py [--mediapipe-python PATH] [--backends eager,onnxruntime]
"""

from __future__ import annotations

import argparse
import tempfile

import torch

from posekit.bench.blazepose import estimator
from posekit.bench.inputs import blazepose_input
from posekit.bench.peers import MEDIAPIPE, find_python, run_peer
from posekit.bench.timing import sample_ms, summarize


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mediapipe-python", default=None, help="else $POSEKIT_MEDIAPIPE_PYTHON, ~/venvs/mediapipe")
    ap.add_argument("--backends", type=lambda s: s.split(","), default=["eager", "onnxruntime"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        inp = blazepose_input(tmp)
        if not inp.images:
            raise SystemExit(inp.reason)
        rgbs = [im.rgb for im in inp.images]
        python = find_python(MEDIAPIPE, args.mediapipe_python)
        got = run_peer(python, {"images": [str(im.png) for im in inp.images], "repeats": args.repeats,
                                "warmup": args.warmup})
    mp_ms = summarize(got.data["times_ms"]).median_ms / len(rgbs) if got.data else None
    print(f"# {len(rgbs)} images; MediaPipe sequential: "
          + (f"{mp_ms:.1f} ms/image" if mp_ms else f"skipped ({got.reason})"))
    for backend in args.backends:
        est = estimator(backend, threads=args.threads)
        s = summarize(sample_ms(lambda: est.predict_batch(rgbs), args.repeats, args.warmup))
        per_image = s.median_ms / len(rgbs)
        speedup = f"{mp_ms / per_image:.2f}x MediaPipe's throughput (goal >= 2)" if mp_ms else ""
        print(f"posekit {backend:12s} batch of {len(rgbs)}: {per_image:7.1f} ms/image  {speedup}", flush=True)


if __name__ == "__main__":
    main()
