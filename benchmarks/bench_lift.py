"""VideoPose3D-243 (full size, 1024 channels) lifting a 10,000-frame sequence on 2 CPU threads; goal < 2 s.

    python benchmarks/bench_lift.py [--frames 10000] [--threads 2] [--dtype float32|bfloat16] [--repeats 3]
                                    [--json PATH]

Times :func:`posekit.models.lifters.sequence.lift_sequence` (edge padding, chunked dilated convolutions, decode)
end to end, median over repeats after one warm-up, and prints the time and its ratio to the 2 s goal. It also
prints the process CPU time divided by the thread count: on a machine whose cores are shared with other jobs the
wall time overstates the cost, and this is what the wall time would be on idle cores.

Then it times the network alone (backbone + head on the same padded sequence, one call) in each evaluation
form of :meth:`posekit.models.lifters.temporal.TCN.forward_dilated_fused`, and prints each one's largest
difference from the float32 ``F.conv1d`` form in millimetres (the lifted output, random weights, outputs of
~100-1000 mm):

* ``conv1d``: ``F.conv1d`` on (B, C, T) activations, every conv direct (the form before Winograd);
* ``conv1d+winograd``: the same layout, 3-tap dilated convs by Winograd F(2, 3);
* ``nlc``: channels-last (B, T, C) activations, every conv as GEMMs (one per tap);
* ``nlc+winograd``: channels-last with Winograd F(2, 3), the automatic choice for long sequences.

For comparison it also times MMPose's strided form on a sample of windows (one 243-frame window per output
frame, batched) and extrapolates it to the whole sequence. Weights are random (speed does not depend on them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from posekit.models.lifters.normalize import screen_normalize
from posekit.models.lifters.sequence import lift_sequence, sequence_padding
from posekit.models.lifters.temporal import VideoPose3D, videopose3d

GOAL_S = 2.0

# name -> forward_dilated_fused options
FORMS = {
    "conv1d": dict(channels_last=False, winograd=False),
    "conv1d+winograd": dict(channels_last=False, winograd=True),
    "nlc": dict(channels_last=True, winograd=False),
    "nlc+winograd": dict(channels_last=True, winograd=True),
}


def _busy_cpu_s() -> float:
    """CPU-seconds all processes have used since boot (Linux ``/proc/stat``; NaN elsewhere)."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


def _timed(fn: Callable[[], object], repeats: int) -> tuple[list[float], list[float], float, object]:
    """Wall and process-CPU seconds of ``repeats`` calls (after the caller's warm-up), the CPU-seconds other
    processes used during them (the largest per call; ~0 on a quiet machine) and the last result."""
    times, cpu, others, result = [], [], [], None
    for _ in range(repeats):
        b0, t0, c0 = _busy_cpu_s(), time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        others.append(_busy_cpu_s() - b0 - cpu[-1])
    return times, cpu, max(others), result


