"""The one timing loop of ``posekit bench`` and a description of the machine it ran on.

Standard library only: the peer scripts of the checkout's ``benchmarks/peers/`` run under a peer's own Python
(MediaPipe's, MMPose's, rtmlib's virtual environment), where neither posekit nor torch may be installed, and
import this file by path as the top-level module ``timing``.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def sample_ms(fn: Callable[[], Any], repeats: int, warmup: int) -> list[float]:
    """Wall-clock milliseconds (``time.perf_counter``) of ``repeats`` calls of ``fn()`` after ``warmup`` untimed
    calls (which absorb one-off costs: lazy initialisation, ``torch.compile``, ONNX Runtime's first run)."""
    if int(repeats) < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if int(warmup) < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    for _ in range(int(warmup)):
        fn()
    times = []
    for _ in range(int(repeats)):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


@dataclass(frozen=True)
class Summary:
    """Median and minimum of timed calls, milliseconds per call; ``repeats`` = how many calls were timed."""

    median_ms: float
    min_ms: float
    repeats: int


def summarize(times_ms: Sequence[float]) -> Summary:
    """:class:`Summary` of a non-empty sequence of per-call milliseconds."""
    values = [float(t) for t in times_ms]
    if not values:
        raise ValueError("times_ms is empty: no call was timed")
    return Summary(statistics.median(values), min(values), len(values))


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_info() -> dict[str, Any]:
    """The machine as JSON-ready values: ``cpu`` (model name), ``cores`` (visible), ``usable_cores`` (this
    process's CPU affinity, when the platform tells), ``system``, ``python``, ``load_average`` (1, 5, 15 min
    run-queue averages, or None where the platform has none)."""
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = None
    try:
        load: list[float] | None = [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    return {"cpu": _cpu_model(), "cores": os.cpu_count(), "usable_cores": usable,
            "system": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "load_average": load}


def uptime_text() -> str:
    """What ``uptime`` prints (time, up time, load averages), or the load averages alone where it is missing."""
    try:
        return subprocess.run(["uptime"], check=False, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def package_versions(names: Sequence[str]) -> dict[str, str | None]:
    """Installed version of each distribution in ``names`` (``None`` when it is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def load_average_text(load: Sequence[float] | None) -> str:
    """``"0.8 / 0.9 / 1.0 (1/5/15 min)"``, or ``"n/a"``."""
    if not load:
        return "n/a"
    return " / ".join(f"{v:.1f}" for v in load) + " (1/5/15 min)"
