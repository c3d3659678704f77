"""Throughput of ``posekit batch`` on images and videos: the local engine and the Ray engine against a plain
single-process ``posekit predict`` loop, on the same inputs in the same run.

    python benchmarks/bench_batch.py                         # blazepose_full, 500 LSP test images, 2 videos
    python benchmarks/bench_batch.py --model movenet_thunder --images 200 --out /tmp/bench_batch.json

Images (``../shared/data/lsp/images/im1001.jpg`` onwards, small, one person each), each variant into a fresh run
folder under a temporary directory:

* ``plain``: what ``posekit predict`` does per image, in this process: ``posekit.load_image(path)`` then
  ``estimator(image)``, one image at a time, ``--threads`` threads (default: the usable cores, which is what
  ``posekit predict`` picks on an idle machine). Timed over the loop only: the model load is excluded (and reported).
* ``local``: ``run_batch(..., engine="local")``: images read by a thread pool, ``predict_batch`` on ``--batch-size``
  images per call, Parquet shards written; one process, ``--threads`` threads. Timed around the call, so the model
  load, planning and writing are included.
* ``ray``: ``run_batch(..., engine="ray", num_workers=W)``: W actors with one thread each, on a local Ray this
  script starts first (``ray.init(num_cpus=W)``, timed separately: ``ray_start_s``) and shuts down after. Timed
  around the call: actor start-up and their model loads are included, Ray's own start is not.

The variants run in the order plain, local, ray, then (``--repeats 2``) ray, local, plain; each figure is the
median of its repeats. Once: ``local`` with ``--batch-size 1`` (what batching gives), the plain loop with one
thread on the first ``--profile-images`` images (the single-thread cost per image: with W one-thread workers Ray
can at best reach W / t1 images/s, against 1 / tW for the plain loop with W threads), and, unless ``--no-cli``, the
real ``posekit predict FILES --out x.json`` as a subprocess (wall time including Python and model start-up).

Videos (``--videos``, default sam2_juggle.mp4 (247 frames 1280x720) and squat_1.mp4 (65 frames)): frames/s of the
local and Ray engines with tracking (one task per video) and without (frame ranges of ``--video-chunk`` frames in
parallel).

Writes ``docs/results/bench_batch.json`` (``--out``) and a Markdown table beside it (``.md``): the command, CPU
count, versions, load average (``uptime``) before and after; other processes on the machine slow every figure down.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from posekit.bench.timing import machine_info, package_versions, uptime_text

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "docs" / "results" / "bench_batch.json"
PACKAGES = ("posekit", "torch", "ray", "pyarrow", "numpy", "opencv-python-headless", "pillow")
GOALS = {"ray_vs_local": 0.9, "ray_vs_plain": 1.6}








def lsp_images(n: int) -> list[Path]:
    """LSP test images im1001.jpg ... (n of them, at most 1000)."""
    files = [SHARED / "lsp" / "images" / f"im{i:04d}.jpg" for i in range(1001, 1001 + n)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing or not 1 <= n <= 1000:
        raise SystemExit(f"--images must be 1..1000 LSP test images; missing: {missing[:3]}")
    return files


SESSIONS: list[str] = []
"""Session folders of the Ray instances this script started (their GCS and raylet name them)."""


def _processes() -> dict[int, tuple[int, str, float]]:
    """``{pid: (parent pid, command line, CPU seconds user + system)}`` of every process (Linux ``/proc``)."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out[int(pid)] = (int(stat[1]), cmd, (int(stat[11]) + int(stat[12])) / tick)
    return out


def _descendants(procs: dict[int, tuple[int, str, float]]) -> list[int]:
    def descends(pid: int) -> bool:
        while pid > 1:
            pid = procs[pid][0] if pid in procs else 0
            if pid == os.getpid():
                return True
        return False

    return [pid for pid in procs if descends(pid)]


def ray_cpu_seconds() -> dict[int, float]:
    """CPU seconds so far of each process under this one (the local Ray's GCS, raylet, workers and actors)."""
    procs = _processes()
    return {pid: procs[pid][2] for pid in _descendants(procs)}


def ray_processes() -> list[str]:
    """Processes of the Ray instances this script started: those naming one of :data:`SESSIONS` and Ray processes
    descended from this one (other users' Rays on the machine are not counted)."""
    procs = _processes()
    mine = set(_descendants(procs))
    return [f"{pid}: {cmd[:100]}" for pid, (_, cmd, _) in procs.items()
            if any(s in cmd for s in SESSIONS) or ("ray" in cmd and pid in mine)]


