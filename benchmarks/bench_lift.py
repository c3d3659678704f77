"""VideoPose3D-243 (full size, 1024 channels) lifting a 10,000-frame sequence on 2 CPU threads; goal < 2 s.

    python benchmarks/bench_lift.py [--frames 10000] [--threads 2] [--dtype float32|bfloat16] [--repeats 3]

Times :func:`posekit.models.lifters.sequence.lift_sequence` (edge padding, chunked dilated convolutions, decode)
end to end, median over repeats after one warm-up, and prints the time and its ratio to the 2 s goal. It also
prints the process CPU time divided by the thread count: on a machine whose cores are shared with other jobs the
wall time overstates the cost, and this is what the wall time would be on idle cores. For
comparison it also times MMPose's strided form on a sample of windows (one 243-frame window per output frame,
batched) and extrapolates it to the whole sequence. Weights are random (speed does not depend on them).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from posekit.models.lifters.normalize import screen_normalize
from posekit.models.lifters.sequence import lift_sequence
from posekit.models.lifters.temporal import videopose3d

GOAL_S = 2.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--receptive-field", type=int, default=243)
    ap.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    ap.add_argument("--chunk-size", type=int, default=16384)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--strided-sample", type=int, default=256, help="windows timed for the strided comparison")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = videopose3d(receptive_field=args.receptive_field)
    rng = np.random.default_rng(0)
    pixels = rng.uniform(100, 900, size=(args.frames, 17, 2)).astype(np.float32)
    kpts = screen_normalize(pixels, width=1000, height=1000)
    dtype = getattr(torch, args.dtype)

    lift_sequence(model, kpts[: 2 * model.receptive_field], dtype=dtype, chunk_size=args.chunk_size)  # warm-up
    times, cpu = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = lift_sequence(model, kpts, dtype=dtype, chunk_size=args.chunk_size, unit="mm")
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    median = statistics.median(times)
    cpu_per_thread = statistics.median(cpu) / args.threads
    assert out.shape == (args.frames, 17, 3)

    n = min(args.strided_sample, args.frames)
    windows = torch.from_numpy(kpts[:n + model.receptive_field - 1].reshape(-1, 34).T.copy())
    windows = windows.unfold(1, model.receptive_field, 1)[:, :n].permute(1, 0, 2).contiguous()
    with torch.inference_mode():
        t0 = time.perf_counter()
        model(windows)
        strided = (time.perf_counter() - t0) * args.frames / n

    print(f"VideoPose3D-{model.receptive_field}, {args.frames} frames, {args.threads} threads, {args.dtype}, "
          f"chunk {args.chunk_size}")
    print(f"  lift_sequence (dilated, chunked): median {median:.3f} s over {args.repeats} "
          f"(min {min(times):.3f} s); {args.frames / median:,.0f} frames/s")
    print(f"  process CPU time / threads: {cpu_per_thread:.3f} s (~ the wall time on {args.threads} otherwise idle "
          "cores; wall >> this means the cores were shared)")
    verdict = "met" if median < GOAL_S else "NOT met"
    print(f"  goal {GOAL_S:.1f} s: ratio time/goal = {median / GOAL_S:.2f} ({verdict}); "
          f"CPU-time/goal = {cpu_per_thread / GOAL_S:.2f}")
    print(f"  strided form, one window per frame (extrapolated from {n}): {strided:.1f} s "
          f"({strided / median:.0f}x slower)")


if __name__ == "__main__":
    main()
