"""Frames/s of ``posekit video`` (decode -> pose in tracking mode -> tracking -> drawing -> writing), split per stage.

    python benchmarks/bench_video.py                  # both clips, --model blazepose_full (its default), 2 threads
    python benchmarks/bench_video.py --clips crowd --frames 100 --json bench_video.json

Clips (``../shared/data/videos``):

* ``crowd``: ``openpose_example_video.avi``, the walking crowd (1280x720, 50 frames/s, 205 frames);
* ``single720p``: ``squat_1.mp4``, one person, 720x1280 (portrait 720p), 30 frames/s, 65 frames.

Each clip runs once through :func:`posekit.video.run_video` with an annotated output video (the work of
``posekit video IN --out OUT.mp4``) after a short warm-up, with ``profile=True``: the time in the networks' forward
passes is measured with forward hooks, detection is split from pose. Goals (issue 8): >= 20 frames/s end to end at
720p for one person on 2 CPU cores, and < 15 % of the time outside the networks. The load average is printed: other
processes on the machine slow every figure down.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

import posekit
from posekit.video import STAGES, run_video

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT.parent / "shared" / "data" / "videos"
CLIPS = {"crowd": "openpose_example_video.avi", "single720p": "squat_1.mp4"}
GOAL_FPS = 20.0
GOAL_OUTSIDE = 0.15


def bench_clip(est, path: Path, *, frames: int | None, warmup: int, redetect_every: int | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        run_video(est, path, out=Path(tmp) / "warm.mp4", end=warmup, progress=False)
        t0 = time.perf_counter()
        report = run_video(est, path, out=Path(tmp) / "out.mp4", end=frames, progress=False, profile=True,
                           redetect_every=redetect_every)
        wall = time.perf_counter() - t0
    timing = report.timing
    n = report.frames
    return {
        "clip": path.name, "frames": n, "persons_per_frame": report.persons / max(n, 1),
        "track_ids": list(report.track_ids), "wall_s": wall, "fps": n / wall,
        "ms_per_frame": {k: 1e3 * v / max(n, 1) for k, v in timing["seconds"].items()},
        "network_ms_per_frame": {k: 1e3 * v / max(n, 1) for k, v in timing["network_seconds"].items()},
        "share": timing["share"], "outside_networks_share": timing["outside_networks_share"],
        "error": report.error,
    }


def print_result(r: dict) -> None:
    print(f"\n{r['clip']}: {r['frames']} frames, {r['persons_per_frame']:.2f} persons/frame, "
          f"ids {r['track_ids']}")
    print(f"  end to end: {r['fps']:.2f} frames/s ({1e3 / r['fps']:.1f} ms/frame); "
          f"{r['fps'] / GOAL_FPS:.3f}x the {GOAL_FPS:.0f} frames/s goal")
    print(f"  {'stage':10s} {'ms/frame':>9s} {'share':>7s}")
    for stage in STAGES:
        print(f"  {stage:10s} {r['ms_per_frame'][stage]:9.2f} {100 * (r['share'][stage] or 0):6.1f}%")
    net = r["network_ms_per_frame"]
    print(f"  networks: detection {net['detection']:.2f} ms/frame, pose {net['pose']:.2f} ms/frame")
    out = r["outside_networks_share"]
    if out is not None:
        verdict = "meets" if out < GOAL_OUTSIDE else "misses"
        print(f"  outside the networks: {100 * out:.1f}% of the time ({verdict} the < {100 * GOAL_OUTSIDE:.0f}% goal)")
    if r["error"]:
        print(f"  stopped early: {r['error']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="blazepose_full")
    parser.add_argument("--backend", default="torch", help="torch | onnxruntime (PoseEstimator.from_pretrained)")
    parser.add_argument("--clips", default=",".join(CLIPS), help=f"comma-separated subset of {', '.join(CLIPS)}")
    parser.add_argument("--frames", type=int, default=None, help="only the first N frames of each clip")
    parser.add_argument("--warmup", type=int, default=3, help="frames run before timing")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--redetect-every", type=int, default=30, help="0: detector only when nobody is tracked")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = [c.strip() for c in args.clips.split(",") if c.strip()]
    unknown = [c for c in names if c not in CLIPS]
    if unknown:
        parser.error(f"unknown clips {unknown}; choose from {', '.join(CLIPS)}")
    missing = [CLIPS[c] for c in names if not (VIDEOS / CLIPS[c]).is_file()]
    if missing:
        print(f"skipped: {', '.join(missing)} not found in {VIDEOS}", file=sys.stderr)
        return 1
    load_before = os.getloadavg()
    print(f"posekit video benchmark: model {args.model}, torch {torch.__version__}, {args.threads} threads, "
          f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")
    est = posekit.PoseEstimator.from_pretrained(args.model, backend=args.backend)
    results = []
    for name in names:
        r = bench_clip(est, VIDEOS / CLIPS[name], frames=args.frames, warmup=args.warmup,
                       redetect_every=args.redetect_every or None)
        r["name"] = name
        print_result(r)
        results.append(r)
    load_after = os.getloadavg()
    print(f"\nload average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"model": args.model, "threads": args.threads, "load_before": load_before,
                                         "load_after": load_after, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
