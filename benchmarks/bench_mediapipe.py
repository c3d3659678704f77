"""What ``posekit bench --suite mediapipe`` does not time: BlazePose throughput for 8 persons against MediaPipe
processing them one after another (goal: >= 2x MediaPipe's sequential throughput), two ways:

* 8 images of one person each: ``predict_batch`` (the detector once on the 8 images, the landmark model once on
  the 8 crops) against MediaPipe's time per image;
* one image with 8 persons (the 8 images side by side, 4 x 2, each 320 x 320 letterboxed): the person detector once
  on the whole image plus the landmark model once on the 8 persons' crops (boxes given, as a tracker or a tiled
  detector would), per person, against MediaPipe's time per image (legacy MediaPipe returns at most one person
  per call, so 8 persons cost 8 calls).

The per-image latency comparison is ``posekit bench``; this script reuses its pieces (inputs, backends, peer
lookup and MediaPipe peer script, timing loop).

    python benchmarks/bench_mediapipe.py [--mediapipe-python PATH] [--backends eager,onnxruntime] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import tempfile

import cv2
import numpy as np
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
    ap.add_argument("--json", default=None, help="also write the figures as JSON here")
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
    mosaic, boxes = _mosaic(rgbs)
    record = {"images": len(rgbs), "threads": args.threads, "repeats": args.repeats,
              "mediapipe_ms_per_image": mp_ms, "mediapipe_skipped": None if mp_ms else got.reason, "posekit": {}}
    for backend in args.backends:
        est = estimator(backend, threads=args.threads)
        s = summarize(sample_ms(lambda: est.predict_batch(rgbs), args.repeats, args.warmup))
        per_image = s.median_ms / len(rgbs)
        speedup = f"{mp_ms / per_image:.2f}x MediaPipe's throughput (goal >= 2)" if mp_ms else ""
        print(f"posekit {backend:12s} batch of {len(rgbs)} images: {per_image:7.1f} ms/image   {speedup}", flush=True)

        def one_frame() -> int:
            est.detector(mosaic)  # the person detector's pass over the frame
            return len(est.predict_rgb(mosaic, boxes=boxes))

        s = summarize(sample_ms(one_frame, args.repeats, args.warmup))
        per_person = s.median_ms / len(boxes)
        record["posekit"][backend] = {"batch_ms_per_image": per_image, "one_image_ms_per_person": per_person}
        speedup = f"{mp_ms / per_person:.2f}x MediaPipe's throughput (goal >= 2)" if mp_ms else ""
        print(f"posekit {backend:12s} 1 image, {len(boxes)} persons: {per_person:7.1f} ms/person  {speedup} "
              f"({one_frame()} poses above the presence threshold)", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(record, fh, indent=2)


def _mosaic(rgbs: list, tile: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """The images letterboxed to ``tile`` x ``tile`` side by side (4 per row): (H, W, 3) uint8 and the (N, 4) xyxy
    boxes of the image areas (pixels)."""
    cols = 4
    rows = -(-len(rgbs) // cols)
    out = np.zeros((rows * tile, cols * tile, 3), np.uint8)
    boxes = []
    for i, rgb in enumerate(rgbs):
        h, w = rgb.shape[:2]
        f = tile / max(h, w)
        nh, nw = round(h * f), round(w * f)
        y0, x0 = (i // cols) * tile + (tile - nh) // 2, (i % cols) * tile + (tile - nw) // 2
        out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
        boxes.append((x0, y0, x0 + nw, y0 + nh))
    return out, np.asarray(boxes, np.float32)


if __name__ == "__main__":
    main()