def plain(model: str, files: list[Path], threads: int, *, split: bool = False) -> dict:
    """The ``posekit predict`` loop in this process: load, estimate, one image at a time. ``split``: also time the
    decoding and the networks (every :class:`~posekit.runtime.torch_runner.TorchRunner` call: detector and
    landmark model, tensors in and out included) apart, for the GPU estimate of ``docs/scaling.md``."""
    import posekit
    from posekit.pipelines.registry import build_estimator
    from posekit.runtime.threads import configure_threads
    from posekit.runtime.torch_runner import TorchRunner

    configure_threads(threads)
    t0 = time.perf_counter()
    estimator = build_estimator(model)
    t1 = time.perf_counter()
    persons, decode, network = 0, 0.0, [0.0]
    call = TorchRunner.__call__

    def timed(self, batch):
        start = time.perf_counter()
        try:
            return call(self, batch)
        finally:
            network[0] += time.perf_counter() - start

    if split:
        TorchRunner.__call__ = timed
    c1 = time.process_time()
    try:
        for path in files:
            start = time.perf_counter()
            image = posekit.load_image(path)
            decode += time.perf_counter() - start
            persons += len(estimator(image))
    finally:
        TorchRunner.__call__ = call
    t2, cpu = time.perf_counter(), time.process_time() - c1
    out = {"variant": "plain", "threads": threads, "items": len(files), "persons": persons,
           "load_s": t1 - t0, "seconds": t2 - t1, "per_s": len(files) / (t2 - t1), "cpu_s": cpu,
           "cpu_ms": 1000 * cpu / len(files)}
    if split:
        out.update(decode_ms=1000 * decode / len(files), network_ms=1000 * network[0] / len(files),
                   other_ms=1000 * (t2 - t1 - decode - network[0]) / len(files))
    return out


def engine_run(variant: str, source: Path, workdir: Path, spec, *, threads: int, workers: int) -> dict:
    """One ``run_batch`` call into a fresh run folder; for ``ray`` a local Ray started and stopped around it."""
    from posekit.batch.engine import run_batch
    from posekit.runtime.threads import configure_threads

    engine = "ray" if variant.startswith("ray") else "local"
    out = Path(tempfile.mkdtemp(prefix=f"{variant}-", dir=workdir))
    result: dict = {"variant": variant, "engine": engine}
    if engine == "ray":
        import ray

        t0 = time.perf_counter()
        context = ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False,
                           object_store_memory=200 * 2**20)
        SESSIONS.append(context.address_info["session_dir"])
        result.update(ray_start_s=time.perf_counter() - t0, workers=workers)
    else:  # the local engine runs with the spec's compute threads (part of the run: results depend on them)
        result["threads"] = configure_threads(threads)
        spec = dataclasses.replace(spec, threads=threads)
    try:
        ray_before = ray_cpu_seconds() if engine == "ray" else {}
        t0, c0 = time.perf_counter(), time.process_time()
        summary = run_batch(source, out, spec, engine=engine, num_workers=workers, progress=False)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        if engine == "ray":  # the actors' and Ray's own CPU time during the run (the actors are still alive)
            ray_cpu = sum(c - ray_before.get(pid, 0.0) for pid, c in ray_cpu_seconds().items())
            result["ray_processes_cpu_s"], cpu = ray_cpu, cpu + ray_cpu
    finally:
        if engine == "ray":
            t1 = time.perf_counter()
            ray.shutdown()
            result["ray_stop_s"] = time.perf_counter() - t1
    items = summary["images"] + summary["frames"]
    result.update(items=items, rows=summary["rows"], errors=summary["errors"], tasks=summary["tasks"],
                  engine_seconds=summary["seconds"], seconds=seconds, per_s=items / seconds, cpu_s=cpu,
                  cpu_ms=1000 * cpu / max(items, 1))
    return result


