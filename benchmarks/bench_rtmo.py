"""Speed of posekit's RTMO-s (whole images, one-stage) on the torch and ONNX Runtime back ends, and against rtmlib's
``RTMO`` when its ONNX file is given (issue #17's speed figure in ``docs/results.md``).

No trained RTMO checkpoint can be downloaded here, so posekit runs RTMO-s with random weights whose person logits
are pushed down (no candidate passes the score threshold): the time is that of the network (the same network, so the
same cost, as the official one), the resize and the decoding. The keypoint classifier (DCC) runs once per image for
its candidates; its time for ``--people`` candidates is measured apart and added (trained weights keep about one
candidate per person after NMS). For each of the 20 COCO images of ``openpose_examples``: the median of ``repeats``
calls after ``warmup``; the figure is the mean over the images.

rtmlib (``benchmarks/peers/peer_rtmlib_rtmo.py``, its venv found as ``posekit bench`` finds it: ``--rtmlib-python``,
``$POSEKIT_RTMLIB_PYTHON`` or ``~/venvs/rtmlib``) needs ``--rtmlib-onnx PATH``: the end-to-end ONNX export of the
official RTMO-s that rtmlib downloads on first use (``rtmo-s_8xb32-600e_body7-640x640-...zip``); without it the
rtmlib column is skipped with the reason. Ratio = posekit ms / rtmlib ms (< 1: posekit is faster).

    python benchmarks/bench_rtmo.py [--threads 2] [--repeats 3] [--warmup 1] [--people 5]
                                    [--rtmlib-python PATH] [--rtmlib-onnx PATH] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

import posekit
from posekit.bench.peers import RTMLIB, PeerOutput, find_python, run_peer
from posekit.bench.timing import sample_ms
from posekit.codecs.rtmo import Candidates, pack_dcc_input
from posekit.models.rtmo import rtmo
from posekit.pipelines.rtmo import rtmo_estimator
from posekit.runtime.threads import configure_threads

SHARED = Path(__file__).resolve().parents[2] / "shared"
RTMLIB_RTMO = replace(RTMLIB, script="peer_rtmlib_rtmo.py")


def _network(variant: str) -> torch.nn.Module:
    """RTMO ``variant`` with random weights and person logits of about -20 (no candidates)."""
    torch.manual_seed(0)
    model = rtmo(variant)
    with torch.no_grad():
        for conv in model.head.head_module.out_cls:
            conv.weight.zero_()
            conv.bias.fill_(-20.0)
    return model


def _dcc_ms(est, people: int, repeats: int, warmup: int) -> float:
    """Median ms of one DCC run for ``people`` candidates (random pose vectors, boxes of 100 x 200 px)."""
    rng = np.random.default_rng(0)
    boxes = np.tile(np.float32([[100, 100, 200, 300]]), (people, 1))
    cands = Candidates(index=np.arange(people), boxes=boxes, scores=np.full(people, 0.9, np.float32),
                       bbox_cs=np.tile(np.float32([[150, 200, 125, 250]]), (people, 1)),
                       grids=np.tile(np.float32([[152, 200]]), (people, 1)))
    pose = rng.standard_normal((people, est.model.config.out_channels)).astype(np.float32)
    packed = pack_dcc_input(pose, cands)
    return float(np.median(sample_ms(lambda: est.dcc_runner(packed), repeats, warmup)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", default="s")
    ap.add_argument("--backends", default="torch,onnxruntime")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--people", type=int, default=5)
    ap.add_argument("--rtmlib-python", default=None)
    ap.add_argument("--rtmlib-onnx", type=Path, default=None)
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    threads = configure_threads(args.threads)
    paths = sorted((args.shared / "data" / "coco" / "openpose_examples").glob("*.jpg"))
    images = [posekit.load_image(p) for p in paths]
    print(f"# {len(images)} images, {threads} threads, load average {os.getloadavg()[0]:.2f} (before the run)")
    if args.rtmlib_onnx is None:
        peer = PeerOutput(None, "--rtmlib-onnx not given (rtmlib's RTMO ONNX file is downloaded by rtmlib from the "
                                "OpenMMLab servers, unreachable here)")
    else:
        spec = {"onnx": str(args.rtmlib_onnx), "input_size": [640, 640], "images": [str(p) for p in paths],
                "threads": threads, "repeats": args.repeats, "warmup": args.warmup}
        peer = run_peer(find_python(RTMLIB_RTMO, args.rtmlib_python), spec)
    peer_ms = None if peer.data is None else float(np.mean(peer.data["ms_per_image"]))
    print(f"rtmlib RTMO: {peer.reason}" if peer_ms is None else f"rtmlib {peer.data['version']} RTMO: {peer_ms:.0f} ms")
    rows = []
    model = _network(args.variant)
    for backend in args.backends.split(","):
        est = rtmo_estimator(args.variant, model=model, backend=backend)
        whole = float(np.mean([np.median(sample_ms(lambda: est(im), args.repeats, args.warmup)) for im in images]))
        dcc = _dcc_ms(est, args.people, args.repeats * 3, args.warmup)
        ms = whole + dcc
        ratio = None if peer_ms is None else ms / peer_ms
        print(f"posekit rtmo_{args.variant} [{backend}]: {ms:.0f} ms/image (network + resize + decoding {whole:.0f}, "
              f"DCC for {args.people} people {dcc:.1f})" + ("" if ratio is None else f", {ratio:.2f}x rtmlib's"),
              flush=True)
        rows.append({"backend": backend, "ms_per_image": ms, "network_resize_decode_ms": whole, "dcc_ms": dcc,
                     "ratio_to_rtmlib": ratio})
    if args.json is not None:
        args.json.write_text(json.dumps({
            "variant": args.variant, "threads": threads, "images": len(images), "repeats": args.repeats,
            "people": args.people, "rtmlib": None if peer.data is None else {**peer.data, "mean_ms_per_image": peer_ms},
            "rtmlib_missing": peer.reason or None, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
