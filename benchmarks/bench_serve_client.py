"""The measuring parts of ``bench_serve.py``: a ``posekit serve`` subprocess, a plain HTTP client, load runs at a
client concurrency, and the concurrency-1 run interleaved with the in-process estimator.

Latencies are seconds from sending a request to the last byte of its JSON answer (``urllib``, a new connection per
request, the image as the raw body: what a simple client does). Summaries are in milliseconds.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "coco" / "train2017_subset"
SERVER = "import typer; from posekit.cli_serve import serve; app = typer.Typer(); app.command()(serve); app()"


def images(n: int, folder: Path = SHARED) -> list[Path]:
    """``n`` image paths of ``folder`` (sorted names; cycled when ``n`` is larger than the folder)."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        sys.exit(f"no images in {folder}")
    return [files[i % len(files)] for i in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``posekit serve`` in a subprocess on 127.0.0.1 (a free port), ready (``/readyz`` 200) when entered."""

    def __init__(self, model: str, *, threads: int, concurrency: int, max_queue: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cmd = [sys.executable, "-c", SERVER, "--model", model, "--port", str(self.port), "--threads",
                    str(threads), "--concurrency", str(concurrency), "--max-queue", str(max_queue),
                    "--max-upload-mb", "50"]
        # the server's stderr (uvicorn's log), quoted when it fails; closed by __exit__
        self.log = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc: subprocess.Popen | None = None

    def _log_tail(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-2000:]

    def __enter__(self) -> ServerProcess:  # noqa: PYI034
        self.proc = subprocess.Popen(self.cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self._log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=5) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"the server did not become ready within 300 s: {self._log_tail()}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.log.close()


def post(url: str, data: bytes) -> tuple[float, dict]:
    """``(seconds, timing_ms of the answer)`` of one raw-body ``POST /v1/poses``."""
    t0 = time.perf_counter()
    request = urllib.request.Request(url + "/v1/poses", data=data, headers={"Content-Type": "image/jpeg"},
                                     method="POST")
    with urllib.request.urlopen(request, timeout=300) as r:
        answer = json.loads(r.read())
    return time.perf_counter() - t0, answer["timing_ms"]


def summary(seconds: list[float] | np.ndarray) -> dict:
    """``mean_ms``, ``p50_ms``, ``p99_ms`` (linear interpolation; of 40 samples p99 is near the maximum)."""
    ms = np.asarray(seconds, np.float64) * 1000.0
    if not len(ms):
        return {"mean_ms": None, "p50_ms": None, "p99_ms": None}
    return {"mean_ms": float(ms.mean()), "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99))}


def load_run(url: str, payloads: list[bytes], concurrency: int) -> dict:
    """Send every payload once from ``concurrency`` client threads (each takes the next unsent one)."""
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
                dt, _ = post(url, payloads[i])
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
    return {"concurrency": concurrency, "requests": len(payloads), "failures": len(failures),
            "requests_per_s": len(latencies) / wall, **summary(latencies), "first_failures": failures[:3]}


def paired_run(url: str, estimator, files: list[Path], payloads: list[bytes]) -> tuple[dict, dict]:
    """Concurrency 1, interleaved with the in-process ``estimator(path)`` image by image, in ABBA order (image 0:
    in-process then server, image 1: server then in-process, ...), so that a change in the machine's load or a
    warm cache favours neither: ``(in-process stats, server stats)``. The server's stats add the mean of the
    answers' own ``timing_ms`` (decode, inference, total inside the handler) and the median per-image ratio."""
    local, remote, failures, timings = [], [], [], []

    def in_process(path: Path) -> None:
        t0 = time.perf_counter()
        estimator(path)
        local.append(time.perf_counter() - t0)

    def served(data: bytes) -> None:
        try:
            dt, timing = post(url, data)
        except Exception as exc:  # noqa: BLE001 (counted and reported)
            failures.append(f"{type(exc).__name__}: {exc}")
            remote.append(float("nan"))
            return
        remote.append(dt)
        timings.append(timing)

    for i, (path, data) in enumerate(zip(files, payloads)):
        if i % 2 == 0:
            in_process(path)
            served(data)
        else:
            served(data)
            in_process(path)
    remote_s, local_s = np.array(remote), np.array(local)
    ok = ~np.isnan(remote_s)
    base = {**summary(local_s), "requests_per_s": len(local_s) / local_s.sum()}
    server = {"concurrency": 1, "requests": len(payloads), "failures": len(failures),
              "requests_per_s": int(ok.sum()) / remote_s[ok].sum() if ok.any() else 0.0,
              **summary(remote_s[ok]), "first_failures": failures[:3],
              "paired_ratio_median": float(np.median(remote_s[ok] / local_s[ok])) if ok.any() else None,
              "server_timing_ms": {k: float(np.mean([t[k] for t in timings])) for k in ("decode", "inference", "total")}
              if timings else None}
    return base, server