def cli_run(model: str, files: list[Path], workdir: Path) -> dict:
    """The real ``posekit predict FILES --out x.json`` (its default threads), wall time of the subprocess."""
    exe = Path(sys.executable).with_name("posekit")
    cmd = [str(exe) if exe.exists() else "posekit", "predict", *map(str, files), "--model", model,
           "--out", str(workdir / "predict.json")]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=1800)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"variant": "cli", "error": f"exit {proc.returncode}: {proc.stderr[-300:]}"}
    persons = len(json.loads((workdir / "predict.json").read_text()))
    return {"variant": "cli", "items": len(files), "persons": persons, "seconds": seconds,
            "per_s": len(files) / seconds}


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def bench_images(args: argparse.Namespace, files: list[Path], workdir: Path) -> dict:
    from posekit.batch.plan import RunSpec

    manifest = workdir / "images.txt"
    manifest.write_text("".join(f"{f}\n" for f in files))
    spec = RunSpec(args.model, batch_size=args.batch_size, shard_size=args.shard_size)
    order = ["plain", "local", "ray"] if args.ray else ["plain", "local"]
    order = order + order[::-1] if args.repeats >= 2 else order
    runs: list[dict] = []
    for variant in order:
        if variant == "plain":
            run = plain(args.model, files, args.threads)
        else:
            run = engine_run(variant, manifest, workdir, spec, threads=args.threads, workers=args.workers)
        runs.append({**run, "load_after": os.getloadavg()[0]})
        print(f"  images {variant:6s}: {run['per_s']:.2f} images/s, {run['cpu_ms']:.0f} CPU ms/image "
              f"({run['seconds']:.1f} s"
              + (f", Ray start {run['ray_start_s']:.1f} s" if "ray_start_s" in run else "") + ")", flush=True)
    extra: list[dict] = []
    if not args.no_batch1:
        run = engine_run("local-b1", manifest, workdir, RunSpec(args.model, batch_size=1, shard_size=args.shard_size), threads=args.threads,
                         workers=args.workers)
        extra.append(run)
        print(f"  images local batch 1: {run['per_s']:.2f} images/s", flush=True)
    if args.profile_images:
        run = plain(args.model, files[:args.profile_images], 1, split=True)
        extra.append({**run, "variant": "plain-1thread"})
        print(f"  images plain, 1 thread, {run['items']} images: {run['per_s']:.2f} images/s", flush=True)
    if not args.no_cli:
        run = cli_run(args.model, files, workdir)
        extra.append(run)
        print(f"  images posekit predict (subprocess): {run.get('per_s', float('nan')):.2f} images/s", flush=True)
    per_s = {v: median_of([r for r in runs if r["variant"] == v], "per_s") for v in dict.fromkeys(order)}
    cpu_ms = {v: median_of([r for r in runs if r["variant"] == v], "cpu_ms") for v in dict.fromkeys(order)}
    out = {"images": len(files), "runs": runs, "extra": extra, "per_s": per_s, "cpu_ms": cpu_ms,
           "plain_load_s": median_of([r for r in runs if r["variant"] == "plain"], "load_s"),
           "ratios": {"local_vs_plain": per_s["local"] / per_s["plain"]}}
    if not args.ray:
        return out
    ratios = out["ratios"]
    ray_runs = [r for r in runs if r["variant"] == "ray"]
    out["ray_start_s"] = median_of(ray_runs, "ray_start_s")
    out["ray_with_start_per_s"] = len(files) / (median_of(ray_runs, "seconds") + out["ray_start_s"])
    ratios.update(ray_vs_local=per_s["ray"] / per_s["local"], ray_vs_plain=per_s["ray"] / per_s["plain"],
                  ray_with_start_vs_plain=out["ray_with_start_per_s"] / per_s["plain"])
    one = next((r for r in extra if r["variant"] == "plain-1thread"), None)
    if one is not None:
        # On a loaded machine the loop with one thread can beat the one with all cores (threads wait on each other):
        # compare with the faster one too, so load does not flatter Ray.
        ratios["ray_vs_best_plain"] = per_s["ray"] / max(per_s["plain"], one["per_s"])
        # Ray's ceiling: W workers of one thread each, no overhead, against the plain loop's measured rate.
        ratios["ray_ceiling_vs_plain"] = args.workers * one["per_s"] / per_s["plain"]
        ratios["ray_vs_ceiling"] = per_s["ray"] / (args.workers * one["per_s"])
    return out


