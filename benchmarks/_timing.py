"""The one timing loop of the benchmark scripts (standard library only, so the peer scripts that run in
MediaPipe's or MMPose's own virtual environment can import it: a script's folder is on ``sys.path``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def sample_ms(fn: Callable[[], Any], repeats: int, warmup: int) -> list[float]:
    """Wall-clock milliseconds of ``repeats`` calls of ``fn()`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times
