"""Thread settings under load: ``posekit predict``'s work (BlazePose, the default model, on the 18 OpenPose example
images) timed with 1 thread, every core, and posekit's default (:func:`posekit.runtime.threads.default_threads`),
on an idle machine and while busy-loop processes keep the cores busy (``--load N``).

Each setting runs in a fresh process (thread pools are per process), interleaved over ``--repeats`` rounds; the
load processes start ``--warmup`` seconds before the first timing. The default setting measures the busy cores
when it starts (:func:`posekit.runtime.threads.busy_cores`). Prints seconds per image per setting and the ratio
against 1 thread; ``--json`` keeps them.

    python benchmarks/threads_under_load.py --load 0 --load 2 --json docs/results/threads_under_load.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

IMAGES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "coco" / "openpose_examples"

CHILD = r"""
import sys, time
from pathlib import Path
from posekit.runtime.threads import configure_threads
threads = None if sys.argv[1] == "default" else int(sys.argv[1])
n = configure_threads(threads)
import posekit
est = posekit.PoseEstimator.from_pretrained("blazepose_full")
images = [posekit.load_image(p) for p in sorted(Path(sys.argv[2]).glob("*.jpg"))]
est(images[0])  # warm-up
t = time.perf_counter()
for im in images:
    est(im)
print(n, (time.perf_counter() - t) / len(images))
"""


def _spin(stop: float) -> None:
    x = 0
    while time.time() < stop:
        x += 1


def _run(setting: str) -> tuple[int, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, setting, str(IMAGES)], capture_output=True, text=True,
                         check=True, env={k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"})
    n, seconds = out.stdout.split()[-2:]
    return int(n), float(seconds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--load", type=int, action="append", help="busy-loop processes (repeatable; default 0 and cores)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds of load before timing")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    settings = ["1", str(cores), "default"]
    rows = []
    for load in args.load or [0, cores]:
        procs = [mp.Process(target=_spin, args=(time.time() + 3600,), daemon=True) for _ in range(load)]
        for p in procs:
            p.start()
        if load:
            time.sleep(args.warmup)
        times: dict[str, list[float]] = {s: [] for s in settings}
        used: dict[str, int] = {}
        for _ in range(args.repeats):
            for s in settings:
                used[s], sec = _run(s)
                times[s].append(sec)
        for p in procs:
            p.terminate()
        base = statistics.median(times["1"])
        for s in settings:
            med = statistics.median(times[s])
            rows.append({"load_processes": load, "setting": s, "threads": used[s], "seconds_per_image": med,
                         "vs_1_thread": med / base})
            print(f"load {load}  threads {s:>7s} ({used[s]}): {1000 * med:7.1f} ms/image  "
                  f"{med / base:5.2f}x of 1 thread")
    if args.json:
        args.json.write_text(json.dumps({"load_average_before": load_before, "cores": cores, "model": "blazepose_full",
                                         "images": len(list(IMAGES.glob("*.jpg"))), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
