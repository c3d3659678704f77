"""Requests/s and latency of ``posekit serve`` on single images, and its overhead over the estimator in-process.

    python benchmarks/bench_serve.py          # movenet_thunder and blazepose_full, 40 images, concurrency 1 4 8
    python benchmarks/bench_serve.py --model blazepose_full --images 100 --out /tmp/bench_serve.json

For each model the server runs in a subprocess (``posekit serve`` on 127.0.0.1, a free port, ``--max-queue`` large
enough that no request is refused), first with one inference thread (``--server-concurrency 1``, the default
server) and ``--threads`` network threads, then with each further ``--server-concurrency S`` and ``--threads // S``
threads (S inference threads sharing the cores). The client sends each of the N images of
``../shared/data/coco/train2017_subset`` (sorted names; cycled when N is larger) as a raw ``POST /v1/poses`` from C
threads (``urllib``, a new connection per request, as a simple client does; see ``bench_serve_client.py``) and
records each request's latency (send to the last byte of the JSON). The in-process baseline is the same model built
in this process with the same threads, timing ``estimator(path)`` (read + decode + inference) on the same images,
interleaved image by image with the concurrency-1 requests (ABBA order). Overhead at concurrency 1 = mean server
latency / mean in-process time (goal of issue 20: <= 1.10). With S > 1 only the concurrencies above 1 are run.

Writes ``docs/results/bench_serve.json`` (``--out``; ``--json`` is the old name) and a Markdown table next to it
(same name, ``.md``), with the command, the CPU count and model, the versions and the load average (``uptime``)
before and after: other processes on the machine slow every figure down, so run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

from bench_serve_client import (
    REPO,
    SHARED,
    ServerProcess,
    images,
    load_run,
    paired_run,
    post,
)

from posekit.bench.timing import machine_info, package_versions, uptime_text

DEFAULT_OUT = REPO / "docs" / "results" / "bench_serve.json"
PACKAGES = ("posekit", "torch", "numpy", "fastapi", "starlette", "uvicorn", "h11", "python-multipart", "pillow")








def build_in_process(model: str, threads: int):
    from posekit.pipelines.registry import build_estimator
    from posekit.runtime.threads import configure_threads

    configure_threads(threads)
    return build_estimator(model)


def bench_model(model: str, args: argparse.Namespace, files: list[Path], payloads: list[bytes]) -> dict:
    """The in-process baseline, the server runs and the overhead of one model."""
    result: dict = {"model": model, "load_average_before": list(os.getloadavg())}
    t0 = time.perf_counter()
    try:
        estimator = build_in_process(model, args.threads)
    except Exception as exc:  # noqa: BLE001 (e.g. movenet_thunder without $POSEKIT_HUMAN_MODELS: reported, skipped)
        print(f"{model}: cannot build the estimator, skipped: {type(exc).__name__}: {exc}")
        return {**result, "error": f"{type(exc).__name__}: {exc}"}
    for path in files[:args.warmup]:
        estimator(path)
    runs = []
    queue = max(args.concurrency) + 8
    for s in args.server_concurrency:
        threads = args.threads if s == args.server_concurrency[0] else max(1, args.threads // s)
        levels = args.concurrency if s == args.server_concurrency[0] else [c for c in args.concurrency if c > 1]
        with ServerProcess(model, threads=threads, concurrency=s, max_queue=queue) as server:
            for data in payloads[:args.warmup]:
                post(server.url, data)
            for c in levels:
                if c == 1 and s == args.server_concurrency[0]:
                    base, run = paired_run(server.url, estimator, files, payloads)
                    result["in_process"] = base
                else:
                    run = load_run(server.url, payloads, c)
                runs.append({"server_concurrency": s, "threads": threads, **run})
                print(f"  {model} server concurrency {s} ({threads} threads), client concurrency {c}: "
                      f"{run['requests_per_s']:.2f} req/s, {run['failures']} failures")
    result["runs"] = runs
    c1 = next((r for r in runs if r["concurrency"] == 1 and r["mean_ms"] is not None and "paired_ratio_median" in r),
              None)
    if c1 is not None and "in_process" in result:
        result["overhead_c1"] = c1["mean_ms"] / result["in_process"]["mean_ms"]
        result["overhead_c1_median_ratio"] = c1["paired_ratio_median"]
    result["load_average_after"] = list(os.getloadavg())
    result["seconds"] = time.perf_counter() - t0
    return result


def table(results: list[dict]) -> list[str]:
    """Markdown rows: one per run, the in-process baseline first."""
    header = "| model | server concurrency | threads | client concurrency | req/s | mean ms | p50 ms | p99 ms | failed"
    header += " |"
    rows = [header, "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            rows.append(f"| {r['model']} | skipped: {r['error'][:80]} | | | | | | | |")
            continue
        b = r.get("in_process")
        if b:
            rows.append(f"| {r['model']} | in-process | {r['runs'][0]['threads']} | 1 | {b['requests_per_s']:.2f} | "
                        f"{b['mean_ms']:.1f} | {b['p50_ms']:.1f} | {b['p99_ms']:.1f} | - |")
        for run in r["runs"]:
            if run["mean_ms"] is None:
                rows.append(f"| {r['model']} | {run['server_concurrency']} | {run['threads']} | "
                            f"{run['concurrency']} | all {run['requests']} failed | | | | |")
                continue
            rows.append(f"| {r['model']} | {run['server_concurrency']} | {run['threads']} | {run['concurrency']} | "
                        f"{run['requests_per_s']:.2f} | {run['mean_ms']:.1f} | {run['p50_ms']:.1f} | "
                        f"{run['p99_ms']:.1f} | {run['failures']} |")
    return rows


def overheads(results: list[dict]) -> list[str]:
    lines = []
    for r in results:
        if r.get("overhead_c1") is None:
            continue
        timing = next(run for run in r["runs"] if "paired_ratio_median" in run).get("server_timing_ms") or {}
        lines.append(f"- {r['model']}: overhead at concurrency 1 = {r['overhead_c1']:.3f} x the in-process time "
                     f"(mean; median of the per-image ratios {r['overhead_c1_median_ratio']:.3f}; goal <= 1.10); "
                     f"inside the server: decode {timing.get('decode', float('nan')):.1f} ms, inference "
                     f"{timing.get('inference', float('nan')):.1f} ms, handler total "
                     f"{timing.get('total', float('nan')):.1f} ms (means)")
    return lines


def markdown(report: dict) -> str:
    m = report["machine"]
    return "\n".join([
        "# posekit serve: single-image requests (benchmarks/bench_serve.py)", "",
        (f"`{report['command']}` on {report['date_utc']}: {m['cores']} CPUs ({m['cpu']}), "
         f"{report['settings']['images']} images of {report['settings']['image_folder']} per run."), "",
        f"Load before: `{report['uptime_before']}`; after: `{report['uptime_after']}`.", "",
        *table(report["models"]), "", *overheads(report["models"]), "",
        "Latency: send to the last byte of the JSON (a new connection per request, raw JPEG body). p99 of "
        f"{report['settings']['images']} samples is close to the maximum. Versions: "
        + ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v) + ".", ""])


def main() -> None:
    from posekit.cli_common import DEFAULT_MODEL

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs="+", default=[DEFAULT_MODEL, "blazepose_full"],
                        help=f"models (default: {DEFAULT_MODEL} and blazepose_full)")
    parser.add_argument("--images", type=int, default=40, help="requests per concurrency level (N)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8], help="client concurrencies")
    parser.add_argument("--threads", type=int, default=2, help="network threads, server and in-process")
    parser.add_argument("--server-concurrency", type=int, nargs="+", default=[1, 2],
                        help="the server's inference threads; the first is compared with the in-process baseline")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", "--json", dest="out", type=Path, default=DEFAULT_OUT,
                        help="write the results here (JSON; a Markdown table beside it)")
    args = parser.parse_args()

    files = images(args.images)
    payloads = [p.read_bytes() for p in files]
    report = {"command": shlex.join(["python", *sys.argv]), "date_utc": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                                     time.gmtime()),
              "machine": machine_info(), "versions": package_versions(PACKAGES), "uptime_before": uptime_text(),
              "load_average_before": list(os.getloadavg()),
              "settings": {"images": len(files), "image_folder": str(SHARED.relative_to(REPO.parent)),
                           "median_image_bytes": statistics.median(len(p) for p in payloads),
                           "concurrency": args.concurrency, "threads": args.threads,
                           "server_concurrency": args.server_concurrency, "warmup": args.warmup,
                           "client": "urllib, a new connection per request, raw JPEG body"}}
    print(f"{', '.join(args.model)}: {len(files)} images of {SHARED}, {args.threads} threads; "
          f"{report['machine']['cpu_count']} CPUs; {report['uptime_before']}")
    t0 = time.perf_counter()
    report["models"] = [bench_model(model, args, files, payloads) for model in args.model]
    report["seconds"] = time.perf_counter() - t0
    report["uptime_after"] = uptime_text()
    report["load_average_after"] = list(os.getloadavg())
    print("\n" + "\n".join(table(report["models"])) + "\n")
    print("\n".join(overheads(report["models"])))
    print(f"\nload before: {report['uptime_before']}\nload after:  {report['uptime_after']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')} ({report['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
