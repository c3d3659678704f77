"""How many threads the networks run on: one process-wide setting for PyTorch, ONNX Runtime and OpenCV.

Thread pools are process state: PyTorch's intra-op pool (OpenMP), ONNX Runtime's pools and OpenCV's pool each
default to every core, and on a machine where other processes use the cores their threads wait on each other at
every operator (a spinning thread holds a core its peers need). :func:`configure_threads` sizes them once, from
``--threads`` or from :func:`default_threads`, which leaves the cores that other work keeps busy right now
(:func:`busy_cores`) to that work. The commands of :mod:`posekit.cli` call it before building a model; the Python
API leaves the libraries' own defaults unless the caller calls it.
"""

from __future__ import annotations

import os
import time

import cv2
import torch

__all__ = ["usable_cores", "busy_cores", "default_threads", "configure_threads", "configured_threads"]

_configured: int | None = None


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one, else ``os.cpu_count()``)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def busy_cores(interval: float = 0.1) -> float | None:
    """How many cores the machine's processes kept busy during the next ``interval`` seconds (Linux
    ``/proc/stat``: every CPU's non-idle time over the elapsed time), e.g. 1.9 while two busy processes run on two
    cores. ``None`` where the OS has no ``/proc/stat``."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
        return sum(ticks), ticks[3] + ticks[4]  # all, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(interval)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    if total1 <= total0:
        return None
    return (1.0 - (idle1 - idle0) / (total1 - total0)) * (os.cpu_count() or 1)


def default_threads(*, cores: int | None = None, busy: float | None = None) -> int:
    """Threads for the networks: the usable cores minus those other work keeps busy, at least 1.

    ``cores``: usable cores (default :func:`usable_cores`); ``busy``: cores in use by other processes (default
    :func:`busy_cores`, measured now, not a lagging average, so a machine that just finished a job counts as
    idle; where the OS cannot say, the 1-minute load average). A core counts as busy when more than half of it is.
    """
    cores = usable_cores() if cores is None else int(cores)
    if busy is None:
        busy = busy_cores()
    if busy is None:
        try:
            busy = os.getloadavg()[0]
        except (OSError, AttributeError):
            busy = 0.0
    return max(1, min(cores, cores - int(busy + 0.5)))


def configure_threads(threads: int | None = None) -> int:
    """Size PyTorch's, ONNX Runtime's (runners created afterwards) and OpenCV's thread pools; return the count.

    ``threads``: a count >= 1, or ``None`` for :func:`default_threads`. PyTorch's inter-op pool is left alone
    (posekit runs one operator at a time). ``ValueError`` for a count below 1.
    """
    global _configured
    if threads is not None and (isinstance(threads, bool) or int(threads) < 1):
        raise ValueError(f"threads must be >= 1, got {threads!r}")
    n = default_threads() if threads is None else int(threads)
    torch.set_num_threads(n)
    cv2.setNumThreads(n)
    _configured = n
    return n


def configured_threads() -> int | None:
    """The count of the last :func:`configure_threads` call in this process (``None`` before any): the intra-op
    pool size ONNX Runtime runners take when their own is not given."""
    return _configured
