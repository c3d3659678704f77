"""Per-stage wall-clock timing of the video runner (``posekit video --profile``, ``benchmarks/bench_video.py``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

__all__ = ["STAGES", "StageTimer", "TimedDetector", "network_hooks"]

STAGES = ("decode", "detection", "pose", "tracking", "smoothing", "drawing", "writing")
"""Stages timed by :class:`StageTimer` (``detection`` is split from ``pose`` only with ``profile=True``)."""


class StageTimer:
    """Wall-clock seconds per stage (see :data:`STAGES`) and of the networks' forward passes.

    ``seconds[stage]`` accumulates :meth:`add` calls; ``network_seconds`` maps ``"detection"``/``"pose"`` to the
    time spent inside the networks' ``forward`` (filled only with ``profile=True``); ``frames`` counts frames.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {s: 0.0 for s in STAGES}
        self.network_seconds: dict[str, float] = {"detection": 0.0, "pose": 0.0}
        self.frames = 0

    def add(self, stage: str, seconds: float) -> None:
        if stage not in self.seconds:
            raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")
        self.seconds[stage] += float(seconds)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0)

    @property
    def total(self) -> float:
        return float(sum(self.seconds.values()))

    def summary(self) -> dict[str, Any]:
        """JSON-ready dict: frames, total seconds, frames/s, seconds and share per stage, network seconds and the
        share of the total spent outside the networks (``None`` when the networks were not timed)."""
        total = self.total
        net = sum(self.network_seconds.values())
        return {
            "frames": self.frames, "total_s": total, "fps": self.frames / total if total > 0 else None,
            "seconds": dict(self.seconds),
            "share": {k: (v / total if total > 0 else None) for k, v in self.seconds.items()},
            "network_seconds": dict(self.network_seconds),
            "outside_networks_share": (1.0 - net / total) if (net > 0 and total > 0) else None,
        }


class TimedDetector:
    """Forwards to ``detector`` and adds the seconds spent in it to ``timer``'s ``detection`` stage."""

    def __init__(self, detector: Any, timer: StageTimer) -> None:
        self._inner, self._timer = detector, timer

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._timer.stage("detection"):
            return self._inner(*args, **kwargs)

    def detect_batch(self, *args: Any, **kwargs: Any) -> Any:
        with self._timer.stage("detection"):
            return self._inner.detect_batch(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _modules_under(obj: Any, depth: int) -> list[Any]:
    """``torch.nn.Module`` instances among ``obj``'s attributes, ``depth`` levels deep (not inside modules)."""
    found: list[Any] = []
    if depth < 0 or obj is None:
        return found
    for value in getattr(obj, "__dict__", {}).values():
        if isinstance(value, torch.nn.Module):
            found.append(value)
        elif depth > 0 and hasattr(value, "__dict__") and not isinstance(value, (type, np.ndarray)):
            found.extend(_modules_under(value, depth - 1))
    return found


@contextmanager
def network_hooks(estimator: Any, timer: StageTimer) -> Iterator[None]:
    """Time every forward pass of the estimator's networks (forward hooks, removed on exit); modules found under
    ``estimator.detector`` count as ``detection``, the others as ``pose``. Networks run through
    ``torch.compile`` are not seen."""
    detector = getattr(estimator, "detector", None)
    det_modules = {id(m): m for m in _modules_under(detector, 2)}
    pose_modules = {id(m): m for m in _modules_under(estimator, 0) if id(m) not in det_modules}
    handles = []

    def hooks(role: str) -> tuple[Any, Any]:
        starts: list[float] = []

        def pre(module: Any, args: Any) -> None:
            starts.append(time.perf_counter())

        def post(module: Any, args: Any, output: Any) -> None:
            if starts:
                if torch.cuda.is_available() and torch.cuda.is_initialized():
                    torch.cuda.synchronize()
                timer.network_seconds[role] += time.perf_counter() - starts.pop()

        return pre, post

    try:
        for role, mods in (("detection", det_modules), ("pose", pose_modules)):
            for m in mods.values():
                pre, post = hooks(role)
                handles.append(m.register_forward_pre_hook(pre))
                handles.append(m.register_forward_hook(post))
        yield
    finally:
        for h in handles:
            h.remove()