def _network_mm(model: VideoPose3D, x: torch.Tensor, options: dict) -> np.ndarray:
    """(1, 2K, T + rf - 1) padded input -> (T, J, 3) float32 millimetres through one form of the network."""
    with torch.inference_mode():
        feats = model.backbone.forward_dilated_fused(x, **options)
        head = model.head.conv
        y = F.conv1d(feats, head.weight.to(x.dtype), head.bias.to(x.dtype))
    return 1000.0 * y[0].T.float().numpy().reshape(y.shape[2], -1, 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--receptive-field", type=int, default=243)
    ap.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    ap.add_argument("--chunk-size", type=int, default=16384)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--forms", default=",".join(FORMS), help=f"network forms to time, from {','.join(FORMS)}")
    ap.add_argument("--strided-sample", type=int, default=256, help="windows timed for the strided comparison")
    ap.add_argument("--json", default=None, help="also write the figures as JSON here")
    args = ap.parse_args()
    forms = [f for f in args.forms.split(",") if f]
    if unknown := sorted(set(forms) - set(FORMS)):
        ap.error(f"unknown --forms {unknown}; choose from {sorted(FORMS)}")

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = videopose3d(receptive_field=args.receptive_field)
    rf = model.receptive_field
    rng = np.random.default_rng(0)
    pixels = rng.uniform(100, 900, size=(args.frames, 17, 2)).astype(np.float32)
    kpts = screen_normalize(pixels, width=1000, height=1000)
    dtype = getattr(torch, args.dtype)

    # warm-up on enough frames to take the same (long-sequence) code path as the timed calls
    lift_sequence(model, kpts[: min(args.frames, 1100)], dtype=dtype, chunk_size=args.chunk_size)
    times, cpu, others, out = _timed(
        lambda: lift_sequence(model, kpts, dtype=dtype, chunk_size=args.chunk_size, unit="mm"), args.repeats)
    median = statistics.median(times)
    cpu_per_thread = statistics.median(cpu) / args.threads
    assert out.shape == (args.frames, 17, 3)

    print(f"VideoPose3D-{rf}, {args.frames} frames, {args.threads} threads, {args.dtype}, chunk {args.chunk_size}")
    print(f"  lift_sequence (dilated, chunked): median {median:.3f} s over {args.repeats} "
          f"(min {min(times):.3f} s); {args.frames / median:,.0f} frames/s")
    print(f"  process CPU time / threads: {cpu_per_thread:.3f} s (~ the wall time on {args.threads} otherwise idle "
          f"cores; wall >> this means the cores were shared); other processes used up to {others:.2f} CPU-s "
          "per call")
    verdict = "met" if median < GOAL_S else "NOT met"
    record = {"receptive_field": rf, "frames": args.frames, "threads": args.threads, "dtype": args.dtype,
              "repeats": args.repeats, "median_s": median, "min_s": min(times), "cpu_per_thread_s": cpu_per_thread,
              "goal_s": GOAL_S, "goal": verdict, "load_average": os.getloadavg(), "forms": {}}
    print(f"  goal {GOAL_S:.1f} s: ratio time/goal = {median / GOAL_S:.2f} ({verdict}); "
          f"CPU-time/goal = {cpu_per_thread / GOAL_S:.2f}")

    # the network alone in each form, on lift_sequence's padded input (one chunk)
    left, right = sequence_padding(rf, causal=model.causal)
    padded = np.pad(kpts, ((left, right), (0, 0), (0, 0)), mode="edge")
    x32 = torch.from_numpy(padded.reshape(len(padded), 34).T.copy())[None]
    reference = _network_mm(model, x32, FORMS["conv1d"])  # float32, F.conv1d
    x = x32.to(dtype)
    print(f"  network forms (backbone + head, one call; max |diff| vs float32 conv1d in mm; "
          f"{args.dtype}):")
    base = None
    for name in forms:
        _network_mm(model, x[:, :, : 1100 + rf], FORMS[name])  # warm-up
        times, cpu, others, got = _timed(lambda name=name: _network_mm(model, x, FORMS[name]), args.repeats)
        med, per_thread = statistics.median(times), statistics.median(cpu) / args.threads
        base = base or (med if name == "conv1d" else None)
        speedup = f"; {base / med:.2f}x vs conv1d" if base else ""
        record["forms"][name] = {"median_s": med, "max_abs_diff_mm": float(np.abs(got - reference).max())}
        print(f"    {name:16s} median {med:.3f} s (min {min(times):.3f} s, CPU/threads {per_thread:.3f} s, "
              f"others {others:.2f} CPU-s){speedup}; max |diff| {np.abs(got - reference).max():.4f} mm")
    print(f"  (lift_sequence vs float32 conv1d: max |diff| {np.abs(out - reference).max():.4f} mm; "
          f"outputs up to {np.abs(reference).max():.0f} mm)")

    n = min(args.strided_sample, args.frames)
    windows = torch.from_numpy(kpts[:n + rf - 1].reshape(-1, 34).T.copy())
    windows = windows.unfold(1, rf, 1)[:, :n].permute(1, 0, 2).contiguous()
    with torch.inference_mode():
        t0 = time.perf_counter()
        model(windows)
        strided = (time.perf_counter() - t0) * args.frames / n
    print(f"  strided form, one window per frame (extrapolated from {n}): {strided:.1f} s "
          f"({strided / median:.0f}x slower)")
    if args.json:
        record["strided_extrapolated_s"] = strided
        with open(args.json, "w") as fh:
            json.dump(record, fh, indent=2)


if __name__ == "__main__":
    main()