def bench_videos(args: argparse.Namespace, workdir: Path) -> dict:
    from posekit.batch.plan import RunSpec

    videos = [SHARED / "videos" / v for v in args.videos]
    manifest = workdir / "videos.txt"
    manifest.write_text("".join(f"{v}\n" for v in videos))
    out: dict = {"videos": [str(v.relative_to(SHARED.parent)) for v in videos], "video_chunk": args.video_chunk,
                 "runs": []}
    from posekit.io.video import VideoReader
    from posekit.runtime.threads import configure_threads

    configure_threads(1)
    t0, frames = time.perf_counter(), 0
    for v in videos:
        with VideoReader(v) as reader:
            frames += sum(1 for _ in reader)
    out["decode_ms_per_frame_1thread"] = 1000 * (time.perf_counter() - t0) / max(frames, 1)
    print(f"  videos: decoding alone, 1 thread: {out['decode_ms_per_frame_1thread']:.1f} ms/frame", flush=True)
    for track in (True, False):
        spec = RunSpec(args.model, track=track, video_chunk=args.video_chunk, shard_size=args.shard_size)
        for variant in ("local", "ray") if args.ray else ("local",):
            run = engine_run(variant, manifest, workdir, spec, threads=args.threads, workers=args.workers)
            out["runs"].append({**run, "track": track})
            print(f"  videos track={track!s:5s} {variant:5s}: {run['per_s']:.2f} frames/s, {run['tasks']} tasks",
                  flush=True)
    return out


def table(report: dict) -> list[str]:
    """Markdown rows: input, variant, items/s, CPU ms per item (every process of the variant), note."""
    im, st = report["image_bench"], report["settings"]
    n, w, th = im["images"], st["workers"], st["threads"]
    head = f"{n} LSP images"

    def row(what: str, variant: str, r: dict | None, per_s: float, note: str) -> str:
        cpu = f"{r['cpu_ms']:.0f}" if r and "cpu_ms" in r else ""
        return f"| {what} | {variant} | {per_s:.2f} | {cpu} | {note} |"

    med = {v: {"cpu_ms": c} for v, c in im.get("cpu_ms", {}).items()}
    rows = ["| input | variant | items/s | CPU ms/item | note |", "|---|---|---|---|---|",
            row(head, f"plain `posekit predict` loop, in-process, {th} thread(s)", med.get("plain"),
                im["per_s"]["plain"], f"model load ({im['plain_load_s']:.1f} s) excluded"),
            row(head, f"local engine, batch {st['batch_size']}, {th} thread(s)", med.get("local"),
                im["per_s"]["local"], "model load included")]
    if "ray" in im["per_s"]:
        rows += [row(head, f"Ray engine, {w} actors x 1 thread", med.get("ray"), im["per_s"]["ray"],
                     f"actor start + model loads included; Ray start ({im['ray_start_s']:.1f} s) excluded"),
                 row(head, "Ray engine, with Ray start", None, im["ray_with_start_per_s"], "")]
    for r in im["extra"]:
        if "error" in r:
            rows.append(f"| {head} | {r['variant']} | failed | | {r['error'][:80]} |")
        elif r["variant"] == "local-b1":
            rows.append(row(head, f"local engine, batch 1, {th} thread(s)", r, r["per_s"], "once"))
        elif r["variant"] == "plain-1thread":
            rows.append(row(f"first {r['items']} LSP images", "plain loop, 1 thread", r, r["per_s"],
                            f"once; per image: decode {r['decode_ms']:.1f} ms, networks {r['network_ms']:.1f} ms, "
                            f"rest {r['other_ms']:.1f} ms (wall)"))
        elif r["variant"] == "cli":
            rows.append(row(head, "`posekit predict FILES --out x.json` subprocess", None, r["per_s"],
                            "once; wall time incl. Python + model start-up, predict's default threads"))
    vb = report.get("video_bench", {})
    if "decode_ms_per_frame_1thread" in vb:
        rows.append(row(", ".join(Path(v).name for v in vb["videos"]), "decoding only (OpenCV), 1 thread", None,
                        1000 / vb["decode_ms_per_frame_1thread"], "once"))
    for r in vb.get("runs", []):
        what = "tracking, 1 task per video" if r["track"] else f"no tracking, {r['tasks']} frame-range tasks"
        who = f"Ray, {w} actors" if r["engine"] == "ray" else f"local, {th} thread(s)"
        rows.append(row(f"{r['items']} video frames", f"{who}, {what}", r, r["per_s"], "once"))
    return rows


