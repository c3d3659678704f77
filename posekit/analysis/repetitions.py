"""Repetition counting (squats, push-ups, jumping jacks, ...) from one angle signal with hysteresis.

A repetition is an excursion from the rest zone past the far threshold and back. For ``direction="down"`` (the
angle drops during the movement, e.g. the knee angle of a squat or the elbow angle of a push-up) the rest zone is
``signal >= high`` and a repetition starts at the last rest sample before the signal falls below ``low``, and ends at
the first sample back at ``>= high``; ``direction="up"`` mirrors this (e.g. the shoulder angle of a jumping jack).
The gap between ``low`` and ``high`` is the hysteresis that keeps noise from counting twice. An excursion that is
still open at the end of the signal, or that was already under way at its start, is not counted.

Thresholds default to 35 % and 65 % of the signal's robust range (5th to 95th percentile); when that range is
below ``min_amplitude`` the signal is taken as having no movement and nothing is counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Repetition", "repetition_thresholds", "count_repetitions", "frame_times"]


@dataclass(frozen=True)
class Repetition:
    """One repetition: sample indices into the signal and their times in seconds.

    Attributes:
        start: last rest sample before the excursion.
        end: first sample back in the rest zone.
        extreme: the sample of the excursion's minimum (``direction="down"``) or maximum (``"up"``).
        start_s, end_s: times of ``start`` and ``end`` in seconds.
        depth: the signal at ``extreme`` (signal units, e.g. degrees).
    """

    start: int
    end: int
    extreme: int
    start_s: float
    end_s: float
    depth: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def frame_times(n: int, *, time_s: np.ndarray | None = None, fps: float | None = None) -> np.ndarray:
    """(n,) float64 seconds from either ``time_s`` (n,) (strictly increasing) or ``fps`` (sample ``i`` at
    ``i / fps``); exactly one must be given."""
    if (time_s is None) == (fps is None):
        raise ValueError("give exactly one of time_s (seconds per sample) or fps")
    if fps is not None:
        if not (np.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be positive, got {fps!r}")
        return np.arange(n, dtype=np.float64) / float(fps)
    t = np.asarray(time_s, dtype=np.float64)
    if t.shape != (n,):
        raise ValueError(f"time_s must have shape ({n},) to match the signal, got {t.shape}")
    if n > 1 and not np.all(np.diff(t) > 0):
        raise ValueError("time_s must be strictly increasing")
    return t


def repetition_thresholds(signal: np.ndarray, *, min_amplitude: float = 20.0,
                          fractions: tuple[float, float] = (0.35, 0.65)) -> tuple[float, float] | None:
    """``(low, high)`` at ``fractions`` of the 5th-95th percentile range of the finite samples of ``signal`` (T,),
    or ``None`` when that range is below ``min_amplitude`` (or fewer than 2 finite samples)."""
    s = np.asarray(signal, dtype=np.float64)
    s = s[np.isfinite(s)]
    lo_f, hi_f = fractions
    if not 0.0 <= lo_f < hi_f <= 1.0:
        raise ValueError(f"fractions must satisfy 0 <= low < high <= 1, got {fractions}")
    if s.size < 2:
        return None
    p5, p95 = np.percentile(s, [5, 95])
    if p95 - p5 < min_amplitude:
        return None
    return float(p5 + lo_f * (p95 - p5)), float(p5 + hi_f * (p95 - p5))


def count_repetitions(
    signal: np.ndarray,
    *,
    time_s: np.ndarray | None = None,
    fps: float | None = None,
    low: float | None = None,
    high: float | None = None,
    direction: str = "down",
    min_duration_s: float = 0.3,
    min_amplitude: float = 20.0,
) -> list[Repetition]:
    """The repetitions in ``signal``.

    Args:
        signal: (T,) float samples, e.g. a knee angle in degrees per frame; NaN samples are skipped.
        time_s: (T,) sample times in seconds, or ``fps``: constant sample rate (exactly one of them).
        low, high: hysteresis thresholds in signal units (both or neither; default
            :func:`repetition_thresholds`).
        direction: ``"down"`` (the movement lowers the signal) or ``"up"``.
        min_duration_s: shorter excursions (start to end) are not counted.
        min_amplitude: with automatic thresholds, the smallest 5-95 % range that counts as movement.

    Returns:
        The :class:`Repetition` list in time order (``len`` is the count).
    """
    s = np.asarray(signal, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"signal must have shape (T,), got {s.shape}")
    t = frame_times(len(s), time_s=time_s, fps=fps)
    if direction not in ("down", "up"):
        raise ValueError(f"direction must be 'down' or 'up', got {direction!r}")
    if (low is None) != (high is None):
        raise ValueError("give both low and high thresholds, or neither")
    if low is None:
        auto = repetition_thresholds(s, min_amplitude=min_amplitude)
        if auto is None:
            return []
        low, high = auto
    if not low < high:
        raise ValueError(f"low must be below high, got low={low}, high={high}")
    sign = 1.0 if direction == "down" else -1.0
    x, lo, hi = sign * s, *sorted((sign * low, sign * high))

    reps: list[Repetition] = []
    last_rest: int | None = None  # last sample in the rest zone while resting
    start: int | None = None  # open excursion's start
    for i in np.flatnonzero(np.isfinite(x)).tolist():
        v = x[i]
        if start is None:
            if v >= hi:
                last_rest = i
            elif v < lo and last_rest is not None:
                start = last_rest
        elif v >= hi:
            seg = x[start:i + 1]
            ext = start + int(np.nanargmin(seg))
            if t[i] - t[start] >= min_duration_s:
                reps.append(Repetition(start, i, ext, float(t[start]), float(t[i]), float(s[ext])))
            start, last_rest = None, i
    return reps
