"""Requests/s and latency of ``posekit serve`` on single images, and its overhead over the estimator in-process.

    python benchmarks/bench_serve.py                              # 40 images, concurrency 1 4 8, posekit's default model
    python benchmarks/bench_serve.py --model blazepose_full --images 100 --json bench_serve.json

The server runs in a subprocess (``posekit.cli_serve.serve`` on 127.0.0.1, a free port, ``--threads`` network
threads, ``--max-queue`` large enough that no request is refused); the client sends each of the N images of
``../shared/data/coco/train2017_subset`` (sorted names; cycled when N is larger) as a raw ``POST /v1/poses`` from
C threads (``urllib``, a new connection per request, as a simple client does) and records each request's latency
(send to last byte of the JSON). The in-process baseline is the same model built in this process with the same
threads, timing ``estimator(path)`` (decode + inference) on the same images, interleaved image by image with the
concurrency-1 requests. Overhead at concurrency 1 = mean server latency / mean in-process time (goal of issue 20: <= 1.10). Run the in-process baseline and the server on the
same quiet machine: the load average is printed, other processes slow every figure down.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "coco" / "train2017_subset"
SERVER = "import typer; from posekit.cli_serve import serve; app = typer.Typer(); app.command()(serve); app()"


def images(n: int) -> list[Path]:
    files = sorted(p for p in SHARED.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        sys.exit(f"no images in {SHARED}")
    return [files[i % len(files)] for i in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, threads: int, concurrency: int, max_queue: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-c", SERVER, "--model", model, "--port", str(port), "--threads", str(threads),
           "--concurrency", str(concurrency), "--max-queue", str(max_queue), "--max-upload-mb", "50"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=5) as r:
                if r.status == 200:
                    return proc, url
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    proc.kill()
    sys.exit("the server did not become ready within 300 s")


def post(url: str, data: bytes) -> float:
    t0 = time.perf_counter()
    request = urllib.request.Request(url + "/v1/poses", data=data, headers={"Content-Type": "image/jpeg"},
                                     method="POST")
    with urllib.request.urlopen(request, timeout=300) as r:
        json.loads(r.read())
    return time.perf_counter() - t0


def load_run(url: str, payloads: list[bytes], concurrency: int) -> dict:
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    todo = iter(range(len(payloads)))

    def worker() -> None:
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            try:
                dt = post(url, payloads[i])
            except Exception as exc:  # noqa: BLE001 (counted and reported)
                with lock:
                    failures.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                latencies.append(dt)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1000.0
    return {"concurrency": concurrency, "requests": len(payloads), "failures": len(failures),
            "requests_per_s": len(latencies) / wall, "mean_ms": float(lat.mean()) if len(lat) else None,
            "p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
            "p99_ms": float(np.percentile(lat, 99)) if len(lat) else None, "first_failures": failures[:3]}


def build_in_process(model: str, threads: int):
    from posekit.pipelines.registry import build_estimator
    from posekit.runtime.threads import configure_threads

    configure_threads(threads)
    return build_estimator(model)


def paired_run(url: str, estimator, files: list[Path], payloads: list[bytes]) -> tuple[dict, dict]:
    """Concurrency 1, interleaved with the in-process baseline image by image (so that a change in the machine's
    load hits both alike): ``(in-process stats, server stats)``."""
    local, remote, failures = [], [], []
    t_server = 0.0
    for path, data in zip(files, payloads):
        t0 = time.perf_counter()
        estimator(path)
        local.append(time.perf_counter() - t0)
        try:
            remote.append(post(url, data))
        except Exception as exc:  # noqa: BLE001 (counted and reported)
            failures.append(f"{type(exc).__name__}: {exc}")
            remote.append(float("nan"))
        t_server += remote[-1] if remote[-1] == remote[-1] else 0.0
    ok = ~np.isnan(remote)
    lat, ms = np.array(remote)[ok] * 1000.0, np.array(local) * 1000.0
    base = {"mean_ms": float(ms.mean()), "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "requests_per_s": len(ms) / (ms.sum() / 1000.0)}
    server = {"concurrency": 1, "requests": len(payloads), "failures": len(failures),
              "requests_per_s": int(ok.sum()) / t_server if t_server else 0.0,
              "mean_ms": float(lat.mean()) if len(lat) else None,
              "p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
              "p99_ms": float(np.percentile(lat, 99)) if len(lat) else None, "first_failures": failures[:3],
              "paired_ratio_median": float(np.median(np.array(remote)[ok] / np.array(local)[ok])) if ok.any()
              else None}
    return base, server


def main() -> None:
    from posekit.cli_common import DEFAULT_MODEL

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--images", type=int, default=40, help="requests per concurrency level (N)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--threads", type=int, default=2, help="network threads, server and in-process")
    parser.add_argument("--server-concurrency", type=int, default=1, help="the server's inference threads")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    files = images(args.images)
    payloads = [p.read_bytes() for p in files]
    print(f"{args.model}, {len(files)} images of {SHARED}, {args.threads} threads; load average "
          f"{os.getloadavg()[0]:.2f}; {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    estimator = build_in_process(args.model, args.threads)
    for path in files[:args.warmup]:
        estimator(path)
    proc, url = start_server(args.model, args.threads, args.server_concurrency,
                             max_queue=max(args.concurrency) + 8)
    try:
        for data in payloads[:args.warmup]:
            post(url, data)
        base, c1 = paired_run(url, estimator, files, payloads)
        runs = [c1 if c == 1 else load_run(url, payloads, c) for c in args.concurrency]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"\n{'':>14} {'req/s':>7} {'mean ms':>8} {'p50 ms':>8} {'p99 ms':>8} {'failed':>6}")
    print(f"{'in-process':>14} {base['requests_per_s']:7.2f} {base['mean_ms']:8.1f} {base['p50_ms']:8.1f} "
          f"{base['p99_ms']:8.1f} {'-':>6}")
    for r in runs:
        if r["mean_ms"] is None:
            print(f"{'concurrency ' + str(r['concurrency']):>14} all {r['requests']} failed: {r['first_failures']}")
            continue
        print(f"{'concurrency ' + str(r['concurrency']):>14} {r['requests_per_s']:7.2f} {r['mean_ms']:8.1f} "
              f"{r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['failures']:6d}")
        if r["failures"]:
            print(f"{'':>14} first failures: {r['first_failures']}")
    c1 = next((r for r in runs if r["concurrency"] == 1 and r["mean_ms"] is not None), None)
    overhead = c1["mean_ms"] / base["mean_ms"] if c1 else None
    if overhead is not None:
        print(f"\noverhead at concurrency 1: {overhead:.3f} x the in-process time (mean; median of the per-image "
              f"ratios {c1['paired_ratio_median']:.3f}; goal <= 1.10)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        result = {"model": args.model, "images": len(files), "threads": args.threads,
                  "server_concurrency": args.server_concurrency, "in_process": base, "server": runs,
                  "overhead_c1": overhead, "median_image_bytes": statistics.median(len(p) for p in payloads)}
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