def ratio_lines(report: dict) -> list[str]:
    r = report["image_bench"]["ratios"]
    if "ray_vs_local" not in r:
        return [f"- local engine / plain loop: {r['local_vs_plain']:.2f}", ("- Ray: not run (--no-ray, or "
                "posekit.batch.ray_engine / ray missing)")]
    lines = [f"- Ray / local engine: **{r['ray_vs_local']:.2f}** (goal >= {GOALS['ray_vs_local']})",
             (f"- Ray / plain loop: **{r['ray_vs_plain']:.2f}** (goal >= {GOALS['ray_vs_plain']}); with Ray's start "
             f"counted: {r['ray_with_start_vs_plain']:.2f}"),
             f"- local engine / plain loop: {r['local_vs_plain']:.2f}"]
    if "ray_vs_best_plain" in r:
        lines.append(f"- Ray / the faster plain loop (all threads or 1 thread): {r['ray_vs_best_plain']:.2f}")
    if "ray_ceiling_vs_plain" in r:
        lines.append(f"- Ceiling of Ray / plain on these cores ({report['settings']['workers']} x the one-thread "
                     f"loop's rate / the plain loop's rate): {r['ray_ceiling_vs_plain']:.2f}; Ray reached "
                     f"{r['ray_vs_ceiling']:.0%} of it")
    return lines


def markdown(report: dict) -> str:
    m = report["machine"]
    return "\n".join([
        "# posekit batch: images/s and frames/s (benchmarks/bench_batch.py)", "",
        (f"`{report['command']}` on {report['date_utc']}: model {report['settings']['model']}, {m['cores']} CPUs "
        f"({m['cpu']}); figures for the LSP images are the median of {report['settings']['repeats']} "
        "repeats (order plain, local, ray, then reversed)."), "",
        f"Load before: `{report['uptime_before']}`; after: `{report['uptime_after']}`.", "",
        *table(report), "", *ratio_lines(report), "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v) + ".", ""])


def main() -> None:
    from posekit.runtime.threads import default_threads, usable_cores

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="blazepose_full")
    parser.add_argument("--images", type=int, default=500, help="LSP test images im1001.jpg onwards")
    parser.add_argument("--threads", type=int, default=usable_cores(), help="threads of plain and local")
    parser.add_argument("--shard-size", type=int, default=32,
                        help="images per task (500 images: 16 tasks, 8 per Ray actor, so none waits on the last)")
    parser.add_argument("--workers", type=int, default=2, help="Ray actors (and Ray CPUs)")
    parser.add_argument("--batch-size", type=int, default=1, help="images per predict_batch call")
    parser.add_argument("--repeats", type=int, default=2, choices=(1, 2))
    parser.add_argument("--profile-images", type=int, default=100, help="images of the one-thread loop (0: none)")
    parser.add_argument("--no-batch1", action="store_true", help="skip the local engine with batch size 1")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray engine")
    parser.add_argument("--no-cli", action="store_true", help="skip the posekit predict subprocess")
    parser.add_argument("--videos", nargs="*", default=["sam2_juggle.mp4", "squat_1.mp4"],
                        help="clips of ../shared/data/videos (none: skip videos)")
    parser.add_argument("--video-chunk", type=int, default=64, help="frames per task without tracking")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results (a Markdown table beside it)")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    files = lsp_images(args.images)
    args.ray = not args.no_ray and all(importlib.util.find_spec(m) is not None for m in ("ray",
                                                                                       "posekit.batch.ray_engine"))
    report = {"command": shlex.join(["python", *sys.argv]),
              "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine_info(),
              "versions": package_versions(PACKAGES), "uptime_before": uptime_text(), "load_average_before": list(os.getloadavg()),
              "settings": {"model": args.model, "images": len(files), "threads": args.threads,
                           "predict_default_threads_now": default_threads(), "workers": args.workers,
                           "batch_size": args.batch_size, "repeats": args.repeats, "ray": args.ray,
                           "image_folder": "shared/data/lsp/images (im1001.jpg onwards)"}}
    print(f"{args.model}: {len(files)} images, {args.threads} threads, {args.workers} Ray workers; "
          f"{report['machine']['cpu_count']} CPUs; {report['uptime_before']}", flush=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_batch-") as tmp:
        report["image_bench"] = bench_images(args, files, Path(tmp))
        if args.videos:
            report["video_bench"] = bench_videos(args, Path(tmp))
    report["seconds"] = time.perf_counter() - t0
    report["uptime_after"] = uptime_text()
    report["load_average_after"] = list(os.getloadavg())
    deadline = time.monotonic() + 15
    while ray_processes() and time.monotonic() < deadline:
        time.sleep(0.5)
    report["ray_processes_left"] = ray_processes()
    print("\n" + "\n".join(table(report)) + "\n\n" + "\n".join(ratio_lines(report)))
    print(f"\nload before: {report['uptime_before']}\nload after:  {report['uptime_after']}")
    if report["ray_processes_left"]:
        print(f"WARNING: Ray processes left: {report['ray_processes_left']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {args.out} and {args.out.with_suffix('.md')} ({report['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
